//! step01-uts: a new UTS namespace, and nothing else yet.
use container_tests::{checks, root_or_skip, Stage};

fn stage() -> Stage {
    Stage::new("step01-uts")
}

#[test]
fn hostname_change_stays_inside() {
    if root_or_skip("step01 hostname") {
        checks::hostname_change_stays_inside(&stage());
    }
}

#[test]
fn no_pid_namespace_yet() {
    if root_or_skip("step01 pid") {
        assert_ne!(checks::shell_pid(&stage()), 1);
    }
}

#[test]
fn exit_status_propagates() {
    if root_or_skip("step01 exit status") {
        checks::exit_status_propagates(&stage());
    }
}

#[test]
fn usage_errors() {
    if root_or_skip("step01 usage") {
        checks::usage_errors(&stage());
    }
}

#[test]
fn not_root_is_refused() {
    if root_or_skip("step01 not root") {
        checks::not_root_is_refused(&stage());
    }
}
