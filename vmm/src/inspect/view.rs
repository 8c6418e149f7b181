//! The scenario language's view of a dump: [`DumpView`] over [`Dump`], so that the dump
//! assertions of a scenario (`expect lwp(P1.A).mask == {SIGUSR1}`, docs/SCENARIOS.md) are
//! evaluated on exactly what the dump shows.
//!
//! The rule is that a field is either read from a trustworthy record or reported as an error
//! with the reason; an error is a failed assertion, never a pass:
//!
//! | situation | answer |
//! |---|---|
//! | the table is not readable (absent, bad magic, torn header ...) | `Bad("the inspection table is ...")` |
//! | the process or LWP record is torn or corrupt | `Bad` with the decoder's findings |
//! | no record, and the kernel publishes every process and LWP (`FEATURE_PROCS`) | `NoSuchProc` / `NoSuchLwp` (so `exists == false` holds) |
//! | no record, and the kernel does not say it publishes them all | `Bad`: absence proves nothing |
//! | two records for one pid (or pid/lid) | `Bad` |
//! | an lwpctl slot, lpmap page or sigfastblock word the LWP does not have | `Unmapped` (compares equal to `none`) |
//! | one it has but whose user memory could not be read | `Bad` with the page walk's reason |
//! | a queue longer than the record shows | `TruncatedQueue` (`queue.len` works; the rest fails) |
//! | a field the inspection table does not carry (`edge(A,B)`) | `Unsupported` |
//!
//! Conversions: states come back from the names the decoder gave them (`"LSSLEEP"` is
//! `LwpState::Sleep`); process states map `SACTIVE` → `active`, `SSTOP` → `stopped`,
//! `SDYING`/`SZOMB` → `zombie` (exiting or exited, not reaped), and the transient `SIDL`
//! (being forked) and `SDEAD` (being freed) are errors; an LWP that never ran has `cpu` −1;
//! `altstack.flags` is the record's `altstack_flags` as the kernel stores it (0 when the
//! record has no alternate stack at all); a disposition absent from the dump's list is
//! `SIG_DFL` with no flags and an empty mask (the decoder lists every other one).

use lwpvm_scenario::ast::{ActionKind, LwpField, ProcField, ProcState as ScnProcState};
use lwpvm_scenario::dump::{DumpError, DumpView, QueuedSig, Value};
use shared_abi::current::inspect::ProcState;
use shared_abi::current::lwp::LwpState;
use shared_abi::current::signal::{self, SigSet};

use super::model::{Dump, LwpDump, ProcDump, QueueDump, RecordStatus, UserWord};

/// The feature name of `FEATURE_PROCS` in [`super::model::TableInfo::features`].
const FEATURE_PROCS_NAME: &str = "procs";

impl Dump {
    /// `Ok` if the table was read; else why not.
    fn usable(&self) -> Result<(), DumpError> {
        match self.table.status.as_str() {
            "ok" => Ok(()),
            "absent" => Err(DumpError::Bad(
                "the kernel has no inspection table (no lwpvm ELF note)".into(),
            )),
            other => Err(DumpError::Bad(format!(
                "the inspection table is not readable (status {other})"
            ))),
        }
    }

    /// Whether the kernel says it publishes every process and LWP.
    fn publishes_all(&self) -> bool {
        self.table.features.iter().any(|f| f == FEATURE_PROCS_NAME)
    }

    /// The problems the decoder listed for record `at` (`"procs slot 3"`).
    fn findings(&self, at: &str) -> String {
        let v: Vec<&str> = self
            .problems
            .iter()
            .filter(|p| p.at == at)
            .map(|p| p.what.as_str())
            .collect();
        if v.is_empty() {
            String::from("no details")
        } else {
            v.join("; ")
        }
    }

    fn trusted(&self, status: RecordStatus, what: &str, at: &str) -> Result<(), DumpError> {
        match status {
            RecordStatus::Ok => Ok(()),
            RecordStatus::Torn => Err(DumpError::Bad(format!(
                "the record of {what} was torn (being updated when the guest was paused)"
            ))),
            RecordStatus::Corrupt => Err(DumpError::Bad(format!(
                "the record of {what} is corrupt: {}",
                self.findings(at)
            ))),
        }
    }

    /// The one trustworthy record of process `pid`.
    fn proc_record(&self, pid: i32) -> Result<&ProcDump, DumpError> {
        self.usable()?;
        let mut found = self.processes.iter().filter(|p| p.pid == pid);
        let Some(p) = found.next() else {
            return Err(if self.publishes_all() {
                DumpError::NoSuchProc
            } else {
                DumpError::Bad(format!(
                    "no record of process {pid}, and the kernel does not publish every process (no \"procs\" feature): its absence proves nothing"
                ))
            });
        };
        if found.next().is_some() {
            return Err(DumpError::Bad(format!(
                "the table has several records of process {pid}"
            )));
        }
        self.trusted(
            p.status,
            &format!("process {pid}"),
            &format!("procs slot {}", p.slot),
        )?;
        Ok(p)
    }

    /// The one trustworthy record of LWP `pid`.`lid` (also among LWPs whose process has no
    /// record).
    fn lwp_record(&self, pid: i32, lid: i32) -> Result<&LwpDump, DumpError> {
        self.usable()?;
        let mut found = self
            .processes
            .iter()
            .filter(|p| p.pid == pid)
            .flat_map(|p| p.lwps.iter())
            .chain(self.orphan_lwps.iter().filter(|l| l.pid == pid))
            .filter(|l| l.lid == lid);
        let Some(l) = found.next() else {
            return Err(if !self.publishes_all() {
                DumpError::Bad(format!(
                    "no record of LWP {pid}.{lid}, and the kernel does not publish every LWP (no \"procs\" feature): its absence proves nothing"
                ))
            } else if self.processes.iter().any(|p| p.pid == pid) {
                DumpError::NoSuchLwp
            } else {
                DumpError::NoSuchProc
            });
        };
        if found.next().is_some() {
            return Err(DumpError::Bad(format!(
                "the table has several records of LWP {pid}.{lid}"
            )));
        }
        self.trusted(
            l.status,
            &format!("LWP {pid}.{lid}"),
            &format!("lwps slot {}", l.slot),
        )?;
        Ok(l)
    }
}

/// A queue as the scenario language sees it.
fn queue(q: &QueueDump) -> Value {
    let first: Vec<QueuedSig> = q
        .entries
        .iter()
        .map(|e| QueuedSig {
            signo: e.signo as u32,
            code: e.code,
            value: e.value.0,
            pid: e.pid,
        })
        .collect();
    if (q.count as usize) > first.len() {
        Value::TruncatedQueue {
            total: q.count,
            first,
        }
    } else {
        Value::Queue(first)
    }
}

/// A value read from user memory: `Unmapped` when there is none, the reason when unreadable.
fn user<T>(
    w: &Option<UserWord<T>>,
    what: &str,
    get: impl FnOnce(&T) -> i64,
) -> Result<Value, DumpError> {
    match w {
        None => Err(DumpError::Unmapped),
        Some(UserWord { value: Some(v), .. }) => Ok(Value::Int(get(v))),
        Some(w) => Err(DumpError::Bad(format!(
            "the {what} at {} could not be read: {}",
            w.va,
            w.error.as_deref().unwrap_or("no reason given")
        ))),
    }
}

/// The LWP state the decoder named `name`.
fn lwp_state(name: &str) -> Result<LwpState, DumpError> {
    (0..=16)
        .filter_map(LwpState::from_u32)
        .find(|s| s.name() == name)
        .ok_or_else(|| DumpError::Bad(format!("LWP state {name} is not a state")))
}

/// The scenario language's process state for the decoder's `name`.
fn proc_state(name: &str) -> Result<ScnProcState, DumpError> {
    let s = (0..=16)
        .filter_map(ProcState::from_u32)
        .find(|s| s.name() == name)
        .ok_or_else(|| DumpError::Bad(format!("process state {name} is not a state")))?;
    match s {
        ProcState::Active => Ok(ScnProcState::Active),
        ProcState::Stop => Ok(ScnProcState::Stopped),
        ProcState::Dying | ProcState::Zombie => Ok(ScnProcState::Zombie),
        ProcState::Idle => Err(DumpError::Bad(
            "the process is SIDL (being created by fork)".into(),
        )),
        ProcState::Dead => Err(DumpError::Bad(
            "the process is SDEAD (collected, being freed)".into(),
        )),
    }
}

/// The disposition of `sig` in `p`: (handler kind, flags, mask).
fn disposition(p: &ProcDump, sig: u32) -> Result<(ActionKind, u64, SigSet), DumpError> {
    if !signal::valid(sig) {
        return Err(DumpError::Bad(format!("{sig} is not a signal")));
    }
    let Some(a) = p
        .actions
        .iter()
        .find(|a| signal::number(&a.signal) == Some(sig))
    else {
        return Ok((ActionKind::Default, 0, SigSet::EMPTY));
    };
    let kind = match a.handler.as_str() {
        "SIG_DFL" => ActionKind::Default,
        "SIG_IGN" => ActionKind::Ignore,
        _ => ActionKind::Handler,
    };
    Ok((kind, a.flags.0, SigSet::from_bits(a.mask.bits.0)))
}

impl DumpView for Dump {
    fn proc(&self, pid: i32, field: ProcField) -> Result<Value, DumpError> {
        let p = self.proc_record(pid)?;
        Ok(match field {
            ProcField::State => Value::ProcState(proc_state(&p.state)?),
            ProcField::Pending => Value::Set(SigSet::from_bits(p.pending.bits.0)),
            ProcField::Queue => queue(&p.queue),
            ProcField::Nlwps => Value::Int(p.nlwps.into()),
            ProcField::Nrlwps => Value::Int(p.nrlwps.into()),
            ProcField::Nzlwps => Value::Int(p.nzlwps.into()),
            ProcField::Ndlwps => Value::Int(p.ndlwps.into()),
            ProcField::Nlwpwait => Value::Int(p.nlwpwait.into()),
            ProcField::Pgid => Value::Int(p.pgid.into()),
            ProcField::Action(sig) => Value::Action(disposition(p, sig)?.0),
            ProcField::SaFlags(sig) => Value::Int(disposition(p, sig)?.1 as i64),
            ProcField::SaMask(sig) => Value::Set(disposition(p, sig)?.2),
        })
    }

    fn lwp(&self, pid: i32, lid: i32, field: LwpField) -> Result<Value, DumpError> {
        let l = self.lwp_record(pid, lid)?;
        match field {
            LwpField::State => Ok(Value::State(lwp_state(&l.state)?)),
            LwpField::Mask => Ok(Value::Set(SigSet::from_bits(l.sigmask.bits.0))),
            LwpField::Pending => Ok(Value::Set(SigSet::from_bits(l.pending.bits.0))),
            LwpField::Queue => Ok(queue(&l.queue)),
            LwpField::Cpu => Ok(Value::Int(l.cpu.unwrap_or(-1).into())),
            LwpField::LwpctlCurcpu => user(&l.lwpctl, "lwpctl slot", |v| v.curcpu.into()),
            LwpField::LwpctlPctr => user(&l.lwpctl, "lwpctl slot", |v| v.pctr.into()),
            LwpField::LpmapBlockallsigs => {
                user(&l.lpmap, "lpmap page", |v| v.blockallsigs.0 as i64)
            }
            LwpField::LpmapTid => user(&l.lpmap, "lpmap page", |v| v.tid.into()),
            LwpField::Fastblock => user(&l.sigfastblock, "sigfastblock word", |v| v.word.0 as i64),
            LwpField::AltstackFlags => Ok(Value::Int(l.altstack.map_or(0, |a| a.flags.into()))),
            // Needs per-LWP state-transition counters, which the inspection table (ABI v1)
            // does not carry.
            LwpField::Edge(..) => Err(DumpError::Unsupported),
        }
    }
}

#[cfg(test)]
mod tests {
    use lwpvm_scenario::ast::{ActionKind, LwpField as L, ProcField as P, ProcState as S};
    use lwpvm_scenario::dump::{DumpError, DumpView, QueuedSig, Value};
    use shared_abi::current::inspect::*;
    use shared_abi::current::lwp::{LwpState, LSSLEEP};
    use shared_abi::current::signal::{self, SigSet};
    use shared_abi::current::upmap::{BLOCKALLSIGS_HELD, SIGFASTBLOCK_INC, SIGFASTBLOCK_PEND};

    use crate::inspect::model::{Dump, Reason};
    use crate::inspect::testkit::*;
    use crate::inspect::{capture, mem::GuestPhys};

    fn dump(g: &SynthGuest) -> Dump {
        capture(&g.mem, Some(g.header_gpa), Reason::Control, Vec::new())
    }

    fn set(sigs: &[u32]) -> Value {
        Value::Set(sigs.iter().fold(SigSet::EMPTY, |s, &n| s.with(n)))
    }

    fn bad(r: Result<Value, DumpError>) -> String {
        match r {
            Err(DumpError::Bad(why)) => why,
            other => panic!("expected Bad, got {other:?}"),
        }
    }

    #[test]
    fn every_field_of_the_sample_guest() {
        let d = dump(&sample_guest());
        assert!(d.problems.is_empty(), "{:#?}", d.problems);
        // Process 1.
        assert_eq!(d.proc(1, P::State), Ok(Value::ProcState(S::Active)));
        assert_eq!(d.proc(1, P::Pending), Ok(set(&[signal::SIGTERM])));
        assert_eq!(
            d.proc(1, P::Queue),
            Ok(Value::Queue(vec![QueuedSig {
                signo: signal::SIGTERM,
                code: signal::SI_USER,
                value: 0,
                pid: 5
            }]))
        );
        assert_eq!(d.proc(1, P::Nlwps), Ok(Value::Int(4)));
        assert_eq!(d.proc(1, P::Nrlwps), Ok(Value::Int(1)));
        assert_eq!(d.proc(1, P::Nzlwps), Ok(Value::Int(1)));
        assert_eq!(d.proc(1, P::Ndlwps), Ok(Value::Int(0)));
        assert_eq!(d.proc(1, P::Nlwpwait), Ok(Value::Int(0)));
        assert_eq!(d.proc(1, P::Pgid), Ok(Value::Int(1)));
        assert_eq!(
            d.proc(1, P::Action(signal::SIGUSR1)),
            Ok(Value::Action(ActionKind::Handler))
        );
        assert_eq!(
            d.proc(1, P::SaFlags(signal::SIGUSR1)),
            Ok(Value::Int(
                (signal::SA_SIGINFO | signal::SA_RESTORER) as i64
            ))
        );
        assert_eq!(
            d.proc(1, P::SaMask(signal::SIGUSR1)),
            Ok(set(&[signal::SIGUSR2]))
        );
        assert_eq!(
            d.proc(1, P::Action(signal::SIGPIPE)),
            Ok(Value::Action(ActionKind::Ignore))
        );
        // Not listed: the default.
        assert_eq!(
            d.proc(1, P::Action(signal::SIGRTMAX)),
            Ok(Value::Action(ActionKind::Default))
        );
        assert_eq!(d.proc(1, P::SaFlags(signal::SIGHUP)), Ok(Value::Int(0)));
        assert_eq!(d.proc(1, P::SaMask(signal::SIGHUP)), Ok(set(&[])));
        assert!(d.proc(1, P::Action(0)).is_err());
        // Process 2: a zombie; process 3 does not exist (the kernel publishes them all).
        assert_eq!(d.proc(2, P::State), Ok(Value::ProcState(S::Zombie)));
        assert_eq!(d.proc(3, P::State), Err(DumpError::NoSuchProc));

        // LWP 1.1: asleep in sigsuspend, lwpctl slot, lpmap with the held bit.
        assert_eq!(d.lwp(1, 1, L::State), Ok(Value::State(LwpState::Sleep)));
        assert_eq!(
            d.lwp(1, 1, L::Mask),
            Ok(set(&[signal::SIGINT, signal::SIGUSR1]))
        );
        assert_eq!(d.lwp(1, 1, L::Pending), Ok(set(&[])));
        assert_eq!(d.lwp(1, 1, L::Queue), Ok(Value::Queue(vec![])));
        assert_eq!(d.lwp(1, 1, L::Cpu), Ok(Value::Int(0)));
        assert_eq!(d.lwp(1, 1, L::LwpctlCurcpu), Ok(Value::Int(-1)));
        assert_eq!(d.lwp(1, 1, L::LwpctlPctr), Ok(Value::Int(7)));
        assert_eq!(
            d.lwp(1, 1, L::LpmapBlockallsigs),
            Ok(Value::Int(i64::from(BLOCKALLSIGS_HELD | 1)))
        );
        assert_eq!(d.lwp(1, 1, L::LpmapTid), Ok(Value::Int(1)));
        assert_eq!(d.lwp(1, 1, L::Fastblock), Err(DumpError::Unmapped));
        assert_eq!(d.lwp(1, 1, L::AltstackFlags), Ok(Value::Int(0)));
        // LWP 1.2: suspended, two RT signals queued, a sigfastblock word, no lpmap.
        assert_eq!(d.lwp(1, 2, L::State), Ok(Value::State(LwpState::Suspended)));
        assert_eq!(d.lwp(1, 2, L::Pending), Ok(set(&[signal::SIGRTMIN])));
        let rt = |value| QueuedSig {
            signo: signal::SIGRTMIN,
            code: signal::SI_QUEUE,
            value,
            pid: 1,
        };
        assert_eq!(
            d.lwp(1, 2, L::Queue),
            Ok(Value::Queue(vec![rt(11), rt(22)]))
        );
        assert_eq!(
            d.lwp(1, 2, L::Fastblock),
            Ok(Value::Int(i64::from(SIGFASTBLOCK_INC | SIGFASTBLOCK_PEND)))
        );
        assert_eq!(d.lwp(1, 2, L::LpmapBlockallsigs), Err(DumpError::Unmapped));
        assert_eq!(d.lwp(1, 2, L::LpmapTid), Err(DumpError::Unmapped));
        assert_eq!(d.lwp(1, 2, L::LwpctlPctr), Ok(Value::Int(3)));
        assert_eq!(d.lwp(1, 3, L::State), Ok(Value::State(LwpState::Zombie)));
        assert_eq!(d.lwp(1, 3, L::Cpu), Ok(Value::Int(-1)));
        assert_eq!(d.lwp(1, 3, L::LwpctlCurcpu), Err(DumpError::Unmapped));
        assert_eq!(d.lwp(1, 4, L::State), Ok(Value::State(LwpState::OnProc)));
        assert_eq!(d.lwp(1, 4, L::Cpu), Ok(Value::Int(1)));
        // Absent LWPs: of an existing process, of a missing one.
        assert_eq!(d.lwp(1, 5, L::State), Err(DumpError::NoSuchLwp));
        assert_eq!(d.lwp(9, 1, L::State), Err(DumpError::NoSuchProc));
        // What the table does not carry.
        assert_eq!(
            d.lwp(1, 1, L::Edge(LwpState::OnProc, LwpState::Sleep)),
            Err(DumpError::Unsupported)
        );
    }

    #[test]
    fn altstack_flags_and_transient_process_states() {
        let mut g = sample_guest();
        let mut l = lwp(1, 5, LSSLEEP);
        l.altstack_sp = 0x7000_8000;
        l.altstack_size = 8192;
        l.altstack_flags = signal::SS_AUTODISARM;
        g.put_lwp(11, &l);
        let mut p = proc(4, ProcState::Idle, 0);
        p.pgid = 4;
        g.put_proc(4, &p);
        g.put_proc(5, &proc(6, ProcState::Stop, 0));
        g.put_proc(6, &proc(7, ProcState::Dying, 0));
        g.put_proc(7, &proc(8, ProcState::Dead, 0));
        g.publish();
        let d = dump(&g);
        assert_eq!(
            d.lwp(1, 5, L::AltstackFlags),
            Ok(Value::Int(i64::from(signal::SS_AUTODISARM)))
        );
        assert!(bad(d.proc(4, P::State)).contains("SIDL"));
        assert_eq!(d.proc(4, P::Pgid), Ok(Value::Int(4)));
        assert_eq!(d.proc(6, P::State), Ok(Value::ProcState(S::Stopped)));
        assert_eq!(d.proc(7, P::State), Ok(Value::ProcState(S::Zombie)));
        assert!(bad(d.proc(8, P::State)).contains("SDEAD"));
    }

    #[test]
    fn a_long_queue_is_truncated_not_shortened() {
        let mut g = sample_guest();
        let mut p = proc(5, ProcState::Active, 0);
        p.queue.count = 9;
        p.queue.shown = QUEUE_SHOWN as u32;
        for (i, e) in p.queue.entries.iter_mut().enumerate() {
            *e = QueuedSigInfo {
                signo: signal::SIGRTMIN as i32,
                code: signal::SI_QUEUE,
                pid: 1,
                uid: 0,
                value: i as u64,
            };
        }
        g.put_proc(4, &p);
        g.publish();
        match dump(&g).proc(5, P::Queue) {
            Ok(Value::TruncatedQueue { total: 9, first }) => {
                assert_eq!(first.len(), QUEUE_SHOWN);
                assert_eq!(first[5].value, 5);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn untrustworthy_records_and_tables_never_answer() {
        // A torn LWP record (odd sequence counter), a corrupt one (impossible state).
        let mut g = sample_guest();
        let mut l = lwp(1, 6, LSSLEEP);
        l.seq = 7;
        g.put_lwp(12, &l);
        g.put_lwp(13, &lwp(1, 7, 6));
        g.publish();
        let d = dump(&g);
        assert!(bad(d.lwp(1, 6, L::State)).contains("torn"));
        let why = bad(d.lwp(1, 7, L::Mask));
        assert!(why.contains("corrupt") && why.contains("state 6"), "{why}");
        // Two records of one process.
        let mut g = sample_guest();
        g.put_proc(5, &proc(1, ProcState::Active, 0));
        g.publish();
        assert!(bad(dump(&g).proc(1, P::Nlwps)).contains("several records"));
        // No table at all, or a bad one.
        let g = sample_guest();
        let none = capture(&g.mem, None, Reason::Control, Vec::new());
        assert!(bad(none.proc(1, P::State)).contains("no inspection table"));
        assert!(bad(none.lwp(1, 1, L::State)).contains("no inspection table"));
        assert!(g.mem.write_phys(g.header_gpa, &0u64.to_le_bytes()));
        assert!(bad(dump(&g).proc(1, P::State)).contains("bad_magic"));
    }

    #[test]
    fn absence_proves_nothing_unless_the_kernel_publishes_everything() {
        let mut g = sample_guest();
        g.header.features = FEATURE_CPUS;
        g.publish();
        let d = dump(&g);
        // Records that exist still answer.
        assert_eq!(d.proc(1, P::Nlwps), Ok(Value::Int(4)));
        assert_eq!(d.lwp(1, 1, L::State), Ok(Value::State(LwpState::Sleep)));
        // Missing ones are not "does not exist".
        assert!(bad(d.proc(3, P::State)).contains("proves nothing"));
        assert!(bad(d.lwp(1, 9, L::State)).contains("proves nothing"));
    }

    #[test]
    fn unreadable_user_memory_is_an_error_not_none() {
        let mut g = sample_guest();
        // LWP 1.5 claims an lpmap page at an unmapped address of process 1.
        let mut l = lwp(1, 5, LSSLEEP);
        l.lpmap = 0x6000_0000;
        l.lwpctl = 0x6000_1000;
        g.put_lwp(11, &l);
        g.publish();
        let d = dump(&g);
        let why = bad(d.lwp(1, 5, L::LpmapBlockallsigs));
        assert!(
            why.contains("lpmap page at 0x60000000") && why.contains("not mapped"),
            "{why}"
        );
        assert!(bad(d.lwp(1, 5, L::LwpctlCurcpu)).contains("lwpctl slot"));
    }
}
