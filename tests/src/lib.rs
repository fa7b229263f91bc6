//! The harness every integration test shares: the root gate, the stage
//! binaries (built on first use, so `cargo test` works on a fresh clone), the
//! rootfs fixture (built once, under a lock), `assert_cmd` commands with a
//! timeout, and containers started in the background.
//!
//! Tests never call unshare themselves (the test process is multi-threaded):
//! they spawn the stage binaries and look at the result from outside, the way a
//! learner would. What a learner checks by eye (exit status, output, the
//! `error:` and `hint:` lines) a test checks with `assert_cmd` and
//! `predicates`:
//!
//! ```text
//! stage.cmd(&["sh", "-c", "exit 7"]).checked().code(7);
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod checks;
pub mod transcript;

use std::ffi::OsStr;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use assert_cmd::assert::{Assert, OutputAssertExt};
use predicates::prelude::*;
use predicates::str::RegexPredicate;

/// How long any one container run may take before the test kills it.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The workspace root (this crate lives in `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `target/debug` (or `target/release`): where cargo put this test binary's
/// sibling executables. The test binary itself is in `<that>/deps/`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// True when the test may go on as root. Otherwise the test says
/// `skipped: needs root` and passes, unless `REQUIRE_ROOT_TESTS=1`, where a
/// skip is a failure (CI sets it, so there every isolation test really runs).
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    if std::env::var("REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
        panic!("{test}: needs root, and REQUIRE_ROOT_TESTS=1 forbids skipping it");
    }
    eprintln!("{test}: skipped: needs root");
    false
}

/// Build every stage binary once per test process. `cargo test` builds only
/// the test targets of a package without its own binaries, so the harness asks
/// cargo for them; cargo's own lock serialises concurrent test processes.
fn ensure_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root()).args(["build", "--quiet", "--workspace", "--bins"]);
        if target_dir().file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("running cargo build");
        assert!(
            out.status.success(),
            "cargo build --workspace --bins failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// The rootfs fixture: `scripts/build-rootfs.sh` into the target directory,
/// once per test process and under a file lock across processes (the script is
/// idempotent, so a second call only checks that the tree is complete).
pub fn rootfs() -> PathBuf {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS
        .get_or_init(|| {
            let dir = target_dir().join("test-rootfs");
            let lock = fs::File::create(target_dir().join("test-rootfs.lock")).unwrap();
            // SAFETY: flock on an fd we own; released when `lock` is dropped.
            assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
            let out = Command::new(workspace_root().join("scripts/build-rootfs.sh"))
                .arg(&dir)
                .output()
                .expect("running scripts/build-rootfs.sh");
            assert!(
                out.status.success(),
                "build-rootfs.sh failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // The chroot-escape lesson program goes in too (see checks::escape).
            ensure_built();
            copy_program(&target_dir().join("chroot-escape"), &dir.join("usr/bin/chroot-escape"));
            // And the seccomp probe (see src/bin/syscall-probe.rs).
            copy_program(&target_dir().join("syscall-probe"), &dir.join("usr/bin/syscall-probe"));
            drop(lock);
            dir
        })
        .clone()
}

/// A name no other test in this run uses: hostnames, cgroups, markers.
/// Copy a program that a test will run. The copy is written by `cp`, a child
/// process, and never through a descriptor of this one: the tests run in
/// parallel threads, and a thread that forks while this process holds the
/// copy open for writing hands that descriptor to its child until the child
/// execs. Running the copy in that window fails with "Text file busy"
/// (ETXTBSY), which is how `not_root_is_refused` once failed in CI.
pub fn copy_program(from: &Path, to: &Path) {
    let out = Command::new("cp")
        .arg("--")
        .arg(from)
        .arg(to)
        .stdin(Stdio::null())
        .output()
        .expect("running cp");
    assert!(
        out.status.success(),
        "cp {} {} failed: {}",
        from.display(),
        to.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A directory of the test's own in the temp directory (mode 0755, its path
/// canonical), removed however the test ends: a failed assertion, or a stage
/// that panics (as a workshop skeleton does), included.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(prefix: &str) -> Scratch {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(unique(prefix));
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        Scratch { path: fs::canonicalize(&path).unwrap() }
    }

    /// What is in it, by name, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A tmux server of the test's own (`tmux -L NAME`), for a container that
/// needs a real terminal. Dropped, however the test ends, it is killed and
/// its socket file removed: tmux leaves that in /tmp/tmux-UID/ otherwise.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn new() -> Tmux {
        Tmux { socket: unique("cfs-tmux") }
    }

    /// `tmux -L NAME ARGS…`, and what it printed.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux (apt-get install tmux)")
    }

    /// What the pane shows now.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }
}

impl Default for Tmux {
    fn default() -> Tmux {
        Tmux::new()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
        let dir =
            std::env::var_os("TMUX_TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        let uid = nix::unistd::Uid::effective();
        let _ = fs::remove_file(dir.join(format!("tmux-{uid}")).join(&self.socket));
    }
}

/// What one container run gave back.
#[derive(Debug)]
pub struct Outcome {
    /// The exit status; `None` only when the test had to kill it on timeout.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// A stage binary, with the options every run of it in a test gets (for
/// example `--rootfs` from step04 on), and who runs it.
#[derive(Clone)]
pub struct Stage {
    pub name: &'static str,
    pub base: Vec<String>,
    /// Run by an unprivileged user (step08): see `Stage::rootless`.
    pub unprivileged: bool,
}

/// The user and group a rootless stage runs as when the tests run as root.
/// setpriv takes numbers: no account is made, none is needed.
pub const TEST_UID: u32 = 4242;
pub const TEST_GID: u32 = 4242;

impl Stage {
    pub fn new(name: &'static str) -> Stage {
        Stage { name, base: Vec::new(), unprivileged: false }
    }

    /// This stage with `--rootfs <fixture>` on every run.
    pub fn with_rootfs(name: &'static str) -> Stage {
        let base = vec!["--rootfs".into(), rootfs().display().to_string()];
        Stage { name, base, unprivileged: false }
    }

    /// This stage with `--rootfs <fixture>`, run by a normal user: the tests'
    /// own user when they run as one (CI's learner phase), else TEST_UID,
    /// dropped to by `setpriv --reuid --regid --clear-groups`. That user
    /// must reach the binary and the rootfs; see `unprivileged_files`.
    pub fn rootless(name: &'static str) -> Stage {
        let (_, rootfs) = unprivileged_files(name);
        let base = vec!["--rootfs".into(), rootfs.display().to_string()];
        Stage { name, base, unprivileged: true }
    }

    /// The uid and gid the stage runs as.
    pub fn caller(&self) -> (u32, u32) {
        match self.unprivileged && nix::unistd::Uid::effective().is_root() {
            true => (TEST_UID, TEST_GID),
            false => {
                (nix::unistd::Uid::effective().as_raw(), nix::unistd::Gid::effective().as_raw())
            }
        }
    }

    /// The program that starts the stage, and its first arguments: the
    /// binary itself, or setpriv dropping to TEST_UID first.
    fn launcher(&self) -> Command {
        if !(self.unprivileged && nix::unistd::Uid::effective().is_root()) {
            return Command::new(self.bin());
        }
        let (bin, _) = unprivileged_files(self.name);
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={TEST_UID}"))
            .arg(format!("--regid={TEST_GID}"))
            .args(["--clear-groups", "--"])
            .arg(bin);
        cmd
    }

    /// The stage's binary: the workspace's own, or the learner's when
    /// `scripts/workshop.sh check` runs this stage's tests against it
    /// (`CFS_STAGE=<this stage>` and `CFS_STAGE_BIN=<their binary>`).
    pub fn bin(&self) -> PathBuf {
        if let Some(bin) = std::env::var_os("CFS_STAGE_BIN") {
            if std::env::var("CFS_STAGE").as_deref() == Ok(self.name) {
                return PathBuf::from(bin);
            }
        }
        ensure_built();
        target_dir().join(self.name)
    }

    /// The stage's number: 1 for step01-uts.
    pub fn number(&self) -> u32 {
        self.name[4..6].parse().unwrap()
    }

    /// `<stage> run <base options> <args…>`, as a command ready to spawn.
    /// The rootfs the stage runs in: its `--rootfs`, else the fixture.
    pub fn rootfs_dir(&self) -> PathBuf {
        let at = self.base.iter().position(|a| a == "--rootfs");
        at.and_then(|i| self.base.get(i + 1)).map_or_else(rootfs, PathBuf::from)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.launcher();
        cmd.arg("run").args(&self.base).args(args);
        cmd
    }

    /// Start `<stage> run <base options> <args…>` in the background.
    pub fn start(&self, args: &[&str]) -> Running {
        Running::spawn(self.command(args))
    }

    /// Run `<stage> run <base options> <args…>` to the end (or the timeout),
    /// for a test that reads the outcome as data rather than asserting on it.
    pub fn run(&self, args: &[&str]) -> Outcome {
        outcome(self.command(args))
    }

    /// `<stage> run <base options> <args…>` as an `assert_cmd` command with
    /// the harness timeout: `stage.cmd(&["true"]).checked().success()`.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::from_std(self.command(args));
        cmd.timeout(TIMEOUT);
        cmd
    }

    /// The stage binary with exactly `args`: no `run`, no base options (for
    /// tests of bad input).
    pub fn cmd_raw(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::from_std(self.launcher());
        cmd.timeout(TIMEOUT);
        cmd.args(args);
        cmd
    }
}

/// The binary and the rootfs of `stage` as TEST_UID can reach them. A
/// learner's home is often 0700 (Debian's adduser, Ubuntu), and with it
/// target/ and the fixture in it: then both are copied, once per test
/// process, into a directory of /tmp that anyone may enter, removed when the
/// test process exits. As a normal user, or where TEST_UID can reach them,
/// they are used where they are.
pub fn unprivileged_files(stage: &'static str) -> (PathBuf, PathBuf) {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    let bin = Stage::new(stage).bin();
    let rootfs = rootfs();
    if !nix::unistd::Uid::effective().is_root() {
        return (bin, rootfs);
    }
    let reachable = Command::new("setpriv")
        .arg(format!("--reuid={TEST_UID}"))
        .arg(format!("--regid={TEST_GID}"))
        .args(["--clear-groups", "--", "test", "-x"])
        .arg(&bin)
        .arg("-a")
        .arg("-r")
        .arg(rootfs.join(".rootfs-complete"))
        .status()
        .is_ok_and(|s| s.success());
    if reachable {
        return (bin, rootfs);
    }
    let dir = COPY.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("cfs-rootless-{}", std::process::id()));
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let copied = Command::new("cp").arg("-a").arg(&rootfs).arg(dir.join("rootfs")).status();
        assert!(copied.unwrap().success(), "copying the rootfs fixture for uid {TEST_UID}");
        extern "C" fn remove_copy() {
            if let Some(dir) = COPY.get() {
                let _ = fs::remove_dir_all(dir);
            }
        }
        // SAFETY: registers a plain function, run once at exit.
        unsafe { libc::atexit(remove_copy) };
        dir
    });
    let copy = dir.join(stage);
    static COPYING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = COPYING.lock().unwrap_or_else(|e| e.into_inner());
    if !copy.exists() {
        let partial = dir.join(format!(".{stage}.partial"));
        copy_program(&bin, &partial);
        fs::rename(&partial, &copy).unwrap();
    }
    (copy, dir.join("rootfs"))
}

/// A host program (`setpriv`, `unshare`, `sh`) that runs a stage for a test,
/// as an `assert_cmd` command with the harness timeout.
pub fn tool(program: impl AsRef<OsStr>) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(program);
    cmd.timeout(TIMEOUT);
    cmd
}

/// `assert_cmd`'s `assert()`, plus the one thing every run must hold: the
/// runtime never panics.
pub trait Checked {
    fn checked(&mut self) -> Assert;
}

impl Checked for assert_cmd::Command {
    #[track_caller]
    fn checked(&mut self) -> Assert {
        self.assert().stderr(never_panicked())
    }
}

/// Stderr without the marks of a Rust panic.
fn never_panicked() -> impl Predicate<str> {
    predicate::str::contains("panicked").not().and(predicate::str::contains("RUST_BACKTRACE").not())
}

/// Exactly two lines, `error: …` then `hint: …`: how every stage refuses
/// what the learner can fix.
pub fn error_then_hint() -> RegexPredicate {
    predicate::str::is_match(r"\Aerror: .*\nhint: .*\n\z").unwrap()
}

/// The output an `Assert` holds, as text, for a test that parses it.
pub fn stdout_text(assert: &Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

/// Run `cmd` with the harness timeout and check the one thing every run must
/// hold: the runtime never panics.
pub fn outcome(cmd: Command) -> Outcome {
    let out = assert_cmd::Command::from_std(cmd)
        .timeout(TIMEOUT)
        .output()
        .expect("spawning the stage binary");
    checked(out)
}

fn checked(out: std::process::Output) -> Outcome {
    let outcome = Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(never_panicked().eval(&outcome.stderr), "the runtime panicked: {outcome:?}");
    outcome
}

/// A container started in the background.
pub struct Running {
    pub runtime: std::process::Child,
    /// How it was started, for failure messages.
    command: String,
}

impl Running {
    /// Spawn `cmd` with stdout and stderr piped.
    pub fn spawn(mut cmd: Command) -> Running {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let command = format!("{cmd:?}");
        Running { runtime: cmd.spawn().expect("spawning the stage binary"), command }
    }

    /// The host PID of the runtime's child (the container's first process),
    /// once it has forked.
    pub fn child_pid(&self) -> i32 {
        let children = format!("/proc/{0}/task/{0}/children", self.runtime.id());
        wait_for(Duration::from_secs(20), || {
            fs::read_to_string(&children).ok()?.split_whitespace().next()?.parse().ok()
        })
        .expect("the runtime never started its child")
    }

    /// The cgroup the runtime makes for this container (step06 on).
    pub fn cgroup_name(&self) -> String {
        format!("c{}", self.runtime.id())
    }

    /// Wait for the runtime to exit.
    pub fn finish(self) -> Outcome {
        checked(self.runtime.wait_with_output().expect("waiting for the runtime"))
    }

    /// Wait for the runtime to exit, and assert on what it gave back as
    /// `Checked::checked` does: `running.assert().code(137)`.
    #[track_caller]
    pub fn assert(self) -> Assert {
        let out = self.runtime.wait_with_output().expect("waiting for the runtime");
        out.assert().append_context("command", self.command).stderr(never_panicked())
    }
}

/// A `sleep` argument no other test uses (`30.<unique digits>`), so a test can
/// find its own container's process by argv.
pub fn unique_secs(whole: u32) -> String {
    format!("{whole}.{}", unique("").replace('-', ""))
}

/// Generate one `#[test]` per name, each running `checks::<name>` on the
/// given stage, root-gated. Used for the checks every stage keeps.
#[macro_export]
macro_rules! root_tests {
    ($stage:expr; $($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                if $crate::root_or_skip(concat!(module_path!(), "::", stringify!($name))) {
                    $crate::checks::$name(&$stage);
                }
            }
        )+
    };
}

/// The PIDs (in the host's namespace) of every process whose argv is `argv`.
pub fn pids_with_argv(argv: &[&str]) -> Vec<i32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if fs::read(entry.path().join("cmdline")).is_ok_and(|c| c == want) {
            pids.push(pid);
        }
    }
    pids
}

/// Wait up to `limit` for `f` to give a value.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The host's hostname, read the way `hostname` does.
pub fn host_hostname() -> String {
    nix::unistd::gethostname().unwrap().to_string_lossy().into_owned()
}
