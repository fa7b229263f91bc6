//! step04-chroot: a mount namespace, chroot into the rootfs, a fresh /proc.
use container_tests::{checks, root_or_skip, Stage};

fn stage() -> Stage {
    Stage::with_rootfs("step04-chroot")
}

#[test]
fn ls_root_is_the_rootfs() {
    if root_or_skip("step04 ls /") {
        checks::ls_root_is_the_rootfs(&stage());
    }
}

#[test]
fn ps_lists_only_the_container() {
    if root_or_skip("step04 ps") {
        checks::ps_lists_only_the_container(&stage());
    }
}

#[test]
fn host_mounts_unchanged() {
    if root_or_skip("step04 mounts") {
        checks::host_mounts_unchanged(&stage());
    }
}

#[test]
fn host_mounts_unchanged_on_shared_root() {
    if root_or_skip("step04 mounts, shared /") {
        checks::host_mounts_unchanged_on_shared_root(&stage());
    }
}

#[test]
fn bad_rootfs_is_refused() {
    if root_or_skip("step04 bad rootfs") {
        checks::bad_rootfs_is_refused(&stage());
    }
}

#[test]
fn chroot_can_be_escaped() {
    if root_or_skip("step04 escape") {
        assert_eq!(checks::escape(&stage()), "ESCAPED");
    }
}

#[test]
fn earlier_lessons_hold() {
    if root_or_skip("step04 earlier lessons") {
        let stage = stage();
        assert_eq!(checks::shell_pid(&stage), 1);
        checks::hostname_flag(&stage);
        checks::hostname_change_stays_inside(&stage);
    }
}

#[test]
fn exit_status_propagates() {
    if root_or_skip("step04 exit status") {
        checks::exit_status_propagates(&stage());
    }
}

#[test]
fn usage_errors() {
    if root_or_skip("step04 usage") {
        checks::usage_errors(&stage());
    }
}

#[test]
fn not_root_is_refused() {
    if root_or_skip("step04 not root") {
        checks::not_root_is_refused(&stage());
    }
}
