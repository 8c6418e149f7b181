//! What the scenario runner (a ring-3 program) asks of the kernel, and through it of the VMM
//! (docs/SCENARIOS.md, "What the runner, the kernel and the VMM implement").
//!
//! **Status: specified, not implemented.** Neither the kernel nor the VMM implements these
//! calls yet; they are fixed here so that the runner, the kernel and the VMM are written
//! against one definition. The scenario language itself (parser, event log, evaluators) is
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
//! Asks the VMM for the `k`-th dump of the scenario: the kernel copies the request and its
//! bindings text, signals the VMM, and the VMM — which loaded the same scenario file and
//! checks [`ScenarioDumpRequest::fingerprint`] — pauses every vCPU, takes the dump, evaluates
//! the assertions attached to dump `k`, prints them, writes one verdict byte per assertion
//! (`lwpvm_scenario::dump::Verdict`: 1 pass, 2 fail, 3 not applicable) into `verdicts`, and
//! resumes. Returns the number of assertions evaluated, `-ENODEV` when there is no lwpvm VMM
//! (QEMU: the runner then reports the assertions as not applicable), `-EINVAL` on a
//! fingerprint mismatch, `-EFAULT` on bad pointers.
//!
//! [`SYS_LWPVM_EVENT`]: super::syscall::SYS_LWPVM_EVENT
//! [`SYS_LWPVM_DUMP`]: super::syscall::SYS_LWPVM_DUMP

use core::mem::{offset_of, size_of};

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
