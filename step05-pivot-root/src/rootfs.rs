//! The container's root filesystem: which directory it is, and how the child
//! enters it (a private mount namespace, pivot_root, a fresh /proc, a minimal
//! /dev) so that nothing of the host's mount tree is left inside.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, mkdir, mkdtemp, pivot_root};

use crate::report::{hinted, narrate};

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
/// mount /proc and /dev into the rootfs, pivot_root into it and detach the old
/// root, so that no path leads back to the host's files.
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
    // ANCHOR: your_turn_bind -- step05-pivot-root.md#the-key-code: narrate, then bind-mount rootfs onto itself (MS_BIND|MS_REC) so it is a mount point
    narrate(&format!("mount({rootfs:?}, {rootfs:?}, NULL, MS_BIND|MS_REC, NULL)"));
    mount(Some(rootfs), rootfs, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .with_context(|| format!("bind-mounting {} onto itself", rootfs.display()))?;
    // ANCHOR_END: your_turn_bind
    mount_proc(rootfs)?;
    mount_dev(rootfs)?;
    pivot(rootfs)
}
// ANCHOR_END: enter

// ANCHOR: pivot
/// Swap the root: the rootfs becomes `/`, the host's root hangs at a
/// temporary put_old directory inside it, then is detached and the directory
/// removed. The directory is made in the container's own /dev, the tmpfs
/// mount_dev mounted, not on the rootfs's disk.
fn pivot(rootfs: &Path) -> anyhow::Result<()> {
    chdir(rootfs).with_context(|| format!("chdir {}", rootfs.display()))?;
    // put_old must be at or under the new root (pivot_root(2)). Not on the
    // rootfs's disk: there, making and removing a directory costs more than
    // all the container's mounts together (1.5 ms on the book's ext4 test
    // machine; see the chapter "What does isolation cost?"), and other
    // containers share that rootfs. In the /dev tmpfs it is only memory.
    let put_old = mkdtemp("dev/.pivot_root.XXXXXX")
        .with_context(|| format!("making the put_old directory in {}/dev", rootfs.display()))?;
    let result = pivot_and_detach(&put_old);
    // Whatever happened, the put_old directory must not stay in /dev.
    // After a successful pivot it is /<put_old>; before, it is ./<put_old>.
    let leftover = if result.is_ok() { Path::new("/").join(&put_old) } else { put_old.clone() };
    narrate(&format!("rmdir({leftover:?})"));
    let removed =
        std::fs::remove_dir(&leftover).with_context(|| format!("rmdir {}", leftover.display()));
    // The pivot's own error first: it is the cause of a failed rmdir.
    result.and(removed)
}

fn pivot_and_detach(put_old: &Path) -> anyhow::Result<()> {
    // ANCHOR: your_turn_pivot -- step05-pivot-root.md#the-key-code: narrate, then pivot_root(".", put_old): we are in the rootfs, the old root goes to put_old
    narrate(&format!("pivot_root(\".\", {put_old:?})"));
    pivot_root(".", put_old).map_err(|err| {
        hinted(
            anyhow::Error::new(err).context("pivot_root"),
            "EINVAL: the new root must be a mount point that is not shared, and put_old under it; \
             EBUSY: the new root or put_old is on the current root's mount (bind-mount the \
             rootfs onto itself; see the troubleshooting appendix)",
        )
    })?;
    // ANCHOR_END: your_turn_pivot
    // We are in the new root; make "/" mean it for our own cwd too.
    chdir("/").context("chdir /")?;
    // The old root is busy (our own executable and the host's whole tree live
    // there), so a plain umount fails with EBUSY: MNT_DETACH unhooks it from
    // our tree now and lets the kernel finish when it is no longer used.
    // ANCHOR: your_turn_detach -- step05-pivot-root.md#the-key-code: narrate, then detach the old root, now at /put_old, with umount2(MNT_DETACH)
    let old = Path::new("/").join(put_old);
    narrate(&format!("umount2({old:?}, MNT_DETACH)"));
    umount2(&old, MntFlags::MNT_DETACH)
        .with_context(|| format!("detaching the old root {}", old.display()))?;
    // ANCHOR_END: your_turn_detach
    Ok(())
}
// ANCHOR_END: pivot

/// A proc filesystem shows the processes of the PID namespace of whoever
/// mounts it: ours, where we are PID 1. So `ps` lists only the container.
fn mount_proc(rootfs: &Path) -> anyhow::Result<()> {
    let target = rootfs.join("proc");
    narrate(&format!("mount(\"proc\", {target:?}, \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL)"));
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), &target, Some("proc"), flags, None::<&str>).map_err(|err| {
        hinted(
            anyhow::Error::new(err).context("mounting proc on /proc"),
            format!("the rootfs needs an empty /proc directory: mkdir {}/proc", rootfs.display()),
        )
    })
}

// ANCHOR: dev
/// The devices a program expects, and no others: a tmpfs on /dev with the
/// host's harmless character devices bind-mounted in, a private devpts for
/// terminals and a tmpfs for POSIX shared memory. No disks, so nothing inside
/// can open the host's block devices.
fn mount_dev(rootfs: &Path) -> anyhow::Result<()> {
    let dev = rootfs.join("dev");
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mount_fs("tmpfs", &dev, flags, "mode=755,size=64k")?;
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        // Bind-mounting the host's node needs no CAP_MKNOD and works the same
        // in a user namespace, which is why runc does it too.
        let (host, inside) = (Path::new("/dev").join(name), dev.join(name));
        std::fs::File::create(&inside).with_context(|| format!("creating {}", inside.display()))?;
        narrate(&format!("mount({host:?}, {inside:?}, NULL, MS_BIND, NULL)"));
        mount(Some(&host), &inside, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .with_context(|| format!("bind-mounting {}", host.display()))?;
    }
    // newinstance: the container's own pseudo-terminals, not the host's
    // /dev/pts/* (see the kernel's Documentation/filesystems/devpts.rst).
    mkdir_in(&dev, "pts")?;
    let pts = "newinstance,ptmxmode=0666,mode=0620";
    mount_fs("devpts", &dev.join("pts"), MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC, pts)?;
    mkdir_in(&dev, "shm")?;
    mount_fs("tmpfs", &dev.join("shm"), flags | MsFlags::MS_NODEV, "mode=1777,size=64m")?;
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, dev.join(link))
            .with_context(|| format!("ln -s {target} /dev/{link}"))?;
    }
    Ok(())
}
// ANCHOR_END: dev

fn mount_fs(fstype: &str, target: &Path, flags: MsFlags, data: &str) -> anyhow::Result<()> {
    let names: Vec<&str> = flags.iter_names().map(|(name, _)| name).collect();
    let flag_names = names.join("|");
    narrate(&format!("mount({fstype:?}, {target:?}, {fstype:?}, {flag_names}, {data:?})"));
    mount(Some(fstype), target, Some(fstype), flags, Some(data))
        .with_context(|| format!("mounting {fstype} on {}", target.display()))
}

fn mkdir_in(dir: &Path, name: &str) -> anyhow::Result<()> {
    let path = dir.join(name);
    mkdir(&path, Mode::from_bits_truncate(0o755))
        .with_context(|| format!("mkdir {}", path.display()))
}
