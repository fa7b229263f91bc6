//! step03-pid: the command is PID 1, but /proc (and so `ps`) is the host's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use container_tests::{checks, root_or_skip, root_tests, Checked, Stage};
use predicates::prelude::*;

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
        checks::shell_pid(&stage()).stdout("1\n");
    }
}

#[test]
fn ps_still_lists_the_hosts_processes() {
    if root_or_skip("step03 ps") {
        // This test process is on the host, outside the container: `ps`
        // inside still lists it (and the host's PID 1), because it reads the
        // host's /proc.
        let me = std::process::id();
        stage()
            .cmd(&["ps", "-e", "-o", "pid="])
            .checked()
            .success()
            .stdout(predicate::str::is_match(r"\A( *[0-9]+\n)+\z").unwrap())
            .stdout(predicate::str::is_match(format!(r"(?m)^ *{me}$")).unwrap())
            .stdout(predicate::str::is_match(r"(?m)^ *1$").unwrap());
    }
}
