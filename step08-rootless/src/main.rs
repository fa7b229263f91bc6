//! step07-full: the full runtime. On top of step06: IPC and network namespaces,
//! a PID 1 of our own (init.rs), a clean environment, and hardening. `run` sets
//! up the host side, `child` the inside; message.rs is what they say.

mod cgroups;
mod init;
mod message;
mod network;
mod report;
mod rootfs;
mod security;
mod signals;

use std::ffi::OsString;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sched::{unshare, CloneFlags};
use nix::sys::prctl;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{pipe2, sethostname, Pid};

use message::{ChildArgs, Go};
use report::{exit_code, hinted, narrate, need_root, require_root, set_verbose, usage_error};

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
    /// Run COMMAND in a container: its own hostname, processes, mounts, IPC, network and limits.
    Run(RunArgs),
    /// Internal: the re-executed runtime, already inside the new namespace.
    #[command(hide = true)]
    Child(ChildArgs),
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
    #[command(flatten)]
    limits: cgroups::Limits,
    /// Network: `none` (only lo) or `bridge` (eth0 on the cfs0 bridge).
    #[arg(long, value_enum, default_value_t = network::Net::Bridge)]
    net: network::Net,
    /// Set KEY=VALUE in the container's environment, or copy KEY from ours.
    #[arg(short = 'e', long = "env", value_name = "KEY[=VALUE]", value_parser = init::parse_env)]
    env: Vec<String>,
    #[command(flatten)]
    hardening: security::Hardening,
    /// Narrate each step on stderr.
    #[arg(long)]
    verbose: bool,
    /// The command and its arguments, passed through verbatim.
    #[arg(required = true, trailing_var_arg = true)]
    command: Vec<OsString>,
}

// ANCHOR_END: cli

fn main() -> ExitCode {
    exit_code(match Cli::try_parse() {
        Ok(Cli { command: Commands::Run(args) }) => run(&args),
        Ok(Cli { command: Commands::Child(args) }) => child(&args),
        Err(err) => return usage_error(err),
    })
}

// ANCHOR: run
/// Make the host side (cgroup, address), start `child` in new namespaces, wire
/// its network, let it go on, and wait: the exit status, as `docker run`.
fn run(args: &RunArgs) -> anyhow::Result<u8> {
    set_verbose(args.verbose);
    require_root()?;
    check_hostname(&args.hostname)?;
    security::check_preserved_fds(args.hardening.preserve_fds)?;
    // Before the PID namespace: building the default rootfs forks a script.
    let rootfs = rootfs::resolve(args.rootfs.as_deref())?;
    // ANCHOR: cgroup
    // No limit asked for, no cgroup. The Cgroup is removed when it is dropped,
    // on every way out of this function.
    let limits = &args.limits;
    let cgroup = match limits.is_empty() {
        true => None,
        false => Some(cgroups::Cgroup::create(&cgroup_name(), limits)?),
    };
    for dir in cgroup.iter().flat_map(cgroups::Cgroup::paths) {
        narrate(&format!("the container's cgroup: {}", dir.display()));
    }
    // An address for the container, released when `lease` is dropped.
    let lease = match args.net {
        network::Net::Bridge => Some(network::allocate()?),
        network::Net::None => None,
    };
    // ANCHOR_END: cgroup
    // Held from here on, and taken by `signals::wait_for`: a SIGTERM or SIGINT
    // sent to the runtime ends the container and still removes the cgroup.
    signals::hold()?;
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
    // The child waits on this pipe until its network is wired.
    let (ready_r, ready_w) = pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
    let cgroup_dirs = cgroup.as_ref().map(cgroups::Cgroup::paths).unwrap_or_default();
    let pid = spawn_child(&args.for_child(rootfs, ready_r.as_raw_fd(), cgroup_dirs))?;
    drop(ready_r);
    narrate(&format!("child {pid} started (PID 1 inside), waiting for the go"));
    // ANCHOR: join
    // The host end of the veth pair lives as long as `link`: to the end.
    let (link, go) = prepare(pid, lease.as_ref())?;
    if let Some(link) = &link {
        narrate(&format!("host end of the veth pair: {} on {}", link.name(), network::BRIDGE));
    }
    message::send_go(ready_w, &go)?;
    // ANCHOR_END: join
    let status = signals::wait_for(pid)?;
    let code = signals::exit_status(status);
    if let Some(cgroup) = &cgroup {
        report_oom(cgroup, limits, status);
    }
    Ok(code)
}
// ANCHOR_END: run

// ANCHOR: child
/// The re-executed runtime, PID 1 of the new PID namespace: wait for the go,
/// join the cgroup, set the hostname, configure the network, enter the rootfs,
/// drop privileges, and become the container's init (init.rs).
fn child(args: &ChildArgs) -> anyhow::Result<u8> {
    set_verbose(args.verbose);
    refuse_outside_run()?;
    let fd = args.ready_fd.context("the child needs --ready-fd")?;
    let go = message::wait_for_go(fd)?;
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
    security::close_other_fds(args.hardening.preserve_fds)?;
    security::make_undumpable()?;
    security::seccomp::install(args.hardening.seccomp)?;
    let term = std::env::var_os("TERM");
    let env = init::container_env(&args.hostname, term, &args.env)?;
    // So that `ps` inside shows PID 1 as `init`, not as `exe` (/proc/self/exe).
    let _ = prctl::set_name(c"init");
    init::run_init(&args.command, &env, rootfs)
}
// ANCHOR_END: child

/// Start `/proc/self/exe child …` in new UTS, mount, IPC and network
/// namespaces (the PID namespace is ours already: see `run`); its PID.
fn spawn_child(child_args: &ChildArgs) -> anyhow::Result<Pid> {
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
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg("child").args(child_args.to_args());
    let ready_fd = child_args.ready_fd.context("no ready pipe")?;
    // The child, and so the container's init, starts with no environment of
    // ours: whatever the caller had exported (a token, a password) is not in
    // /proc/1/environ. What it needs comes as arguments; TERM alone goes
    // through, for the command's terminal.
    cmd.env_clear();
    if let Some(term) = std::env::var_os("TERM") {
        cmd.env("TERM", term);
    }
    // ANCHOR: spawn
    let flags = CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET;
    let flags = flags | CloneFlags::CLONE_NEWIPC;
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
    Ok(Pid::from_raw(child.id() as i32))
}

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
/// tell it (its eth0, or only lo for `--net none`). On failure the child,
/// which would wait forever, is killed and reaped.
fn prepare(
    pid: Pid,
    lease: Option<&network::Lease>,
) -> anyhow::Result<(Option<network::HostLink>, Go)> {
    let Some(lease) = lease else { return Ok((None, Go::Loopback)) };
    let (link, peer) = network::connect(lease, pid.as_raw()).inspect_err(|_| {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
    })?;
    let go = Go::Eth { peer, addr: lease.addr(), prefix: lease.prefix(), gateway: lease.gateway() };
    Ok((Some(link), go))
}

impl RunArgs {
    /// What the re-executed `child` needs, as its own arguments.
    fn for_child(&self, rootfs: PathBuf, ready_fd: RawFd, cgroup: Vec<PathBuf>) -> ChildArgs {
        ChildArgs {
            hostname: self.hostname.clone(),
            rootfs: Some(rootfs),
            ready_fd: Some(ready_fd),
            cgroup,
            env: self.env.clone(),
            hardening: self.hardening.clone(),
            verbose: self.verbose,
            command: self.command.clone(),
        }
    }
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
