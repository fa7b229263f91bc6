//! The eight stages, and the ways a learner names one: 3, 03, step03 or
//! step03-pid.

use crate::Hinted;

/// One stage crate of the workspace.
pub struct Stage {
    pub number: u8,
    pub name: &'static str,
}

pub const STAGES: [Stage; 8] = [
    Stage { number: 1, name: "step01-uts" },
    Stage { number: 2, name: "step02-self-exec" },
    Stage { number: 3, name: "step03-pid" },
    Stage { number: 4, name: "step04-chroot" },
    Stage { number: 5, name: "step05-pivot-root" },
    Stage { number: 6, name: "step06-cgroups" },
    Stage { number: 7, name: "step07-full" },
    Stage { number: 8, name: "step08-rootless" },
];

impl Stage {
    /// The stage's integration tests: `tests/tests/step03_pid.rs` is the
    /// test target `step03_pid`.
    pub fn test_target(&self) -> String {
        self.name.replace('-', "_")
    }

    /// Whether the stage runs without root: then `check`, run as a normal
    /// user, runs its tests as that user, without sudo.
    pub fn rootless(&self) -> bool {
        self.number == 8
    }

    /// The tests a rootless stage checks only as root (the stage run as
    /// root, and a cgroup delegated by root): as a normal user they are
    /// left out, and the checklist says so.
    pub fn needs_root(&self) -> &'static [&'static str] {
        match self.number {
            8 => &[
                "as_root_the_map_is_root_to_root",
                "as_root_bridge_limits_and_groups_work_as_in_step07",
                "as_root_the_hosts_device_nodes_are_read_only_inside",
                "limits_in_a_delegated_cgroup",
                "exit_status_propagates",
                "child_is_refused_outside_run",
            ],
            _ => &[],
        }
    }

    /// The learner's package (and binary) name: `mine-step03-pid`.
    pub fn package(&self) -> String {
        format!("mine-{}", self.name)
    }
}

/// The stage a learner means by `arg`.
pub fn parse(arg: &str) -> Result<&'static Stage, Hinted> {
    STAGES
        .iter()
        .find(|s| {
            let digits = &s.name[4..6]; // "03"
            s.name == arg
                || arg.strip_prefix("step").unwrap_or(arg) == digits
                || arg == digits.trim_start_matches('0')
        })
        .ok_or_else(|| {
            let names: Vec<&str> = STAGES.iter().map(|s| s.name).collect();
            Hinted::new(
                format!("unknown stage {arg:?}"),
                format!("a stage is 1 to 8, 01 to 08, or its crate's name: {}", names.join(", ")),
            )
        })
}
