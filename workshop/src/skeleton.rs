//! The learner's copy of a stage, made from the reference source and its
//! "your turn" marks:
//!
//! ```text
//!     // ANCHOR: your_turn_<name> -- <chapter>#<section>: <what to write> [<let binding>]
//!     …the reference lines…
//!     // ANCHOR_END: your_turn_<name>
//! ```
//!
//! The skeleton has each marked block replaced by a comment (the section to
//! read, what to write) and a `todo!("your turn: <what>")`; the solution has
//! the reference lines back. Both leave out every `// ANCHOR` line, which is
//! the book's plumbing. When a block declares a variable the code after it
//! uses, the mark ends in that declaration, `[let mut cmd: Command]`, and
//! the `todo!()` stands in for its value.

use anyhow::{bail, Context};

/// What goes where a marked block was.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// A comment and a `todo!()`: the learner writes the block.
    Todo,
    /// The reference lines: the stage as it is.
    Reference,
}

/// One "your turn" block of a stage.
#[derive(Clone, Debug)]
pub struct Mark {
    /// `newpid`, from `your_turn_newpid`.
    pub name: String,
    /// The file, relative to `src/`.
    pub file: String,
    /// The line of the `// ANCHOR:` in the reference file, from 1.
    pub line: usize,
    /// The chapter file in `book/src/`, and the section's heading id.
    pub chapter: String,
    pub section: String,
    /// What to write, in one line.
    pub what: String,
    /// `let mut cmd: Command`: what the block declares for the code after it.
    pub binding: Option<String>,
    /// The reference lines of the block (what the learner types), not
    /// counting blank lines and comments.
    pub code_lines: usize,
}

/// The crate-level attribute the skeleton's `main.rs` gets: the code after
/// a `todo!()` is unreachable, and what the learner has not written yet
/// leaves imports and variables unused.
pub const ALLOW_LINE: &str = "#![allow(unreachable_code, unused)] // workshop: until every todo!() is written; then remove this line";

/// The `todo!()` message of a mark, as the skeleton writes it and as a
/// panic shows it.
pub fn todo_message(what: &str) -> String {
    format!("your turn: {what}")
}

/// The `todo!(…)` call the skeleton writes for `what`.
pub fn todo_call(what: &str) -> String {
    format!("todo!(\"{}\")", escape(&todo_message(what)))
}

/// `file`'s `source` with its marked blocks filled as `fill` says, and the
/// marks it holds. `describe` names a mark's section for the comment.
pub fn transform(
    file: &str,
    source: &str,
    fill: Fill,
    describe: &dyn Fn(&Mark) -> String,
) -> anyhow::Result<(String, Vec<Mark>)> {
    let mut out = String::new();
    let mut marks = Vec::new();
    let mut open: Option<Mark> = None;
    for (i, line) in source.lines().enumerate() {
        let at = || format!("src/{file}:{}", i + 1);
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("// ANCHOR: your_turn_") {
            if let Some(mark) = &open {
                bail!("{}: your_turn_{} starts inside your_turn_{}", at(), word(rest), mark.name);
            }
            let mut mark = parse_mark(rest).with_context(at)?;
            mark.file = file.to_string();
            mark.line = i + 1;
            if fill == Fill::Todo {
                let indent = &line[..line.len() - trimmed.len()];
                let todo = todo_call(&mark.what);
                out.push_str(&format!("{indent}// Your turn ({}):\n", describe(&mark)));
                out.push_str(&format!("{indent}// {}\n", mark.what));
                match &mark.binding {
                    Some(binding) => out.push_str(&format!("{indent}{binding} = {todo};\n")),
                    None => out.push_str(&format!("{indent}{todo};\n")),
                }
            }
            open = Some(mark);
        } else if let Some(rest) = trimmed.strip_prefix("// ANCHOR_END: your_turn_") {
            let Some(mark) = open.take() else {
                bail!("{}: ANCHOR_END your_turn_{} without its ANCHOR", at(), word(rest));
            };
            if word(rest) != mark.name {
                bail!("{}: your_turn_{} ends your_turn_{}", at(), word(rest), mark.name);
            }
            if mark.code_lines == 0 {
                bail!("src/{file}:{}: your_turn_{} marks no code", mark.line, mark.name);
            }
            marks.push(mark);
        } else if is_anchor(line) {
            // The book's other anchors: not the learner's business.
        } else if let Some(mark) = &mut open {
            if !trimmed.is_empty() && !trimmed.starts_with("//") {
                mark.code_lines += 1;
            }
            if fill == Fill::Reference {
                out.push_str(line);
                out.push('\n');
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if let Some(mark) = open {
        bail!("src/{file}:{}: your_turn_{} has no ANCHOR_END", mark.line, mark.name);
    }
    Ok((out, marks))
}

/// `main.rs` with [`ALLOW_LINE`] and a blank line after its opening `//!`
/// comment (and the blank line after that).
pub fn allow_in_main(main: &str) -> String {
    let mut lines: Vec<&str> = main.lines().collect();
    let mut at = lines.iter().take_while(|l| l.starts_with("//!")).count();
    if at > 0 && lines.get(at).is_some_and(|l| l.trim().is_empty()) {
        at += 1;
    }
    lines.splice(at..at, [ALLOW_LINE, ""]);
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// A source file without what the skeleton added: [`ALLOW_LINE`] and the
/// blank line after it ([`allow_in_main`]), and the two comment lines above
/// each todo!().
pub fn without_allow(main: &str) -> String {
    let mut out = String::new();
    let mut lines = main.lines();
    while let Some(line) = lines.next() {
        if line.trim() == ALLOW_LINE {
            match lines.next() {
                Some(next) if !next.trim().is_empty() => out.push_str(&format!("{next}\n")),
                _ => {}
            }
            continue;
        }
        // The two comment lines start put above each todo!(): the learner's
        // code against the reference, not the tool's words.
        let trimmed = line.trim();
        if trimmed.starts_with("// Your turn (") && trimmed.ends_with("):") {
            let mut rest = lines.clone();
            if rest.next().is_some_and(|next| next.trim_start().starts_with("//")) {
                lines = rest;
            }
            continue;
        }
        out.push_str(&format!("{line}\n"));
    }
    out
}

/// `source` without the book's `// ANCHOR` lines.
pub fn without_anchors(source: &str) -> String {
    source.lines().filter(|l| !is_anchor(l)).map(|l| format!("{l}\n")).collect()
}

fn is_anchor(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("// ANCHOR: ") || t.starts_with("// ANCHOR_END: ")
}

/// `<name> -- <chapter>#<section>: <what> [<binding>]`, after `your_turn_`.
fn parse_mark(rest: &str) -> anyhow::Result<Mark> {
    let name = word(rest);
    let form = "the form is `// ANCHOR: your_turn_NAME -- CHAPTER.md#SECTION: WHAT TO WRITE`";
    let Some(tail) = rest[name.len()..].trim_start().strip_prefix("-- ") else {
        bail!("your_turn_{name}: no ` -- ` after the name ({form})");
    };
    let Some((place, what)) = tail.split_once(": ") else {
        bail!("your_turn_{name}: no `: ` after the section ({form})");
    };
    let Some((chapter, section)) = place.trim().split_once('#') else {
        bail!("your_turn_{name}: {place:?} is not CHAPTER.md#SECTION ({form})");
    };
    let mut what = what.trim().to_string();
    let mut binding = None;
    if what.ends_with(']') {
        if let Some(open) = what.rfind(" [let ") {
            binding = Some(what[open + 2..what.len() - 1].to_string());
            what.truncate(open);
        }
    }
    if name.is_empty() || what.is_empty() || !chapter.ends_with(".md") || section.is_empty() {
        bail!("your_turn_{name}: incomplete mark ({form})");
    }
    Ok(Mark {
        name: name.to_string(),
        file: String::new(),
        line: 0,
        chapter: chapter.to_string(),
        section: section.to_string(),
        what,
        binding,
        code_lines: 0,
    })
}

/// The first word of `s`.
fn word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

/// `s` inside a `todo!("…")`: a string literal that is also a format string.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('{', "{{").replace('}', "}}")
}
