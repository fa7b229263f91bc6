//! The parts of /proc and /sys that no namespace covers: they describe, or
//! change, the whole host. Read-only, or hidden behind an empty file, as
//! runc does by default.

use super::*;
use crate::rootfs::inroot::Dir;

/// Docker's (runc's) `readonlyPaths`: kernel knobs the container may read
/// but must not turn. /proc/sys is per-namespace only in part (net.*, some
/// of kernel.*); the rest sets the whole host. /proc/sysrq-trigger reboots
/// it with one `echo b`.
pub(super) const READONLY_PATHS: [&str; 5] =
    ["proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger"];

/// Docker's `maskedPaths`: what the host's kernel would tell any reader
/// (/proc/kcore is the host's memory, /proc/keys its keyrings,
/// /proc/timer_list and friends its processes' timings, /sys/firmware its
/// firmware tables; powercap is CVE-2020-8694, the "PLATYPUS" power side
/// channel). And five more Docker leaves readable: /proc/kpageflags,
/// kpagecount and kpagecgroup describe every physical page of the host (the
/// raw material of Rowhammer and page-cache side channels), /proc/slabinfo
/// the kernel's allocations (heap-exploit grooming), /proc/config.gz how the
/// host's kernel was built. Most do not exist on a given kernel; those are
/// skipped.
pub(super) const MASKED_PATHS: [&str; 17] = [
    "proc/acpi",
    "proc/asound",
    "proc/config.gz",
    "proc/interrupts",
    "proc/kcore",
    "proc/keys",
    "proc/kpagecgroup",
    "proc/kpagecount",
    "proc/kpageflags",
    "proc/latency_stats",
    "proc/sched_debug",
    "proc/scsi",
    "proc/slabinfo",
    "proc/timer_list",
    "proc/timer_stats",
    "sys/devices/virtual/powercap",
    "sys/firmware",
];

// ANCHOR: protect
/// Inside the new mount namespace, after the new /proc and /sys are mounted
/// in the container root: make /proc/sys, /proc/sysrq-trigger, /proc/irq,
/// /proc/bus, /proc/fs read-only, and mask /proc/kcore, /proc/keys, ... and
/// /sys/firmware (skipping paths that don't exist), as runc's
/// maskedPaths/readonlyPaths do. Each path is opened inside the fresh proc
/// or sysfs (`proc`, `sys`), never by a path through the rootfs.
pub fn protect_proc_and_sys(proc: &Dir, sys: &Dir, dev: &Dir) -> anyhow::Result<()> {
    let under = |path: &'static str| match path.split_once('/') {
        Some(("proc", rel)) => (proc, rel),
        Some((_, rel)) => (sys, rel),
        None => (proc, path),
    };
    for path in READONLY_PATHS {
        let (fs, rel) = under(path);
        make_readonly(fs, rel)?;
    }
    let null = dev.find("null")?.context("the container's /dev/null is missing")?;
    for path in MASKED_PATHS {
        let (fs, rel) = under(path);
        mask(fs, rel, &null)?;
    }
    Ok(())
}

/// Bind `rel` (below `fs`) onto itself, then remount that bind read-only.
fn make_readonly(fs: &Dir, rel: &str) -> anyhow::Result<()> {
    let Some(target) = fs.find(rel)? else {
        return Ok(());
    };
    let path = &target.path;
    // A bind mount gives the path a mount of its own, whose flags can then
    // change without touching the rest of /proc. MS_REC takes along what is
    // mounted below it. (MS_RDONLY is ignored on the bind itself: it takes a
    // second call.)
    narrate(&format!("mount({}, MS_BIND|MS_REC)", path.display()));
    let fd = target.fd_path();
    mount(
        Some(fd.as_str()),
        fd.as_str(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("bind-mounting {} onto itself", path.display()))?;
    // The remount must name the new bind mount, which sits on top of what
    // `target` holds: open the path again (inside `fs`), which now leads there.
    let bound = fs.find(rel)?.with_context(|| format!("{} is gone", path.display()))?;
    // MS_REMOUNT|MS_BIND sets the per-mount flags to exactly those given
    // (mount(2), "Remounting an existing mount"): any flag left out is
    // cleared. So pass the ones /proc was mounted with, nosuid, nodev and
    // noexec, with MS_RDONLY; relatime, the default, stays by itself. Inside a
    // user namespace clearing them would even fail (EPERM, the flags are
    // "locked", mount_namespaces(7)), which is why runc's readonlyPath reads
    // them back with statfs(2) first.
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC;
    narrate(&format!(
        "mount({}, MS_BIND|MS_REMOUNT|MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC)",
        path.display()
    ));
    mount(None::<&str>, bound.fd_path().as_str(), None::<&str>, flags, None::<&str>)
        .with_context(|| format!("remounting {} read-only", path.display()))?;
    Ok(())
}
// ANCHOR_END: protect

/// Hide `rel` (below `fs`): the container's /dev/null over a file, an empty
/// read-only tmpfs over a directory.
fn mask(fs: &Dir, rel: &str, null: &Dir) -> anyhow::Result<()> {
    let Some(target) = fs.find(rel)? else {
        return Ok(());
    };
    let path = &target.path;
    let is_dir = nix::sys::stat::fstat(target.raw_fd())
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .context("fstat")?;
    if is_dir {
        narrate(&format!("mount(tmpfs, {}, tmpfs, MS_RDONLY)", path.display()));
        let flags =
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(Some("tmpfs"), target.fd_path().as_str(), Some("tmpfs"), flags, None::<&str>)
            .with_context(|| format!("mounting an empty tmpfs over {}", path.display()))?;
    } else {
        narrate(&format!("mount(/dev/null, {}, MS_BIND)", path.display()));
        let (source, fd) = (null.fd_path(), target.fd_path());
        mount(Some(source.as_str()), fd.as_str(), None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .with_context(|| format!("bind-mounting /dev/null over {}", path.display()))?;
    }
    Ok(())
}

// ANCHOR: sysfs
/// mount sysfs read-only at <root>/sys (MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC).
///
/// sysfs is tied to a network namespace: /sys/class/net lists the devices
/// of the namespace of the process that *mounts* it. So mount it after
/// unshare(CLONE_NEWNET), or the container sees the host's interfaces. In a
/// user namespace the kernel goes further and refuses (EPERM) to mount sysfs
/// at all unless that user namespace owns the caller's network namespace
/// (fs/sysfs/mount.c, kobj_ns_current_may_mount) — a rootless runtime must
/// create its own network namespace for it.
/// Read-only, because most of /sys changes the host, not the container.
pub fn mount_sys_readonly(root: &Dir) -> anyhow::Result<Dir> {
    match nix::sys::stat::mkdirat(
        Some(root.raw_fd()),
        "sys",
        nix::sys::stat::Mode::from_bits_truncate(0o755),
    ) {
        Ok(()) | Err(nix::Error::EEXIST) => {}
        Err(err) => return Err(err).with_context(|| format!("mkdir {}/sys", root.path.display())),
    }
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let sysfs = ("sysfs", nix::sys::statfs::SYSFS_MAGIC);
    root.dir("sys")?.mount_new(root, "sys", sysfs, flags, None)
}
// ANCHOR_END: sysfs
