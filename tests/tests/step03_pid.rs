//! step03-pid: the command is PID 1, but /proc (and so `ps`) is the host's.
use container_tests::{checks, root_or_skip, Stage};

fn stage() -> Stage {
    Stage::new("step03-pid")
}

#[test]
fn command_is_pid_1() {
    if root_or_skip("step03 pid 1") {
        assert_eq!(checks::shell_pid(&stage()), 1);
    }
}

#[test]
fn ps_still_lists_the_hosts_processes() {
    if root_or_skip("step03 ps") {
        let pids = checks::ps_pids(&stage());
        // This test process is on the host, outside the container: `ps`
        // inside still sees it, because it reads the host's /proc.
        assert!(
            pids.contains(&std::process::id()),
            "ps inside did not list the host's test process: {pids:?}"
        );
        assert!(pids.contains(&1));
    }
}

#[test]
fn hostname_flag_sets_the_name() {
    if root_or_skip("step03 --hostname") {
        checks::hostname_flag(&stage());
    }
}

#[test]
fn hostname_change_stays_inside() {
    if root_or_skip("step03 hostname") {
        checks::hostname_change_stays_inside(&stage());
    }
}

#[test]
fn exit_status_propagates() {
    if root_or_skip("step03 exit status") {
        checks::exit_status_propagates(&stage());
    }
}

#[test]
fn usage_errors() {
    if root_or_skip("step03 usage") {
        checks::usage_errors(&stage());
    }
}

#[test]
fn not_root_is_refused() {
    if root_or_skip("step03 not root") {
        checks::not_root_is_refused(&stage());
    }
}
