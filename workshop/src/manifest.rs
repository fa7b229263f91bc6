//! The learner's `Cargo.toml`: the stage's, renamed, with a workspace of its
//! own, so that it builds outside the workshop's workspace with the same
//! dependency versions and features.
//!
//! Line by line, for the simple forms the workshop's manifests use
//! (`nix.workspace = true`, one-line values); anything else is refused
//! rather than guessed at.

use std::collections::HashMap;

use anyhow::{bail, Context};

/// The root manifest's shared values: `[workspace.package]` and
/// `[workspace.dependencies]` by key, and its `[profile.*]` tables as text.
pub struct Root {
    package: HashMap<String, String>,
    dependencies: HashMap<String, String>,
    profiles: String,
}

impl Root {
    pub fn parse(text: &str) -> anyhow::Result<Root> {
        let mut root =
            Root { package: HashMap::new(), dependencies: HashMap::new(), profiles: String::new() };
        let mut section = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('[') {
                section = trimmed.to_string();
            }
            if section.starts_with("[profile.") {
                root.profiles.push_str(line);
                root.profiles.push('\n');
                continue;
            }
            let table = match section.as_str() {
                "[workspace.package]" => &mut root.package,
                "[workspace.dependencies]" => &mut root.dependencies,
                _ => continue,
            };
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('[') {
                continue;
            }
            let Some((key, value)) = trimmed.split_once('=') else {
                bail!("root Cargo.toml, {section}: {trimmed:?} is not `key = value`");
            };
            let value = value.trim();
            if value.starts_with('{') != value.ends_with('}') || value.ends_with('[') {
                bail!("root Cargo.toml, {section}: {key} spans several lines");
            }
            table.insert(key.trim().to_string(), value.to_string());
        }
        Ok(root)
    }
}

/// The stage manifest `stage` as the learner's package `package`.
pub fn rewrite(stage: &str, package: &str, root: &Root, comment: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    for line in comment.lines() {
        out.push_str(&format!("# {line}\n"));
    }
    let mut section = String::new();
    for line in stage.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_string();
            if section == "[lints]" {
                continue;
            }
        }
        if section == "[lints]" {
            // `workspace = true`: the workshop's clippy lints are not the learner's.
            continue;
        }
        if section == "[package]" && trimmed.starts_with("name") && trimmed.contains('=') {
            out.push_str(&format!("name = \"{package}\"\n"));
            continue;
        }
        if let Some(key) = trimmed.strip_suffix(".workspace = true") {
            let table = match section.as_str() {
                "[package]" => &root.package,
                s if s.ends_with("dependencies]") => &root.dependencies,
                _ => bail!("{section}: {trimmed:?}: no workspace value for that table"),
            };
            let value = table
                .get(key)
                .with_context(|| format!("{section}: {key}: not in the root Cargo.toml"))?;
            out.push_str(&format!("{key} = {value}\n"));
            continue;
        }
        if trimmed.contains("workspace") && !trimmed.starts_with('#') {
            bail!("{section}: {trimmed:?}: only `KEY.workspace = true` is understood");
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out.push_str(
        "\n# Not a member of the workshop's workspace: a workspace of its own.\n[workspace]\n",
    );
    if !root.profiles.is_empty() {
        out.push('\n');
        out.push_str(root.profiles.trim_end());
        out.push('\n');
    }
    Ok(out)
}
