#![allow(clippy::unwrap_used)]

use super::masks::{MASKED_PATHS, READONLY_PATHS};
use super::*;

#[test]
fn default_caps_mask_is_dockers_without_mknod() {
    // Docker's default CapBnd is 00000000a80425fb; CAP_MKNOD is bit 27.
    assert_eq!(default_caps_mask(), 0xa804_25fb & !(1 << 27));
    assert_eq!(default_caps_mask(), 0xa004_25fb);
    assert_eq!(DEFAULT_CAPS.len(), 13);
    assert!(DEFAULT_CAPS.iter().all(|&(name, _)| name != "CAP_MKNOD"));
}

#[test]
fn protected_paths_are_relative_to_root() {
    // Path::join with an absolute path would drop `root`.
    assert!(READONLY_PATHS.iter().chain(&MASKED_PATHS).all(|p| !p.starts_with('/')));
}
