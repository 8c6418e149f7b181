//! Evaluating a run: step expectations, `expect` assertions and runner errors, over the
//! event log.
//!
//! The runner only executes and records; every check happens here, on the decoded
//! [`Log`], so that all of it is tested on the host with synthetic logs.
//!
//! An `expect` statement is evaluated on the records that precede its checkpoint (the
//! runner writes a [`Kind::Checkpoint`] when it reaches the line, after the timeline has
//! settled), so "expect handler SIGUSR1 times 1" means "so far". Dump assertions are
//! evaluated by the VMM ([`crate::dump`]); here they only pick up the verdict the VMM handed
//! back, or become "not applicable" where no lwpvm VMM took the dump.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use shared_abi::current::errno;
use shared_abi::current::signal::{self, SigSet};

use crate::ast::*;
use crate::diag::Span;
use crate::dump::{Bindings, Verdict};
use crate::log::{flags, Kind, Log, Record, RunnerError, RUNNER_SLOT};
use crate::names;
use crate::report::Outcome;

/// Why dump assertions are not applicable when the dump request returned `-ENODEV`.
pub const NO_VMM: &str =
    "dump assertions are evaluated by the lwpvm VMM; not applicable on this host";

/// Formats a signal set as `{SIGUSR1, SIGRTMIN+3}`.
pub fn fmt_set(s: SigSet) -> String {
    if s == SigSet::FULL {
        return String::from("ALL");
    }
    let v: Vec<String> = s.iter().map(names::signal_name).collect();
    format!("{{{}}}", v.join(", "))
}

/// Evaluates everything checkable from `log` for `sc`: one outcome per assertion (`->` and
/// `expect`), plus failures for steps whose implicit expectation failed, for runner errors
/// and for an incomplete or overflowed log.
pub fn evaluate(sc: &Scenario, log: &Log) -> Vec<Outcome> {
    let cx = Cx::new(sc, log);
    let mut out = Vec::new();
    for (i, stmt) in sc.stmts.iter().enumerate() {
        match &stmt.kind {
            StmtKind::Step(step) => cx.step(i, stmt.span, step, &mut out),
            StmtKind::Expect(e) => out.push(cx.expect(i, stmt.span, e)),
            StmtKind::Dump(k) => {
                if let Some(r) = cx.dump_record(*k) {
                    if r.result < 0 && r.result != -(errno::ENODEV as i64) {
                        out.push(Outcome::fail(
                            stmt.span,
                            "the dump to be taken",
                            format!("the dump request failed: {}", errno_text(r.result)),
                        ));
                    }
                }
            }
        }
    }
    for r in log.records.iter().filter(|r| r.kind == Kind::Error) {
        let span = sc
            .stmts
            .get(r.stmt as usize)
            .map(|s| s.span)
            .unwrap_or(Span::new(1, 1));
        let what = match RunnerError::from_i64(r.result) {
            Some(RunnerError::SettleTimeout) => format!(
                "the statement did not settle within {} ms ({} still running)",
                sc.timeout_ns / 1_000_000,
                cx.slot_text(r.aux as Slot)
            ),
            Some(RunnerError::ActorGone) => {
                format!("{} no longer exists", cx.slot_text(r.aux as Slot))
            }
            Some(RunnerError::SetupFailed) => format!(
                "setting up {} failed: {}",
                cx.slot_text(r.aux as Slot),
                errno_text(-(r.aux2 as i64))
            ),
            Some(RunnerError::Mismatch) => {
                String::from("the scenario file in the initrd differs from this one")
            }
            None => format!("runner error {}", r.result),
        };
        out.push(Outcome::fail(
            span,
            "the runner to carry out this line",
            what,
        ));
    }
    let last = sc.stmts.last().map(|s| s.span).unwrap_or(Span::new(1, 1));
    if log.dropped > 0 {
        out.push(Outcome::fail(
            Span::new(1, 1),
            "every event recorded",
            format!("the event log overflowed: {} records dropped", log.dropped),
        ));
    }
    if !log.finished {
        out.push(Outcome::fail(
            last,
            "the runner to reach the end of the scenario",
            "it stopped before (see the runner's messages)",
        ));
    }
    out
}

/// Errno text of a raw result.
fn errno_text(r: i64) -> String {
    if r < 0 {
        names::errno_name(-r as i32)
    } else {
        format!("{r}")
    }
}

struct Cx<'a> {
    sc: &'a Scenario,
    log: &'a Log,
    binds: Bindings,
    /// Checkpoint seq of each `expect` statement.
    checkpoints: BTreeMap<u32, u64>,
}

impl<'a> Cx<'a> {
    fn new(sc: &'a Scenario, log: &'a Log) -> Self {
        let checkpoints = log
            .records
            .iter()
            .filter(|r| r.kind == Kind::Checkpoint)
            .map(|r| (r.stmt, r.seq))
            .collect();
        Cx {
            sc,
            log,
            binds: Bindings::from_log(sc, log),
            checkpoints,
        }
    }

    fn slot_text(&self, slot: Slot) -> String {
        if slot == RUNNER_SLOT {
            String::from("the runner")
        } else {
            self.sc.slot_name(slot)
        }
    }

    fn dump_record(&self, k: DumpId) -> Option<&Record> {
        self.log
            .records
            .iter()
            .find(|r| r.kind == Kind::Dump && r.sub as usize == k)
    }

    fn pid_text(&self, pid: i32) -> String {
        match self.binds.proc_of_pid(pid) {
            Some(p) => format!("{}({pid})", self.sc.procs[p].name),
            None => format!("{pid}"),
        }
    }

    fn lid_text(&self, pid: i32, lid: i32) -> String {
        match self.binds.slot_of(pid, lid) {
            Some(s) => format!("{}(lid {lid})", self.sc.slot_name(s)),
            None => format!("lid {lid}"),
        }
    }

    // ------------------------------------------------------------------------------------
    // Steps.
    // ------------------------------------------------------------------------------------

    fn step(&self, i: usize, span: Span, step: &Step, out: &mut Vec<Outcome>) {
        self.check_action(i, 0, span, &step.action, &step.expect, step.actor, out);
        for (k, b) in step.body.iter().enumerate() {
            self.check_action(
                i,
                k as u32 + 1,
                b.span,
                &b.action,
                &b.expect,
                step.actor,
                out,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_action(
        &self,
        stmt: usize,
        sub: u32,
        span: Span,
        action: &Action,
        expect: &Option<Expectation>,
        actor: Actor,
        out: &mut Vec<Outcome>,
    ) {
        let explicit = expect.is_some();
        let exp = expect
            .clone()
            .unwrap_or_else(|| action.default_expectation());
        let recs: Vec<&Record> = self
            .log
            .records
            .iter()
            .filter(|r| r.kind == Kind::Step && r.stmt as usize == stmt && r.sub == sub)
            .collect();
        let mut failures: Vec<String> = Vec::new();
        let mut nfail = 0;
        let mut expected_text = self.expectation_text(&exp);
        for r in &recs {
            let who = self.slot_text(r.slot);
            if r.has(flags::NOT_RUN) {
                nfail += 1;
                if failures.len() < 3 {
                    failures.push(format!("{who}: not run, it no longer exists"));
                }
                continue;
            }
            if let Err(actual) = self.check(&exp, action, r) {
                nfail += 1;
                if failures.len() < 3 {
                    failures.push(format!("{who}: {actual}"));
                }
            }
        }
        if exp == Expectation::Any && nfail == 0 {
            return;
        }
        let members = match actor {
            Actor::Lwp(r) => self.sc.slots(r).len(),
            Actor::Host => 1,
        };
        if recs.is_empty() {
            if explicit {
                let actual = if sub > 0 {
                    "never ran (the handler was not invoked)"
                } else if matches!(action, Action::Spin { .. }) {
                    "never finished"
                } else {
                    "did not return (still blocked, or its process died)"
                };
                out.push(Outcome::fail(span, expected_text, actual));
            }
            return;
        }
        if sub == 0 && recs.len() < members && explicit && nfail == 0 {
            out.push(Outcome::fail(
                span,
                format!("{expected_text} from all {members} LWPs"),
                format!("only {} returned", recs.len()),
            ));
            return;
        }
        if nfail == 0 {
            let emulated = actor == Actor::Host && recs.iter().all(|r| r.has(flags::EMULATED));
            if emulated {
                out.push(Outcome::pass(span).with_note(
                    "emulated: no lwpvm VMM, the kernel's host-injection path was used",
                ));
            } else if explicit {
                out.push(Outcome::pass(span));
            }
            return;
        }
        if recs.len() > 1 {
            expected_text = format!("{expected_text} (each of {})", recs.len());
        }
        let more = if nfail > failures.len() {
            format!(" (and {} more)", nfail - failures.len())
        } else {
            String::new()
        };
        let o = Outcome::fail(
            span,
            expected_text,
            format!("{}{more}", failures.join("; ")),
        );
        out.push(if explicit {
            o
        } else {
            o.with_note("no '->': success expected")
        });
    }

    fn expectation_text(&self, e: &Expectation) -> String {
        match e {
            Expectation::Any => String::from("any result"),
            Expectation::Ok => String::from("success"),
            Expectation::Errno(e) => names::errno_name(*e),
            Expectation::Int(op, v) => {
                if *op == Op::Eq {
                    format!("{v} ({v:#x})")
                } else {
                    format!("{} {v}", op.as_str())
                }
            }
            Expectation::Sig(s) => names::signal_name(*s),
            Expectation::Set(s) => fmt_set(*s),
            Expectation::Lwp(r) => self.sc.lwp_ref_name(*r),
            Expectation::Status(s) => status_spec_text(*s),
            Expectation::Lwpctl { curcpu, pctr } => {
                let mut v = Vec::new();
                if let Some((op, c)) = curcpu {
                    v.push(format!("curcpu {} {}", op.as_str(), cpu_text(*c)));
                }
                if let Some((op, p)) = pctr {
                    v.push(format!("pctr {} {p}", op.as_str()));
                }
                v.join(", ")
            }
            Expectation::SsFlags(f) => ss_flags_text(*f),
        }
    }

    /// Checks one execution; `Err(actual)` on a mismatch.
    fn check(&self, e: &Expectation, action: &Action, r: &Record) -> Result<(), String> {
        let res = r.result;
        let is_err = (-4095..0).contains(&res);
        let actual = || -> String {
            if is_err {
                return names::errno_name(-res as i32);
            }
            match action.result_kind() {
                ResultKind::Set => fmt_set(SigSet::from_bits(r.aux)),
                ResultKind::Sig => names::signal_name(res as u32),
                ResultKind::Lwp => self.lid_text(r.pid, res as i32),
                ResultKind::Status => {
                    if res == 0 {
                        String::from("none (no child changed state)")
                    } else {
                        format!(
                            "{} from {}",
                            status_text(r.aux as u32),
                            self.pid_text(r.aux2 as i32)
                        )
                    }
                }
                ResultKind::Lwpctl => format!(
                    "curcpu = {}, pctr = {}",
                    cpu_text(r.aux as i64 as i32 as i64),
                    r.aux2 as i64
                ),
                ResultKind::SsFlags => ss_flags_text(r.aux),
                ResultKind::Int => format!("{res} ({res:#x})"),
                ResultKind::Unit | ResultKind::NoReturn => {
                    if res == 0 {
                        String::from("success")
                    } else {
                        format!("{res}")
                    }
                }
            }
        };
        let ok = match e {
            Expectation::Any => true,
            Expectation::Ok => !is_err,
            Expectation::Errno(n) => res == -(*n as i64),
            Expectation::Int(op, v) => !is_err && op.int(res, *v),
            Expectation::Sig(s) => res == *s as i64,
            Expectation::Set(s) => !is_err && r.aux == s.bits(),
            Expectation::Lwp(lr) => {
                let want = self.sc.slots(*lr).first().and_then(|s| self.binds.lwp(*s));
                match want {
                    Some((_, lid)) => !is_err && res == lid as i64,
                    None => {
                        return Err(format!(
                            "{} (and {} has no kernel id: it never started)",
                            actual(),
                            self.sc.lwp_ref_name(*lr)
                        ))
                    }
                }
            }
            Expectation::Status(StatusSpec::Nothing) => res == 0,
            Expectation::Status(s) => !is_err && res > 0 && s.matches(r.aux as u32),
            Expectation::Lwpctl { curcpu, pctr } => {
                !is_err
                    && curcpu.is_none_or(|(op, c)| op.int(r.aux as i64 as i32 as i64, c))
                    && pctr.is_none_or(|(op, p)| op.int(r.aux2 as i64, p))
            }
            Expectation::SsFlags(f) => !is_err && r.aux == *f,
        };
        if ok {
            Ok(())
        } else {
            Err(actual())
        }
    }

    // ------------------------------------------------------------------------------------
    // Assertions.
    // ------------------------------------------------------------------------------------

    fn expect(&self, i: usize, span: Span, e: &Expect) -> Outcome {
        if let Expect::Dump(a) = e {
            return self.dump_verdict(i, span, a);
        }
        let Some(&limit) = self.checkpoints.get(&(i as u32)) else {
            return Outcome::fail(
                span,
                "this line to be reached",
                "the runner stopped before it",
            );
        };
        let events: Vec<&Record> = self
            .log
            .records
            .iter()
            .take_while(|r| r.seq < limit)
            .collect();
        match e {
            Expect::Count { sel, count } => self.count(span, sel, *count, &events),
            Expect::Order(sels) => self.order(span, sels, &events),
            Expect::Exit { proc, status } => self.exit(span, *proc, *status, &events),
            Expect::Dump(_) => unreachable!("handled above"),
        }
    }

    fn dump_verdict(&self, i: usize, span: Span, a: &DumpAssert) -> Outcome {
        let Some(d) = self.dump_record(a.dump) else {
            return Outcome::fail(
                span,
                "the dump to be taken",
                "the runner did not request it",
            );
        };
        if d.result == -(errno::ENODEV as i64) {
            return Outcome::not_applicable(span, NO_VMM);
        }
        if d.result < 0 {
            return Outcome::fail(
                span,
                "the dump to be taken",
                format!("the request failed: {}", errno_text(d.result)),
            );
        }
        let v = self
            .log
            .records
            .iter()
            .find(|r| r.kind == Kind::DumpVerdict && r.stmt as usize == i)
            .map(|r| Verdict::from_u64(r.aux))
            .unwrap_or(Verdict::None);
        match v {
            Verdict::Pass => Outcome::pass(span).with_note("evaluated by the VMM"),
            Verdict::Fail => Outcome::fail(span, "see the VMM's report above", "failed in the VMM"),
            Verdict::NotApplicable => {
                Outcome::not_applicable(span, "the VMM could not evaluate it (see its report)")
            }
            Verdict::None => Outcome::fail(span, "a verdict from the VMM", "none was handed back"),
        }
    }

    /// Whether `r` matches `sel`; `Err(why)` when it would match but a siginfo field cannot
    /// be read (handler without SA_SIGINFO).
    fn matches(&self, sel: &Selector, r: &Record) -> Result<bool, &'static str> {
        let kind_ok = match sel.kind {
            SelKind::Handler => r.kind == Kind::Handler,
            SelKind::Waited => r.kind == Kind::Waited,
            SelKind::Delivered => matches!(r.kind, Kind::Handler | Kind::Waited),
            SelKind::Step(s) => {
                return Ok(r.kind == Kind::Step && r.stmt as usize == s && r.sub == 0)
            }
        };
        if !kind_ok {
            return Ok(false);
        }
        if sel.sig.is_some_and(|s| s != r.info.signo) {
            return Ok(false);
        }
        if let Some(on) = &sel.on {
            if !on.contains(&r.slot) {
                return Ok(false);
            }
        }
        for f in &sel.filters {
            let needs_info = matches!(
                f.field,
                EvField::Code
                    | EvField::Errno
                    | EvField::Pid
                    | EvField::Uid
                    | EvField::Value
                    | EvField::Addr
                    | EvField::Status
            );
            if needs_info && !r.has(flags::SIGINFO) {
                return Err("its handler has no SA_SIGINFO, so siginfo fields are unknown");
            }
            let i = &r.info;
            let ok = match (f.field, &f.value) {
                (EvField::Mask, FVal::Set(s)) => {
                    let m = SigSet::from_bits(r.aux);
                    match f.op {
                        Op::Eq => m == *s,
                        Op::Ne => m != *s,
                        Op::Has => m.intersection(*s) == *s,
                        Op::Lacks => m.intersection(*s).is_empty(),
                        _ => false,
                    }
                }
                (EvField::Altstack, FVal::Bool(b)) => {
                    (r.has(flags::ON_ALTSTACK) == *b) == (f.op == Op::Eq)
                }
                (EvField::Aligned, FVal::Bool(b)) => {
                    (r.has(flags::ALIGNED) == *b) == (f.op == Op::Eq)
                }
                (EvField::Pid, FVal::Pid(p)) => match self.binds.pid(*p) {
                    Some(pid) => (i.pid == pid) == (f.op == Op::Eq),
                    None => false,
                },
                (EvField::Addr, FVal::FaultIp) => {
                    (r.fault_ip != 0 && i.addr == r.fault_ip) == (f.op == Op::Eq)
                }
                (field, FVal::Int(v)) => {
                    let x: i64 = match field {
                        EvField::Code => i.code as i64,
                        EvField::Errno => i.errno as i64,
                        EvField::Pid => i.pid as i64,
                        EvField::Uid => i.uid as i64,
                        EvField::Value => i.value as i64,
                        EvField::Addr => i.addr as i64,
                        EvField::Status => i.status as i64,
                        EvField::Depth => r.depth as i64,
                        EvField::UcStack => r.ucstack as i64,
                        _ => return Ok(false),
                    };
                    f.op.int(x, *v)
                }
                _ => false,
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn describe(&self, r: &Record) -> String {
        let sig = r.info.signo;
        let mut s = match r.kind {
            Kind::Handler => format!("#{} handler {}", r.seq, names::signal_name(sig)),
            Kind::Waited => format!("#{} waited {}", r.seq, names::signal_name(sig)),
            Kind::Step => {
                let line = self
                    .sc
                    .stmts
                    .get(r.stmt as usize)
                    .map(|s| s.span.line)
                    .unwrap_or(0);
                return format!(
                    "#{} step at line {line} by {}",
                    r.seq,
                    self.slot_text(r.slot)
                );
            }
            _ => return format!("#{} {:?}", r.seq, r.kind),
        };
        s.push_str(&format!(" on {}", self.slot_text(r.slot)));
        if r.has(flags::SIGINFO) {
            let i = &r.info;
            s.push_str(&format!(
                " code={} pid={}",
                names::si_code_name(sig, i.code),
                self.pid_text(i.pid)
            ));
            if i.value != 0 {
                s.push_str(&format!(" value={}", i.value as i64));
            }
            if i.addr != 0 {
                s.push_str(&format!(" addr={:#x}", i.addr));
            }
            if sig == signal::SIGCHLD {
                s.push_str(&format!(" status={}", i.status));
            }
        } else if r.kind == Kind::Handler {
            s.push_str(" (no siginfo)");
        }
        if r.kind == Kind::Handler {
            s.push_str(&format!(" depth={}", r.depth));
            if r.has(flags::ON_ALTSTACK) {
                s.push_str(" altstack=on");
            }
            s.push_str(&format!(" mask={}", fmt_set(SigSet::from_bits(r.aux))));
        }
        s
    }

    fn list(&self, recs: &[&Record], max: usize) -> String {
        let mut v: Vec<String> = recs.iter().take(max).map(|r| self.describe(r)).collect();
        if recs.len() > max {
            v.push(format!("... {} more", recs.len() - max));
        }
        v.join("; ")
    }

    fn count(&self, span: Span, sel: &Selector, count: Count, events: &[&Record]) -> Outcome {
        let mut matched: Vec<&Record> = Vec::new();
        let mut unreadable: Option<&'static str> = None;
        for r in events {
            match self.matches(sel, r) {
                Ok(true) => matched.push(r),
                Ok(false) => {}
                Err(why) => unreadable = Some(why),
            }
        }
        let n = matched.len() as u32;
        let (ok, expected) = match count {
            Count::Exactly(k) => (n == k, format!("exactly {k} matching event{}", plural(k))),
            Count::AtLeast(k) => (n >= k, format!("at least {k} matching event{}", plural(k))),
            Count::AtMost(k) => (n <= k, format!("at most {k} matching event{}", plural(k))),
        };
        if ok {
            return Outcome::pass(span);
        }
        let mut actual = format!("{n} matching event{}", plural(n));
        if !matched.is_empty() {
            actual.push_str(&format!(": {}", self.list(&matched, 5)));
        } else {
            // Near misses: same kind and signal, ignoring LWP and fields.
            let loose = Selector {
                span: sel.span,
                kind: sel.kind,
                sig: sel.sig,
                on: None,
                filters: Vec::new(),
            };
            let near: Vec<&Record> = events
                .iter()
                .copied()
                .filter(|r| self.matches(&loose, r) == Ok(true))
                .collect();
            match (near.is_empty(), sel.sig) {
                (false, _) => {
                    actual.push_str(&format!("; similar events: {}", self.list(&near, 5)))
                }
                (true, Some(s)) => actual.push_str(&format!(
                    "; no {} event at all before this line",
                    names::signal_name(s)
                )),
                (true, None) => actual.push_str("; no such event at all before this line"),
            }
        }
        if let Some(why) = unreadable {
            actual.push_str(&format!(" (some events could not be checked: {why})"));
        }
        Outcome::fail(span, expected, actual)
    }

    fn order(&self, span: Span, sels: &[Selector], events: &[&Record]) -> Outcome {
        // The events matching any selector, with the first selector each matches.
        let mut seq: Vec<(&Record, Vec<usize>)> = Vec::new();
        for r in events {
            let m: Vec<usize> = sels
                .iter()
                .enumerate()
                .filter(|(_, s)| self.matches(s, r) == Ok(true))
                .map(|(i, _)| i)
                .collect();
            if !m.is_empty() {
                seq.push((r, m));
            }
        }
        let ok =
            seq.len() == sels.len() && seq.iter().enumerate().all(|(i, (_, m))| m.contains(&i));
        if ok {
            return Outcome::pass(span);
        }
        let expected = format!(
            "{} events, one per selector, in the written order",
            sels.len()
        );
        let actual = if seq.is_empty() {
            String::from("no matching events")
        } else {
            let v: Vec<String> = seq
                .iter()
                .take(8)
                .map(|(r, m)| {
                    let which: Vec<String> = m.iter().map(|i| format!("{}", i + 1)).collect();
                    format!(
                        "{} [matches selector {}]",
                        self.describe(r),
                        which.join(",")
                    )
                })
                .collect();
            format!("{} events: {}", seq.len(), v.join("; "))
        };
        Outcome::fail(span, expected, actual)
    }

    fn exit(&self, span: Span, proc: ProcId, spec: StatusSpec, events: &[&Record]) -> Outcome {
        let expected = status_spec_text(spec);
        let pid = self.binds.pid(proc);
        let mut status = None;
        for r in events {
            match r.kind {
                Kind::ProcExit if r.sub as usize == proc => status = Some(r.result as u32),
                Kind::Step if r.result > 0 && pid == Some(r.aux2 as i32) => {
                    let is_wait = matches!(
                        self.sc.stmts.get(r.stmt as usize).map(|s| &s.kind),
                        Some(StmtKind::Step(Step {
                            action: Action::Wait { .. },
                            ..
                        }))
                    ) && r.sub == 0;
                    let st = r.aux as u32;
                    if is_wait && (signal::wifexited(st) || signal::wifsignaled(st)) {
                        status = Some(st);
                    }
                }
                _ => {}
            }
        }
        match status {
            Some(st) if spec.matches(st) => Outcome::pass(span),
            Some(st) => Outcome::fail(span, expected, status_text(st)),
            None => Outcome::fail(
                span,
                expected,
                format!(
                    "no final status of {} before this line (still running, or its parent has not waited for it)",
                    self.sc.procs[proc].name
                ),
            ),
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn cpu_text(c: i64) -> String {
    match c {
        -1 => String::from("NONE"),
        -2 => String::from("EXITED"),
        c => format!("{c}"),
    }
}

fn ss_flags_text(f: u64) -> String {
    if f == 0 {
        return String::from("0");
    }
    let v: Vec<&str> = names::SS_FLAGS
        .iter()
        .filter(|(_, b)| f & b != 0)
        .map(|(n, _)| *n)
        .collect();
    let known: u64 = names::SS_FLAGS.iter().map(|(_, b)| b).fold(0, |a, b| a | b);
    if f & !known != 0 {
        format!("{}|{:#x}", v.join("|"), f & !known)
    } else {
        v.join("|")
    }
}

/// Text of a raw wait status (`exited 3`, `killed SIGKILL`, `dumped SIGSEGV`, ...).
pub fn status_text(st: u32) -> String {
    if signal::wifexited(st) {
        format!("exited {}", signal::wexitstatus(st))
    } else if signal::wifcontinued(st) {
        String::from("continued")
    } else if signal::wifstopped(st) {
        format!("stopped {}", names::signal_name(signal::wstopsig(st)))
    } else if signal::wcoredump(st) {
        format!("dumped {}", names::signal_name(signal::wtermsig(st)))
    } else {
        format!("killed {}", names::signal_name(signal::wtermsig(st)))
    }
}

fn status_spec_text(s: StatusSpec) -> String {
    match s {
        StatusSpec::Exited(n) => format!("exited {n}"),
        StatusSpec::Killed(sig) => format!("killed {}", names::signal_name(sig)),
        StatusSpec::Dumped(sig) => format!("dumped {} (core flag set)", names::signal_name(sig)),
        StatusSpec::Stopped(sig) => format!("stopped {}", names::signal_name(sig)),
        StatusSpec::Continued => String::from("continued"),
        StatusSpec::Nothing => String::from("none (WNOHANG, no child changed state)"),
    }
}
