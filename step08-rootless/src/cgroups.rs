//! Resource limits for one container: a control group (cgroups(7)). A cgroup
//! is a directory in a kernel filesystem: make it (mkdir), write limits into
//! the files the kernel puts in it (`pids.max`), write a process into its
//! `cgroup.procs`, and remove it (rmdir) when the container is gone. This file
//! is cgroup v2 (<https://docs.kernel.org/admin-guide/cgroup-v2.html>): one
//! tree, every controller in it. v1.rs adds the v1 and hybrid hosts.

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

mod cleanup;
mod delegated;
mod files;
mod limits;
mod v1;

pub use delegated::delegated;
use files::*;
pub use limits::*;

/// Where every distribution mounts the cgroup filesystems.
pub const ROOT: &str = "/sys/fs/cgroup";
/// The group, in each hierarchy, that holds one cgroup per container. It is
/// shared by every container running at the same time, so it is never removed.
pub const PARENT: &str = "containers-from-scratch";
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
}

impl Cgroup {
    /// Create `containers-from-scratch/<name>` under /sys/fs/cgroup, in each
    /// hierarchy the limits need, and write the limits.
    pub fn create(name: &str, limits: &Limits) -> anyhow::Result<Cgroup> {
        let root = Path::new(ROOT);
        let layout = detect_layout(root)?;
        crate::report::narrate(&format!("statfs({ROOT}): cgroup layout {layout:?}"));
        Self::create_in(root, layout, name, limits)
    }

    /// The same under another `root`, with the layout given. On v1 the
    /// controllers' mounts under `root` come from /proc/self/mountinfo.
    pub fn create_in(
        root: &Path,
        layout: Layout,
        name: &str,
        limits: &Limits,
    ) -> anyhow::Result<Cgroup> {
        check_name(name)?;
        match layout {
            Layout::Unified => Self::create_v2(root, name, limits),
            Layout::Legacy | Layout::Hybrid => {
                let mountinfo = fs::read_to_string("/proc/self/mountinfo")
                    .context("reading /proc/self/mountinfo")?;
                Self::create_v1(&mountinfo, root, name, limits)
            }
        }
    }

    // ANCHOR: create
    /// cgroup v2: enable the controllers from the root down, then make the
    /// container's cgroup and write its limits.
    fn create_v2(root: &Path, name: &str, limits: &Limits) -> anyhow::Result<Cgroup> {
        let needed = limits.controllers();
        check_available(root, &needed)?;
        // Top-down: a cgroup can enable a controller for its children only if
        // its parent enabled it for it. And no internal processes: a cgroup
        // that enables controllers may hold no process itself (the root is
        // exempt). So the parent only ever holds other cgroups; each
        // container's process goes in a leaf below it.
        let parent = root.join(PARENT);
        Self::enable_controllers(root, &needed)?;
        make_shared_dir(&parent)?;
        Self::enable_controllers(&parent, &needed)?;
        let leaf = parent.join(name);
        make_dir(&leaf)?;
        // From here on, whatever goes wrong, dropping `cgroup` removes the leaf.
        let cgroup = Cgroup {
            paths: vec![leaf.clone()],
            controllers: needed.iter().map(|&c| (c, leaf.clone())).collect(),
            unified: true,
        };
        cgroup.limits_v2(limits)?;
        Ok(cgroup)
    }

    /// Write `+pids +memory +cpu` (those needed and not there yet) to the
    /// `cgroup.subtree_control` of `dir`: the kernel then creates those
    /// controllers' files in the cgroups below `dir`. Never a `-`: other
    /// containers below `dir` may use a controller.
    fn enable_controllers(dir: &Path, needed: &[&str]) -> anyhow::Result<()> {
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
        write_file(&file, enable.join(" ")).map_err(|err| {
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

    // ANCHOR: oom
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
    // ANCHOR_END: oom

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
        write_file(&dir.join(file), value)
    }
}

// ANCHOR: join
/// Move the calling process into the cgroup at `dirs` (one directory on v2,
/// one per hierarchy on v1). The container's first process calls this on
/// itself before it execs the command, so the command never runs unlimited.
/// "0" is "the writer". Why not the runtime, writing the child's PID? Moving
/// another process takes a global lock that waits for an RCU grace period; a
/// thread moving itself on v1 (`tasks`) skips it: 18.8 ms became 4.6 ms after
/// idle (the cost chapter, fix 1).
pub fn join(dirs: &[PathBuf]) -> anyhow::Result<()> {
    for dir in dirs {
        let file = if dir.join("tasks").exists() { "tasks" } else { "cgroup.procs" };
        write_file(&dir.join(file), 0).map_err(|err| join_hint(err, dir))?;
    }
    Ok(())
}
// ANCHOR_END: join

/// The hint for a failed join. On v2 the one way it fails in practice: the
/// parent group holds processes itself. With only threaded controllers
/// (pids, cpu) the kernel enabled them anyway, and refuses here instead. On
/// v1, ENOSPC: a cpuset with empty cpus or mems takes no process (cpuset(7)).
fn join_hint(err: anyhow::Error, dir: &Path) -> anyhow::Error {
    let parent = dir.parent().unwrap_or(dir).display();
    let hint = match err.downcast_ref::<Errno>() {
        Some(Errno::EOPNOTSUPP) => format!(
            "{parent} holds processes, so the kernel will not move one into a cgroup below it \
             (the no-internal-process rule); inside a container, move its processes into a \
             child cgroup first"
        ),
        Some(Errno::ENOSPC) => format!(
            "{}/cpuset.cpus or cpuset.mems is empty (a cgroup v1 cpuset): \
             write both before a process joins",
            dir.display()
        ),
        _ => format!("the container could not move into its cgroup: is {parent} still there?"),
    };
    crate::report::hinted(err, hint)
}

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

#[cfg(test)]
mod tests;
