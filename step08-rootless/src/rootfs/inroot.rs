//! Paths inside the rootfs, resolved so that they cannot lead out of it.
//!
//! The rootfs is a directory that others may write: a second container
//! sharing it, or the user. Between the moment the runtime looks at
//! `rootfs/dev` and the moment it mounts there, `dev` can become a symlink to
//! a host directory (rename(2) with RENAME_EXCHANGE swaps the two at once),
//! and a mount, a mknod or a file written by path would land on the host.
//! So every path is opened with openat2(2) relative to a directory descriptor,
//! RESOLVE_IN_ROOT (`..` and absolute symlinks stay inside) and
//! RESOLVE_NO_SYMLINKS (no symlink at all), and every mount targets the
//! descriptor, through /proc/self/fd/N, which the kernel resolves to exactly
//! that directory. After a mount, the directory is opened again and checked to
//! be the new filesystem (its type, and a device number of its own), so that a
//! swap between the two steps is noticed. runc does the same, with its
//! filepath-securejoin library.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::fstat;
use nix::sys::statfs::{fstatfs, FsType};

use crate::report::narrate;

/// A directory (or, with `open_file`, a file) inside the rootfs, open as an
/// O_PATH descriptor, with the path it has for messages.
pub struct Dir {
    fd: OwnedFd,
    /// Where it is, for messages and narration: `<rootfs>/proc/sys`.
    pub path: PathBuf,
}

impl Dir {
    /// Open `dir` itself (the rootfs: a path given by the user, outside what
    /// the container can change).
    pub fn open_root(dir: &Path) -> anyhow::Result<Dir> {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::open(dir, flags, nix::sys::stat::Mode::empty())
            .with_context(|| format!("opening {}", dir.display()))?;
        // SAFETY: open returned a new descriptor that nothing else owns.
        Ok(Dir { fd: unsafe { OwnedFd::from_raw_fd(fd) }, path: dir.to_path_buf() })
    }

    /// The directory `rel` below this one, resolved inside it.
    pub fn dir(&self, rel: &str) -> anyhow::Result<Dir> {
        self.open(rel, OFlag::O_DIRECTORY)
    }

    /// The file or directory `rel` below this one, resolved inside it, or
    /// None when there is none (a path this kernel does not have).
    pub fn find(&self, rel: &str) -> anyhow::Result<Option<Dir>> {
        match self.open(rel, OFlag::empty()) {
            Ok(dir) => Ok(Some(dir)),
            Err(err) if err.downcast_ref::<nix::Error>() == Some(&nix::Error::ENOENT) => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn open(&self, rel: &str, extra: OFlag) -> anyhow::Result<Dir> {
        let path = self.path.join(rel);
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | extra)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_SYMLINKS);
        let fd = openat2(self.fd.as_raw_fd(), rel, how).map_err(|err| {
            let why = match err {
                nix::Error::ELOOP => " (a symlink: refused, it could lead out of the rootfs)",
                nix::Error::EXDEV => " (it leads out of the rootfs)",
                _ => "",
            };
            anyhow::Error::new(err).context(format!("opening {}{why}", path.display()))
        })?;
        // SAFETY: openat2 returned a new descriptor that nothing else owns.
        Ok(Dir { fd: unsafe { OwnedFd::from_raw_fd(fd) }, path })
    }

    /// The name mount(2) takes for exactly this file or directory.
    pub fn fd_path(&self) -> String {
        format!("/proc/self/fd/{}", self.fd.as_raw_fd())
    }

    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }

    // ANCHOR: mount_new
    /// Mount a new `fstype` here; return the new filesystem's root, opened
    /// again from `parent` by `name` and checked to be that filesystem (of
    /// type `magic`, on a device of its own): a swap of `name` between the
    /// mount and now is refused.
    pub fn mount_new(
        &self,
        parent: &Dir,
        name: &str,
        (fstype, magic): (&str, FsType),
        flags: MsFlags,
        data: Option<&str>,
    ) -> anyhow::Result<Dir> {
        let names: Vec<&str> = flags.iter_names().map(|(name, _)| name).collect();
        narrate(&format!(
            "mount({fstype:?}, {:?}, {fstype:?}, {}, {data:?})",
            self.path,
            names.join("|")
        ));
        mount(Some(fstype), self.fd_path().as_str(), Some(fstype), flags, data)
            .with_context(|| format!("mounting {fstype} on {}", self.path.display()))?;
        let mounted = parent.dir(name)?;
        let before = fstat(self.raw_fd()).context("fstat")?.st_dev;
        let after = fstat(mounted.raw_fd()).context("fstat")?.st_dev;
        let kind = fstatfs(&mounted.fd).context("fstatfs")?.filesystem_type();
        if after == before || kind != magic {
            anyhow::bail!(
                "{} changed while it was being mounted (replaced by another \
                 directory): refusing to go on",
                self.path.display()
            );
        }
        Ok(mounted)
    }
    // ANCHOR_END: mount_new
}
