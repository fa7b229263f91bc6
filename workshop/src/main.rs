//! workshop: the code-along tool behind `scripts/workshop.sh`.
//!
//! `start N` gives the learner their own copy of stage N in `mine/`, with the
//! lines marked "your turn" in the stage's source left for them to write;
//! `check N` runs stage N's own integration tests against their binary and
//! shows a checklist. The script builds this program, and runs `check`'s
//! tests through sudo for a learner who is not root.

mod book;
mod check;
mod checklist;
mod learner;
mod manifest;
mod skeleton;
mod stages;
mod testrun;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

use skeleton::Fill;
use stages::Stage;

/// Code along: write each stage's idea yourself, and let that stage's own
/// tests grade it.
#[derive(Parser)]
#[command(name = "scripts/workshop.sh", bin_name = "scripts/workshop.sh")]
#[command(after_help = "\
N is a stage: 1 to 8, 01 to 08, or its crate's name (step03-pid).

A stage, the way through:
  scripts/workshop.sh start 3     your copy in mine/step03-pid, with todo!()s to write
  scripts/workshop.sh check 3     stage 3's tests against it (sudo asks, as a normal user)
  scripts/workshop.sh diff 3      what you wrote against the reference

Fallen behind? `scripts/workshop.sh solve 4` restarts you from stage 4 with its
code filled in (your own copy, if any, is kept beside it). CI uses it to prove
that the reference passes the same check.")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Make your own copy of stage N in mine/, its idea left for you to write
    Start {
        stage: String,
        /// The marked blocks filled in from the reference: the same as `solve N`
        #[arg(long)]
        reference: bool,
    },
    /// Run stage N's own tests against your copy, as a checklist
    Check { stage: String },
    /// Show your code against the reference stage
    Diff { stage: String },
    /// Which stages you have started and passed
    Status,
    /// Restart from stage N: your copy with the reference code filled in
    Solve { stage: String },
    /// Build your copy of stage N (check does this first)
    #[command(hide = true)]
    Build { stage: String },
    /// Exit 0 when stage N's check runs as you, without sudo
    #[command(hide = true)]
    Rootless { stage: String },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            let _ = err.print(); // --help
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // clap's first line, and the lines it introduces ("not provided:").
            let text = err.render().to_string();
            let mut lines = text.lines();
            let mut first = lines.next().unwrap_or("bad command line").to_string();
            if first.ends_with(':') {
                let more: Vec<&str> =
                    lines.take_while(|l| l.starts_with(' ')).map(str::trim).collect();
                first = format!("{first} {}", more.join(", "));
            }
            eprintln!("error: {}", first.trim_start_matches("error: "));
            eprintln!("hint: see scripts/workshop.sh --help");
            return ExitCode::from(2);
        }
    };
    let paths = Paths::from_env();
    let result = match cli.command {
        Cmd::Start { stage, reference } => {
            let fill = if reference { Fill::Reference } else { Fill::Todo };
            stage_arg(&stage).and_then(|s| learner::start(&paths, s, fill)).map(|()| true)
        }
        Cmd::Solve { stage } => stage_arg(&stage)
            .and_then(|s| learner::start(&paths, s, Fill::Reference))
            .map(|()| true),
        Cmd::Build { stage } => {
            stage_arg(&stage).and_then(|s| learner::build(&paths, s)).map(|()| true)
        }
        Cmd::Check { stage } => stage_arg(&stage).and_then(|s| check::check(&paths, s)),
        Cmd::Rootless { stage } => stage_arg(&stage).map(|s| s.rootless()),
        Cmd::Diff { stage } => {
            stage_arg(&stage).and_then(|s| learner::diff(&paths, s)).map(|()| true)
        }
        Cmd::Status => check::status(&paths).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            match err.downcast_ref::<Hinted>() {
                Some(h) => eprintln!("error: {}\nhint: {}", h.error, h.hint),
                None => eprintln!("error: {err:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// A failure the learner can fix: `error:` what failed, `hint:` what to do.
#[derive(Debug)]
pub struct Hinted {
    pub error: String,
    pub hint: String,
}

impl Hinted {
    pub fn new(error: impl Into<String>, hint: impl Into<String>) -> Hinted {
        Hinted { error: error.into(), hint: hint.into() }
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} (hint: {})", self.error, self.hint)
    }
}

impl std::error::Error for Hinted {}

fn stage_arg(arg: &str) -> anyhow::Result<&'static Stage> {
    Ok(stages::parse(arg)?)
}

/// Where things are: the workspace, the target directory the learner's
/// crates build in (the workspace's own, so they reuse its dependencies),
/// and `mine/`.
struct Paths {
    root: PathBuf,
    target: PathBuf,
    mine: PathBuf,
}

impl Paths {
    /// `WORKSHOP_ROOT` and `WORKSHOP_TARGET_DIR`, which scripts/workshop.sh
    /// sets (and keeps through sudo), or what they would be; `WORKSHOP_MINE`
    /// for another place than `mine/` (CI's own, in target/).
    fn from_env() -> Paths {
        let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."));
        let var = |name: &str, default: PathBuf| {
            std::env::var_os(name).filter(|v| !v.is_empty()).map_or(default, PathBuf::from)
        };
        let root = var("WORKSHOP_ROOT", built_in.to_path_buf());
        let target = var("WORKSHOP_TARGET_DIR", root.join("target"));
        let mine = var("WORKSHOP_MINE", root.join("mine"));
        Paths { root, target, mine }
    }

    fn mine(&self) -> PathBuf {
        self.mine.clone()
    }

    /// `path` as `mine/` should name it: `../rootfs` when `mine/` is in the
    /// workspace and `path` too (so that a moved clone keeps working),
    /// absolute otherwise.
    fn seen_from_mine(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.root) {
            Ok(rel) if self.mine.parent() == Some(self.root.as_path()) => Path::new("..").join(rel),
            _ => path.to_path_buf(),
        }
    }

    fn learner(&self, stage: &Stage) -> PathBuf {
        self.mine().join(stage.name)
    }

    fn bin(&self, stage: &Stage) -> PathBuf {
        self.target.join("debug").join(stage.package())
    }

    fn status_file(&self) -> PathBuf {
        self.mine().join(".status")
    }
}

/// The cargo to run: the one `CARGO` names (scripts/workshop.sh sets it
/// under sudo), or the one on PATH.
fn cargo_path() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn cargo() -> Command {
    Command::new(cargo_path())
}

/// `path` relative to the workspace, as the learner would type it.
fn rel_to(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}
