//! Results: one line per assertion and a summary.
//!
//! ```text
//! ok   rt-queue.scn:14  expect handler SIGRTMIN value=1 then handler SIGRTMIN value=2
//! FAIL rt-queue.scn:17  expect handler SIGUSR1 on P1.B
//!        expected: exactly 1 matching event
//!        actual:   0 matching events; SIGUSR1 events: #12 handler SIGUSR1 on P1.A code=SI_USER pid=P0(3)
//! n/a  rt-queue.scn:20  expect lwp(P1.A).state == LSSLEEP
//!        (dump assertions are evaluated by the lwpvm VMM; not applicable on this host)
//! scenario rt-queue.scn: 10 passed, 1 failed, 1 not applicable
//! ```
//!
//! The same renderer serves the runner (event assertions, step expectations) and the VMM
//! (dump assertions), so a failure looks the same wherever it was found.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::ast::Scenario;
use crate::diag::Span;

/// The verdict on one assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It holds.
    Pass,
    /// It does not.
    Fail {
        /// What the scenario says.
        expected: String,
        /// What happened.
        actual: String,
    },
    /// It cannot be evaluated on this host (dump assertions under QEMU), with the reason.
    NotApplicable(String),
}

/// The verdict on one assertion, with where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The line of the assertion (the step for `->`, the `expect` line, the `do` line).
    pub span: Span,
    /// The verdict.
    pub verdict: Verdict,
    /// Extra context (which LWP, why a step was checked without `->`).
    pub note: Option<String>,
}

impl Outcome {
    /// A passing outcome at `span`.
    pub fn pass(span: Span) -> Self {
        Outcome {
            span,
            verdict: Verdict::Pass,
            note: None,
        }
    }

    /// A failing outcome at `span`.
    pub fn fail(span: Span, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Outcome {
            span,
            verdict: Verdict::Fail {
                expected: expected.into(),
                actual: actual.into(),
            },
            note: None,
        }
    }

    /// A not-applicable outcome at `span`.
    pub fn not_applicable(span: Span, why: impl Into<String>) -> Self {
        Outcome {
            span,
            verdict: Verdict::NotApplicable(why.into()),
            note: None,
        }
    }

    /// This outcome with a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Whether it failed.
    pub fn failed(&self) -> bool {
        matches!(self.verdict, Verdict::Fail { .. })
    }
}

/// Counts of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Passed assertions.
    pub passed: usize,
    /// Failed assertions (and failed implicit checks, runner errors).
    pub failed: usize,
    /// Assertions not applicable on this host.
    pub not_applicable: usize,
}

impl Summary {
    /// Counts `outcomes`.
    pub fn of(outcomes: &[Outcome]) -> Self {
        let mut s = Summary::default();
        for o in outcomes {
            match o.verdict {
                Verdict::Pass => s.passed += 1,
                Verdict::Fail { .. } => s.failed += 1,
                Verdict::NotApplicable(_) => s.not_applicable += 1,
            }
        }
        s
    }

    /// The exit status of the run: 0 if nothing failed, 1 otherwise.
    pub fn status(&self) -> u32 {
        u32::from(self.failed > 0)
    }
}

/// The base name of `file` (`tests/scenarios/x.scn` → `x.scn`).
fn base(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// The source line `span` points at, without its comment, trimmed.
pub fn source_line(src: &str, span: Span) -> &str {
    let line = src
        .lines()
        .nth((span.line as usize).saturating_sub(1))
        .unwrap_or("");
    let line = match line.find('#') {
        // A '#' inside a quoted title is not a comment, but titles are not assertions.
        Some(i) => &line[..i],
        None => line,
    };
    line.trim()
}

/// Renders one outcome (one line, plus `expected:`/`actual:` lines for a failure).
pub fn render_outcome(sc: &Scenario, src: &str, o: &Outcome) -> String {
    let mut s = String::new();
    let tag = match o.verdict {
        Verdict::Pass => "ok  ",
        Verdict::Fail { .. } => "FAIL",
        Verdict::NotApplicable(_) => "n/a ",
    };
    let _ = write!(
        s,
        "{tag} {}:{}  {}",
        base(&sc.file),
        o.span.line,
        source_line(src, o.span)
    );
    if let Some(n) = &o.note {
        let _ = write!(s, "  [{n}]");
    }
    s.push('\n');
    match &o.verdict {
        Verdict::Pass => {}
        Verdict::Fail { expected, actual } => {
            let _ = writeln!(s, "       expected: {expected}");
            let _ = writeln!(s, "       actual:   {actual}");
        }
        Verdict::NotApplicable(why) => {
            let _ = writeln!(s, "       ({why})");
        }
    }
    s
}

/// Renders every outcome in line order and the summary line.
pub fn render(sc: &Scenario, src: &str, outcomes: &[Outcome]) -> String {
    let mut v: Vec<&Outcome> = outcomes.iter().collect();
    v.sort_by_key(|o| o.span);
    let mut s = String::new();
    for o in v {
        s.push_str(&render_outcome(sc, src, o));
    }
    s.push_str(&summary_line(sc, &Summary::of(outcomes)));
    s
}

/// `scenario NAME: N passed, M failed, K not applicable`.
pub fn summary_line(sc: &Scenario, sum: &Summary) -> String {
    format!(
        "scenario {}: {} passed, {} failed, {} not applicable\n",
        base(&sc.file),
        sum.passed,
        sum.failed,
        sum.not_applicable
    )
}
