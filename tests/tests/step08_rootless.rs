//! step08-rootless: the full runtime run by a normal user, checked from
//! outside. The container's root is the caller on the host; what only the
//! host's root may do is refused up front; every earlier lesson still holds.
//!
//! `rootless()` runs the stage as a normal user: the tests' own user when
//! they run as one (CI's learner phase), else uid 4242 through setpriv (see
//! `Stage::rootless`). Those tests need no root and never skip. `as_root()`
//! runs it as root, where it still makes a user namespace and maps root to
//! root: those tests are root-gated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use container_tests::{
    checks, error_then_hint, pids_with_argv, root_or_skip, root_tests, stdout_text, tool, unique,
    unique_secs, wait_for, Checked, Scratch, Stage, TEST_UID,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use predicates::prelude::*;

fn rootless() -> Stage {
    Stage::rootless("step08-rootless")
}

fn as_root() -> Stage {
    Stage::with_rootfs("step08-rootless")
}

/// Every id on a `Uid:` or `Gid:` line of /proc/PID/status (real,
/// effective, saved, filesystem).
fn status_ids(pid: i32, field: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().skip(1).map(|n| n.parse().unwrap()).collect()
}

/// The lines of a map file, each as its three numbers.
fn map_lines(text: &str) -> Vec<Vec<u64>> {
    text.lines().map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect()).collect()
}

/// True when newuidmap/newgidmap are installed and the caller has ranges:
/// then the runtime maps 0-65535, else the caller alone.
fn helpers_and_ranges(uid: u32) -> bool {
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten();
    let has = |file: &str| {
        std::fs::read_to_string(file).is_ok_and(|text| {
            text.lines().any(|l| {
                let who = l.split(':').next().unwrap_or("");
                who == uid.to_string() || name.as_ref().is_some_and(|n| n.name == who)
            })
        })
    };
    Path::new("/usr/bin/newuidmap").exists()
        && Path::new("/usr/bin/newgidmap").exists()
        && has("/etc/subuid")
        && has("/etc/subgid")
}

#[test]
fn root_inside_is_the_caller_outside() {
    let stage = rootless();
    let (uid, gid) = stage.caller();
    let secs = unique_secs(30);
    let script = format!("id -u; id -g; echo ready; exec sleep {secs}");
    let mut running = stage.start(&["sh", "-c", &script]);
    let mut stdout = BufReader::new(running.runtime.stdout.take().unwrap());
    let mut inside = String::new();
    while !inside.ends_with("ready\n") && stdout.read_line(&mut inside).unwrap() > 0 {}
    assert_eq!(inside, "0\n0\nready\n", "uid and gid inside");
    let sleep = wait_for(Duration::from_secs(20), || pids_with_argv(&["sleep", &secs]).pop())
        .expect("the container's sleep never appeared");
    let init = running.child_pid();
    // On the host, the kernel sees the caller: the runtime, init and the command.
    for pid in [running.runtime.id() as i32, init, sleep] {
        assert_eq!(status_ids(pid, "Uid:"), [uid; 4], "uids of {pid} on the host");
        assert_eq!(status_ids(pid, "Gid:"), [gid; 4], "gids of {pid} on the host");
    }
    kill(Pid::from_raw(sleep), Signal::SIGTERM).unwrap();
    assert_eq!(running.finish().code, Some(128 + 15));
}

#[test]
fn the_map_is_the_callers_and_verbose_says_which() {
    let stage = rootless();
    let (uid, gid) = stage.caller();
    let out = stage
        .cmd(&["--verbose", "sh", "-c", "cat /proc/self/uid_map; echo; cat /proc/self/gid_map"])
        .checked()
        .success();
    let text = stdout_text(&out);
    let (uids, gids) = text.split_once("\n\n").unwrap();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    if helpers_and_ranges(uid) {
        // 0 is the caller, 1-65535 a subordinate range.
        let (u, g) = (map_lines(uids), map_lines(gids));
        assert_eq!((u.len(), g.len()), (2, 2), "{text}");
        assert_eq!((&u[0], &g[0]), (&vec![0, uid.into(), 1], &vec![0, gid.into(), 1]));
        assert_eq!((u[1][0], u[1][2], g[1][0], g[1][2]), (1, 65535, 1, 65535), "{text}");
        assert!(stderr.contains("1-65535 your subordinate ids"), "{stderr}");
    } else {
        assert_eq!(map_lines(uids), [[0, u64::from(uid), 1]], "{text}");
        assert_eq!(map_lines(gids), [[0, u64::from(gid), 1]], "{text}");
        assert!(stderr.contains("user namespace: you alone, as root inside"), "{stderr}");
    }
    // `--ids self`: the caller alone, written by the runtime itself, with or
    // without a range; setgroups is turned off before gid_map is written.
    let script = "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups";
    let out = stage.cmd(&["--ids", "self", "--verbose", "sh", "-c", script]).checked().success();
    let text = stdout_text(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(map_lines(lines[0]), [[0, u64::from(uid), 1]], "{text}");
    assert_eq!(map_lines(lines[1]), [[0, u64::from(gid), 1]], "{text}");
    assert_eq!(lines[2], "deny", "{text}");
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let order = ["setgroups <- \"deny\"", "gid_map <- \"0 ", "uid_map <- \"0 "];
    let at: Vec<Option<usize>> = order.iter().map(|w| stderr.find(w)).collect();
    assert!(at.iter().all(Option::is_some) && at.is_sorted(), "{order:?} in order: {stderr}");
}

#[test]
fn as_root_the_map_is_root_to_root() {
    if !root_or_skip("step08 as root: uid_map") {
        return;
    }
    let out = as_root()
        .cmd(&[
            "--verbose",
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups",
        ])
        .checked()
        .success()
        .stderr(predicate::str::contains(
            "user namespace: run as root: root inside is root outside",
        ));
    let text = stdout_text(&out);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let words: Vec<Vec<&str>> = lines.iter().map(|l| l.split_whitespace().collect()).collect();
    let all = vec!["0", "0", "4294967295"];
    assert_eq!(words, [all.clone(), all, vec!["allow"]], "{text}");
}

#[test]
fn a_file_made_inside_belongs_to_the_caller() {
    let stage = rootless();
    let (uid, gid) = stage.caller();
    let name = unique("made-inside");
    stage.cmd(&["sh", "-c", &format!("echo hi > /tmp/{name}")]).checked().success();
    let path = stage.rootfs_dir().join("tmp").join(&name);
    let meta = std::fs::metadata(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (uid, gid), "owner of {} on the host", path.display());
}

/// Root inside gives a file to another owner, as dpkg and apt-get do. With
/// the subordinate ranges that owner is one of the caller's subordinate ids
/// on the host (inside id N is the range's start + N - 1), so a rootfs with
/// many owners works; with the caller's id alone, chown to anyone else fails:
/// id 42 is not mapped, and the kernel cannot write it to the disk.
#[test]
fn chown_inside_takes_the_subordinate_ids() {
    let stage = rootless();
    let (uid, _) = stage.caller();
    let name = unique("owned-by-42");
    let file = format!("/tmp/{name}");
    let script = format!(
        "cat /proc/self/uid_map /proc/self/gid_map; touch {file}; chown 42:42 {file} && stat -c %u:%g {file}"
    );
    // With `--ids self`, the caller alone even with a range: chown fails.
    stage.cmd(&["--ids", "self", "sh", "-c", &script]).checked().code(1);
    assert_eq!(std::fs::metadata(stage.rootfs_dir().join("tmp").join(&name)).unwrap().uid(), uid);
    let out = stage.cmd(&["sh", "-c", &script]).checked();
    let path = stage.rootfs_dir().join("tmp").join(&name);
    let meta = std::fs::metadata(&path);
    // Whoever owns it, the tests may remove it: they run as root, or as the
    // caller, whose rootfs/tmp it is (sticky, but the directory is theirs).
    let removed = std::fs::remove_file(&path);
    let meta = meta.unwrap();
    removed.unwrap();
    if helpers_and_ranges(uid) {
        let out = out.success();
        let text = stdout_text(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!((lines.len(), lines[4]), (5, "42:42"), "{text}");
        // uid_map's and gid_map's second lines: `1 START 65535`.
        let start = |line: &str| map_lines(line)[0][1];
        let host = (u64::from(meta.uid()), u64::from(meta.gid()));
        assert_eq!(host, (start(lines[1]) + 41, start(lines[3]) + 41), "{text}");
    } else {
        out.code(1).stderr(predicate::str::contains("chown"));
        assert_eq!(meta.uid(), uid, "the file stayed the caller's");
    }
}

#[test]
fn hostname_pid_1_and_ps_are_the_containers() {
    let stage = rootless();
    checks::hostname_flag(&stage);
    // Capabilities are dropped: renaming from inside is refused, as in step07.
    let before = container_tests::host_hostname();
    stage.cmd(&["hostname", "renamed"]).checked().code(1);
    assert_eq!(container_tests::host_hostname(), before);
    stage.cmd(&["sh", "-c", "echo $$; cat /proc/1/comm"]).checked().success().stdout("2\ninit\n");
    stage
        .cmd(&["sh", "-c", "ps -e -o pid=,comm=; true"])
        .checked()
        .success()
        .stdout(predicate::str::is_match(r"\A *1 +init\n *2 +sh\n *3 +ps\n\z").unwrap());
    checks::ls_root_is_the_rootfs(&stage);
}

#[test]
fn devices_and_host_files_are_out_of_reach() {
    let stage = rootless();
    let fails = |script: &str, why: &str| {
        stage
            .cmd(&["sh", "-c", script])
            .checked()
            .failure()
            .stderr(predicate::str::contains(why.to_string()))
    };
    // The host's disk, by its numbers: no mknod in a user namespace.
    let root_dev = nix::sys::stat::stat("/").unwrap().st_dev;
    let (major, minor) = (nix::sys::stat::major(root_dev), nix::sys::stat::minor(root_dev));
    fails(&format!("mknod /tmp/{} b {major} {minor}", unique("disk")), "Operation not permitted");
    // The host's own device nodes, bound read-only: usable, not changeable.
    fails("chmod 600 /dev/null", "Read-only file system");
    fails("echo 1 > /proc/sys/kernel/domainname", "");
    fails("touch /sys/kernel/x", "");
    stage
        .cmd(&["sh", "-c", "echo x > /dev/null && head -c 3 /dev/zero | wc -c"])
        .checked()
        .success()
        .stdout("3\n");
    // A file of the rootfs that belongs to someone else than the caller
    // (a rootfs built by root): its owner is nobody inside, and root there
    // cannot write it.
    let passwd = stage.rootfs_dir().join("etc/passwd");
    if std::fs::metadata(&passwd).unwrap().uid() != stage.caller().0 {
        fails("echo x >> /etc/passwd", "Permission denied");
        stage.cmd(&["stat", "-c", "%U", "/etc/passwd"]).checked().success().stdout("nobody\n");
    }
}

#[test]
fn mounts_the_user_namespace_does_not_own_fail() {
    let stage = rootless();
    // With capabilities dropped and the filter on, mount is refused outright.
    stage.cmd(&["mount", "-t", "tmpfs", "x", "/tmp"]).checked().failure();
    // Without the filter, a nested user namespace gives back CAP_SYS_ADMIN:
    // over what that namespace owns (a tmpfs in its own mount namespace),
    // never over the rest. sysfs needs the network namespace's owner, proc
    // the PID namespace's, and a disk filesystem the host's root.
    let script = "mount -t tmpfs t /tmp && echo tmpfs-ok; \
                  mount -t sysfs s /tmp 2>/dev/null || echo sysfs-refused; \
                  mount -t proc p /tmp 2>/dev/null || echo proc-refused; \
                  mount -t ext4 /dev/zero /tmp 2>/dev/null || echo ext4-refused";
    stage
        .cmd(&["--seccomp", "unconfined", "unshare", "-U", "-r", "-m", "sh", "-c", script])
        .checked()
        .success()
        .stdout("tmpfs-ok\nsysfs-refused\nproc-refused\next4-refused\n");
}

#[test]
fn step07_hardening_still_holds() {
    let stage = rootless();
    checks::chroot_escape_is_confined(&stage);
    // Docker's default capabilities minus MKNOD, in every set, no_new_privs.
    let mask = [0u32, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 29, 31].iter().fold(0u64, |m, b| m | 1 << b);
    let mut out =
        stage.cmd(&["grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"]).checked().success();
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        out = out.stdout(predicate::str::contains(format!("{set}:\t{mask:016x}\n")));
    }
    out.stdout(predicate::str::contains("NoNewPrivs:\t1\n"));
    // The seccomp filter.
    let probes = ["keyctl", "setns", "clone-newuser", "io_uring_setup", "unshare"];
    let expected: String = probes.iter().map(|p| format!("{p}: EPERM\n")).collect();
    stage.cmd(&[&["syscall-probe"][..], &probes].concat()).checked().success().stdout(expected);
    // Masked /proc files read as empty; the mount table is the container's.
    stage
        .cmd(&["sh", "-c", "cat /proc/keys /proc/timer_list | wc -c"])
        .checked()
        .success()
        .stdout("0\n");
    checks::mountinfo_has_only(&stage, checks::MASKS);
    checks::dev_is_minimal(&stage);
    checks::host_mounts_unchanged(&stage);
    checks::signal_mask_is_clean(&stage);
}

/// The container's cgroups owned by `uid`, in every hierarchy.
fn cgroups_of(uid: u32) -> Vec<PathBuf> {
    let mut found = checks::container_cgroups();
    found.retain(|p| std::fs::metadata(p).is_ok_and(|m| m.uid() == uid));
    found
}

/// Whether the caller's own cgroup v2 directory is theirs (delegated).
fn delegated_to(uid: u32) -> bool {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let Some(path) = cgroup.lines().find_map(|l| l.strip_prefix("0::")) else { return false };
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"].iter().any(|m| {
        std::fs::metadata(Path::new(m).join(path.trim_start_matches('/')))
            .is_ok_and(|meta| meta.uid() == uid)
    })
}

#[test]
fn limits_without_a_delegated_cgroup_are_refused_up_front() {
    let stage = rootless();
    let (uid, _) = stage.caller();
    if uid != TEST_UID && delegated_to(uid) {
        // A learner's session under systemd: there the limits work.
        stage.cmd(&["--pids", "20", "true"]).checked().success();
        return;
    }
    let before = cgroups_of(uid);
    for limit in [&["--memory", "64M"][..], &["--pids", "10"], &["--cpus", "0.5"]] {
        stage
            .cmd(&[&["--verbose"][..], limit, &["true"]].concat())
            .checked()
            .code(125)
            // Two lines and nothing else: nothing was narrated, so nothing
            // was made (no clone, no mount, no cgroup).
            .stderr(error_then_hint())
            .stderr(predicate::str::starts_with(
                "error: --memory, --pids and --cpus without root need a cgroup v2 subtree delegated to you",
            ))
            .stderr(predicate::str::contains("systemd-run --user --scope -p Delegate=yes"));
    }
    assert_eq!(cgroups_of(uid), before);
}

/// A delegated cgroup v2 subtree made for the test as root (a directory of
/// its own in the v2 tree, chowned to TEST_UID, with the runtime started in
/// a leaf below it), as systemd's `Delegate=yes` makes one. Where the v2
/// tree has the pids controller, `--pids` works in it; on a hybrid host,
/// whose pids controller is bound to v1, the runtime finds the subtree and
/// says what it lacks.
#[test]
fn limits_in_a_delegated_cgroup() {
    if !root_or_skip("step08 delegated cgroup") {
        return;
    }
    let Some(mount) = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"].into_iter().find(|m| {
        nix::sys::statfs::statfs(*m)
            .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
    }) else {
        panic!("no cgroup v2 mount on this host");
    };
    let top = Path::new(mount).join(unique("cfs-delegated"));
    let leaf = top.join("leaf");
    // Removed however the test ends (deepest first).
    struct Remove(Vec<PathBuf>);
    impl Drop for Remove {
        fn drop(&mut self) {
            for dir in &self.0 {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
    let containers = top.join("containers-from-scratch");
    let _remove = Remove(vec![leaf.clone(), containers.clone(), top.clone()]);
    std::fs::create_dir(&top).unwrap();
    std::fs::create_dir(&leaf).unwrap();
    let chown = |p: &Path| nix::unistd::chown(p, Some(TEST_UID.into()), Some(TEST_UID.into()));
    for dir in [&top, &leaf] {
        chown(dir).unwrap();
        for file in ["cgroup.procs", "cgroup.subtree_control", "cgroup.threads"] {
            chown(&dir.join(file)).unwrap();
        }
    }
    let has_pids =
        std::fs::read_to_string(top.join("cgroup.controllers")).unwrap().contains("pids");
    let stage = rootless();
    let (bin, _) = container_tests::unprivileged_files(stage.name);
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec setpriv --reuid={TEST_UID} --regid={TEST_UID} \
         --clear-groups -- \"$@\"",
        leaf.display()
    );
    let out = tool("sh")
        .args(["-c", &script, "sh"])
        .arg(bin)
        .arg("run")
        .args(&stage.base)
        .args(["--pids", "7", "sh", "-c", "cat /sys/fs/cgroup/pids.max 2>/dev/null; echo ran"])
        .checked();
    if has_pids {
        out.success().stdout(predicate::str::ends_with("ran\n"));
    } else {
        out.code(125).stderr(error_then_hint()).stderr(predicate::str::starts_with(format!(
            "error: the cgroup delegated to you, {}, has no pids controller",
            top.display()
        )));
    }
    // Nothing left in the delegated subtree: no container cgroup.
    let left: Vec<_> = std::fs::read_dir(&containers)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    assert_eq!(left, Vec::<PathBuf>::new());
}

#[test]
fn net_bridge_is_refused_and_none_is_the_default() {
    let stage = rootless();
    let leases =
        || std::fs::read_dir("/run/containers-from-scratch/leases").map(|d| d.count()).ok();
    let before = leases();
    stage
        .cmd(&["--verbose", "--net", "bridge", "true"])
        .checked()
        .code(125)
        .stderr(error_then_hint())
        .stderr(predicate::str::starts_with("error: --net bridge needs root"))
        .stderr(predicate::str::contains("hint: leave --net out"));
    assert_eq!(leases(), before);
    stage
        .cmd(&["ip", "-o", "link"])
        .checked()
        .success()
        .stdout(predicate::str::is_match(r"\A1: lo: <LOOPBACK,UP,LOWER_UP>.*\n\z").unwrap());
}

#[test]
fn as_root_bridge_limits_and_groups_work_as_in_step07() {
    if !root_or_skip("step08 as root: bridge, limits, groups") {
        return;
    }
    let stage = as_root();
    stage
        .cmd(&["--net", "bridge", "sh", "-c", "ip -4 -o addr show eth0"])
        .checked()
        .success()
        .stdout(predicate::str::is_match(r"\A[0-9]+: eth0 +inet 10\.201\.0\.[0-9]+/").unwrap());
    stage
        .cmd(&["--pids", "20", "--memory", "32M", "tail", "/dev/zero"])
        .checked()
        .code(137)
        .stderr(predicate::str::starts_with("error: the container was killed for memory"));
    // Root keeps setgroups(2) inside, and clears its supplementary groups.
    tool("setpriv")
        .args(["--groups", "6,27", "--"])
        .arg(stage.bin())
        .arg("run")
        .args(&stage.base)
        .args(["grep", "^Groups:", "/proc/self/status"])
        .checked()
        .success()
        .stdout(predicate::str::is_match(r"\AGroups:\t ?\n\z").unwrap());
}

#[test]
fn as_root_the_hosts_device_nodes_are_read_only_inside() {
    if !root_or_skip("step08 as root: devices") {
        return;
    }
    // Root inside is root outside: a writable bind of the host's /dev/null
    // would let it chmod the host's. A stand-in is bound over /dev/null in
    // a private mount namespace, so the real one is never touched.
    let dir = Scratch::new("cfs-devnull");
    let standin = dir.path.join("null");
    let inside = "chmod 600 /dev/null; chown 65534 /dev/null; echo gone > /dev/null; \
                  head -c 3 /dev/zero | wc -c";
    let script = format!(
        "mknod {0} c 1 3 && chmod 666 {0} && mount --bind {0} /dev/null && exec \"$@\"",
        standin.display()
    );
    let stage = as_root();
    let out = tool("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(stage.bin())
        .arg("run")
        .args(&stage.base)
        .args(["sh", "-c", inside])
        .checked();
    let meta = std::fs::metadata(&standin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        (meta.permissions().mode() & 0o777, meta.uid()),
        (0o666, 0),
        "the container changed the host's /dev/null: {out}"
    );
    out.success()
        .stdout("3\n")
        .stderr(predicate::str::contains("chmod: /dev/null: Read-only file system"));
}

#[test]
fn killing_the_runtime_ends_the_container() {
    let stage = rootless();
    for sig in [Signal::SIGTERM, Signal::SIGKILL] {
        let secs = unique_secs(42);
        let running = stage.start(&["sleep", &secs]);
        wait_for(Duration::from_secs(20), || pids_with_argv(&["sleep", &secs]).pop())
            .expect("the container's sleep never appeared");
        let init = running.child_pid();
        kill(Pid::from_raw(running.runtime.id() as i32), sig).unwrap();
        let out = running.finish();
        if sig == Signal::SIGTERM {
            assert_eq!(out.code, Some(128 + 15), "{out:?}");
        }
        // SIGKILL: init's parent-death signal, then the kernel ends its
        // PID namespace; the mounts went with its mount namespace.
        let gone = wait_for(Duration::from_secs(5), || {
            (pids_with_argv(&["sleep", &secs]).is_empty()
                && !Path::new(&format!("/proc/{init}")).exists())
            .then_some(())
        });
        assert!(gone.is_some(), "the container outlived its runtime's {sig}");
    }
}

#[test]
fn a_shell_reads_its_input_and_exits_with_its_status() {
    let stage = rootless();
    let mut cmd = stage.command(&["/bin/sh"]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"echo hi; id -u\nexit 3\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n0\n", "{out:?}");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

/// `run /bin/bash` without sudo, in a real terminal (tmux), typed as a
/// learner: a prompt, Ctrl-C ends the foreground job and not the shell,
/// and root inside.
#[test]
fn interactive_bash_without_sudo_keeps_job_control() {
    checks::interactive_bash_keeps_job_control(&rootless());
}

#[test]
fn exit_status_and_usage_errors_as_before() {
    let stage = rootless();
    checks::exit_status_propagates(&stage);
    checks::usage_errors(&stage);
    checks::option_like_values_reach_the_child(&stage);
    checks::child_is_refused_outside_run(&stage);
    let missing = std::env::temp_dir().join(unique("missing"));
    stage
        .cmd_raw(&["run", "--rootfs", missing.to_str().unwrap(), "true"])
        .checked()
        .code(125)
        .stderr(error_then_hint())
        .stderr(predicate::str::starts_with(format!("error: --rootfs {}", missing.display())));
}

root_tests!(as_root(); exit_status_propagates, child_is_refused_outside_run);
