//! Checks that hold for every stage from the one that introduced them on.
//! Each stage's test file calls the ones its stage must keep, so a lesson
//! learnt in step01 is re-checked in step07.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use assert_cmd::assert::Assert;
use predicates::prelude::*;

use crate::{
    copy_program, error_then_hint, host_hostname, pids_with_argv, stdout_text, tool, unique,
    wait_for, Checked, Stage, Tmux,
};

/// `docker run`'s exit-status rules: the command's own status, 127 for a
/// command that does not exist, 126 for one that cannot be executed, and
/// 128+N for a command killed by signal N.
pub fn exit_status_propagates(stage: &Stage) {
    stage.cmd(&["true"]).checked().success();

    stage.cmd(&["sh", "-c", "exit 7"]).checked().code(7);

    stage
        .cmd(&["no-such-command-here"])
        .checked()
        .code(127)
        .stderr(error_then_hint())
        .stderr(predicate::str::starts_with("error: cannot run no-such-command-here"));

    // /etc/passwd exists on the host and in the rootfs, and is not executable.
    stage
        .cmd(&["/etc/passwd"])
        .checked()
        .code(126)
        .stderr(error_then_hint())
        .stderr(predicate::str::starts_with("error: cannot run /etc/passwd"))
        .stderr(predicate::str::contains(": Permission denied\n"));

    killed_by_signal_is_128_plus_n(stage);
}

/// Kill the command from the host with SIGKILL: the runtime exits 137. (From
/// step03 on the command is PID 1 of its namespace; only SIGKILL sent from the
/// parent namespace is sure to end it, which is what this does.)
fn killed_by_signal_is_128_plus_n(stage: &Stage) {
    // A sleep with a duration no other test uses, so we find exactly ours.
    let secs = format!("60.{}{}", std::process::id(), unique("s").len());
    let secs = unique(&secs).replace('-', "");
    let argv = ["sleep", secs.as_str()];
    let running = stage.start(&argv);
    let pid = wait_for(Duration::from_secs(20), || pids_with_argv(&argv).first().copied())
        .expect("the container's sleep never appeared");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL)
        .expect("kill -9");
    running.assert().code(128 + 9);
}

/// Run as an unprivileged user: exit 125, one `error:` line and a `hint:` that
/// gives the exact sudo command.
pub fn not_root_is_refused(stage: &Stage) {
    // `nobody` may not be able to reach the build: a learner's home is often
    // 0700 (Debian's adduser, Ubuntu). Run a copy from a directory it can.
    let dir = std::env::temp_dir().join(unique("cfs-not-root"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.join(stage.name);
    copy_program(&stage.bin(), &bin);
    let out = tool("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["run", "--verbose", "true"])
        .checked();
    std::fs::remove_dir_all(&dir).unwrap();
    let hint = format!("hint: run it as root: sudo {} run --verbose true", bin.display());
    out.code(125)
        .stderr(predicate::str::is_match(r"(?m)^error: .*root").unwrap())
        .stderr(predicate::str::contains(format!("\n{hint}\n")))
        // Refused before anything was created: the narration never got to a syscall.
        .stderr(predicate::str::contains("unshare").not());
}

/// Bad command lines: exit 125, one `error:` line and a `hint:`.
pub fn usage_errors(stage: &Stage) {
    for args in [&["run"][..], &["run", "--no-such-flag", "true"][..], &["frobnicate"][..]] {
        stage.cmd_raw(args).checked().code(125).stderr(error_then_hint());
    }
    // Everything after COMMAND is the command's, even what looks like a flag.
    stage
        .cmd(&["sh", "-c", "echo \"$0 $1\"", "--verbose", "--hostname"])
        .checked()
        .success()
        .stdout("--verbose --hostname\n");
}

/// Inside, `hostname NAME` renames the container; the host keeps its name.
pub fn hostname_change_stays_inside(stage: &Stage) {
    let before = host_hostname();
    let name = unique("box");
    stage
        .cmd(&["sh", "-c", &format!("hostname {name} && hostname")])
        .checked()
        .success()
        .stdout(format!("{name}\n"));
    assert_eq!(host_hostname(), before, "the host's hostname changed");
    assert_ne!(before, name);
}

/// From step02 on: `--hostname` is set before the command starts, and the
/// default is `container`; a name longer than the kernel allows is refused
/// before anything is created.
/// A value that looks like an option reaches the re-executed child intact:
/// `--hostname=-x` is the hostname "-x", not an option `-x` of `child`.
pub fn option_like_values_reach_the_child(stage: &Stage) {
    for name in ["-x", "--verbose"] {
        stage
            .cmd(&[&format!("--hostname={name}"), "hostname"])
            .checked()
            .success()
            .stdout(format!("{name}\n"))
            .stderr(predicate::str::is_empty());
    }
}

pub fn hostname_flag(stage: &Stage) {
    let name = unique("h");
    stage.cmd(&["--hostname", &name, "hostname"]).checked().success().stdout(format!("{name}\n"));

    stage.cmd(&["hostname"]).checked().success().stdout("container\n");

    let long = "a".repeat(65);
    stage
        .cmd(&["--verbose", "--hostname", &long, "true"])
        .checked()
        .code(125)
        .stderr(error_then_hint())
        .stderr(predicate::str::starts_with("error: invalid --hostname"))
        // Refused before anything was created: the narration never got to a syscall.
        .stderr(predicate::str::contains("unshare").not());

    let max = "b".repeat(64);
    stage.cmd(&["--hostname", &max, "hostname"]).checked().success().stdout(format!("{max}\n"));
}

/// `echo $$` inside, run to a successful end: it prints 1 from step03 on (the
/// command is PID 1 of its own PID namespace), some host PID before.
pub fn shell_pid(stage: &Stage) -> Assert {
    stage.cmd(&["sh", "-c", "echo $$"]).checked().success()
}

/// From step04 on: `ls /` inside lists exactly the rootfs's top directory.
pub fn ls_root_is_the_rootfs(stage: &Stage) {
    let mut expected: Vec<String> = std::fs::read_dir(stage.rootfs_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    expected.sort();
    let listing: String = expected.iter().map(|name| format!("{name}\n")).collect();
    stage.cmd(&["ls", "/"]).checked().success().stdout(listing);
}

/// From step04 on: `ps` sees only the container: the shell (PID 1) and `ps`
/// itself — two lines — and none of the host's processes.
pub fn ps_lists_only_the_container(stage: &Stage) {
    stage
        .cmd(&["sh", "-c", "ps -e -o pid=,comm=; true"])
        .checked()
        .success()
        .stdout(predicate::str::is_match(r"\A *1 +sh\n *2 +ps\n\z").unwrap());
}

fn mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// The host's mount table is the same before and after a container ran, and
/// the container saw its own /proc mounted.
pub fn host_mounts_unchanged(stage: &Stage) {
    let before = mountinfo();
    // grep fails when it finds no line.
    stage.cmd(&["sh", "-c", "grep -c ' /proc ' /proc/self/mountinfo"]).checked().success();
    assert_eq!(mountinfo(), before, "the host's mount table changed");
}

/// The same on a host whose `/` is shared (as systemd mounts it): in a mount
/// namespace of our own (so the real host is never touched), make `/` rshared,
/// run the stage there, and compare that namespace's mount table before and
/// after. Without MS_PRIVATE in the child, the container's /proc would
/// propagate back into it.
pub fn host_mounts_unchanged_on_shared_root(stage: &Stage) {
    let mut args = vec!["run".to_string()];
    args.extend(stage.base.iter().cloned());
    args.extend(["sh", "-c", "mount | wc -l"].map(String::from));
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "set -e; mount --make-rshared /; before=$(cat /proc/self/mountinfo); \
         '{}' {} >/dev/null; after=$(cat /proc/self/mountinfo); \
         if [ \"$before\" = \"$after\" ]; then echo SAME; else echo CHANGED; \
         diff <(echo \"$before\") <(echo \"$after\"); fi",
        stage.bin().display(),
        quoted.join(" ")
    );
    // Private from the real host (unshare's default), then shared inside.
    tool("unshare").args(["--mount", "bash", "-c", &script]).checked().success().stdout("SAME\n");
}

/// Every bad `--rootfs` is refused with exit 125, `error:` and `hint:`; a
/// command missing from the rootfs exits 127 and names the rootfs.
pub fn bad_rootfs_is_refused(stage: &Stage) {
    let file = crate::target_dir().join(unique("not-a-dir"));
    std::fs::write(&file, "x").unwrap();
    let missing = crate::target_dir().join(unique("missing"));
    for bad in [&file, &missing] {
        stage
            .cmd_raw(&["run", "--rootfs", bad.to_str().unwrap(), "true"])
            .checked()
            .code(125)
            .stderr(error_then_hint())
            .stderr(predicate::str::starts_with(format!("error: --rootfs {}", bad.display())));
    }
    std::fs::remove_file(&file).unwrap();
    stage
        .cmd(&["no-such-tool"])
        .checked()
        .code(127)
        .stderr(predicate::str::contains(format!("in the rootfs {}", crate::rootfs().display())));
}

/// Run the chroot-escape program inside. It prints its verdict, `ESCAPED: …`
/// (exit 0) or `CONFINED: …` (exit 1). The marker is a file that exists only
/// on the host, outside the rootfs; seeing it from inside means the
/// container's root was left behind.
pub fn chroot_escape(stage: &Stage) -> Assert {
    let marker = crate::target_dir().join(unique("host-only-marker"));
    std::fs::write(&marker, "host").unwrap();
    let out = stage.cmd(&["chroot-escape", marker.to_str().unwrap()]).checked();
    std::fs::remove_file(&marker).unwrap();
    out
}

/// chroot-escape's verdict when the container's root holds: exit 1, `CONFINED`.
pub fn chroot_escape_is_confined(stage: &Stage) {
    chroot_escape(stage).code(1).stdout(predicate::str::starts_with("CONFINED: "));
}

/// From step05 on: /dev holds the harmless devices and nothing else (no
/// disks), and they work.
pub fn dev_is_minimal(stage: &Stage) {
    let expected: String = [
        "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty",
        "urandom", "zero", "5",
    ]
    .iter()
    .map(|line| format!("{line}\n"))
    .collect();
    stage
        .cmd(&["sh", "-c", "ls /dev; echo x > /dev/null && head -c 5 /dev/zero | wc -c"])
        .checked()
        .success()
        .stdout(expected);
}

/// From step05 on: the container's mount table holds only its own mounts: the
/// rootfs as `/`, /proc and the /dev tree. No host mount point (and no old
/// root) is listed.
pub fn mountinfo_has_only_container_mounts(stage: &Stage) {
    mountinfo_has_only(stage, &[]);
}

/// The mounts step07 and later add over /proc and /sys: /sys read-only, the
/// masks and the read-only kernel directories (security/masks.rs).
pub const MASKS: &[&str] = &[
    "/sys",
    "/sys/firmware",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/interrupts",
    "/proc/config.gz",
    "/proc/kpagecgroup",
    "/proc/kpagecount",
    "/proc/kpageflags",
    "/proc/slabinfo",
];

/// The same, with the mounts a later stage adds (step07: /sys and the masks).
/// Step05 and step06 bind the host's device nodes into /dev (each a mount);
/// step07 makes its own with mknod (none); step08, in a user namespace where
/// mknod is refused, binds them again.
pub fn mountinfo_has_only(stage: &Stage, more: &[&str]) {
    let out = stage.cmd(&["cat", "/proc/self/mountinfo"]).checked().success();
    let mountinfo = stdout_text(&out);
    let mut allowed = vec!["/", "/proc", "/dev", "/dev/pts", "/dev/shm"];
    if stage.number() != 7 {
        allowed.extend(["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]);
        allowed.push("/dev/tty");
    }
    let points: Vec<&str> = mountinfo.lines().map(|l| l.split(' ').nth(4).unwrap()).collect();
    for needed in &allowed {
        assert!(points.contains(needed), "{needed} is not mounted inside: {out}");
    }
    // `more` may list masks for /proc files this kernel does not have.
    allowed.extend(more);
    for point in &points {
        assert!(allowed.contains(point), "host mount {point} visible inside: {out}");
    }
}

/// The rootfs on disk is exactly as it was: same entries at the top and in
/// /dev (the mounts were all in the container's namespace), no put_old left.
pub fn rootfs_left_as_found(stage: &Stage) {
    let listing = |dir: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let root = crate::rootfs();
    // Other tests may be running containers in the same rootfs right now, each
    // with a put_old directory for an instant: look only for what is not theirs.
    let top = || -> Vec<String> {
        listing(&root).into_iter().filter(|n| !n.starts_with(".pivot_root.")).collect()
    };
    let (before, dev) = (top(), listing(&root.join("dev")));
    stage.cmd(&["true"]).checked().success();
    assert_eq!(top(), before);
    assert_eq!(listing(&root.join("dev")), dev);
    assert!(dev.is_empty(), "the rootfs's own /dev has entries: {dev:?}");
}

/// The cgroup directories of process `pid`, by controller, read from
/// /proc/<pid>/cgroup the way a learner would: `N:pids:/path` on cgroup v1
/// (under that controller's mount point), `0::/path` on v2.
pub fn cgroup_dirs(pid: i32) -> std::collections::BTreeMap<String, std::path::PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount_of = |wanted: &str| -> Option<std::path::PathBuf> {
        mountinfo.lines().find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut right = right.split(' ');
            let (fstype, _source, options) = (right.next()?, right.next()?, right.next()?);
            let point = left.split(' ').nth(4)?;
            let hit = match wanted {
                "" => fstype == "cgroup2",
                ctrl => fstype == "cgroup" && options.split(',').any(|o| o == ctrl),
            };
            hit.then(|| std::path::PathBuf::from(point))
        })
    };
    let mut dirs = std::collections::BTreeMap::new();
    for line in std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap().lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) =
            (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        for ctrl in controllers.split(',') {
            if let Some(mount) = mount_of(ctrl) {
                let name = if ctrl.is_empty() { "unified" } else { ctrl };
                dirs.insert(name.to_string(), mount.join(path.trim_start_matches('/')));
            }
        }
    }
    dirs
}

/// Every container cgroup below the project's parent group, in every
/// hierarchy: `/sys/fs/cgroup/<hierarchy>/containers-from-scratch/*` on v1 and
/// hybrid hosts, `/sys/fs/cgroup/containers-from-scratch/*` on pure v2.
pub fn container_cgroups() -> Vec<std::path::PathBuf> {
    let mut parents = vec![std::path::PathBuf::from("/sys/fs/cgroup/containers-from-scratch")];
    if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
        parents.extend(hierarchies.flatten().map(|h| h.path().join("containers-from-scratch")));
    }
    let mut found = Vec::new();
    for parent in parents {
        if let Ok(entries) = std::fs::read_dir(&parent) {
            found.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
    }
    found.sort();
    found
}

/// The container cgroups named `name` below the project's parent group, in
/// every hierarchy: what must be gone once that container has ended.
pub fn leftover_cgroups(name: &str) -> Vec<std::path::PathBuf> {
    container_cgroups().into_iter().filter(|p| p.file_name().is_some_and(|n| n == name)).collect()
}

/// The command starts with no signal blocked or ignored: what the runtime
/// blocked or ignored for itself must not leak into the container.
pub fn signal_mask_is_clean(stage: &Stage) {
    let out = stage.run(&["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]);
    let field = |name: &str| {
        let line = out.stdout.lines().find(|l| l.starts_with(name)).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(field("SigBlk:"), 0, "{out:?}");
    // HUP INT QUIT TERM CHLD TTIN TTOU: what a runtime or an init handles for
    // itself. (Others may be ignored by whoever started the test.)
    let own = [1, 2, 3, 15, 17, 21, 22].iter().fold(0u64, |m, s| m | 1 << (s - 1));
    assert_eq!(field("SigIgn:") & own, 0, "{out:?}");
}

/// From step02 on: the hidden `child` subcommand, typed by hand, refuses to
/// run (it would be in the host's namespaces) and the host keeps its name.
pub fn child_is_refused_outside_run(stage: &Stage) {
    let before = host_hostname();
    stage
        .cmd_raw(&["child", "--hostname", "renamed-by-hand", "true"])
        .checked()
        .code(125)
        .stderr(error_then_hint())
        .stderr(predicate::str::starts_with("error: `child` is the runtime's internal half"));
    assert_eq!(host_hostname(), before);
}

/// A container in a cgroup (`--pids 10`) whose command has printed `ready`
/// and then sleeps for 2 s, with its cgroup's name.
fn start_ready_in_a_cgroup(stage: &Stage) -> (crate::Running, String) {
    use std::io::BufRead;
    let mut running = stage.start(&["--pids", "10", "sh", "-c", "echo ready; exec sleep 2"]);
    let name = running.cgroup_name();
    let mut stdout = std::io::BufReader::new(running.runtime.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    (running, name)
}

/// A signal the runtime has no special use for, sent to the runtime, must
/// not end it by the signal's default action before it cleans up: it is
/// passed on to the container, where PID 1 (a `sleep`, with no handlers)
/// ignores it, and the container ends normally, its cgroup removed. Real-time
/// signals, which nix's `Signal` cannot name, included.
pub fn other_signals_leave_nothing_behind(stage: &Stage) {
    let (running, name) = start_ready_in_a_cgroup(stage);
    let runtime = running.runtime.id() as libc::pid_t;
    for sig in [libc::SIGVTALRM, libc::SIGPWR, libc::SIGPROF, libc::SIGRTMIN() + 3] {
        // SAFETY: kill(2) with two integers.
        assert_eq!(unsafe { libc::kill(runtime, sig) }, 0, "kill({runtime}, {sig})");
    }
    let out = running.finish();
    assert_eq!(out.code, Some(0), "the runtime did not survive the signals: {out:?}");
    assert_eq!(leftover_cgroups(&name), Vec::<std::path::PathBuf>::new());
}

/// A cgroup made inside the container's own, with the container's process
/// moved into it (as a container that manages its own processes would do),
/// is removed with it: depth first, since rmdir(2) of a cgroup that has
/// children fails with EBUSY.
pub fn sub_cgroups_are_removed_too(stage: &Stage) {
    let (running, name) = start_ready_in_a_cgroup(stage);
    let dirs = leftover_cgroups(&name);
    assert!(!dirs.is_empty(), "no cgroup named {name}");
    let sleep = running.child_pid().to_string();
    for dir in &dirs {
        let sub = dir.join("inner").join("deeper");
        std::fs::create_dir_all(&sub).unwrap();
        // The sleep (the container's PID 1) moves into the deepest one.
        std::fs::write(sub.join("cgroup.procs"), &sleep).unwrap();
    }
    let out = running.assert().success().stderr(predicate::str::contains("could not remove").not());
    assert_eq!(leftover_cgroups(&name), Vec::<std::path::PathBuf>::new(), "{out}");
}

/// `run bash` in a real terminal (tmux), typed as a learner: a prompt, Ctrl-C
/// ends the foreground job and not the shell, and the shell is root inside.
pub fn interactive_bash_keeps_job_control(stage: &Stage) {
    let server = Tmux::new();
    let tmux = |args: &[&str]| server.run(args);
    let cmd = stage.command(&["bash"]);
    let words: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|w| format!("'{}'", w.to_string_lossy().replace('\'', r"'\''")))
        .collect();
    let cmdline = words.join(" ");
    assert!(tmux(&["new-session", "-d", "-x", "150", "-y", "30", &cmdline]).status.success());
    let screen = || server.screen();
    let typed =
        |keys: &[&str]| assert!(tmux(&[&["send-keys"][..], keys].concat()).status.success());
    let until =
        |what: &str| wait_for(Duration::from_secs(10), || screen().contains(what).then_some(()));
    let prompt = until("#");
    typed(&["sleep 100", "Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    typed(&["C-c"]);
    typed(&["echo alive-$((6*7)) uid-$(id -u)", "Enter"]);
    let alive = until("alive-42 uid-0");
    let shown = screen();
    typed(&["exit", "Enter"]);
    let _ = wait_for(Duration::from_secs(5), || {
        (!tmux(&["has-session"]).status.success()).then_some(())
    });
    drop(server);
    assert!(prompt.is_some(), "no prompt: {shown}");
    assert!(alive.is_some(), "Ctrl-C ended the container's shell: {shown}");
}
