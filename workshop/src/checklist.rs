//! `check`'s checklist: each test of a stage in plain words, with the
//! chapter section to reread when it fails, and libtest's output read back.
//!
//! The table names every test in `tests/tests/stepNN_*.rs`, those the
//! `root_tests!` macro makes from `tests/src/checks.rs` included; a unit test
//! fails when it misses one, so it cannot drift. A test it does not know is
//! still shown, by its name.

use crate::skeleton::{todo_message, Mark};

/// One test: its function name, what it checks in plain words, and the
/// section (`chapter.md#id`) that explains it.
pub struct Entry {
    pub test: &'static str,
    pub words: &'static str,
    pub section: &'static str,
}

const fn e(test: &'static str, words: &'static str, section: &'static str) -> Entry {
    Entry { test, words, section }
}

/// The checks of `tests/src/checks.rs` that stages share through
/// `root_tests!`, explained where they are first taught.
#[rustfmt::skip]
const SHARED: &[Entry] = &[
    e("hostname_change_stays_inside", "`hostname NAME` inside renames the container, not the host", "step01-uts.md#the-key-code"),
    e("exit_status_propagates", "the command's exit status comes back (0, 7, 126, 127, 137 when killed)", "step01-uts.md#what-can-go-wrong"),
    e("usage_errors", "a bad command line is refused with error: and hint:, exit 125", "step01-uts.md#what-can-go-wrong"),
    e("not_root_is_refused", "as a normal user: refused, with the sudo command to type", "step01-uts.md#what-can-go-wrong"),
    e("hostname_flag", "--hostname names the container (default `container`, 65 bytes refused)", "step02-self-exec.md#the-key-code"),
    e("option_like_values_reach_the_child", "--hostname=-x reaches the re-executed child intact", "step02-self-exec.md#the-key-code"),
    e("child_is_refused_outside_run", "`child` typed by hand is refused, the host keeps its name", "step02-self-exec.md#what-can-go-wrong"),
    e("ls_root_is_the_rootfs", "`ls /` inside lists the rootfs", "step04-chroot.md#the-key-code"),
    e("ps_lists_only_the_container", "`ps` lists only the container's processes", "step04-chroot.md#the-key-code"),
    e("host_mounts_unchanged", "the host's mount table is unchanged after a run", "step04-chroot.md#the-key-code"),
    e("host_mounts_unchanged_on_shared_root", "no mount leaks to a host whose / is shared (MS_PRIVATE)", "step04-chroot.md#the-key-code"),
    e("bad_rootfs_is_refused", "a bad --rootfs is refused with error: and hint:", "step04-chroot.md#what-can-go-wrong"),
    e("dev_is_minimal", "/dev holds only the harmless devices, and they work", "step05-pivot-root.md#a-dev-of-its-own"),
    e("mountinfo_has_only_container_mounts", "the container's mount table holds only its own mounts", "step05-pivot-root.md#nothing-of-the-host-left"),
    e("rootfs_left_as_found", "the rootfs on disk is left as it was, no put_old", "step05-pivot-root.md#the-key-code"),
    e("other_signals_leave_nothing_behind", "any other signal to the runtime leaves no cgroup behind", "step06-cgroups.md#reporting-an-oom-kill-cleaning-up-signals"),
    e("sub_cgroups_are_removed_too", "cgroups made inside the container's are removed too", "step06-cgroups.md#reporting-an-oom-kill-cleaning-up-signals"),
];

/// Each stage's own tests (`#[test]` functions in its test file).
#[rustfmt::skip]
const STAGE: [&[Entry]; 8] = [
    &[e("no_pid_namespace_yet", "`echo $$` prints a host PID: no PID namespace yet", "step01-uts.md#what-is-isolated")],
    &[e("no_pid_namespace_yet", "`echo $$` prints a host PID: no PID namespace yet", "step02-self-exec.md#what-is-isolated")],
    &[
        e("command_is_pid_1", "`echo $$` prints 1", "step03-pid.md#the-key-code"),
        e("ps_still_lists_the_hosts_processes", "`ps` still lists the host's processes (its /proc is the host's)", "step03-pid.md#what-is-isolated"),
    ],
    &[
        e("command_is_still_pid_1", "`echo $$` still prints 1", "step03-pid.md#the-key-code"),
        e("chroot_can_be_escaped", "the chroot escape still works (step05 closes it)", "step05-pivot-root.md#the-chroot-escape"),
    ],
    &[
        e("command_is_still_pid_1", "`echo $$` still prints 1", "step03-pid.md#the-key-code"),
        e("chroot_escape_is_confined", "the chroot escape is confined", "step05-pivot-root.md#the-chroot-escape"),
    ],
    &[
        e("limit_files_hold_the_requested_values", "--pids, --memory, --cpus are written to the cgroup's files", "step06-cgroups.md#cgroup-v2-controllers-from-the-top-down"),
        e("fork_storm_is_contained", "a fork storm stops at --pids 20", "step06-cgroups.md#the-fork-bomb-from-the-talk"),
        e("over_the_memory_limit_is_oom_killed_and_reported", "over --memory: OOM-killed, and reported", "step06-cgroups.md#over-the-memory-limit"),
        e("cgroup_removed_on_every_exit_path", "the cgroup is removed on every exit path", "step06-cgroups.md#reporting-an-oom-kill-cleaning-up-signals"),
        e("bad_values_are_refused_before_anything_is_created", "bad limits are refused before a cgroup is made", "step06-cgroups.md#what-can-go-wrong"),
        e("no_flag_no_cgroup", "no limit asked for: no cgroup", "step06-cgroups.md#one-cgroup-per-container"),
        e("earlier_lessons_hold", "steps 2 to 5 still hold (PID 1, hostname, ps, /, mounts, /dev, escape)", "step05-pivot-root.md#try-it"),
        e("signal_mask_is_clean", "the command starts with no signal blocked or ignored", "step06-cgroups.md#reporting-an-oom-kill-cleaning-up-signals"),
        e("usr1_to_the_runtime_is_dropped_and_leaves_nothing", "SIGUSR1 to the runtime is dropped, nothing left behind", "step06-cgroups.md#stopping-it-from-outside"),
    ],
    &[
        e("ipc_objects_are_invisible_both_ways", "an IPC queue inside and one on the host do not see each other", "step07-ipc.md#the-key-code"),
        e("net_none_has_only_lo_up", "--net none: only `lo`, up", "step07-network.md#the-idea"),
        e("bridge_gives_eth0_an_address_and_a_default_route", "eth0 gets an address and a default route", "step07-network.md#inside-addresses-and-routes"),
        e("host_reaches_a_server_in_a_container", "the host reaches a server in a container", "step07-network.md#the-bridge-and-the-addresses"),
        e("containers_reach_each_other", "two containers reach each other", "step07-network.md#the-bridge-and-the-addresses"),
        e("twenty_concurrent_containers_get_distinct_addresses_and_leave_nothing", "20 containers at once: distinct addresses, nothing left", "step07-network.md#taking-it-down"),
        e("init_is_pid_1_and_reaps_zombies", "init is PID 1 and reaps zombies", "step07-init.md#the-key-code"),
        e("signals_are_forwarded_to_the_command", "signals reach the command through init", "step07-init.md#signals-arrive"),
        e("usr1_to_the_runtime_reaches_the_command_and_leaves_nothing", "SIGUSR1 to the runtime reaches the command, nothing left", "step07-init.md#stopping-the-container-from-outside"),
        e("sigterm_to_the_runtime_ends_the_container_and_cleans_up", "SIGTERM to the runtime ends the container and cleans up", "step07-init.md#stopping-the-container-from-outside"),
        e("sigkill_to_the_runtime_kills_the_container", "SIGKILL to the runtime kills the container too", "step07-init.md#the-runtime-killed-with-sigkill"),
        e("environment_is_clean_and_e_adds_or_copies", "a clean environment; -e adds or copies a variable", "step07-init.md#the-environment"),
        e("env_values_that_look_like_options_reach_the_command", "-e values that look like options reach the command", "step07-init.md#the-environment"),
        e("interactive_bash_keeps_job_control", "an interactive bash keeps job control (Ctrl-C, Ctrl-Z)", "step07-init.md#ctrl-c-and-ctrl-z"),
        e("capabilities_are_dockers_default_minus_mknod", "capabilities are Docker's default set minus MKNOD", "step07-hardening.md#the-capability-sets"),
        e("hardening_blocks_mounts_kernel_knobs_and_disks", "mounts, kernel knobs and disks are blocked", "step07-hardening.md#what-they-block"),
        e("supplementary_groups_are_not_inherited", "the caller's supplementary groups are not inherited", "step07-hardening.md#the-key-code"),
        e("inherited_descriptors_do_not_reach_the_command", "open descriptors of the caller do not reach the command", "step07-hardening.md#descriptors-the-command-did-not-ask-for"),
        e("preserve_fds_passes_those_on_purpose_and_no_others", "--preserve-fds passes those on purpose, no others", "step07-hardening.md#descriptors-the-command-did-not-ask-for"),
        e("bad_preserve_fds_is_refused_before_anything_is_created", "a bad --preserve-fds is refused before anything is made", "step07-hardening.md#descriptors-the-command-did-not-ask-for"),
        e("init_is_not_dumpable_and_starts_with_no_caller_environment", "init is not dumpable and has none of the caller's environment", "step07-hardening.md#the-runtimes-own-process"),
        e("device_nodes_are_the_containers_own", "the device nodes are the container's own", "step07-hardening.md#device-nodes-of-its-own"),
        e("host_wide_kernel_information_is_masked", "host-wide kernel information is masked", "step07-hardening.md#read-only-and-masked-paths"),
        e("seccomp_denies_what_docker_denies", "seccomp denies what Docker denies", "step07-hardening.md#seccomp-what-capabilities-do-not-cover"),
        e("bad_seccomp_is_refused_before_anything_is_created", "a bad --seccomp is refused before anything is made", "step07-hardening.md#seccomp-what-capabilities-do-not-cover"),
        e("a_symlink_swap_during_setup_reaches_nothing_outside", "a symlink swapped in during setup reaches nothing outside", "step07-hardening.md#setup-that-cannot-be-redirected"),
        e("the_cgroup_tree_is_the_containers_own", "the cgroup tree inside is the container's own", "step07-full.md#what-is-isolated"),
        e("cgroup_limits_still_hold", "cgroup limits still hold, init in the container's cgroup", "step06-cgroups.md#limits-from-the-first-instruction"),
        e("earlier_lessons_hold", "earlier steps still hold (hostname, /, mounts, /dev, masks, ps)", "step07-full.md#what-is-isolated"),
        e("signal_mask_is_clean", "the command starts with no signal blocked or ignored", "step07-init.md#the-key-code"),
    ],
    &[
        e("root_inside_is_the_caller_outside", "root inside; on the host, the runtime, init and the command are you", "step08-rootless.md#the-idea"),
        e("the_map_is_the_callers_and_verbose_says_which", "uid_map and gid_map map root to you (0-65535 with newuidmap); --verbose says which", "step08-rootless.md#the-key-code"),
        e("as_root_the_map_is_root_to_root", "run as root: every id maps to itself, setgroups stays allowed", "step08-rootless.md#the-key-code"),
        e("a_file_made_inside_belongs_to_the_caller", "a file the container writes in the rootfs is yours on the host", "step08-rootless.md#what-is-isolated"),
        e("chown_inside_takes_the_subordinate_ids", "chown 42 inside is a subordinate id on the host (and fails with your id alone)", "step08-rootless.md#a-map-three-numbers-a-line"),
        e("hostname_pid_1_and_ps_are_the_containers", "hostname, PID 1 (init), ps and / are the container's, without sudo", "step08-rootless.md#what-is-isolated"),
        e("devices_and_host_files_are_out_of_reach", "no mknod; the host's /dev nodes read-only; host-owned files not writable", "step08-rootless.md#what-is-isolated"),
        e("mounts_the_user_namespace_does_not_own_fail", "mounts the user namespace does not own (sysfs, proc, a disk) fail", "step08-rootless.md#what-is-isolated"),
        e("step07_hardening_still_holds", "step07's hardening holds: escape, capabilities, seccomp, masks, mounts", "step07-hardening.md#the-key-code"),
        e("limits_without_a_delegated_cgroup_are_refused_up_front", "--memory/--pids/--cpus without a delegated cgroup: refused, nothing made", "step08-rootless.md#what-can-go-wrong"),
        e("limits_in_a_delegated_cgroup", "limits in a cgroup v2 subtree delegated to you", "step08-rootless.md#what-can-go-wrong"),
        e("net_bridge_is_refused_and_none_is_the_default", "--net bridge refused without root; --net none is the default", "step08-rootless.md#what-can-go-wrong"),
        e("as_root_bridge_limits_and_groups_work_as_in_step07", "run as root: bridge, limits and groups work as in step07", "step08-rootless.md#the-idea"),
        e("as_root_the_hosts_device_nodes_are_read_only_inside", "run as root: the host's /dev/null cannot be changed from inside", "step08-rootless.md#what-is-isolated"),
        e("killing_the_runtime_ends_the_container", "SIGTERM or SIGKILL to the runtime ends the container", "step07-init.md#the-runtime-killed-with-sigkill"),
        e("interactive_bash_without_sudo_keeps_job_control", "an interactive bash without sudo: a prompt, Ctrl-C reaches the job, not the shell", "step08-rootless.md#try-it"),
        e("a_shell_reads_its_input_and_exits_with_its_status", "a shell reads its input and exits with its status", "step08-rootless.md#try-it"),
        e("exit_status_and_usage_errors_as_before", "exit statuses, usage errors and `child` refused, as before", "step01-uts.md#what-can-go-wrong"),
    ],
];

/// Stage `number`'s entries: its own tests first, then the shared checks.
pub fn entries(number: u8) -> impl Iterator<Item = &'static Entry> {
    STAGE[usize::from(number) - 1].iter().chain(SHARED)
}

/// The entry for `test` of stage `number`, if the table has it.
pub fn lookup(number: u8, test: &str) -> Option<&'static Entry> {
    entries(number).find(|e| e.test == test)
}

/// What one test did.
#[derive(Debug)]
pub struct Outcome {
    pub test: String,
    pub passed: bool,
    /// The test's captured output, for a failed test.
    pub output: String,
}

/// The tests in libtest's (non-quiet) output: `test NAME ... ok` and the
/// `---- NAME stdout ----` sections of the failures.
pub fn parse_libtest(stdout: &str) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test "))
        .filter_map(|l| l.rsplit_once(" ... "))
        .filter(|(_, verdict)| *verdict == "ok" || *verdict == "FAILED")
        .map(|(test, verdict)| Outcome {
            test: test.to_string(),
            passed: verdict == "ok",
            output: String::new(),
        })
        .collect();
    let mut current: Option<usize> = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("---- ").and_then(|l| l.strip_suffix(" stdout ----"))
        {
            current = outcomes.iter().position(|o| o.test == name);
            continue;
        }
        if line == "failures:" || line.starts_with("test result:") {
            current = None;
        }
        if let Some(i) = current {
            outcomes[i].output.push_str(line);
            outcomes[i].output.push('\n');
        }
    }
    outcomes
}

/// Why a test failed, in one line: the `todo!()` it reached, or the first
/// useful line of its failure.
pub enum Reason<'a> {
    Todo { mark: Option<&'a Mark>, what: String, at: Option<String> },
    Line(String),
}

pub fn reason<'a>(output: &str, marks: &'a [Mark]) -> Reason<'a> {
    let needle = todo_message("");
    if let Some(start) = output.find(&needle) {
        // As the program printed it, or escaped, when a test shows its
        // stderr as a Rust string.
        let rest = &output[start + needle.len()..];
        let unescaped = rest.replace("\\\"", "\"").replace("\\\\", "\\");
        let mark =
            marks.iter().find(|m| rest.starts_with(&m.what) || unescaped.starts_with(&m.what));
        let what = match mark {
            Some(m) => m.what.clone(),
            None => rest.split(['\n', '"', '`', '\\']).next().unwrap_or("").to_string(),
        };
        return Reason::Todo { mark, what, at: panic_location(&output[..start]) };
    }
    Reason::Line(first_useful_line(output))
}

/// `src/main.rs:93:5` from the last "panicked at src/…:L:C:" before a
/// panic's message.
fn panic_location(before: &str) -> Option<String> {
    let at = before.rfind("panicked at ")?;
    let loc = &before[at + "panicked at ".len()..];
    let loc = loc.split(['\n', ' ', '\\']).next()?.trim_end_matches(':');
    (loc.starts_with("src/") || loc.contains("/src/")).then(|| loc.to_string())
}

/// The failure in one line, as far as a learner needs it: where the
/// learner's program panicked, or what the test expected and what it saw.
pub fn first_useful_line(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let panic_at = |from: &str| {
        lines
            .iter()
            .position(|l| l.starts_with("thread '") && l.contains(&format!(" panicked at {from}")))
    };
    // The learner's program panicked (its stderr is in the test's message).
    if let Some(i) = panic_at("src/") {
        let at = lines[i].rsplit(" panicked at ").next().unwrap_or("").trim_end_matches(':');
        let message = lines.get(i + 1).map_or("", |l| l.trim());
        return shorten(&format!("your program panicked at {at}: {message}"), 200);
    }
    let message: Vec<&str> = match panic_at("tests/").or_else(|| panic_at("")) {
        Some(i) => lines[i + 1..].to_vec(),
        None => lines,
    };
    let message: Vec<&str> = message
        .into_iter()
        .take_while(|l| !l.starts_with("stack backtrace:") && !l.starts_with("note: "))
        .collect();
    let first = message.iter().map(|l| l.trim()).find(|l| !l.is_empty()).unwrap_or("(no message)");
    let line = match first.strip_prefix("Unexpected ") {
        Some(what) => unexpected(what, &message),
        None if first.starts_with("assertion `left == right` failed") && !first.contains(": ") => {
            let value = |key: &str| field(&message, key).unwrap_or_default();
            format!("{first} (left: {}, right: {})", value("left: "), value("right: "))
        }
        None => first.to_string(),
    };
    shorten(&line, 200)
}

/// An `assert_cmd` failure ("Unexpected failure.", "Unexpected stdout, failed
/// var.is_match(…)", …) as what was expected and what the program did.
fn unexpected(what: &str, message: &[&str]) -> String {
    let code = field(message, "code=").unwrap_or_default();
    let got = field(message, "var as str: ").or_else(|| field(message, "var: "));
    let expected = field(message, "original: ");
    // The stage's own error line, from the stderr the test shows.
    // On a line of its own, or first in a one-line `stderr="error: …\\n"`.
    let error = message
        .iter()
        .map(|l| l.trim().replace("\\'", "'"))
        .map(|l| match l.strip_prefix("stderr=\"") {
            Some(quoted) => {
                quoted.split("\\n").next().unwrap_or("").trim_end_matches('"').to_string()
            }
            None => l,
        })
        .find(|l| l.starts_with("error: "))
        .map_or_else(String::new, |e| format!(": {e}"));
    let shown = |v: Option<String>| format!("{:?}", v.unwrap_or_default());
    if what.starts_with("failure") {
        return format!("exit status {code}, expected 0{error}");
    }
    if what.starts_with("success") {
        return "exit status 0, expected a failure".to_string();
    }
    if let Some(want) = what.strip_prefix("return code, failed var == ") {
        return format!("exit status {}, expected {want}{error}", got.unwrap_or(code));
    }
    let (stream, test) = what.split_once(", failed ").unwrap_or((what, ""));
    match expected {
        Some(_) => format!("{stream} was {}, expected {}", shown(got), shown(expected)),
        None => format!("{stream} was {}, expected {test}", shown(got)),
    }
}

/// The value after `key` on the first line of `message` that has it (past
/// the tree drawing of `predicates`), with `…` when it goes on over more
/// lines.
fn field(message: &[&str], key: &str) -> Option<String> {
    message.iter().enumerate().find_map(|(i, l)| {
        let l = l.trim_start_matches(['├', '└', '│', '─', ' ']);
        let value = l.strip_prefix(key)?.trim();
        let more = message.get(i + 1).is_some_and(|next| next.starts_with('│'));
        Some(if more { format!("{value}…") } else { value.to_string() })
    })
}

/// `s`, cut at `max` characters with an ellipsis.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}
