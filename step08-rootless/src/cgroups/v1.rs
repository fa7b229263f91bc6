//! cgroup v1, and hybrid hosts: one hierarchy per controller, each mounted
//! on its own, with its own file names for the same limits. The lesson is
//! cgroups.rs's v2 path; this is what a runtime adds to run on older hosts.

use super::*;

impl Cgroup {
    /// cgroup v1 (and hybrid): one directory per controller's hierarchy,
    /// wherever that hierarchy is mounted.
    pub(super) fn create_v1(
        mountinfo: &str,
        root: &Path,
        name: &str,
        limits: &Limits,
    ) -> anyhow::Result<Cgroup> {
        // Find every mount before making anything: a missing one is refused
        // with nothing to undo.
        let mut controllers = Vec::new();
        for controller in limits.controllers() {
            let mount = find_v1_mount(mountinfo, root, controller)
                .ok_or_else(|| missing_v1_mount(root, controller))?;
            controllers.push((controller, mount.join(PARENT).join(name)));
        }
        let mut cgroup = Cgroup { paths: Vec::new(), controllers, unified: false };
        for (_, leaf) in cgroup.controllers.clone() {
            // Co-mounted controllers (cpu,cpuacct) share one directory.
            if cgroup.paths.contains(&leaf) {
                continue;
            }
            if let Some(parent) = leaf.parent() {
                make_shared_dir(parent)?;
            }
            make_dir(&leaf)?;
            cgroup.paths.push(leaf);
        }
        cgroup.limits_v1(limits)?;
        Ok(cgroup)
    }

    // ANCHOR: limits_v1
    /// cgroup v1 file names (Documentation/admin-guide/cgroup-v1/).
    pub(super) fn limits_v1(&self, limits: &Limits) -> anyhow::Result<()> {
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
}

/// Where `controller`'s v1 hierarchy is mounted under `root`, from the text of
/// /proc/self/mountinfo (see proc_pid_mountinfo(5)). Usually `root/<controller>`,
/// but co-mounted controllers share a mount such as `root/cpu,cpuacct`.
pub(super) fn find_v1_mount(mountinfo: &str, root: &Path, controller: &str) -> Option<PathBuf> {
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

pub(super) fn missing_v1_mount(root: &Path, controller: &str) -> anyhow::Error {
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
