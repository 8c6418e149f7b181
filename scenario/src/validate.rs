//! Static checks: everything that can be known to be wrong before anything boots.
//!
//! Because the timeline is executed in file order (docs/SCENARIOS.md, "Execution model"),
//! the validator can follow which LWPs exist at each line and catch:
//!
//! - steps by an LWP that does not exist yet or any more (`create`, `fork`, `lwp-exit`,
//!   `exit`, `exec` are followed; deaths by signals are not, they happen at run time);
//! - a forked process without exactly one `fork` step, a `manual` LWP without exactly one
//!   `create` step, a `create` of an LWP created at setup;
//! - an event that is awaited but never posted, one that can never reach its count, and an
//!   LWP that awaits an event only it posts, later (a certain deadlock);
//! - NetBSD calls naming an LWP of another process (they are process-local);
//! - an actor whose step never ends (`spin` without `until`) given a later step;
//! - host steps other than `kill P SIG` / `sigqueue P SIG value=V`;
//! - `handle SIGKILL`/`SIGSTOP` without `-> EINVAL`, `skip-fault` in a handler of a
//!   non-fault signal, a `fault` whose handler returns to the faulting instruction forever,
//!   `wait` for a process that is not a child.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use shared_abi::current::{errno, signal};

use crate::ast::*;
use crate::diag::{Errors, Span};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Life {
    /// Not created yet (manual LWP, forked process).
    Unborn,
    /// Exists (from this line).
    Alive(u32),
    /// Gone (since this line: lwp-exit, exit, exec of another LWP).
    Dead(u32),
    /// Runs a step that never ends (spin without until) since this line.
    Busy(u32),
}

/// Runs every static check. An empty result means the scenario may run.
pub fn validate(sc: &Scenario) -> Errors {
    let mut v = V {
        sc,
        errors: Errors::default(),
    };
    v.structure();
    v.timeline();
    v.events();
    v.errors.sort();
    v.errors
}

struct V<'a> {
    sc: &'a Scenario,
    errors: Errors,
}

impl V<'_> {
    fn err(&mut self, span: Span, msg: impl Into<String>) {
        let file = self.sc.file.clone();
        self.errors.push(&file, span, msg);
    }

    /// Forks, creates, arrays of forked processes.
    fn structure(&mut self) {
        let sc = self.sc;
        for (pi, p) in sc.procs.iter().enumerate() {
            let forks: Vec<&Stmt> = sc
                .stmts
                .iter()
                .filter(|s| matches!(&s.kind, StmtKind::Step(st) if st.action == Action::Fork(pi)))
                .collect();
            match p.origin {
                ProcOrigin::Forked => {
                    if forks.is_empty() {
                        self.err(
                            p.span,
                            format!("process {} is declared forked but no step forks it", p.name),
                        );
                    }
                    for extra in forks.iter().skip(1) {
                        self.err(extra.span, format!("process {} is forked twice", p.name));
                    }
                    for l in sc
                        .lwps
                        .iter()
                        .filter(|l| l.proc == pi && !l.is_main && !l.manual)
                    {
                        self.err(l.span, format!(
                            "{} belongs to forked process {}: it cannot exist at setup; mark it manual and create it",
                            l.name, p.name
                        ));
                    }
                }
                ProcOrigin::Setup => {
                    for f in forks {
                        self.err(f.span, format!(
                            "process {} is created at setup; declare it 'proc {} forked' to create it with fork",
                            p.name, p.name
                        ));
                    }
                }
            }
        }
        for (li, l) in sc.lwps.iter().enumerate() {
            let creates: Vec<(&Stmt, Member)> = sc
                .stmts
                .iter()
                .filter_map(|s| match &s.kind {
                    StmtKind::Step(Step {
                        action: Action::Create(r),
                        ..
                    }) if r.lwp == li => Some((s, r.member)),
                    _ => None,
                })
                .collect();
            if l.manual {
                let mut seen = alloc::vec![0u32; l.members() as usize];
                for (s, m) in &creates {
                    match m {
                        Member::One | Member::All => seen.iter_mut().for_each(|c| *c += 1),
                        Member::Index(i) => seen[*i as usize] += 1,
                    }
                    if seen.iter().any(|&c| c > 1) {
                        self.err(s.span, format!("{} is created more than once", l.name));
                        break;
                    }
                }
                if seen.contains(&0) {
                    self.err(
                        l.span,
                        format!(
                            "{} is manual but no step creates it (add '{}.main: create {}')",
                            l.name, sc.procs[l.proc].name, l.name
                        ),
                    );
                }
            } else {
                for (s, _) in creates {
                    self.err(s.span, format!(
                        "{} is created at setup; declare it 'lwp {} manual' to create it with a step",
                        l.name, l.name
                    ));
                }
            }
        }
    }

    fn same_proc(&mut self, span: Span, actor_proc: ProcId, target: LwpRef, what: &str) {
        let tp = self.sc.lwps[target.lwp].proc;
        if tp != actor_proc {
            let name = self.sc.lwp_ref_name(target);
            let pname = &self.sc.procs[actor_proc].name;
            self.err(
                span,
                format!("{what} works within a process: an LWP of {pname} cannot name {name}"),
            );
        }
    }

    fn describe(&self, life: Life) -> String {
        match life {
            Life::Unborn => String::from("does not exist yet"),
            Life::Alive(_) => String::from("exists"),
            Life::Dead(l) => format!("is gone since line {l}"),
            Life::Busy(l) => format!("spins forever since line {l}"),
        }
    }

    /// Follows which LWPs exist through the timeline and checks each step against it.
    fn timeline(&mut self) {
        let sc = self.sc;
        let mut life = alloc::vec![Life::Unborn; sc.slot_count() as usize];
        for l in &sc.lwps {
            let p = &sc.procs[l.proc];
            if p.origin == ProcOrigin::Setup && !l.manual {
                for s in l.first_slot..l.first_slot + l.members() {
                    life[s as usize] = Life::Alive(0);
                }
            }
        }
        // Per process: signal -> the `handle` step whose handler is installed, and whether
        // that handler leaves the faulting instruction (skip-fault, exits, SA_RESETHAND).
        let mut handlers: Vec<BTreeMap<u32, (u32, bool)>> =
            alloc::vec![BTreeMap::new(); sc.procs.len()];
        for stmt in &sc.stmts {
            let StmtKind::Step(step) = &stmt.kind else {
                continue;
            };
            let line = stmt.span.line;
            let (actor_slots, actor_proc) = match step.actor {
                Actor::Host => {
                    let ok = matches!(
                        step.action,
                        Action::Kill {
                            target: KillTarget::Proc(_),
                            times: 1,
                            ..
                        } | Action::Sigqueue {
                            target: KillTarget::Proc(_),
                            ..
                        }
                    );
                    if !ok {
                        self.err(stmt.span, "the host can only 'kill P SIG' or 'sigqueue P SIG value=V' (a process-directed signal)");
                    }
                    if let Action::Sigqueue { values, .. } = step.action {
                        if values.0 != values.1 {
                            self.err(
                                stmt.span,
                                "the host sends one signal per step: give one value",
                            );
                        }
                    }
                    continue;
                }
                Actor::Lwp(r) => (sc.slots(r), sc.lwps[r.lwp].proc),
            };
            for &s in &actor_slots {
                let l = life[s as usize];
                if !matches!(l, Life::Alive(_)) {
                    let d = self.describe(l);
                    self.err(
                        stmt.span,
                        format!("{} cannot run a step here: it {d}", sc.slot_name(s)),
                    );
                    break;
                }
            }
            self.check_step(stmt.span, step, actor_proc);
            for b in &step.body {
                self.check_step_action(b.span, &b.action, &b.expect, actor_proc);
            }
            // Dispositions, for faults whose handler would return to the fault forever.
            match &step.action {
                Action::Handle { sig, flags, .. } => {
                    let leaves = *flags & signal::SA_RESETHAND != 0
                        || step.body.iter().any(|b| {
                            matches!(
                                b.action,
                                Action::SkipFault
                                    | Action::Exit(_)
                                    | Action::LwpExit
                                    | Action::ThreadExit(_)
                            )
                        });
                    handlers[actor_proc].insert(*sig, (line, leaves));
                }
                Action::Ignore(sig) | Action::Default(sig) => {
                    handlers[actor_proc].remove(sig);
                }
                Action::Fork(child) => {
                    handlers[*child] = handlers[actor_proc].clone();
                }
                Action::Exec => handlers[actor_proc].clear(),
                Action::Fault(kind) => {
                    let sig = match kind {
                        FaultKind::DivZero => signal::SIGFPE,
                        FaultKind::BadPtr(_) => signal::SIGSEGV,
                        FaultKind::Ud2 => signal::SIGILL,
                        FaultKind::Int3 => signal::SIGTRAP,
                    };
                    if let Some(&(hline, false)) = handlers[actor_proc].get(&sig) {
                        if *kind != FaultKind::Int3 {
                            self.err(stmt.span, format!(
                                "the {} handler installed at line {hline} returns to the faulting instruction, which faults again forever: add 'do skip-fault' after that handle line (or SA_RESETHAND, or exit in the handler)",
                                crate::names::signal_name(sig)
                            ));
                        }
                    }
                }
                _ => {}
            }
            // Effects on existence.
            match &step.action {
                Action::Create(r) => {
                    let tp = sc.lwps[r.lwp].proc;
                    if tp != actor_proc {
                        self.err(
                            stmt.span,
                            format!(
                                "{} must be created by an LWP of {}",
                                sc.lwp_ref_name(*r),
                                sc.procs[tp].name
                            ),
                        );
                    }
                    for s in sc.slots(*r) {
                        if let Life::Dead(_) | Life::Alive(_) = life[s as usize] {
                            continue;
                        }
                        life[s as usize] = Life::Alive(line);
                    }
                }
                Action::Fork(child) => {
                    if *child == actor_proc {
                        self.err(stmt.span, "a process cannot fork itself: name the child");
                    }
                    let m = sc.procs[*child].main;
                    let s = sc.lwps[m].first_slot;
                    if life[s as usize] == Life::Unborn {
                        life[s as usize] = Life::Alive(line);
                    }
                }
                Action::LwpExit | Action::ThreadExit(_) => {
                    for &s in &actor_slots {
                        life[s as usize] = Life::Dead(line);
                    }
                }
                Action::Exit(_) => {
                    for l in sc.lwps.iter().filter(|l| l.proc == actor_proc) {
                        for s in l.first_slot..l.first_slot + l.members() {
                            if matches!(life[s as usize], Life::Alive(_) | Life::Busy(_)) {
                                life[s as usize] = Life::Dead(line);
                            }
                        }
                    }
                }
                Action::Exec => {
                    if actor_slots.len() != 1 {
                        self.err(stmt.span, "exec is done by one LWP");
                    }
                    for l in sc.lwps.iter().filter(|l| l.proc == actor_proc) {
                        for s in l.first_slot..l.first_slot + l.members() {
                            if !actor_slots.contains(&s)
                                && matches!(life[s as usize], Life::Alive(_) | Life::Busy(_))
                            {
                                life[s as usize] = Life::Dead(line);
                            }
                        }
                    }
                }
                Action::Spin { until: None } => {
                    for &s in &actor_slots {
                        life[s as usize] = Life::Busy(line);
                    }
                }
                _ => {}
            }
        }
    }

    fn check_step(&mut self, span: Span, step: &Step, actor_proc: ProcId) {
        self.check_step_action(span, &step.action, &step.expect, actor_proc);
        if let Action::Handle { sig, .. } = step.action {
            for b in &step.body {
                if b.action == Action::SkipFault && !signal::SigSet::SYNCHRONOUS.contains(sig) {
                    self.err(b.span, format!(
                        "skip-fault needs a fault signal's handler (SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS), not {}",
                        crate::names::signal_name(sig)
                    ));
                }
            }
        }
    }

    fn check_step_action(
        &mut self,
        span: Span,
        action: &Action,
        expect: &Option<Expectation>,
        actor_proc: ProcId,
    ) {
        let sc = self.sc;
        match action {
            Action::Handle { sig, .. }
                if signal::SigSet::KERNEL_ONLY.contains(*sig)
                    && !matches!(
                        expect,
                        Some(Expectation::Errno(errno::EINVAL)) | Some(Expectation::Any)
                    ) =>
            {
                self.err(
                    span,
                    format!(
                        "{} cannot be caught: rt_sigaction fails with EINVAL; write '-> EINVAL'",
                        crate::names::signal_name(*sig)
                    ),
                );
            }
            Action::Suspend(t)
            | Action::Continue(t)
            | Action::Detach(t)
            | Action::Unpark(t)
            | Action::Wakeup(t)
            | Action::LwpKill { target: t, .. }
            | Action::LwpWait(Some(t))
            | Action::Park {
                unpark: Some(t), ..
            }
            | Action::Query(Query::Lwpctl(Some(t))) => {
                self.same_proc(span, actor_proc, *t, "this NetBSD call");
            }
            Action::UnparkAll(ts) => {
                for t in ts {
                    self.same_proc(span, actor_proc, *t, "unpark-all");
                }
            }
            Action::Wait {
                target: Some(p), ..
            } => {
                let child = sc.procs[*p].origin == ProcOrigin::Forked
                    && sc.stmts.iter().any(|s| match &s.kind {
                        StmtKind::Step(Step {
                            actor: Actor::Lwp(r),
                            action: Action::Fork(c),
                            ..
                        }) => c == p && sc.lwps[r.lwp].proc == actor_proc,
                        _ => false,
                    });
                let expects_echild = matches!(expect, Some(Expectation::Errno(errno::ECHILD)));
                if !child && !expects_echild {
                    self.err(span, format!(
                        "{} is not a child of {} (setup processes are children of the runner); a wait for it fails with ECHILD",
                        sc.procs[*p].name, sc.procs[actor_proc].name
                    ));
                }
            }
            _ => {}
        }
    }

    /// Events: posted somewhere, reachable counts, no self-deadlock.
    fn events(&mut self) {
        let sc = self.sc;
        // Per event: posts as (stmt index, actor slots, members, in handler), waits as
        // (stmt index, actor slots, span).
        struct Use {
            posts: Vec<(usize, Vec<Slot>, bool)>,
            waits: Vec<(usize, Vec<Slot>, Span)>,
        }
        let mut uses: BTreeMap<EventId, Use> = BTreeMap::new();
        for (i, stmt) in sc.stmts.iter().enumerate() {
            let StmtKind::Step(step) = &stmt.kind else {
                continue;
            };
            let slots = match step.actor {
                Actor::Lwp(r) => sc.slots(r),
                Actor::Host => Vec::new(),
            };
            let mut note = |a: &Action, handler: bool, span: Span| {
                let (e, post) = match a {
                    Action::Post(e) => (*e, true),
                    Action::Await(e)
                    | Action::FutexWait(e)
                    | Action::Spin { until: Some(e) }
                    | Action::WatchLwpctl { until: e } => (*e, false),
                    _ => return,
                };
                let u = uses.entry(e).or_insert(Use {
                    posts: Vec::new(),
                    waits: Vec::new(),
                });
                if post {
                    u.posts.push((i, slots.clone(), handler));
                } else {
                    u.waits.push((i, slots.clone(), span));
                }
            };
            note(&step.action, false, stmt.span);
            for b in &step.body {
                note(&b.action, true, b.span);
            }
        }
        for (e, u) in &uses {
            let ev = &sc.events[*e];
            if u.posts.is_empty() {
                for (_, _, span) in &u.waits {
                    self.err(
                        *span,
                        format!("event '{}' is awaited but never posted", ev.name),
                    );
                }
                continue;
            }
            let from_handler = u.posts.iter().any(|p| p.2);
            let total: u64 = u.posts.iter().map(|p| p.1.len() as u64).sum();
            if !from_handler && total < ev.count as u64 && !u.waits.is_empty() {
                self.err(
                    ev.span,
                    format!(
                        "event '{}' needs {} posts but at most {} are made",
                        ev.name, ev.count, total
                    ),
                );
            }
            for (wi, wslots, span) in &u.waits {
                let only_self_later = u
                    .posts
                    .iter()
                    .all(|(pi, pslots, handler)| !handler && pi > wi && pslots == wslots);
                if only_self_later {
                    let line = sc.stmts[u.posts[0].0].span.line;
                    let who = wslots.first().map(|s| sc.slot_name(*s)).unwrap_or_default();
                    self.err(*span, format!(
                        "deadlock: {who} waits for '{}' here, but only {who} posts it, later (line {line})",
                        ev.name
                    ));
                }
            }
        }
    }
}
