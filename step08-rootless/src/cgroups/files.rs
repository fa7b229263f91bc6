//! The file operations every cgroup step is made of: mkdir, write, read,
//! rmdir, with errors that name the file.

use super::*;

/// mkdir(2). On a cgroup filesystem the kernel fills the new directory with
/// its interface files.
pub(super) fn make_dir(dir: &Path) -> anyhow::Result<()> {
    crate::report::narrate(&format!("mkdir {}", dir.display()));
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
pub(super) fn make_shared_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    match make_dir(dir) {
        Err(_) if dir.is_dir() => Ok(()),
        other => other,
    }
}

pub(super) fn read_file(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path)
        .map_err(os_error)
        .with_context(|| format!("reading {}", path.display()))
}

/// Write `value` in one write(2), the way cgroup files expect it. The file is
/// opened without O_CREAT: the kernel makes the files, so a missing one means
/// the controller is not enabled here.
pub(super) fn write_file(path: &Path, value: impl Display) -> anyhow::Result<()> {
    crate::report::narrate(&format!("write {} <- {value}", path.display()));
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut file| file.write_all(value.to_string().as_bytes()))
        .map_err(os_error)
        .with_context(|| format!("writing {value} to {}", path.display()))
}

/// An I/O error as its errno, which prints as "EBUSY: Device or resource busy":
/// the name the kernel documentation uses.
pub(super) fn os_error(err: io::Error) -> anyhow::Error {
    match err.raw_os_error() {
        Some(code) => Errno::from_raw(code).into(),
        None => err.into(),
    }
}

// mkdir(2) and rmdir(2). On a cgroup filesystem the kernel fills a new
// directory with its interface files, and rmdir takes them away with it. The
// unit tests run every step against a temporary directory, which has no kernel
// behind it to do either: there tests.rs stands in for these two calls with
// ones that also make and remove those files. All else here runs as it is.
#[cfg(test)]
pub(super) use super::tests::{fake_kernel_mkdir as mkdir, fake_kernel_rmdir as remove_dir};
#[cfg(not(test))]
pub(super) use std::fs::{create_dir as mkdir, remove_dir};
