//! Rounds, warm-up and medians: how every operation is timed.
//!
//! An operation supplies a *batch* function: run the operation `n` times and return the time
//! that counts (usually the whole loop; for the group kill, only from `kill` to `wait`
//! returning, with the untimed setup left out). [`measure`] then:
//!
//! 1. calibrates: runs batches of growing `n` until one takes a tenth of a round (or `n`
//!    reaches the operation's cap), and from that picks `n` so that one round lasts about
//!    [`Budget::round`]: this also warms caches, the allocator and the kernel's slab caches;
//! 2. runs one more batch of that `n` and discards it (warm-up), re-estimating `n` from it;
//! 3. runs [`Budget::rounds`] batches and records each one's time per operation.
//!
//! The figure reported is the median of the rounds' times per operation, with the fastest and
//! slowest round beside it: the median of a handful of rounds is robust against a round that
//! another process on this shared machine disturbed, which a mean is not.

use std::time::Duration;

/// How long to measure one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Timed rounds (the median is taken over these).
    pub rounds: usize,
    /// Target duration of one round.
    pub round: Duration,
    /// Largest batch (operations per round), for operations whose setup is expensive.
    pub max_batch: u64,
}

impl Budget {
    /// The default: 7 rounds of about 40 ms each (host-kvm.md §4 also took the median of 7).
    pub const DEFAULT: Budget = Budget {
        rounds: 7,
        round: Duration::from_millis(40),
        max_batch: 100_000_000,
    };

    /// The same budget with batches of at most `max_batch` operations.
    pub fn capped(self, max_batch: u64) -> Budget {
        Budget {
            max_batch: max_batch.max(1).min(self.max_batch),
            ..self
        }
    }
}

/// What [`measure`] recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Nanoseconds per operation, one value per round, in round order.
    pub rounds_ns: Vec<f64>,
    /// Operations timed over all rounds (warm-up and calibration excluded).
    pub iterations: u64,
}

/// Median, minimum and maximum of a set of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// The median (the mean of the two middle values for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

/// The statistics of `values`; `None` if it is empty or holds a NaN.
pub fn stats(values: &[f64]) -> Option<Stats> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    };
    Some(Stats {
        median,
        min: v[0],
        max: v[v.len() - 1],
    })
}

/// The batch size that makes one batch last about `target`, given that `n` operations took
/// `took`, clamped to `1..=cap`.
pub fn scale_batch(n: u64, took: Duration, target: Duration, cap: u64) -> u64 {
    let took = took.as_nanos().max(1);
    let want = (u128::from(n) * target.as_nanos() / took).max(1);
    u64::try_from(want).unwrap_or(u64::MAX).clamp(1, cap.max(1))
}

/// Times an operation (see the module documentation). `ops_per_call` is how many operations
/// one call of the batch body performs (1, or 1,000 for the per-thread group kill): `batch(n)`
/// performs `n * ops_per_call` operations.
pub fn measure<E>(
    budget: &Budget,
    ops_per_call: u64,
    mut batch: impl FnMut(u64) -> Result<Duration, E>,
) -> Result<Sample, E> {
    let cap = budget.max_batch.max(1);
    // Calibration (doubles as warm-up): grow n until a batch takes a tenth of a round.
    let tenth = budget.round / 10;
    let mut n = 1u64;
    let mut took = batch(n)?;
    while took < tenth && n < cap {
        // Grow at least 2x, at most 100x per step, aiming straight at a tenth of a round.
        let next = scale_batch(n, took, tenth, cap).clamp(n.saturating_mul(2), n * 100);
        n = next.min(cap);
        took = batch(n)?;
    }
    // Warm-up at the size the calibration suggests, discarded; it also re-estimates the
    // size, and the larger estimate wins (a calibration batch that was interrupted makes the
    // operation look slower than it is), within 4x of the first.
    let n1 = scale_batch(n, took, budget.round, cap);
    let warm = batch(n1)?;
    let n = scale_batch(n1, warm, budget.round, cap).clamp(n1, n1.saturating_mul(4).min(cap));
    let per = (n * ops_per_call.max(1)) as f64;
    let mut rounds_ns = Vec::with_capacity(budget.rounds);
    for _ in 0..budget.rounds.max(1) {
        let t = batch(n)?;
        rounds_ns.push(t.as_nanos() as f64 / per);
    }
    Ok(Sample {
        iterations: n * ops_per_call.max(1) * rounds_ns.len() as u64,
        rounds_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_odd_and_even_counts() {
        let s = stats(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 5.0));
        let s = stats(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        assert_eq!(stats(&[7.0]).unwrap().median, 7.0);
        assert_eq!(stats(&[]), None);
        assert_eq!(stats(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn batches_scale_to_the_target() {
        let ms = Duration::from_millis;
        assert_eq!(scale_batch(100, ms(1), ms(40), u64::MAX), 4000);
        assert_eq!(scale_batch(100, ms(80), ms(40), u64::MAX), 50);
        assert_eq!(scale_batch(1, ms(80), ms(40), u64::MAX), 1);
        assert_eq!(scale_batch(100, ms(1), ms(40), 500), 500);
        assert_eq!(scale_batch(100, Duration::ZERO, ms(40), 7), 7);
    }

    /// The harness's bookkeeping, with a fake clock: each operation "takes" 1 µs.
    #[test]
    fn measure_counts_rounds_and_iterations() {
        let budget = Budget {
            rounds: 5,
            round: Duration::from_millis(10),
            max_batch: u64::MAX,
        };
        let mut calls = Vec::new();
        let s = measure::<()>(&budget, 1, |n| {
            calls.push(n);
            Ok(Duration::from_micros(n))
        })
        .unwrap();
        assert_eq!(s.rounds_ns, vec![1000.0; 5]);
        // 10 ms rounds of 1 µs operations.
        assert_eq!(s.iterations, 5 * 10_000);
        assert_eq!(*calls.last().unwrap(), 10_000);
        // Calibration grew the batch geometrically: a handful of calls, not thousands.
        assert!(calls.len() < 5 + 1 + 10, "{calls:?}");
    }

    #[test]
    fn measure_respects_the_cap_and_ops_per_call() {
        let budget = Budget::DEFAULT.capped(1);
        let mut calls = 0;
        let s = measure::<()>(&budget, 1000, |n| {
            assert_eq!(n, 1);
            calls += 1;
            Ok(Duration::from_millis(2))
        })
        .unwrap();
        // One calibration batch, one warm-up, seven rounds.
        assert_eq!(calls, 1 + 1 + 7);
        assert_eq!(s.iterations, 7 * 1000);
        assert_eq!(s.rounds_ns[0], 2000.0);
    }

    #[test]
    fn measure_passes_errors_through() {
        let r = measure(&Budget::DEFAULT, 1, |_| Err::<Duration, _>("boom"));
        assert_eq!(r, Err("boom"));
    }
}
