//! step01-uts: run a command in its own UTS namespace.
//!
//! The first idea of a container: the kernel can give a process its own copy of
//! a global resource. The UTS namespace holds the hostname (and NIS domain
//! name), so `hostname box` inside changes the container's name and leaves the
//! host's alone. See uts_namespaces(7) and unshare(2).

mod report;

use std::ffi::OsString;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitCode};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{signal, SigHandler, Signal};

use report::{exec_failed, exit_code, narrate, need_root, require_root, set_verbose, usage_error};

// ANCHOR: cli
/// Containers from scratch, stage 1: a new UTS namespace.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run COMMAND in a new UTS namespace and wait for it.
    Run(RunArgs),
}

#[derive(Args)]
struct RunArgs {
    /// Narrate each step on stderr.
    #[arg(long)]
    verbose: bool,
    /// The command and its arguments, passed through verbatim.
    #[arg(required = true, trailing_var_arg = true)]
    command: Vec<OsString>,
}
// ANCHOR_END: cli

fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(Cli { command: Commands::Run(args) }) => exit_code(run(&args)),
        Err(err) => usage_error(err),
    }
}

// ANCHOR: run
/// Spawn the command in a new UTS namespace and return the exit status the
/// runtime should exit with, the way `docker run` does.
fn run(args: &RunArgs) -> anyhow::Result<u8> {
    set_verbose(args.verbose);
    require_root()?;
    let command = &args.command;
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    // pre_exec runs in the forked child, after fork and before exec. unshare(2)
    // moves the calling process into a new UTS namespace, so the command we exec
    // next starts with its own copy of the hostname.
    // Only async-signal-safe work is allowed here (see `CommandExt::pre_exec`):
    // a raw syscall is fine; allocating or formatting a message is not.
    // ANCHOR: your_turn_uts -- step01-uts.md#the-key-code: in cmd's pre_exec, unshare(CLONE_NEWUTS) (an unsafe block with its SAFETY comment)
    // SAFETY: the closure runs in the forked child, between fork and exec, where
    // only async-signal-safe work is allowed: it makes raw system calls
    // (unshare) on values made before the fork, and allocates nothing.
    unsafe {
        cmd.pre_exec(|| unshare(CloneFlags::CLONE_NEWUTS).map_err(io::Error::from));
    }
    // ANCHOR_END: your_turn_uts
    narrate("fork(), then unshare(CLONE_NEWUTS) and execvp() in the child");
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) if err.raw_os_error() == Some(libc::EPERM) => {
            return Err(need_root(anyhow::Error::new(err).context("unshare(CLONE_NEWUTS)")));
        }
        Err(err) => return Ok(exec_failed(&command[0], &err)),
    };
    narrate(&format!("child {} runs {:?}", child.id(), command[0]));
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

fn ignore_terminal_signals() -> anyhow::Result<()> {
    for sig in [Signal::SIGINT, Signal::SIGQUIT] {
        // SAFETY: SIG_IGN installs no handler code: no Rust ever runs in signal context.
        unsafe { signal(sig, SigHandler::SigIgn) }.with_context(|| format!("ignoring {sig}"))?;
    }
    Ok(())
}
