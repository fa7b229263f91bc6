//! step02-self-exec: the runtime re-executes itself to set the hostname.
use container_tests::{checks, root_or_skip, Stage};

fn stage() -> Stage {
    Stage::new("step02-self-exec")
}

#[test]
fn hostname_flag_sets_the_name() {
    if root_or_skip("step02 --hostname") {
        checks::hostname_flag(&stage());
    }
}

#[test]
fn hostname_change_stays_inside() {
    if root_or_skip("step02 hostname") {
        checks::hostname_change_stays_inside(&stage());
    }
}

#[test]
fn no_pid_namespace_yet() {
    if root_or_skip("step02 pid") {
        assert_ne!(checks::shell_pid(&stage()), 1);
    }
}

#[test]
fn exit_status_propagates() {
    if root_or_skip("step02 exit status") {
        checks::exit_status_propagates(&stage());
    }
}

#[test]
fn usage_errors() {
    if root_or_skip("step02 usage") {
        checks::usage_errors(&stage());
    }
}

#[test]
fn not_root_is_refused() {
    if root_or_skip("step02 not root") {
        checks::not_root_is_refused(&stage());
    }
}
