#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use super::v1::find_v1_mount;
use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

fn is_cgroupfs(dir: &Path) -> bool {
    statfs(dir).is_ok_and(|fs| {
        let kind = fs.filesystem_type();
        kind == CGROUP_SUPER_MAGIC || kind == CGROUP2_SUPER_MAGIC
    })
}

/// mkdir(2) as a cgroup filesystem does it, for a temporary tree (files.rs
/// calls this instead of the plain mkdir in unit tests): the test's root
/// directory holds, as empty files, every interface file a cgroup can have.
/// v1: a new cgroup gets all its parent's files. v2: it gets the `cgroup.*`
/// files, plus the files of each controller its parent enabled in
/// `cgroup.subtree_control`, which its `cgroup.controllers` then lists.
pub(super) fn fake_kernel_mkdir(dir: &Path) -> io::Result<()> {
    fs::create_dir(dir)?;
    let parent = dir.parent().unwrap();
    if is_cgroupfs(parent) {
        return Ok(());
    }
    let v2 = parent.join("cgroup.controllers").exists();
    let enabled: Vec<String> = fs::read_to_string(parent.join("cgroup.subtree_control"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|c| c.trim_start_matches('+').to_string())
        .collect();
    for entry in fs::read_dir(parent).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        let copy = entry.file_type().unwrap().is_file()
            && (!v2
                || name.starts_with("cgroup.")
                || enabled.iter().any(|c| name.starts_with(&format!("{c}."))));
        if copy {
            fs::write(dir.join(&name), "").unwrap();
        }
    }
    if v2 {
        fs::write(dir.join("cgroup.controllers"), enabled.join(" ")).unwrap();
    }
    Ok(())
}

/// rmdir(2) as a cgroup filesystem does it, for a temporary tree (files.rs
/// calls this instead of the plain rmdir in unit tests): the interface files
/// go with the directory.
pub(super) fn fake_kernel_rmdir(dir: &Path) -> io::Result<()> {
    if !is_cgroupfs(dir) {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    fs::remove_dir(dir)
}

/// A fresh temporary directory, removed when dropped.
struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("cgroups-test-{}-{tag}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn touch(dir: &Path, names: &[&str]) {
    for name in names {
        fs::write(dir.join(name), "").unwrap();
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

const ALL: Limits = Limits { memory: Some(64 << 20), pids: Some(20), cpus: Some(0.5) };

const V2_FILES: &[&str] = &[
    "cgroup.procs",
    "cgroup.kill",
    "cgroup.subtree_control",
    "pids.max",
    "memory.max",
    "memory.swap.max",
    "memory.events",
    "cpu.max",
];

/// A v2 root offering `controllers`, its files those of `files`.
fn v2_root(controllers: &str, files: &[&str]) -> TempDir {
    let tmp = TempDir::new("v2");
    touch(&tmp.0, files);
    fs::write(tmp.0.join("cgroup.controllers"), controllers).unwrap();
    tmp
}

// --- parsing ---

#[test]
fn memory_sizes() {
    assert_eq!(parse_memory("64M"), Ok(64 << 20));
    assert_eq!(parse_memory("64m"), Ok(64 << 20));
    assert_eq!(parse_memory("64MB"), Ok(64 << 20));
    assert_eq!(parse_memory("64MiB"), Ok(64 << 20));
    assert_eq!(parse_memory("1G"), Ok(1 << 30));
    assert_eq!(parse_memory("1g"), Ok(1 << 30));
    assert_eq!(parse_memory("1T"), Ok(1 << 40));
    assert_eq!(parse_memory("1073741824"), Ok(1 << 30));
    assert_eq!(parse_memory("1073741824b"), Ok(1 << 30));
    assert_eq!(parse_memory("6144k"), Ok(MIN_MEMORY));
    assert_eq!(parse_memory("6M"), Ok(MIN_MEMORY));
}

#[test]
fn memory_refused() {
    for bad in ["12Q", "", "M", "abc", "-1M", "1.5G", "64 M", " 64M", "64MM", "0x10M"] {
        let err = parse_memory(bad).unwrap_err();
        assert!(err.contains("expected a whole number"), "{bad:?}: {err}");
    }
    for zero in ["0", "0M", "0g"] {
        assert!(parse_memory(zero).unwrap_err().contains("no memory at all"), "{zero:?}");
    }
    for small in ["1", "1k", "6291455", "5M"] {
        let err = parse_memory(small).unwrap_err();
        assert!(err.contains("below 6M"), "{small:?}: {err}");
    }
    for huge in ["99999999999999999999", "16777216T", "18446744073709551615k"] {
        let err = parse_memory(huge).unwrap_err();
        assert!(err.contains("too large"), "{huge:?}: {err}");
    }
}

#[test]
fn pids() {
    assert_eq!(parse_pids("1"), Ok(1));
    assert_eq!(parse_pids("20"), Ok(20));
    assert_eq!(parse_pids("4194304"), Ok(MAX_PIDS));
    assert!(parse_pids("0").unwrap_err().contains("at least 1"));
    assert!(parse_pids("4194305").unwrap_err().contains("PID_MAX_LIMIT"));
    assert!(parse_pids("99999999999999999999999").unwrap_err().contains("PID_MAX_LIMIT"));
    for bad in ["", "-1", "ten", "2.5", "1e3"] {
        assert!(parse_pids(bad).unwrap_err().contains("whole number"), "{bad:?}");
    }
}

#[test]
fn cpus() {
    assert_eq!(parse_cpus_upto("0.5", 2), Ok(0.5));
    assert_eq!(parse_cpus_upto("2", 2), Ok(2.0));
    assert_eq!(parse_cpus_upto("0.01", 2), Ok(0.01));
    for bad in ["0", "0.0", "-1", "0.009", "2.01", "3", "inf", "NaN", "1e400"] {
        let err = parse_cpus_upto(bad, 2).unwrap_err();
        assert!(
            err.contains("from 0.01 to 2.00") && err.contains("2 CPUs online"),
            "{bad:?}: {err}"
        );
    }
    assert!(parse_cpus_upto("half", 2).unwrap_err().contains("expected a number"));
    // The real machine has at least one CPU.
    assert_eq!(parse_cpus("1"), Ok(1.0));
    assert_eq!(cpu_quota_us(0.5), 50_000);
    assert_eq!(cpu_quota_us(0.01), 1_000);
    assert_eq!(cpu_quota_us(1.5), 150_000);
}

#[test]
fn limits() {
    assert!(Limits::default().is_empty());
    assert!(!ALL.is_empty());
    assert_eq!(ALL.controllers(), ["pids", "memory", "cpu"]);
}

#[test]
fn names() {
    for good in ["c123-1", "h3test-x", "a.b"] {
        assert!(check_name(good).is_ok(), "{good}");
    }
    for bad in ["", ".", "..", "a/b", "/abs", "a\0b", &"x".repeat(256)] {
        assert!(check_name(bad).is_err(), "{bad:?}");
    }
}

// --- layout ---

#[test]
fn detect_this_host() {
    // What this host has, according to the mount table.
    let mounts = read(Path::new("/proc/self/mountinfo"));
    let fs_at = |dir: &str| {
        mounts.lines().rev().find_map(|l| {
            let (m, f) = l.split_once(" - ")?;
            (m.split(' ').nth(4)? == dir).then(|| f.split(' ').next().unwrap_or("").to_string())
        })
    };
    let expected = match (fs_at(ROOT).as_deref(), fs_at("/sys/fs/cgroup/unified").as_deref()) {
        (Some("cgroup2"), _) => Ok(Layout::Unified),
        (Some("tmpfs"), Some("cgroup2")) => Ok(Layout::Hybrid),
        (Some("tmpfs"), _) => Ok(Layout::Legacy),
        _ => Err(()),
    };
    let got = detect_layout(Path::new(ROOT)).map_err(|_| ());
    assert_eq!(got, expected);
    // This development host is hybrid.
    if std::env::var_os("EXPECT_CGROUP_LAYOUT").is_some_and(|v| v == "hybrid") {
        assert_eq!(got, Ok(Layout::Hybrid));
    }
}

#[test]
fn detect_refuses_other_filesystems() {
    let err = detect_layout(Path::new("/proc")).unwrap_err();
    assert!(format!("{err:#}").contains("no cgroup filesystem is mounted at /proc"));
    let err = detect_layout(Path::new("/nonexistent")).unwrap_err();
    assert!(format!("{err:#}").contains("statfs /nonexistent: ENOENT"), "{err:#}");
}

// --- cgroup v2 ---

#[test]
fn v2_writes_limits() {
    let root = v2_root("cpuset cpu io memory hugetlb pids rdma misc", V2_FILES);
    let cg = Cgroup::create_in(&root.0, Layout::Unified, "c1-1", &ALL).unwrap();
    let parent = root.0.join(PARENT);
    let leaf = parent.join("c1-1");
    assert_eq!(cg.paths(), std::slice::from_ref(&leaf));
    assert_eq!(read(&root.0.join("cgroup.subtree_control")), "+pids +memory +cpu");
    assert_eq!(read(&parent.join("cgroup.subtree_control")), "+pids +memory +cpu");
    assert_eq!(read(&leaf.join("pids.max")), "20");
    assert_eq!(read(&leaf.join("memory.max")), "67108864");
    assert_eq!(read(&leaf.join("memory.swap.max")), "0");
    assert_eq!(read(&leaf.join("cpu.max")), "50000 100000");
    // v2 has no `tasks`: the process joins through cgroup.procs.
    join(&cg.paths()).unwrap();
    assert_eq!(read(&leaf.join("cgroup.procs")), "0");
    // A pid no process can have (above PID_MAX_LIMIT): the drop will try to kill it.
    fs::write(leaf.join("cgroup.procs"), "99999999").unwrap();
    fs::write(leaf.join("memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n").unwrap();
    assert_eq!(cg.oom_kills(), 2);
    drop(cg);
    assert!(!leaf.exists(), "the leaf is removed");
    assert!(parent.is_dir(), "the shared parent stays");
}

#[test]
fn v2_only_needed_controllers() {
    let root = v2_root("cpu memory pids", V2_FILES);
    let limits = Limits { pids: Some(5), ..Limits::default() };
    let cg = Cgroup::create_in(&root.0, Layout::Unified, "c1-2", &limits).unwrap();
    assert_eq!(read(&root.0.join("cgroup.subtree_control")), "+pids");
    let leaf = &cg.paths()[0];
    assert_eq!(read(&leaf.join("pids.max")), "5");
    assert!(!leaf.join("memory.max").exists());
    assert_eq!(cg.oom_kills(), 0);
}

#[test]
fn v2_already_enabled_is_not_rewritten() {
    let root = v2_root("cpu memory pids", V2_FILES);
    fs::write(root.0.join("cgroup.subtree_control"), "cpu memory pids").unwrap();
    let _cg = Cgroup::create_in(&root.0, Layout::Unified, "c1-3", &ALL).unwrap();
    assert_eq!(read(&root.0.join("cgroup.subtree_control")), "cpu memory pids");
    assert_eq!(read(&root.0.join(PARENT).join("cgroup.subtree_control")), "+pids +memory +cpu");
}

#[test]
fn v2_without_swap_accounting() {
    let files: Vec<&str> = V2_FILES.iter().copied().filter(|f| *f != "memory.swap.max").collect();
    let root = v2_root("cpu memory pids", &files);
    let cg = Cgroup::create_in(&root.0, Layout::Unified, "c1-4", &ALL).unwrap();
    let leaf = &cg.paths()[0];
    assert_eq!(read(&leaf.join("memory.max")), "67108864");
    assert!(!leaf.join("memory.swap.max").exists());
}

#[test]
fn v2_missing_controller() {
    // A hybrid host's cgroup2: the controllers are bound to v1.
    let root = v2_root("hugetlb", V2_FILES);
    let err = Cgroup::create_in(&root.0, Layout::Unified, "c1-5", &ALL).unwrap_err();
    assert!(format!("{err:#}").contains("the pids controller is not available"), "{err:#}");
    let hint = &err.downcast_ref::<crate::report::Hinted>().unwrap().hint;
    assert!(hint.contains("bound to v1") && hint.contains("cgroup_disable=pids"), "{hint}");
    assert!(!root.0.join(PARENT).exists(), "nothing was created");
}

#[test]
fn v2_failed_write_removes_the_leaf() {
    // No cpu.max: as if the kernel had refused it.
    let files: Vec<&str> = V2_FILES.iter().copied().filter(|f| *f != "cpu.max").collect();
    let root = v2_root("cpu memory pids", &files);
    let err = Cgroup::create_in(&root.0, Layout::Unified, "c1-6", &ALL).unwrap_err();
    let leaf = root.0.join(PARENT).join("c1-6");
    assert_eq!(
        format!("{err:#}"),
        format!(
            "writing 50000 100000 to {}: ENOENT: No such file or directory",
            leaf.join("cpu.max").display()
        )
    );
    assert!(!leaf.exists());
}

#[test]
fn v2_name_taken() {
    let root = v2_root("pids", V2_FILES);
    let limits = Limits { pids: Some(5), ..Limits::default() };
    let _first = Cgroup::create_in(&root.0, Layout::Unified, "c1-7", &limits).unwrap();
    let err = Cgroup::create_in(&root.0, Layout::Unified, "c1-7", &limits).unwrap_err();
    assert!(format!("{err:#}").contains("EEXIST"), "{err:#}");
    assert!(root.0.join(PARENT).join("c1-7").exists(), "the first one's is left alone");
    let err = Cgroup::create_in(&root.0, Layout::Unified, "../escape", &limits).unwrap_err();
    assert!(format!("{err:#}").contains("one path component"));
}

#[test]
fn v2_cleanup_failure_is_reported() {
    let root = v2_root("pids", V2_FILES);
    let limits = Limits { pids: Some(5), ..Limits::default() };
    let cg = Cgroup::create_in(&root.0, Layout::Unified, "c1-8", &limits).unwrap();
    let leaf = cg.paths()[0].clone();
    // Something no kernel makes (a symlink): rmdir of the leaf must fail.
    std::os::unix::fs::symlink("nowhere", leaf.join("stray")).unwrap();
    let err = cg.remove(&leaf).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!("could not remove cgroup {}: ENOTEMPTY: Directory not empty", leaf.display())
    );
    fs::remove_file(leaf.join("stray")).unwrap();
    drop(cg);
    assert!(!leaf.exists());
}

#[test]
fn cgroups_made_inside_the_container_are_removed_depth_first() {
    let root = v2_root("pids", V2_FILES);
    let limits = Limits { pids: Some(5), ..Limits::default() };
    let cg = Cgroup::create_in(&root.0, Layout::Unified, "c1-9", &limits).unwrap();
    let leaf = cg.paths()[0].clone();
    fs::create_dir_all(leaf.join("inner/deeper")).unwrap();
    fs::create_dir(leaf.join("other")).unwrap();
    drop(cg);
    assert!(!leaf.exists());
}

// --- cgroup v1 ---

/// A v1 tree: one directory per mount, named as in `mounts`, with a fake
/// /proc/self/mountinfo listing them.
fn v1_root(mounts: &[(&str, &[&str])]) -> (TempDir, String) {
    let tmp = TempDir::new("v1");
    let mut mountinfo =
        format!("31 23 0:28 / {} rw,relatime - tmpfs tmpfs rw,mode=755\n", tmp.0.display());
    for (i, (dir, files)) in mounts.iter().enumerate() {
        let path = tmp.0.join(dir);
        fs::create_dir(&path).unwrap();
        touch(&path, &["cgroup.procs", "tasks"]);
        touch(&path, files);
        mountinfo += &format!(
            "{} 31 0:{} / {} rw,nosuid,nodev,noexec,relatime shared:{i} - cgroup cgroup rw,{dir}\n",
            40 + i,
            29 + i,
            path.display()
        );
    }
    (tmp, mountinfo)
}

const V1_MEMORY: &[&str] =
    &["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.oom_control"];
const V1_CPU: &[&str] = &["cpu.cfs_period_us", "cpu.cfs_quota_us", "cpuacct.usage"];

#[test]
fn v1_writes_limits_comounted_cpu() {
    let (root, mountinfo) = v1_root(&[
        ("pids", &["pids.max", "pids.current"]),
        ("memory", V1_MEMORY),
        ("cpu,cpuacct", V1_CPU),
        ("devices", &["devices.allow"]),
    ]);
    let r = &root.0;
    let cg = Cgroup::create_v1(&mountinfo, r, "c2-1", &ALL).unwrap();
    let leaf = |ctrl: &str| r.join(ctrl).join(PARENT).join("c2-1");
    assert_eq!(cg.paths(), [leaf("pids"), leaf("memory"), leaf("cpu,cpuacct")]);
    assert_eq!(read(&leaf("pids").join("pids.max")), "20");
    assert_eq!(read(&leaf("memory").join("memory.limit_in_bytes")), "67108864");
    assert_eq!(read(&leaf("memory").join("memory.memsw.limit_in_bytes")), "67108864");
    assert_eq!(read(&leaf("cpu,cpuacct").join("cpu.cfs_period_us")), "100000");
    assert_eq!(read(&leaf("cpu,cpuacct").join("cpu.cfs_quota_us")), "50000");
    assert!(!r.join("devices").join(PARENT).exists(), "only the controllers a limit needs");
    // v1: the process moves itself, through `tasks`, in every hierarchy.
    join(&cg.paths()).unwrap();
    for dir in cg.paths() {
        assert_eq!(read(&dir.join("tasks")), "0");
        assert_eq!(read(&dir.join("cgroup.procs")), "");
    }
    fs::write(
        leaf("memory").join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    )
    .unwrap();
    assert_eq!(cg.oom_kills(), 1);
    drop(cg);
    for ctrl in ["pids", "memory", "cpu,cpuacct"] {
        assert!(!leaf(ctrl).exists(), "{ctrl} leaf removed");
        assert!(r.join(ctrl).join(PARENT).is_dir(), "{ctrl} parent stays");
    }
}

#[test]
fn v1_only_pids_and_no_memsw() {
    let (root, mountinfo) = v1_root(&[
        ("pids", &["pids.max"]),
        ("memory", &["memory.limit_in_bytes", "memory.oom_control"]),
    ]);
    let limits = Limits { memory: Some(32 << 20), pids: Some(7), cpus: None };
    let cg = Cgroup::create_v1(&mountinfo, &root.0, "c2-2", &limits).unwrap();
    let mem = root.0.join("memory").join(PARENT).join("c2-2");
    assert_eq!(read(&mem.join("memory.limit_in_bytes")), "33554432");
    assert!(!mem.join("memory.memsw.limit_in_bytes").exists());
    assert_eq!(cg.paths().len(), 2);
}

#[test]
fn v1_missing_controller() {
    let (root, mountinfo) = v1_root(&[("pids", &["pids.max"]), ("memory", V1_MEMORY)]);
    let err = Cgroup::create_v1(&mountinfo, &root.0, "c2-3", &ALL).unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!(
            "no cgroup v1 hierarchy of the cpu controller is mounted under {}",
            root.0.display()
        )
    );
    let hint = &err.downcast_ref::<crate::report::Hinted>().unwrap().hint;
    let dir = root.0.join("cpu");
    assert!(hint.contains(&format!("mount -t cgroup -o cpu cgroup {}", dir.display())), "{hint}");
    assert!(!root.0.join("pids").join(PARENT).exists(), "nothing was created");
}

#[test]
fn v1_failed_write_removes_every_leaf() {
    // memory.limit_in_bytes missing: as if the kernel had refused it.
    let (root, mountinfo) =
        v1_root(&[("pids", &["pids.max"]), ("memory", &["memory.oom_control"])]);
    let err =
        Cgroup::create_v1(&mountinfo, &root.0, "c2-4", &ALL.clone_without_cpus()).unwrap_err();
    assert!(format!("{err:#}").starts_with("writing 67108864 to "), "{err:#}");
    assert!(format!("{err:#}").contains("memory.limit_in_bytes: ENOENT"), "{err:#}");
    assert!(!root.0.join("pids").join(PARENT).join("c2-4").exists());
    assert!(!root.0.join("memory").join(PARENT).join("c2-4").exists());
}

#[test]
fn v1_mount_lookup() {
    let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/systemd rw shared:9 - cgroup cgroup rw,xattr,name=systemd
33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/net_cls,net_prio rw shared:11 - cgroup cgroup rw,net_cls,net_prio
35 31 0:32 / /other/pids rw - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
";
    let root = Path::new(ROOT);
    let at = |c| find_v1_mount(mountinfo, root, c);
    assert_eq!(at("cpu"), Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")));
    assert_eq!(at("cpuacct"), Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")));
    assert_eq!(at("net_prio"), Some(PathBuf::from("/sys/fs/cgroup/net_cls,net_prio")));
    assert_eq!(at("memory"), None);
    assert_eq!(at("pids"), None, "not under the root");
    assert_eq!(at("systemd"), None, "name=systemd is no controller");
}

impl Limits {
    fn clone_without_cpus(&self) -> Limits {
        Limits { cpus: None, ..*self }
    }
}
