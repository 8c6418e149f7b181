//! Benchmarks: the operation ids both sides report under, the result line a guest benchmark
//! prints, and the instruction-count marks that bracket its timed loops.
//!
//! `cargo xtask bench` prints lwpvm and Linux side by side (docs/PERFORMANCE.md). The guest's
//! ring-3 benchmark programs and the host's Linux benchmark (`bench/linux`) measure the same
//! operations and report them under the same [`Op`] ids, so the table can join them by id.
//!
//! # The result line (guest → host, over the console)
//!
//! ```text
//! bench <id> <cycles> <iterations> [min=<cycles>] [max=<cycles>] [rounds=<n>]
//! ```
//!
//! - one line per operation, starting at the beginning of the line with the word `bench`,
//!   fields separated by single spaces (the parser accepts any run of spaces or tabs), ended by
//!   `\n` (a trailing `\r` is ignored);
//! - `<id>`: an [`Op::id`]: lower-case ASCII letters, digits and `_`. An id this version does
//!   not know still parses ([`BenchLine::op`] is then `None`), so a newer guest does not break
//!   an older host;
//! - `<cycles>`: the median over rounds of the `rdtsc` cycles per operation, a decimal integer
//!   (rounded to nearest). Under QEMU TCG with `-icount shift=0` the TSC advances by one per
//!   instruction retired, so the same field is then user + kernel instructions per operation;
//! - `<iterations>`: how many operations were timed, all rounds together (warm-up excluded),
//!   decimal, at least 1. When the program brackets its timed loops with marks (below), exactly
//!   these operations lie between its begin and end marks;
//! - optional `key=value` fields after these, in any order: `min` and `max` (cycles per
//!   operation in the fastest and slowest round), `rounds` (how many rounds). Keys this version
//!   does not know are skipped, so fields can be added without breaking older hosts; a known
//!   key with a malformed value is an error.
//!
//! A line that does not start with the word `bench` is not a result line ([`BenchLine::parse`]
//! returns `Ok(None)`): the console also carries the kernel's log.
//!
//! # Marks (guest → VMM, through [`super::ports::MARK_PORT`])
//!
//! Under `vmm run --marks FILE`, each write to the mark port records the writing vCPU's KVM
//! `insn_emulation` counter: on an interpreting KVM, its exact ring-0 instruction count. A
//! benchmark writes [`mark_id`]`(op, MarkEdge::Begin)` just before a timed loop and
//! [`mark_id`]`(op, MarkEdge::End)` just after it, from ring 3, on the vCPU that runs the loop.
//! The host pairs each begin with the next end of the same operation on the same vCPU, adds
//! up `end - begin` over all pairs and all vCPUs (a partner LWP on another CPU brackets its own
//! loop, so its kernel instructions count too), and divides by the line's `<iterations>`:
//! that is the figure in the "lwpvm kernel insns" column.

use core::fmt;

/// A benchmarked operation. The discriminant is its stable numeric code (used in mark ids);
/// [`Op::id`] is its stable name (used in result lines, JSON and tables). Neither is ever
/// reused for a different operation.
#[repr(u16)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// The cheapest system call: `getpid` (on Linux through `syscall(SYS_getpid)`, which no C
    /// library caches).
    NullSyscall = 1,
    /// Block every signal and restore the previous mask: two `rt_sigprocmask` calls.
    SigprocmaskPair = 2,
    /// DragonFly `sigblockall()` + `sigunblockall()` on the lpmap page (lwpvm only: Linux's
    /// counterpart is [`Op::SigprocmaskPair`]).
    SigblockallPair = 3,
    /// FreeBSD `sigfastblock` word: block + unblock (lwpvm only: Linux's counterpart is
    /// [`Op::SigprocmaskPair`]).
    SigfastblockPair = 4,
    /// A signal sent to the calling thread (`tgkill`/`_lwp_kill` to self), delivered to a
    /// plain handler, returned from with `rt_sigreturn`.
    SelfSignal = 5,
    /// The same with `SA_SIGINFO` and `SA_ONSTACK`, on an alternate signal stack.
    SelfSignalAltstack = 6,
    /// A real-time signal queued to the own process with `sigqueue` (`rt_sigqueueinfo`) and
    /// delivered to an `SA_SIGINFO` handler.
    RtSigqueue = 7,
    /// Cross-thread signal round trip, both threads on one CPU: A signals B, B's handler
    /// signals A back, each waiting in `sigsuspend`.
    CrossSignal1Cpu = 8,
    /// The same with the two threads on two CPUs.
    CrossSignal2Cpu = 9,
    /// Park/unpark ping-pong round trip on one CPU (NetBSD `_lwp_park`/`_lwp_unpark`; on Linux
    /// a per-thread futex parker with a wake-up token, as Rust's `thread::park`).
    ParkPingpong1Cpu = 10,
    /// The same on two CPUs.
    ParkPingpong2Cpu = 11,
    /// Futex ping-pong round trip on one CPU: each side wakes the other's word and waits on
    /// its own (`FUTEX_WAKE_PRIVATE`/`FUTEX_WAIT_PRIVATE`).
    FutexPingpong1Cpu = 12,
    /// The same on two CPUs.
    FutexPingpong2Cpu = 13,
    /// Create a thread/LWP that exits at once, and wait for it (`pthread_create` +
    /// `pthread_join`; `_lwp_create` + `_lwp_wait`).
    ThreadCreateJoin = 14,
    /// `fork` a child that exits at once, and wait for it.
    ForkExitWait = 15,
    /// SIGKILL a process of 1,000 blocked threads/LWPs and wait for it to be reaped; the time
    /// from `kill` to `wait` returning, per thread.
    GroupKillPerThread = 16,
    /// Read the current CPU from kernel-maintained per-thread user memory without entering
    /// the kernel: NetBSD `lwpctl->lc_curcpu`; on Linux `rseq->cpu_id`.
    LwpctlRead = 17,
    /// A VMM dump of a guest with 1,000 LWPs (lwpvm only).
    Dump1000Lwps = 18,
    /// A VMM dump of a guest with 10,000 LWPs (lwpvm only).
    Dump10000Lwps = 19,
}

impl Op {
    /// Every operation, in table order.
    pub const ALL: [Op; 19] = [
        Op::NullSyscall,
        Op::SigprocmaskPair,
        Op::SigblockallPair,
        Op::SigfastblockPair,
        Op::SelfSignal,
        Op::SelfSignalAltstack,
        Op::RtSigqueue,
        Op::CrossSignal1Cpu,
        Op::CrossSignal2Cpu,
        Op::ParkPingpong1Cpu,
        Op::ParkPingpong2Cpu,
        Op::FutexPingpong1Cpu,
        Op::FutexPingpong2Cpu,
        Op::ThreadCreateJoin,
        Op::ForkExitWait,
        Op::GroupKillPerThread,
        Op::LwpctlRead,
        Op::Dump1000Lwps,
        Op::Dump10000Lwps,
    ];

    /// The stable name in result lines, JSON and tables.
    pub const fn id(self) -> &'static str {
        match self {
            Op::NullSyscall => "null_syscall",
            Op::SigprocmaskPair => "sigprocmask_pair",
            Op::SigblockallPair => "sigblockall_pair",
            Op::SigfastblockPair => "sigfastblock_pair",
            Op::SelfSignal => "self_signal",
            Op::SelfSignalAltstack => "self_signal_altstack",
            Op::RtSigqueue => "rt_sigqueue",
            Op::CrossSignal1Cpu => "cross_signal_1cpu",
            Op::CrossSignal2Cpu => "cross_signal_2cpu",
            Op::ParkPingpong1Cpu => "park_pingpong_1cpu",
            Op::ParkPingpong2Cpu => "park_pingpong_2cpu",
            Op::FutexPingpong1Cpu => "futex_pingpong_1cpu",
            Op::FutexPingpong2Cpu => "futex_pingpong_2cpu",
            Op::ThreadCreateJoin => "thread_create_join",
            Op::ForkExitWait => "fork_exit_wait",
            Op::GroupKillPerThread => "group_kill_per_thread",
            Op::LwpctlRead => "lwpctl_read",
            Op::Dump1000Lwps => "dump_1000_lwps",
            Op::Dump10000Lwps => "dump_10000_lwps",
        }
    }

    /// A short human-readable description, for the first column of tables.
    pub const fn title(self) -> &'static str {
        match self {
            Op::NullSyscall => "null syscall (getpid)",
            Op::SigprocmaskPair => "sigprocmask block-all + restore",
            Op::SigblockallPair => "sigblockall + sigunblockall",
            Op::SigfastblockPair => "sigfastblock block + unblock",
            Op::SelfSignal => "self signal, handler, return",
            Op::SelfSignalAltstack => "self signal, SA_SIGINFO on altstack",
            Op::RtSigqueue => "RT sigqueue + delivery",
            Op::CrossSignal1Cpu => "cross-thread signal round trip, 1 CPU",
            Op::CrossSignal2Cpu => "cross-thread signal round trip, 2 CPUs",
            Op::ParkPingpong1Cpu => "park/unpark round trip, 1 CPU",
            Op::ParkPingpong2Cpu => "park/unpark round trip, 2 CPUs",
            Op::FutexPingpong1Cpu => "futex round trip, 1 CPU",
            Op::FutexPingpong2Cpu => "futex round trip, 2 CPUs",
            Op::ThreadCreateJoin => "thread create + join",
            Op::ForkExitWait => "fork + exit + wait",
            Op::GroupKillPerThread => "SIGKILL 1,000 threads, per thread",
            Op::LwpctlRead => "lwpctl read (current CPU)",
            Op::Dump1000Lwps => "VMM dump, 1,000 LWPs",
            Op::Dump10000Lwps => "VMM dump, 10,000 LWPs",
        }
    }

    /// The stable numeric code (the discriminant), used in mark ids.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The operation named `id`.
    pub fn from_id(id: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.id() == id)
    }

    /// The operation with numeric code `code`.
    pub fn from_code(code: u16) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.code() == code)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

// ---------------------------------------------------------------------------------------------
// The result line.
// ---------------------------------------------------------------------------------------------

/// The first word of every result line.
pub const LINE_TAG: &str = "bench";

/// One parsed (or to-be-printed) result line. `Display` prints it in the canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchLine<'a> {
    /// The operation id as written (see [`BenchLine::op`]).
    pub id: &'a str,
    /// Median `rdtsc` cycles per operation over the rounds.
    pub cycles: u64,
    /// Operations timed, all rounds together (at least 1).
    pub iterations: u64,
    /// Cycles per operation in the fastest round.
    pub min: Option<u64>,
    /// Cycles per operation in the slowest round.
    pub max: Option<u64>,
    /// Number of rounds.
    pub rounds: Option<u64>,
}

/// Why a line starting with [`LINE_TAG`] is not a valid result line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// A required field is missing.
    Missing(&'static str),
    /// The id is empty or has characters other than `a-z`, `0-9`, `_`.
    BadId,
    /// A numeric field is not a decimal `u64`.
    BadNumber(&'static str),
    /// `iterations` is 0.
    NoIterations,
    /// An optional field is not `key=value`.
    BadField,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::Missing(what) => write!(f, "missing field <{what}>"),
            LineError::BadId => f.write_str("the id must be non-empty [a-z0-9_]"),
            LineError::BadNumber(what) => write!(f, "<{what}> is not a decimal integer"),
            LineError::NoIterations => f.write_str("<iterations> must be at least 1"),
            LineError::BadField => f.write_str("optional fields must be key=value"),
        }
    }
}

fn number(s: &str, what: &'static str) -> Result<u64, LineError> {
    // `u64::from_str` accepts a leading '+': the format does not.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LineError::BadNumber(what));
    }
    s.parse().map_err(|_| LineError::BadNumber(what))
}

impl<'a> BenchLine<'a> {
    /// A line with the required fields only.
    pub const fn new(op: Op, cycles: u64, iterations: u64) -> BenchLine<'static> {
        BenchLine {
            id: op.id(),
            cycles,
            iterations,
            min: None,
            max: None,
            rounds: None,
        }
    }

    /// The operation, if this version knows the id.
    pub fn op(&self) -> Option<Op> {
        Op::from_id(self.id)
    }

    /// Parses one console line: `Ok(None)` if it is not a result line (its first word is not
    /// [`LINE_TAG`]), an error if it is one but malformed.
    pub fn parse(line: &'a str) -> Result<Option<BenchLine<'a>>, LineError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
        if !line.starts_with(LINE_TAG) || words.next() != Some(LINE_TAG) {
            return Ok(None);
        }
        let id = words.next().ok_or(LineError::Missing("id"))?;
        if !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(LineError::BadId);
        }
        let cycles = number(words.next().ok_or(LineError::Missing("cycles"))?, "cycles")?;
        let iterations = number(
            words.next().ok_or(LineError::Missing("iterations"))?,
            "iterations",
        )?;
        if iterations == 0 {
            return Err(LineError::NoIterations);
        }
        let mut out = BenchLine {
            id,
            cycles,
            iterations,
            min: None,
            max: None,
            rounds: None,
        };
        for w in words {
            let (key, value) = w.split_once('=').ok_or(LineError::BadField)?;
            if key.is_empty() {
                return Err(LineError::BadField);
            }
            match key {
                "min" => out.min = Some(number(value, "min")?),
                "max" => out.max = Some(number(value, "max")?),
                "rounds" => out.rounds = Some(number(value, "rounds")?),
                _ => {} // a newer field: skipped
            }
        }
        Ok(Some(out))
    }
}

impl fmt::Display for BenchLine<'_> {
    /// The canonical form, without the line end.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{LINE_TAG} {} {} {}",
            self.id, self.cycles, self.iterations
        )?;
        if let Some(v) = self.min {
            write!(f, " min={v}")?;
        }
        if let Some(v) = self.max {
            write!(f, " max={v}")?;
        }
        if let Some(v) = self.rounds {
            write!(f, " rounds={v}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Marks.
// ---------------------------------------------------------------------------------------------

/// Mark ids of benchmarks are `MARK_BENCH_BASE | code << 1 | edge`: the high half is `"be"`,
/// so they cannot be confused with other users of the mark port.
pub const MARK_BENCH_BASE: u32 = 0x6265_0000;
/// The bits of a mark id that identify it as a benchmark mark.
pub const MARK_BENCH_MASK: u32 = 0xffff_0000;

/// Which side of a timed loop a mark is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkEdge {
    /// Just before the timed loop.
    Begin = 0,
    /// Just after it.
    End = 1,
}

/// The mark id a benchmark writes to [`super::ports::MARK_PORT`] around the timed loop of `op`.
pub const fn mark_id(op: Op, edge: MarkEdge) -> u32 {
    MARK_BENCH_BASE | (op.code() as u32) << 1 | edge as u32
}

/// The operation code and edge of a benchmark mark id; `None` for other marks. The code is
/// returned raw (see [`Op::from_code`]) so that marks of newer operations are still paired.
pub const fn decode_mark(id: u32) -> Option<(u16, MarkEdge)> {
    if id & MARK_BENCH_MASK != MARK_BENCH_BASE {
        return None;
    }
    let edge = if id & 1 == 0 {
        MarkEdge::Begin
    } else {
        MarkEdge::End
    };
    Some((((id & 0xffff) >> 1) as u16, edge))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn ids_and_codes_are_unique_and_round_trip() {
        for (i, a) in Op::ALL.iter().enumerate() {
            assert_eq!(Op::from_id(a.id()), Some(*a));
            assert_eq!(Op::from_code(a.code()), Some(*a));
            assert!(a
                .id()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            for b in &Op::ALL[i + 1..] {
                assert_ne!(a.id(), b.id());
                assert_ne!(a.code(), b.code());
            }
        }
        assert_eq!(Op::from_id("nope"), None);
        assert_eq!(Op::from_code(0), None);
        // Codes are stable: spot-check a few.
        assert_eq!(Op::NullSyscall.code(), 1);
        assert_eq!(Op::GroupKillPerThread.code(), 16);
        assert_eq!(Op::LwpctlRead.id(), "lwpctl_read");
    }

    #[test]
    fn lines_parse() {
        let l = BenchLine::parse("bench null_syscall 1234 70000\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(l, BenchLine::new(Op::NullSyscall, 1234, 70000));
        assert_eq!(l.op(), Some(Op::NullSyscall));

        let l = BenchLine::parse("bench  self_signal\t9 7 max=12 min=8 rounds=7 future=x")
            .unwrap()
            .unwrap();
        assert_eq!(
            (l.cycles, l.iterations, l.min, l.max, l.rounds),
            (9, 7, Some(8), Some(12), Some(7))
        );

        // Unknown ids parse; the op is unknown.
        let l = BenchLine::parse("bench new_thing_2 5 1").unwrap().unwrap();
        assert_eq!((l.id, l.op()), ("new_thing_2", None));
    }

    #[test]
    fn other_lines_are_not_result_lines() {
        for s in [
            "",
            "[    0.1] sched: ready",
            "benchmark starting",
            " bench null_syscall 1 1",
            "Bench null_syscall 1 1",
        ] {
            assert_eq!(BenchLine::parse(s), Ok(None), "{s:?}");
        }
    }

    #[test]
    fn malformed_lines_are_errors() {
        use LineError::*;
        for (s, e) in [
            ("bench", Missing("id")),
            ("bench null_syscall", Missing("cycles")),
            ("bench null_syscall 5", Missing("iterations")),
            ("bench Null 5 5", BadId),
            ("bench null-syscall 5 5", BadId),
            ("bench x 5.5 5", BadNumber("cycles")),
            ("bench x +5 5", BadNumber("cycles")),
            ("bench x 5 -1", BadNumber("iterations")),
            ("bench x 5 99999999999999999999", BadNumber("iterations")),
            ("bench x 5 0", NoIterations),
            ("bench x 5 5 min", BadField),
            ("bench x 5 5 =3", BadField),
            ("bench x 5 5 min=", BadNumber("min")),
            ("bench x 5 5 rounds=a", BadNumber("rounds")),
        ] {
            assert_eq!(BenchLine::parse(s), Err(e), "{s:?}");
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn display_is_canonical_and_parses_back() {
        let mut l = BenchLine::new(Op::RtSigqueue, 4100, 7000);
        assert_eq!(l.to_string(), "bench rt_sigqueue 4100 7000");
        l.min = Some(4000);
        l.max = Some(4500);
        l.rounds = Some(7);
        let s = l.to_string();
        assert_eq!(s, "bench rt_sigqueue 4100 7000 min=4000 max=4500 rounds=7");
        assert_eq!(BenchLine::parse(&s), Ok(Some(l)));
    }

    #[test]
    fn marks_encode_and_decode() {
        for op in Op::ALL {
            for edge in [MarkEdge::Begin, MarkEdge::End] {
                let id = mark_id(op, edge);
                assert_eq!(id & MARK_BENCH_MASK, MARK_BENCH_BASE);
                assert_eq!(decode_mark(id), Some((op.code(), edge)));
            }
        }
        assert_eq!(mark_id(Op::NullSyscall, MarkEdge::Begin), 0x6265_0002);
        assert_eq!(mark_id(Op::NullSyscall, MarkEdge::End), 0x6265_0003);
        assert_eq!(decode_mark(5), None);
        assert_eq!(decode_mark(0x6266_0002), None);
    }
}
