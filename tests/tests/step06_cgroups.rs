//! step06-cgroups: --memory, --pids and --cpus, checked from the host in the
//! cgroup files the kernel reads, on this host's layout (v1, v2 or hybrid).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::PathBuf;
use std::time::Duration;

use container_tests::{
    checks, error_then_hint, pids_with_argv, root_or_skip, root_tests, unique, unique_secs,
    wait_for, Checked, Running, Stage,
};
use predicates::prelude::*;

fn stage() -> Stage {
    Stage::with_rootfs("step06-cgroups")
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

#[test]
fn limit_files_hold_the_requested_values() {
    if !root_or_skip("step06 limit files") {
        return;
    }
    let secs = unique_secs(30);
    let running =
        stage().start(&["--pids", "20", "--memory", "64M", "--cpus", "0.5", "sleep", &secs]);
    let name = running.cgroup_name();
    let pid =
        wait_for(Duration::from_secs(20), || pids_with_argv(&["sleep", &secs]).first().copied())
            .expect("the container's sleep never appeared");
    let dirs = checks::cgroup_dirs(pid);
    if let Some(v2) = dirs.get("unified").filter(|d| d.join("pids.max").exists()) {
        assert!(v2.ends_with(format!("containers-from-scratch/{name}").as_str()), "{dirs:?}");
        assert_eq!(read(&v2.join("pids.max")), "20");
        assert_eq!(read(&v2.join("memory.max")), "67108864");
        assert_eq!(read(&v2.join("cpu.max")), "50000 100000");
        if v2.join("memory.swap.max").exists() {
            assert_eq!(read(&v2.join("memory.swap.max")), "0");
        }
    } else {
        for ctrl in ["pids", "memory", "cpu"] {
            assert!(
                dirs[ctrl].ends_with(format!("containers-from-scratch/{name}").as_str()),
                "{ctrl}: {dirs:?}"
            );
        }
        assert_eq!(read(&dirs["pids"].join("pids.max")), "20");
        assert_eq!(read(&dirs["memory"].join("memory.limit_in_bytes")), "67108864");
        if dirs["memory"].join("memory.memsw.limit_in_bytes").exists() {
            assert_eq!(read(&dirs["memory"].join("memory.memsw.limit_in_bytes")), "67108864");
        }
        assert_eq!(read(&dirs["cpu"].join("cpu.cfs_period_us")), "100000");
        assert_eq!(read(&dirs["cpu"].join("cpu.cfs_quota_us")), "50000");
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();
    running.assert().code(137);
    assert_eq!(checks::leftover_cgroups(&name), Vec::<PathBuf>::new());
}

#[test]
fn fork_storm_is_contained() {
    if !root_or_skip("step06 fork storm") {
        return;
    }
    // The storm runs in a subshell: dash gives up at its first refused fork,
    // and the sleeps it did start live on under PID 1, which then becomes a
    // `sleep` itself (exec, no fork: there is no room for one).
    let script = "(for i in $(seq 1 100); do sleep 3 & done); echo survived; exec sleep 2";
    let running = stage().start(&["--pids", "20", "sh", "-c", script]);
    let name = running.cgroup_name();
    // Poll the container's process count from outside while the storm runs.
    let mut most = 0;
    let pids_current = |name: &str| -> Option<u64> {
        ["/sys/fs/cgroup/pids/containers-from-scratch", "/sys/fs/cgroup/containers-from-scratch"]
            .iter()
            .find_map(|p| std::fs::read_to_string(format!("{p}/{name}/pids.current")).ok())
            .and_then(|s| s.trim().parse().ok())
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    while std::time::Instant::now() < deadline {
        if let Some(n) = pids_current(&name) {
            most = most.max(n);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = running
        .assert()
        .success()
        .stdout("survived\n")
        // The first fork past the limit failed, and the subshell said so.
        .stderr(predicate::str::contains("Cannot fork"));
    assert!(most >= 15, "the storm never filled the cgroup ({most} processes): {out}");
    assert!(most <= 20, "pids.current reached {most} under --pids 20");
    assert_eq!(checks::leftover_cgroups(&name), Vec::<PathBuf>::new());
}

#[test]
fn over_the_memory_limit_is_oom_killed_and_reported() {
    if !root_or_skip("step06 oom") {
        return;
    }
    // `tail` of a file without newlines holds it all in memory.
    let running = stage().start(&["--memory", "32M", "tail", "/dev/zero"]);
    let name = running.cgroup_name();
    running
        .assert()
        .code(137)
        .stderr(predicate::str::starts_with("error: the container was killed for memory"))
        // On that first line (`.` stops at a newline).
        .stderr(predicate::str::is_match(r"\A.*--memory 32 MiB \(33554432 bytes\)").unwrap());
    assert_eq!(checks::leftover_cgroups(&name), Vec::<PathBuf>::new());
}

#[test]
fn cgroup_removed_on_every_exit_path() {
    if !root_or_skip("step06 cleanup") {
        return;
    }
    // Normal exit, a failed exec inside (127), a non-zero status.
    for (args, code) in [
        (&["--pids", "10", "true"][..], 0),
        (&["--pids", "10", "no-such-command"][..], 127),
        (&["--pids", "10", "--memory", "64M", "sh", "-c", "exit 3"][..], 3),
    ] {
        let running = stage().start(args);
        let name = running.cgroup_name();
        running.assert().code(code);
        assert_eq!(checks::leftover_cgroups(&name), Vec::<PathBuf>::new(), "{args:?}");
    }
    // Setup failure after the cgroup exists: a rootfs without /proc.
    let empty = container_tests::target_dir().join(unique("empty-rootfs"));
    std::fs::create_dir(&empty).unwrap();
    let mut cmd = std::process::Command::new(stage().bin());
    cmd.args(["run", "--rootfs", empty.to_str().unwrap(), "--pids", "10", "true"]);
    let running = Running::spawn(cmd);
    let name = running.cgroup_name();
    let out = running.assert();
    std::fs::remove_dir(&empty).unwrap();
    out.code(125).stderr(error_then_hint());
    assert_eq!(checks::leftover_cgroups(&name), Vec::<PathBuf>::new());
    // The runtime told to stop: SIGTERM and SIGINT sent to it (not to the
    // container) end the container and remove the cgroup.
    for sig in [nix::sys::signal::SIGTERM, nix::sys::signal::SIGINT] {
        let secs = unique_secs(30);
        let running = stage().start(&["--pids", "10", "sleep", &secs]);
        let name = running.cgroup_name();
        wait_for(Duration::from_secs(20), || pids_with_argv(&["sleep", &secs]).first().copied())
            .expect("the container's sleep never appeared");
        assert_eq!(checks::leftover_cgroups(&name).len(), 1, "no cgroup while running?");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(running.runtime.id() as i32), sig)
            .unwrap();
        let out = running.finish();
        assert_eq!(out.code, Some(137), "{sig}: {out:?}");
        assert_eq!(checks::leftover_cgroups(&name), Vec::<PathBuf>::new(), "{sig}");
        assert!(
            pids_with_argv(&["sleep", &secs]).is_empty(),
            "{sig}: the container outlived the runtime"
        );
    }
}

#[test]
fn bad_values_are_refused_before_anything_is_created() {
    if !root_or_skip("step06 bad values") {
        return;
    }
    for bad in [
        &["--memory", "12Q"][..],
        &["--memory", "1k"][..],
        &["--memory", "0"][..],
        &["--pids", "0"][..],
        &["--pids", "-3"][..],
        &["--cpus", "0"][..],
        &["--cpus", "-1"][..],
        &["--cpus", "lots"][..],
    ] {
        let mut args = bad.to_vec();
        args.push("true");
        let running = stage().start(&args);
        let name = running.cgroup_name();
        running.assert().code(125).stderr(error_then_hint());
        assert_eq!(checks::leftover_cgroups(&name), Vec::<PathBuf>::new(), "{bad:?}");
    }
}

#[test]
fn no_flag_no_cgroup() {
    if root_or_skip("step06 no limits") {
        stage()
            .cmd(&["cat", "/proc/self/cgroup"])
            .checked()
            .success()
            .stdout(predicate::str::contains("containers-from-scratch").not());
    }
}

#[test]
fn earlier_lessons_hold() {
    if root_or_skip("step06 earlier lessons") {
        let stage = stage();
        checks::shell_pid(&stage).stdout("1\n");
        checks::hostname_flag(&stage);
        checks::hostname_change_stays_inside(&stage);
        checks::ps_lists_only_the_container(&stage);
        checks::ls_root_is_the_rootfs(&stage);
        checks::host_mounts_unchanged(&stage);
        checks::host_mounts_unchanged_on_shared_root(&stage);
        checks::dev_is_minimal(&stage);
        checks::mountinfo_has_only_container_mounts(&stage);
        checks::chroot_escape_is_confined(&stage);
    }
}

#[test]
fn signal_mask_is_clean() {
    if root_or_skip("step06 signal mask") {
        checks::signal_mask_is_clean(&stage());
        let mut limited = stage();
        limited.base.extend(["--pids".to_string(), "10".to_string()]);
        checks::signal_mask_is_clean(&limited);
    }
}

root_tests!(stage(); exit_status_propagates, usage_errors, not_root_is_refused, bad_rootfs_is_refused, child_is_refused_outside_run, other_signals_leave_nothing_behind, option_like_values_reach_the_child, sub_cgroups_are_removed_too);

/// step06 holds signals back only to clean up: a SIGUSR1 sent to the runtime
/// neither ends it nor reaches the container (passing signals on is step07's),
/// and the container ends on its own, its cgroup removed.
#[test]
fn usr1_to_the_runtime_is_dropped_and_leaves_nothing() {
    if !root_or_skip("step06 usr1") {
        return;
    }
    // sh as PID 1 would get the signal, since it has a handler (the trap).
    let script = "trap 'echo got-usr1; exit 5' USR1; echo ready; sleep 1; echo done";
    let mut running = stage().start(&["--pids", "10", "sh", "-c", script]);
    let name = running.cgroup_name();
    let mut stdout = std::io::BufReader::new(running.runtime.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    let runtime = nix::unistd::Pid::from_raw(running.runtime.id() as i32);
    nix::sys::signal::kill(runtime, nix::sys::signal::SIGUSR1).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let out = running.finish();
    assert_eq!(rest, "done\n", "{out:?}");
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(checks::leftover_cgroups(&name), Vec::<PathBuf>::new());
}
