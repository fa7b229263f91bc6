//! step02-self-exec: the runtime re-executes itself to set the hostname.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use container_tests::{checks, root_or_skip, root_tests, Stage};
use predicates::prelude::*;

fn stage() -> Stage {
    Stage::new("step02-self-exec")
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
fn no_pid_namespace_yet() {
    if root_or_skip("step02 pid") {
        checks::shell_pid(&stage())
            .stdout(predicate::str::is_match(r"\A[1-9][0-9]*\n\z").unwrap())
            .stdout(predicate::ne("1\n"));
    }
}
