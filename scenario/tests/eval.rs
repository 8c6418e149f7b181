//! The evaluators on synthetic event logs and a mock dump: what passes, what fails, and what
//! a failure says.

use lwpvm_scenario::ast::{LwpField, ProcField, ProcState, Scenario, StmtKind};
use lwpvm_scenario::dump::{self, Bindings, DumpError, DumpView, QueuedSig, Value};
use lwpvm_scenario::eval::{self, NO_VMM};
use lwpvm_scenario::load;
use lwpvm_scenario::log::{flags, Kind, Log, Record, RunnerError, SigInfo, RUNNER_SLOT};
use lwpvm_scenario::report::{self, Outcome, Summary, Verdict};
use shared_abi::current::errno;
use shared_abi::current::lwp::LwpState;
use shared_abi::current::signal::{self as sig, SigSet};

/// A scenario and a log being written for it, as a runner would.
struct Run {
    sc: Scenario,
    src: String,
    log: Log,
}

impl Run {
    fn new(src: &str) -> Self {
        let sc = load("t.scn", src).unwrap_or_else(|e| panic!("{e}"));
        let mut log = Log {
            fingerprint: sc.fingerprint,
            finished: true,
            ..Log::default()
        };
        // Bind every slot: pid = 10 + proc index, lid = 1 + index within the process.
        let mut next_lid = vec![1; sc.procs.len()];
        for slot in 0..sc.slot_count() {
            let p = sc.slot_proc(slot).unwrap();
            let mut r = Record::new(Kind::Bind, slot, 0);
            r.pid = 10 + p as i32;
            r.lid = next_lid[p];
            r.result = 100 + slot as i64;
            next_lid[p] += 1;
            log.push(r);
        }
        Run {
            src: src.to_string(),
            sc,
            log,
        }
    }

    fn slot(&self, name: &str) -> u32 {
        (0..self.sc.slot_count())
            .find(|&s| self.sc.slot_name(s) == name)
            .unwrap_or_else(|| panic!("no slot {name}"))
    }

    /// The index of the statement on `line`.
    fn stmt(&self, line: u32) -> u32 {
        self.sc
            .stmts
            .iter()
            .position(|s| s.span.line == line)
            .unwrap_or_else(|| panic!("no statement on line {line}")) as u32
    }

    fn step(&mut self, line: u32, who: &str, result: i64) -> &mut Record {
        let (stmt, slot) = (self.stmt(line), self.slot(who));
        let mut r = Record::new(Kind::Step, slot, stmt);
        r.result = result;
        let p = self.sc.slot_proc(slot).unwrap();
        r.pid = 10 + p as i32;
        self.log.push(r)
    }

    /// A handler invocation on `who` for a signal sent by process `from`.
    fn handler(&mut self, who: &str, signo: u32, code: i32, from: &str) -> &mut Record {
        let slot = self.slot(who);
        let from = self.sc.procs.iter().position(|p| p.name == from).unwrap();
        let mut r = Record::new(Kind::Handler, slot, 0);
        r.flags = flags::SIGINFO | flags::ALIGNED;
        r.info = SigInfo {
            signo,
            code,
            pid: 10 + from as i32,
            ..SigInfo::default()
        };
        r.depth = 1;
        self.log.push(r)
    }

    fn checkpoint(&mut self, line: u32) {
        let stmt = self.stmt(line);
        self.log
            .push(Record::new(Kind::Checkpoint, RUNNER_SLOT, stmt));
    }

    fn outcomes(&self) -> Vec<Outcome> {
        eval::evaluate(&self.sc, &self.log)
    }

    fn at(&self, line: u32) -> Vec<Outcome> {
        self.outcomes()
            .into_iter()
            .filter(|o| o.span.line == line)
            .collect()
    }

    fn only(&self, line: u32) -> Outcome {
        let v = self.at(line);
        assert_eq!(v.len(), 1, "line {line}: {v:#?}");
        v.into_iter().next().unwrap()
    }

    fn render(&self) -> String {
        report::render(&self.sc, &self.src, &self.outcomes())
    }
}

fn fail_text(o: &Outcome) -> (String, String) {
    match &o.verdict {
        Verdict::Fail { expected, actual } => (expected.clone(), actual.clone()),
        v => panic!("expected a failure, got {v:?}"),
    }
}

const LOAD_BALANCE: &str = "\
proc P0
proc P1
lwp P1.A
P1.main: handle SIGUSR1
P1.main: block SIGUSR1
P1.A: pause -> EINTR
P0.main: kill P1 SIGUSR1
expect handler SIGUSR1 on P1.A code=SI_USER pid=P0
P0.main: kill P1 SIGUSR1
expect handler SIGUSR1 times 2
";

#[test]
fn a_passing_run() {
    let mut r = Run::new(LOAD_BALANCE);
    r.step(4, "P1.main", 0);
    r.step(5, "P1.main", 0);
    r.step(7, "P0.main", 0);
    r.handler("P1.A", sig::SIGUSR1, sig::SI_USER, "P0");
    r.step(6, "P1.A", -(errno::EINTR as i64));
    r.checkpoint(8);
    r.step(9, "P0.main", 0);
    r.handler("P1.A", sig::SIGUSR1, sig::SI_USER, "P0");
    r.checkpoint(10);
    let out = r.outcomes();
    assert!(out.iter().all(|o| o.verdict == Verdict::Pass), "{out:#?}");
    // Explicit expectations only: line 6 (-> EINTR), 8 and 10.
    assert_eq!(
        Summary::of(&out),
        Summary {
            passed: 3,
            failed: 0,
            not_applicable: 0
        }
    );
    let text = r.render();
    assert!(
        text.contains("ok   t.scn:6  P1.A: pause -> EINTR\n"),
        "{text}"
    );
    assert!(
        text.ends_with("scenario t.scn: 3 passed, 0 failed, 0 not applicable\n"),
        "{text}"
    );
}

#[test]
fn counts_are_positional_and_failures_show_near_misses() {
    let mut r = Run::new(LOAD_BALANCE);
    r.step(6, "P1.A", -(errno::EINTR as i64));
    // The signal went to main instead of A: line 8 fails and shows the event.
    r.handler("P1.main", sig::SIGUSR1, sig::SI_USER, "P0");
    r.checkpoint(8);
    // A second event after the first checkpoint: line 8 must not see it.
    r.handler("P1.A", sig::SIGUSR1, sig::SI_USER, "P0");
    r.checkpoint(10);
    let (exp, act) = fail_text(&r.only(8));
    assert_eq!(exp, "exactly 1 matching event");
    assert_eq!(
        act,
        "0 matching events; similar events: #4 handler SIGUSR1 on P1.main code=SI_USER pid=P0(10) depth=1 mask={}"
    );
    assert_eq!(r.only(10).verdict, Verdict::Pass);
    let text = r.render();
    assert!(
        text.contains("FAIL t.scn:8  expect handler SIGUSR1 on P1.A code=SI_USER pid=P0\n       expected: exactly 1 matching event\n       actual:   0 matching events; similar events: #4 handler"),
        "{text}"
    );
}

#[test]
fn step_expectations_explicit_implicit_and_not_run() {
    let mut r = Run::new(LOAD_BALANCE);
    r.step(4, "P1.main", -(errno::EINVAL as i64)); // implicit: must succeed
    r.step(6, "P1.A", 0); // explicit EINTR, got success
    r.log.push({
        let mut x = Record::new(Kind::Step, r.slot("P0.main"), r.stmt(7));
        x.flags = flags::NOT_RUN;
        x
    });
    let o4 = r.only(4);
    assert_eq!(fail_text(&o4), ("success".into(), "P1.main: EINVAL".into()));
    assert_eq!(o4.note.as_deref(), Some("no '->': success expected"));
    assert_eq!(
        fail_text(&r.only(6)),
        ("EINTR".into(), "P1.A: success".into())
    );
    assert_eq!(
        fail_text(&r.only(7)),
        (
            "success".into(),
            "P0.main: not run, it no longer exists".into()
        )
    );
    // Line 9 has no record and no '->': not an error (its process may have been killed).
    assert!(r.at(9).is_empty());
}

#[test]
fn missing_checkpoint_runner_errors_and_unfinished_runs() {
    let mut r = Run::new(LOAD_BALANCE);
    r.log.finished = false;
    let mut e = Record::new(Kind::Error, RUNNER_SLOT, r.stmt(6));
    e.result = RunnerError::SettleTimeout as i64;
    e.aux = r.slot("P1.A") as u64;
    r.log.push(e);
    let o = r.at(6);
    assert!(o
        .iter()
        .any(|o| fail_text(o).1
            == "the statement did not settle within 10000 ms (P1.A still running)"));
    assert_eq!(fail_text(&r.only(8)).1, "the runner stopped before it");
    assert!(r
        .at(10)
        .iter()
        .any(|o| fail_text(o).0 == "the runner to reach the end of the scenario"));
    r.log.dropped = 3;
    assert!(r
        .outcomes()
        .iter()
        .any(|o| o.failed() && fail_text(o).1 == "the event log overflowed: 3 records dropped"));
}

#[test]
fn order_assertions() {
    let src = "\
proc P1
P1.main: handle SIGRTMIN mask=ALL
P1.main: handle SIGUSR1 mask=ALL
expect handler SIGUSR1 then handler SIGRTMIN value=1 then handler SIGRTMIN value=2
";
    let mut r = Run::new(src);
    r.handler("P1.main", sig::SIGUSR1, sig::SI_USER, "P1");
    r.handler("P1.main", sig::SIGRTMIN, sig::SI_QUEUE, "P1")
        .info
        .value = 1;
    r.handler("P1.main", sig::SIGRTMIN, sig::SI_QUEUE, "P1")
        .info
        .value = 2;
    r.checkpoint(4);
    assert_eq!(r.only(4).verdict, Verdict::Pass);

    let mut r = Run::new(src);
    r.handler("P1.main", sig::SIGRTMIN, sig::SI_QUEUE, "P1")
        .info
        .value = 2;
    r.handler("P1.main", sig::SIGUSR1, sig::SI_USER, "P1");
    r.handler("P1.main", sig::SIGRTMIN, sig::SI_QUEUE, "P1")
        .info
        .value = 1;
    r.checkpoint(4);
    let (exp, act) = fail_text(&r.only(4));
    assert_eq!(exp, "3 events, one per selector, in the written order");
    assert!(act.starts_with("3 events: #1 handler SIGRTMIN on P1.main code=SI_QUEUE pid=P1(10) value=2 depth=1 mask={} [matches selector 3]"), "{act}");

    // An extra matching event fails the order too.
    let mut r = Run::new(src);
    r.handler("P1.main", sig::SIGUSR1, sig::SI_USER, "P1");
    r.handler("P1.main", sig::SIGUSR1, sig::SI_USER, "P1");
    r.handler("P1.main", sig::SIGRTMIN, sig::SI_QUEUE, "P1")
        .info
        .value = 1;
    r.handler("P1.main", sig::SIGRTMIN, sig::SI_QUEUE, "P1")
        .info
        .value = 2;
    r.checkpoint(4);
    assert!(r.only(4).failed());
}

#[test]
fn fields_without_siginfo_are_reported_as_unknown() {
    let src = "proc P1\nP1.main: handle SIGUSR1 flags=0\nexpect handler SIGUSR1 code=SI_TKILL\nexpect handler SIGUSR1 depth=1\n";
    let mut r = Run::new(src);
    r.handler("P1.main", sig::SIGUSR1, sig::SI_TKILL, "P1")
        .flags = flags::ALIGNED;
    r.checkpoint(3);
    r.checkpoint(4);
    let (_, act) = fail_text(&r.only(3));
    assert!(act.ends_with("(some events could not be checked: its handler has no SA_SIGINFO, so siginfo fields are unknown)"), "{act}");
    assert_eq!(r.only(4).verdict, Verdict::Pass);
}

#[test]
fn handler_fields() {
    let src = "\
proc P1
P1.main: handle SIGSEGV flags=SA_SIGINFO|SA_ONSTACK mask={SIGUSR2}
do skip-fault
P1.main: fault badptr 0x10
expect handler SIGSEGV code=SEGV_MAPERR addr=0x10 altstack=on aligned=yes mask lacks SIGUSR1 depth=1
expect handler SIGSEGV addr=fault-ip
";
    let mut r = Run::new(src);
    {
        let h = r.handler("P1.main", sig::SIGSEGV, sig::SEGV_MAPERR, "P1");
        h.info.addr = 0x10;
        h.fault_ip = 0x40_1234;
        h.flags |= flags::ON_ALTSTACK;
    }
    r.checkpoint(5);
    r.checkpoint(6);
    assert_eq!(r.only(5).verdict, Verdict::Pass);
    assert!(
        r.only(6).failed(),
        "si_addr is the address, not the instruction"
    );
}

#[test]
fn exit_statuses_from_the_runner_and_from_wait() {
    let src = "\
proc P1
proc P2 forked
P1.main: fork P2
P2.main: exit 3
P1.main: wait P2 -> exited 3
expect P2 exited 3
expect P1 killed SIGKILL
";
    let mut r = Run::new(src);
    r.step(3, "P1.main", 0);
    let w = r.step(5, "P1.main", 11);
    w.aux = sig::w_exitcode(3, 0) as u64;
    w.aux2 = 11;
    r.checkpoint(6);
    let mut e = Record::new(Kind::ProcExit, RUNNER_SLOT, 0);
    e.sub = 0;
    e.result = sig::w_termcode(sig::SIGKILL, false) as i64;
    r.log.push(e);
    r.checkpoint(7);
    assert_eq!(r.only(5).verdict, Verdict::Pass);
    assert_eq!(r.only(6).verdict, Verdict::Pass);
    assert_eq!(r.only(7).verdict, Verdict::Pass);

    // A core dump is not a plain kill.
    let mut r2 = Run::new(src);
    let mut e = Record::new(Kind::ProcExit, RUNNER_SLOT, 0);
    e.result = sig::w_termcode(sig::SIGKILL, true) as i64;
    r2.log.push(e);
    r2.checkpoint(6);
    r2.checkpoint(7);
    assert_eq!(
        fail_text(&r2.only(7)),
        ("killed SIGKILL".into(), "dumped SIGKILL".into())
    );
    assert_eq!(
        fail_text(&r2.only(6)).1,
        "no final status of P2 before this line (still running, or its parent has not waited for it)"
    );
}

#[test]
fn typed_step_results() {
    let src = "\
proc P1
lwp P1.A
P1.A: lwp-exit
P1.main: lwp-wait any -> P1.A
P1.main: query pending -> {SIGUSR1}
P1.main: query lwpctl -> curcpu=oncpu pctr>=2
P1.main: query altstack -> SS_DISABLE
P1.main: sigtimedwait {SIGUSR1} timeout=0 -> SIGUSR1
P1.main: query blockallsigs -> 0x80000001
";
    let mut r = Run::new(src);
    r.step(4, "P1.main", 2);
    r.step(5, "P1.main", 0).aux = SigSet::single(sig::SIGUSR2).bits();
    {
        let s = r.step(6, "P1.main", 0);
        s.aux = (-1i64) as u64;
        s.aux2 = 5;
    }
    r.step(7, "P1.main", 0).aux = sig::SS_DISABLE as u64;
    r.step(8, "P1.main", -(errno::EAGAIN as i64));
    r.step(9, "P1.main", 0x8000_0001);
    assert_eq!(r.only(4).verdict, Verdict::Pass);
    assert_eq!(
        fail_text(&r.only(5)),
        ("{SIGUSR1}".into(), "P1.main: {SIGUSR2}".into())
    );
    assert_eq!(
        fail_text(&r.only(6)),
        (
            "curcpu >= 0, pctr >= 2".into(),
            "P1.main: curcpu = NONE, pctr = 5".into()
        )
    );
    assert_eq!(r.only(7).verdict, Verdict::Pass);
    assert_eq!(
        fail_text(&r.only(8)),
        ("SIGUSR1".into(), "P1.main: EAGAIN".into())
    );
    assert_eq!(r.only(9).verdict, Verdict::Pass);
}

#[test]
fn host_steps_emulated_under_qemu_are_reported() {
    let src = "proc P1\nP1.main: handle SIGUSR1\nhost: kill P1 SIGUSR1\n";
    let mut r = Run::new(src);
    let stmt = r.stmt(3);
    let mut s = Record::new(Kind::Step, RUNNER_SLOT, stmt);
    s.flags = flags::EMULATED;
    r.log.push(s);
    let o = r.only(3);
    assert_eq!(o.verdict, Verdict::Pass);
    assert!(o.note.unwrap().starts_with("emulated"));
}

#[test]
fn array_steps_need_every_member() {
    let src = "proc P1\nlwp P1.W[3]\nP1.W[*]: block SIGUSR1 -> ok\n";
    let mut r = Run::new(src);
    r.step(3, "P1.W[0]", 0);
    r.step(3, "P1.W[1]", -(errno::EINVAL as i64));
    r.step(3, "P1.W[2]", 0);
    assert_eq!(
        fail_text(&r.only(3)),
        ("success (each of 3)".into(), "P1.W[1]: EINVAL".into())
    );
}

// ---------------------------------------------------------------------------------------
// Dumps.
// ---------------------------------------------------------------------------------------

const DUMPED: &str = "\
proc P1
lwp P1.A
lwp P1.W[3]
P1.A: block SIGUSR1
dump d
expect lwp(P1.A).state == LSSLEEP
expect lwp(P1.W[*]).state in {LSRUN, LSONPROC}
expect lwp(P1.A).mask has SIGUSR1
expect lwp(P1.A).pending lacks {SIGUSR2}
expect lwp(P1.A).queue == [SIGUSR1]
expect lwp(P1.A).queue[0].code == SI_TKILL
expect proc(P1).queue.len == 0
expect lwp(P1.A).lpmap.blockallsigs == none
expect lwp(P1.main).lwpctl.curcpu == NONE
expect proc(P1).state == active
expect proc(P1).action(SIGUSR1) == SIG_DFL
expect lwp(P1.A).exists == true
expect proc(P1).pgid == P1
";

/// A dump with P1 = pid 10: main lid 1, A lid 2, W lids 3.. (W[1] is asleep).
struct Mock;

impl DumpView for Mock {
    fn proc(&self, pid: i32, field: ProcField) -> Result<Value, DumpError> {
        if pid != 10 {
            return Err(DumpError::NoSuchProc);
        }
        Ok(match field {
            ProcField::Queue => Value::Queue(vec![]),
            ProcField::State => Value::ProcState(ProcState::Active),
            ProcField::Action(_) => Value::Action(lwpvm_scenario::ast::ActionKind::Default),
            ProcField::Pgid => Value::Int(10),
            _ => return Err(DumpError::Unsupported),
        })
    }
    fn lwp(&self, pid: i32, lid: i32, field: LwpField) -> Result<Value, DumpError> {
        if pid != 10 || !(1..=5).contains(&lid) {
            return Err(DumpError::NoSuchLwp);
        }
        Ok(match (lid, field) {
            (2, LwpField::State) => Value::State(LwpState::Sleep),
            (4, LwpField::State) => Value::State(LwpState::Sleep),
            (_, LwpField::State) => Value::State(LwpState::Run),
            (_, LwpField::Mask) => Value::Set(SigSet::single(sig::SIGUSR1)),
            (_, LwpField::Pending) => Value::Set(SigSet::single(sig::SIGUSR1)),
            (_, LwpField::Queue) => Value::Queue(vec![QueuedSig {
                signo: sig::SIGUSR1,
                code: sig::SI_TKILL,
                value: 0,
                pid: 10,
            }]),
            (_, LwpField::LpmapBlockallsigs) => return Err(DumpError::Unmapped),
            (_, LwpField::LwpctlCurcpu) => Value::Int(-1),
            _ => return Err(DumpError::Unsupported),
        })
    }
}

#[test]
fn dump_assertions_on_a_mock_dump() {
    let r = Run::new(DUMPED);
    let b = Bindings::from_log(&r.sc, &r.log);
    let out = dump::evaluate(&r.sc, 0, &b, &Mock);
    assert_eq!(out.len(), 13);
    let failed: Vec<(u32, (String, String))> = out
        .iter()
        .filter(|o| o.failed())
        .map(|o| (o.span.line, fail_text(o)))
        .collect();
    assert_eq!(
        failed,
        vec![(
            7,
            (
                "every selected LWP (3): in {LSRUN, LSONPROC}".to_string(),
                "P1.W[1]: LSSLEEP".to_string()
            )
        )]
    );
    // The VMM prints them with the same renderer.
    let text = report::render_outcome(&r.sc, &r.src, &out[1]);
    assert_eq!(
        text,
        "FAIL t.scn:7  expect lwp(P1.W[*]).state in {LSRUN, LSONPROC}\n       expected: every selected LWP (3): in {LSRUN, LSONPROC}\n       actual:   P1.W[1]: LSSLEEP\n"
    );
}

#[test]
fn dump_errors_are_failures_with_reasons() {
    let src = "proc P1\nlwp P1.A\nlwp P1.B manual\nP1.main: create P1.B\ndump\nexpect lwp(P1.A).edge(LSSLEEP,LSSTOP) >= 1\nexpect lwp(P1.B).exists == false\nexpect lwp(P1.A).fastblock == 0\n";
    let mut r = Run::new(src);
    // P1.B never bound: `exists == false` accepts that.
    r.log
        .records
        .retain(|x| !(x.kind == Kind::Bind && x.slot == 2));
    let b = Bindings::from_log(&r.sc, &r.log);
    let out = dump::evaluate(&r.sc, 0, &b, &Mock);
    assert_eq!(
        fail_text(&out[0]),
        (
            ">= 1".into(),
            "P1.A: this dump does not provide the field".into()
        )
    );
    assert_eq!(out[1].verdict, Verdict::Pass);
    assert!(out[2].failed());
}

/// A process whose shared queue holds 9 siginfos of which the dump shows the first 2.
struct LongQueue;

impl DumpView for LongQueue {
    fn proc(&self, _pid: i32, field: ProcField) -> Result<Value, DumpError> {
        match field {
            ProcField::Queue => Ok(Value::TruncatedQueue {
                total: 9,
                first: (1..=2)
                    .map(|v| QueuedSig {
                        signo: sig::SIGRTMIN,
                        code: sig::SI_QUEUE,
                        value: v,
                        pid: 10,
                    })
                    .collect(),
            }),
            _ => Err(DumpError::Unsupported),
        }
    }
    fn lwp(&self, _pid: i32, _lid: i32, _field: LwpField) -> Result<Value, DumpError> {
        Err(DumpError::Unsupported)
    }
}

#[test]
fn a_truncated_queue_answers_only_what_the_dump_shows() {
    let src = "proc P1\ndump\nexpect proc(P1).queue.len == 9\nexpect proc(P1).queue[1].value == 2\nexpect proc(P1).queue[2].value == 3\nexpect proc(P1).queue == [SIGRTMIN, SIGRTMIN]\nexpect proc(P1).queue[9].code == SI_QUEUE\n";
    let r = Run::new(src);
    let b = Bindings::from_log(&r.sc, &r.log);
    let out = dump::evaluate(&r.sc, 0, &b, &LongQueue);
    assert_eq!(out[0].verdict, Verdict::Pass);
    assert_eq!(out[1].verdict, Verdict::Pass);
    // Never a pass on entries the dump does not show, nor on the whole queue.
    let why = "unreadable: the queue holds 9 siginfos and the dump shows only the first 2";
    assert_eq!(fail_text(&out[2]).1, why);
    assert_eq!(fail_text(&out[3]).1, why);
    assert_eq!(
        fail_text(&out[4]).1,
        "unreadable: the queue has only 9 entries"
    );
}

#[test]
fn dump_verdicts_in_the_runner_report() {
    let mut r = Run::new(DUMPED);
    // Under QEMU: the request fails with ENODEV; every assertion is "not applicable".
    let mut d = Record::new(Kind::Dump, RUNNER_SLOT, r.stmt(5));
    d.sub = 0;
    d.result = -(errno::ENODEV as i64);
    r.log.push(d);
    let out = r.outcomes();
    let na: Vec<&Outcome> = out
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::NotApplicable(_)))
        .collect();
    assert_eq!(na.len(), 13);
    assert_eq!(na[0].verdict, Verdict::NotApplicable(NO_VMM.into()));
    assert_eq!(Summary::of(&out).failed, 0);
    let text = r.render();
    assert!(text.contains("n/a  t.scn:6  expect lwp(P1.A).state == LSSLEEP\n       (dump assertions are evaluated by the lwpvm VMM; not applicable on this host)\n"), "{text}");
    assert!(
        text.ends_with("0 passed, 0 failed, 13 not applicable\n"),
        "{text}"
    );

    // Under our VMM: verdicts handed back.
    let mut r = Run::new(DUMPED);
    let mut d = Record::new(Kind::Dump, RUNNER_SLOT, r.stmt(5));
    d.result = 13;
    r.log.push(d);
    for (i, s) in r.sc.stmts.iter().enumerate() {
        if matches!(s.kind, StmtKind::Expect(_)) {
            let mut v = Record::new(Kind::DumpVerdict, RUNNER_SLOT, i as u32);
            v.aux = if s.span.line == 7 { 2 } else { 1 };
            r.log.push(v);
        }
    }
    let s = Summary::of(&r.outcomes());
    assert_eq!(
        s,
        Summary {
            passed: 12,
            failed: 1,
            not_applicable: 0
        }
    );
    assert_eq!(s.status(), 1);
}

#[test]
fn bindings_round_trip() {
    let r = Run::new(DUMPED);
    let b = Bindings::from_log(&r.sc, &r.log);
    let text = b.encode(&r.sc);
    assert_eq!(text, "P1=10 P1.main=10:1 P1.A=10:2 P1.W[*]=10:3+");
    assert_eq!(Bindings::parse(&r.sc, &text).unwrap(), b);
    // Non-consecutive members are listed one by one.
    let mut b2 = b.clone();
    b2.bind(&r.sc, r.slot("P1.W[1]"), 10, 9);
    let t2 = b2.encode(&r.sc);
    assert_eq!(
        t2,
        "P1=10 P1.main=10:1 P1.A=10:2 P1.W[0]=10:3 P1.W[1]=10:9 P1.W[2]=10:5"
    );
    assert_eq!(Bindings::parse(&r.sc, &t2).unwrap(), b2);
    assert_eq!(
        Bindings::parse(&r.sc, "P9.A=1:1").unwrap_err(),
        "bindings name P9.A, which the scenario does not declare"
    );
    assert!(Bindings::parse(&r.sc, "P1.W[7]=1:1").is_err());
    assert!(Bindings::parse(&r.sc, "P1.A=1").is_err());
}
