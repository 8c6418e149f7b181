//! The report: JSON (`target/lwpvm/bench/linux.json`, read back by `cargo xtask bench`) and a
//! readable table, plus the number formatting both this program and xtask use.
//!
//! # JSON (schema [`SCHEMA`])
//!
//! ```json
//! {
//!   "schema": "lwpvm-linux-bench/1",
//!   "measured_at_unix": 1790000000,
//!   "machine": { "nproc": 2, "cpu_model": "AMD EPYC", "cpu_signature": "family 25 model 1",
//!                "hypervisor": true, "kernel": "6.18.44", "kernel_version": "#1 SMP ...",
//!                "libc": "glibc 2.36", "cpus_allowed": [0, 1],
//!                "mitigations": ["spectre_v2: Mitigation: Retpolines; ..."] },
//!   "method": { "rounds": 7, "round_ms": 40.0, "statistic": "...", "clock": "..." },
//!   "results": [ { "id": "null_syscall", "title": "...", "ns_median": 61.2, "ns_min": 60.9,
//!                  "ns_max": 63.0, "iterations": 4200000, "rounds": 7, "cpus": [0],
//!                  "method": "syscall(SYS_getpid)" } ],
//!   "not_measured": [ { "id": "cross_signal_2cpu", "reason": "...", "failed": false } ]
//! }
//! ```
//!
//! `id` is a [`shared_abi::current::bench::Op`] id; `ns_*` are nanoseconds per operation
//! (median, fastest and slowest round); `iterations` counts the operations timed over all
//! rounds.

use serde::{Deserialize, Serialize};

/// The `schema` value this version writes and reads.
pub const SCHEMA: &str = "lwpvm-linux-bench/1";

/// Everything one run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    /// When the run started (seconds since the Unix epoch).
    pub measured_at_unix: u64,
    /// The machine.
    pub machine: Machine,
    /// How the figures were taken.
    pub method: Method,
    /// One entry per measured operation, in table order.
    pub results: Vec<OpResult>,
    /// Operations that were asked for but have no figure.
    #[serde(default)]
    pub not_measured: Vec<NotMeasured>,
}

/// The machine the figures come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Online CPUs.
    pub nproc: u32,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// `cpu family` and `model` from /proc/cpuinfo.
    pub cpu_signature: String,
    /// The CPU reports the `hypervisor` flag: this Linux is itself a virtual machine.
    pub hypervisor: bool,
    /// `uname -r`.
    pub kernel: String,
    /// `uname -v`.
    pub kernel_version: String,
    /// The C library and its version.
    pub libc: String,
    /// CPUs the benchmark may run on.
    pub cpus_allowed: Vec<usize>,
    /// Active CPU vulnerability mitigations (`/sys/devices/system/cpu/vulnerabilities`, the
    /// entries starting with "Mitigation"), as `name: text`: they set the price of every
    /// kernel entry and exit.
    #[serde(default)]
    pub mitigations: Vec<String>,
}

/// How the figures were taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// Timed rounds per operation.
    pub rounds: usize,
    /// Target length of a round, in milliseconds.
    pub round_ms: f64,
    /// What the reported figure is.
    pub statistic: String,
    /// The clock.
    pub clock: String,
}

/// One measured operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpResult {
    /// The operation id (shared with the guest's benchmarks).
    pub id: String,
    /// Its human-readable title.
    pub title: String,
    /// Median over rounds of nanoseconds per operation.
    pub ns_median: f64,
    /// Nanoseconds per operation in the fastest round.
    pub ns_min: f64,
    /// Nanoseconds per operation in the slowest round.
    pub ns_max: f64,
    /// Operations timed, all rounds together.
    pub iterations: u64,
    /// Timed rounds.
    pub rounds: usize,
    /// The CPUs it ran on.
    pub cpus: Vec<usize>,
    /// Exactly what was timed.
    pub method: String,
}

/// An operation without a figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotMeasured {
    /// The operation id.
    pub id: String,
    /// Why.
    pub reason: String,
    /// `true` if it went wrong, `false` if it does not apply here.
    pub failed: bool,
}

impl Report {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }

    /// Reads a report, checking its schema.
    pub fn from_json(text: &str) -> Result<Report, String> {
        let r: Report = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if r.schema != SCHEMA {
            return Err(format!("schema {:?}, expected {SCHEMA:?}", r.schema));
        }
        Ok(r)
    }

    /// The result for operation `id`.
    pub fn get(&self, id: &str) -> Option<&OpResult> {
        self.results.iter().find(|r| r.id == id)
    }

    /// One line describing the machine and the method.
    pub fn headline(&self) -> String {
        let m = &self.machine;
        format!(
            "Linux {} ({}), {} ({}), {} CPU{}{}; median of {} rounds of ~{} ms",
            m.kernel,
            m.libc,
            m.cpu_model,
            m.cpu_signature,
            m.nproc,
            if m.nproc == 1 { "" } else { "s" },
            if m.hypervisor {
                ", itself a virtual machine"
            } else {
                ""
            },
            self.method.rounds,
            self.method.round_ms
        )
    }

    /// The readable table: one row per operation.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.headline());
        out.push('\n');
        let header = [
            "operation",
            "median ns",
            "min ns",
            "max ns",
            "iterations",
            "CPUs",
        ];
        let mut rows: Vec<[String; 6]> = vec![header.map(str::to_string)];
        for r in &self.results {
            rows.push([
                r.id.clone(),
                fmt_ns(r.ns_median),
                fmt_ns(r.ns_min),
                fmt_ns(r.ns_max),
                fmt_count(r.iterations),
                r.cpus
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ]);
        }
        out.push_str(&render_rows(&rows, &[false, true, true, true, true, false]));
        for n in &self.not_measured {
            out.push_str(&format!(
                "{} {}: {}\n",
                if n.failed { "FAILED" } else { "skipped" },
                n.id,
                n.reason
            ));
        }
        out
    }
}

/// Renders rows as aligned columns separated by two spaces; `right[i]` right-aligns column
/// `i`. Trailing spaces are trimmed.
pub fn render_rows<const N: usize>(rows: &[[String; N]], right: &[bool; N]) -> String {
    let mut width = [0usize; N];
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = width[i] - cell.chars().count();
            if right[i] {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `1234567` → `"1,234,567"`.
pub fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Nanoseconds for a table: two decimals below 10, one below 1,000, none (grouped) above.
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() || ns < 0.0 {
        return "?".to_string();
    }
    if ns < 10.0 {
        format!("{ns:.2}")
    } else if ns < 1000.0 {
        format!("{ns:.1}")
    } else {
        fmt_count(ns.round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Report {
        Report {
            schema: SCHEMA.into(),
            measured_at_unix: 1_790_000_000,
            machine: Machine {
                nproc: 2,
                cpu_model: "AMD EPYC".into(),
                cpu_signature: "family 25 model 1".into(),
                hypervisor: true,
                kernel: "6.18.44".into(),
                kernel_version: "#1 SMP".into(),
                libc: "glibc 2.36".into(),
                cpus_allowed: vec![0, 1],
                mitigations: vec!["spectre_v2: Mitigation: Retpolines".into()],
            },
            method: Method {
                rounds: 7,
                round_ms: 40.0,
                statistic: "median".into(),
                clock: "CLOCK_MONOTONIC".into(),
            },
            results: vec![
                OpResult {
                    id: "null_syscall".into(),
                    title: "null syscall (getpid)".into(),
                    ns_median: 61.25,
                    ns_min: 60.9,
                    ns_max: 63.0,
                    iterations: 4_200_000,
                    rounds: 7,
                    cpus: vec![0],
                    method: "syscall(SYS_getpid)".into(),
                },
                OpResult {
                    id: "futex_pingpong_2cpu".into(),
                    title: "futex round trip, 2 CPUs".into(),
                    ns_median: 12_345.6,
                    ns_min: 11_000.0,
                    ns_max: 15_000.0,
                    iterations: 21_000,
                    rounds: 7,
                    cpus: vec![0, 1],
                    method: "futex".into(),
                },
            ],
            not_measured: vec![NotMeasured {
                id: "cross_signal_2cpu".into(),
                reason: "needs a second CPU".into(),
                failed: false,
            }],
        }
    }

    #[test]
    fn json_round_trips_and_checks_the_schema() {
        let r = sample();
        let text = r.to_json();
        assert_eq!(Report::from_json(&text).unwrap(), r);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["results"][0]["id"], "null_syscall");
        assert_eq!(v["results"][0]["ns_median"], 61.25);
        assert_eq!(v["results"][0]["iterations"], 4_200_000);
        assert_eq!(v["machine"]["nproc"], 2);
        let wrong = text.replace(SCHEMA, "something-else/9");
        assert!(Report::from_json(&wrong).unwrap_err().contains("schema"));
        assert!(Report::from_json("{").is_err());
        assert_eq!(r.get("futex_pingpong_2cpu").unwrap().cpus, vec![0, 1]);
        assert!(r.get("nope").is_none());
    }

    #[test]
    fn table_has_a_row_per_result_and_lists_the_rest() {
        let t = sample().table();
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].contains("Linux 6.18.44") && lines[0].contains("2 CPUs"));
        assert!(lines[1].starts_with("operation") && lines[1].ends_with("CPUs"));
        assert!(lines[2].starts_with("null_syscall"));
        assert!(lines[2].contains("61.2") && lines[2].contains("4,200,000"));
        assert!(lines[3].contains("12,346") && lines[3].ends_with("0,1"));
        assert_eq!(lines[4], "skipped cross_signal_2cpu: needs a second CPU");
        // Columns line up: the right-aligned "median ns" header ends where the numbers do.
        let end = lines[1].find("median ns").unwrap() + "median ns".len();
        assert_eq!(&lines[2][end - 4..end], "61.2");
    }

    #[test]
    fn numbers_format() {
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1000), "1,000");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
        assert_eq!(fmt_ns(0.456), "0.46");
        assert_eq!(fmt_ns(61.25), "61.2");
        assert_eq!(fmt_ns(999.94), "999.9");
        assert_eq!(fmt_ns(230_181.4), "230,181");
        assert_eq!(fmt_ns(f64::NAN), "?");
        assert_eq!(fmt_ns(-1.0), "?");
    }

    #[test]
    fn rows_align() {
        let rows = [
            ["a".to_string(), "1".to_string()],
            ["bbb".to_string(), "22".to_string()],
        ];
        assert_eq!(render_rows(&rows, &[false, true]), "a     1\nbbb  22\n");
    }
}
