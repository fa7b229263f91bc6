//! step03-pid: a PID namespace. The command is PID 1 of its own process tree
//! (`echo $$` prints 1), yet `ps` still lists the host's processes: `ps` reads
//! /proc, and /proc is still the host's. That is step04's lesson.
//!
//! `run` spawns `/proc/self/exe child …` in new UTS and PID namespaces; that
//! second copy of this program sets the hostname and then execs the command.
//! See pid_namespaces(7).

mod report;

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitCode};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{signal, SigHandler, Signal};
use nix::unistd::sethostname;

use report::{
    exec_failed, exit_code, hinted, narrate, need_root, require_root, set_verbose, usage_error,
};

// ANCHOR: cli
/// Containers from scratch, stage 3: a PID namespace.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run COMMAND in new UTS and PID namespaces and wait for it.
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
/// Re-execute this program as `child` in new UTS and PID namespaces and return
/// the exit status the runtime should exit with, the way `docker run` does.
fn run(args: &RunArgs) -> anyhow::Result<u8> {
    set_verbose(args.verbose);
    require_root()?;
    check_hostname(&args.hostname)?;
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
    // ANCHOR: your_turn_newpid -- step03-pid.md#the-key-code: narrate, then unshare(CLONE_NEWPID) here, in the runtime itself; its error goes through need_root
    narrate("unshare(CLONE_NEWPID): our next child is PID 1");
    unshare(CloneFlags::CLONE_NEWPID)
        .map_err(|e| need_root(anyhow::Error::new(e).context("unshare(CLONE_NEWPID)")))?;
    // ANCHOR_END: your_turn_newpid
    // ANCHOR_END: newpid
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg("child").args(args.to_args());
    // SAFETY: the closure runs in the forked child, between fork and exec, where
    // only async-signal-safe work is allowed: it makes raw system calls
    // (unshare) on values made before the fork, and allocates nothing.
    unsafe {
        cmd.pre_exec(|| unshare(CloneFlags::CLONE_NEWUTS).map_err(io::Error::from));
    }
    narrate("fork(), unshare(CLONE_NEWUTS), execv(/proc/self/exe child …)");
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) if err.raw_os_error() == Some(libc::EPERM) => {
            return Err(need_root(anyhow::Error::new(err).context("unshare(CLONE_NEWUTS)")));
        }
        Err(err) => return Err(anyhow::Error::new(err).context("re-executing /proc/self/exe")),
    };
    narrate(&format!("child {} started (PID 1 inside)", child.id()));
    // Ctrl-C and Ctrl-\ go to every process in the terminal's foreground group:
    // the command handles them; the runtime ignores them while it waits, as
    // system(3) does, so it stays to report the command's status.
    ignore_terminal_signals()?;
    let status = child.wait().context("waitpid")?;
    narrate(&format!("child exited: {status}"));
    // The command's own status, or 128+N when signal N killed it.
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(sig)) => 128 + sig as u8,
        (None, None) => 125,
    })
}
// ANCHOR_END: run

// ANCHOR: child
/// The re-executed runtime, PID 1 of the new PID namespace: set the hostname,
/// then replace ourselves with the command.
fn child(args: &RunArgs) -> anyhow::Result<u8> {
    set_verbose(args.verbose);
    refuse_outside_run()?;
    narrate(&format!("sethostname({:?})", args.hostname));
    sethostname(&args.hostname).context("sethostname")?;
    narrate(&format!("execvp({:?})", args.command[0]));
    let err = Command::new(&args.command[0]).args(&args.command[1..]).exec();
    Ok(exec_failed(&args.command[0], &err))
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
    fn to_args(&self) -> Vec<OsString> {
        let mut out: Vec<OsString> = vec![option("hostname", &self.hostname)];
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

fn ignore_terminal_signals() -> anyhow::Result<()> {
    for sig in [Signal::SIGINT, Signal::SIGQUIT] {
        // SAFETY: SIG_IGN installs no handler code: no Rust ever runs in signal context.
        unsafe { signal(sig, SigHandler::SigIgn) }.with_context(|| format!("ignoring {sig}"))?;
    }
    Ok(())
}
