//! The event log: what the runner records while a scenario runs, and what the assertions
//! are evaluated on.
//!
//! # Where it lives
//!
//! The log is an array of little-endian `u64` words in the *scenario region*: one set of
//! physical pages the kernel keeps for the whole boot and maps into any process that asks
//! (`lwpvm_event(LWPVM_EV_REGION)`, see `shared_abi::v1::scenario`). Every process of a
//! scenario, including forked children and images that called `exec`, maps the same pages,
//! so the runner needs no `MAP_SHARED` support and a record survives the death of the
//! process that wrote it. Only ring-3 code reads or writes the log; the kernel never
//! interprets it, which is why its format is defined here and not in `shared-abi`.
//!
//! # Layout
//!
//! | words | what |
//! |---|---|
//! | 0..8 | header: [`LOG_MAGIC`], [`LOG_VERSION`], capacity (records), next sequence number, dropped count, scenario fingerprint, flags, reserved |
//! | 8 + 16·n .. | record `n` (16 words, [`RECORD_WORDS`]) |
//!
//! # Writing a record (lock-free, no system call)
//!
//! 1. `seq = fetch_add(&header[NEXT], 1)`; if `seq >= capacity`, `fetch_add(&header[DROPPED], 1)`
//!    and stop (the evaluation then fails with "log overflowed").
//! 2. Write words 1..16 of record `seq` ([`Record::encode`]).
//! 3. Store `seq + 1` into word 0 with release ordering: the record is committed.
//!
//! A record whose word 0 is not `seq + 1` was never completed (its writer died, e.g. killed by
//! SIGKILL while recording); the reader skips it and reports how many there were. Handlers
//! record themselves with these plain atomic stores, never with a system call, so recording
//! never adds a signal-delivery point (a system call return) that the scenario did not write.
//!
//! # Record words
//!
//! | word | bits | field |
//! |---|---|---|
//! | 0 | 64 | commit: `seq + 1` |
//! | 1 | 0..8 kind, 8..16 flags, 32..64 slot | [`Kind`], [`flags`], the actor's slot ([`RUNNER_SLOT`] for the runner) |
//! | 2 | 0..32 stmt, 32..64 sub | statement index; `sub` = 0 for the step, `k + 1` for its `do` line `k`; proc index for `ProcExit`; dump index for `Dump` |
//! | 3 | 0..32 signo, 32..64 si_code | |
//! | 4 | 0..32 si_errno, 32..64 si_pid | |
//! | 5 | 0..32 si_uid, 32..64 si_status | |
//! | 6 | 64 | si_value |
//! | 7 | 64 | si_addr |
//! | 8 | 64 | result: a system call's return (`-errno` on error), see [`Kind::Step`] |
//! | 9 | 64 | aux: `uc_sigmask` (handler), set or status or curcpu (step), verdict (dump result) |
//! | 10 | 64 | aux2: lwpctl `lc_pctr`, the pid `wait4` returned |
//! | 11 | 0..32 pid, 32..64 lid | the kernel ids of the writer |
//! | 12 | 64 | fault_ip: the LWP's faulting instruction (handler) |
//! | 13 | 0..32 depth, 32..64 uc_stack.ss_flags | handler nesting depth (1 = not nested) |
//! | 14, 15 | | reserved (0) |

use alloc::vec::Vec;

use crate::ast::Slot;

/// `"LWPVMSCN"` little-endian: the first header word.
pub const LOG_MAGIC: u64 = u64::from_le_bytes(*b"LWPVMSCN");
/// Version of this layout.
pub const LOG_VERSION: u64 = 1;
/// Header size in words.
pub const HEADER_WORDS: usize = 8;
/// Record size in words.
pub const RECORD_WORDS: usize = 16;
/// Header word: capacity in records.
pub const H_CAPACITY: usize = 2;
/// Header word: next sequence number (the atomic counter).
pub const H_NEXT: usize = 3;
/// Header word: records dropped because the log was full.
pub const H_DROPPED: usize = 4;
/// Header word: the scenario's fingerprint.
pub const H_FINGERPRINT: usize = 5;
/// Header word: flags ([`H_FLAG_FINISHED`]).
pub const H_FLAGS: usize = 6;
/// Header flag: the runner reached the end of the timeline.
pub const H_FLAG_FINISHED: u64 = 1;
/// The slot used by the runner's own records (checkpoints, dumps, process exits, errors).
pub const RUNNER_SLOT: Slot = u32::MAX;

/// Record flag bits (word 1, bits 8..16).
pub mod flags {
    /// Handler/waited: the siginfo fields are valid (the handler has `SA_SIGINFO`).
    pub const SIGINFO: u8 = 1 << 0;
    /// Handler: running on the alternate signal stack.
    pub const ON_ALTSTACK: u8 = 1 << 1;
    /// Handler: `(rsp + 8) % 16 == 0` at entry.
    pub const ALIGNED: u8 = 1 << 2;
    /// Step: not executed, the actor no longer exists.
    pub const NOT_RUN: u8 = 1 << 3;
    /// Host step: carried out by the kernel's injection path because no lwpvm VMM is
    /// present (QEMU).
    pub const EMULATED: u8 = 1 << 4;
}

/// What a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// An actor started (or restarted after `exec`): its kernel ids are in word 11;
    /// `result` = its `gettid`.
    Bind = 1,
    /// A handler invocation: siginfo, actor, depth, altstack, `uc_sigmask` (aux), fault ip.
    /// `stmt` = the `handle` step that installed the handler.
    Handler = 2,
    /// A signal dequeued by `sigtimedwait` (`stmt` = that step).
    Waited = 3,
    /// A step (or a `do` line, `sub > 0`) finished: `result` = its return value (`-errno` on
    /// error; for repeated sends the first error, else the last result); `aux` = the set
    /// (`query mask/pending`), the `wait4` status, `lc_curcpu` (`query lwpctl`) or
    /// `ss_flags` (`query altstack`); `aux2` = `lc_pctr` or the pid `wait4` returned.
    Step = 4,
    /// The runner reached an `expect` statement (`stmt`): assertions there see the records
    /// before this one.
    Checkpoint = 5,
    /// The runner reaped a process (`sub` = proc index, `result` = wait status).
    ProcExit = 6,
    /// A dump was requested (`stmt`, `sub` = dump index): `result` = the request's return
    /// (`-ENODEV`: no lwpvm VMM, e.g. under QEMU).
    Dump = 7,
    /// The VMM's verdict on one dump assertion (`stmt` = the assertion): `aux` =
    /// [`crate::dump::Verdict`] code.
    DumpVerdict = 8,
    /// The runner could not carry out a statement (`stmt`): `result` = [`RunnerError`] code,
    /// `aux` = the slot concerned, if any.
    Error = 9,
}

impl Kind {
    /// The kind numbered `v`.
    pub fn from_u8(v: u8) -> Option<Self> {
        use Kind::*;
        Some(match v {
            1 => Bind,
            2 => Handler,
            3 => Waited,
            4 => Step,
            5 => Checkpoint,
            6 => ProcExit,
            7 => Dump,
            8 => DumpVerdict,
            9 => Error,
            _ => return None,
        })
    }
}

/// Why the runner could not carry out a statement ([`Kind::Error`] records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i64)]
pub enum RunnerError {
    /// The statement did not settle within the scenario's timeout (aux = the slot still
    /// running).
    SettleTimeout = 1,
    /// The actor of a step no longer exists.
    ActorGone = 2,
    /// Setting up a process or LWP failed (aux = slot, aux2 = errno).
    SetupFailed = 3,
    /// The scenario file in the initrd does not match (fingerprint).
    Mismatch = 4,
}

impl RunnerError {
    /// The error numbered `v`.
    pub fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            1 => Self::SettleTimeout,
            2 => Self::ActorGone,
            3 => Self::SetupFailed,
            4 => Self::Mismatch,
            _ => return None,
        })
    }
}

/// The siginfo fields a record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SigInfo {
    /// `si_signo`.
    pub signo: u32,
    /// `si_code`.
    pub code: i32,
    /// `si_errno`.
    pub errno: i32,
    /// `si_pid`.
    pub pid: i32,
    /// `si_uid`.
    pub uid: u32,
    /// `si_status`.
    pub status: i32,
    /// `si_value` (the `sival_ptr` bits).
    pub value: u64,
    /// `si_addr`.
    pub addr: u64,
}

/// One decoded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Global order: the sequence number the writer took.
    pub seq: u64,
    /// Kind.
    pub kind: Kind,
    /// [`flags`] bits.
    pub flags: u8,
    /// The actor (or [`RUNNER_SLOT`]).
    pub slot: Slot,
    /// Statement index.
    pub stmt: u32,
    /// Sub-index (see the table above).
    pub sub: u32,
    /// Siginfo (handler, waited).
    pub info: SigInfo,
    /// Result.
    pub result: i64,
    /// Aux word.
    pub aux: u64,
    /// Second aux word.
    pub aux2: u64,
    /// The writer's pid.
    pub pid: i32,
    /// The writer's LWP id.
    pub lid: i32,
    /// Faulting instruction (handler).
    pub fault_ip: u64,
    /// Handler nesting depth.
    pub depth: u32,
    /// `uc_stack.ss_flags` saved in the frame (handler).
    pub ucstack: u32,
}

impl Record {
    /// A record of `kind` by `slot` about statement `stmt`, everything else zero.
    pub fn new(kind: Kind, slot: Slot, stmt: u32) -> Self {
        Record {
            seq: 0,
            kind,
            flags: 0,
            slot,
            stmt,
            sub: 0,
            info: SigInfo::default(),
            result: 0,
            aux: 0,
            aux2: 0,
            pid: 0,
            lid: 0,
            fault_ip: 0,
            depth: 0,
            ucstack: 0,
        }
    }

    /// The 16 words of the record. Word 0 (the commit word) is `seq + 1`: a writer stores
    /// words 1..16 first and word 0 last.
    pub fn encode(&self) -> [u64; RECORD_WORDS] {
        let lo_hi = |lo: u32, hi: u32| (lo as u64) | ((hi as u64) << 32);
        [
            self.seq + 1,
            (self.kind as u64) | ((self.flags as u64) << 8) | ((self.slot as u64) << 32),
            lo_hi(self.stmt, self.sub),
            lo_hi(self.info.signo, self.info.code as u32),
            lo_hi(self.info.errno as u32, self.info.pid as u32),
            lo_hi(self.info.uid, self.info.status as u32),
            self.info.value,
            self.info.addr,
            self.result as u64,
            self.aux,
            self.aux2,
            lo_hi(self.pid as u32, self.lid as u32),
            self.fault_ip,
            lo_hi(self.depth, self.ucstack),
            0,
            0,
        ]
    }

    /// Decodes the record stored at sequence number `seq`, or `None` if it is not committed
    /// (word 0 ≠ `seq + 1`) or its kind is unknown.
    pub fn decode(seq: u64, w: &[u64; RECORD_WORDS]) -> Option<Self> {
        if w[0] != seq.wrapping_add(1) {
            return None;
        }
        let lo = |x: u64| x as u32;
        let hi = |x: u64| (x >> 32) as u32;
        Some(Record {
            seq,
            kind: Kind::from_u8(w[1] as u8)?,
            flags: (w[1] >> 8) as u8,
            slot: hi(w[1]),
            stmt: lo(w[2]),
            sub: hi(w[2]),
            info: SigInfo {
                signo: lo(w[3]),
                code: hi(w[3]) as i32,
                errno: lo(w[4]) as i32,
                pid: hi(w[4]) as i32,
                uid: lo(w[5]),
                status: hi(w[5]) as i32,
                value: w[6],
                addr: w[7],
            },
            result: w[8] as i64,
            aux: w[9],
            aux2: w[10],
            pid: lo(w[11]) as i32,
            lid: hi(w[11]) as i32,
            fault_ip: w[12],
            depth: lo(w[13]),
            ucstack: hi(w[13]),
        })
    }

    /// Whether flag bit `f` is set.
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// Errors reading a log region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogError {
    /// Shorter than a header.
    TooShort,
    /// The magic word is wrong: not a scenario log.
    BadMagic,
    /// Another layout version.
    BadVersion(u64),
}

impl core::fmt::Display for LogError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LogError::TooShort => write!(f, "scenario log region shorter than its header"),
            LogError::BadMagic => write!(f, "not a scenario log (bad magic)"),
            LogError::BadVersion(v) => {
                write!(f, "scenario log version {v}, expected {LOG_VERSION}")
            }
        }
    }
}

/// A decoded log: the committed records in sequence order, and what could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Log {
    /// Committed records, by `seq`.
    pub records: Vec<Record>,
    /// Records lost because the log was full.
    pub dropped: u64,
    /// Sequence numbers taken but never committed (a writer died mid-record).
    pub torn: u64,
    /// The fingerprint in the header.
    pub fingerprint: u64,
    /// The runner reached the end of the timeline.
    pub finished: bool,
}

/// The header words of an empty log of `capacity` records for a scenario whose fingerprint
/// is `fingerprint` (the runner writes these before anything else runs).
pub fn header(capacity: u64, fingerprint: u64) -> [u64; HEADER_WORDS] {
    [LOG_MAGIC, LOG_VERSION, capacity, 0, 0, fingerprint, 0, 0]
}

/// How many records fit in a region of `words` words.
pub fn capacity_for(words: usize) -> u64 {
    (words.saturating_sub(HEADER_WORDS) / RECORD_WORDS) as u64
}

/// Word offset of record `seq`.
pub fn record_offset(seq: u64) -> usize {
    HEADER_WORDS + seq as usize * RECORD_WORDS
}

impl Log {
    /// Decodes a whole region (header + records). Never panics on bad contents.
    pub fn from_words(words: &[u64]) -> Result<Self, LogError> {
        if words.len() < HEADER_WORDS {
            return Err(LogError::TooShort);
        }
        if words[0] != LOG_MAGIC {
            return Err(LogError::BadMagic);
        }
        if words[1] != LOG_VERSION {
            return Err(LogError::BadVersion(words[1]));
        }
        let cap = words[H_CAPACITY].min(capacity_for(words.len()));
        let next = words[H_NEXT].min(cap);
        let mut log = Log {
            records: Vec::new(),
            dropped: words[H_DROPPED],
            torn: 0,
            fingerprint: words[H_FINGERPRINT],
            finished: words[H_FLAGS] & H_FLAG_FINISHED != 0,
        };
        for seq in 0..next {
            let off = record_offset(seq);
            let mut w = [0u64; RECORD_WORDS];
            w.copy_from_slice(&words[off..off + RECORD_WORDS]);
            match Record::decode(seq, &w) {
                Some(r) => log.records.push(r),
                None => log.torn += 1,
            }
        }
        Ok(log)
    }

    /// An in-memory log (host tests, simulations): records get consecutive `seq`s.
    pub fn push(&mut self, mut r: Record) -> &mut Record {
        r.seq = self.records.last().map(|l| l.seq + 1).unwrap_or(0);
        self.records.push(r);
        self.records.last_mut().expect("just pushed")
    }

    /// The region words of this log (header + records), as the runner would have written
    /// them; `capacity` must be at least the number of records.
    pub fn to_words(&self, capacity: u64) -> Vec<u64> {
        let mut w = alloc::vec![0u64; HEADER_WORDS + capacity as usize * RECORD_WORDS];
        w[..HEADER_WORDS].copy_from_slice(&header(capacity, self.fingerprint));
        let n = self.records.len() as u64;
        w[H_NEXT] = n.min(capacity) + self.dropped;
        w[H_DROPPED] = self.dropped;
        w[H_FLAGS] = if self.finished { H_FLAG_FINISHED } else { 0 };
        for r in self.records.iter().take(capacity as usize) {
            let off = record_offset(r.seq);
            w[off..off + RECORD_WORDS].copy_from_slice(&r.encode());
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let mut r = Record::new(Kind::Handler, 7, 3);
        r.flags = flags::SIGINFO | flags::ALIGNED;
        r.sub = 2;
        r.info = SigInfo {
            signo: 34,
            code: -1,
            errno: 0,
            pid: 12,
            uid: 0,
            status: -5,
            value: 0xdead_beef_0000_0001,
            addr: u64::MAX,
        };
        r.result = -4;
        r.aux = 1 << 9;
        r.aux2 = 99;
        r.pid = 12;
        r.lid = -2;
        r.fault_ip = 0x40_1000;
        r.depth = 2;
        r.ucstack = 0x8000_0000;
        r
    }

    #[test]
    fn encode_decode_round_trip() {
        let mut r = sample();
        r.seq = 41;
        let w = r.encode();
        assert_eq!(w[0], 42);
        assert_eq!(Record::decode(41, &w), Some(r));
        // Uncommitted or misplaced records are rejected.
        assert_eq!(Record::decode(40, &w), None);
        let mut bad = w;
        bad[1] = (bad[1] & !0xff) | 200;
        assert_eq!(Record::decode(41, &bad), None);
    }

    #[test]
    fn region_round_trip_and_torn_records() {
        let mut log = Log {
            fingerprint: 0x1234,
            finished: true,
            ..Log::default()
        };
        log.push(sample());
        log.push(Record::new(Kind::Checkpoint, RUNNER_SLOT, 9));
        log.push(Record::new(Kind::Step, 1, 4));
        let mut words = log.to_words(8);
        let back = Log::from_words(&words).unwrap();
        assert_eq!(back.records, log.records);
        assert_eq!(back.fingerprint, 0x1234);
        assert!(back.finished);
        assert_eq!(back.torn, 0);
        // Record 1 loses its commit word: skipped and counted.
        words[record_offset(1)] = 0;
        let back = Log::from_words(&words).unwrap();
        assert_eq!(back.records.len(), 2);
        assert_eq!(back.torn, 1);
    }

    #[test]
    fn hostile_regions_do_not_panic() {
        assert_eq!(Log::from_words(&[]), Err(LogError::TooShort));
        assert_eq!(Log::from_words(&[0; 8]), Err(LogError::BadMagic));
        let mut h = header(4, 0).to_vec();
        h[1] = 9;
        assert_eq!(Log::from_words(&h), Err(LogError::BadVersion(9)));
        // Capacity and next far beyond the region: clamped.
        let mut h = header(u64::MAX, 0).to_vec();
        h[H_NEXT] = u64::MAX;
        h.extend([0u64; RECORD_WORDS * 2]);
        let log = Log::from_words(&h).unwrap();
        assert_eq!(log.records.len(), 0);
        assert_eq!(log.torn, 2);
    }
}
