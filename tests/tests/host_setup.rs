//! The host-setup scripts fail the way DESIGN.md asks: one `error:` line, a
//! `hint:` line, exit 1, and nothing half-built or installed. Each test really
//! runs `scripts/build-rootfs.sh` or `scripts/install-deps.sh` on a host made
//! to lack something: a tool hidden by bind-mounting /dev/null over it, a fake
//! /etc/os-release, no network, no sudo, no terminal, a rootfs with root's
//! directories in it. The hiding happens in a private mount namespace made by the
//! `unshare` binary (never by unshare(2) in this multi-threaded process), so
//! the host is never changed and tests can run in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use container_tests::{copy_program, outcome, root_or_skip, workspace_root, Outcome, Scratch};

/// Where the scripts look for tools besides the caller's PATH
/// (build-rootfs.sh uses only the last four, install-deps.sh all of them).
const SYSTEM_DIRS: [&str; 6] =
    ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// The commands install-deps.sh looks for, in its order.
const NEEDS: [&str; 13] = [
    "cc", "busybox", "ps", "ip", "unshare", "mount", "hostname", "ldd", "tmux", "capsh",
    "iptables", "nft", "sudo",
];

fn script(name: &str) -> PathBuf {
    workspace_root().join("scripts").join(name)
}

/// Copies of the scripts in a directory of their own that nobody can
/// reach, for the tests that run them as nobody: a learner's clone is often in
/// a home of mode 0700 (Debian's adduser, Ubuntu). Removed on drop.
struct Scripts(Scratch);

impl Scripts {
    fn copy() -> Scripts {
        let scratch = Scratch::new("host-setup-scripts");
        for name in ["build-rootfs.sh", "install-deps.sh", "cargo-runner.sh"] {
            copy_program(&script(name), &scratch.path.join(name));
        }
        Scripts(scratch)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path.join(name)
    }
}

/// `s` quoted for sh.
fn q(s: impl AsRef<Path>) -> String {
    format!("'{}'", s.as_ref().display().to_string().replace('\'', r"'\''"))
}

/// The caller's PATH, then the system directories, without repeats.
fn search_dirs() -> Vec<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for d in path.split(':').filter(|d| d.starts_with('/')).chain(SYSTEM_DIRS) {
        if !dirs.iter().any(|x| x == Path::new(d)) {
            dirs.push(d.into());
        }
    }
    dirs
}

/// Whether `name` is installed the way the scripts ask: an executable regular
/// file in one of `search_dirs()`.
fn installed(name: &str) -> bool {
    search_dirs().iter().any(|d| {
        fs::metadata(d.join(name)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Shell lines that hide the commands `names`: /dev/null bind-mounted over
/// every file any search directory leads to (on merged /usr, /bin/x and
/// /usr/bin/x are one file, so one mount hides both), then a check that no
/// search directory still has it as a file (exit 98 if one does).
fn mask(names: &[&str]) -> String {
    let mut targets: Vec<PathBuf> = Vec::new();
    let mut candidates = Vec::new();
    for name in names {
        for dir in search_dirs() {
            let path = dir.join(name);
            if let Ok(real) = fs::canonicalize(&path) {
                if real.is_file() && !targets.contains(&real) {
                    targets.push(real);
                }
            }
            candidates.push(path);
        }
    }
    let mut sh = String::new();
    for t in &targets {
        sh += &format!("mount --bind /dev/null {} || exit 97\n", q(t));
    }
    for c in &candidates {
        let c = q(c);
        sh += &format!(
            "if [ -f {c} ]; then printf 'mask: %s is still a file\\n' {c} >&2; exit 98; fi\n"
        );
    }
    sh
}

/// Shell lines that put a file holding `text` over /etc/os-release (onto the
/// file it links to, as it usually is a link), checked (exit 98 if not).
fn fake_os_release(scratch: &Scratch, text: &str) -> String {
    let fake = scratch.path.join("os-release");
    fs::write(&fake, text).unwrap();
    let real = fs::canonicalize("/etc/os-release").expect("this host has no /etc/os-release");
    format!(
        "mount --bind {} {} || exit 97\ncmp -s {} /etc/os-release || {{ echo 'mask: /etc/os-release is not the fake one' >&2; exit 98; }}\n",
        q(&fake),
        q(real),
        q(&fake)
    )
}

/// `sh -c '<setup>; exec <then>'` in a private mount namespace (and a new,
/// empty network namespace with `no_network`), run from the workspace.
fn in_namespace(no_network: bool, setup: &str, then: &str) -> Command {
    let mut cmd = Command::new("unshare");
    if no_network {
        cmd.arg("--net");
    }
    cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!("{setup}exec {then}"))
        .current_dir(workspace_root());
    cmd
}

/// User nobody: (uid, gid of its own group).
fn nobody() -> (u32, u32) {
    let user =
        nix::unistd::User::from_name("nobody").unwrap().expect("this host has no user nobody");
    (user.uid.as_raw(), user.gid.as_raw())
}

/// `setpriv` to become nobody, with no supplementary groups, as a shell prefix.
fn as_nobody() -> String {
    let (uid, gid) = nobody();
    format!("setpriv --reuid={uid} --regid={gid} --clear-groups")
}

/// Fail (never skip) when nobody cannot `test <want> <path>`: the tests that
/// run a script as nobody need the workspace and the temp dir reachable by it.
fn assert_nobody_can(want: &str, path: &Path) {
    let (uid, gid) = nobody();
    let ok = Command::new("setpriv")
        .args([format!("--reuid={uid}"), format!("--regid={gid}"), "--clear-groups".into()])
        .args(["test", want])
        .arg(path)
        .status()
        .expect("running setpriv")
        .success();
    if !ok {
        let chain: Vec<String> = path
            .ancestors()
            .map(|p| match fs::metadata(p) {
                Ok(m) => {
                    format!("  {:o} {}:{} {}", m.mode() & 0o7777, m.uid(), m.gid(), p.display())
                }
                Err(e) => format!("  {}: {e}", p.display()),
            })
            .collect();
        panic!(
            "user nobody fails `test {want} {}`; this test runs the scripts as nobody, so the \
             workspace and the temp dir must be reachable by it (every directory on the way o+x; \
             clone elsewhere or set TMPDIR). Modes on the way:\n{}",
            path.display(),
            chain.join("\n")
        );
    }
}

/// Every path under `dir` (itself included, links not followed) not owned by
/// `uid`:`gid`.
fn not_owned_by(dir: &Path, uid: u32, gid: u32) -> Vec<String> {
    let mut out = Vec::new();
    let meta = fs::symlink_metadata(dir).unwrap();
    if meta.uid() != uid || meta.gid() != gid {
        out.push(format!("{} ({}:{})", dir.display(), meta.uid(), meta.gid()));
    }
    if meta.is_dir() {
        for entry in fs::read_dir(dir).unwrap() {
            out.extend(not_owned_by(&entry.unwrap().path(), uid, gid));
        }
    }
    out
}

/// Fail unless everything under `dir` is `uid`:`gid`'s, naming a few that are not.
fn assert_all_owned(dir: &Path, uid: u32, gid: u32, when: &str) {
    let others = not_owned_by(dir, uid, gid);
    assert!(
        others.is_empty(),
        "{when}: {} paths under {} are not {uid}:{gid}'s, such as:\n{}",
        others.len(),
        dir.display(),
        others[..others.len().min(5)].join("\n")
    );
}

/// A refusal with any non-zero exit: stderr ending in exactly one `error:`
/// line and a `hint:` line right after it. Returns (error line, hint line).
fn error_and_hint(out: &Outcome) -> (String, String) {
    assert!(
        !matches!(out.code, Some(97 | 98)),
        "the test could not set the host up (mount or mask failed): {out:#?}"
    );
    assert!(out.code.is_some_and(|c| c != 0), "expected a failure: {out:#?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    let [.., error, hint] = lines[..] else {
        panic!("expected an error: and a hint: line: {out:#?}");
    };
    assert!(error.starts_with("error: "), "next to last line is no error: line: {out:#?}");
    assert!(hint.starts_with("hint: "), "last line is no hint: line: {out:#?}");
    let errors = lines.iter().filter(|l| l.starts_with("error:")).count();
    assert_eq!(errors, 1, "more than one error: line: {out:#?}");
    (error.to_string(), hint.to_string())
}

/// A refusal as both scripts give it: exit 1, an `error:` and a `hint:` line.
fn refusal(out: &Outcome) -> (String, String) {
    assert_eq!(out.code, Some(1), "expected exit 1: {out:#?}");
    error_and_hint(out)
}

/// The words of `line` between `after` and the next `before` (the end of the
/// line when `before` is empty).
fn words<'a>(line: &'a str, after: &str, before: &str) -> Vec<&'a str> {
    let Some((_, rest)) = line.split_once(after) else {
        panic!("no `{after}` in: {line}");
    };
    let rest = if before.is_empty() { rest } else { rest.split(before).next().unwrap() };
    rest.split_whitespace().collect()
}

/// `program args…`, ready to run.
fn command<S: AsRef<std::ffi::OsStr>>(program: impl AsRef<std::ffi::OsStr>, args: &[S]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args);
    cmd
}

/// ID and ID_LIKE of /etc/os-release, as words.
fn distribution() -> Vec<String> {
    let text = fs::read_to_string("/etc/os-release").unwrap_or_default();
    let mut words = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("ID=").or_else(|| line.strip_prefix("ID_LIKE=")) {
            words.extend(v.trim_matches(['"', '\'']).split_whitespace().map(String::from));
        }
    }
    words
}

// --- build-rootfs.sh ---------------------------------------------------------

#[test]
fn rootfs_without_busybox_is_refused_with_a_hint() {
    if !root_or_skip("rootfs_without_busybox_is_refused_with_a_hint") {
        return;
    }
    let scratch = Scratch::new("host-setup-no-busybox");
    let dir = scratch.path.join("rootfs");
    let then = format!("{} {}", q(script("build-rootfs.sh")), q(&dir));
    let out = outcome(in_namespace(false, &mask(&["busybox"]), &then));

    let (error, hint) = refusal(&out);
    assert!(
        error.starts_with("error: required host tool missing: busybox")
            && error.ends_with("(nothing was built)"),
        "wrong error line: {out:#?}"
    );
    assert!(
        hint == "hint: sudo apt-get install busybox-static"
            || hint == "hint: sudo dnf install busybox",
        "wrong hint line: {out:#?}"
    );
    // Neither DIR nor a DIR.tmp.<pid> beside it.
    assert_eq!(scratch.entries(), Vec::<String>::new(), "something was built: {out:#?}");
}

/// `scratch` handed to nobody, and a rootfs built in it by root (the script
/// hands over to the directory's owner): checked to be complete and all
/// nobody's. Returns DIR.
fn rootfs_of_nobody(scratch: &Scratch, scripts: &Scripts) -> PathBuf {
    let (uid, gid) = nobody();
    std::os::unix::fs::chown(&scratch.path, Some(uid), Some(gid)).unwrap();
    assert_nobody_can("-r", &scripts.path("build-rootfs.sh"));
    assert_nobody_can("-w", &scratch.path);
    let dir = scratch.path.join("rootfs");
    let out = outcome(command(scripts.path("build-rootfs.sh"), &[&dir]));
    assert_eq!(out.code, Some(0), "building as root for nobody failed: {out:#?}");
    assert!(
        out.stderr.contains(&format!("rootfs: building as uid {uid},")),
        "no hand-over to nobody: {out:#?}"
    );
    assert!(dir.join(".rootfs-complete").is_file(), "no stamp after a build: {out:#?}");
    assert_all_owned(&dir, uid, gid, "not all nobody's after the build");
    dir
}

/// `scripts/build-rootfs.sh DIR` run by nobody.
fn build_as_nobody(scripts: &Scripts, dir: &Path) -> Outcome {
    let then = format!("{} {} {}", as_nobody(), q(scripts.path("build-rootfs.sh")), q(dir));
    outcome(command("sh", &["-c", &format!("exec {then}")]))
}

#[test]
fn a_rootfs_with_root_dirs_is_refused_for_its_user_and_reset_takes_it_back() {
    if !root_or_skip("a_rootfs_with_root_dirs_is_refused_for_its_user_and_reset_takes_it_back") {
        return;
    }
    let (uid, gid) = nobody();
    let scratch = Scratch::new("host-setup-owned");
    let scripts = Scripts::copy();
    let dir = rootfs_of_nobody(&scratch, &scripts);
    let stamp = dir.join(".rootfs-complete");

    // A container running as root left a file in /tmp: no obstacle to an update.
    let file = dir.join("tmp/written-by-a-container");
    fs::write(&file, "root was here\n").unwrap();
    assert_eq!(fs::metadata(&file).unwrap().uid(), 0);
    let out = build_as_nobody(&scripts, &dir);
    assert_eq!(out.code, Some(0), "a root file in /tmp stopped the update: {out:#?}");
    assert!(stamp.is_file(), "no stamp after the update: {out:#?}");
    assert!(file.is_file(), "the update removed a file it does not make: {out:#?}");

    // A directory of root's where the script writes: nobody is refused, with
    // the way back, and nothing is touched.
    let foreign = dir.join("etc/made-by-root");
    fs::create_dir(&foreign).unwrap();
    assert_eq!(fs::metadata(&foreign).unwrap().uid(), 0);
    let out = build_as_nobody(&scripts, &dir);
    let (error, hint) = refusal(&out);
    assert!(
        error.starts_with(&format!(
            "error: {} is not all yours: {} belongs to root",
            dir.display(),
            foreign.display()
        )),
        "wrong error line: {out:#?}"
    );
    assert!(
        hint.contains(&format!("scripts/build-rootfs.sh --reset {}", dir.display())),
        "the hint does not offer --reset: {out:#?}"
    );
    assert!(stamp.is_file(), "the refused run removed the stamp: {out:#?}");
    assert!(foreign.is_dir(), "the refused run removed root's directory: {out:#?}");
    assert_eq!(
        scratch.entries(),
        ["rootfs"],
        "the refused run left something beside DIR: {out:#?}"
    );

    // --reset (as root) removes it and builds it again, all nobody's.
    let out = outcome(command(scripts.path("build-rootfs.sh"), &[Path::new("--reset"), &dir]));
    assert_eq!(out.code, Some(0), "--reset failed: {out:#?}");
    assert!(!foreign.exists() && !file.exists(), "--reset kept root's files: {out:#?}");
    assert!(stamp.is_file(), "no stamp after --reset: {out:#?}");
    assert_all_owned(&dir, uid, gid, "not all nobody's after --reset");
    assert_eq!(scratch.entries(), ["rootfs"], "--reset left something beside DIR: {out:#?}");
}

/// A rootfs an older version built as root (every directory root's), the
/// case the refusal is for: error: and hint:, not a silent exit (once, a
/// `find | head` under pipefail ended the script with 141).
#[test]
fn a_rootfs_an_older_version_built_as_root_is_refused_with_a_hint() {
    if !root_or_skip("a_rootfs_an_older_version_built_as_root_is_refused_with_a_hint") {
        return;
    }
    let scratch = Scratch::new("host-setup-all-root");
    let scripts = Scripts::copy();
    let dir = rootfs_of_nobody(&scratch, &scripts);
    let status = Command::new("chown").args(["-R", "0:0"]).arg(&dir).status().unwrap();
    assert!(status.success());
    let out = build_as_nobody(&scripts, &dir);
    let (error, hint) = refusal(&out);
    assert!(error.starts_with(&format!("error: {} is not all yours: ", dir.display())), "{out:#?}");
    assert!(hint.contains("--reset"), "{out:#?}");
}

/// An existing, empty DIR of the user's (no usr/ or etc/ yet) is built in,
/// as the script's header says of an existing DIR.
#[test]
fn an_empty_dir_of_the_users_is_built_in() {
    if !root_or_skip("an_empty_dir_of_the_users_is_built_in") {
        return;
    }
    let (uid, gid) = nobody();
    let scratch = Scratch::new("host-setup-empty-dir");
    let dir = scratch.path.join("rootfs");
    fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    let scripts = Scripts::copy();
    assert_nobody_can("-r", &scripts.path("build-rootfs.sh"));
    let out = build_as_nobody(&scripts, &dir);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(dir.join(".rootfs-complete").is_file(), "no stamp: {out:#?}");
    assert_all_owned(&dir, uid, gid, "not all nobody's after the build");
}

/// `--reset DIR` run as root, when DIR does not exist yet, still builds it as
/// the owner of the directory it goes in.
#[test]
fn reset_of_a_missing_rootfs_builds_it_as_the_directory_owner() {
    if !root_or_skip("reset_of_a_missing_rootfs_builds_it_as_the_directory_owner") {
        return;
    }
    let (uid, gid) = nobody();
    let scratch = Scratch::new("host-setup-reset-new");
    std::os::unix::fs::chown(&scratch.path, Some(uid), Some(gid)).unwrap();
    let scripts = Scripts::copy();
    assert_nobody_can("-r", &scripts.path("build-rootfs.sh"));
    let dir = scratch.path.join("rootfs");
    let out = outcome(command(scripts.path("build-rootfs.sh"), &[Path::new("--reset"), &dir]));
    assert_eq!(out.code, Some(0), "--reset failed: {out:#?}");
    assert_all_owned(&dir, uid, gid, "not all nobody's after --reset");
}

#[test]
fn build_rootfs_refuses_bad_arguments_before_creating_anything() {
    let scratch = Scratch::new("host-setup-rootfs-args");
    let dir = scratch.path.join("rootfs");
    let run = |args: &[&Path]| {
        let mut cmd = Command::new(script("build-rootfs.sh"));
        cmd.args(args).current_dir(&scratch.path);
        outcome(cmd)
    };

    let out = run(&[Path::new("--bogus"), &dir]);
    let (error, hint) = refusal(&out);
    assert_eq!(error, "error: unknown option: --bogus", "{out:#?}");
    assert_eq!(hint, "hint: usage: scripts/build-rootfs.sh [--reset] [DIR]", "{out:#?}");

    let other = scratch.path.join("other");
    let out = run(&[&dir, &other]);
    let (error, hint) = refusal(&out);
    assert_eq!(
        error,
        format!("error: too many arguments: {} {}", dir.display(), other.display()),
        "{out:#?}"
    );
    assert_eq!(hint, "hint: usage: scripts/build-rootfs.sh [--reset] [DIR]", "{out:#?}");

    assert_eq!(scratch.entries(), Vec::<String>::new(), "a refused run created something");
}

/// After --reset, an option is refused, not taken as DIR (`--reset --bogus`
/// must not build ./--bogus).
#[test]
fn build_rootfs_refuses_an_option_after_reset() {
    let scratch = Scratch::new("host-setup-reset-option");
    let out = outcome({
        let mut cmd = Command::new(script("build-rootfs.sh"));
        cmd.args(["--reset", "--bogus"]).current_dir(&scratch.path);
        cmd
    });
    let (error, _hint) = error_and_hint(&out);
    assert!(error.contains("--bogus"), "{out:#?}");
    assert_eq!(scratch.entries(), Vec::<String>::new(), "a refused run created something");
}

// --- install-deps.sh ---------------------------------------------------------

#[test]
fn install_deps_on_an_unknown_distribution_names_the_packages() {
    if !root_or_skip("install_deps_on_an_unknown_distribution_names_the_packages") {
        return;
    }
    let scratch = Scratch::new("host-setup-plan9");
    let setup = fake_os_release(&scratch, "ID=plan9\n") + &mask(&["tmux"]);
    let out = outcome(in_namespace(false, &setup, &q(script("install-deps.sh"))));

    let (error, hint) = refusal(&out);
    assert!(error.starts_with("error: missing "), "wrong error line: {out:#?}");
    assert!(
        words(&error, "error: missing ", ", and").contains(&"tmux"),
        "the error does not name tmux: {out:#?}"
    );
    assert!(
        error.ends_with("(this is plan9)"),
        "the error does not name the distribution: {out:#?}"
    );
    assert!(
        words(&hint, "(Debian names: ", ")").contains(&"tmux"),
        "the hint does not name the package tmux: {out:#?}"
    );
    assert!(!out.stderr.contains("installing with"), "it went on to install: {out:#?}");
}

#[test]
fn install_deps_without_sudo_as_a_normal_user() {
    if !root_or_skip("install_deps_without_sudo_as_a_normal_user") {
        return;
    }
    let scripts = Scripts::copy();
    let install = scripts.path("install-deps.sh");
    assert_nobody_can("-r", &install);
    let scratch = Scratch::new("host-setup-no-sudo");
    // A Debian host, whatever this one is: the path to the sudo check is fixed.
    let setup = fake_os_release(&scratch, "ID=debian\n") + &mask(&["tmux", "sudo"]);
    let out = outcome(in_namespace(false, &setup, &format!("{} {}", as_nobody(), q(&install))));

    let (error, hint) = refusal(&out);
    assert!(
        error.starts_with("error: missing ")
            && error.ends_with(", and installing them needs root, but sudo is not installed"),
        "wrong error line: {out:#?}"
    );
    let missing = words(&error, "error: missing ", ", and");
    assert!(missing.contains(&"tmux") && missing.contains(&"sudo"), "wrong tools named: {out:#?}");
    assert!(hint.starts_with("hint: as root, run: apt-get install "), "wrong hint line: {out:#?}");
    let packages = words(&hint, "apt-get install ", "");
    assert!(
        packages.contains(&"tmux") && packages.contains(&"sudo"),
        "wrong packages named: {out:#?}"
    );
    assert!(!out.stderr.contains("install-deps: apt-get"), "it went on to install: {out:#?}");
}

#[test]
fn install_deps_when_sudo_wants_a_password_and_there_is_no_terminal() {
    if !root_or_skip("install_deps_when_sudo_wants_a_password_and_there_is_no_terminal") {
        return;
    }
    assert!(installed("sudo"), "this test needs sudo installed (apt-get install sudo)");
    let scripts = Scripts::copy();
    let install = scripts.path("install-deps.sh");
    assert_nobody_can("-r", &install);
    let scratch = Scratch::new("host-setup-sudo-password");
    let setup = fake_os_release(&scratch, "ID=debian\n") + &mask(&["tmux"]);
    // A new session: no controlling terminal; stdin is no terminal either.
    let then = format!("setsid --wait {} {} </dev/null", as_nobody(), q(&install));
    let out = outcome(in_namespace(false, &setup, &then));

    let (error, hint) = refusal(&out);
    assert!(
        error.starts_with("error: installing needs sudo, which cannot go on without a password (")
            && error.ends_with("), and there is no terminal to type one"),
        "wrong error line: {out:#?}"
    );
    assert!(
        hint.starts_with(
            "hint: run scripts/test.sh from a terminal, or first: sudo apt-get install "
        ),
        "wrong hint line: {out:#?}"
    );
    assert!(
        words(&hint, "apt-get install ", "").contains(&"tmux"),
        "the hint does not name tmux: {out:#?}"
    );
    assert!(!out.stderr.contains("install-deps: apt-get"), "it went on to install: {out:#?}");
}

#[test]
fn install_deps_without_network_installs_nothing() {
    if !root_or_skip("install_deps_without_network_installs_nothing") {
        return;
    }
    let distribution = distribution();
    let is = |d: &str| distribution.iter().any(|w| w == d);
    let then = q(script("install-deps.sh"));
    let out = outcome(in_namespace(true, &mask(&["tmux"]), &then));

    let (error, hint) = refusal(&out);
    if is("debian") || is("ubuntu") {
        assert_eq!(
            error,
            "error: apt-get update could not reach the package archive, so nothing was installed",
            "{out:#?}"
        );
        assert!(hint.starts_with("hint: check the network"), "wrong hint line: {out:#?}");
        assert!(
            words(&hint, "sudo apt-get install ", "").contains(&"tmux"),
            "the hint does not name tmux: {out:#?}"
        );
        assert!(
            out.stderr.contains("install-deps: apt-get update\n"),
            "no apt-get update: {out:#?}"
        );
        assert!(
            out.stderr.lines().any(|l| l.starts_with("  W: ") || l.starts_with("  E: ")),
            "apt-get's own complaint is not shown: {out:#?}"
        );
        assert!(
            !out.stderr.contains("install-deps: apt-get install"),
            "it went on to install: {out:#?}"
        );
    } else if is("fedora") {
        // tmux is installed (only hidden), so dnf may find nothing to do: then
        // the script must say it is still missing, never that it is installed.
        assert!(
            error.starts_with("error: dnf install ")
                || error.contains("still cannot be found on PATH"),
            "wrong error line: {out:#?}"
        );
        assert!(!out.stderr.contains("install-deps: installed:"), "{out:#?}");
    } else {
        assert!(error.contains("installs packages only on Debian, Ubuntu and Fedora"), "{out:#?}");
    }
}

#[test]
fn install_deps_check_agrees_with_what_is_on_the_path() {
    let missing: Vec<&str> = NEEDS.into_iter().filter(|c| !installed(c)).collect();
    let out = outcome(command(script("install-deps.sh"), &["--check"]));
    if missing.is_empty() {
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert_eq!(
            out.stderr, "install-deps: every tool the workshop needs is installed\n",
            "{out:#?}"
        );
    } else {
        assert_eq!(out.code, Some(1), "{out:#?}");
        let want = format!("install-deps: missing: {} (Debian packages: ", missing.join(" "));
        assert!(out.stderr.starts_with(&want), "expected `{want}…`: {out:#?}");
        assert!(!out.stderr.contains("installing with"), "--check went on to install: {out:#?}");
    }
}

#[test]
fn install_deps_check_lists_a_hidden_tool_and_installs_nothing() {
    if !root_or_skip("install_deps_check_lists_a_hidden_tool_and_installs_nothing") {
        return;
    }
    let missing: Vec<&str> = NEEDS.into_iter().filter(|c| *c == "tmux" || !installed(c)).collect();
    let then = format!("{} --check", q(script("install-deps.sh")));
    let out = outcome(in_namespace(false, &mask(&["tmux"]), &then));
    assert_eq!(out.code, Some(1), "{out:#?}");
    let want = format!("install-deps: missing: {} (Debian packages: ", missing.join(" "));
    assert!(out.stderr.starts_with(&want), "expected `{want}…`: {out:#?}");
    assert_eq!(out.stderr.lines().count(), 1, "--check said more than the list: {out:#?}");
}

#[test]
fn install_deps_refuses_an_unknown_argument() {
    let out = outcome(command(script("install-deps.sh"), &["--bogus"]));
    let (error, hint) = refusal(&out);
    assert_eq!(error, "error: unknown argument: --bogus", "{out:#?}");
    assert_eq!(hint, "hint: usage: scripts/install-deps.sh [--check]", "{out:#?}");
}

/// Extra arguments are refused too, not ignored.
#[test]
fn install_deps_refuses_an_argument_after_check() {
    let out = outcome(command(script("install-deps.sh"), &["--check", "--bogus"]));
    let (error, _hint) = error_and_hint(&out);
    assert!(error.contains("--bogus"), "{out:#?}");
}

/// The cargo runner as a normal user whose sudo wants a password, with no
/// terminal to type it in (a script, an editor's run button): one error line
/// and a hint, status 125, and the stage never started.
#[test]
fn cargo_runner_without_a_terminal_for_the_password_is_refused() {
    if !root_or_skip("cargo_runner_without_a_terminal_for_the_password_is_refused") {
        return;
    }
    assert!(installed("sudo"), "this test needs sudo installed (apt-get install sudo)");
    let scripts = Scripts::copy();
    let runner = scripts.path("cargo-runner.sh");
    assert_nobody_can("-r", &runner);
    // A stand-in stage binary that would say so if it ran.
    let stage = scripts.0.path.join("step01-uts");
    fs::write(&stage, "#!/bin/sh\necho the stage ran\n").unwrap();
    fs::set_permissions(&stage, fs::Permissions::from_mode(0o755)).unwrap();
    let then = format!(
        "setsid --wait {} sh {} {} run true </dev/null",
        as_nobody(),
        q(&runner),
        q(&stage)
    );
    let out = outcome(command("sh", &["-c", &then]));
    assert_eq!(out.code, Some(125), "{out:#?}");
    let (error, hint) = error_and_hint(&out);
    assert_eq!(
        error,
        "error: step01-uts needs root, and sudo wants a password with no terminal to type it in",
        "{out:#?}"
    );
    assert!(hint.starts_with("hint: run it from a terminal"), "{out:#?}");
    assert!(!out.stdout.contains("the stage ran"), "{out:#?}");
}
