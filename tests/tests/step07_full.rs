//! step07-full: IPC and network namespaces, a PID-1 init, a clean environment
//! and hardening, each checked from outside the way a learner would; and every
//! earlier lesson again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use assert_cmd::assert::Assert;
use container_tests::{
    checks, error_then_hint, pids_with_argv, root_or_skip, root_tests, stdout_text, tool,
    unique_secs, wait_for, Checked, Running, Scratch, Stage,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use predicates::prelude::*;

fn stage() -> Stage {
    Stage::with_rootfs("step07-full")
}

fn stage_net_none() -> Stage {
    let mut stage = stage();
    stage.base.extend(["--net".to_string(), "none".to_string()]);
    stage
}

/// The host end of a container's veth pair, named after its init's host PID.
fn host_link_exists(init: i32) -> bool {
    Path::new(&format!("/sys/class/net/cfs{init}")).exists()
}

/// Whether the lease file of `addr` names `pid` (runtime or container) as an owner.
fn lease_held_by(addr: &str, pids: &[i32]) -> bool {
    let file = format!("/run/containers-from-scratch/leases/{addr}");
    std::fs::read_to_string(file)
        .map(|owners| owners.split_whitespace().any(|o| pids.iter().any(|p| o == p.to_string())))
        .unwrap_or(false)
}

/// The container's eth0 address, as `ip -4 -o addr show eth0` prints it inside.
fn parse_addr(line: &str) -> String {
    let cidr = line.split_whitespace().nth(3).unwrap_or_else(|| panic!("no address in {line:?}"));
    cidr.split('/').next().unwrap().to_string()
}

/// Start a container that prints its address, then serves `reply` once on
/// TCP port 7777 with busybox nc. Returns it with its address.
fn start_server(reply: &str) -> (Running, String) {
    let script = format!("ip -4 -o addr show eth0; echo {reply} | nc -l -p 7777");
    let mut running = stage().start(&["sh", "-c", &script]);
    let stdout = running.runtime.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    (running, parse_addr(&line))
}

/// Connect to addr:7777 (retrying while the server starts) and read the reply.
fn fetch(addr: &str) -> String {
    let sock: SocketAddr = format!("{addr}:7777").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect_timeout(&sock, Duration::from_secs(2)) {
            Ok(mut stream) => {
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut reply = String::new();
                stream.read_to_string(&mut reply).unwrap();
                return reply;
            }
            Err(err) if Instant::now() < deadline => {
                let _ = err;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(err) => panic!("cannot connect to {sock}: {err}"),
        }
    }
}

#[test]
fn ipc_objects_are_invisible_both_ways() {
    if !root_or_skip("step07 ipc") {
        return;
    }
    // A queue of the host's (ours, removed below) is not visible inside...
    let made = Command::new("ipcmk").arg("-Q").output().unwrap();
    let made = String::from_utf8_lossy(&made.stdout).to_string();
    let host_id = made.trim().rsplit(' ').next().unwrap().to_string();
    let host_ipcs = || {
        String::from_utf8_lossy(&Command::new("ipcs").arg("-q").output().unwrap().stdout)
            .to_string()
    };
    let host_key = host_ipcs()
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(host_id.as_str()))
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .expect("our host queue is not listed on the host");
    let out = stage_net_none().cmd(&["sh", "-c", "ipcs -q; ipcmk -Q; ipcs -q"]).checked();
    Command::new("ipcrm").args(["-q", &host_id]).status().unwrap();
    let inside = stdout_text(&out.success());
    assert!(
        !inside.contains(&host_key),
        "inside, `ipcs -q` lists the host's queue {host_key}: no IPC namespace of its own"
    );
    // ...and the one made inside is not visible on the host.
    let inside_key = inside
        .lines()
        .filter(|l| l.starts_with("0x"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .next()
        .expect("the queue made inside is not listed inside");
    assert!(!host_ipcs().contains(&inside_key), "{inside_key} made inside is visible on the host");
}

#[test]
fn net_none_has_only_lo_up() {
    if root_or_skip("step07 --net none") {
        stage_net_none()
            .cmd(&["ip", "-o", "link"])
            .checked()
            .success()
            .stdout(predicate::str::is_match(r"\A1: lo: <LOOPBACK,UP,LOWER_UP>.*\n\z").unwrap());
    }
}

#[test]
fn bridge_gives_eth0_an_address_and_a_default_route() {
    if root_or_skip("step07 bridge") {
        stage()
            .cmd(&["sh", "-c", "ip -4 -o addr show eth0; ip route"])
            .checked()
            .success()
            .stdout(predicate::str::is_match(r"\A[0-9]+: eth0 +inet 10\.201\.0\.[0-9]+/").unwrap())
            .stdout(predicate::str::contains("default via 10.201.0.1 dev eth0"));
    }
}

#[test]
fn host_reaches_a_server_in_a_container() {
    if !root_or_skip("step07 host->container tcp") {
        return;
    }
    let (server, addr) = start_server("hello-from-the-container");
    assert_eq!(fetch(&addr), "hello-from-the-container\n");
    let init = server.child_pid();
    server.assert().success();
    assert!(!host_link_exists(init), "cfs{init} left behind");
}

#[test]
fn containers_reach_each_other() {
    if !root_or_skip("step07 container->container tcp") {
        return;
    }
    let (server, addr) = start_server("hello-neighbour");
    stage()
        .cmd(&["sh", "-c", &format!("nc -w 5 {addr} 7777 </dev/null")])
        .checked()
        .success()
        .stdout("hello-neighbour\n");
    server.assert().success();
}

#[test]
fn twenty_concurrent_containers_get_distinct_addresses_and_leave_nothing() {
    if !root_or_skip("step07 20 containers") {
        return;
    }
    // Each container's init PID names its host veth: note it while it runs.
    let running: Vec<(Running, i32)> = (0..20)
        .map(|_| {
            let r = stage().start(&["sh", "-c", "ip -4 -o addr show eth0; sleep 1"]);
            let init = r.child_pid();
            (r, init)
        })
        .collect();
    let mut seen = Vec::new();
    for (r, init) in running {
        let runtime = r.runtime.id() as i32;
        let out = r.assert().success();
        let addr = parse_addr(stdout_text(&out).lines().next().unwrap());
        assert!(!host_link_exists(init), "cfs{init} left behind");
        assert!(!lease_held_by(&addr, &[init, runtime]), "the lease of {addr} was not released");
        seen.push(addr);
    }
    let mut unique_addrs = seen.clone();
    unique_addrs.sort();
    unique_addrs.dedup();
    assert_eq!(unique_addrs.len(), 20, "addresses were shared: {seen:?}");
}

#[test]
fn init_is_pid_1_and_reaps_zombies() {
    if !root_or_skip("step07 init") {
        return;
    }
    let stage = stage_net_none();
    stage.cmd(&["sh", "-c", "echo $$; cat /proc/1/comm"]).checked().success().stdout("2\ninit\n");
    // A backgrounded sleep in a subshell is orphaned at once and re-parented
    // to PID 1; once it exits, only init's wait() makes it go away.
    let script = "(sleep 0.2 &); sleep 1; ps -e -o pid=,ppid=,stat=,comm=";
    let a_zombie = |ps: &str| {
        ps.lines().any(|l| l.split_whitespace().nth(2).is_some_and(|stat| stat.starts_with('Z')))
    };
    stage
        .cmd(&["sh", "-c", script])
        .checked()
        .success()
        .stdout(predicate::function(a_zombie).fn_name("a_zombie").not());
    // The orphan really was there to reap: while it lives, its parent is 1.
    stage
        .cmd(&["sh", "-c", "(sleep 2 &); sleep 0.5; ps -o ppid=,comm= -e | grep sleep"])
        .checked()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^ *1 +sleep$").unwrap());
}

#[test]
fn signals_are_forwarded_to_the_command() {
    if !root_or_skip("step07 signals") {
        return;
    }
    // SIGUSR1 sent to the runtime reaches the command through init.
    let script = "trap 'echo got-usr1; exit 0' USR1; echo ready; while :; do sleep 0.1; done";
    let mut running = stage_net_none().start(&["sh", "-c", script]);
    let mut stdout = BufReader::new(running.runtime.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // The runtime forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT; init forwards USR1 too.
    kill(Pid::from_raw(running.child_pid()), Signal::SIGUSR1).unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let out = running.finish();
    assert_eq!(rest, "got-usr1\n", "{out:?}");
    assert_eq!(out.code, Some(0), "{out:?}");
}

/// A signal sent to the runtime is passed on, through init, to the command
/// (step06 dropped it), and the cgroup is removed when the command ends.
#[test]
fn usr1_to_the_runtime_reaches_the_command_and_leaves_nothing() {
    if !root_or_skip("step07 usr1 to the runtime") {
        return;
    }
    let script = "trap 'echo got-usr1; exit 5' USR1; echo ready; while :; do sleep 0.1; done";
    let mut running = stage_net_none().start(&["--pids", "10", "sh", "-c", script]);
    let name = running.cgroup_name();
    let mut stdout = BufReader::new(running.runtime.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    kill(Pid::from_raw(running.runtime.id() as i32), Signal::SIGUSR1).unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let out = running.finish();
    assert_eq!(rest, "got-usr1\n", "{out:?}");
    assert_eq!(out.code, Some(5), "{out:?}");
    assert_eq!(checks::leftover_cgroups(&name), Vec::<std::path::PathBuf>::new());
}

#[test]
fn sigterm_to_the_runtime_ends_the_container_and_cleans_up() {
    if !root_or_skip("step07 sigterm") {
        return;
    }
    let secs = unique_secs(40);
    let running = stage().start(&["--pids", "50", "sleep", &secs]);
    let runtime = Pid::from_raw(running.runtime.id() as i32);
    wait_for(Duration::from_secs(20), || pids_with_argv(&["sleep", &secs]).first().copied())
        .expect("the container's sleep never appeared");
    let init = running.child_pid();
    let cgroup = format!("c{runtime}");
    assert!(host_link_exists(init));
    let sent = Instant::now();
    kill(runtime, Signal::SIGTERM).unwrap();
    let out = running.finish();
    assert!(sent.elapsed() < Duration::from_secs(5), "took {:?}", sent.elapsed());
    // sleep has no SIGTERM handler and is not PID 1 here, so it dies of it.
    assert_eq!(out.code, Some(128 + 15), "{out:?}");
    assert!(pids_with_argv(&["sleep", &secs]).is_empty(), "the container outlived the runtime");
    assert!(!host_link_exists(init), "cfs{init} left behind");
    assert_eq!(checks::leftover_cgroups(&cgroup), Vec::<std::path::PathBuf>::new());
}

#[test]
fn sigkill_to_the_runtime_kills_the_container() {
    if !root_or_skip("step07 sigkill") {
        return;
    }
    let secs = unique_secs(41);
    let running = stage().start(&["sleep", &secs]);
    wait_for(Duration::from_secs(20), || pids_with_argv(&["sleep", &secs]).first().copied())
        .expect("the container's sleep never appeared");
    let init = running.child_pid();
    let running_pid = running.runtime.id();
    kill(Pid::from_raw(running_pid as i32), Signal::SIGKILL).unwrap();
    let _ = running.finish();
    // The parent-death signal kills init; the kernel then kills the rest of
    // its PID namespace, and with the network namespace goes the veth pair.
    let gone = wait_for(Duration::from_secs(5), || {
        (pids_with_argv(&["sleep", &secs]).is_empty() && !host_link_exists(init)).then_some(())
    });
    assert!(gone.is_some(), "the container survived its runtime's SIGKILL");
    // The dead runtime could not remove its address lease: it is stale (its
    // pids are dead), and the next container to scan that far takes it over.
    // A container of a test running beside this one may have done so already;
    // if not, take it over here, so the run leaves nothing behind. Under the
    // runtime's own lock, as a container takes a lease over: without it, a
    // container could take this path over between our read and our remove.
    let lock = std::fs::File::open("/run/containers-from-scratch/network.lock").unwrap();
    // SAFETY: flock on an fd we own; released when `lock` is dropped.
    assert_eq!(unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) }, 0);
    let runtime = running_pid.to_string();
    let leases: Vec<_> = std::fs::read_dir("/run/containers-from-scratch/leases")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            std::fs::read_to_string(p).is_ok_and(|t| t.split_whitespace().any(|w| w == runtime))
        })
        .collect();
    assert!(leases.len() <= 1, "the killed runtime held more than one lease: {leases:?}");
    for lease in leases {
        std::fs::remove_file(lease).unwrap();
    }
    drop(lock);
}

#[test]
fn environment_is_clean_and_e_adds_or_copies() {
    if !root_or_skip("step07 env") {
        return;
    }
    let out = stage_net_none()
        .cmd(&[
            "--hostname",
            "envbox",
            "-e",
            "GREETING=hello=world",
            "-e",
            "HOME=/home/override",
            "-e",
            "CFS_FROM_CALLER",
            "-e",
            "CFS_NOT_SET_ANYWHERE",
            "env",
        ])
        .env_clear()
        .env("TERM", "xterm-test")
        .env("CFS_FROM_CALLER", "copied")
        .env("SECRET", "host-only")
        .checked()
        .success();
    let env = stdout_text(&out);
    let mut vars: Vec<&str> = env.lines().collect();
    vars.sort();
    assert_eq!(
        vars,
        [
            "CFS_FROM_CALLER=copied",
            "GREETING=hello=world",
            "HOME=/home/override",
            "HOSTNAME=envbox",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm-test",
        ],
        "{out}"
    );
    stage_net_none()
        .cmd_raw(&["run", "-e", "=oops", "true"])
        .checked()
        .code(125)
        .stderr(error_then_hint());
}

#[test]
fn capabilities_are_dockers_default_minus_mknod() {
    if !root_or_skip("step07 capabilities") {
        return;
    }
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
    // NET_BIND_SERVICE NET_RAW SYS_CHROOT AUDIT_WRITE SETFCAP (capabilities(7)).
    let bits = [0u32, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 29, 31];
    let mask = bits.iter().fold(0u64, |m, b| m | (1 << b));
    let expected = format!("{mask:016x}");
    let mut out = stage_net_none()
        .cmd(&["grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"])
        .checked()
        .success();
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        out = out.stdout(predicate::str::contains(format!("{set}:\t{expected}\n")));
    }
    out.stdout(predicate::str::contains("NoNewPrivs:\t1\n"));
}

#[test]
fn hardening_blocks_mounts_kernel_knobs_and_disks() {
    if !root_or_skip("step07 hardening") {
        return;
    }
    let stage = stage_net_none();
    // Refused, and not silently.
    let fails = |script: &str| {
        stage
            .cmd(&["sh", "-c", script])
            .checked()
            .failure()
            .stderr(predicate::str::is_empty().not())
    };
    fails("mount -t tmpfs x /tmp").stderr(predicate::str::contains("permission denied"));
    fails("echo 1 > /proc/sys/kernel/domainname");
    fails("touch /sys/kernel/x");
    if Path::new("/proc/sysrq-trigger").exists() {
        fails("echo h > /proc/sysrq-trigger");
    }
    // The host's disk: make its device node (CAP_MKNOD is gone) and there is
    // none in /dev to begin with.
    let root_dev = nix::sys::stat::stat("/").unwrap().st_dev;
    let (major, minor) = (nix::sys::stat::major(root_dev), nix::sys::stat::minor(root_dev));
    fails(&format!("mknod /tmp/disk b {major} {minor}"));
    // No block devices, and the masked files read as empty.
    stage
        .cmd(&["sh", "-c", "ls -l /dev | grep '^b'; cat /proc/keys /proc/timer_list | wc -c"])
        .checked()
        .success()
        .stdout("0\n");
    checks::chroot_escape_is_confined(&stage);
}

#[test]
fn cgroup_limits_still_hold() {
    if !root_or_skip("step07 cgroups") {
        return;
    }
    stage_net_none()
        .cmd(&["--pids", "20", "--memory", "32M", "tail", "/dev/zero"])
        .checked()
        .code(137)
        .stderr(predicate::str::starts_with("error: the container was killed for memory"));
    // In its cgroup, as the host sees it (inside, its cgroup namespace shows `/`).
    let running = stage_net_none().start(&["--pids", "7", "sleep", "2"]);
    let want = format!("containers-from-scratch/{}", running.cgroup_name());
    let init = running.child_pid();
    let seen = container_tests::wait_for(Duration::from_secs(5), || {
        let cgroup = std::fs::read_to_string(format!("/proc/{init}/cgroup")).ok()?;
        cgroup.contains(&want).then_some(cgroup)
    });
    assert!(seen.is_some(), "init never joined {want}");
    running.assert().success();
}

#[test]
fn interactive_bash_keeps_job_control() {
    if !root_or_skip("step07 job control") {
        return;
    }
    checks::interactive_bash_keeps_job_control(&stage_net_none());
}

#[test]
fn earlier_lessons_hold() {
    if !root_or_skip("step07 earlier lessons") {
        return;
    }
    let stage = stage_net_none();
    checks::hostname_flag(&stage);
    // Without CAP_SYS_ADMIN the container cannot even rename itself.
    let before = container_tests::host_hostname();
    stage
        .cmd(&["hostname", "renamed"])
        .checked()
        .code(1)
        .stderr(predicate::str::contains("you must be root"));
    assert_eq!(container_tests::host_hostname(), before);
    checks::ls_root_is_the_rootfs(&stage);
    checks::host_mounts_unchanged(&stage);
    checks::host_mounts_unchanged_on_shared_root(&stage);
    checks::dev_is_minimal(&stage);
    checks::mountinfo_has_only(&stage, checks::MASKS);
    stage
        .cmd(&["sh", "-c", "ps -e -o pid=,comm=; true"])
        .checked()
        .success()
        .stdout(predicate::str::is_match(r"\A *1 +init\n *2 +sh\n *3 +ps\n\z").unwrap());
}

#[test]
fn signal_mask_is_clean() {
    if root_or_skip("signal mask") {
        checks::signal_mask_is_clean(&stage_net_none());
        let mut limited = stage_net_none();
        limited.base.extend(["--pids".to_string(), "10".to_string()]);
        checks::signal_mask_is_clean(&limited);
    }
}

root_tests!(stage_net_none(); exit_status_propagates, usage_errors, bad_rootfs_is_refused, other_signals_leave_nothing_behind, option_like_values_reach_the_child, sub_cgroups_are_removed_too);
root_tests!(stage(); not_root_is_refused, child_is_refused_outside_run);

#[test]
fn supplementary_groups_are_not_inherited() {
    if !root_or_skip("step07 groups") {
        return;
    }
    // Started by a root that is in groups 6 (disk) and 27: step06 passes them
    // on to the command, step07 clears them.
    // (/proc/<pid>/status ends the list with a space, even an empty one.)
    let in_groups = |stage: &Stage| {
        tool("setpriv")
            .args(["--groups", "6,27", "--"])
            .arg(stage.bin())
            .arg("run")
            .args(&stage.base)
            .args(["grep", "^Groups:", "/proc/self/status"])
            .checked()
            .success()
    };
    // The setpriv wrapper works: step06 keeps them.
    let step06 = Stage::with_rootfs("step06-cgroups");
    in_groups(&step06).stdout(predicate::str::is_match(r"\AGroups:\t6 27 ?\n\z").unwrap());
    in_groups(&stage_net_none()).stdout(predicate::str::is_match(r"\AGroups:\t ?\n\z").unwrap());
}

#[test]
fn env_values_that_look_like_options_reach_the_command() {
    if !root_or_skip("step07 -e K=--v") {
        return;
    }
    // A value, and a whole KEY=VALUE, that start with dashes.
    stage_net_none()
        .cmd(&["-e", "K=--v", "--env=-K=-v", "env"])
        .checked()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^K=--v$").unwrap())
        .stdout(predicate::str::is_match(r"(?m)^-K=-v$").unwrap())
        .stderr(predicate::str::contains("EPIPE").not());
}

/// `stage`'s runtime started by a shell that first opens `fds` (each
/// `(number, directory)`) for reading, as `7</some/dir` would.
fn run_with_fds(stage: &Stage, fds: &[(u32, &Path)], args: &[&str]) -> Assert {
    let opens: String =
        fds.iter().map(|(n, dir)| format!("exec {n}<'{}'; ", dir.display())).collect();
    tool("sh")
        .arg("-c")
        .arg(format!("{opens}exec \"$@\""))
        .arg("sh")
        .arg(stage.bin())
        .arg("run")
        .args(&stage.base)
        .args(args)
        .checked()
}

/// A host directory with a marker file in it, removed on drop.
struct HostDir(Scratch);

impl HostDir {
    fn new() -> HostDir {
        let dir = Scratch::new("cfs-fds");
        std::fs::write(dir.path.join("marker"), "only on the host\n").unwrap();
        HostDir(dir)
    }
}

#[test]
fn inherited_descriptors_do_not_reach_the_command() {
    if !root_or_skip("step07 fds") {
        return;
    }
    let host = HostDir::new();
    // With the bridge network: the runtime's netlink sockets and ready pipe
    // must be gone too. ls lists its own descriptors: 0 1 2, and 3 for the
    // directory it reads.
    run_with_fds(
        &stage(),
        &[(7, &host.0.path)],
        &["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; cat /proc/self/fd/7/marker"],
    )
    .code(1)
    .stdout("0 1 2 3 ")
    .stderr(predicate::str::contains("/proc/self/fd/7/marker: No such file"));
}

#[test]
fn preserve_fds_passes_those_on_purpose_and_no_others() {
    if !root_or_skip("step07 --preserve-fds") {
        return;
    }
    let host = HostDir::new();
    let script = "cat /proc/self/fd/3/marker; ls /proc/self/fd | tr '\\n' ' '";
    // 3 passed on, 4 closed (ls's own directory is then 4).
    run_with_fds(
        &stage_net_none(),
        &[(3, &host.0.path), (4, &host.0.path)],
        &["--preserve-fds", "1", "sh", "-c", script],
    )
    .success()
    .stdout("only on the host\n0 1 2 3 4 ");
}

#[test]
fn bad_preserve_fds_is_refused_before_anything_is_created() {
    if !root_or_skip("step07 bad --preserve-fds") {
        return;
    }
    for value in ["-1", "x", "5"] {
        stage_net_none()
            .cmd(&["--verbose", "--preserve-fds", value, "true"])
            .checked()
            .code(125)
            .stderr(error_then_hint())
            .stderr(predicate::str::is_match(r"\Aerror: .*preserve-fds").unwrap());
    }
}

#[test]
fn init_is_not_dumpable_and_starts_with_no_caller_environment() {
    if !root_or_skip("step07 dumpable") {
        return;
    }
    // Inside: init's binary, environment and memory are closed to the
    // container (ptrace goes through the same check as /proc/1/mem).
    let script =
        "cat /proc/1/environ; ls -l /proc/1/exe >/dev/null; head -c 1 /proc/1/mem >/dev/null; echo \"copied: $SECRET\"";
    let mut out = stage_net_none()
        .cmd(&["-e", "SECRET", "sh", "-c", script])
        .env("SECRET", "hunter2")
        .env("OTHER_SECRET", "swordfish")
        .checked()
        .success()
        .stdout("copied: hunter2\n");
    for path in ["/proc/1/environ", "/proc/1/exe", "/proc/1/mem"] {
        let denied = format!("(?m)^.*{path}.*Permission denied$");
        out = out.stderr(predicate::str::is_match(denied).unwrap());
    }
    // From the host, as root: init's environment holds nothing of the caller's.
    let secs = unique_secs(3);
    let mut cmd = stage_net_none().command(&["sleep", &secs]);
    cmd.env("OTHER_SECRET", "swordfish");
    let running = container_tests::Running::spawn(cmd);
    // Once init runs the command: until its exec, the runtime's child is a
    // copy of the runtime, with the caller's environment.
    wait_for(Duration::from_secs(20), || pids_with_argv(&["sleep", &secs]).first().copied())
        .expect("the container's sleep never appeared");
    let init = running.child_pid();
    let environ = std::fs::read(format!("/proc/{init}/environ")).unwrap();
    // ptrace of init: refused because init is not dumpable, filter or not.
    for seccomp in ["default", "unconfined"] {
        stage_net_none()
            .cmd(&["--seccomp", seccomp, "syscall-probe", "ptrace-init"])
            .checked()
            .success()
            .stdout("ptrace-init: EPERM\n");
    }
    let environ = String::from_utf8_lossy(&environ);
    assert!(!environ.contains("swordfish") && !environ.contains("PATH="), "{environ:?}");
    running.assert().success();
}

#[test]
fn device_nodes_are_the_containers_own() {
    if !root_or_skip("step07 devices") {
        return;
    }
    // A stand-in for the host's /dev/null, bound over it in a private mount
    // namespace: the real one is never touched, whatever the runtime does.
    let dir = Scratch::new("cfs-devnull");
    let standin = dir.path.join("null");
    let inside = "chmod 600 /dev/null; chown 65534 /dev/null; echo gone > /dev/null; \
                  head -c 3 /dev/zero | wc -c; head -c 3 /dev/urandom | wc -c; \
                  echo x > /dev/full || echo full is full";
    let script = format!(
        "mknod {0} c 1 3 && chmod 666 {0} && mount --bind {0} /dev/null && exec \"$@\"",
        standin.display()
    );
    let out = tool("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(stage_net_none().bin())
        .arg("run")
        .args(&stage_net_none().base)
        .args(["sh", "-c", inside])
        .checked();
    let meta = std::fs::metadata(&standin).unwrap();
    drop(dir);
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(
        (meta.permissions().mode() & 0o777, meta.uid()),
        (0o666, 0),
        "the container changed the host's /dev/null: {out}"
    );
    out.success().stdout("3\n3\nfull is full\n");
}

#[test]
fn host_wide_kernel_information_is_masked() {
    if !root_or_skip("step07 masks") {
        return;
    }
    let paths = [
        "/proc/kpageflags",
        "/proc/kpagecount",
        "/proc/kpagecgroup",
        "/proc/config.gz",
        "/proc/slabinfo",
    ];
    let present: Vec<&str> = paths.into_iter().filter(|p| Path::new(p).exists()).collect();
    assert!(!present.is_empty(), "none of {paths:?} on this kernel: nothing to check");
    let script: String = present.iter().map(|p| format!("head -c 8 {p} | wc -c; ")).collect();
    // Each one reads as empty.
    stage_net_none()
        .cmd(&["sh", "-c", &script])
        .checked()
        .success()
        .stdout("0\n".repeat(present.len()));
}

/// The seccomp filter: each call it covers, made by a probe inside with
/// harmless arguments, is answered EPERM (clone3: ENOSYS); with
/// `--seccomp unconfined` the same calls get the kernel's own answers, so the
/// filter, not a missing capability, is what says no.
#[test]
fn seccomp_denies_what_docker_denies() {
    if !root_or_skip("step07 seccomp") {
        return;
    }
    let probes = [
        "tiocsti",
        "tioclinux",
        "keyctl",
        "add_key",
        "request_key",
        "perf_event_open",
        "setns",
        "personality",
        "clone-newuser",
        "clone3",
        "io_uring_setup",
        // Last: without the filter it succeeds, and a process in a user
        // namespace with no ID mapping may not make another (EPERM).
        "unshare",
    ];
    let run = |extra: &[&str]| {
        let mut args = extra.to_vec();
        args.push("syscall-probe");
        args.extend(probes);
        stage_net_none().cmd(&args).checked().success()
    };
    let expected: String = probes
        .iter()
        .map(|p| format!("{p}: {}\n", if *p == "clone3" { "ENOSYS" } else { "EPERM" }))
        .collect();
    run(&[]).stdout(expected);
    let unconfined = stdout_text(&run(&["--seccomp", "unconfined"]));
    // A host may turn io_uring off for everyone (kernel.io_uring_disabled=2).
    let uring_off = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .is_ok_and(|v| v.trim() == "2");
    for (line, probe) in unconfined.lines().zip(probes) {
        assert!(line.starts_with(&format!("{probe}: ")), "{unconfined}");
        if probe == "io_uring_setup" && uring_off {
            continue;
        }
        assert!(
            !line.ends_with("EPERM") && !line.ends_with("ENOSYS"),
            "{probe} without the filter: {line}"
        );
    }
    // The attack that got through: a user namespace, in which the container
    // could mount cgroupfs and lift its own limits.
    stage_net_none()
        .cmd(&["--pids", "20", "unshare", "-U", "-r", "true"])
        .checked()
        .failure()
        .stderr(predicate::str::contains("Operation not permitted"));
}

#[test]
fn the_cgroup_tree_is_the_containers_own() {
    if !root_or_skip("step07 cgroupns") {
        return;
    }
    // Every line, and there is at least one, ends in `:/`: no host path.
    stage_net_none()
        .cmd(&["--pids", "20", "cat", "/proc/self/cgroup"])
        .checked()
        .success()
        .stdout(predicate::str::is_match(r"\A(.*:/\n)+\z").unwrap());
}

#[test]
fn bad_seccomp_is_refused_before_anything_is_created() {
    if !root_or_skip("step07 bad --seccomp") {
        return;
    }
    stage_net_none()
        .cmd(&["--verbose", "--seccomp", "bogus", "true"])
        .checked()
        .code(125)
        .stderr(error_then_hint())
        .stderr(predicate::str::starts_with("error: invalid value 'bogus' for '--seccomp"));
}

/// A second writer of the rootfs (another container sharing it, the user)
/// swaps `dev`, `proc` and `sys` with a symlink to a host directory, over and
/// over (rename(2) with RENAME_EXCHANGE), while containers start in it. Every
/// path the runtime opens, creates or mounts must stay inside the rootfs: the
/// host directory, with a file named like a device node in it, is left as it
/// was. The runs themselves may fail (the runtime refuses a swapped path).
#[test]
fn a_symlink_swap_during_setup_reaches_nothing_outside() {
    if !root_or_skip("step07 setup race") {
        return;
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    // Removed however the test ends (a runtime that panics included).
    let scratch = Scratch::new("cfs-race");
    let (rootfs, host) = (scratch.path.join("rootfs"), scratch.path.join("host"));
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("null"), "host data\n").unwrap();
    let built = Command::new(container_tests::workspace_root().join("scripts/build-rootfs.sh"))
        .arg(&rootfs)
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let names = ["dev", "proc", "sys"];
    for name in names {
        std::os::unix::fs::symlink(&host, rootfs.join(format!("{name}.swap"))).unwrap();
    }
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let pairs: Vec<_> =
        names.iter().map(|n| (c(&rootfs.join(n)), c(&rootfs.join(format!("{n}.swap"))))).collect();
    let stop = AtomicBool::new(false);
    let (mut runs, mut succeeded) = (0, 0);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                for (a, b) in &pairs {
                    // SAFETY: two NUL-terminated paths that outlive the call.
                    unsafe {
                        libc::renameat2(
                            libc::AT_FDCWD,
                            a.as_ptr(),
                            libc::AT_FDCWD,
                            b.as_ptr(),
                            libc::RENAME_EXCHANGE,
                        )
                    };
                }
            }
        });
        // Stops the renaming thread however this closure ends, a panic in
        // `stage.run` included: scope() waits for the thread before it unwinds.
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = Stop(&stop);
        let deadline = Instant::now() + Duration::from_secs(8);
        let stage = Stage::new("step07-full");
        while Instant::now() < deadline {
            let rootfs = rootfs.display().to_string();
            let out = stage.run(&["--rootfs", &rootfs, "--net", "none", "true"]);
            runs += 1;
            succeeded += usize::from(out.code == Some(0));
        }
    });
    let mut left: Vec<String> = std::fs::read_dir(&host)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let victim = std::fs::read_to_string(host.join("null")).unwrap_or_default();
    drop(scratch);
    eprintln!("setup race: {runs} runs, {succeeded} went through");
    assert!(runs >= 10, "only {runs} runs in 8 s");
    assert_eq!(left, ["null"], "the runtime created files in the host directory");
    assert_eq!(victim, "host data\n", "the runtime wrote to a host file");
}
