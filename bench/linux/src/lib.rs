//! The Linux side of lwpvm's benchmarks (`cargo xtask bench linux`; docs/PERFORMANCE.md).
//!
//! The question lwpvm's users ask is "how does this compare with what I would otherwise use?",
//! and what they would otherwise use is Linux. This crate times, on the host's Linux, the
//! operations the guest's benchmark programs time inside lwpvm — a null system call, signal
//! masking and delivery, cross-thread round trips, thread and process creation, a group kill,
//! reading the current CPU from kernel-maintained memory — under the same operation ids
//! ([`shared_abi::current::bench::Op`]), so that `cargo xtask bench` can print both side by side.
//!
//! - [`harness`]: calibration, warm-up, rounds and medians;
//! - [`ops`]: the operations ([`ops::LINUX_OPS`]), each checked to do what it claims;
//! - [`report`]: the JSON report and the table;
//! - [`machine`]: the machine the figures come from;
//! - [`sys`]: the Linux calls, wrapped.
//!
//! Figures are nanoseconds per operation on this machine. They are reported, never asserted:
//! the unit tests cover the bookkeeping, not the timings.

pub mod harness;
pub mod machine;
pub mod ops;
pub mod report;
pub mod sys;

use shared_abi::current::bench::Op;

use crate::harness::{stats, Budget};
use crate::ops::{Ctx, NotMeasured};

/// Measures `ops` (in the order given) and reports them. `progress` hears about each
/// operation as it finishes (a line of text).
pub fn run(
    ops: &[Op],
    budget: &Budget,
    mut progress: impl FnMut(&str),
) -> std::io::Result<report::Report> {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cpus_allowed = sys::allowed_cpus()?;
    let ctx = Ctx::new()?;
    let mut results = Vec::new();
    let mut not_measured = Vec::new();
    for &op in ops {
        match ops::run(op, &ctx, budget) {
            Ok(m) => {
                let Some(s) = stats(&m.sample.rounds_ns) else {
                    not_measured.push(report::NotMeasured {
                        id: op.id().into(),
                        reason: "no rounds".into(),
                        failed: true,
                    });
                    continue;
                };
                progress(&format!(
                    "{:<24} {:>12} ns",
                    op.id(),
                    report::fmt_ns(s.median)
                ));
                results.push(report::OpResult {
                    id: op.id().into(),
                    title: op.title().into(),
                    ns_median: s.median,
                    ns_min: s.min,
                    ns_max: s.max,
                    iterations: m.sample.iterations,
                    rounds: m.sample.rounds_ns.len(),
                    cpus: m.cpus,
                    method: m.method,
                });
            }
            Err(e) => {
                let (reason, failed) = match e {
                    NotMeasured::Skipped(r) => (r, false),
                    NotMeasured::Failed(r) => (r, true),
                };
                progress(&format!(
                    "{:<24} {}: {reason}",
                    op.id(),
                    if failed { "FAILED" } else { "skipped" }
                ));
                not_measured.push(report::NotMeasured {
                    id: op.id().into(),
                    reason,
                    failed,
                });
            }
        }
    }
    Ok(report::Report {
        schema: report::SCHEMA.into(),
        measured_at_unix: started,
        machine: machine::describe(cpus_allowed),
        method: report::Method {
            rounds: budget.rounds,
            round_ms: budget.round.as_secs_f64() * 1e3,
            statistic: "median over rounds of the time per operation (each round one batch \
                        timed as a whole, after a calibration pass and a discarded warm-up round)"
                .into(),
            clock: "CLOCK_MONOTONIC (std::time::Instant) around each batch".into(),
        },
        results,
        not_measured,
    })
}
