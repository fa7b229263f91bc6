//! The container's root filesystem: which directory it is, and how the child
//! enters it (a private mount namespace, pivot_root, a fresh /proc, a minimal
//! /dev) so that nothing of the host's mount tree is left inside.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use nix::fcntl::{openat, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{mkdirat, Mode};
use nix::sys::statfs::{DEVPTS_SUPER_MAGIC, PROC_SUPER_MAGIC, TMPFS_MAGIC};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, fchdir, pivot_root, symlinkat};

use crate::report::{hinted, narrate};

pub mod inroot;

use inroot::Dir;

/// `rootfs/` at the root of the workspace this binary was built from.
fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).join("rootfs")
}

// ANCHOR: resolve
/// The rootfs to run in, as an absolute path. An explicit `--rootfs` must be
/// an existing directory; the default one is built on first use, the way
/// `docker run` pulls an image it does not have yet.
pub fn resolve(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match explicit {
        Some(dir) => dir.to_path_buf(),
        None => {
            let dir = default_dir();
            if !dir.join(".rootfs-complete").exists() {
                build(&dir)?;
            }
            dir
        }
    };
    let script = default_dir().with_file_name("scripts").join("build-rootfs.sh");
    let fix = format!("build one with `{} {}`", script.display(), dir.display());
    match dir.metadata() {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            let fix = format!(
                "--rootfs takes a directory holding a root filesystem, such as one built by `{} DIR`",
                script.display()
            );
            return Err(hinted(
                anyhow::anyhow!("--rootfs {}: not a directory", dir.display()),
                fix,
            ));
        }
        Err(err) => {
            let why = crate::report::io_reason(&err);
            return Err(hinted(anyhow::anyhow!("--rootfs {}: {why}", dir.display()), fix));
        }
    }
    dir.canonicalize().with_context(|| format!("--rootfs {}", dir.display()))
}
// ANCHOR_END: resolve

/// A rootfs whose top directory belongs to a user the container does not
/// map (a rootfs built earlier with sudo, run by a normal user) can be read,
/// not written: its root is `nobody` inside, and only /tmp (mode 1777) takes
/// new files. That is the lesson, not a failure: say so on a terminal (and
/// in the narration), with how to get a rootfs of one's own.
pub fn note_if_read_only(rootfs: &Path, mapped: impl Fn(u32) -> bool) {
    use std::os::unix::fs::MetadataExt;
    let Ok(owner) = rootfs.metadata().map(|m| m.uid()) else { return };
    if mapped(owner) {
        return;
    }
    let script = default_dir().with_file_name("scripts").join("build-rootfs.sh");
    let note = format!(
        "{} belongs to uid {owner}, who is nobody in the container: its root may read \
         there only what anyone may, and write only in /tmp",
        rootfs.display()
    );
    narrate(&note);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!("note: {note}");
        eprintln!("hint: a rootfs of your own: {} --reset {}", script.display(), rootfs.display());
    }
}

/// Run `scripts/build-rootfs.sh DIR`, its progress on our stderr (the
/// container's stdout stays the command's).
fn build(dir: &Path) -> anyhow::Result<()> {
    let script = default_dir().with_file_name("scripts").join("build-rootfs.sh");
    eprintln!(
        "rootfs: {} does not exist yet: building it with {}",
        dir.display(),
        script.display()
    );
    narrate(&format!("bash {} {}", script.display(), dir.display()));
    let status = Command::new("bash")
        .arg(&script)
        .arg(dir)
        .stdout(Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?))
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() {
        return Err(hinted(
            anyhow::anyhow!("building the rootfs in {} failed ({status})", dir.display()),
            format!("run `{} {}` and read its errors", script.display(), dir.display()),
        ));
    }
    Ok(())
}

// ANCHOR: enter
/// In the child, already in its own mount namespace: make every mount private,
/// mount /proc, /dev and a read-only /sys into the rootfs, hide what runc
/// hides in /proc, pivot_root into it and detach the old root, so that no path
/// leads back to the host's files. Every path inside the rootfs is opened
/// without leaving it, and every mount goes to a descriptor (see inroot.rs).
pub fn enter(rootfs: &Path) -> anyhow::Result<()> {
    // systemd mounts / "shared" (mount_namespaces(7)): a new mount namespace
    // starts as a peer of the host's, so a mount made inside would appear on
    // the host too. MS_REC|MS_PRIVATE cuts the propagation for the whole tree
    // before we mount anything. Go's `Unshareflags: CLONE_NEWNS` did this
    // silently for Liz Rice; unshare(2) in Rust does not. It is also one of
    // pivot_root(2)'s conditions: the new root's mount must not be shared.
    narrate("mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL)");
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .context("making / private (mount --make-rprivate /)")?;
    // pivot_root(2) wants the new root to be a mount point: a plain directory
    // is not, so bind-mount the rootfs onto itself (EINVAL otherwise).
    let dir = Dir::open_root(rootfs)?;
    narrate(&format!("mount({rootfs:?}, {rootfs:?}, NULL, MS_BIND|MS_REC, NULL)"));
    let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(Some(dir.fd_path().as_str()), dir.fd_path().as_str(), None::<&str>, bind, None::<&str>)
        .with_context(|| format!("bind-mounting {} onto itself", rootfs.display()))?;
    // The bind mount's root: the same directory, reached through the mount.
    let root = Dir::open_root(rootfs)?;
    let proc = mount_proc(&root)?;
    let dev = mount_dev(&root)?;
    // Hardening: what the container may see of the kernel, read-only or not at all.
    let sys = crate::security::mount_sys_readonly(&root)?;
    crate::security::protect_proc_and_sys(&proc, &sys, &dev)?;
    pivot(&root)
}
// ANCHOR_END: enter

// ANCHOR: pivot
/// Swap the root: the rootfs becomes `/`. pivot_root(".", ".") stacks the
/// old root on top of the new one (pivot_root(2), NOTES), where it is
/// detached at once: no put_old directory to make and remove.
fn pivot(root: &Dir) -> anyhow::Result<()> {
    fchdir(root.raw_fd()).with_context(|| format!("chdir {}", root.path.display()))?;
    narrate("pivot_root(\".\", \".\")");
    pivot_root(".", ".").map_err(|err| {
        hinted(
            anyhow::Error::new(err).context("pivot_root"),
            "EINVAL: the new root must be a mount point that is not shared; \
             EBUSY: the new root is on the current root's mount (bind-mount the \
             rootfs onto itself; see the troubleshooting appendix)",
        )
    })?;
    // The old root is busy (our own executable and the host's whole tree live
    // there), so a plain umount fails with EBUSY: MNT_DETACH unhooks it from
    // our tree now and lets the kernel finish when it is no longer used.
    narrate("umount2(\".\", MNT_DETACH)");
    umount2(".", MntFlags::MNT_DETACH).context("detaching the old root")?;
    chdir("/").context("chdir /")?;
    Ok(())
}
// ANCHOR_END: pivot

/// A proc filesystem shows the processes of the PID namespace of whoever
/// mounts it: ours, where we are PID 1. So `ps` lists only the container.
fn mount_proc(root: &Dir) -> anyhow::Result<Dir> {
    let target = root.dir("proc").map_err(|err| {
        hinted(
            err,
            format!(
                "the rootfs needs an empty /proc directory: mkdir {}/proc",
                root.path.display()
            ),
        )
    })?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    target.mount_new(root, "proc", ("proc", PROC_SUPER_MAGIC), flags, None)
}

// ANCHOR: dev
/// The devices a program expects, and no others: a tmpfs on /dev with the
/// host's harmless character devices, bound read-only, a private devpts for
/// terminals and a tmpfs for POSIX shared memory. No disks, so nothing inside
/// can open the host's block devices.
fn mount_dev(root: &Dir) -> anyhow::Result<Dir> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    let tmpfs = ("tmpfs", TMPFS_MAGIC);
    let dev = root.dir("dev")?.mount_new(root, "dev", tmpfs, flags, Some("mode=755,size=64k"))?;
    // Below, only our fresh tmpfs: nobody else can see it, so names are safe.
    // ANCHOR: devices
    // In a user namespace mknod(2) of a device is refused: making one takes
    // CAP_MKNOD over the host (and a filesystem mounted in a user namespace
    // is `nodev` anyway). So each device is the host's own node, bind-mounted
    // onto an empty file, as rootless runc and podman do. A bind mount is the
    // host's node, so it is made read-only: `chmod 600 /dev/null` inside
    // fails (EROFS) instead of changing it for the whole host; reads and
    // writes of a device go to the driver, not to the filesystem, and work.
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        bind_device(&dev, name)?;
    }
    // ANCHOR_END: devices
    // newinstance: the container's own pseudo-terminals, not the host's
    // /dev/pts/* (see the kernel's Documentation/filesystems/devpts.rst).
    mkdir_in(&dev, "pts")?;
    let pts = "newinstance,ptmxmode=0666,mode=0620";
    let devpts = ("devpts", DEVPTS_SUPER_MAGIC);
    dev.dir("pts")?.mount_new(&dev, "pts", devpts, flags, Some(pts))?;
    mkdir_in(&dev, "shm")?;
    let shm = Some("mode=1777,size=64m");
    dev.dir("shm")?.mount_new(&dev, "shm", tmpfs, flags | MsFlags::MS_NODEV, shm)?;
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlinkat(target, Some(dev.raw_fd()), link)
            .with_context(|| format!("ln -s {target} /dev/{link}"))?;
    }
    Ok(dev)
}
// ANCHOR_END: dev

/// Bind the host's /dev/NAME onto an empty file NAME in the container's
/// /dev tmpfs, read-only.
fn bind_device(dev: &Dir, name: &str) -> anyhow::Result<()> {
    let host = Path::new("/dev").join(name);
    // A character device, and nothing else, on the host: a stand-in file
    // there would give the container a file of the host's instead.
    let meta = std::fs::metadata(&host).with_context(|| format!("stat {}", host.display()))?;
    if !std::os::unix::fs::FileTypeExt::is_char_device(&meta.file_type()) {
        anyhow::bail!("{} is not a character device", host.display());
    }
    let inside = dev.path.join(name);
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    let fd = openat(Some(dev.raw_fd()), name, flags, Mode::from_bits_truncate(0o666))
        .with_context(|| format!("creating {}", inside.display()))?;
    let _ = nix::unistd::close(fd);
    let target = dev.find(name)?.with_context(|| format!("{} is gone", inside.display()))?;
    narrate(&format!("mount({host:?}, {inside:?}, NULL, MS_BIND, NULL)"));
    let bind = MsFlags::MS_BIND;
    mount(Some(&host), target.fd_path().as_str(), None::<&str>, bind, None::<&str>)
        .with_context(|| format!("bind-mounting {} onto {}", host.display(), inside.display()))?;
    // The remount sets every per-mount flag: keep those the host's /dev
    // has (nosuid, noexec, relatime: locked in a user namespace, see
    // security::make_readonly), and add MS_RDONLY.
    let bound = dev.find(name)?.with_context(|| format!("{} is gone", inside.display()))?;
    let kept = statvfs(bound.fd_path().as_str())
        .with_context(|| format!("statvfs {}", inside.display()))?
        .flags();
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    for (st, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if kept.contains(st) {
            flags |= ms;
        }
    }
    narrate(&format!("mount({inside:?}, MS_BIND|MS_REMOUNT|MS_RDONLY, as the host's /dev)"));
    mount(None::<&str>, bound.fd_path().as_str(), None::<&str>, flags, None::<&str>)
        .with_context(|| format!("remounting {} read-only", inside.display()))
}

fn mkdir_in(dir: &Dir, name: &str) -> anyhow::Result<()> {
    mkdirat(Some(dir.raw_fd()), name, Mode::from_bits_truncate(0o755))
        .with_context(|| format!("mkdir {}", dir.path.join(name).display()))
}
