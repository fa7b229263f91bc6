//! One `cargo test` run of a stage's tests, under a deadline.
//!
//! The tests time each container run out, but a learner's code can still
//! leave a test waiting forever (a panic where a test did not expect one, a
//! pipe nobody closes). At the deadline the run is stopped, cargo and all
//! it started, and the tests that had not finished are reported as such.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;

/// What a run printed, and how it ended.
pub struct Run {
    /// libtest's output.
    pub stdout: String,
    /// cargo's (build messages, the "error: test failed" line).
    pub stderr: String,
    pub success: bool,
    /// Stopped at the deadline.
    pub timed_out: bool,
}

/// Run `cmd` until it ends or `limit` has passed; `on_line` sees each
/// line of its output as it comes.
pub fn run(
    mut cmd: Command,
    limit: Duration,
    mut on_line: impl FnMut(&str),
) -> anyhow::Result<Run> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().context("running cargo test")?;
    let out = child.stdout.take().context("no stdout")?;
    let mut err = child.stderr.take().context("no stderr")?;
    let (lines_tx, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let (err_tx, err_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        let _ = err_tx.send(text);
    });
    let deadline = Instant::now() + limit;
    let mut stdout = String::new();
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                on_line(&line);
                stdout.push_str(&line);
                stdout.push('\n');
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                stop_tree(child.id());
                // What was printed before the end; a process that outlived
                // the stop may hold the pipe, so do not wait for it long.
                while let Ok(line) = lines.recv_timeout(Duration::from_secs(2)) {
                    stdout.push_str(&line);
                    stdout.push('\n');
                }
                break;
            }
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    let stderr = err_rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    Ok(Run { stdout, stderr, success: status.success() && !timed_out, timed_out })
}

/// SIGTERM to `pid` and every process below it (a runtime passes it on to
/// its container and cleans up), then SIGKILL to what is left.
fn stop_tree(pid: u32) {
    for signal in ["-TERM", "-KILL"] {
        let mut pids = descendants(pid);
        pids.push(pid);
        let _ = Command::new("kill")
            .arg(signal)
            .arg("--")
            .args(pids.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status();
        thread::sleep(Duration::from_secs(2));
    }
}

/// Every process below `pid`, from the parent PIDs in /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(e.path().join("stat")).ok()?;
            // "pid (comm) state ppid …": comm may hold spaces and parentheses.
            let ppid = stat.rsplit_once(") ")?.1.split_whitespace().nth(1)?.parse().ok()?;
            Some((child, ppid))
        })
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, p)| *p == parent).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}
