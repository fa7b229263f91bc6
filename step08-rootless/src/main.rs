//! step08-rootless: step07's runtime without sudo. The user namespace comes first, every other
//! namespace is made in it (userns.rs), and the container's root is whoever runs it.

mod cgroups;
mod init;
mod message;
mod network;
mod report;
mod rootfs;
mod security;
mod signals;
mod userns;

use std::ffi::OsString;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use nix::fcntl::OFlag;
use nix::sched::{unshare, CloneFlags};
use nix::sys::prctl;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{pipe2, sethostname, Pid};

use message::{ChildArgs, Go};
use report::{exit_code, hinted, narrate, set_verbose, usage_error};

// ANCHOR: cli
/// Containers from scratch, stage 8: the full runtime, rootless.
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
    /// The container's root directory [default: rootfs/ at the workspace root, built on first use]
    #[arg(long, value_name = "DIR")]
    rootfs: Option<PathBuf>,
    #[command(flatten)]
    limits: cgroups::Limits,
    /// IDs: `auto` (the most you may map) or `self` (you alone, without newuidmap).
    #[arg(long, value_enum, default_value_t = userns::Ids::Auto)]
    ids: userns::Ids,
    /// Network: `none` (only lo, the default) or `bridge` (eth0 on cfs0; root only).
    #[arg(long, value_enum, default_value_t = network::Net::None)]
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
    check_hostname(&args.hostname)?;
    security::check_preserved_fds(args.hardening.preserve_fds)?;
    // What only root can do is refused now, before anything is created.
    let delegated = check_rootless(args)?;
    let mapping = userns::Mapping::choose(args.ids);
    let rootfs = rootfs::resolve(args.rootfs.as_deref())?;
    rootfs::note_if_read_only(&rootfs, |uid| mapping.maps(uid));
    // ANCHOR: cgroup
    // No limit asked for, no cgroup. The Cgroup is removed when it is dropped,
    // on every way out of this function.
    let limits = &args.limits;
    let cgroup = match limits.is_empty() {
        true => None,
        false => Some(match &delegated {
            None => cgroups::Cgroup::create(&cgroup_name(), limits)?,
            Some(dir) => cgroups::Cgroup::create_delegated(dir, &cgroup_name(), limits)?,
        }),
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
    // The child waits on this pipe until its network is wired.
    let (ready_r, ready_w) = pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
    let cgroup_dirs = cgroup.as_ref().map(cgroups::Cgroup::paths).unwrap_or_default();
    let pid = spawn_child(&args.for_child(rootfs, ready_r.as_raw_fd(), cgroup_dirs), &mapping)?;
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

/// Start `/proc/self/exe child …` in a new user namespace and, owned by it,
/// new PID, UTS, mount, IPC and network namespaces; its PID.
fn spawn_child(child_args: &ChildArgs, mapping: &userns::Mapping) -> anyhow::Result<Pid> {
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
    let mut argv = vec![OsString::from("child")];
    argv.extend(child_args.to_args());
    let ready_fd = child_args.ready_fd.context("no ready pipe")?;
    // The child, and so the container's init, starts with no environment of
    // ours: whatever the caller had exported (a token, a password) is not in
    // /proc/1/environ. What it needs comes as arguments; TERM alone goes
    // through, for the command's terminal.
    let mut env = Vec::new();
    if let Some(term) = std::env::var_os("TERM") {
        let mut var = OsString::from("TERM=");
        var.push(term);
        env.push(var);
    }
    let exec = userns::Exec::new(&argv, &env)?;
    // ANCHOR: spawn
    let flags = CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET;
    // And the IPC namespace, on a line of its own: step07-ipc.md is about it.
    let flags = flags | CloneFlags::CLONE_NEWIPC;
    // The new idea: a user namespace, and the PID namespace made in the same
    // clone(2) (step07's unshare(CLONE_NEWPID) on the runtime itself takes
    // root). The kernel makes the user namespace first, and the others owned
    // by it, so the child's root may set their hostname, mount, and so on.
    let flags = flags | CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWPID;
    // ANCHOR_END: spawn
    userns::spawn(flags, &exec, ready_fd, mapping)
}

/// `child` is the runtime's own second half. Started by hand, it would be in
/// the host's namespaces and rename the host: refuse unless we are PID 1 of
/// a PID namespace of our own, as `run` makes us. (step07 compared our UTS
/// namespace with our parent's, /proc/PPID/ns/uts. From inside a user
/// namespace the kernel refuses that readlink: looking at a process of the
/// parent user namespace takes CAP_SYS_PTRACE there, ptrace(2).)
fn refuse_outside_run() -> anyhow::Result<()> {
    if nix::unistd::getpid().as_raw() != 1 {
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

// ANCHOR: rootless
/// What a user namespace cannot give, refused before anything is created:
/// its root has capabilities over its own namespaces, never over the host's.
/// A normal user's limits need a cgroup v2 subtree delegated to them: where
/// it is, when limits are asked for.
fn check_rootless(args: &RunArgs) -> anyhow::Result<Option<PathBuf>> {
    if userns::host_root() {
        return Ok(None);
    }
    if args.net == network::Net::Bridge {
        // The bridge and the host end of the veth pair live in the host's
        // network namespace: changing its links takes CAP_NET_ADMIN there.
        let err = anyhow::anyhow!(
            "--net bridge needs root: the cfs0 bridge and the veth pair are made in the host's \
             network namespace (CAP_NET_ADMIN on the host)"
        );
        let sudo = report::sudo_command();
        return Err(hinted(
            err,
            format!("leave --net out (none: only lo), or run it as root: {sudo}"),
        ));
    }
    match args.limits.is_empty() {
        true => Ok(None),
        false => cgroups::delegated(&args.limits).map(Some),
    }
}
// ANCHOR_END: rootless

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
