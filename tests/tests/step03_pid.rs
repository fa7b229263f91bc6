//! step03-pid: the command is PID 1, but /proc (and so `ps`) is the host's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use container_tests::{checks, root_or_skip, root_tests, Stage};

fn stage() -> Stage {
    Stage::new("step03-pid")
}

root_tests!(stage();
    hostname_flag,
    option_like_values_reach_the_child,
    hostname_change_stays_inside,
    exit_status_propagates,
    usage_errors,
    not_root_is_refused,
    child_is_refused_outside_run,
);

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
