//! step05-pivot-root: pivot_root, the old root detached, a minimal /dev.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use container_tests::{checks, root_or_skip, root_tests, Stage};
use predicates::prelude::*;

fn stage() -> Stage {
    Stage::with_rootfs("step05-pivot-root")
}

root_tests!(stage();
    dev_is_minimal,
    mountinfo_has_only_container_mounts,
    rootfs_left_as_found,
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
fn chroot_escape_is_confined() {
    if root_or_skip("step05 escape") {
        checks::chroot_escape(&stage()).code(1).stdout(predicate::str::starts_with("CONFINED: "));
    }
}

#[test]
fn command_is_still_pid_1() {
    if root_or_skip("step05 pid 1") {
        checks::shell_pid(&stage()).stdout("1\n");
    }
}
