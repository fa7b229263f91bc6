//! step07-full: the full runtime. On top of step06: IPC and network
//! namespaces (`--net none|bridge`: a bridge, a veth pair and an address per
//! container), a PID 1 of our own that forwards signals and reaps zombies, a
//! clean environment (`-e`), and hardening: Docker's capability set minus
//! CAP_MKNOD, no_new_privs, a read-only /sys and the /proc files runc masks.
//!
//! `run` creates the cgroup and allocates an address, spawns
//! `/proc/self/exe child …` in new UTS, PID, mount, IPC and network
//! namespaces and wires its network, then lets it go on: it moves itself into
//! the cgroup, sets the hostname, configures its interfaces, enters the rootfs,
//! drops its privileges and becomes the container's init.

mod cgroups;
mod init;
mod inroot;
mod message;
mod network;
mod report;
mod rootfs;
mod seccomp;
mod security;

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sched::{unshare, CloneFlags};
use nix::sys::prctl;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{pipe2, sethostname, write, Pid};

use message::Go;
use report::{hinted, narrate, need_root, report, require_root, set_verbose, usage_error};

// ANCHOR: cli
/// Containers from scratch, stage 7: the full runtime.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run COMMAND in a container: its own hostname, processes, mounts, IPC,
    /// network and limits.
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
    /// Network: `none` (only lo) or `bridge` (eth0 on the cfs0 bridge).
    #[arg(long, value_enum, default_value_t = Net::Bridge)]
    net: Net,
    /// Set KEY=VALUE in the container's environment, or copy KEY from ours.
    #[arg(short = 'e', long = "env", value_name = "KEY[=VALUE]", value_parser = init::parse_env)]
    env: Vec<String>,
    /// Pass our descriptors 3 … 2+N on to the command; every other one above
    /// 2 is closed before it runs.
    #[arg(long, value_name = "N", default_value_t = 0, allow_negative_numbers = true)]
    preserve_fds: u32,
    /// The seccomp filter: `default` (Docker's semantics) or `unconfined`.
    #[arg(long, value_enum, value_name = "PROFILE", default_value_t = seccomp::Profile::Default)]
    seccomp: seccomp::Profile,
    /// Internal: the pipe the child waits on until the runtime says go.
    #[arg(long, hide = true)]
    ready_fd: Option<RawFd>,
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

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Net {
    /// Only a loopback interface.
    None,
    /// A veth pair to the project's bridge, with an address and a default route.
    Bridge,
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
/// Re-execute this program as `child` in new UTS, PID, mount, IPC and network
/// namespaces, in a cgroup with the limits asked for, wire its network, and
/// return the exit status the runtime should exit with, as `docker run` does.
fn run(args: &RunArgs) -> anyhow::Result<u8> {
    set_verbose(args.verbose);
    require_root()?;
    check_hostname(&args.hostname)?;
    security::check_preserved_fds(args.preserve_fds)?;
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
    // An address for the container, released when `lease` is dropped.
    let lease = match args.net {
        Net::Bridge => Some(network::allocate()?),
        Net::None => None,
    };
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
    // The child waits on this pipe until its network is wired. (It moves
    // itself into its cgroup, before it execs the command.)
    let (ready_r, ready_w) = pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
    let ready_fd = ready_r.as_raw_fd();
    let mut cmd = Command::new("/proc/self/exe");
    let cgroup_dirs = cgroup.as_ref().map(cgroups::Cgroup::paths).unwrap_or_default();
    cmd.arg("child").args(args.to_args(&rootfs, ready_fd, &cgroup_dirs));
    // The child, and so the container's init, starts with no environment of
    // ours: whatever the caller had exported (a token, a password) is not in
    // /proc/1/environ. What it needs comes as arguments; TERM alone goes
    // through, for the command's terminal.
    cmd.env_clear();
    if let Some(term) = std::env::var_os("TERM") {
        cmd.env("TERM", term);
    }
    // ANCHOR: spawn
    let flags = CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNET;
    // SAFETY: the closure runs in the forked child, between fork and exec, where
    // only async-signal-safe work is allowed: it makes raw system calls (prctl,
    // unshare, fcntl, sigprocmask) on values made before the fork, and
    // allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // If the runtime dies, even by SIGKILL, the kernel kills the
            // container's init, and with it the whole PID namespace.
            prctl::set_pdeathsig(Signal::SIGKILL)?;
            unshare(flags)?;
            // Keep the read end open across exec (clear FD_CLOEXEC).
            fcntl(ready_fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
            // A blocked signal stays blocked across fork and exec: unblock
            // the ones the runtime blocked for itself.
            SigSet::empty().thread_set_mask()?;
            Ok(())
        });
    }
    // ANCHOR_END: spawn
    narrate(
        "fork(), unshare(CLONE_NEWUTS|CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWNET), \
         execv(/proc/self/exe child …)",
    );
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) if err.raw_os_error() == Some(libc::EPERM) => {
            return Err(need_root(
                anyhow::Error::new(err)
                    .context("unshare(CLONE_NEWUTS|CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWNET)"),
            ));
        }
        Err(err) => return Err(anyhow::Error::new(err).context("re-executing /proc/self/exe")),
    };
    let pid = Pid::from_raw(child.id() as i32);
    drop(ready_r);
    narrate(&format!("child {pid} started (PID 1 inside), waiting for the go"));
    // ANCHOR: join
    // The host end of the veth pair lives as long as `link`: to the end.
    let (link, go) = match prepare(pid, lease.as_ref()) {
        Ok(ready) => ready,
        Err(err) => {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            return Err(err);
        }
    };
    if let Some(link) = &link {
        narrate(&format!("host end of the veth pair: {} on {}", link.name(), network::BRIDGE));
    }
    let go = go.encode();
    narrate(&format!("write(ready pipe, {go:?}): go on"));
    write(&ready_w, go.as_bytes()).context("telling the child to go on")?;
    drop(ready_w);
    // ANCHOR_END: join
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
/// The re-executed runtime, PID 1 of the new PID namespace: set the hostname,
/// enter the rootfs, then replace ourselves with the command.
fn child(args: &RunArgs) -> anyhow::Result<u8> {
    set_verbose(args.verbose);
    refuse_outside_run()?;
    let fd = args.ready_fd.context("the child needs --ready-fd")?;
    let go = Go::decode(&wait_for_go(fd)).context("the runtime's go line")?;
    // Into the cgroup, by ourselves (cgroups::join says why not the runtime),
    // before the command runs.
    cgroups::join(&args.cgroup)?;
    // A cgroup namespace of its own, now that we are in the container's
    // cgroup: that cgroup becomes the root of what the container sees, so
    // /proc/self/cgroup shows `/`, not the host's tree (cgroup_namespaces(7)).
    narrate("unshare(CLONE_NEWCGROUP)");
    unshare(CloneFlags::CLONE_NEWCGROUP).context("unshare(CLONE_NEWCGROUP)")?;
    narrate(&format!("sethostname({:?})", args.hostname));
    sethostname(&args.hostname).context("sethostname")?;
    // Our network namespace: eth0 as the runtime said, or only lo.
    match go {
        Go::Eth { peer, addr, prefix, gateway } => {
            network::configure_container(&peer, addr, prefix, gateway)?
        }
        Go::Loopback => network::loopback_up()?,
    }
    let rootfs = args.rootfs.as_deref().context("the child needs --rootfs")?;
    rootfs::enter(rootfs)?;
    // The last privileged step is done: from here on, no supplementary
    // groups, and Docker's default set of capabilities.
    security::clear_supplementary_groups()?;
    security::drop_capabilities()?;
    security::close_other_fds(args.preserve_fds)?;
    security::make_undumpable()?;
    seccomp::install(args.seccomp)?;
    let term = std::env::var_os("TERM");
    let env = init::container_env(&args.hostname, term, &args.env)?;
    // So that `ps` inside shows PID 1 as `init`, not as `exe` (/proc/self/exe).
    let _ = prctl::set_name(c"init");
    init::run_init(&args.command, &env, rootfs)
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
    fn to_args(&self, rootfs: &Path, ready_fd: RawFd, cgroups: &[PathBuf]) -> Vec<OsString> {
        let mut out: Vec<OsString> = vec![option("hostname", &self.hostname)];
        out.push(option("rootfs", rootfs));
        out.push(option("ready-fd", ready_fd.to_string()));
        out.push(option("preserve-fds", self.preserve_fds.to_string()));
        if self.seccomp == seccomp::Profile::Unconfined {
            out.push(option("seccomp", "unconfined"));
        }
        for dir in cgroups {
            out.push(option("cgroup", dir));
        }
        for env in &self.env {
            // `-e KEY` copies our value: resolved here, since the child
            // starts with an empty environment (see `run`). A KEY we do not
            // have goes on as it is, and the child removes it.
            match std::env::var(env) {
                Ok(value) if !env.contains('=') => {
                    out.push(option("env", format!("{env}={value}")))
                }
                _ => out.push(option("env", env)),
            }
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

/// Host side, with the child waiting: wire its network, and return what to
/// tell it (its eth0, or only lo for `--net none`).
fn prepare(
    pid: Pid,
    lease: Option<&network::Lease>,
) -> anyhow::Result<(Option<network::HostLink>, Go)> {
    let Some(lease) = lease else { return Ok((None, Go::Loopback)) };
    let (link, peer) = network::connect(lease, pid.as_raw())?;
    let go = Go::Eth { peer, addr: lease.addr(), prefix: lease.prefix(), gateway: lease.gateway() };
    Ok((Some(link), go))
}

/// The child blocks here until the runtime writes its go line: its network is
/// wired. End of file instead means the runtime failed and already said why.
fn wait_for_go(fd: RawFd) -> String {
    // SAFETY: the runtime passed us this fd, open across exec, for this only.
    let mut pipe = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut go = String::new();
    if !matches!(pipe.read_to_string(&mut go), Ok(n) if n > 0) {
        std::process::exit(125);
    }
    go
}

/// A unique cgroup name: the runtime's PID is unique while it runs.
fn cgroup_name() -> String {
    format!("c{}", std::process::id())
}

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
