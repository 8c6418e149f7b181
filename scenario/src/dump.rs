//! Dump assertions: evaluated by the VMM, on the dump it takes while the guest is paused.
//!
//! The guest only *requests* dump `k` (the `k`-th `dump` statement of the file) and passes
//! the [`Bindings`] — which kernel pid/lid each scenario name has — as text. The VMM, given
//! the same scenario file (it checks the fingerprint), calls [`evaluate`] with a
//! [`DumpView`] over its decoded dump, prints the outcomes, and hands the guest one
//! [`Verdict`] code per assertion so that the runner's summary counts them.
//!
//! [`DumpView`] is deliberately small: two lookups by numeric id and a closed set of fields
//! ([`ProcField`], [`LwpField`]), so implementing it over any dump model is a `match`.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use shared_abi::current::lwp::LwpState;
use shared_abi::current::signal::SigSet;

use crate::ast::*;
use crate::log::{Kind, Log};
use crate::names;
use crate::report::{Outcome, Verdict as V};

/// One queued siginfo as a dump shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedSig {
    /// `si_signo`.
    pub signo: u32,
    /// `si_code`.
    pub code: i32,
    /// `si_value`.
    pub value: u64,
    /// `si_pid`.
    pub pid: i32,
}

/// A field's value in a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Counters, ids, CPU numbers, words (lpmap, fastblock), flags.
    Int(i64),
    /// Masks and pending sets.
    Set(SigSet),
    /// An LWP state.
    State(LwpState),
    /// A process state.
    ProcState(ProcState),
    /// A disposition.
    Action(ActionKind),
    /// A siginfo queue, in dequeue order.
    Queue(Vec<QueuedSig>),
    /// A siginfo queue of which the dump shows only the first entries (an inspection record
    /// summarises a queue by its length and its first few siginfos). `queue.len` and the
    /// shown `queue[i]` can be evaluated; the whole queue and later entries cannot.
    TruncatedQueue {
        /// Siginfos queued in total.
        total: u32,
        /// The first ones, in dequeue order (fewer than `total`).
        first: Vec<QueuedSig>,
    },
}

/// Why a field could not be read from a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpError {
    /// No process with that pid in the dump.
    NoSuchProc,
    /// No LWP with that pid/lid in the dump (gone, or reaped).
    NoSuchLwp,
    /// The field lives in user memory that is not mapped (no lwpctl slot, no lpmap page, no
    /// sigfastblock word registered). Compares equal to `none`.
    Unmapped,
    /// This dump does not provide the field (e.g. no per-LWP transition counters).
    Unsupported,
    /// The record was torn or impossible (the VMM's decoder says why).
    Bad(String),
}

impl core::fmt::Display for DumpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DumpError::NoSuchProc => write!(f, "no such process in the dump"),
            DumpError::NoSuchLwp => write!(f, "no such LWP in the dump"),
            DumpError::Unmapped => write!(f, "not mapped"),
            DumpError::Unsupported => write!(f, "this dump does not provide the field"),
            DumpError::Bad(why) => write!(f, "unreadable: {why}"),
        }
    }
}

/// Read access to one dump, by kernel ids. Implemented by the VMM over its dump model (and
/// by mocks in tests).
pub trait DumpView {
    /// Field `field` of process `pid`.
    fn proc(&self, pid: i32, field: ProcField) -> Result<Value, DumpError>;
    /// Field `field` of LWP `lid` of process `pid`.
    fn lwp(&self, pid: i32, lid: i32, field: LwpField) -> Result<Value, DumpError>;
}

/// The kernel ids of a scenario's processes and LWPs at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bindings {
    /// pid of each process (by [`ProcId`]).
    pub procs: Vec<Option<i32>>,
    /// (pid, lid) of each slot.
    pub slots: Vec<Option<(i32, i32)>>,
}

impl Bindings {
    /// No bindings for `sc`.
    pub fn new(sc: &Scenario) -> Self {
        Bindings {
            procs: alloc::vec![None; sc.procs.len()],
            slots: alloc::vec![None; sc.slot_count() as usize],
        }
    }

    /// The bindings the `Bind` records of `log` establish (the last one of a slot wins: an
    /// `exec` re-binds).
    pub fn from_log(sc: &Scenario, log: &Log) -> Self {
        let mut b = Bindings::new(sc);
        for r in log.records.iter().filter(|r| r.kind == Kind::Bind) {
            b.bind(sc, r.slot, r.pid, r.lid);
        }
        b
    }

    /// Binds `slot` to (pid, lid) (and its process to pid). Ids are unique at any moment:
    /// another slot bound to the same (pid, lid) loses it (after `exec`, the surviving LWP may
    /// take the id of an LWP that `exec` ended).
    pub fn bind(&mut self, sc: &Scenario, slot: Slot, pid: i32, lid: i32) {
        for (i, s) in self.slots.iter_mut().enumerate() {
            if i != slot as usize && *s == Some((pid, lid)) {
                *s = None;
            }
        }
        if let Some(s) = self.slots.get_mut(slot as usize) {
            *s = Some((pid, lid));
            if let Some(p) = sc.slot_proc(slot) {
                self.procs[p] = Some(pid);
            }
        }
    }

    /// pid of process `p`.
    pub fn pid(&self, p: ProcId) -> Option<i32> {
        self.procs.get(p).copied().flatten()
    }

    /// (pid, lid) of `slot`.
    pub fn lwp(&self, slot: Slot) -> Option<(i32, i32)> {
        self.slots.get(slot as usize).copied().flatten()
    }

    /// The process whose pid is `pid`.
    pub fn proc_of_pid(&self, pid: i32) -> Option<ProcId> {
        self.procs.iter().position(|p| *p == Some(pid))
    }

    /// The slot bound to (pid, lid).
    pub fn slot_of(&self, pid: i32, lid: i32) -> Option<Slot> {
        self.slots
            .iter()
            .position(|s| *s == Some((pid, lid)))
            .map(|s| s as Slot)
    }

    /// The text form passed with a dump request: whitespace-separated `P1=12`,
    /// `P1.A=12:2`, and `P1.W[*]=12:3+` for an array whose members have consecutive lids
    /// (member `i` has lid `3 + i`), else `P1.W[5]=12:9` per member.
    pub fn encode(&self, sc: &Scenario) -> String {
        let mut s = String::new();
        let mut push = |item: String| {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&item);
        };
        for (p, proc) in sc.procs.iter().enumerate() {
            if let Some(pid) = self.pid(p) {
                push(format!("{}={pid}", proc.name));
            }
        }
        for l in &sc.lwps {
            match l.count {
                None => {
                    if let Some((pid, lid)) = self.lwp(l.first_slot) {
                        push(format!("{}={pid}:{lid}", l.name));
                    }
                }
                Some(n) => {
                    let members: Vec<Option<(i32, i32)>> =
                        (0..n).map(|i| self.lwp(l.first_slot + i)).collect();
                    let consecutive = match members[0] {
                        Some((pid, lid)) => members
                            .iter()
                            .enumerate()
                            .all(|(i, m)| *m == Some((pid, lid.wrapping_add(i as i32)))),
                        None => false,
                    };
                    if consecutive {
                        let (pid, lid) = members[0].expect("checked");
                        push(format!("{}[*]={pid}:{lid}+", l.name));
                    } else {
                        for (i, m) in members.iter().enumerate() {
                            if let Some((pid, lid)) = m {
                                push(format!("{}[{i}]={pid}:{lid}", l.name));
                            }
                        }
                    }
                }
            }
        }
        s
    }

    /// Parses [`Bindings::encode`]'s form. Unknown names are errors (a mismatch between the
    /// guest's and the VMM's scenario files).
    pub fn parse(sc: &Scenario, text: &str) -> Result<Self, String> {
        let mut b = Bindings::new(sc);
        let procs: BTreeMap<&str, ProcId> = sc
            .procs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        let lwps: BTreeMap<&str, &Lwp> = sc.lwps.iter().map(|l| (l.name.as_str(), l)).collect();
        let num = |s: &str| -> Result<i32, String> {
            s.parse::<i32>()
                .map_err(|_| format!("bad id '{s}' in bindings"))
        };
        for item in text.split_whitespace() {
            let (name, val) = item
                .split_once('=')
                .ok_or_else(|| format!("bad binding '{item}'"))?;
            if let Some(&p) = procs.get(name) {
                b.procs[p] = Some(num(val)?);
                continue;
            }
            let (base, member) = match name.split_once('[') {
                Some((base, rest)) => (
                    base,
                    Some(
                        rest.strip_suffix(']')
                            .ok_or_else(|| format!("bad binding '{item}'"))?,
                    ),
                ),
                None => (name, None),
            };
            let l = lwps.get(base).ok_or_else(|| {
                format!("bindings name {base}, which the scenario does not declare")
            })?;
            let (pid, lid) = val
                .split_once(':')
                .ok_or_else(|| format!("bad binding '{item}': expected PID:LID"))?;
            let pid = num(pid)?;
            match (member, l.count) {
                (None, None) => b.slots[l.first_slot as usize] = Some((pid, num(lid)?)),
                (Some("*"), Some(n)) => {
                    let first = num(lid
                        .strip_suffix('+')
                        .ok_or_else(|| format!("bad binding '{item}'"))?)?;
                    for i in 0..n {
                        b.slots[(l.first_slot + i) as usize] =
                            Some((pid, first.wrapping_add(i as i32)));
                    }
                }
                (Some(i), Some(n)) => {
                    let i: u32 = i.parse().map_err(|_| format!("bad binding '{item}'"))?;
                    if i >= n {
                        return Err(format!("bad binding '{item}': index out of range"));
                    }
                    b.slots[(l.first_slot + i) as usize] = Some((pid, num(lid)?));
                }
                _ => return Err(format!("bad binding '{item}'")),
            }
        }
        Ok(b)
    }
}

/// The verdict codes the VMM hands back to the guest, one byte per assertion of the dump
/// (in file order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Verdict {
    /// Not evaluated.
    None = 0,
    /// Holds.
    Pass = 1,
    /// Does not hold.
    Fail = 2,
    /// Not applicable.
    NotApplicable = 3,
}

// The codes are the ABI's (shared-abi `scenario::VERDICT_*`), which the kernel passes on.
const _: () = {
    use shared_abi::current::scenario as abi;
    assert!(Verdict::Pass as u8 == abi::VERDICT_PASS);
    assert!(Verdict::Fail as u8 == abi::VERDICT_FAIL);
    assert!(Verdict::NotApplicable as u8 == abi::VERDICT_NOT_APPLICABLE);
};

impl Verdict {
    /// The code of an outcome.
    pub fn of(o: &Outcome) -> Self {
        match o.verdict {
            V::Pass => Verdict::Pass,
            V::Fail { .. } => Verdict::Fail,
            V::NotApplicable(_) => Verdict::NotApplicable,
        }
    }

    /// The verdict numbered `v`.
    pub fn from_u64(v: u64) -> Self {
        match v {
            1 => Verdict::Pass,
            2 => Verdict::Fail,
            3 => Verdict::NotApplicable,
            _ => Verdict::None,
        }
    }
}

/// Evaluates the assertions attached to dump `k` of `sc` against `view`, with the guest's
/// `bindings`. One outcome per assertion, in file order.
pub fn evaluate(
    sc: &Scenario,
    k: DumpId,
    bindings: &Bindings,
    view: &dyn DumpView,
) -> Vec<Outcome> {
    sc.dump_asserts(k)
        .map(|(stmt, a)| eval_one(sc, stmt.span, a, bindings, view))
        .collect()
}

fn fmt_value(sc: &Scenario, b: &Bindings, v: &Result<Value, DumpError>) -> String {
    match v {
        Err(DumpError::Unmapped) => String::from("none (not mapped)"),
        Err(e) => e.to_string(),
        Ok(Value::Int(i)) => format!("{i}"),
        Ok(Value::Set(s)) => crate::eval::fmt_set(*s),
        Ok(Value::State(s)) => String::from(s.name()),
        Ok(Value::ProcState(p)) => String::from(match p {
            ProcState::Active => "active",
            ProcState::Stopped => "stopped",
            ProcState::Zombie => "zombie",
        }),
        Ok(Value::Action(a)) => String::from(match a {
            ActionKind::Default => "SIG_DFL",
            ActionKind::Ignore => "SIG_IGN",
            ActionKind::Handler => "handler",
        }),
        Ok(Value::Queue(q)) => {
            let items: Vec<String> = q
                .iter()
                .map(|e| {
                    let who = b
                        .proc_of_pid(e.pid)
                        .map(|p| format!("{}({})", sc.procs[p].name, e.pid))
                        .unwrap_or_else(|| format!("{}", e.pid));
                    format!(
                        "{} code={} value={} pid={who}",
                        names::signal_name(e.signo),
                        names::si_code_name(e.signo, e.code),
                        e.value as i64
                    )
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
        Ok(Value::TruncatedQueue { total, first }) => format!(
            "{} and {} more not shown by the dump",
            fmt_value(sc, b, &Ok(Value::Queue(first.clone()))),
            (*total as usize).saturating_sub(first.len())
        ),
    }
}

fn fmt_rhs(sc: &Scenario, op: Op, rhs: &DVal) -> String {
    let v = match rhs {
        DVal::Int(i) => format!("{i}"),
        DVal::Set(s) => crate::eval::fmt_set(*s),
        DVal::States(v) => {
            let n: Vec<&str> = v.iter().map(|s| s.name()).collect();
            if op == Op::In {
                format!("{{{}}}", n.join(", "))
            } else {
                n.join(",")
            }
        }
        DVal::ProcState(p) => String::from(match p {
            ProcState::Active => "active",
            ProcState::Stopped => "stopped",
            ProcState::Zombie => "zombie",
        }),
        DVal::Action(a) => String::from(match a {
            ActionKind::Default => "SIG_DFL",
            ActionKind::Ignore => "SIG_IGN",
            ActionKind::Handler => "handler",
        }),
        DVal::Bool(b) => format!("{b}"),
        DVal::Unmapped => String::from("none"),
        DVal::Pid(p) => sc.procs[*p].name.clone(),
        DVal::Sigs(v) => {
            let n: Vec<String> = v.iter().map(|s| names::signal_name(*s)).collect();
            format!("[{}]", n.join(", "))
        }
    };
    format!("{} {v}", op.as_str())
}

/// Why a truncated queue cannot answer.
fn truncated(total: u32, shown: usize) -> DumpError {
    DumpError::Bad(format!(
        "the queue holds {total} siginfos and the dump shows only the first {shown}"
    ))
}

/// Applies `sub` to a value read from the dump.
fn project(v: Result<Value, DumpError>, sub: QueueSub) -> Result<Value, DumpError> {
    match (v?, sub) {
        (Value::TruncatedQueue { total, first }, QueueSub::Whole) => {
            if first.len() >= total as usize {
                Ok(Value::Queue(first))
            } else {
                Err(truncated(total, first.len()))
            }
        }
        (Value::TruncatedQueue { total, .. }, QueueSub::Len) => Ok(Value::Int(total as i64)),
        (Value::TruncatedQueue { total, first }, QueueSub::Item(i, f)) => {
            if (i as usize) < first.len() {
                project(Ok(Value::Queue(first)), QueueSub::Item(i, f))
            } else if i < total {
                Err(truncated(total, first.len()))
            } else {
                Err(DumpError::Bad(format!(
                    "the queue has only {total} entries"
                )))
            }
        }
        (v, QueueSub::Whole) => Ok(v),
        (Value::Queue(q), QueueSub::Len) => Ok(Value::Int(q.len() as i64)),
        (Value::Queue(q), QueueSub::Item(i, f)) => match q.get(i as usize) {
            None => Err(DumpError::Bad(format!(
                "the queue has only {} entries",
                q.len()
            ))),
            Some(e) => Ok(Value::Int(match f {
                QueueItemField::Signo => e.signo as i64,
                QueueItemField::Code => e.code as i64,
                QueueItemField::Value => e.value as i64,
                QueueItemField::Pid => e.pid as i64,
            })),
        },
        (_, _) => Err(DumpError::Bad(String::from(
            "the dump's value for this field is not a queue",
        ))),
    }
}

/// Whether `v op rhs` holds; `Err` when the types do not fit (a VMM bug or a version skew).
fn compare(v: &Result<Value, DumpError>, op: Op, rhs: &DVal, b: &Bindings) -> Result<bool, String> {
    use Op::*;
    let eqne = |eq: bool| match op {
        Eq => Ok(eq),
        Ne => Ok(!eq),
        _ => Err(format!("operator {} does not apply", op.as_str())),
    };
    match (v, rhs) {
        (Err(DumpError::Unmapped), DVal::Unmapped) => eqne(true),
        (Ok(_), DVal::Unmapped) => eqne(false),
        (Err(e), _) => Err(e.to_string()),
        (Ok(Value::Int(a)), DVal::Int(x)) => Ok(op.int(*a, *x)),
        (Ok(Value::Int(a)), DVal::Pid(p)) => match b.pid(*p) {
            Some(pid) => eqne(*a == pid as i64),
            None => Err(String::from("that process has no pid (never started)")),
        },
        (Ok(Value::Set(a)), DVal::Set(x)) => match op {
            Eq => Ok(a == x),
            Ne => Ok(a != x),
            Has => Ok(a.intersection(*x) == *x),
            Lacks => Ok(a.intersection(*x).is_empty()),
            _ => Err(format!("operator {} does not apply to sets", op.as_str())),
        },
        (Ok(Value::State(s)), DVal::States(v)) => match op {
            Eq => Ok(v.first() == Some(s)),
            Ne => Ok(v.first() != Some(s)),
            In => Ok(v.contains(s)),
            _ => Err(format!("operator {} does not apply to states", op.as_str())),
        },
        (Ok(Value::ProcState(s)), DVal::ProcState(x)) => eqne(s == x),
        (Ok(Value::Action(a)), DVal::Action(x)) => eqne(a == x),
        (Ok(Value::Queue(q)), DVal::Sigs(x)) => {
            let sigs: Vec<u32> = q.iter().map(|e| e.signo).collect();
            eqne(&sigs == x)
        }
        (Ok(_), _) => Err(String::from(
            "the dump's value has another type than the assertion",
        )),
    }
}

fn eval_one(
    sc: &Scenario,
    span: crate::diag::Span,
    a: &DumpAssert,
    b: &Bindings,
    view: &dyn DumpView,
) -> Outcome {
    let expected = fmt_rhs(sc, a.op, &a.rhs);
    match &a.lhs {
        DumpLhs::Proc { proc, field, sub } => {
            let Some(pid) = b.pid(*proc) else {
                return Outcome::fail(
                    span,
                    expected,
                    format!("{} has no pid (it never started)", sc.procs[*proc].name),
                );
            };
            let v = project(view.proc(pid, *field), *sub);
            match compare(&v, a.op, &a.rhs, b) {
                Ok(true) => Outcome::pass(span),
                Ok(false) => Outcome::fail(span, expected, fmt_value(sc, b, &v)),
                Err(_) if v.is_err() => Outcome::fail(span, expected, fmt_value(sc, b, &v)),
                Err(why) => Outcome::fail(
                    span,
                    expected,
                    format!("cannot compare: {why} (value: {})", fmt_value(sc, b, &v)),
                ),
            }
        }
        DumpLhs::Lwp { slots, field, sub } => {
            let cmp_exists = |e: bool| -> Result<bool, String> {
                match a.rhs {
                    DVal::Bool(x) if a.op == Op::Eq => Ok(e == x),
                    DVal::Bool(x) if a.op == Op::Ne => Ok(e != x),
                    _ => Err(String::from("exists compares with == true or == false")),
                }
            };
            let mut bad: Vec<String> = Vec::new();
            let mut nbad = 0;
            for &slot in slots {
                let name = sc.slot_name(slot);
                let Some((pid, lid)) = b.lwp(slot) else {
                    // Never created: it does not exist, which `.exists == false` accepts.
                    if field.is_none() && cmp_exists(false) == Ok(true) {
                        continue;
                    }
                    nbad += 1;
                    if bad.len() < 5 {
                        bad.push(format!("{name}: no kernel id (never created)"));
                    }
                    continue;
                };
                let (shown, ok) = match field {
                    None => match view.lwp(pid, lid, LwpField::State) {
                        Ok(_) => (String::from("exists"), cmp_exists(true)),
                        Err(DumpError::NoSuchLwp | DumpError::NoSuchProc) => {
                            (String::from("does not exist"), cmp_exists(false))
                        }
                        Err(e) => (e.to_string(), Err(e.to_string())),
                    },
                    Some(f) => {
                        let v = project(view.lwp(pid, lid, *f), *sub);
                        let ok = compare(&v, a.op, &a.rhs, b);
                        (fmt_value(sc, b, &v), ok)
                    }
                };
                match ok {
                    Ok(true) => {}
                    Ok(false) => {
                        nbad += 1;
                        if bad.len() < 5 {
                            bad.push(format!("{name}: {shown}"));
                        }
                    }
                    Err(why) => {
                        nbad += 1;
                        if bad.len() < 5 {
                            if why == shown {
                                bad.push(format!("{name}: {why}"));
                            } else {
                                bad.push(format!("{name}: cannot compare: {why} (value: {shown})"));
                            }
                        }
                    }
                }
            }
            if nbad == 0 {
                Outcome::pass(span)
            } else {
                let more = if nbad > bad.len() {
                    format!(" (and {} more)", nbad - bad.len())
                } else {
                    String::new()
                };
                let expected = if slots.len() > 1 {
                    format!("every selected LWP ({}): {expected}", slots.len())
                } else {
                    expected
                };
                Outcome::fail(span, expected, format!("{}{more}", bad.join("; ")))
            }
        }
    }
}
