//! The book's chapter sections, by the ids mdBook gives their headings, so
//! that the tool can name a section the way the reader sees it.

use std::path::{Path, PathBuf};

/// `book/src/` of the workspace.
pub struct Book {
    dir: PathBuf,
}

impl Book {
    pub fn new(root: &Path) -> Book {
        Book { dir: root.join("book/src") }
    }

    /// The heading text of `chapter#id` (`step03-pid.md`, `the-key-code`),
    /// if the chapter has it.
    pub fn heading(&self, chapter: &str, id: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join(chapter)).ok()?;
        headings(&text).into_iter().find(|(i, _)| i == id).map(|(_, h)| h)
    }

    /// Where `chapter` comes in the book (its place in SUMMARY.md), for listing
    /// a stage's todo!()s in reading order; a chapter not listed comes last.
    pub fn rank(&self, chapter: &str) -> usize {
        let summary = std::fs::read_to_string(self.dir.join("SUMMARY.md")).unwrap_or_default();
        summary.find(&format!("({chapter})")).unwrap_or(usize::MAX)
    }

    /// "The key code" in book/src/step03-pid.md (#the-key-code), or the
    /// plain path and id when the chapter has no such heading.
    pub fn describe(&self, chapter: &str, id: &str) -> String {
        match self.heading(chapter, id) {
            Some(h) => format!("\"{h}\" in book/src/{chapter}"),
            None => format!("book/src/{chapter}#{id}"),
        }
    }
}

/// Every heading of a chapter, as (id, text), outside code blocks. A repeated
/// id gets `-1`, `-2`, … as in mdBook.
pub fn headings(markdown: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let mut fence: Option<&str> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        for marker in ["```", "~~~"] {
            if trimmed.starts_with(marker) {
                fence = match fence {
                    None => Some(marker),
                    Some(m) if m == marker => None,
                    other => other,
                };
            }
        }
        if fence.is_some() || !line.starts_with('#') {
            continue;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        let Some(rest) = line[hashes..].strip_prefix(' ') else { continue };
        let text = plain(rest.trim().trim_end_matches('#').trim());
        let base = heading_id(&text);
        let count = seen.entry(base.clone()).or_insert(0);
        let id = if *count == 0 { base } else { format!("{base}-{count}") };
        *count += 1;
        out.push((id, text));
    }
    out
}

/// A heading's text as the reader sees it: no backticks, emphasis or link
/// targets.
fn plain(markdown: &str) -> String {
    let mut out = String::new();
    let mut chars = markdown.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' | '*' | '[' => {}
            ']' if chars.peek() == Some(&'(') => {
                for c in chars.by_ref() {
                    if c == ')' {
                        break;
                    }
                }
            }
            ']' => {}
            c => out.push(c),
        }
    }
    out
}

/// mdBook's id for a heading: lower case, whitespace to `-`, punctuation
/// other than `-` and `_` dropped.
pub fn heading_id(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}
