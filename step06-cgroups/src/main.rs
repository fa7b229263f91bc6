//! step06-cgroups: resource limits. `--memory`, `--pids` and `--cpus` put the
//! container in a cgroup of its own, on cgroup v1, v2 or hybrid hosts, before
//! the command runs: a fork bomb is contained, a memory hog is OOM-killed and
//! the runtime says so. The cgroup is removed on every exit path.
//!
//! `run` creates the cgroup, spawns `/proc/self/exe child …` in new UTS, PID
//! and mount namespaces; the child moves itself into the cgroup, sets the
//! hostname, enters the rootfs and execs the command. See cgroups(7).

mod cgroups;
mod report;
mod rootfs;

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{sethostname, Pid};

use report::{
    exec_failed, hinted, narrate, need_root, report, require_root, set_verbose, usage_error,
};

// ANCHOR: cli
/// Containers from scratch, stage 6: cgroup limits.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run COMMAND in new UTS, PID and mount namespaces, in a rootfs, with limits.
    Run(RunArgs),
    /// Internal: the re-executed runtime, already inside the new namespace.
    #[command(hide = true)]
    Child(RunArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The container's hostname.
    #[arg(long, default_value = "container")]
    hostname: String,
    /// The directory to use as the container's root [default: rootfs/ at the
    /// workspace root, built on first use]
    #[arg(long, value_name = "DIR")]
    rootfs: Option<PathBuf>,
    /// Memory limit: 64M, 1G or bytes; at least 6M. Over it, the OOM killer.
    #[arg(long, value_name = "SIZE", value_parser = cgroups::parse_memory)]
    memory: Option<u64>,
    /// Most processes the container may have at once (pids.max).
    #[arg(long, value_name = "N", value_parser = cgroups::parse_pids)]
    pids: Option<u64>,
    /// CPU time, in CPUs: 0.5 is half of one CPU's time.
    #[arg(long, value_name = "FLOAT", value_parser = cgroups::parse_cpus)]
    cpus: Option<f64>,
    /// Internal: a cgroup directory the child moves itself into.
    #[arg(long, hide = true)]
    cgroup: Vec<PathBuf>,
    /// Narrate each step on stderr.
    #[arg(long)]
    verbose: bool,
    /// The command and its arguments, passed through verbatim.
    #[arg(required = true, trailing_var_arg = true)]
    command: Vec<OsString>,
}
// ANCHOR_END: cli

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    let result = match &cli.command {
        Commands::Run(args) => run(args),
        Commands::Child(args) => child(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            report(&err);
            ExitCode::from(125)
        }
    }
}

// ANCHOR: run
/// Re-execute this program as `child` in new UTS, PID and mount namespaces, in
/// a cgroup with the limits asked for, and return the exit status the runtime
/// should exit with, as `docker run` does.
fn run(args: &RunArgs) -> anyhow::Result<u8> {
    set_verbose(args.verbose);
    require_root()?;
    check_hostname(&args.hostname)?;
    // Before the PID namespace: building the default rootfs forks a script.
    let rootfs = rootfs::resolve(args.rootfs.as_deref())?;
    // ANCHOR: cgroup
    // No limit asked for, no cgroup. The Cgroup is removed when it is dropped,
    // on every way out of this function.
    let limits = cgroups::Limits { memory: args.memory, pids: args.pids, cpus: args.cpus };
    let cgroup = match limits.is_empty() {
        true => None,
        false => Some(cgroups::Cgroup::create(&cgroup_name(), &limits)?),
    };
    for dir in cgroup.iter().flat_map(cgroups::Cgroup::paths) {
        narrate(&format!("the container's cgroup: {}", dir.display()));
    }
    // ANCHOR_END: cgroup
    // Blocked from here on, and collected by `wait_for`: a SIGTERM or SIGINT
    // sent to the runtime ends the container and still removes the cgroup.
    let signals = forwarded_signals();
    signals.thread_block().context("sigprocmask")?;
    // Why not set the hostname in pre_exec, like step01 did the unshare? That
    // closure runs between fork and exec in a copy of a possibly multi-threaded
    // process: it may only make async-signal-safe calls — no allocation, no
    // error messages, no locks (see `CommandExt::pre_exec`). Setting up a
    // container is real work with real errors, so we start a fresh copy of
    // ourselves (/proc/self/exe) inside the namespace and do the work there,
    // in ordinary Rust. (From step03 on there is a second reason: a new PID
    // namespace only applies to the *children* of the process that makes it.)
    // Go hid all this from Liz Rice: `SysProcAttr.Cloneflags` passes the
    // namespace flags straight to clone(2) when it starts the child.
    // ANCHOR: newpid
    // unshare(CLONE_NEWPID) does not move the caller: it picks the PID
    // namespace of the caller's *next children*. So the runtime calls it on
    // itself, right before it forks the child, which becomes PID 1 of the new
    // namespace; exec keeps the PID, so the command is PID 1 too. The runtime
    // itself stays in the host's namespace, where it can wait for its child.
    narrate("unshare(CLONE_NEWPID): our next child is PID 1");
    unshare(CloneFlags::CLONE_NEWPID)
        .map_err(|e| need_root(anyhow::Error::new(e).context("unshare(CLONE_NEWPID)")))?;
    // ANCHOR_END: newpid
    // The child moves itself into the cgroup, before it execs the command:
    // see `join` in child() below.
    let mut cmd = Command::new("/proc/self/exe");
    let cgroup_dirs = cgroup.as_ref().map(cgroups::Cgroup::paths).unwrap_or_default();
    cmd.arg("child").args(args.to_args(&rootfs, &cgroup_dirs));
    let flags = CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWNS;
    // SAFETY: the closure runs in the forked child, between fork and exec, where
    // only async-signal-safe work is allowed: it makes raw system calls
    // (unshare, sigprocmask) on values made before the fork, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            unshare(flags)?;
            // A blocked signal stays blocked across fork and exec: unblock
            // the ones the runtime blocked for itself.
            SigSet::empty().thread_set_mask()?;
            Ok(())
        });
    }
    narrate("fork(), unshare(CLONE_NEWUTS|CLONE_NEWNS), execv(/proc/self/exe child …)");
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) if err.raw_os_error() == Some(libc::EPERM) => {
            return Err(need_root(
                anyhow::Error::new(err).context("unshare(CLONE_NEWUTS|CLONE_NEWNS)"),
            ));
        }
        Err(err) => return Err(anyhow::Error::new(err).context("re-executing /proc/self/exe")),
    };
    let pid = Pid::from_raw(child.id() as i32);
    narrate(&format!("child {pid} started (PID 1 inside)"));
    let status = wait_for(pid)?;
    narrate(&match status {
        WaitStatus::Signaled(_, sig, _) => format!("child killed by {sig}"),
        WaitStatus::Exited(_, code) => format!("child exited with status {code}"),
        _ => format!("child: {status:?}"),
    });
    if let Some(cgroup) = &cgroup {
        report_oom(cgroup, &limits, status);
    }
    // The command's own status, or 128+N when signal N killed it.
    Ok(match status {
        WaitStatus::Exited(_, code) => code as u8,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as u8,
        _ => 125,
    })
}
// ANCHOR_END: run

// ANCHOR: child
/// The re-executed runtime, PID 1 of the new PID namespace: join the cgroup,
/// set the hostname, enter the rootfs, then replace ourselves with the command.
fn child(args: &RunArgs) -> anyhow::Result<u8> {
    set_verbose(args.verbose);
    refuse_outside_run()?;
    // ANCHOR: join
    // Into the cgroup first, by ourselves (cgroups::join says why not the
    // runtime): the command must never run unlimited.
    cgroups::join(&args.cgroup)?;
    // ANCHOR_END: join
    narrate(&format!("sethostname({:?})", args.hostname));
    sethostname(&args.hostname).context("sethostname")?;
    let rootfs = args.rootfs.as_deref().context("the child needs --rootfs")?;
    rootfs::enter(rootfs)?;
    narrate(&format!("execvp({:?})", args.command[0]));
    let err = Command::new(&args.command[0]).args(&args.command[1..]).exec();
    Ok(exec_failed(&args.command[0], &err, rootfs))
}
// ANCHOR_END: child

/// `child` is the runtime's own second half. Started by hand, it would be in
/// the host's namespaces and rename the host: refuse unless our UTS namespace
/// differs from our parent's. (/proc is still the host's here, so
/// /proc/self/stat gives the parent's PID as the host sees it.)
fn refuse_outside_run() -> anyhow::Result<()> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1));
    let uts = |pid: &str| {
        let path = format!("/proc/{pid}/ns/uts");
        std::fs::read_link(&path).with_context(|| format!("readlink {path}"))
    };
    if uts("self")? == uts(ppid.unwrap_or("1"))? {
        return Err(hinted(
            anyhow::anyhow!("`child` is the runtime's internal half, not a command"),
            format!("use `{} run …`", env!("CARGO_PKG_NAME")),
        ));
    }
    Ok(())
}

impl RunArgs {
    /// The options again, as arguments for the re-executed `child`.
    fn to_args(&self, rootfs: &Path, cgroups: &[PathBuf]) -> Vec<OsString> {
        let mut out: Vec<OsString> = vec![option("hostname", &self.hostname)];
        out.push(option("rootfs", rootfs));
        for dir in cgroups {
            out.push(option("cgroup", dir));
        }
        if self.verbose {
            out.push("--verbose".into());
        }
        out.push("--".into());
        out.extend(self.command.iter().cloned());
        out
    }
}

/// One argument `--NAME=VALUE` for the re-executed `child`. As two arguments,
/// clap would read a value that starts with `-` (`--hostname=-x`, `-e K=--v`)
/// as an option of its own.
fn option(name: &str, value: impl AsRef<OsStr>) -> OsString {
    let mut arg = OsString::from(format!("--{name}="));
    arg.push(value);
    arg
}

/// Refuse a hostname the kernel would refuse, before anything is created.
fn check_hostname(name: &str) -> anyhow::Result<()> {
    // HOST_NAME_MAX: 64 bytes on Linux (see gethostname(2)).
    const HOST_NAME_MAX: usize = 64;
    if name.is_empty() || name.len() > HOST_NAME_MAX {
        return Err(hinted(
            anyhow::anyhow!(
                "invalid --hostname {name:?}: must be 1 to {HOST_NAME_MAX} bytes, it is {}",
                name.len()
            ),
            "a hostname is 1 to 64 bytes, e.g. --hostname box",
        ));
    }
    Ok(())
}

/// A unique cgroup name: the runtime's PID is unique while it runs.
fn cgroup_name() -> String {
    format!("c{}", std::process::id())
}

// ANCHOR: oom
/// Say so when the OOM killer fired in the container's cgroup.
fn report_oom(cgroup: &cgroups::Cgroup, limits: &cgroups::Limits, status: WaitStatus) {
    let kills = cgroup.oom_kills();
    let Some(memory) = limits.memory.filter(|_| kills > 0) else { return };
    let limit = format!("--memory {} MiB ({memory} bytes)", memory / (1024 * 1024));
    // Killed itself, or a shell reporting that its child was (status 137).
    if matches!(status, WaitStatus::Signaled(_, Signal::SIGKILL, _) | WaitStatus::Exited(_, 137)) {
        eprintln!("error: the container was killed for memory: it reached its limit of {limit}");
        eprintln!("hint: give it more with --memory, or make it use less");
    } else {
        eprintln!("warning: the OOM killer killed {kills} process(es) in the container ({limit})");
    }
}
// ANCHOR_END: oom

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
fn forwarded_signals() -> SigSet {
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
fn wait_for(pid: Pid) -> anyhow::Result<WaitStatus> {
    let signals = forwarded_signals();
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
