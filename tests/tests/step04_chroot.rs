//! step04-chroot: a mount namespace, chroot into the rootfs, a fresh /proc.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use container_tests::{checks, root_or_skip, root_tests, Stage};
use predicates::prelude::*;

fn stage() -> Stage {
    Stage::with_rootfs("step04-chroot")
}

root_tests!(stage();
    ls_root_is_the_rootfs,
    ps_lists_only_the_container,
    host_mounts_unchanged,
    host_mounts_unchanged_on_shared_root,
    bad_rootfs_is_refused,
    hostname_flag,
    option_like_values_reach_the_child,
    hostname_change_stays_inside,
    exit_status_propagates,
    usage_errors,
    not_root_is_refused,
    child_is_refused_outside_run,
);

#[test]
fn chroot_can_be_escaped() {
    if root_or_skip("step04 escape") {
        checks::chroot_escape(&stage()).code(0).stdout(predicate::str::starts_with("ESCAPED: "));
    }
}

#[test]
fn command_is_still_pid_1() {
    if root_or_skip("step04 pid 1") {
        checks::shell_pid(&stage()).stdout("1\n");
    }
}
