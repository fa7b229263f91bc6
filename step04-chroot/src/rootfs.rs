//! The container's root filesystem: which directory it is, and how the child
//! enters it (a private mount namespace, chroot, a fresh /proc).

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use nix::mount::{mount, MsFlags};
use nix::unistd::{chdir, chroot};

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
/// chroot into the rootfs and mount a fresh /proc there.
pub fn enter(rootfs: &Path) -> anyhow::Result<()> {
    // systemd mounts / "shared" (mount_namespaces(7)): a new mount namespace
    // starts as a peer of the host's, so a mount made inside would appear on
    // the host too. MS_REC|MS_PRIVATE cuts the propagation for the whole tree
    // before we mount anything. Go's `Unshareflags: CLONE_NEWNS` did this
    // silently for Liz Rice; unshare(2) in Rust does not.
    // ANCHOR: your_turn_private -- step04-chroot.md#the-key-code: narrate, then mount / with MS_REC|MS_PRIVATE (no source, no type, no data)
    narrate("mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL)");
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .context("making / private (mount --make-rprivate /)")?;
    // ANCHOR_END: your_turn_private
    // chroot(2) changes what "/" means for this process and its children; it
    // does not change the working directory, hence the chdir right after.
    // ANCHOR: your_turn_chroot -- step04-chroot.md#the-key-code: narrate, then chroot into rootfs, then chdir("/")
    narrate(&format!("chroot({:?}); chdir(\"/\")", rootfs));
    chroot(rootfs).with_context(|| format!("chroot {}", rootfs.display()))?;
    chdir("/").context("chdir /")?;
    // ANCHOR_END: your_turn_chroot
    // A proc filesystem shows the processes of the PID namespace of whoever
    // mounts it: ours, where we are PID 1. So `ps` now lists only the container.
    // ANCHOR: your_turn_proc -- step04-chroot.md#the-key-code: narrate, then mount a new "proc" on /proc with MS_NOSUID|MS_NODEV|MS_NOEXEC
    narrate("mount(\"proc\", \"/proc\", \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL)");
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), "/proc", Some("proc"), flags, None::<&str>).map_err(|err| {
        hinted(
            anyhow::Error::new(err).context("mounting proc on /proc"),
            format!("the rootfs needs an empty /proc directory: mkdir {}/proc", rootfs.display()),
        )
    })?;
    // ANCHOR_END: your_turn_proc
    Ok(())
}
// ANCHOR_END: enter
