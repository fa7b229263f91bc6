//! step06-cgroups: resource limits. `--memory`, `--pids` and `--cpus` put the
//! container in a cgroup of its own (v1, v2 or hybrid hosts) before the
//! command runs: a fork bomb is contained, a memory hog is OOM-killed and the
//! runtime says so. The child moves itself into the cgroup, which is removed
//! on every exit path. See cgroups(7).

mod cgroups;
mod report;
mod rootfs;
mod signals;

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::{sethostname, Pid};

use report::{
    exec_failed, exit_code, hinted, narrate, need_root, require_root, set_verbose, usage_error,
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
    #[command(flatten)]
    limits: cgroups::Limits,
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
    exit_code(match Cli::try_parse() {
        Ok(Cli { command: Commands::Run(args) }) => run(&args),
        Ok(Cli { command: Commands::Child(args) }) => child(&args),
        Err(err) => return usage_error(err),
    })
}

// ANCHOR: run
/// Re-execute this program as `child` in new UTS, PID and mount namespaces and
/// a cgroup with the limits asked for; return the exit status, as `docker run`.
fn run(args: &RunArgs) -> anyhow::Result<u8> {
    set_verbose(args.verbose);
    require_root()?;
    check_hostname(&args.hostname)?;
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
    // ANCHOR_END: cgroup
    // Held from here on, and taken by `signals::wait_for`: a SIGTERM or SIGINT
    // sent to the runtime ends the container and still removes the cgroup.
    signals::hold()?;
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
    let status = signals::wait_for(pid)?;
    let code = signals::exit_status(status);
    if let Some(cgroup) = &cgroup {
        report_oom(cgroup, limits, status);
    }
    Ok(code)
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
