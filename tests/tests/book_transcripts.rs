//! The book's "try it" transcripts agree with the binaries: every ```console
//! block in book/src is run against the real stage binaries and its output
//! compared line by line (see `container_tests::transcript` for the format), so
//! the book and the program cannot disagree.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use container_tests::transcript::{self, As, Mode};
use container_tests::{checks, host_hostname, root_or_skip, workspace_root, Stage, TIMEOUT};

/// Every markdown file under book/src, in the order a reader meets them: the
/// pages of SUMMARY.md first, in its order (so the first `run` with the
/// default rootfs is the one a learner would make first), then any other
/// file, in name order.
fn chapters() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let src = workspace_root().join("book/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    let mut out: Vec<PathBuf> = summary
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(link, _)| src.join(link)))
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    let mut all = Vec::new();
    walk(&src, &mut all);
    for path in all {
        if !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// The binaries a transcript may run, by `cargo run -q -p NAME --` or by
/// `target/debug/NAME`: the stage crates at the workspace root (step01-uts,
/// step02-self-exec, …), the chroot-escape lesson program and the seccomp
/// probe (tests/src/bin/syscall-probe.rs). Each is
/// rewritten to the binary the harness built, wherever the target directory
/// is (`target/root/` when scripts/test.sh ran as a normal user).
fn stage_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace_root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step") && workspace_root().join(n).join("Cargo.toml").is_file())
        .collect();
    names.push("chroot-escape".to_string());
    names.push("syscall-probe".to_string());
    names.sort();
    names
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace_root()).unwrap_or(path).display().to_string()
}

/// Every block of every chapter, or the list of format problems.
fn all_blocks() -> Vec<(PathBuf, transcript::Block)> {
    let mut blocks = Vec::new();
    let mut problems = Vec::new();
    for path in chapters() {
        let text = std::fs::read_to_string(&path).unwrap();
        match transcript::parse(&text) {
            Ok(found) => blocks.extend(found.into_iter().map(|b| (path.clone(), b))),
            Err(errors) => problems.extend(
                errors
                    .into_iter()
                    .map(|e| format!("{}:{}: {}", relative(&path), e.line, e.message)),
            ),
        }
    }
    assert!(problems.is_empty(), "malformed transcripts in the book:\n{}", problems.join("\n"));
    blocks
}

/// Not root-gated: the markers, the blocks and the commands are well formed,
/// and there is something to check.
#[test]
fn transcripts_are_well_formed() {
    let stages = stage_names();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (path, block) in all_blocks() {
        if matches!(block.mode, Mode::Unchecked(_)) {
            continue;
        }
        let given = block.given.iter().map(|(line, command)| (*line, command));
        for (line, command) in given.chain(block.steps.iter().map(|s| (s.line, &s.command))) {
            checked += 1;
            let as_root = As::Root(&|n| PathBuf::from(n));
            let whom = match block.mode {
                Mode::NormalUser(_) => vec![As::Learner],
                _ => vec![as_root, As::Learner],
            };
            for who in whom {
                if let Err(e) = transcript::rewrite(command, &stages, &who) {
                    problems.push(format!("{}:{line}: {e}", relative(&path)));
                    break;
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 0, "no checked transcript found under book/src");
}

/// Some chapters read the running container's cgroup from the host with a
/// glob, `containers-from-scratch/c*`, and check that none is left after: so
/// start with none. An empty container cgroup here is stale, left by an
/// earlier run (a runtime killed with SIGKILL, a crash): say so and remove it.
/// One that holds processes belongs to a container running right now, which
/// the transcripts cannot share the machine with.
fn clear_stale_container_cgroups() {
    let mut busy = Vec::new();
    for dir in checks::container_cgroups() {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        if procs.trim().is_empty() {
            match std::fs::remove_dir(&dir) {
                Ok(()) => eprintln!("book transcripts: removed a stale cgroup, {}", dir.display()),
                Err(e) => busy.push(format!("{} ({e})", dir.display())),
            }
        } else {
            busy.push(format!(
                "{} (processes {})",
                dir.display(),
                procs.split_whitespace().collect::<Vec<_>>().join(" ")
            ));
        }
    }
    assert!(
        busy.is_empty(),
        "a container is running on this machine; stop it before checking the book's transcripts:\n{}",
        busy.join("\n")
    );
}

/// Root-gated: run every checked command and compare its output (all but
/// the normal-user blocks; a `sudo` in a command is dropped).
#[test]
fn transcripts_match_the_binaries() {
    if !root_or_skip("book transcripts") {
        return;
    }
    let stages = stage_names();
    // The harness builds the stage binaries (once) and says where they are.
    let bins: Vec<(String, PathBuf)> = stages
        .iter()
        .map(|n| (n.clone(), Stage::new(Box::leak(n.clone().into_boxed_str())).bin()))
        .collect();
    let bin = |name: &str| bins.iter().find(|(n, _)| n == name).map(|(_, p)| p.clone()).unwrap();
    clear_stale_container_cgroups();
    check_every_transcript(&stages, &As::Root(&bin));
}

/// The learner's run of the book: as a normal user with passwordless sudo,
/// every checked command exactly as the book shows it (`cargo run` builds
/// into target/debug and its runner elevates the stage; `sudo` is typed), the
/// normal-user blocks included. `.ci/run` runs it in its learner phase:
/// `cargo test -p container-tests --test book_transcripts -- --ignored`.
#[test]
#[ignore = "run as a normal user with passwordless sudo (.ci/run's learner phase)"]
fn transcripts_match_as_a_normal_user_with_sudo() {
    assert!(
        !nix::unistd::Uid::effective().is_root(),
        "this is the learner's run: start it as a normal user (root runs transcripts_match_the_binaries)"
    );
    let sudo = std::process::Command::new("sudo").args(["-n", "true"]).status();
    assert!(
        sudo.is_ok_and(|s| s.success()),
        "the learner's run needs sudo without a password (`sudo -n true` failed)"
    );
    // The book types target/debug/STAGE: the stage binaries must be there.
    let debug = workspace_root().join("target/debug");
    assert_eq!(
        container_tests::target_dir(),
        debug,
        "run it with the default target directory, where the book's target/debug/ paths lead"
    );
    let stages = stage_names();
    for name in &stages {
        Stage::new(Box::leak(name.clone().into_boxed_str())).bin();
    }
    let stale = checks::container_cgroups();
    assert!(stale.is_empty(), "container cgroups are left on this machine: {stale:?}");
    check_every_transcript(&stages, &As::Learner);
}

/// Run every block `who` runs and fail with every disagreement.
fn check_every_transcript(stages: &[String], who: &As) {
    let hostname = host_hostname();
    let root = workspace_root();
    let learner = matches!(who, As::Learner);
    // The workshop's commands (the "Your turn" sections) make the reader's own
    // crates: here in a place of the harness's, never in a reader's mine/.
    let mine = container_tests::target_dir().join("book-transcripts-mine");
    let _ = std::fs::remove_dir_all(&mine);
    std::env::set_var("WORKSHOP_MINE", &mine);
    let (mut commands, mut blocks, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for (path, block) in all_blocks() {
        let runs = match &block.mode {
            Mode::Unchecked(_) => false,
            Mode::NormalUser(_) => learner,
            _ => true,
        };
        if !runs {
            skipped += 1;
            continue;
        }
        blocks += 1;
        if let Some((line, command)) = &block.given {
            let place = format!("{}:{line}: given: {command}", relative(&path));
            let ran = transcript::rewrite(command, stages, who).and_then(|s| {
                transcript::run(&s, &root, timeout(command)).map_err(|e| e.to_string())
            });
            match ran {
                Ok(ran) if ran.status == Some(0) => {}
                Ok(ran) => {
                    failures.push(format!(
                        "{place}\n  failed ({:?}); it printed:\n{}",
                        ran.status, ran.output
                    ));
                    continue;
                }
                Err(e) => {
                    failures.push(format!("{place}\n  {e}"));
                    continue;
                }
            }
        }
        for step in &block.steps {
            commands += 1;
            let place = format!("{}:{}: $ {}", relative(&path), step.line, step.command);
            let script = match transcript::rewrite(&step.command, stages, who) {
                Ok(s) => s,
                Err(e) => {
                    failures.push(format!("{place}\n  {e}"));
                    continue;
                }
            };
            // Output that two processes print at once (any-order blocks) can
            // also interleave within a line, for as long as a program writes a
            // line in several pieces: such a block gets three tries.
            let tries = if matches!(block.mode, Mode::AnyOrder(_)) { 3 } else { 1 };
            let mut last = None;
            for _ in 0..tries {
                last = check_step(step, &block.mode, &script, &root, &hostname);
                assert_eq!(host_hostname(), hostname, "{place}: changed the host's hostname");
                if last.is_none() {
                    break;
                }
            }
            if let Some(problem) = last {
                failures.push(format!(
                    "{place}
  ran: {script}
{problem}"
                ));
            }
        }
    }
    let who = if learner { "as a normal user with sudo" } else { "as root" };
    eprintln!(
        "book transcripts {who}: {commands} commands in {blocks} blocks checked, {skipped} blocks not run (unchecked{})",
        if learner { "" } else { ", or normal-user only" }
    );
    assert!(commands > 0, "no checked transcript found under book/src");
    assert!(
        failures.is_empty(),
        "{} of {commands} book transcript commands disagree with the program:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// How long a command may take: a workshop command builds a crate and runs a
/// stage's tests, which takes longer than any one container.
fn timeout(command: &str) -> Duration {
    match command.starts_with("scripts/workshop.sh ") {
        true => Duration::from_secs(600),
        false => TIMEOUT,
    }
}

/// Run one command and compare its output: `None` when the book is right.
fn check_step(
    step: &transcript::Step,
    mode: &Mode,
    script: &str,
    root: &Path,
    hostname: &str,
) -> Option<String> {
    let limit = timeout(&step.command);
    let ran = match transcript::run(script, root, limit) {
        Ok(ran) => ran,
        Err(e) => return Some(format!("  could not run it: {e}")),
    };
    if ran.timed_out {
        return Some(format!("  timed out after {limit:?}; it printed:\n{}", ran.output));
    }
    let actual: Vec<String> = ran.output.lines().map(str::to_string).collect();
    transcript::compare(&step.expected, &actual, mode, hostname)
        .map(|diff| format!("  (- the book says, + the program printed)\n{diff}"))
}

// The checker's own tests: it must fail when the book is wrong.

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_string).collect()
}

fn agree(expected: &str, actual: &str) -> bool {
    transcript::compare(&lines(expected), &lines(actual), &Mode::Ordered, "myhost").is_none()
}

#[test]
fn placeholders_match_only_what_varies() {
    assert!(agree("child <PID> started", "child 4242 started"));
    assert!(!agree("child <PID> started", "child  started"));
    assert!(!agree("child <PID> started", "child 12a started"));
    assert!(agree("<N> processes", "87 processes"));
    assert!(agree("at <ADDR>", "at 0x7ffd3a2c"));
    assert!(agree("at <ADDR>", "at deadbeef"));
    assert!(!agree("at <ADDR>", "at nowhere"));
    assert!(agree("sudo <ANY>/target/debug/x run", "sudo /home/me/w/target/debug/x run"));
    assert!(transcript::line_matches("<ANY>", "", "h"));
    assert!(agree("host is <HOSTNAME>", "host is myhost"));
    assert!(!agree("host is <HOSTNAME>", "host is box"));
    assert!(agree("a <b> c", "a <b> c"));
    assert!(agree("trailing  ", "trailing"));
}

#[test]
fn dots_match_any_number_of_lines() {
    assert!(agree("first\n<...>\nlast", "first\nlast"));
    assert!(agree("first\n<...>\nlast", "first\n2\n3\nlast"));
    assert!(agree("<...>", ""));
    assert!(!agree("first\n<...>\nlast", "first\n2\n3"));
    assert!(!agree("first\nlast", "first\n2\nlast"));
}

#[test]
fn a_wrong_transcript_fails_with_a_diff() {
    let md = "# Chapter\n\n```console\n$ echo hello; echo world\nhello\nmoon\n```\n";
    let blocks = transcript::parse(md).unwrap();
    let step = &blocks[0].steps[0];
    assert_eq!(step.line, 4);
    let ran = transcript::run(&step.command, Path::new("/"), TIMEOUT).unwrap();
    assert_eq!(ran.status, Some(0));
    let actual = lines(&ran.output);
    let diff = transcript::compare(&step.expected, &actual, &blocks[0].mode, "h")
        .expect("a wrong transcript passed");
    assert_eq!(diff, "  hello\n- moon\n+ world\n");
}

#[test]
fn stdout_and_stderr_are_compared_together() {
    let ran =
        transcript::run("echo out; echo err >&2; echo out2", Path::new("/"), TIMEOUT).unwrap();
    assert_eq!(ran.output, "out\nerr\nout2\n");
}

#[test]
fn any_order_blocks_ignore_order_but_not_content() {
    let mode = Mode::AnyOrder("test".into());
    let cmp = |e: &str, a: &str| transcript::compare(&lines(e), &lines(a), &mode, "h");
    assert!(cmp("a\nchild <PID>\nb", "b\na\nchild 7").is_none());
    assert!(cmp("a\nb", "a\nb\nc").is_some());
    assert!(cmp("a\nb", "a").is_some());
}

#[test]
fn markers_and_blocks_are_validated() {
    let ok = "<!-- transcript: unchecked: needs a second terminal -->\n\n```console\n$ x\n```\n";
    let blocks = transcript::parse(ok).unwrap();
    let given = "<!-- transcript: given: true -->\n<!-- transcript: normal-user: why -->\n```console\n$ x\n```\n";
    let both = transcript::parse(given).unwrap();
    assert_eq!(both[0].given, Some((1, "true".to_string())));
    assert!(matches!(both[0].mode, Mode::NormalUser(_)));
    assert_eq!(blocks[0].mode, Mode::Unchecked("needs a second terminal".into()));
    for bad in [
        "<!-- transcript: unchecked -->\n```console\n$ x\n```\n",
        "<!-- transcript: unchecked: -->\n```console\n$ x\n```\n",
        "<!-- transcript: sometimes: why -->\n```console\n$ x\n```\n",
        "<!-- transcript: given: -->\n```console\n$ x\n```\n",
        "<!-- transcript: given: true -->\n```rust\nfn x() {}\n```\n",
        "<!-- transcript: given: a -->\n<!-- transcript: given: b -->\n```console\n$ x\n```\n",
        "<!-- transcript: unchecked: why -->\nsome prose\n```console\n$ x\n```\n",
        "<!-- transcript: unchecked: why -->\n```rust\nfn x() {}\n```\n",
        "```console\nno command here\n```\n",
        "```console\n$ x\n",
    ] {
        assert!(transcript::parse(bad).is_err(), "accepted: {bad:?}");
    }
    // `$ ` inside another kind of block is not a transcript.
    assert!(transcript::parse("```sh\n$ x\n```\n").unwrap().is_empty());
    // A command may continue over lines ending in a backslash.
    let cont = transcript::parse("```console\n$ echo a \\\n  b\na b\n```\n").unwrap();
    assert_eq!(cont[0].steps[0].command, "echo a   b");
    assert_eq!(cont[0].steps[0].expected, vec!["a b"]);
}

#[test]
fn commands_use_the_built_binary_and_never_cargo() {
    let stages = vec!["step01-uts".to_string()];
    let bin = |n: &str| PathBuf::from("/w/target/debug").join(n);
    let rw = |c: &str| transcript::rewrite(c, &stages, &As::Root(&bin));
    let typed = |c: &str| transcript::rewrite(c, &stages, &As::Learner);
    assert_eq!(
        rw("cargo run -q -p step01-uts -- run hostname").unwrap(),
        "/w/target/debug/step01-uts run hostname"
    );
    assert_eq!(
        rw("hostname; cargo run -q -p step01-uts -- run true && hostname").unwrap(),
        "hostname; /w/target/debug/step01-uts run true && hostname"
    );
    assert_eq!(
        rw("setpriv --reuid=nobody target/debug/step01-uts run x").unwrap(),
        "setpriv --reuid=nobody /w/target/debug/step01-uts run x"
    );
    assert_eq!(rw("./target/debug/step01-uts run x").unwrap(), "/w/target/debug/step01-uts run x");
    assert!(rw("cargo run -p step01-uts -- run x").is_err());
    assert!(rw("cargo run -q -p step09-nope -- run x").is_err());
    assert!(rw("cargo run -q -p step01-uts run x").is_err());
    assert!(rw("cargo build").is_err());
    // Root needs no sudo; a learner types it, and cargo run, as shown.
    assert_eq!(rw("sudo unshare -m true").unwrap(), "unshare -m true");
    assert_eq!(rw("echo 20 | sudo tee /x/pids.max").unwrap(), "echo 20 | tee /x/pids.max");
    assert_eq!(
        rw("X=1 sudo target/debug/step01-uts run x").unwrap(),
        "X=1 /w/target/debug/step01-uts run x"
    );
    assert_eq!(rw("echo sudo"), Ok("echo sudo".to_string()));
    assert!(rw("sudo -E unshare -m true").is_err());
    for c in [
        "sudo unshare -m true",
        "cargo run -q -p step01-uts -- run hostname | head -n 1",
        "./target/debug/step01-uts run x; echo sudo",
    ] {
        assert_eq!(typed(c).unwrap(), c);
    }
    assert!(typed("cargo build").is_err());
    assert_eq!(typed("sudo cargo run -p x").unwrap(), "sudo cargo run -p x");
    assert!(rw("sudo cargo run -p x").is_err());
    assert!(typed("sudo -E true").is_err());
}

#[test]
fn a_command_that_hangs_is_killed_with_its_children() {
    let started = std::time::Instant::now();
    let ran =
        transcript::run("sleep 30 & sleep 30", Path::new("/"), Duration::from_millis(300)).unwrap();
    assert!(ran.timed_out);
    // The background sleep held the output pipe too: it was killed with the
    // group, or reading the output would have waited for it.
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}
