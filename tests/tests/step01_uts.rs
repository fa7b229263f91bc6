//! step01-uts: a new UTS namespace, and nothing else yet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use container_tests::{checks, root_or_skip, root_tests, Stage};
use predicates::prelude::*;

fn stage() -> Stage {
    Stage::new("step01-uts")
}

root_tests!(stage(); hostname_change_stays_inside, exit_status_propagates, usage_errors, not_root_is_refused);

#[test]
fn no_pid_namespace_yet() {
    if root_or_skip("step01 pid") {
        checks::shell_pid(&stage())
            .stdout(predicate::str::is_match(r"\A[1-9][0-9]*\n\z").unwrap())
            .stdout(predicate::ne("1\n"));
    }
}
