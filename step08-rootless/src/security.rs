//! Hardening, applied inside the container before the command runs: root in
//! the container keeps only a few capabilities and can gain no more, and the
//! parts of /proc and /sys that no namespace covers (they describe, or
//! change, the whole host) are read-only or hidden. This is what Docker does
//! by default, less its seccomp and AppArmor profiles.

use std::fs;
use std::io;

use anyhow::Context;
use nix::mount::{mount, MsFlags};

use crate::report::narrate;

mod masks;
pub mod seccomp;

pub use masks::{mount_sys_readonly, protect_proc_and_sys};
use seccomp::Profile;

/// `run`'s hardening options (the child gets them too).
#[derive(Clone, clap::Args)]
pub struct Hardening {
    /// Pass our descriptors 3 … 2+N on to the command; every other one above
    /// 2 is closed before it runs.
    #[arg(long, value_name = "N", default_value_t = 0, allow_negative_numbers = true)]
    pub preserve_fds: u32,
    /// The seccomp filter: `default` (Docker's semantics) or `unconfined`.
    #[arg(long, value_enum, value_name = "PROFILE", default_value_t = Profile::Default)]
    pub seccomp: Profile,
}

/// Docker's default capability set minus CAP_MKNOD (13 caps: CHOWN
/// DAC_OVERRIDE FSETID FOWNER NET_RAW SETGID SETUID SETFCAP SETPCAP
/// NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE), with their numbers from
/// <linux/capability.h> (capabilities(7) says what each allows).
///
/// Docker keeps CAP_MKNOD because its device cgroup stops a container from
/// using the device nodes it makes (`mknod /dev/sda` then reading the host's
/// disk). There is no device cgroup here, so CAP_MKNOD is dropped.
pub const DEFAULT_CAPS: &[(&str, u32)] = &[
    ("CAP_CHOWN", 0),
    ("CAP_DAC_OVERRIDE", 1),
    ("CAP_FOWNER", 3),
    ("CAP_FSETID", 4),
    ("CAP_KILL", 5),
    ("CAP_SETGID", 6),
    ("CAP_SETUID", 7),
    ("CAP_SETPCAP", 8),
    ("CAP_NET_BIND_SERVICE", 10),
    ("CAP_NET_RAW", 13),
    ("CAP_SYS_CHROOT", 18),
    ("CAP_AUDIT_WRITE", 29),
    ("CAP_SETFCAP", 31),
];

/// The hex mask of DEFAULT_CAPS as /proc/self/status shows it (CapBnd etc.)
/// — for tests and the book.
pub fn default_caps_mask() -> u64 {
    DEFAULT_CAPS.iter().fold(0, |mask, &(_, cap)| mask | 1 << cap)
}

/// capset(2)'s arguments, from <linux/capability.h>; libc does not have them.
/// Version 3 takes 64 capability bits as two 32-bit halves.
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapUserHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapUserData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

// ANCHOR: groups
/// setgroups(2) with an empty list: the container's root is uid 0, gid 0,
/// and in no other group. Without it the command would inherit the
/// supplementary groups of whoever started the runtime (under sudo, root's
/// from the host's /etc/group; a service may have more, such as `disk`),
/// and with them access to whatever those groups may read or write. Docker
/// sets the groups the image's /etc/group gives the user instead. Needs
/// CAP_SETGID, so it comes before the capabilities are dropped.
///
/// In a user namespace whose maps a normal user wrote, setgroups(2) is off
/// (userns.rs says why): the caller's groups stay, shown as `nogroup`
/// (65534), and still count on the host. Nothing to drop, then.
pub fn clear_supplementary_groups() -> anyhow::Result<()> {
    narrate("setgroups([])");
    match nix::unistd::setgroups(&[]) {
        Err(nix::Error::EPERM) if setgroups_denied() => {
            narrate("setgroups: EPERM, /proc/self/setgroups is `deny`: the caller's groups stay");
            Ok(())
        }
        other => other.context("setgroups([])"),
    }
}

fn setgroups_denied() -> bool {
    fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}
// ANCHOR_END: groups

// ANCHOR: caps
/// Reduce the bounding, permitted, effective, inheritable and ambient sets to
/// DEFAULT_CAPS and set no_new_privs. Raw prctl/capset via libc (no caps
/// crate: capset(2) with _LINUX_CAPABILITY_VERSION_3, PR_CAPBSET_DROP for
/// each cap not kept up to CAP_LAST_CAP read from
/// /proc/sys/kernel/cap_last_cap, PR_CAP_AMBIENT_RAISE for each kept,
/// PR_SET_NO_NEW_PRIVS).
pub fn drop_capabilities() -> anyhow::Result<()> {
    let keep = default_caps_mask();
    // 1. The bounding set caps what any later execve(2) can ever grant, so a
    //    setuid-root or file-capability program cannot bring a dropped one
    //    back. The kernel knows caps 0..=cap_last_cap; ours may be newer
    //    than this program, so ask it rather than hard-code the number.
    let last = cap_last_cap()?;
    let dropped: Vec<u32> = (0..=last).filter(|cap| keep & 1 << cap == 0).collect();
    narrate(&format!(
        "prctl(PR_CAPBSET_DROP, cap) for the {} caps of 0..={last} not kept",
        dropped.len()
    ));
    for &cap in &dropped {
        prctl(libc::PR_CAPBSET_DROP, cap.into(), 0)
            .with_context(|| format!("prctl(PR_CAPBSET_DROP, {cap})"))?;
    }
    // 2. The sets this process has now. Inheritable too, because an ambient
    //    capability must be both permitted and inheritable. (Docker now
    //    leaves inheritable empty, since CVE-2022-24769: a process that
    //    became non-root could regain those caps by executing a file with
    //    inheritable file capabilities. no_new_privs, step 4, stops that.)
    let data = [
        CapUserData { effective: keep as u32, permitted: keep as u32, inheritable: keep as u32 },
        CapUserData {
            effective: (keep >> 32) as u32,
            permitted: (keep >> 32) as u32,
            inheritable: (keep >> 32) as u32,
        },
    ];
    let header = CapUserHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0, // this thread
    };
    narrate(&format!("capset(v3, effective = permitted = inheritable = {keep:#x})"));
    // SAFETY: header and data are the layout capset(2) expects, two data
    // entries for version 3.
    if unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error()).context("capset");
    }
    // 3. Ambient: the caps a program keeps across execve(2) without file
    //    capabilities, even as a non-root user (capabilities(7)).
    narrate("prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap) for each kept");
    for &(name, cap) in DEFAULT_CAPS {
        prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, cap.into())
            .with_context(|| format!("prctl(PR_CAP_AMBIENT_RAISE, {name})"))?;
    }
    // 4. no_new_privs: from here on execve(2) grants nothing, to this process
    //    or its descendants: setuid bits and file capabilities are ignored
    //    (Documentation/userspace-api/no_new_privs.rst). Docker sets it with
    //    `--security-opt no-new-privileges`.
    narrate("prctl(PR_SET_NO_NEW_PRIVS, 1)");
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).context("prctl(PR_SET_NO_NEW_PRIVS, 1)")?;
    Ok(())
}
// ANCHOR_END: caps

/// prctl(2) with two arguments, the rest zero, as the kernel wants them.
fn prctl(option: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> io::Result<()> {
    // SAFETY: these prctl options take integers, no pointers.
    if unsafe { libc::prctl(option, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The highest capability number this kernel knows.
fn cap_last_cap() -> anyhow::Result<u32> {
    const PATH: &str = "/proc/sys/kernel/cap_last_cap";
    let text = fs::read_to_string(PATH).with_context(|| format!("reading {PATH}"))?;
    text.trim().parse().with_context(|| format!("parsing {PATH}: {:?}", text.trim()))
}

// ANCHOR: fds
/// `--preserve-fds N` passes descriptors 3 … 2+N on purpose: each must be open
/// in the runtime, or the command would get whatever the runtime opened there.
/// Checked before anything is created.
pub fn check_preserved_fds(n: u32) -> anyhow::Result<()> {
    for fd in 3..3 + n as i32 {
        if nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_err() {
            return Err(crate::report::hinted(
                anyhow::anyhow!("--preserve-fds {n}: descriptor {fd} is not open"),
                format!(
                    "open descriptors 3 to {} before the runtime starts (`3<FILE` in the \
                     shell), or pass fewer",
                    2 + n
                ),
            ));
        }
    }
    Ok(())
}

/// Close every descriptor above 2, but the `preserve` ones the caller passed on
/// purpose (3 … 2+preserve), before the command starts: the runtime's own (the
/// ready pipe, netlink sockets, lock files, cgroup directories) and any the
/// caller leaked. A descriptor of a host directory would otherwise be a way
/// out of the new root: `cat /proc/self/fd/7/etc/shadow`, the class of
/// CVE-2024-21626 (runc leaked its cgroup directory's fd). close_range(2)
/// (Linux 5.9) does it in one call; on an older kernel, close what
/// /proc/self/fd lists.
pub fn close_other_fds(preserve: u32) -> anyhow::Result<()> {
    let first = 3 + preserve;
    narrate(&format!("close_range({first}, ~0U, 0)"));
    // SAFETY: close_range only closes descriptors; nothing in this process
    // uses one above `first` any more (std's Command makes its own later).
    let closed = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
    if closed == 0 {
        return Ok(());
    }
    let fds: Vec<i32> = fs::read_dir("/proc/self/fd")
        .context("listing /proc/self/fd to close descriptors")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory's own descriptor is in the list, and closed already.
    for fd in fds.into_iter().filter(|&fd| fd >= first as i32) {
        let _ = nix::unistd::close(fd);
    }
    Ok(())
}
// ANCHOR_END: fds

// ANCHOR: dumpable
/// Init is this runtime's own binary, running inside the container. Not
/// dumpable, its /proc/1/exe, /proc/1/environ, /proc/1/mem and /proc/1/fd
/// are closed to the container, and so is ptrace(2): the kernel lets only a
/// process with CAP_SYS_PTRACE (dropped above) at a non-dumpable one
/// (ptrace(2), "Ptrace access mode checking"). Without it, a process in the
/// container could open /proc/1/exe, keep the descriptor, and write the
/// host's runtime binary once it no longer runs: CVE-2019-5736, which runc
/// answers by re-executing from a sealed memfd copy. Here no process of the
/// container can reach the binary any other way: it is not in the rootfs,
/// init is the only process running it, and init is non-dumpable before the
/// first process of the container starts. (Dropping capabilities would not
/// reset the flag: only a change of user or group IDs, or a gain of
/// capabilities, does.) The command, which execve(2) makes dumpable again,
/// runs a binary of the rootfs, not ours.
pub fn make_undumpable() -> anyhow::Result<()> {
    narrate("prctl(PR_SET_DUMPABLE, 0)");
    nix::sys::prctl::set_dumpable(false).context("prctl(PR_SET_DUMPABLE, 0)")
}
// ANCHOR_END: dumpable

#[cfg(test)]
mod tests;
