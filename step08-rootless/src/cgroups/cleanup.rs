//! Removing the container's cgroup on every way out: kill what is left,
//! remove sub-cgroups depth first, retry while the kernel says EBUSY.

use super::*;

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
    pub(super) fn remove(&self, dir: &Path) -> anyhow::Result<()> {
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
                    crate::report::narrate(&format!("rmdir {}", dir.display()));
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(err)
                    if err.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                {
                    if !waited {
                        let what = format!("rmdir {}: EBUSY, retrying", dir.display());
                        crate::report::narrate(&what);
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
    pub(super) fn kill_all(&self, dir: &Path) {
        let pids = read_file(&dir.join("cgroup.procs")).unwrap_or_default();
        if pids.trim().is_empty() {
            return;
        }
        // Linux 5.14+ on v2: one write kills the whole group, and the kernel
        // makes sure a process forking right now cannot escape.
        let kill_file = dir.join("cgroup.kill");
        if self.unified && kill_file.exists() && write_file(&kill_file, 1).is_ok() {
            return;
        }
        // Otherwise one by one. A child forked meanwhile is in the next
        // round's list: rmdir says EBUSY until the group is empty.
        for pid in pids.split_whitespace().filter_map(|p| p.parse().ok()).filter(|&p| p > 0) {
            crate::report::narrate(&format!("kill({pid}, SIGKILL)"));
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}
// ANCHOR_END: cleanup
