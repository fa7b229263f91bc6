//! The runtime's signals while its container runs. Most signals end a
//! process by default, and a runtime ended that way would leave its cgroup
//! behind. So the runtime holds them back (blocks them) while it waits, and
//! takes them itself: a stop request sent to it (`kill`) stops the container,
//! then the cgroup goes as on any other exit. See signal(7).

use std::time::Duration;

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

/// Wait for the child, taking the held signals with sigtimedwait(2). A stop
/// request sent to the runtime kills the container: SIGKILL to its PID 1 ends
/// its whole PID namespace. Ctrl-C from the terminal (si_code SI_KERNEL)
/// already reached the container, which decides. Other signals are dropped;
/// step07 passes them on.
pub fn wait_for(pid: Pid) -> anyhow::Result<WaitStatus> {
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => return Ok(status),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(err) => return Err(err).context("waitpid"),
        }
        match next_signal(&held_signals(), Duration::from_secs(1)) {
            Some((sig, code)) if STOP.contains(&sig) && code != libc::SI_KERNEL => {
                let name = Signal::try_from(sig).map_or("a stop request", Signal::as_str);
                narrate(&format!("got {name}: kill({pid}, SIGKILL)"));
                let _ = kill(pid, Signal::SIGKILL);
            }
            _ => {}
        }
    }
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
