//! The runtime's signals while its container runs. Most signals end a
//! process by default, and a runtime ended that way would leave its cgroup
//! and its network behind. So the runtime holds them back (blocks them) while
//! it waits, takes them itself, and passes them on to the container's init,
//! which passes them on to the command. See signal(7).

use std::time::{Duration, Instant};

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::report::narrate;

/// Hold the signals back from here on: they wait, pending, for `wait_for`.
/// (The child unblocks them for itself before it execs: a blocked signal
/// stays blocked across fork and exec.)
pub fn hold() -> anyhow::Result<()> {
    held_signals().thread_block().context("sigprocmask")
}

// ANCHOR: signals
/// Every signal whose default action ends a process, but for those a fault
/// raises and those that concern the runtime alone (SIGPIPE from its own
/// writes, SIGXCPU, SIGXFSZ); not the job-control ones either (Ctrl-Z stops
/// the runtime and its container together). SIGKILL cannot be held back: a
/// runtime killed with it cleans up nothing.
fn held_signals() -> SigSet {
    use Signal::*;
    let mut set = SigSet::all();
    for sig in [
        SIGKILL, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT, SIGWINCH, SIGURG, SIGPIPE, SIGXCPU,
        SIGXFSZ, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS,
    ] {
        set.remove(sig);
    }
    set
}

/// The signals that ask the container to stop.
const STOP: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// How long a container may take to stop after a stop request before the
/// runtime kills it (PID 1 ignores signals it has no handler for).
const GRACE: Duration = Duration::from_secs(3);

/// Wait for the child, taking the held signals with sigtimedwait(2). A signal
/// sent to the runtime (`kill`, si_code SI_USER) is passed on to the
/// container; after a stop request, the container is killed if it is still
/// there GRACE later. Ctrl-C and Ctrl-\ from the terminal (si_code SI_KERNEL)
/// already reached the container, which is in the same foreground process
/// group: the runtime lets the container decide.
pub fn wait_for(pid: Pid) -> anyhow::Result<WaitStatus> {
    let mut deadline: Option<Instant> = None;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => return Ok(status),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(err) => return Err(err).context("waitpid"),
        }
        let timeout = deadline.map_or(Duration::from_secs(1), |d| d - Instant::now().min(d));
        match next_signal(&held_signals(), timeout) {
            Some((sig, code)) if sig != libc::SIGCHLD && code != libc::SI_KERNEL => {
                let name = signal_name(sig);
                narrate(&format!("got {name}: kill({pid}, {name})"));
                // SAFETY: kill(2) takes two integers. (nix's `kill` takes a
                // `Signal`, which has no real-time signals.)
                unsafe { libc::kill(pid.as_raw(), sig) };
                if STOP.contains(&sig) {
                    deadline.get_or_insert(Instant::now() + GRACE);
                }
            }
            _ => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            narrate(&format!("still running {GRACE:?} later: kill({pid}, SIGKILL)"));
            let _ = kill(pid, Signal::SIGKILL);
            deadline = None;
        }
    }
}

/// "SIGTERM", or "SIGRTMIN+3" for a real-time signal.
fn signal_name(sig: i32) -> String {
    Signal::try_from(sig)
        .map_or_else(|_| format!("SIGRTMIN+{}", sig - libc::SIGRTMIN()), |s| s.to_string())
}
// ANCHOR_END: signals

/// The exit status the runtime exits with, as `docker run` does: the
/// command's own, or 128+N when signal N killed it.
pub fn exit_status(status: WaitStatus) -> u8 {
    let (what, code) = match status {
        WaitStatus::Exited(_, code) => (format!("child exited with status {code}"), code as u8),
        WaitStatus::Signaled(_, sig, _) => (format!("child killed by {sig}"), 128 + sig as u8),
        _ => (format!("child: {status:?}"), 125),
    };
    narrate(&what);
    code
}

/// The next pending signal of `set` (its number: it may be a real-time one)
/// and its si_code, or None after `timeout`.
fn next_signal(set: &SigSet, timeout: Duration) -> Option<(i32, i32)> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
    // SAFETY: valid pointers to a sigset, a siginfo_t and a timespec.
    let sig = unsafe { libc::sigtimedwait(set.as_ref(), info.as_mut_ptr(), &ts) };
    // -1: the timeout passed, or EINTR.
    // SAFETY: sigtimedwait filled `info` when it returned a signal.
    (sig > 0).then(|| (sig, unsafe { info.assume_init() }.si_code))
}
