//! step05-pivot-root: pivot_root, the old root detached, a minimal /dev.
use container_tests::{checks, root_or_skip, Stage};

fn stage() -> Stage {
    Stage::with_rootfs("step05-pivot-root")
}

#[test]
fn ls_root_is_the_rootfs() {
    if root_or_skip("step05 ls /") {
        checks::ls_root_is_the_rootfs(&stage());
    }
}

#[test]
fn ps_lists_only_the_container() {
    if root_or_skip("step05 ps") {
        checks::ps_lists_only_the_container(&stage());
    }
}

#[test]
fn host_mounts_unchanged() {
    if root_or_skip("step05 mounts") {
        checks::host_mounts_unchanged(&stage());
    }
}

#[test]
fn host_mounts_unchanged_on_shared_root() {
    if root_or_skip("step05 mounts, shared /") {
        checks::host_mounts_unchanged_on_shared_root(&stage());
    }
}

#[test]
fn bad_rootfs_is_refused() {
    if root_or_skip("step05 bad rootfs") {
        checks::bad_rootfs_is_refused(&stage());
    }
}

#[test]
fn chroot_escape_is_confined() {
    if root_or_skip("step05 escape") {
        assert_eq!(checks::escape(&stage()), "CONFINED");
    }
}

#[test]
fn dev_is_minimal() {
    if root_or_skip("step05 /dev") {
        checks::dev_is_minimal(&stage());
    }
}

#[test]
fn mountinfo_has_only_container_mounts() {
    if root_or_skip("step05 mountinfo") {
        checks::mountinfo_has_only_container_mounts(&stage());
    }
}

#[test]
fn rootfs_left_as_found() {
    if root_or_skip("step05 rootfs on disk") {
        checks::rootfs_left_as_found(&stage());
    }
}

#[test]
fn earlier_lessons_hold() {
    if root_or_skip("step05 earlier lessons") {
        let stage = stage();
        assert_eq!(checks::shell_pid(&stage), 1);
        checks::hostname_flag(&stage);
        checks::hostname_change_stays_inside(&stage);
    }
}

#[test]
fn exit_status_propagates() {
    if root_or_skip("step05 exit status") {
        checks::exit_status_propagates(&stage());
    }
}

#[test]
fn usage_errors() {
    if root_or_skip("step05 usage") {
        checks::usage_errors(&stage());
    }
}

#[test]
fn not_root_is_refused() {
    if root_or_skip("step05 not root") {
        checks::not_root_is_refused(&stage());
    }
}
