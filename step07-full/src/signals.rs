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
/// The signals the runtime collects while the container runs: SIGCHLD, and
/// every signal whose default action would end the runtime before it cleans
/// up (the stop requests, USR1, USR2, ALRM, the real-time signals, …),
/// which it passes on to the container. Left alone: the job-control signals
/// (Ctrl-Z stops the runtime with its container, `fg` continues both),
/// SIGWINCH and SIGURG (ignored by default anyway), SIGPIPE (which Rust
/// ignores: a write to a closed pipe must not reach the container), SIGXCPU
/// and SIGXFSZ (about the runtime's own rlimits), and the signals a fault
/// raises, such as SIGSEGV. SIGKILL cannot be blocked or caught: a runtime
/// killed with it cleans up nothing.
fn held_signals() -> SigSet {
    let mut set = SigSet::all();
    for sig in [
        Signal::SIGKILL,
        Signal::SIGSTOP,
        Signal::SIGTSTP,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGCONT,
        Signal::SIGWINCH,
        Signal::SIGURG,
        Signal::SIGPIPE,
        Signal::SIGXCPU,
        Signal::SIGXFSZ,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGFPE,
        Signal::SIGILL,
        Signal::SIGTRAP,
        Signal::SIGSYS,
    ] {
        set.remove(sig);
    }
    set
}

/// Signals that ask the container to stop: if it has not after GRACE, it is killed.
const STOP_REQUESTS: [Signal; 4] =
    [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT];

/// How long a container may take to stop after a forwarded signal before
/// the runtime kills it (PID 1 ignores signals it has no handler for).
const GRACE: Duration = Duration::from_secs(3);

/// Wait for the child. The signals above are blocked and taken here one at a
/// time with sigtimedwait(2). Ctrl-C and Ctrl-\ from the terminal
/// (si_code SI_KERNEL) already reached the container, which is in the same
/// foreground process group: the runtime lets the container decide. A signal
/// sent to the runtime itself (`kill`, si_code SI_USER) is passed on to the
/// container; after a stop request, it is killed outright if it is still
/// there GRACE later.
pub fn wait_for(pid: Pid) -> anyhow::Result<WaitStatus> {
    let signals = held_signals();
    let mut deadline: Option<Instant> = None;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => return Ok(status),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(err) => return Err(err).context("waitpid"),
        }
        let timeout = deadline.map_or(Duration::from_secs(1), |d| d - Instant::now().min(d));
        if let Some((sig, code)) = next_signal(&signals, timeout) {
            if sig != libc::SIGCHLD && code != libc::SI_KERNEL {
                let name = signal_name(sig);
                narrate(&format!("got {name}: kill({pid}, {name})"));
                // SAFETY: kill(2) takes two integers. (nix's `kill` takes a
                // `Signal`, which has no real-time signals.)
                unsafe { libc::kill(pid.as_raw(), sig) };
                if STOP_REQUESTS.iter().any(|&s| s as i32 == sig) {
                    deadline.get_or_insert(Instant::now() + GRACE);
                }
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            narrate(&format!("still running {GRACE:?} later: kill({pid}, SIGKILL)"));
            let _ = kill(pid, Signal::SIGKILL);
            deadline = None;
        }
    }
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
