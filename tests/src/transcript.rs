//! The book's "try it" transcripts, read from its markdown and checked against
//! the real binaries by `tests/tests/book_transcripts.rs`.
//!
//! The format (the contributors' appendix, `book/src/appendix/writing-a-chapter.md`,
//! says the same for chapter authors):
//!
//! - Every fenced block whose info string is `console` is a transcript. A line
//!   starting with `$ ` is a command (a line ending in ` \` continues on the
//!   next); the lines after it, up to the next command, are what it prints,
//!   standard output and standard error together, as a terminal shows them.
//! - Each command runs on its own, in a fresh `bash -c` at the workspace root,
//!   with no standard input, `LC_ALL=C.UTF-8` and a timeout. `cargo run -q -p
//!   STAGE --` and `target/debug/STAGE` are replaced by the path of the stage
//!   binary the test harness built; any other use of `cargo` is refused.
//! - In expected output: `<PID>` and `<N>` match a number, `<ADDR>` a hex
//!   number (with or without `0x`), `<HOSTNAME>` the host's own hostname,
//!   `<ANY>` any text within the line; a line holding only `<...>` matches any
//!   number of lines, none included. Trailing blanks are ignored.
//! - The line right before the opening fence (blank lines between are allowed)
//!   may be a marker:
//!   `<!-- transcript: unchecked: REASON -->` — not run (the reason is required);
//!   `<!-- transcript: any-order: REASON -->` — run, but the lines may come in
//!   any order (for output that two processes print at the same time);
//!   `<!-- transcript: normal-user: REASON -->` — run only as a normal user
//!   with sudo (the learner's run, `.ci/run`'s learner phase), not as root.
//!   A second marker, `<!-- transcript: given: COMMAND -->`, may stand beside
//!   one of those (or alone): COMMAND runs first, out of sight, and must
//!   succeed. It stands for what the reader did between two blocks that a
//!   transcript cannot show, such as writing the code a workshop check grades
//!   (`given: scripts/workshop.sh solve 3`); it follows the rules of a command.
//! - A command that needs root outside cargo is written with `sudo` (`sudo
//!   unshare …`, `… | sudo tee FILE`), so that a learner can type it as shown.
//!   Run as root, the word `sudo` is dropped; as a normal user it is run as
//!   typed, and so are `cargo run` (its runner elevates the stage) and
//!   `target/debug/STAGE` (the learner's own build).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How a transcript block is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Run, and the output must match line by line, in order.
    Ordered,
    /// Run, and the output must match, but in any order.
    AnyOrder(String),
    /// Not run, for the reason given.
    Unchecked(String),
    /// Run, in order, only as a normal user with sudo, for the reason given.
    NormalUser(String),
}

/// One `$ command` and the lines it is expected to print.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based line of the `$ ` line in the markdown file.
    pub line: usize,
    pub command: String,
    pub expected: Vec<String>,
}

/// One ```console block.
#[derive(Debug, Clone)]
pub struct Block {
    /// 1-based line of the opening fence.
    pub line: usize,
    pub mode: Mode,
    /// A `given:` command, run out of sight before the steps, with its 1-based line.
    pub given: Option<(usize, String)>,
    pub steps: Vec<Step>,
}

/// A problem in the markdown itself, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub line: usize,
    pub message: String,
}

const MARKER: &str = "<!-- transcript:";

/// What one marker line says: how the block is checked, or a command to run first.
enum Marker {
    Mode(Mode),
    Given(String),
}

fn marker(line: &str, lineno: usize) -> Result<Marker, FormatError> {
    let err = |message: String| FormatError { line: lineno, message };
    let inner = line
        .trim()
        .strip_prefix(MARKER)
        .and_then(|rest| rest.strip_suffix("-->"))
        .ok_or_else(|| err(format!("a transcript marker must be one line: {line:?}")))?
        .trim();
    let (kind, reason) = inner.split_once(':').map_or((inner, ""), |(k, r)| (k.trim(), r.trim()));
    match (kind, reason) {
        ("given", "") => {
            Err(err(format!("the given marker needs a command: `{MARKER} given: COMMAND -->`")))
        }
        ("unchecked", "") | ("any-order", "") | ("normal-user", "") => {
            Err(err(format!("the {kind} marker needs a reason: `{MARKER} {kind}: REASON -->`")))
        }
        ("unchecked", r) => Ok(Marker::Mode(Mode::Unchecked(r.to_string()))),
        ("any-order", r) => Ok(Marker::Mode(Mode::AnyOrder(r.to_string()))),
        ("normal-user", r) => Ok(Marker::Mode(Mode::NormalUser(r.to_string()))),
        ("given", command) => Ok(Marker::Given(command.to_string())),
        _ => Err(err(format!(
            "unknown transcript marker {line:?}: expected `unchecked: REASON`, \
             `any-order: REASON`, `normal-user: REASON` or `given: COMMAND`"
        ))),
    }
}

/// The fence that opens a code block on this line: its character, length and info string.
fn fence(line: &str) -> Option<(char, usize, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let ch = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = rest.len() - rest.trim_start_matches(ch).len();
    (len >= 3).then(|| (ch, len, rest[len..].trim()))
}

/// Every transcript block in a markdown text, or every problem with them.
pub fn parse(markdown: &str) -> Result<Vec<Block>, Vec<FormatError>> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    // The markers waiting for their block, with their lines: at most one of each kind.
    let mut mode: Option<(usize, Mode)> = None;
    let mut given: Option<(usize, String)> = None;
    let orphan = |at: usize| FormatError {
        line: at,
        message: "transcript marker not followed by a ```console block".into(),
    };
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let line = lines[i];
        if line.trim_start().starts_with(MARKER) {
            match marker(line, lineno) {
                Ok(Marker::Mode(m)) => {
                    if let Some((at, _)) = mode.replace((lineno, m)) {
                        errors.push(orphan(at));
                    }
                }
                Ok(Marker::Given(c)) => {
                    if let Some((at, _)) = given.replace((lineno, c)) {
                        errors.push(orphan(at));
                    }
                }
                Err(e) => errors.push(e),
            }
            i += 1;
            continue;
        }
        if let Some((ch, len, info)) = fence(line) {
            // Find the closing fence: the same character, at least as long, nothing after.
            let close = (i + 1..lines.len()).find(|&j| {
                fence(lines[j]).is_some_and(|(c, l, rest)| c == ch && l >= len && rest.is_empty())
            });
            let Some(close) = close else {
                errors
                    .push(FormatError { line: lineno, message: "code block never closed".into() });
                break;
            };
            let is_console = info.split_whitespace().next() == Some("console");
            let (m, g) = (mode.take(), given.take());
            if is_console {
                let m = m.map_or(Mode::Ordered, |(_, m)| m);
                match parse_block(&lines[i + 1..close], lineno) {
                    Ok(steps) => blocks.push(Block { line: lineno, mode: m, given: g, steps }),
                    Err(e) => errors.push(e),
                }
            } else if let Some(at) = m.map(|(at, _)| at).or(g.map(|(at, _)| at)) {
                errors.push(FormatError {
                    line: at,
                    message: format!("transcript marker before a ```{info} block, not ```console"),
                });
            }
            i = close + 1;
            continue;
        }
        if !line.trim().is_empty() {
            errors.extend(mode.take().map(|(at, _)| orphan(at)));
            errors.extend(given.take().map(|(at, _)| orphan(at)));
        }
        i += 1;
    }
    errors.extend(mode.map(|(at, _)| orphan(at)));
    errors.extend(given.map(|(at, _)| orphan(at)));
    if errors.is_empty() {
        Ok(blocks)
    } else {
        Err(errors)
    }
}

/// The steps of one block; `body` starts on the line after the fence at `fence_line`.
fn parse_block(body: &[&str], fence_line: usize) -> Result<Vec<Step>, FormatError> {
    let mut steps: Vec<Step> = Vec::new();
    let mut j = 0;
    while j < body.len() {
        let lineno = fence_line + 1 + j;
        let line = body[j];
        if let Some(cmd) = line.strip_prefix("$ ") {
            let mut command = cmd.to_string();
            while command.ends_with('\\') && j + 1 < body.len() {
                command.pop();
                j += 1;
                command.push_str(body[j]);
            }
            if command.trim().is_empty() {
                return Err(FormatError {
                    line: lineno,
                    message: "empty command after `$ `".into(),
                });
            }
            steps.push(Step { line: lineno, command, expected: Vec::new() });
        } else if line.trim_end() == "$" {
            return Err(FormatError { line: lineno, message: "empty command after `$`".into() });
        } else if let Some(step) = steps.last_mut() {
            step.expected.push(line.to_string());
        } else {
            return Err(FormatError {
                line: lineno,
                message: "a transcript must start with a `$ ` command line".into(),
            });
        }
        j += 1;
    }
    if steps.is_empty() {
        return Err(FormatError {
            line: fence_line,
            message: "a ```console block with no `$ ` command".into(),
        });
    }
    Ok(steps)
}

/// Who runs a checked command, and so how it is run.
pub enum As<'a> {
    /// Root (CI, `scripts/test.sh`): `cargo run -q -p STAGE --` and
    /// `target/debug/STAGE` become the path the function gives for STAGE (the
    /// harness's build, wherever its target directory is), and the word
    /// `sudo` is dropped.
    Root(&'a dyn Fn(&str) -> PathBuf),
    /// A normal user with sudo: the command exactly as the book shows it.
    Learner,
}

/// The command as `who` runs it. Either way, a stage runs only as `cargo run
/// -q -p STAGE -- ARGS` or `target/debug/STAGE`, any other mention of cargo is
/// an error, and so is `sudo` with options (write plain `sudo CMD`).
pub fn rewrite(command: &str, stages: &[String], who: &As) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = command;
    let mut at_word_start = true;
    let keep = |out: &mut String, typed: &str, name: &str| match who {
        As::Root(bin) => out.push_str(&shell_quote(&bin(name))),
        As::Learner => out.push_str(typed),
    };
    while !rest.is_empty() {
        if at_word_start {
            if let Some(after) = rest.strip_prefix("cargo run -q -p ") {
                let name = after.split_whitespace().next().unwrap_or("");
                let tail = &after[name.len()..];
                if !stages.iter().any(|s| s == name) {
                    return Err(format!(
                        "`cargo run -q -p {name}`: no stage crate is called {name:?}"
                    ));
                }
                let Some(tail) =
                    tail.strip_prefix(" --").filter(|t| t.is_empty() || t.starts_with(' '))
                else {
                    return Err(format!("write `cargo run -q -p {name} -- ARGS`"));
                };
                keep(&mut out, &rest[..rest.len() - tail.len()], name);
                rest = tail;
                at_word_start = false;
                continue;
            }
            let path = rest.strip_prefix("./").unwrap_or(rest);
            if let Some(after) = path.strip_prefix("target/debug/") {
                let name: String =
                    after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                if stages.contains(&name) {
                    let tail = &after[name.len()..];
                    keep(&mut out, &rest[..rest.len() - tail.len()], &name);
                    rest = tail;
                    at_word_start = false;
                    continue;
                }
            }
            if let Some(after) = rest.strip_prefix("sudo ") {
                if after.trim_start().starts_with('-') {
                    return Err("write plain `sudo CMD` in a checked transcript: \
                                root runs it without the `sudo`"
                        .into());
                }
                rest = after.trim_start();
                if matches!(who, As::Learner) {
                    out.push_str("sudo ");
                    // `sudo cargo …` shows that sudo does not find your cargo:
                    // it never runs a build, so it may stand in a transcript.
                    if let Some(after) = rest.strip_prefix("cargo ") {
                        out.push_str("cargo ");
                        rest = after;
                        at_word_start = false;
                    }
                }
                continue;
            }
            if rest.starts_with("cargo ") || rest == "cargo" {
                return Err(
                    "a checked transcript runs a stage only as `cargo run -q -p STAGE -- ARGS` \
                     (other cargo commands print what depends on the build state): \
                     mark the block unchecked, with the reason"
                        .into(),
                );
            }
        }
        let ch = rest.chars().next().unwrap_or(' ');
        out.push(ch);
        at_word_start = ch.is_whitespace() || ";|&(".contains(ch);
        rest = &rest[ch.len_utf8()..];
    }
    Ok(out)
}

fn shell_quote(path: &Path) -> String {
    let s = path.display().to_string();
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// One piece of an expected line.
#[derive(Debug)]
enum Piece<'a> {
    Text(&'a str),
    Number,
    Hex,
    Any,
}

fn pieces<'a>(expected: &'a str, hostname: &'a str) -> Vec<Piece<'a>> {
    let mut out = Vec::new();
    let mut rest = expected;
    'outer: while !rest.is_empty() {
        for (tag, piece) in [
            ("<PID>", Piece::Number),
            ("<N>", Piece::Number),
            ("<ADDR>", Piece::Hex),
            ("<ANY>", Piece::Any),
            ("<HOSTNAME>", Piece::Text(hostname)),
        ] {
            if let Some(after) = rest.strip_prefix(tag) {
                out.push(piece);
                rest = after;
                continue 'outer;
            }
        }
        let next = rest[1..].find('<').map_or(rest.len(), |p| p + 1);
        out.push(Piece::Text(&rest[..next]));
        rest = &rest[next..];
    }
    out
}

fn match_pieces(pieces: &[Piece], actual: &str) -> bool {
    let Some((first, more)) = pieces.split_first() else {
        return actual.is_empty();
    };
    let run = |ok: fn(char) -> bool, min: usize| {
        let n = actual.find(|c: char| !ok(c)).unwrap_or(actual.len());
        (min..=n).rev().any(|k| match_pieces(more, &actual[k..]))
    };
    match first {
        Piece::Text(t) => actual.strip_prefix(t).is_some_and(|rest| match_pieces(more, rest)),
        Piece::Number => run(|c| c.is_ascii_digit(), 1),
        Piece::Hex => {
            let body = actual.strip_prefix("0x").unwrap_or(actual);
            let n = body.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(body.len());
            let skipped = actual.len() - body.len();
            (1..=n).rev().any(|k| match_pieces(more, &actual[skipped + k..]))
        }
        Piece::Any => actual
            .char_indices()
            .map(|(i, _)| i)
            .chain([actual.len()])
            .any(|i| match_pieces(more, &actual[i..])),
    }
}

/// Does one actual output line match one expected line (placeholders included)?
pub fn line_matches(expected: &str, actual: &str, hostname: &str) -> bool {
    match_pieces(&pieces(expected.trim_end(), hostname), actual.trim_end())
}

const ANY_LINES: &str = "<...>";

/// Compare what a command printed with what the transcript says. `None` when
/// they agree; otherwise a diff: `-` expected but not printed, `+` printed but
/// not expected, two spaces for lines that agree.
pub fn compare(
    expected: &[String],
    actual: &[String],
    mode: &Mode,
    hostname: &str,
) -> Option<String> {
    match mode {
        Mode::AnyOrder(_) => compare_any_order(expected, actual, hostname),
        _ => compare_in_order(expected, actual, hostname),
    }
}

fn compare_in_order(expected: &[String], actual: &[String], hostname: &str) -> Option<String> {
    let (n, m) = (expected.len(), actual.len());
    // cost[i][j]: the fewest lines left unmatched aligning expected[i..] with actual[j..].
    let mut cost = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..=n).rev() {
        for j in (0..=m).rev() {
            cost[i][j] = if i == n {
                m - j
            } else if expected[i].trim() == ANY_LINES {
                let skip = cost[i + 1][j];
                if j < m {
                    skip.min(cost[i][j + 1])
                } else {
                    skip
                }
            } else {
                let mut best = 1 + cost[i + 1][j];
                if j < m {
                    best = best.min(1 + cost[i][j + 1]);
                    if line_matches(&expected[i], &actual[j], hostname) {
                        best = best.min(cost[i + 1][j + 1]);
                    }
                }
                best
            };
        }
    }
    if cost[0][0] == 0 {
        return None;
    }
    let mut diff = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && expected[i].trim() == ANY_LINES {
            if j < m && cost[i][j] == cost[i][j + 1] {
                diff.push_str(&format!("  {}   (matched by <...>)\n", actual[j]));
                j += 1;
            } else {
                i += 1;
            }
        } else if i < n
            && j < m
            && line_matches(&expected[i], &actual[j], hostname)
            && cost[i][j] == cost[i + 1][j + 1]
        {
            diff.push_str(&format!("  {}\n", actual[j]));
            i += 1;
            j += 1;
        } else if i < n && cost[i][j] == 1 + cost[i + 1][j] {
            diff.push_str(&format!("- {}\n", expected[i]));
            i += 1;
        } else {
            diff.push_str(&format!("+ {}\n", actual[j]));
            j += 1;
        }
    }
    Some(diff)
}

fn compare_any_order(expected: &[String], actual: &[String], hostname: &str) -> Option<String> {
    let mut left: Vec<&String> = actual.iter().collect();
    let mut missing = Vec::new();
    for e in expected {
        match left.iter().position(|a| line_matches(e, a, hostname)) {
            Some(k) => {
                left.remove(k);
            }
            None => missing.push(e),
        }
    }
    if missing.is_empty() && left.is_empty() {
        return None;
    }
    let mut diff = String::from("(any order)\n");
    for e in missing {
        diff.push_str(&format!("- {e}\n"));
    }
    for a in left {
        diff.push_str(&format!("+ {a}\n"));
    }
    Some(diff)
}

/// What one command gave back.
#[derive(Debug)]
pub struct Ran {
    /// Standard output and standard error, interleaved as written.
    pub output: String,
    /// The exit status, `None` when it was killed (on timeout, or by a signal).
    pub status: Option<i32>,
    pub timed_out: bool,
}

/// Run `script` with `bash -c` in `dir`, stdout and stderr into one pipe, no
/// stdin, in a session and process group of its own that is killed when the
/// command ends or `timeout` passes, so nothing it started is left behind.
/// A session of its own also means no controlling terminal, as in CI: when
/// the tests run from a terminal, `ps` would otherwise mark the container's
/// processes as foreground (`S+`), since inside the container's PID namespace
/// both their process group and the terminal's show as 0.
pub fn run(script: &str, dir: &Path, timeout: Duration) -> std::io::Result<Ran> {
    // Close-on-exec: the command must get only 0, 1 and 2 (the book shows what it
    // does with descriptors), not our copies of the pipe.
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::from(write.try_clone()?))
        .stderr(Stdio::from(write));
    // SAFETY: setsid(2) and close_range(2) are async-signal-safe system
    // calls, and all this closure makes.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // Nor what the test process itself inherited without close-on-exec
            // (a script that started cargo test with a descriptor of its own
            // open, as bench.sh does): the book's --preserve-fds lesson counts them.
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    // `cmd` holds our copies of the pipe's write end: drop them, so the reader
    // sees end-of-file once the command's processes are gone.
    drop(cmd);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::fs::File::from(read).read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    // Wait for the exit without reaping (WNOWAIT), so the process group's ID
    // stays ours while we kill whatever the command left running in it.
    loop {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid on our own child, writing into `info`.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: reading si_pid of a siginfo_t that waitid filled (or zeroed).
        if r == 0 && unsafe { info.si_pid() } == pid {
            break;
        }
        if r != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
        if Instant::now() > deadline {
            timed_out = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: killpg on the group we created for this command.
    unsafe { libc::killpg(pid, libc::SIGKILL) };
    let status = child.wait()?.code();
    let output = rx.recv_timeout(Duration::from_secs(10)).map_err(|_| {
        std::io::Error::other(
            "the command left a process outside its process group holding the output open",
        )
    })?;
    Ok(Ran { output: String::from_utf8_lossy(&output).into_owned(), status, timed_out })
}
