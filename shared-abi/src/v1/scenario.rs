//! What the scenario runner (a ring-3 program) asks of the kernel, and through it of the VMM
//! (docs/SCENARIOS.md, "What the runner, the kernel and the VMM implement").
//!
//! **Status.** The VMM side of the scenario dump request is implemented (`vmm run
//! --scenario`), and so is the kernel's forwarding primitive (`inspect::scenario_dump` in the
//! guest, exercised by `lwpvm.inspect_selftest`); the system calls themselves (the
//! `lwpvm_event` commands, and `lwpvm_dump` what=1 reaching that primitive) wait for the
//! kernel's user mode. They are fixed here so that the runner, the kernel and the VMM are
//! written against one definition. The scenario language itself (parser, event log, evaluators) is
//! the `lwpvm-scenario` crate; only what crosses the user/kernel or guest/host boundary is
//! here.
//!
//! # `lwpvm_event(cmd, a, b, c, d)` ([`SYS_LWPVM_EVENT`])
//!
//! | `cmd` | arguments | returns |
//! |---|---|---|
//! | [`LWPVM_EV_REGION`] | – | the user address where the *scenario region* is now mapped (read/write, [`SCENARIO_REGION_SIZE`] bytes). The region is one set of physical pages for the whole boot, zero at first use: every caller maps the same pages, a forked child inherits the mapping, an `exec`ed image calls again |
//! | [`LWPVM_EV_LWP_STATE`] | `a` = pid, `b` = lid | the LWP's state (`super::lwp::LwpState` number; `LSZOMB` until reaped), `-ESRCH` if there is no such LWP |
//! | [`LWPVM_EV_RUNNABLE`] | `a` = pid | how many LWPs of the process are in `LSIDL`, `LSRUN` or `LSONPROC` (the runner's bulk "has everyone settled?" test), `-ESRCH` |
//! | [`LWPVM_EV_HOST_STEP`] | `a` = statement index, `b` = pid | asks the VMM to carry out the scenario's host step (`host: kill P SIG`, `host: sigqueue P SIG value=V`) on process `b`, as `vmm signal` does; `-ENODEV` when there is no lwpvm VMM (QEMU) |
//! | [`LWPVM_EV_HOST_SIGNAL`] | `a` = pid, `b` = signal, `c` = value, `d` = [`HOST_SIGNAL_QUEUE`] or 0 | posts a process-directed signal exactly as the host-injection path does (`si_code` `SI_KERNEL`, or `SI_QUEUE` with `si_value` = `c`): the runner's fallback for host steps under QEMU |
//!
//! Other commands return `-EINVAL`.
//!
//! # `lwpvm_dump(LWPVM_DUMP_SCENARIO, &ScenarioDumpRequest)` ([`SYS_LWPVM_DUMP`])
//!
//! Asks the VMM to take the `k`-th dump of the scenario and evaluate the assertions attached
//! to it. The VMM was given the same scenario file (`vmm run --scenario FILE`); it checks
//! [`ScenarioDumpRequest::fingerprint`], pauses every vCPU, takes the dump, evaluates, and
//! answers with one verdict byte per assertion ([`VERDICT_PASS`], [`VERDICT_FAIL`],
//! [`VERDICT_NOT_APPLICABLE`]; `lwpvm_scenario::dump::Verdict`), in file order, into
//! `verdicts`. It prints the assertions itself, with expected and actual values (the runner
//! only receives the verdicts).
//!
//! Returns (the kernel returns the VMM's `result` as is, or its own error):
//!
//! | value | meaning | the runner reports the dump's assertions as |
//! |---|---|---|
//! | `n >= 0` | the VMM evaluated `n` assertions; `min(n, verdicts_len)` verdict bytes written | their verdicts (`n` must be the number it expects) |
//! | `-ENODEV` | no lwpvm VMM serves dump requests (QEMU: the dump port reads all-ones) | **not applicable** |
//! | `-ENOENT` | the VMM serves dumps but was not given a scenario file | failed |
//! | `-ESTALE` | the VMM's scenario file is not this one (fingerprint mismatch) | failed |
//! | `-ERANGE` | `dump_index` is not a dump of the VMM's file | failed |
//! | `-EBADMSG` | the bindings text is not UTF-8 or names what the file does not declare | failed |
//! | `-EPROTO` | the VMM found the block malformed, or dumped without answering | failed |
//! | `-EINVAL` | `flags != 0` (kernel) | failed |
//! | `-E2BIG` | `bindings_len > MAX_BINDINGS_LEN` or `verdicts_len > MAX_VERDICTS` (kernel) | failed |
//! | `-EFAULT` | a bad pointer (kernel) | failed |
//! | `-EBUSY` | another scenario request is in flight (kernel) | failed |
//!
//! ## Kernel → VMM: the request block
//!
//! The kernel forwards a request through a [`ScenarioDumpBlock`] in its own memory:
//! **physically contiguous** (a static buffer of [`SCENARIO_BLOCK_MAX`] bytes in `.bss` is the
//! intended home: zero cost at boot, no allocation), laid out as the 64-byte block header,
//! then `bindings_len` bytes of bindings text, then `verdicts_len` bytes of verdicts. One
//! request at a time (the runner is the only caller). In order:
//!
//! 1. copy the [`ScenarioDumpRequest`] from user memory; check `flags == 0` and the limits;
//! 2. fill the block header: [`SCENARIO_BLOCK_MAGIC`], a fresh `request_id` (the next dump
//!    request id: never 0 or `DUMP_NOT_SERVED`), `flags` 0, `dump_index`, `bindings_len`,
//!    `fingerprint`, `verdicts_len`, `result` 0, `answered` 0; copy the bindings text from
//!    user memory right after the header;
//! 3. publish the block's guest-physical address in the inspection header's
//!    `scenario_request` (under the header's sequence counter, like `core_request`), and
//!    count the request in `dump_requests`/`last_dump_id` as for any dump request;
//! 4. write `request_id` to [`super::ports::DUMP_PORT`] (32-bit `out`). The VMM pauses every
//!    vCPU, dumps, evaluates, writes the verdicts, `result`, and **last** `answered =
//!    request_id`, then resumes; the `out` completes after that;
//! 5. read the port: a value other than `request_id` means no VMM served the request
//!    (`-ENODEV`); else `answered != request_id` means a VMM dumped without answering
//!    (`-EPROTO`); else the answer is `result`;
//! 6. clear `scenario_request` (0), copy `min(result, verdicts_len)` verdict bytes to the
//!    user's `verdicts` when `result >= 0`, release the block, return.
//!
//! ## What the VMM checks
//!
//! Everything in the block is untrusted. A dump-port write of id `i` is a scenario request
//! only if `scenario_request` is non-zero and points to a block in guest RAM whose magic is
//! [`SCENARIO_BLOCK_MAGIC`] and whose `request_id` is `i` (so a plain dump request from
//! another CPU while a scenario request is in flight stays a plain dump). Then: `flags == 0`,
//! `bindings_len <= MAX_BINDINGS_LEN`, `verdicts_len <= MAX_VERDICTS` and the whole block in
//! guest RAM, else `-EPROTO`; a scenario file given (`-ENOENT`); the fingerprint (`-ESTALE`);
//! `dump_index` (`-ERANGE`); the bindings (`-EBADMSG`). Every refusal and every failed
//! assertion is reported by the VMM, and makes the VMM exit with status 1 if the guest
//! reports success (status 0) at the end: a scenario cannot pass in the VMM while one of its
//! dump assertions failed or was never evaluated.
//!
//! [`SYS_LWPVM_EVENT`]: super::syscall::SYS_LWPVM_EVENT
//! [`SYS_LWPVM_DUMP`]: super::syscall::SYS_LWPVM_DUMP

use core::mem::{offset_of, size_of};

use super::inspect::Record;

/// Kernel command-line key naming the scenario to run (`lwpvm.scenario=demo.scn`): the file
/// `scenarios/NAME` of the initrd.
pub const CMDLINE_SCENARIO: &str = "lwpvm.scenario=";
/// Directory of the initrd holding scenario files.
pub const INITRD_SCENARIO_DIR: &str = "scenarios/";
/// The runner program in the initrd.
pub const RUNNER_PATH: &str = "bin/scenario";

/// `lwpvm_event`: map the scenario region.
pub const LWPVM_EV_REGION: usize = 1;
/// `lwpvm_event`: the state of one LWP.
pub const LWPVM_EV_LWP_STATE: usize = 2;
/// `lwpvm_event`: the number of runnable LWPs of a process.
pub const LWPVM_EV_RUNNABLE: usize = 3;
/// `lwpvm_event`: have the VMM carry out a host step.
pub const LWPVM_EV_HOST_STEP: usize = 4;
/// `lwpvm_event`: post a signal as the host does.
pub const LWPVM_EV_HOST_SIGNAL: usize = 5;
/// [`LWPVM_EV_HOST_SIGNAL`] flag: `SI_QUEUE` with a value (else `SI_KERNEL`).
pub const HOST_SIGNAL_QUEUE: usize = 1;

/// Size of the scenario region: 4 MiB (the event log of a 1,000-LWP scenario and the
/// runner's mailboxes).
pub const SCENARIO_REGION_SIZE: usize = 4 << 20;

/// `lwpvm_dump` `what`: a scenario dump ([`ScenarioDumpRequest`]).
pub const LWPVM_DUMP_SCENARIO: usize = 1;

/// The argument of `lwpvm_dump(LWPVM_DUMP_SCENARIO, &req)`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScenarioDumpRequest {
    /// Which dump of the file (0 = the first `dump` statement).
    pub dump_index: u32,
    /// Must be 0.
    pub flags: u32,
    /// FNV-1a 64 of the scenario file's bytes (`lwpvm_scenario::fingerprint`).
    pub fingerprint: u64,
    /// User address of the bindings text (`lwpvm_scenario::dump::Bindings::encode`).
    pub bindings: u64,
    /// Its length in bytes (at most [`MAX_BINDINGS_LEN`]).
    pub bindings_len: u64,
    /// User address of the verdict bytes the VMM fills, one per assertion of the dump.
    pub verdicts: u64,
    /// Their number.
    pub verdicts_len: u64,
}

const _: () = {
    assert!(size_of::<ScenarioDumpRequest>() == 48);
    assert!(offset_of!(ScenarioDumpRequest, dump_index) == 0);
    assert!(offset_of!(ScenarioDumpRequest, flags) == 4);
    assert!(offset_of!(ScenarioDumpRequest, fingerprint) == 8);
    assert!(offset_of!(ScenarioDumpRequest, bindings) == 16);
    assert!(offset_of!(ScenarioDumpRequest, bindings_len) == 24);
    assert!(offset_of!(ScenarioDumpRequest, verdicts) == 32);
    assert!(offset_of!(ScenarioDumpRequest, verdicts_len) == 40);
};

/// Largest bindings text the kernel copies (a 10,000-LWP array compresses to one entry;
/// listed one by one, about 20 bytes each).
pub const MAX_BINDINGS_LEN: usize = 256 << 10;

/// Most verdicts one scenario dump request carries (assertions attached to one `dump`).
pub const MAX_VERDICTS: usize = 4096;

/// Verdict byte: the assertion holds.
pub const VERDICT_PASS: u8 = 1;
/// Verdict byte: the assertion does not hold (the VMM's report says why).
pub const VERDICT_FAIL: u8 = 2;
/// Verdict byte: the assertion is not applicable.
pub const VERDICT_NOT_APPLICABLE: u8 = 3;

/// [`ScenarioDumpBlock::magic`]: `"LWPVMSCN"` read as a little-endian u64.
pub const SCENARIO_BLOCK_MAGIC: u64 = u64::from_le_bytes(*b"LWPVMSCN");
/// Size of the block header; the bindings text starts at this offset of the block.
pub const SCENARIO_BLOCK_HEADER_SIZE: usize = 64;
/// Largest block: header, bindings and verdicts at their limits (the size of the kernel's
/// static block buffer).
pub const SCENARIO_BLOCK_MAX: usize = SCENARIO_BLOCK_HEADER_SIZE + MAX_BINDINGS_LEN + MAX_VERDICTS;

/// The header of the block through which the kernel forwards a scenario dump request to the
/// VMM, and the VMM answers (module docs, "Kernel → VMM"). The bindings text follows it at
/// offset [`SCENARIO_BLOCK_HEADER_SIZE`], then the verdict area at
/// `SCENARIO_BLOCK_HEADER_SIZE + bindings_len`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScenarioDumpBlock {
    /// [`SCENARIO_BLOCK_MAGIC`].
    pub magic: u64,
    /// The id the kernel writes to the dump port for this request.
    pub request_id: u32,
    /// Must be 0.
    pub flags: u32,
    /// Which dump of the file (0 = the first `dump` statement).
    pub dump_index: u32,
    /// Bytes of bindings text after the header (at most [`MAX_BINDINGS_LEN`]).
    pub bindings_len: u32,
    /// FNV-1a 64 of the scenario file (from the [`ScenarioDumpRequest`]).
    pub fingerprint: u64,
    /// Bytes of the verdict area after the bindings (at most [`MAX_VERDICTS`]).
    pub verdicts_len: u32,
    /// Written by the VMM: assertions evaluated (`>= 0`) or `-errno` (module docs).
    pub result: i32,
    /// Written by the VMM, last: `request_id` once `result` and the verdicts are written.
    pub answered: u32,
    /// Explicit padding.
    pub pad: u32,
    /// Room for later fields (0).
    pub reserved: [u64; 2],
}

const _: () = {
    assert!(size_of::<ScenarioDumpBlock>() == SCENARIO_BLOCK_HEADER_SIZE);
    assert!(offset_of!(ScenarioDumpBlock, magic) == 0);
    assert!(offset_of!(ScenarioDumpBlock, request_id) == 8);
    assert!(offset_of!(ScenarioDumpBlock, flags) == 12);
    assert!(offset_of!(ScenarioDumpBlock, dump_index) == 16);
    assert!(offset_of!(ScenarioDumpBlock, bindings_len) == 20);
    assert!(offset_of!(ScenarioDumpBlock, fingerprint) == 24);
    assert!(offset_of!(ScenarioDumpBlock, verdicts_len) == 32);
    assert!(offset_of!(ScenarioDumpBlock, result) == 36);
    assert!(offset_of!(ScenarioDumpBlock, answered) == 40);
    assert!(offset_of!(ScenarioDumpBlock, reserved) == 48);
};

/// Byte offset of [`ScenarioDumpBlock::result`] (the VMM writes it).
pub const BLOCK_RESULT_OFFSET: usize = offset_of!(ScenarioDumpBlock, result);
/// Byte offset of [`ScenarioDumpBlock::answered`] (the VMM writes it last).
pub const BLOCK_ANSWERED_OFFSET: usize = offset_of!(ScenarioDumpBlock, answered);

impl Record for ScenarioDumpBlock {
    const SIZE: usize = SCENARIO_BLOCK_HEADER_SIZE;
    const ZERO: Self = ScenarioDumpBlock {
        magic: 0,
        request_id: 0,
        flags: 0,
        dump_index: 0,
        bindings_len: 0,
        fingerprint: 0,
        verdicts_len: 0,
        result: 0,
        answered: 0,
        pad: 0,
        reserved: [0; 2],
    };
    fn get(b: &[u8]) -> Self {
        ScenarioDumpBlock {
            magic: u64::get(&b[0..]),
            request_id: u32::get(&b[8..]),
            flags: u32::get(&b[12..]),
            dump_index: u32::get(&b[16..]),
            bindings_len: u32::get(&b[20..]),
            fingerprint: u64::get(&b[24..]),
            verdicts_len: u32::get(&b[32..]),
            result: i32::get(&b[36..]),
            answered: u32::get(&b[40..]),
            pad: u32::get(&b[44..]),
            reserved: <[u64; 2]>::get(&b[48..]),
        }
    }
    fn put(&self, b: &mut [u8]) {
        self.magic.put(&mut b[0..]);
        self.request_id.put(&mut b[8..]);
        self.flags.put(&mut b[12..]);
        self.dump_index.put(&mut b[16..]);
        self.bindings_len.put(&mut b[20..]);
        self.fingerprint.put(&mut b[24..]);
        self.verdicts_len.put(&mut b[32..]);
        self.result.put(&mut b[36..]);
        self.answered.put(&mut b[40..]);
        self.pad.put(&mut b[44..]);
        self.reserved.put(&mut b[48..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_round_trips_at_its_documented_offsets() {
        let blk = ScenarioDumpBlock {
            magic: SCENARIO_BLOCK_MAGIC,
            request_id: 7,
            flags: 0,
            dump_index: 2,
            bindings_len: 30,
            fingerprint: 0x0102_0304_0506_0708,
            verdicts_len: 5,
            result: -74,
            answered: 7,
            pad: 0,
            reserved: [0, 9],
        };
        let mut b = [0u8; SCENARIO_BLOCK_HEADER_SIZE];
        assert!(blk.encode_into(&mut b));
        assert_eq!(&b[..8], b"LWPVMSCN");
        assert_eq!(
            &b[BLOCK_RESULT_OFFSET..BLOCK_RESULT_OFFSET + 4],
            &(-74i32).to_le_bytes()
        );
        assert_eq!(
            &b[BLOCK_ANSWERED_OFFSET..BLOCK_ANSWERED_OFFSET + 4],
            &7u32.to_le_bytes()
        );
        assert_eq!(&b[24..32], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(ScenarioDumpBlock::decode(&b), Some(blk));
        assert_eq!(ScenarioDumpBlock::decode(&b[..63]), None);
    }
}
