//! The limits `run` takes (--memory, --pids, --cpus): their bounds, and how
//! they are parsed and checked before anything is created.

/// The smallest `--memory`: Docker's minimum (6 MiB). Below it the container's
/// first process is OOM-killed before it gets going.
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// The largest `--pids`: the kernel's PID_MAX_LIMIT on 64-bit; `pids.max`
/// refuses more with EINVAL.
pub const MAX_PIDS: u64 = 4 * 1024 * 1024;

/// The CPU bandwidth period, 100 ms: the kernel's default and Docker's. A
/// quota of half of it (`--cpus 0.5`) lets the container run 50 ms per 100 ms.
pub const CPU_PERIOD_US: u64 = 100_000;

/// The smallest `--cpus`: a quota of 1% of the period is 1 ms, the least the
/// kernel accepts (`min_cfs_quota_period` in kernel/sched/core.c).
pub const MIN_CPUS: f64 = 0.01;

/// The limits `run` was asked for, as its options; `None` leaves that
/// resource unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, clap::Args)]
pub struct Limits {
    /// Memory limit: 64M, 1G or bytes; at least 6M. Over it, the OOM killer.
    #[arg(long, value_name = "SIZE", value_parser = parse_memory)]
    pub memory: Option<u64>,
    /// Most processes the container may have at once (pids.max).
    #[arg(long, value_name = "N", value_parser = parse_pids)]
    pub pids: Option<u64>,
    /// CPU time, in CPUs: 0.5 is half of one CPU's time.
    #[arg(long, value_name = "FLOAT", value_parser = parse_cpus)]
    pub cpus: Option<f64>,
}

impl Limits {
    /// True when no limit was asked for: then the runtime makes no cgroup.
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.pids.is_none() && self.cpus.is_none()
    }

    /// The controllers these limits need, and only those.
    pub(super) fn controllers(&self) -> Vec<&'static str> {
        let mut needed = Vec::new();
        if self.pids.is_some() {
            needed.push("pids");
        }
        if self.memory.is_some() {
            needed.push("memory");
        }
        if self.cpus.is_some() {
            needed.push("cpu");
        }
        needed
    }
}

/// `--memory SIZE`: a whole number of bytes with an optional unit `k`, `M`, `G`
/// or `T` in powers of 1024, any case, optionally followed by `B` or `iB`
/// (`64M` = `64m` = `64MB` = `64MiB` = 67108864), as Docker reads it.
pub fn parse_memory(s: &str) -> Result<u64, String> {
    const EXPECTED: &str = "expected a whole number of bytes with an optional unit \
        k, M, G or T (powers of 1024), e.g. 64M, 1G or 1073741824";
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(EXPECTED.into()),
    };
    if number.is_empty() {
        return Err(EXPECTED.into());
    }
    let too_large = || "too large: more than 16 EiB".to_string();
    // Only digits are left, so parsing fails only when the number overflows.
    let n: u64 = number.parse().map_err(|_| too_large())?;
    let bytes = n.checked_mul(1 << shift).ok_or_else(too_large)?;
    if bytes == 0 {
        return Err("0 bytes leaves no memory at all: use at least 6M".into());
    }
    if bytes < MIN_MEMORY {
        return Err(format!(
            "{bytes} bytes is below 6M, the least a container needs to start \
             its first process (Docker's minimum)"
        ));
    }
    Ok(bytes)
}

/// `--pids N`: how many processes (and threads) may exist in the container.
pub fn parse_pids(s: &str) -> Result<u64, String> {
    let n: u64 = s.parse().map_err(|e: std::num::ParseIntError| {
        if *e.kind() == std::num::IntErrorKind::PosOverflow {
            format!("at most {MAX_PIDS}, the kernel's PID_MAX_LIMIT")
        } else {
            "expected a whole number of processes, e.g. 20".to_string()
        }
    })?;
    match n {
        0 => Err("0 would stop even the container's first process: use at least 1".into()),
        n if n > MAX_PIDS => Err(format!("at most {MAX_PIDS}, the kernel's PID_MAX_LIMIT")),
        n => Ok(n),
    }
}

/// `--cpus FLOAT`: how many CPUs' worth of time the container may use, from
/// 0.01 up to the number of CPUs online.
pub fn parse_cpus(s: &str) -> Result<f64, String> {
    parse_cpus_upto(s, online_cpus())
}

pub(super) fn parse_cpus_upto(s: &str, online: u64) -> Result<f64, String> {
    let cpus: f64 =
        s.parse().map_err(|_| "expected a number of CPUs, e.g. 0.5 or 2".to_string())?;
    // f64 parsing accepts "inf" and "NaN": refuse them with the rest.
    if !cpus.is_finite() || !(MIN_CPUS..=online as f64).contains(&cpus) {
        return Err(format!(
            "the range of CPUs is from {MIN_CPUS:.2} to {online}.00: \
             this machine has {online} CPUs online"
        ));
    }
    Ok(cpus)
}

/// How many CPUs are online, as `getconf _NPROCESSORS_ONLN` prints.
pub(super) fn online_cpus() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    u64::try_from(n).unwrap_or(1).max(1)
}

/// `--cpus` as microseconds of CPU time per period: 0.5 -> 50000.
pub(super) fn cpu_quota_us(cpus: f64) -> u64 {
    (cpus * CPU_PERIOD_US as f64).round() as u64
}
