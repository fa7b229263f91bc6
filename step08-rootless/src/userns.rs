//! The user namespace, made first: the container's root is whoever ran the
//! runtime (user_namespaces(7)).
//!
//! A user namespace has its own user and group IDs, mapped onto the host's by
//! two files of its first process, /proc/PID/uid_map and gid_map, each line
//! `ID-INSIDE ID-OUTSIDE COUNT`. Until they are written, nobody is root in it.
//! Once they are, its process is uid 0 *there*, with every capability *there*:
//! over the namespaces its user namespace owns (the UTS, mount, PID, IPC and
//! network namespaces made with it), never over the host. On the host, the
//! kernel still sees the caller's own uid.
//!
//! So the runtime makes the child with clone(2) and every namespace flag in
//! one call: the kernel creates the user namespace first, and the others owned
//! by it. The child waits, before it execs, until the runtime has written its
//! maps: a process that execs while it has no uid 0 in its namespace loses
//! every capability at that exec (capabilities(7), "Capabilities and execution
//! of programs by root"). This is what Go's os/exec does for
//! `SysProcAttr.UidMappings`, and runc, crun and youki each in their own way.

use std::ffi::{CString, OsString};
use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use anyhow::{anyhow, Context};
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{pipe2, Pid, Uid};

use crate::report::{hinted, narrate};

mod mapping;
pub use mapping::{Ids, Mapping};

/// What the child execs, made before clone(2): the child may not allocate.
pub struct Exec {
    argv: Vec<CString>,
    envp: Vec<CString>,
}

impl Exec {
    /// `/proc/self/exe ARGS…` with the environment `env` (KEY=VALUE).
    pub fn new(args: &[OsString], env: &[OsString]) -> anyhow::Result<Exec> {
        let c = |s: &OsString| {
            CString::new(s.as_bytes()).map_err(|_| anyhow!("{s:?} holds a NUL byte"))
        };
        let mut argv = vec![CString::from(c"/proc/self/exe")];
        argv.extend(args.iter().map(c).collect::<anyhow::Result<Vec<_>>>()?);
        let envp = env.iter().map(c).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Exec { argv, envp })
    }
}

// ANCHOR: clone
/// clone(2) a child into new namespaces (`flags`, CLONE_NEWUSER among them),
/// have `mapping` write its maps while it waits, then let it exec
/// `/proc/self/exe …`, keeping `keep_fd` open across the exec. Its PID (as
/// the host sees it) once the exec has succeeded. On any failure the child
/// is killed and reaped.
pub fn spawn(
    flags: CloneFlags,
    exec: &Exec,
    keep_fd: RawFd,
    mapping: &Mapping,
) -> anyhow::Result<Pid> {
    // Everything the child touches before exec, made now: after clone(2) the
    // child is a copy of this process that may only make async-signal-safe
    // calls, as after fork(2).
    let mut argv: Vec<*const libc::c_char> = exec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = exec.envp.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // `go_on`: the child blocks reading it until the maps are written.
    // `exec_err`: the child writes its errno there if exec fails; on success
    // exec closes it (O_CLOEXEC), and the runtime reads end of file.
    let (go_on_r, go_on_w) = pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
    let (exec_err_r, exec_err_w) = pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
    let fds = ChildFds {
        go_on_r: go_on_r.as_raw_fd(),
        go_on_w: go_on_w.as_raw_fd(),
        exec_err_r: exec_err_r.as_raw_fd(),
        exec_err_w: exec_err_w.as_raw_fd(),
        keep_fd,
    };
    narrate(&format!("clone({}) : the child waits for its maps", flag_names(flags)));
    // SIGCHLD: the exit signal, so that waitpid(2) sees the child as it
    // sees a fork(2)ed one. No new stack: like fork, the child goes on on a
    // copy of ours.
    let clone_flags = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // The other arguments: stack, parent_tid, child_tid, tls; none used.
    let none = 0usize;
    // SAFETY: clone(2) without CLONE_VM or CLONE_THREAD copies this
    // (single-threaded) process, as fork(2) does; in the child, `child_side`
    // makes only async-signal-safe calls and never returns.
    let ret = unsafe { libc::syscall(libc::SYS_clone, clone_flags, none, none, none, none) };
    match ret {
        -1 => return Err(clone_failed(std::io::Error::last_os_error(), flags)),
        // SAFETY: in the child, see above.
        0 => unsafe { child_side(&fds, &argv, &envp) },
        _ => {}
    }
    let pid = Pid::from_raw(ret as libc::pid_t);
    drop((go_on_r, exec_err_w));
    let killed = |err: anyhow::Error| {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        err
    };
    mapping.write(pid).map_err(killed)?;
    narrate("write(go-on pipe): the maps are written, exec");
    nix::unistd::write(&go_on_w, b"1").context("telling the child to go on").map_err(killed)?;
    drop(go_on_w);
    // End of file: the exec succeeded. Four bytes: its errno.
    let mut errno = [0u8; 4];
    let mut pipe = fs::File::from(exec_err_r);
    if pipe.read_exact(&mut errno).is_ok() {
        let err = std::io::Error::from_raw_os_error(i32::from_ne_bytes(errno));
        return Err(killed(anyhow::Error::new(err).context("execve /proc/self/exe in the child")));
    }
    Ok(pid)
}
// ANCHOR_END: clone

/// The pipe ends the child uses, as raw numbers (it may not drop an OwnedFd).
struct ChildFds {
    go_on_r: RawFd,
    go_on_w: RawFd,
    exec_err_r: RawFd,
    exec_err_w: RawFd,
    keep_fd: RawFd,
}

// ANCHOR: child_side
/// The child, between clone and exec: wait for the maps, then exec.
///
/// # Safety
///
/// Only in the child of clone(2); `argv` and `envp` NULL-terminated arrays
/// of valid C strings.
unsafe fn child_side(
    fds: &ChildFds,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> ! {
    // SAFETY: raw system calls on numbers and on memory made before the
    // clone; no allocation, no lock (signal-safety(7)).
    unsafe {
        // Our copies of the runtime's ends: with them closed, a runtime that
        // dies makes read() below return 0 instead of blocking for ever.
        libc::close(fds.go_on_w);
        libc::close(fds.exec_err_r);
        // If the runtime dies, even by SIGKILL, the kernel kills the
        // container's init, and with it the whole PID namespace.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let mut byte = 0u8;
        loop {
            match libc::read(fds.go_on_r, (&raw mut byte).cast(), 1) {
                1 => break,
                -1 if *libc::__errno_location() == libc::EINTR => continue,
                // The runtime failed (and said why) or died: go quietly.
                _ => libc::_exit(125),
            }
        }
        // Keep the ready pipe open across exec (clear FD_CLOEXEC).
        libc::fcntl(fds.keep_fd, libc::F_SETFD, 0);
        // A blocked signal stays blocked across exec: unblock the ones the
        // runtime blocked for itself (signals::hold).
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::execve(argv[0], argv.as_ptr(), envp.as_ptr());
        let errno = (*libc::__errno_location()).to_ne_bytes();
        libc::write(fds.exec_err_w, errno.as_ptr().cast(), errno.len());
        libc::_exit(125)
    }
}
// ANCHOR_END: child_side

/// `CLONE_NEWUSER|CLONE_NEWPID|…`, for narration and errors.
fn flag_names(flags: CloneFlags) -> String {
    flags.iter_names().map(|(name, _)| name).collect::<Vec<_>>().join("|")
}

/// Why clone(2) failed, and what to do about it.
fn clone_failed(err: std::io::Error, flags: CloneFlags) -> anyhow::Error {
    let hint = match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::ENOSPC) | Some(libc::EUSERS) => {
            "unprivileged user namespaces may be off: check `sysctl \
             kernel.unprivileged_userns_clone user.max_user_namespaces` (Debian, Ubuntu: \
             also kernel.apparmor_restrict_unprivileged_userns), or run it as root"
        }
        _ => "see clone(2), ERRORS",
    };
    hinted(anyhow::Error::new(err).context(format!("clone({})", flag_names(flags))), hint)
}

/// Whether the caller is root on the host: only root may wire a host bridge
/// or make cgroups outside a delegated subtree.
pub fn host_root() -> bool {
    Uid::effective().is_root()
}

#[cfg(test)]
mod tests;
