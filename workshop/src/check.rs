//! `check` and `status`: a stage's own tests run against the learner's
//! binary, shown as a checklist, and the results kept in `mine/.status`.

use std::fs;
use std::io::IsTerminal;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use crate::book::Book;
use crate::checklist::{self, Reason};
use crate::learner::{build, marks_of, require_started};
use crate::stages::{self, Stage};
use crate::{cargo_path, rel_to, testrun, Hinted, Paths};

/// The effective user id, from /proc/self/status.
fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

pub fn check(paths: &Paths, stage: &Stage) -> anyhow::Result<bool> {
    let dir = require_started(paths, stage)?;
    if std::env::var("WORKSHOP_BUILT").as_deref() != Ok("1") {
        build(paths, stage)?;
    }
    let as_root = effective_uid() == Some(0);
    if !as_root && !stage.rootless() {
        return Err(Hinted::new(
            "the tests need root",
            format!("run scripts/workshop.sh check {}: it runs them through sudo", stage.number),
        )
        .into());
    }
    let bin = paths.bin(stage);
    anyhow::ensure!(bin.exists(), "{} was not built", bin.display());
    let marks = marks_of(paths, stage)?;
    let target = stage.test_target();
    let shown = rel_to(&paths.root, &dir);
    println!(
        "workshop: checking {shown} with stage {}'s tests (tests/tests/{target}.rs) …",
        stage.number
    );
    // As a normal user, a rootless stage's tests run as you; those that
    // check it as root are left out.
    let left_out: &[&str] = if as_root { &[] } else { stage.needs_root() };
    let (run, mut outcomes) = run_tests(paths, stage, &bin, as_root, left_out)?;
    if outcomes.is_empty() {
        eprint!("{}", run.stderr);
        return Err(Hinted::new(
            format!("the tests of {} did not run", stage.name),
            "cargo's message above says why",
        )
        .into());
    }
    let order = |test: &str| checklist::entries(stage.number).position(|e| e.test == test);
    outcomes.sort_by_key(|o| (order(&o.test).unwrap_or(usize::MAX), o.test.clone()));
    let book = Book::new(&paths.root);
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let paint = |code: &str, text: &str| {
        if colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    // The todo!()s the learner's code reached, each once, with their messages.
    let mut reached: Vec<(String, String)> = Vec::new();
    for o in &outcomes {
        let entry = checklist::lookup(stage.number, &o.test);
        let words = entry.map_or_else(|| o.test.replace('_', " "), |e| e.words.to_string());
        if o.passed {
            println!("  {words} … {}", paint("32", "ok"));
            continue;
        }
        let failure = failure(&o.output, &marks);
        if let Some(todo) = failure.todo {
            if !reached.contains(&todo) {
                reached.push(todo);
            }
        }
        println!("  {words} … {}: {}", paint("31", "FAILED"), failure.why);
        let section = failure.section.or(entry.map(|e| e.section.to_string()));
        if let Some((chapter, id)) = section.as_deref().and_then(|s| s.split_once('#')) {
            println!("      reread {}", book.describe(chapter, id));
        }
    }
    // The crate's own unit tests, which need no root: they reach code the
    // stage's tests cannot on this host (step06's cgroup v2 writer, on a v1
    // or hybrid host, is graded against a fake cgroup tree).
    if let Some(unit) = unit_tests(paths, &dir)? {
        if unit.passed {
            println!("  {} … {}", unit.test, paint("32", "ok"));
        } else {
            let why = failure(&unit.output, &marks);
            let line = match why.todo {
                Some(todo) => {
                    if !reached.contains(&todo) {
                        reached.push(todo);
                    }
                    why.why
                }
                None => unit.output.lines().next().unwrap_or_default().to_string(),
            };
            println!("  {} … {}: {line}", unit.test, paint("31", "FAILED"));
            let section = why
                .section
                .or_else(|| marks.first().map(|m| format!("{}#{}", m.chapter, m.section)));
            if let Some((chapter, id)) = section.as_deref().and_then(|s| s.split_once('#')) {
                println!("      reread {}", book.describe(chapter, id));
            }
        }
        outcomes.push(unit);
    }
    for test in left_out {
        let words = checklist::lookup(stage.number, test).map_or(*test, |e| e.words);
        println!("  {words} … {}", paint("33", "needs root: not run"));
    }
    let passed = outcomes.iter().filter(|o| o.passed).count();
    record(paths, stage, Some((passed, outcomes.len())))?;
    let all = passed == outcomes.len() && run.success;
    if all {
        let next = match stage.number {
            8 => "that was the last stage: well done".to_string(),
            n => match stages::parse(&(n + 1).to_string()) {
                Ok(next) if paths.learner(next).join("Cargo.toml").exists() => {
                    format!(
                        "stage {} is started already: scripts/workshop.sh check {}",
                        n + 1,
                        n + 1
                    )
                }
                _ => format!("next: scripts/workshop.sh start {}", n + 1),
            },
        };
        println!("workshop: run yours: cd {shown} && cargo run -q -- run /bin/bash");
        let as_you = if left_out.is_empty() { "" } else { " that run as you" };
        println!(
            "workshop: all {}{as_you} passed: stage {} ({}) is done; {next}",
            outcomes.len(),
            stage.number,
            stage.name
        );
        if !left_out.is_empty() {
            println!(
                "workshop: the {} that need root check the stage run as root; CI runs them",
                left_out.len()
            );
        }
    } else {
        println!("workshop: {passed} of {} passed", outcomes.len());
        for (todo, message) in &reached {
            println!("workshop: your code reached {todo}: \"{message}\"");
        }
        if passed == outcomes.len() {
            eprint!("{}", run.stderr);
        }
        println!(
            "workshop: fix it in {shown}, then scripts/workshop.sh check {} again",
            stage.number
        );
    }
    Ok(all)
}

/// Why a test failed, for its line of the checklist.
struct Failure {
    why: String,
    /// The section to reread, when the failure says better than the table.
    section: Option<String>,
    /// The `todo!()` reached (`todo!() your_turn_x (src/main.rs:70)`) and its message.
    todo: Option<(String, String)>,
}

fn failure(output: &str, marks: &[crate::skeleton::Mark]) -> Failure {
    match checklist::reason(output, marks) {
        Reason::Todo { mark, what, at } => {
            // "src/main.rs:70:5" without its column.
            let at = at.map_or_else(
                || "src/".to_string(),
                |a| a.rsplit_once(':').map_or(a.clone(), |(line, _)| line.to_string()),
            );
            let name =
                mark.map_or_else(|| format!("\"{what}\""), |m| format!("your_turn_{}", m.name));
            let todo = format!("todo!() {name} ({at})");
            Failure {
                why: format!("reached {todo}"),
                section: mark.map(|m| format!("{}#{}", m.chapter, m.section)),
                todo: Some((todo, format!("your turn: {what}"))),
            }
        }
        Reason::Line(why) => Failure { why, section: None, todo: None },
    }
}

/// `cargo test` of stage `stage`'s test file against `bin`, and what each
/// test did. A run stopped at the deadline (`WORKSHOP_TIMEOUT` seconds,
/// 180 by default) is run again without the tests that had not finished, for
/// the others' messages (libtest prints them at its end); those are failures.
fn run_tests(
    paths: &Paths,
    stage: &Stage,
    bin: &Path,
    as_root: bool,
    left_out: &[&str],
) -> anyhow::Result<(testrun::Run, Vec<checklist::Outcome>)> {
    let secs = std::env::var("WORKSHOP_TIMEOUT").ok().and_then(|s| s.parse().ok()).unwrap_or(180);
    // In a UTS namespace of the run's own: a learner's runtime that renames
    // the "host" (no namespace yet, sethostname on the wrong side of it)
    // renames that one, and fails its test all the same, but the machine
    // keeps its name. (As a normal user, neither the runtime nor unshare
    // may rename the machine or make the namespace: the tests run as they are.)
    let test = |extra: &[String]| {
        let mut cmd = Command::new(if as_root { "unshare".into() } else { cargo_path() });
        if as_root {
            cmd.args(["--uts", "--"]).arg(cargo_path());
        }
        cmd.args([
            "test",
            "-p",
            "container-tests",
            "--test",
            &stage.test_target(),
            "--no-fail-fast",
        ])
        .arg("--")
        .args(extra)
        .current_dir(&paths.root)
        .env("REQUIRE_ROOT_TESTS", "1")
        .env("CFS_STAGE", stage.name)
        .env("CFS_STAGE_BIN", bin);
        cmd
    };
    let words = |test: &str| {
        checklist::lookup(stage.number, test)
            .map_or_else(|| test.replace('_', " "), |e| e.words.to_string())
    };
    let mut stopped: Vec<String> = Vec::new();
    let mut round = 0;
    loop {
        round += 1;
        let mut extra = vec!["--exact".to_string()];
        for t in stopped.iter().map(String::as_str).chain(left_out.iter().copied()) {
            extra.extend(["--skip".to_string(), t.to_string()]);
        }
        let run = testrun::run(test(&extra), Duration::from_secs(secs), |line| {
            if let Some(t) = line
                .strip_prefix("test ")
                .and_then(|l| l.strip_suffix(" has been running for over 60 seconds"))
            {
                println!("workshop: still waiting for \"{}\" (over 60 s)", words(t));
            }
        })?;
        let mut outcomes = checklist::parse_libtest(&run.stdout);
        if run.timed_out {
            // Which tests there are, to know which did not finish.
            let list = test(&["--list".to_string()]).stderr(Stdio::null()).output()?;
            let all: Vec<String> = String::from_utf8_lossy(&list.stdout)
                .lines()
                .filter_map(|l| l.strip_suffix(": test"))
                .map(str::to_string)
                .collect();
            let new: Vec<String> = all
                .into_iter()
                .filter(|t| !outcomes.iter().any(|o| o.test == *t) && !stopped.contains(t))
                .filter(|t| !left_out.contains(&t.as_str()))
                .collect();
            let shown: Vec<String> = new.iter().map(|t| format!("\"{}\"", words(t))).collect();
            if !new.is_empty() && round < 3 {
                let shown = shown.join(", ");
                println!("workshop: stopped after {secs} s: {shown} did not finish");
                println!("workshop: the other tests again, for their messages …");
                stopped.extend(new);
                continue;
            }
            stopped.extend(new);
        }
        for t in &stopped {
            outcomes.push(checklist::Outcome {
                test: t.clone(),
                passed: false,
                output: format!("did not finish in {secs} s (the workshop stopped it)\n"),
            });
        }
        return Ok((run, outcomes));
    }
}

/// `cargo test --bins` of the learner's crate, as one line of the checklist:
/// `None` when the crate has no unit tests.
fn unit_tests(paths: &Paths, dir: &Path) -> anyhow::Result<Option<checklist::Outcome>> {
    let out = Command::new(cargo_path())
        .args(["test", "--bins", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &paths.target)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context("running cargo test --bins")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tests = checklist::parse_libtest(&stdout);
    if tests.is_empty() && out.status.success() {
        return Ok(None);
    }
    let failed: Vec<&checklist::Outcome> = tests.iter().filter(|t| !t.passed).collect();
    let test = format!("your crate's own unit tests ({}, no root needed)", tests.len());
    let output = match (failed.first(), tests.is_empty()) {
        (_, true) => String::from_utf8_lossy(&out.stderr).into_owned(),
        (Some(first), _) => {
            let names: Vec<&str> = failed.iter().map(|t| t.test.as_str()).collect();
            format!(
                "{} of {} failed: {}\n{}",
                failed.len(),
                tests.len(),
                names.join(", "),
                first.output
            )
        }
        (None, _) => String::new(),
    };
    Ok(Some(checklist::Outcome { test, passed: out.status.success() && failed.is_empty(), output }))
}

/// Record the result of a check (or, with `None`, forget it: a new start).
pub fn record(paths: &Paths, stage: &Stage, result: Option<(usize, usize)>) -> anyhow::Result<()> {
    let file = paths.status_file();
    let old = fs::read_to_string(&file).unwrap_or_default();
    let mut lines: Vec<String> = old
        .lines()
        .filter(|l| l.split_whitespace().next() != Some(stage.name))
        .map(str::to_string)
        .collect();
    if let Some((passed, total)) = result {
        lines.push(format!("{} {passed} {total}", stage.name));
    }
    lines.sort();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    fs::write(&file, text).with_context(|| format!("writing {}", file.display()))
}

pub fn status(paths: &Paths) -> anyhow::Result<()> {
    let recorded = fs::read_to_string(paths.status_file()).unwrap_or_default();
    println!("{:<7}{:<28}last check", "stage", "your copy");
    let mut kept = Vec::new();
    for stage in &stages::STAGES {
        let dir = paths.learner(stage);
        let copy =
            if dir.join("Cargo.toml").exists() { rel_to(&paths.root, &dir) } else { "-".into() };
        let result = recorded
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.first() == Some(&stage.name))
            .and_then(|w| {
                Some((w.get(1)?.parse::<usize>().ok()?, w.get(2)?.parse::<usize>().ok()?))
            });
        let last = match result {
            _ if copy == "-" => "-".to_string(),
            None => "not checked yet".to_string(),
            Some((p, t)) if p == t => format!("passed ({p} of {t})"),
            Some((p, t)) => format!("{p} of {t} passed"),
        };
        println!(" {:<6}{copy:<28}{last}", stage.number);
        kept.extend(
            (1..).map(|n| format!("{}.{n}", dir.display())).take_while(|p| Path::new(p).exists()),
        );
    }
    if !kept.is_empty() {
        let kept: Vec<String> = kept.iter().map(|p| rel_to(&paths.root, Path::new(p))).collect();
        println!("earlier attempts, kept: {}", kept.join(", "));
    }
    Ok(())
}
