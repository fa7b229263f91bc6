//! The learner's crates in `mine/`: made from a stage (`start`, `solve`),
//! built, and compared with the reference (`diff`).

use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::book::Book;
use crate::check::record;
use crate::skeleton::{self, Fill, Mark};
use crate::stages::Stage;
use crate::{cargo, manifest, rel_to, Hinted, Paths};

/// The files of `stage`'s `src/`, relative to it, sorted.
pub fn source_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let entries = fs::read_dir(dir.join(&rel))
            .with_context(|| format!("reading {}", dir.join(&rel).display()))?;
        for entry in entries {
            let entry = entry?;
            let path = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                todo.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// A learner's crate, before it is written: (path in the crate, contents),
/// and the marks it was made from.
pub struct Generated {
    files: Vec<(PathBuf, Vec<u8>)>,
    marks: Vec<Mark>,
}

/// The learner's crate for `stage`.
pub fn generate(
    paths: &Paths,
    stage: &Stage,
    fill: Fill,
    book: &Book,
) -> anyhow::Result<Generated> {
    let src = paths.root.join(stage.name).join("src");
    let describe = |m: &Mark| book.describe(&m.chapter, &m.section);
    let mut files = Vec::new();
    let mut marks = Vec::new();
    for rel in source_files(&src)? {
        let bytes =
            fs::read(src.join(&rel)).with_context(|| format!("reading {}", rel.display()))?;
        let out = if rel.extension().is_some_and(|e| e == "rs") {
            let text = String::from_utf8(bytes).with_context(|| format!("{}", rel.display()))?;
            let (out, found) = skeleton::transform(&rel.to_string_lossy(), &text, fill, &describe)?;
            marks.extend(found);
            out.into_bytes()
        } else {
            bytes
        };
        files.push((Path::new("src").join(rel), out));
    }
    if fill == Fill::Todo && !marks.is_empty() {
        let main = files
            .iter_mut()
            .find(|(p, _)| p == Path::new("src/main.rs"))
            .context("the stage has no src/main.rs")?;
        main.1 = skeleton::allow_in_main(&String::from_utf8_lossy(&main.1)).into_bytes();
    }
    let root_toml = fs::read_to_string(paths.root.join("Cargo.toml"))?;
    let stage_toml = fs::read_to_string(paths.root.join(stage.name).join("Cargo.toml"))?;
    let how = match fill {
        Fill::Todo => "start",
        Fill::Reference => "solve",
    };
    let comment = format!(
        "Your own copy of {}, made by `scripts/workshop.sh {how} {}`.\n\
         Its dependencies are the workshop's, at the versions in the copied Cargo.lock.",
        stage.name, stage.number
    );
    let root = manifest::Root::parse(&root_toml)?;
    let toml = manifest::rewrite(&stage_toml, &stage.package(), &root, &comment)
        .with_context(|| format!("{}/Cargo.toml", stage.name))?;
    files.push(("Cargo.toml".into(), toml.into_bytes()));
    files.push(("Cargo.lock".into(), fs::read(paths.root.join("Cargo.lock"))?));
    Ok(Generated { files, marks })
}

/// The reference marks of `stage`.
pub fn marks_of(paths: &Paths, stage: &Stage) -> anyhow::Result<Vec<Mark>> {
    let book = Book::new(&paths.root);
    Ok(generate(paths, stage, Fill::Todo, &book)?.marks)
}

/// `mine/` with what a learner's crate needs around it: `rootfs` and
/// `scripts` (a stage finds them beside its crate's directory), and a cargo
/// configuration that builds in the workspace's target directory.
pub fn prepare_mine(paths: &Paths) -> anyhow::Result<()> {
    let mine = paths.mine();
    fs::create_dir_all(mine.join(".cargo"))?;
    for link in ["rootfs", "scripts"] {
        if mine.join(link).symlink_metadata().is_err() {
            let to = paths.seen_from_mine(&paths.root.join(link));
            std::os::unix::fs::symlink(&to, mine.join(link)).with_context(|| {
                format!("linking {} to {}", mine.join(link).display(), to.display())
            })?;
        }
    }
    // Written again each time: an older tool's file had no runner.
    let config = mine.join(".cargo/config.toml");
    {
        let target = paths.seen_from_mine(&paths.target);
        fs::write(
            &config,
            format!(
                "# `cargo build` in mine/stepNN-…: the workspace's target directory, whose\n\
                 # compiled dependencies your crates share (scripts/workshop.sh wrote this).\n\
                 [build]\ntarget-dir = {:?}\n\n\
                 # `cargo run -- run …` in mine/stepNN-…: the workspace's runner, which runs\n\
                 # your stage (mine-stepNN-…) through sudo, as it does the reference stages.\n\
                 [target.'cfg(target_os = \"linux\")']\nrunner = \"scripts/cargo-runner.sh\"\n",
                target.display().to_string()
            ),
        )?;
    }
    Ok(())
}

/// Whether `dir` holds exactly `files` (its Cargo.lock, which cargo
/// rewrites, aside): a copy the learner has not changed.
fn untouched(dir: &Path, files: &[(PathBuf, Vec<u8>)]) -> bool {
    let same = files
        .iter()
        .filter(|(rel, _)| rel != Path::new("Cargo.lock"))
        .all(|(rel, bytes)| fs::read(dir.join(rel)).is_ok_and(|b| b == *bytes));
    let expected = files.iter().filter(|(rel, _)| rel.starts_with("src")).count();
    same && source_files(&dir.join("src")).is_ok_and(|f| f.len() == expected)
}

/// `mine/step03-pid.1`, `.2`, …: the first name free for an earlier attempt.
pub fn aside_name(dir: &Path) -> PathBuf {
    (1..)
        .map(|n| PathBuf::from(format!("{}.{n}", dir.display())))
        .find(|p| p.symlink_metadata().is_err())
        .unwrap_or_else(|| dir.with_extension("old"))
}

pub fn start(paths: &Paths, stage: &Stage, fill: Fill) -> anyhow::Result<()> {
    let book = Book::new(&paths.root);
    let Generated { files, marks } = generate(paths, stage, fill, &book)?;
    prepare_mine(paths)?;
    let dir = paths.learner(stage);
    let new = paths.mine().join(format!(".{}.new-{}", stage.name, std::process::id()));
    let written = files.iter().try_for_each(|(rel, bytes)| write_file(&new.join(rel), bytes));
    if let Err(err) = written {
        let _ = fs::remove_dir_all(&new);
        return Err(err);
    }
    if untouched(&dir, &files) {
        // Nothing of the learner's in it: made again in its place.
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        println!("workshop: your {} was as start made it: made again", rel_to(&paths.root, &dir));
    } else if dir.symlink_metadata().is_ok() {
        let aside = aside_name(&dir);
        fs::rename(&dir, &aside)
            .with_context(|| format!("moving {} to {}", dir.display(), aside.display()))?;
        println!(
            "workshop: your earlier {} is kept, as {}",
            rel_to(&paths.root, &dir),
            rel_to(&paths.root, &aside)
        );
    }
    fs::rename(&new, &dir)
        .with_context(|| format!("renaming {} to {}", new.display(), dir.display()))?;
    record(paths, stage, None)?;
    let shown = rel_to(&paths.root, &dir);
    println!(
        "workshop: {shown} is yours: stage {} ({}), as package {}",
        stage.number,
        stage.name,
        stage.package()
    );
    build(paths, stage).map_err(|err| {
        anyhow::anyhow!(
            "the new {shown} does not build ({err:#}); this is a bug of the workshop tool"
        )
    })?;
    if fill == Fill::Reference {
        println!(
            "workshop: the reference code is filled in; next: scripts/workshop.sh check {}",
            stage.number
        );
        return Ok(());
    }
    if marks.is_empty() {
        println!(
            "workshop: stage {} has no your-turn marks yet: your copy is the reference",
            stage.number
        );
        return Ok(());
    }
    // In the book's order (the files' order may differ: step07's four).
    let mut marks = marks;
    marks.sort_by_key(|m| book.rank(&m.chapter));
    let lines: usize = marks.iter().map(|m| m.code_lines).sum();
    println!("workshop: {} todo!() to write (about {lines} lines in the reference):", marks.len());
    for m in &marks {
        let call = skeleton::todo_call(&m.what);
        let text = files.iter().find(|(p, _)| *p == Path::new("src").join(&m.file)).map(|(_, t)| t);
        let line = text
            .and_then(|t| String::from_utf8_lossy(t).lines().position(|l| l.contains(&call)))
            .map_or_else(String::new, |i| format!(":{}", i + 1));
        println!("  {shown}/src/{}{line}: {}", m.file, m.what);
    }
    println!("next:");
    let mut sections: Vec<String> =
        marks.iter().map(|m| book.describe(&m.chapter, &m.section)).collect();
    sections.dedup();
    println!("  1. read {}", sections.join(", then "));
    println!("  2. replace each todo!() with your code (its comment says what to write)");
    println!("  3. scripts/workshop.sh check {}", stage.number);
    Ok(())
}

/// `cargo build` of the learner's crate; cargo's own message first when it
/// does not compile.
pub fn build(paths: &Paths, stage: &Stage) -> anyhow::Result<()> {
    let dir = require_started(paths, stage)?;
    let status = cargo()
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &paths.target)
        .stdin(Stdio::null())
        .status()
        .context("running cargo")?;
    if !status.success() {
        return Err(Hinted::new(
            format!("{} does not compile (cargo's message is above)", rel_to(&paths.root, &dir)),
            format!(
                "fix the first error cargo names (its file:line is in {}/), then check \
                 again; the todo!()'s comment names the chapter section to reread",
                rel_to(&paths.root, &dir)
            ),
        )
        .into());
    }
    Ok(())
}

pub fn require_started(paths: &Paths, stage: &Stage) -> anyhow::Result<PathBuf> {
    let dir = paths.learner(stage);
    if !dir.join("Cargo.toml").exists() {
        return Err(Hinted::new(
            format!(
                "you have not started stage {} ({}): there is no {}",
                stage.number,
                stage.name,
                rel_to(&paths.root, &dir)
            ),
            format!("start it with: scripts/workshop.sh start {}", stage.number),
        )
        .into());
    }
    Ok(dir)
}

/// `diff -ru` of the reference stage's src/ (without the book's anchors)
/// against the learner's (without the line the skeleton added).
pub fn diff(paths: &Paths, stage: &Stage) -> anyhow::Result<()> {
    let dir = require_started(paths, stage)?;
    let tmp = std::env::temp_dir().join(format!("workshop-diff-{}", std::process::id()));
    let result = diff_in(paths, stage, &dir, &tmp);
    let _ = fs::remove_dir_all(&tmp);
    result
}

fn diff_in(paths: &Paths, stage: &Stage, dir: &Path, tmp: &Path) -> anyhow::Result<()> {
    let src = paths.root.join(stage.name).join("src");
    for rel in source_files(&src)? {
        let text = fs::read_to_string(src.join(&rel))?;
        let text = skeleton::without_anchors(&text);
        write_file(&tmp.join(stage.name).join("src").join(&rel), text.as_bytes())?;
    }
    let mine_src = dir.join("src");
    for rel in source_files(&mine_src)? {
        let bytes = fs::read(mine_src.join(&rel))?;
        let bytes = match String::from_utf8(bytes) {
            Ok(text) => skeleton::without_allow(&text).into_bytes(),
            Err(e) => e.into_bytes(),
        };
        write_file(&tmp.join("mine").join(stage.name).join("src").join(&rel), &bytes)?;
    }
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut diff = Command::new("diff");
    diff.arg("-ru");
    if colour {
        diff.arg("--color=always");
    }
    let out = diff
        .arg(Path::new(stage.name).join("src"))
        .arg(Path::new("mine").join(stage.name).join("src"))
        .current_dir(tmp)
        .output()
        .context("running diff")?;
    // The copies' times in the ---/+++ lines after each "diff -ru …" line
    // mean nothing: leave them out.
    let mut header = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let plain = line.trim_start_matches(|c: char| {
            c == '\x1b' || c == '[' || c.is_ascii_digit() || c == ';' || c == 'm'
        });
        if plain.starts_with("diff ") {
            header = 2;
            println!("{}", line.replace(" '--color=always'", ""));
            continue;
        } else if header > 0 {
            header -= 1;
            if let Some((head, _time)) = line.split_once('\t') {
                println!("{head}{}", if colour { "\x1b[0m" } else { "" });
                continue;
            }
        }
        println!("{line}");
    }
    match out.status.code() {
        Some(0) => println!("workshop: no difference: your {} is the reference", stage.name),
        Some(1) => {}
        _ => anyhow::bail!("diff failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
