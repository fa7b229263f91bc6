//! The container's PID 1: a small init of our own, like Docker's `--init`
//! (which is tini, https://github.com/krallin/tini).
//!
//! Why not exec the command as PID 1, as the earlier stages did? PID 1 of a
//! PID namespace is special (pid_namespaces(7), "The namespace init process"):
//!
//! * The kernel delivers to it only the signals it has installed a handler
//!   for; a signal whose action is the default is dropped. A bare
//!   `sleep 100` as PID 1 ignores `kill -TERM` and the SIGINT of Ctrl-C alike:
//!   only SIGKILL (and SIGSTOP) from the parent namespace get through.
//! * Every orphan in the namespace is re-parented to PID 1, which must
//!   wait(2) for it, or it stays a zombie until the container ends.
//!
//! A shell or a server is written to do neither. So PID 1 is this init: it
//! starts the command as PID 2, passes signals on to it, reaps every child,
//! and exits with the command's status.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::signal::{
    kill, sigaction, signal, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow,
    Signal,
};
use nix::unistd::Pid;

use crate::report::narrate;

/// The signals init passes on to the command: the ones people send to ask a
/// program to stop (INT, TERM, QUIT), reload (HUP), do something of its own
/// (USR1, USR2) or redraw (WINCH).
const FORWARDED: [Signal; 7] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// The default `PATH` of a container, Docker's.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Fork+exec the command, forward signals to it, reap every zombie, and return
/// the command's exit status (code, or 128+N if killed by signal N) for PID 1
/// to exit with.
pub fn run_init(
    command: &[OsString],
    env: &[(OsString, OsString)],
    rootfs: &std::path::Path,
) -> anyhow::Result<u8> {
    let Some((program, args)) = command.split_first() else {
        anyhow::bail!("no command to run");
    };
    // ANCHOR: block
    // Block, before forking, every signal the loop below handles. A blocked
    // signal is not lost: it stays pending until sigwaitinfo(2) takes it, so
    // none slips by between the fork and the loop (the command may even exit
    // before we get there). Blocking is also how PID 1 receives them without
    // installing handlers: the kernel never drops a *blocked* signal, even
    // for PID 1 (kernel/signal.c, sig_ignored). tini does the same.
    let mut handled = SigSet::empty();
    handled.add(Signal::SIGCHLD);
    FORWARDED.iter().for_each(|&sig| handled.add(sig));
    narrate("sigprocmask(SIG_BLOCK, {SIGCHLD HUP INT QUIT TERM USR1 USR2 WINCH})");
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled), None).context("sigprocmask(SIG_BLOCK)")?;
    // ANCHOR_END: block

    let mut cmd = Command::new(program);
    cmd.args(args).env_clear().envs(env.iter().map(|(key, value)| (key, value)));
    // The command must not inherit our blocked mask: std's Command keeps the
    // parent's signal mask (it only resets SIGPIPE), and a blocked SIGTERM
    // or SIGINT would survive exec and make the command deaf to it. So, in
    // the child between fork and exec, every signal goes back to its default
    // action and the mask is emptied (sigaction(2) and sigprocmask(2) are
    // async-signal-safe, as a pre_exec closure requires).
    let empty = SigSet::empty();
    // SAFETY: the closure only makes async-signal-safe calls, on values
    // built before the fork.
    unsafe {
        cmd.pre_exec(move || reset_signals(&empty));
    }
    narrate(&format!("fork(), execvp({program:?}) with {} environment variables", env.len()));
    // A failed exec comes back here as an error: std's spawn passes the
    // child's errno back through a close-on-exec pipe (closed unread when the
    // exec succeeds), so init reports it with the right exit status.
    // The child is reaped by the waitpid(-1) loop in `reap_children`, not by `Child::wait`.
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => return Ok(crate::report::exec_failed(program, &err, rootfs)),
    };
    let command_pid = Pid::from_raw(child.id() as libc::pid_t);
    narrate(&format!("command started as PID {command_pid}"));
    // ANCHOR: tty
    // The terminal. Init leaves the command in its own process group (the
    // runtime's, which the host shell made the terminal's foreground group)
    // and does not call tcsetpgrp(3):
    // * a job-control shell (`run /bin/bash`, `run /bin/sh`) moves itself to
    //   a group of its own and takes the terminal, as it does on any login;
    // * anything else then stays in the foreground group with the runtime:
    //   Ctrl-C reaches it straight from the terminal, and Ctrl-Z stops the
    //   whole runtime, so the host shell's `fg`/`bg` work on it.
    // tini instead always moves the command to a group of its own and hands
    // it the terminal (isolate_child in tini.c). Then Ctrl-Z stops only the
    // command, which no shell is watching: the terminal hangs until someone
    // sends SIGCONT from elsewhere. (A TODO there also admits it may "steal"
    // the terminal when started in the background.)
    // Once bash has the terminal, init is in a background group. If the
    // terminal has `stty tostop`, a --verbose line from init then sends
    // SIGTTOU to init's whole group, the runtime included: the runtime
    // stops, and the host shell reports the container "Stopped" and takes
    // the terminal back from the bash inside. Ignored, the write just goes
    // through (tini ignores both too). The command gets its defaults back
    // in reset_signals.
    for sig in [Signal::SIGTTIN, Signal::SIGTTOU] {
        // SAFETY: SIG_IGN installs no handler code.
        unsafe { signal(sig, SigHandler::SigIgn) }.with_context(|| format!("ignoring {sig}"))?;
    }
    // ANCHOR_END: tty
    let status = supervise(command_pid, &handled)?;
    // Returning makes PID 1 exit; the kernel then SIGKILLs whatever is left
    // in the namespace, daemons the command started included, and PID 1's
    // parent (the runtime) sees it exit only once they are all gone
    // (pid_namespaces(7)).
    narrate(&format!("init exits with {status}"));
    Ok(status)
}

/// In the forked child, before exec: every signal at its default action and
/// none blocked, as a freshly booted program expects.
fn reset_signals(empty: &SigSet) -> io::Result<()> {
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        // SAFETY: SIG_DFL installs no handler code.
        unsafe { sigaction(sig, &default) }?;
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(empty), None)?;
    Ok(())
}

/// Take signals one by one: forward the ones meant for the command, reap
/// children on SIGCHLD, until the command itself has been reaped.
fn supervise(command: Pid, handled: &SigSet) -> anyhow::Result<u8> {
    loop {
        let info = wait_for_signal(handled)?;
        match Signal::try_from(info.si_signo) {
            Ok(Signal::SIGCHLD) => {
                if let Some(status) = reap_children(command)? {
                    return Ok(status);
                }
            }
            Ok(sig) => forward(command, sig, &info)?,
            Err(_) => {} // not one we asked for
        }
    }
}

/// sigwaitinfo(2): sleep until one of `set` is pending, dequeue it, and
/// return its siginfo_t, which says who sent it and how.
fn wait_for_signal(set: &SigSet) -> anyhow::Result<libc::siginfo_t> {
    loop {
        // SAFETY: siginfo_t is plain data, for the kernel to fill in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid sigset_t and `info` is writable.
        if unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) } > 0 {
            return Ok(info);
        }
        match Errno::last() {
            Errno::EINTR => continue,
            err => return Err(err).context("sigwaitinfo"),
        }
    }
}

// ANCHOR: forward
/// Pass a signal on to the command, unless the terminal sent it there already.
fn forward(command: Pid, sig: Signal, info: &libc::siginfo_t) -> anyhow::Result<()> {
    // Ctrl-C, Ctrl-\ and a window resize make the kernel signal every
    // process in the terminal's foreground process group (termios(3), ISIG).
    // Unless the command moved to a group of its own (a job-control shell
    // does), init shares that group with it, so the command has had this
    // very signal from the terminal: forwarding it would deliver it twice.
    // The kernel marks such a signal si_code = SI_KERNEL; one sent with
    // kill(2) has SI_USER, sigqueue(3) SI_QUEUE, tgkill(2) SI_TKILL
    // (sigaction(2), "The siginfo_t argument"). Those are someone asking the
    // *container* to stop or reload: they are forwarded.
    if info.si_code == libc::SI_KERNEL {
        narrate(&format!("{sig} from the terminal: the command has it already"));
        return Ok(());
    }
    // SAFETY: si_pid is set for the user-sent signals that reach here.
    let sender = unsafe { info.si_pid() };
    // A sender outside the namespace has no PID in it: si_pid is 0.
    narrate(&format!("{sig} from PID {sender}: kill({command}, {sig})"));
    match kill(command, sig) {
        // ESRCH: the command has just exited; its SIGCHLD is on the way.
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(err) => Err(err).with_context(|| format!("forwarding {sig} to PID {command}")),
    }
}
// ANCHOR_END: forward

// ANCHOR: reap
/// Collect every child that has exited, the command and any orphan the
/// kernel re-parented to PID 1, so none stays a zombie. Returns the command's
/// status once it is among them.
fn reap_children(command: Pid) -> anyhow::Result<Option<u8>> {
    let mut command_status = None;
    // One SIGCHLD may stand for many exits (a signal is pending or not, it
    // does not count), so reap until waitpid has nobody left to report.
    loop {
        let mut status = 0;
        // SAFETY: `status` is a writable int.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        match pid {
            0 => return Ok(command_status), // children left, none exited
            -1 => match Errno::last() {
                Errno::ECHILD => return Ok(command_status), // no children left
                Errno::EINTR => continue,
                err => return Err(err).context("waitpid(-1, WNOHANG)"),
            },
            _ => {}
        }
        // The shell's convention, which docker follows: the exit code, or
        // 128+N for death by signal N.
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        };
        let who = if pid == command.as_raw() { "the command" } else { "an orphan" };
        narrate(&format!("waitpid: PID {pid} ({who}) exited, status {code}"));
        if pid == command.as_raw() {
            command_status = Some(code as u8);
        }
    }
}
// ANCHOR_END: reap

// ANCHOR: env
/// Clean default environment plus -e overrides: `KEY=VALUE` adds or
/// overrides; `KEY` alone copies the caller's value (absent in the caller ->
/// not set, like docker).
pub fn container_env(
    hostname: &str,
    caller_term: Option<OsString>,
    overrides: &[String],
) -> anyhow::Result<Vec<(OsString, OsString)>> {
    // Nothing of the host's environment leaks in unless asked for: what a
    // container sees must not depend on who started it. TERM is the
    // exception, so that the caller's terminal keeps working.
    let mut env: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOSTNAME".into(), hostname.into()),
        ("HOME".into(), "/root".into()),
    ];
    if let Some(term) = caller_term {
        env.push(("TERM".into(), term));
    }
    for item in overrides {
        parse_env(item).map_err(|why| anyhow::anyhow!("-e {item:?}: {why}"))?;
        match item.split_once('=') {
            Some((key, value)) => set_var(&mut env, key, Some(value.into())),
            None => set_var(&mut env, item, std::env::var_os(item)),
        }
    }
    Ok(env)
}

/// Set `key` to `value` in place, or remove it when `value` is None (docker
/// removes a `-e KEY` the caller does not have, defaults included).
fn set_var(env: &mut Vec<(OsString, OsString)>, key: &str, value: Option<OsString>) {
    let position = env.iter().position(|(k, _)| k == key);
    match (position, value) {
        (Some(i), Some(value)) => env[i].1 = value,
        (Some(i), None) => {
            env.remove(i);
        }
        (None, Some(value)) => env.push((key.into(), value)),
        (None, None) => {}
    }
}
// ANCHOR_END: env

/// clap value parser for -e: refuse an empty key or a key containing '=' only
/// before the value, NUL, etc.
pub fn parse_env(s: &str) -> Result<String, String> {
    // The key is everything before the first '=', so it cannot contain one;
    // the value may (`-e OPTS=a=b`).
    let key = s.split_once('=').map_or(s, |(key, _)| key);
    if key.is_empty() {
        return Err("the name before '=' is empty; expected KEY=VALUE or KEY".into());
    }
    if key.chars().any(char::is_whitespace) {
        return Err(format!("the name {key:?} contains whitespace"));
    }
    if s.contains('\0') {
        // execve(2) takes NUL-terminated strings: it could not be passed on.
        return Err("it contains a NUL byte".into());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests;
