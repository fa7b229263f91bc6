//! syscall-probe NAME...: make each system call the seccomp filter covers,
//! with harmless arguments, and print `NAME: ok` or `NAME: ERRNO`. The tests
//! copy it into the container's rootfs, as they do chroot-escape, and compare
//! the answers with and without the filter: EPERM (ENOSYS for clone3) with
//! it; without it, whatever the kernel says to those arguments (EFAULT,
//! EINVAL, ENOTTY, success), never EPERM. Nothing it does reaches a terminal:
//! the terminal ioctls go to /dev/null.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::fd::AsRawFd;

fn answer(ret: libc::c_long) -> String {
    if ret >= 0 {
        "ok".to_string()
    } else {
        format!("{:?}", nix::errno::Errno::last())
    }
}

fn main() {
    let null = std::fs::File::open("/dev/null").expect("/dev/null");
    let fd = null.as_raw_fd() as libc::c_long;
    let byte = b"x".as_ptr() as libc::c_long;
    for name in std::env::args().skip(1) {
        // SAFETY: each call passes integers, a pointer to a live byte, or
        // NULL, which the kernel checks; the cloned child exits at once.
        let ret = unsafe {
            match name.as_str() {
                "tiocsti" => libc::syscall(libc::SYS_ioctl, fd, 0x5412, byte),
                "tioclinux" => libc::syscall(libc::SYS_ioctl, fd, 0x541C, byte),
                "keyctl" => libc::syscall(libc::SYS_keyctl, 0, 0x7fff_ffff, 0),
                "add_key" => libc::syscall(libc::SYS_add_key, 0, 0, 0, 0, 0),
                "request_key" => libc::syscall(libc::SYS_request_key, 0, 0, 0, 0),
                "perf_event_open" => libc::syscall(libc::SYS_perf_event_open, 0, 0, -1, -1, 0),
                "setns" => libc::syscall(libc::SYS_setns, -1, 0),
                "unshare" => libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER),
                "personality" => {
                    let old = libc::syscall(libc::SYS_personality, 0x0040000); // ADDR_NO_RANDOMIZE
                    if old >= 0 {
                        libc::syscall(libc::SYS_personality, old);
                    }
                    old
                }
                "clone3" => libc::syscall(libc::SYS_clone3, 0, 0),
                // A NULL io_uring_params: EFAULT when allowed, so no ring is made.
                "io_uring_setup" => libc::syscall(libc::SYS_io_uring_setup, 1, 0),
                "ptrace-init" => {
                    // Attach to PID 1 (the container's init) and let go at once.
                    let ret = libc::syscall(libc::SYS_ptrace, libc::PTRACE_ATTACH, 1, 0, 0);
                    if ret == 0 {
                        libc::waitpid(1, std::ptr::null_mut(), libc::__WALL);
                        libc::syscall(libc::SYS_ptrace, libc::PTRACE_DETACH, 1, 0, 0);
                    }
                    ret
                }
                "clone-newuser" => {
                    let flags = (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_long;
                    let pid = libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0);
                    if pid == 0 {
                        libc::_exit(0);
                    }
                    if pid > 0 {
                        libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
                    }
                    pid
                }
                _ => {
                    eprintln!("syscall-probe: unknown probe {name:?}");
                    std::process::exit(2);
                }
            }
        };
        println!("{name}: {}", answer(ret));
    }
}
