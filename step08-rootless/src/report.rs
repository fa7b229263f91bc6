//! The plumbing every stage shares, beside the idea in main.rs: errors with
//! a hint (`error: …` then `hint: …`), the exit status of a command that could
//! not run, the exact `sudo` command for what only root may do, `--verbose`
//! narration, and bad command lines. It is the same file in every stage where
//! it does not change, so the diff between two stages shows only their idea.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// A failed exec, reported as `docker run` does: 127 when the command does not
/// exist, 126 when it cannot be executed, 125 for anything else.
pub fn exec_failed(program: &OsString, err: &io::Error, rootfs: &Path) -> u8 {
    let name = program.to_string_lossy();
    eprintln!("error: cannot run {name} in the rootfs {}: {}", rootfs.display(), io_reason(err));
    match err.raw_os_error() {
        Some(libc::ENOENT) => {
            eprintln!("hint: the rootfs holds only what scripts/build-rootfs.sh copied into it: add {name} there, or use a tool it has");
            127
        }
        Some(libc::EACCES | libc::ENOEXEC | libc::EISDIR | libc::ETXTBSY) => {
            eprintln!("hint: is it an executable file? (`ls -l {name}`)");
            126
        }
        _ => 125,
    }
}

/// "No such file or directory", without Rust's " (os error 2)" suffix.
pub fn io_reason(err: &io::Error) -> String {
    err.raw_os_error().map_or_else(
        || err.to_string(),
        |errno| nix::errno::Errno::from_raw(errno).desc().to_string(),
    )
}

/// The exact command that reruns this one as root: `sudo <binary> <args>`.
pub fn sudo_command() -> String {
    let exe = std::env::current_exe()
        .map_or_else(|_| env!("CARGO_PKG_NAME").into(), |p| p.display().to_string());
    let args: Vec<String> = std::env::args().skip(1).map(|a| shell_quote(&a)).collect();
    format!("sudo {} {}", shell_quote(&exe), args.join(" "))
}

/// `--verbose`, set once where `run` and `child` start: every step below
/// narrates through `narrate`, and none of them takes a flag for it.
static VERBOSE: AtomicBool = AtomicBool::new(false);

pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

pub fn narrate(what: &str) {
    if VERBOSE.load(Ordering::Relaxed) {
        // One write(2) per line: the runtime and its child narrate at the
        // same time, and their lines must not mix.
        let line = format!("[{}] {what}\n", env!("CARGO_PKG_NAME"));
        let _ = io::Write::write_all(&mut io::stderr(), line.as_bytes());
    }
}

/// An error the learner can fix, with the fix: printed as `error: …` then `hint: …`.
#[derive(Debug)]
pub struct Hinted {
    pub error: anyhow::Error,
    pub hint: String,
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Hinted {}

pub fn hinted(error: anyhow::Error, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted { error, hint: hint.into() })
}

/// The runtime's exit status: the command's (`run` maps it, as `docker run`
/// does), or 125 when the runtime itself failed, after saying why.
pub fn exit_code(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            report(&err);
            ExitCode::from(125)
        }
    }
}

/// One line `error: what: why`, then the hint when there is one.
pub fn report(err: &anyhow::Error) {
    eprintln!("error: {err:#}");
    if let Some(hinted) = err.downcast_ref::<Hinted>() {
        eprintln!("hint: {}", hinted.hint);
    }
}

/// Bad command-line input: clap's one-line reason, then where to read more.
pub fn usage_error(err: clap::Error) -> ExitCode {
    if !err.use_stderr() {
        // --help and --version are not errors.
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    // clap renders a paragraph; keep its first one, joined into one line.
    let rendered = err.render().to_string();
    let first: Vec<&str> =
        rendered.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
    eprintln!("{}", first.join(" "));
    eprintln!("hint: see `{} run --help`", env!("CARGO_PKG_NAME"));
    ExitCode::from(125)
}

pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
