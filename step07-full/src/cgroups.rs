//! Resource limits for one container: control groups (cgroups).
//!
//! A cgroup is a directory in a kernel filesystem. Make one (mkdir), write a
//! limit into one of the files the kernel puts in it (`pids.max`), write a
//! process ID into its `cgroup.procs`, and that process and all its future
//! children are held to the limit. Remove the directory (rmdir) when the
//! container is gone. Nothing else: no syscall beyond mkdir, write and rmdir.
//!
//! Two versions of that filesystem exist, and a runtime meets both:
//! - cgroup v2: one tree at /sys/fs/cgroup, every controller in it
//!   (<https://docs.kernel.org/admin-guide/cgroup-v2.html>);
//! - cgroup v1: one tree per controller, at /sys/fs/cgroup/pids,
//!   /sys/fs/cgroup/memory, … each with its own file names
//!   (<https://docs.kernel.org/admin-guide/cgroup-v1/>).
//!
//! See also cgroups(7).

use std::fmt::Display;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC, TMPFS_MAGIC};
use nix::unistd::Pid;

/// Where every distribution mounts the cgroup filesystems.
pub const ROOT: &str = "/sys/fs/cgroup";
/// The group, in each hierarchy, that holds one cgroup per container. It is
/// shared by every container running at the same time, so it is never removed.
pub const PARENT: &str = "containers-from-scratch";
/// The smallest `--memory`: Docker's minimum (6 MiB). Below it the container's
/// first process is OOM-killed before it gets going.
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;
/// The largest `--pids`: the kernel's PID_MAX_LIMIT on 64-bit; `pids.max`
/// refuses more with EINVAL.
pub const MAX_PIDS: u64 = 4 * 1024 * 1024;
/// The CPU bandwidth period, 100 ms: the kernel's default and Docker's. A
/// quota of half of it (`--cpus 0.5`) lets the container run 50 ms per 100 ms.
pub const CPU_PERIOD_US: u64 = 100_000;
/// The smallest `--cpus`: a quota of 1% of the period is 1 ms, the least the
/// kernel accepts (`min_cfs_quota_period` in kernel/sched/core.c).
pub const MIN_CPUS: f64 = 0.01;

/// The limits `run` was asked for; `None` leaves that resource unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// Bytes of memory (RAM; swap is not allowed on top of it).
    pub memory: Option<u64>,
    /// Processes and threads, all counted together.
    pub pids: Option<u64>,
    /// CPUs' worth of time, e.g. 0.5 is half of one CPU.
    pub cpus: Option<f64>,
}

impl Limits {
    /// True when no limit was asked for: then the runtime makes no cgroup.
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.pids.is_none() && self.cpus.is_none()
    }

    /// The controllers these limits need, and only those.
    fn controllers(&self) -> Vec<&'static str> {
        let mut needed = Vec::new();
        if self.pids.is_some() {
            needed.push("pids");
        }
        if self.memory.is_some() {
            needed.push("memory");
        }
        if self.cpus.is_some() {
            needed.push("cpu");
        }
        needed
    }
}

/// `--memory SIZE`: a whole number of bytes with an optional unit `k`, `M`, `G`
/// or `T` in powers of 1024, any case, optionally followed by `B` or `iB`
/// (`64M` = `64m` = `64MB` = `64MiB` = 67108864), as Docker reads it.
pub fn parse_memory(s: &str) -> Result<u64, String> {
    const EXPECTED: &str = "expected a whole number of bytes with an optional unit \
        k, M, G or T (powers of 1024), e.g. 64M, 1G or 1073741824";
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(EXPECTED.into()),
    };
    if number.is_empty() {
        return Err(EXPECTED.into());
    }
    let too_large = || "too large: more than 16 EiB".to_string();
    // Only digits are left, so parsing fails only when the number overflows.
    let n: u64 = number.parse().map_err(|_| too_large())?;
    let bytes = n.checked_mul(1 << shift).ok_or_else(too_large)?;
    if bytes == 0 {
        return Err("0 bytes leaves no memory at all: use at least 6M".into());
    }
    if bytes < MIN_MEMORY {
        return Err(format!(
            "{bytes} bytes is below 6M, the least a container needs to start \
             its first process (Docker's minimum)"
        ));
    }
    Ok(bytes)
}

/// `--pids N`: how many processes (and threads) may exist in the container.
pub fn parse_pids(s: &str) -> Result<u64, String> {
    let n: u64 = s.parse().map_err(|e: std::num::ParseIntError| {
        if *e.kind() == std::num::IntErrorKind::PosOverflow {
            format!("at most {MAX_PIDS}, the kernel's PID_MAX_LIMIT")
        } else {
            "expected a whole number of processes, e.g. 20".to_string()
        }
    })?;
    match n {
        0 => Err("0 would stop even the container's first process: use at least 1".into()),
        n if n > MAX_PIDS => Err(format!("at most {MAX_PIDS}, the kernel's PID_MAX_LIMIT")),
        n => Ok(n),
    }
}

/// `--cpus FLOAT`: how many CPUs' worth of time the container may use, from
/// 0.01 up to the number of CPUs online.
pub fn parse_cpus(s: &str) -> Result<f64, String> {
    parse_cpus_upto(s, online_cpus())
}

fn parse_cpus_upto(s: &str, online: u64) -> Result<f64, String> {
    let cpus: f64 =
        s.parse().map_err(|_| "expected a number of CPUs, e.g. 0.5 or 2".to_string())?;
    // f64 parsing accepts "inf" and "NaN": refuse them with the rest.
    if !cpus.is_finite() || !(MIN_CPUS..=online as f64).contains(&cpus) {
        return Err(format!(
            "the range of CPUs is from {MIN_CPUS:.2} to {online}.00: \
             this machine has {online} CPUs online"
        ));
    }
    Ok(cpus)
}

/// How many CPUs are online, as `getconf _NPROCESSORS_ONLN` prints.
fn online_cpus() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    u64::try_from(n).unwrap_or(1).max(1)
}

/// How the cgroup filesystems are mounted on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v2 only: one hierarchy at /sys/fs/cgroup with every controller.
    Unified,
    /// cgroup v1 only: a tmpfs at /sys/fs/cgroup, one hierarchy per controller.
    Legacy,
    /// Both: the v1 hierarchies hold the controllers, and a cgroup2 at
    /// /sys/fs/cgroup/unified holds none.
    Hybrid,
}

// ANCHOR: detect
/// Tell the three layouts apart the way runc and crun do: by the type of the
/// filesystem mounted at `root` (statfs(2)), then at `root/unified`.
///
/// What systemd mounts, and so what a host has:
/// - Unified: systemd's default since 243 (2019), so Fedora 31+, Debian 11+,
///   Ubuntu 21.10+, RHEL 9. systemd manages the whole tree and has already
///   enabled the controllers at the root.
/// - Hybrid: the default before that (Debian 10, Ubuntu 20.04). Every
///   controller stays in its v1 hierarchy; the cgroup2 at `unified` only
///   serves systemd to track which service a process belongs to. A
///   controller is in one hierarchy at a time, so that cgroup2 has none to
///   offer: the limits go to the v1 controllers, as runc and crun write them.
/// - Legacy: `systemd.unified_cgroup_hierarchy=0` on the kernel command line,
///   or an older systemd: v1 only, systemd's tracking tree at `systemd`.
///   systemd 256 refuses to boot on v1 by default and 258 removed it.
pub fn detect_layout(root: &Path) -> anyhow::Result<Layout> {
    let fs = statfs(root).with_context(|| format!("statfs {}", root.display()))?;
    let kind = fs.filesystem_type();
    if kind == CGROUP2_SUPER_MAGIC {
        return Ok(Layout::Unified);
    }
    // A tmpfs holds one mount per v1 controller (a bare cgroup v1 mount is
    // rare but legacy too).
    if kind == TMPFS_MAGIC || kind == CGROUP_SUPER_MAGIC {
        let unified = root.join("unified");
        let hybrid = statfs(&unified).is_ok_and(|u| u.filesystem_type() == CGROUP2_SUPER_MAGIC);
        return Ok(if hybrid { Layout::Hybrid } else { Layout::Legacy });
    }
    Err(crate::report::hinted(
        anyhow!("no cgroup filesystem is mounted at {}", root.display()),
        format!("mount cgroup v2 there: mount -t cgroup2 none {}", root.display()),
    ))
}
// ANCHOR_END: detect

/// One container's cgroup: a directory in each hierarchy a limit needs.
/// Dropping it kills whatever is still inside and removes the directories.
#[derive(Debug)]
pub struct Cgroup {
    /// The directories we made, in order: one on v2; on v1 one per hierarchy
    /// (`pids`, `memory`, `cpu` or a co-mounted `cpu,cpuacct`).
    paths: Vec<PathBuf>,
    /// Each controller we use, and the directory holding its files.
    controllers: Vec<(&'static str, PathBuf)>,
    unified: bool,
    verbose: bool,
}

impl Cgroup {
    /// Create `containers-from-scratch/<name>` under /sys/fs/cgroup, in each
    /// hierarchy the limits need, and write the limits.
    pub fn create(name: &str, limits: &Limits, verbose: bool) -> anyhow::Result<Cgroup> {
        let root = Path::new(ROOT);
        let layout = detect_layout(root)?;
        crate::report::narrate(verbose, &format!("statfs({ROOT}): cgroup layout {layout:?}"));
        Self::create_in(root, layout, name, limits, verbose)
    }

    /// The same under another `root`, with the layout given. On v1 the
    /// controllers' mounts under `root` come from /proc/self/mountinfo.
    pub fn create_in(
        root: &Path,
        layout: Layout,
        name: &str,
        limits: &Limits,
        verbose: bool,
    ) -> anyhow::Result<Cgroup> {
        check_name(name)?;
        match layout {
            Layout::Unified => Self::create_v2(root, name, limits, verbose),
            Layout::Legacy | Layout::Hybrid => {
                let mountinfo = fs::read_to_string("/proc/self/mountinfo")
                    .context("reading /proc/self/mountinfo")?;
                Self::create_v1(&mountinfo, root, name, limits, verbose)
            }
        }
    }

    // ANCHOR: create
    /// cgroup v2: enable the controllers from the root down, then make the
    /// container's cgroup and write its limits.
    fn create_v2(
        root: &Path,
        name: &str,
        limits: &Limits,
        verbose: bool,
    ) -> anyhow::Result<Cgroup> {
        let needed = limits.controllers();
        check_available(root, &needed)?;
        // Top-down: a cgroup can enable a controller for its children only if
        // its parent enabled it for it. And no internal processes: a cgroup
        // that enables controllers may hold no process itself (the root is
        // exempt). So the parent only ever holds other cgroups; each
        // container's process goes in a leaf below it.
        let parent = root.join(PARENT);
        Self::enable_controllers(root, &needed, verbose)?;
        make_shared_dir(&parent, verbose)?;
        Self::enable_controllers(&parent, &needed, verbose)?;
        let leaf = parent.join(name);
        make_dir(&leaf, verbose)?;
        // From here on, whatever goes wrong, dropping `cgroup` removes the leaf.
        let cgroup = Cgroup {
            paths: vec![leaf.clone()],
            controllers: needed.iter().map(|&c| (c, leaf.clone())).collect(),
            unified: true,
            verbose,
        };
        cgroup.limits_v2(limits)?;
        Ok(cgroup)
    }

    /// Write `+pids +memory +cpu` (those not there yet) to the
    /// `cgroup.subtree_control` of `dir`: the kernel then creates those
    /// controllers' files in the cgroups below `dir`. Only the controllers a
    /// limit needs: enabling cpu costs scheduler work for every group below,
    /// and can fail where memory alone would work. We never disable one:
    /// other containers below `dir` may use it.
    fn enable_controllers(dir: &Path, needed: &[&str], verbose: bool) -> anyhow::Result<()> {
        let file = dir.join("cgroup.subtree_control");
        let enabled = read_file(&file)?;
        let enable: Vec<String> = needed
            .iter()
            .filter(|&&c| !enabled.split_whitespace().any(|e| e == c))
            .map(|c| format!("+{c}"))
            .collect();
        if enable.is_empty() {
            return Ok(());
        }
        write_file(&file, enable.join(" "), verbose).map_err(|err| {
            if err.downcast_ref::<Errno>() == Some(&Errno::EBUSY) {
                crate::report::hinted(
                    err,
                    format!(
                        "{} holds processes, so the kernel will not enable controllers below it \
                         (the no-internal-process rule); inside a container, move its processes \
                         into a child cgroup first",
                        dir.display()
                    ),
                )
            } else {
                err
            }
        })
    }
    // ANCHOR_END: create

    // ANCHOR: limits_v2
    /// cgroup v2 file names (cgroup-v2.rst, "Controllers").
    fn limits_v2(&self, limits: &Limits) -> anyhow::Result<()> {
        if let Some(max) = limits.pids {
            self.write("pids", "pids.max", max)?;
        }
        if let Some(bytes) = limits.memory {
            self.write("memory", "memory.max", bytes)?;
            // memory.max caps RAM only: without this, the container would
            // swap instead of being OOM-killed. The file exists only when the
            // kernel accounts swap (CONFIG_SWAP, and not swapaccount=0).
            if self.has("memory", "memory.swap.max") {
                self.write("memory", "memory.swap.max", 0)?;
            }
        }
        if let Some(cpus) = limits.cpus {
            // "$MAX $PERIOD": run at most MAX microseconds every PERIOD.
            let quota = cpu_quota_us(cpus);
            self.write("cpu", "cpu.max", format!("{quota} {CPU_PERIOD_US}"))?;
        }
        Ok(())
    }
    // ANCHOR_END: limits_v2

    /// cgroup v1 (and hybrid): one directory per controller's hierarchy,
    /// wherever that hierarchy is mounted.
    fn create_v1(
        mountinfo: &str,
        root: &Path,
        name: &str,
        limits: &Limits,
        verbose: bool,
    ) -> anyhow::Result<Cgroup> {
        // Find every mount before making anything: a missing one is refused
        // with nothing to undo.
        let mut controllers = Vec::new();
        for controller in limits.controllers() {
            let mount = find_v1_mount(mountinfo, root, controller)
                .ok_or_else(|| missing_v1_mount(root, controller))?;
            controllers.push((controller, mount.join(PARENT).join(name)));
        }
        let mut cgroup = Cgroup { paths: Vec::new(), controllers, unified: false, verbose };
        for (_, leaf) in cgroup.controllers.clone() {
            // Co-mounted controllers (cpu,cpuacct) share one directory.
            if cgroup.paths.contains(&leaf) {
                continue;
            }
            if let Some(parent) = leaf.parent() {
                make_shared_dir(parent, verbose)?;
            }
            make_dir(&leaf, verbose)?;
            cgroup.paths.push(leaf);
        }
        cgroup.limits_v1(limits)?;
        Ok(cgroup)
    }

    // ANCHOR: limits_v1
    /// cgroup v1 file names (Documentation/admin-guide/cgroup-v1/).
    fn limits_v1(&self, limits: &Limits) -> anyhow::Result<()> {
        if let Some(max) = limits.pids {
            self.write("pids", "pids.max", max)?;
        }
        if let Some(bytes) = limits.memory {
            self.write("memory", "memory.limit_in_bytes", bytes)?;
            // memsw is memory + swap: the same value means no swap. The kernel
            // refuses memsw below limit_in_bytes, so limit_in_bytes goes
            // first. The file exists only when the kernel accounts swap.
            if self.has("memory", "memory.memsw.limit_in_bytes") {
                self.write("memory", "memory.memsw.limit_in_bytes", bytes)?;
            }
        }
        if let Some(cpus) = limits.cpus {
            // Run at most cfs_quota_us microseconds every cfs_period_us.
            self.write("cpu", "cpu.cfs_period_us", CPU_PERIOD_US)?;
            self.write("cpu", "cpu.cfs_quota_us", cpu_quota_us(cpus))?;
        }
        Ok(())
    }
    // ANCHOR_END: limits_v1

    /// How many processes the OOM killer killed in this cgroup: the
    /// `oom_kill` line of v2 `memory.events`, or of v1 `memory.oom_control`
    /// (Linux 4.13+). 0 without a memory limit.
    pub fn oom_kills(&self) -> u64 {
        let file = if self.unified { "memory.events" } else { "memory.oom_control" };
        let Some(dir) = self.dir("memory") else {
            return 0;
        };
        fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// The directories this cgroup made: one on v2, one per hierarchy on v1.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.paths.clone()
    }

    /// The directory holding `controller`'s files.
    fn dir(&self, controller: &str) -> Option<&Path> {
        self.controllers.iter().find(|(c, _)| *c == controller).map(|(_, dir)| dir.as_path())
    }

    fn has(&self, controller: &str, file: &str) -> bool {
        self.dir(controller).is_some_and(|dir| dir.join(file).exists())
    }

    /// Write `value` to the file `file` of `controller`.
    fn write(&self, controller: &str, file: &str, value: impl Display) -> anyhow::Result<()> {
        let dir = self
            .dir(controller)
            .ok_or_else(|| anyhow!("no {controller} controller in this cgroup"))?;
        write_file(&dir.join(file), value, self.verbose)
    }
}

// ANCHOR: join
/// Move the calling process into the cgroup at `dirs` (one directory on v2,
/// one per hierarchy on v1). The container's first process calls this on
/// itself before it execs the command, so the command never runs unlimited;
/// its children are born inside.
///
/// Why the process itself, and why "0"? Moving *another* process (writing
/// its PID to `cgroup.procs`) write-locks the kernel's global
/// cgroup_threadgroup_rwsem, so that none of its threads can fork or exit
/// meanwhile. Taking that lock after a quiet moment waits for an RCU grace
/// period: several milliseconds, more than all the rest of the container's
/// start-up. A thread that moves *itself* (`echo 0 > tasks`) cannot exit or
/// exec while it does so, and the kernel skips the lock ("cgroup: Optimize single
/// thread migration", kernel/cgroup/cgroup.c). The caller is single-threaded,
/// so its one thread is the whole process. cgroup v2 has no `tasks` file and
/// moves single threads only inside threaded subtrees: there it is
/// `cgroup.procs`, and the lock.
pub fn join(dirs: &[PathBuf], verbose: bool) -> anyhow::Result<()> {
    for dir in dirs {
        let file = if dir.join("tasks").exists() { "tasks" } else { "cgroup.procs" };
        write_file(&dir.join(file), 0, verbose).map_err(|err| join_hint(err, dir))?;
    }
    Ok(())
}
// ANCHOR_END: join

/// The hint for a failed join. On v2 the one way it fails in practice: the
/// parent group holds processes itself. With only threaded controllers
/// (pids, cpu) the kernel enabled them anyway, and refuses here instead.
fn join_hint(err: anyhow::Error, dir: &Path) -> anyhow::Error {
    let parent = dir.parent().unwrap_or(dir).display();
    let hint = if err.downcast_ref::<Errno>() == Some(&Errno::EOPNOTSUPP) {
        format!(
            "{parent} holds processes, so the kernel will not move one into a cgroup below it \
             (the no-internal-process rule); inside a container, move its processes into a \
             child cgroup first"
        )
    } else {
        format!("the container could not move into its cgroup: is {parent} still there?")
    };
    crate::report::hinted(err, hint)
}

// ANCHOR: cleanup
impl Drop for Cgroup {
    /// Kill what is left inside, then remove each directory. The parent
    /// `containers-from-scratch` stays: other containers may be using it, and
    /// removing it would race with them making their own cgroups in it.
    fn drop(&mut self) {
        for dir in self.paths.iter().rev() {
            if let Err(err) = self.remove(dir) {
                eprintln!("warning: {err:#}");
            }
        }
    }
}

impl Cgroup {
    /// rmdir(2) fails with EBUSY while the cgroup holds a process, and a
    /// killed process takes a moment to leave: so kill, and try again every
    /// 10 ms for up to 2 s. It also fails with EBUSY while the cgroup has
    /// children, which a container may make in its own (to manage its
    /// processes, as systemd does): those go first, depth first.
    fn remove(&self, dir: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut waited = false;
        loop {
            self.kill_all(dir);
            for sub in fs::read_dir(dir).into_iter().flatten().flatten() {
                if sub.file_type().is_ok_and(|t| t.is_dir()) {
                    self.remove(&sub.path())?;
                }
            }
            match remove_dir(dir) {
                Ok(()) => {
                    crate::report::narrate(self.verbose, &format!("rmdir {}", dir.display()));
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(err)
                    if err.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                {
                    if !waited {
                        let what = format!("rmdir {}: EBUSY, retrying", dir.display());
                        crate::report::narrate(self.verbose, &what);
                        waited = true;
                    }
                    thread::sleep(Duration::from_millis(10));
                }
                Err(err) => {
                    return Err(os_error(err))
                        .with_context(|| format!("could not remove cgroup {}", dir.display()));
                }
            }
        }
    }

    /// SIGKILL every process still in the cgroup at `dir`.
    fn kill_all(&self, dir: &Path) {
        let pids = read_file(&dir.join("cgroup.procs")).unwrap_or_default();
        if pids.trim().is_empty() {
            return;
        }
        // Linux 5.14+ on v2: one write kills the whole group, and the kernel
        // makes sure a process forking right now cannot escape.
        let kill_file = dir.join("cgroup.kill");
        if self.unified && kill_file.exists() && write_file(&kill_file, 1, self.verbose).is_ok() {
            return;
        }
        // Otherwise one by one. A child forked meanwhile is in the next
        // round's list: rmdir says EBUSY until the group is empty.
        for pid in pids.split_whitespace().filter_map(|p| p.parse().ok()).filter(|&p| p > 0) {
            crate::report::narrate(self.verbose, &format!("kill({pid}, SIGKILL)"));
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}
// ANCHOR_END: cleanup

/// The container's cgroup is a directory named `name`: exactly one path
/// component, so it cannot land anywhere else.
fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\0'])
        || name.len() > 255
    {
        bail!("invalid cgroup name {name:?}: it must be one path component");
    }
    Ok(())
}

/// Refuse up front when `root/cgroup.controllers` lacks a controller we need.
fn check_available(root: &Path, needed: &[&str]) -> anyhow::Result<()> {
    let file = root.join("cgroup.controllers");
    let available = read_file(&file)?;
    for controller in needed {
        if !available.split_whitespace().any(|a| a == *controller) {
            return Err(crate::report::hinted(
                anyhow!(
                    "the {controller} controller is not available: {} lists only {:?}",
                    file.display(),
                    available.trim()
                ),
                format!(
                    "a controller sits in one hierarchy at a time: if `grep -w {controller} \
                     /proc/self/mountinfo` shows a cgroup v1 mount, it is bound to v1 (boot with \
                     systemd.unified_cgroup_hierarchy=1 for pure v2); if /proc/cgroups does not \
                     list it, or /proc/cmdline has cgroup_disable={controller}, the kernel does \
                     not offer it"
                ),
            ));
        }
    }
    Ok(())
}

/// Where `controller`'s v1 hierarchy is mounted under `root`, from the text of
/// /proc/self/mountinfo (see proc_pid_mountinfo(5)). Usually `root/<controller>`,
/// but co-mounted controllers share a mount such as `root/cpu,cpuacct`.
fn find_v1_mount(mountinfo: &str, root: &Path, controller: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // "36 25 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,… shared:9 - cgroup cgroup rw,cpu,cpuacct"
        // Spaces in a mount point would be escaped as \040; cgroup mounts have none.
        let (mount, fs) = line.split_once(" - ")?;
        let mount_point = Path::new(mount.split(' ').nth(4)?);
        let mut fs = fs.split(' ');
        let (fs_type, options) = (fs.next()?, fs.nth(1)?);
        let found = fs_type == "cgroup"
            && options.split(',').any(|o| o == controller)
            && mount_point.starts_with(root);
        found.then(|| mount_point.to_path_buf())
    })
}

fn missing_v1_mount(root: &Path, controller: &str) -> anyhow::Error {
    let dir = root.join(controller);
    crate::report::hinted(
        anyhow!(
            "no cgroup v1 hierarchy of the {controller} controller is mounted under {}",
            root.display()
        ),
        format!(
            "mount it: mkdir -p {0} && mount -t cgroup -o {controller} cgroup {0} \
             (if /proc/cgroups lists {controller}; otherwise the kernel does not offer it)",
            dir.display()
        ),
    )
}

/// `--cpus` as microseconds of CPU time per period: 0.5 -> 50000.
fn cpu_quota_us(cpus: f64) -> u64 {
    (cpus * CPU_PERIOD_US as f64).round() as u64
}

/// mkdir(2). On a cgroup filesystem the kernel fills the new directory with
/// its interface files.
fn make_dir(dir: &Path, verbose: bool) -> anyhow::Result<()> {
    crate::report::narrate(verbose, &format!("mkdir {}", dir.display()));
    mkdir(dir).map_err(|err| {
        let hint = match err.raw_os_error() {
            Some(libc::EROFS) => {
                "cgroups are read-only here: inside a container? run it on the host"
            }
            Some(libc::EEXIST) => "a cgroup of that name is left over: rmdir it",
            _ => "",
        };
        let err = os_error(err).context(format!("mkdir {}", dir.display()));
        if hint.is_empty() {
            err
        } else {
            crate::report::hinted(err, hint)
        }
    })
}

/// mkdir(2) of a directory other containers may have made first: that is fine.
fn make_shared_dir(dir: &Path, verbose: bool) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    match make_dir(dir, verbose) {
        Err(_) if dir.is_dir() => Ok(()),
        other => other,
    }
}

fn mkdir(dir: &Path) -> io::Result<()> {
    fs::create_dir(dir)?;
    // A temporary directory has no kernel behind it to make the files.
    #[cfg(test)]
    tests::fake_kernel_mkdir(dir);
    Ok(())
}

fn remove_dir(dir: &Path) -> io::Result<()> {
    // On a cgroup filesystem the interface files go with the directory.
    #[cfg(test)]
    tests::fake_kernel_rmdir(dir);
    fs::remove_dir(dir)
}

fn read_file(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path)
        .map_err(os_error)
        .with_context(|| format!("reading {}", path.display()))
}

/// Write `value` in one write(2), the way cgroup files expect it. The file is
/// opened without O_CREAT: the kernel makes the files, so a missing one means
/// the controller is not enabled here.
fn write_file(path: &Path, value: impl Display, verbose: bool) -> anyhow::Result<()> {
    crate::report::narrate(verbose, &format!("write {} <- {value}", path.display()));
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut file| file.write_all(value.to_string().as_bytes()))
        .map_err(os_error)
        .with_context(|| format!("writing {value} to {}", path.display()))
}

/// An I/O error as its errno, which prints as "EBUSY: Device or resource busy":
/// the name the kernel documentation uses.
fn os_error(err: io::Error) -> anyhow::Error {
    match err.raw_os_error() {
        Some(code) => Errno::from_raw(code).into(),
        None => err.into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn is_cgroupfs(dir: &Path) -> bool {
        statfs(dir).is_ok_and(|fs| {
            let kind = fs.filesystem_type();
            kind == CGROUP_SUPER_MAGIC || kind == CGROUP2_SUPER_MAGIC
        })
    }

    /// What the kernel does on mkdir in a cgroup filesystem, for a temporary
    /// tree: the test's root directory holds, as empty files, every interface
    /// file a cgroup can have. v1: a new cgroup gets all its parent's files.
    /// v2: it gets the `cgroup.*` files, plus the files of each controller its
    /// parent enabled in `cgroup.subtree_control`, which its
    /// `cgroup.controllers` then lists.
    pub(super) fn fake_kernel_mkdir(dir: &Path) {
        let parent = dir.parent().unwrap();
        if is_cgroupfs(parent) {
            return;
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
    }

    /// What rmdir does to the files in a cgroup filesystem, for a temporary tree.
    pub(super) fn fake_kernel_rmdir(dir: &Path) {
        if is_cgroupfs(dir) {
            return;
        }
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = fs::remove_file(entry.path());
            }
        }
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
        let cg = Cgroup::create_in(&root.0, Layout::Unified, "c1-1", &ALL, false).unwrap();
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
        join(&cg.paths(), false).unwrap();
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
        let cg = Cgroup::create_in(&root.0, Layout::Unified, "c1-2", &limits, false).unwrap();
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
        let _cg = Cgroup::create_in(&root.0, Layout::Unified, "c1-3", &ALL, false).unwrap();
        assert_eq!(read(&root.0.join("cgroup.subtree_control")), "cpu memory pids");
        assert_eq!(read(&root.0.join(PARENT).join("cgroup.subtree_control")), "+pids +memory +cpu");
    }

    #[test]
    fn v2_without_swap_accounting() {
        let files: Vec<&str> =
            V2_FILES.iter().copied().filter(|f| *f != "memory.swap.max").collect();
        let root = v2_root("cpu memory pids", &files);
        let cg = Cgroup::create_in(&root.0, Layout::Unified, "c1-4", &ALL, false).unwrap();
        let leaf = &cg.paths()[0];
        assert_eq!(read(&leaf.join("memory.max")), "67108864");
        assert!(!leaf.join("memory.swap.max").exists());
    }

    #[test]
    fn v2_missing_controller() {
        // A hybrid host's cgroup2: the controllers are bound to v1.
        let root = v2_root("hugetlb", V2_FILES);
        let err = Cgroup::create_in(&root.0, Layout::Unified, "c1-5", &ALL, false).unwrap_err();
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
        let err = Cgroup::create_in(&root.0, Layout::Unified, "c1-6", &ALL, false).unwrap_err();
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
        let _first = Cgroup::create_in(&root.0, Layout::Unified, "c1-7", &limits, false).unwrap();
        let err = Cgroup::create_in(&root.0, Layout::Unified, "c1-7", &limits, false).unwrap_err();
        assert!(format!("{err:#}").contains("EEXIST"), "{err:#}");
        assert!(root.0.join(PARENT).join("c1-7").exists(), "the first one's is left alone");
        let err =
            Cgroup::create_in(&root.0, Layout::Unified, "../escape", &limits, false).unwrap_err();
        assert!(format!("{err:#}").contains("one path component"));
    }

    #[test]
    fn v2_cleanup_failure_is_reported() {
        let root = v2_root("pids", V2_FILES);
        let limits = Limits { pids: Some(5), ..Limits::default() };
        let cg = Cgroup::create_in(&root.0, Layout::Unified, "c1-8", &limits, false).unwrap();
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
        let cg = Cgroup::create_in(&root.0, Layout::Unified, "c1-9", &limits, false).unwrap();
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
        let cg = Cgroup::create_v1(&mountinfo, r, "c2-1", &ALL, false).unwrap();
        let leaf = |ctrl: &str| r.join(ctrl).join(PARENT).join("c2-1");
        assert_eq!(cg.paths(), [leaf("pids"), leaf("memory"), leaf("cpu,cpuacct")]);
        assert_eq!(read(&leaf("pids").join("pids.max")), "20");
        assert_eq!(read(&leaf("memory").join("memory.limit_in_bytes")), "67108864");
        assert_eq!(read(&leaf("memory").join("memory.memsw.limit_in_bytes")), "67108864");
        assert_eq!(read(&leaf("cpu,cpuacct").join("cpu.cfs_period_us")), "100000");
        assert_eq!(read(&leaf("cpu,cpuacct").join("cpu.cfs_quota_us")), "50000");
        assert!(!r.join("devices").join(PARENT).exists(), "only the controllers a limit needs");
        // v1: the process moves itself, through `tasks`, in every hierarchy.
        join(&cg.paths(), false).unwrap();
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
        let cg = Cgroup::create_v1(&mountinfo, &root.0, "c2-2", &limits, false).unwrap();
        let mem = root.0.join("memory").join(PARENT).join("c2-2");
        assert_eq!(read(&mem.join("memory.limit_in_bytes")), "33554432");
        assert!(!mem.join("memory.memsw.limit_in_bytes").exists());
        assert_eq!(cg.paths().len(), 2);
    }

    #[test]
    fn v1_missing_controller() {
        let (root, mountinfo) = v1_root(&[("pids", &["pids.max"]), ("memory", V1_MEMORY)]);
        let err = Cgroup::create_v1(&mountinfo, &root.0, "c2-3", &ALL, false).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "no cgroup v1 hierarchy of the cpu controller is mounted under {}",
                root.0.display()
            )
        );
        let hint = &err.downcast_ref::<crate::report::Hinted>().unwrap().hint;
        let dir = root.0.join("cpu");
        assert!(
            hint.contains(&format!("mount -t cgroup -o cpu cgroup {}", dir.display())),
            "{hint}"
        );
        assert!(!root.0.join("pids").join(PARENT).exists(), "nothing was created");
    }

    #[test]
    fn v1_failed_write_removes_every_leaf() {
        // memory.limit_in_bytes missing: as if the kernel had refused it.
        let (root, mountinfo) =
            v1_root(&[("pids", &["pids.max"]), ("memory", &["memory.oom_control"])]);
        let err = Cgroup::create_v1(&mountinfo, &root.0, "c2-4", &ALL.clone_without_cpus(), false)
            .unwrap_err();
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
}
