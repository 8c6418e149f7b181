//! Faults of ring-3 code: the signal Linux would deliver, and (until signals exist) the end
//! of the process.
//!
//! Each exception from ring 3 that memory management did not resolve maps to the signal and
//! `si_code` Linux x86_64 delivers (`arch/x86/kernel/traps.c`, `arch/x86/mm/fault.c`,
//! `arch/x86/kernel/fpu/core.c`):
//!
//! | vector | signal, `si_code` |
//! |---|---|
//! | `#DE` | `SIGFPE`, `FPE_INTDIV` |
//! | `#DB` | `SIGTRAP`, `TRAP_TRACE` (single step: nothing else arms `#DB` in ring 3) |
//! | `#BP` | `SIGTRAP`, `SI_KERNEL` |
//! | `#OF`, `#BR` | `SIGSEGV`, `SI_KERNEL` |
//! | `#UD` | `SIGILL`, `ILL_ILLOPN` |
//! | `#NP`, `#SS` | `SIGBUS`, `SI_KERNEL` |
//! | `#GP`, `#TS`, others | `SIGSEGV`, `SI_KERNEL` |
//! | `#PF` | `SIGSEGV`, `SEGV_MAPERR` (no region, or a kernel address) or `SEGV_ACCERR` (a region that forbids the access); out of memory: `SIGKILL` |
//! | `#MF`, `#XM` | `SIGFPE`, from the unmasked exception flags of FSW / MXCSR (`FPE_FLTINV`, `FPE_FLTDIV`, ...); none set: no signal |
//! | `#AC` | `SIGBUS`, `BUS_ADRALN` |
//!
//! Until the signal subsystem exists (issue 5: it will post the signal instead), the
//! process is killed: one line on the console, e.g.
//! `fault[1]: killed by SIGSEGV (#PF at rip 0x401234, addr 0x0, SEGV_MAPERR)`, the
//! registers on the kernel log, and the process ends with the signal as its wait status
//! (for init, VM exit status 64 + signal: see `main`).

use core::fmt::Write;

use shared_abi::current::signal::*;

use super::WaitStatus;
use crate::arch::fpu::{FxArea, MXCSR_OFFSET};
use crate::arch::trap::{self, FaultInfo, TrapFrame};
use crate::arch::{irq, percpu};
use crate::klog::LineBuf;
use crate::mm::vmspace::Fault;

/// The signal Linux would deliver for a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultSignal {
    /// Signal number.
    pub sig: u32,
    /// `si_code`.
    pub code: i32,
    /// `si_addr`, for the signals that carry one.
    pub addr: Option<u64>,
}

/// x87/SSE exception flags: invalid, denormal, divide by zero, overflow, underflow,
/// precision.
const FP_INVALID: u32 = 0x01;
const FP_DENORMAL: u32 = 0x02;
const FP_ZERODIV: u32 = 0x04;
const FP_OVERFLOW: u32 = 0x08;
const FP_UNDERFLOW: u32 = 0x10;
const FP_PRECISION: u32 = 0x20;

/// The `si_code` of an x87 (`#MF`) or SIMD (`#XM`) floating-point exception: Linux's
/// `fpu__exception_code` on the state the thread faulted with. 0: no unmasked exception
/// is pending (Linux then delivers nothing).
fn fp_code(vector: u8) -> i32 {
    let mut area = FxArea([0; 512]);
    area.save();
    let b = &area.0;
    let err = if vector == 16 {
        let cwd = u32::from(u16::from_le_bytes([b[0], b[1]]));
        let swd = u32::from(u16::from_le_bytes([b[2], b[3]]));
        swd & !cwd
    } else {
        let m = &b[MXCSR_OFFSET..MXCSR_OFFSET + 4];
        let mxcsr = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
        !(mxcsr >> 7) & mxcsr
    };
    if err & FP_INVALID != 0 {
        FPE_FLTINV
    } else if err & FP_ZERODIV != 0 {
        FPE_FLTDIV
    } else if err & FP_OVERFLOW != 0 {
        FPE_FLTOVF
    } else if err & (FP_UNDERFLOW | FP_DENORMAL) != 0 {
        FPE_FLTUND
    } else if err & FP_PRECISION != 0 {
        FPE_FLTRES
    } else {
        0
    }
}

/// The signal for the fault in `frame` (see the module documentation); `None` when Linux
/// would deliver nothing (a spurious floating-point exception).
pub fn signal_for(frame: &TrapFrame, info: FaultInfo) -> Option<FaultSignal> {
    let vector = frame.vector as u8;
    let (sig, code, addr) = match vector {
        0 => (SIGFPE, FPE_INTDIV, Some(frame.rip)),
        1 => (SIGTRAP, TRAP_TRACE, Some(frame.rip)),
        3 => (SIGTRAP, SI_KERNEL, None),
        6 => (SIGILL, ILL_ILLOPN, Some(frame.rip)),
        11 | 12 => (SIGBUS, SI_KERNEL, None),
        14 => match info.why {
            Some(Fault::NoMemory) => (SIGKILL, SI_KERNEL, None),
            Some(Fault::AccErr) => (SIGSEGV, SEGV_ACCERR, Some(info.addr)),
            Some(Fault::MapErr) | None => (SIGSEGV, SEGV_MAPERR, Some(info.addr)),
        },
        16 | 19 => match fp_code(vector) {
            0 => return None,
            code => (SIGFPE, code, Some(frame.rip)),
        },
        17 => (SIGBUS, BUS_ADRALN, Some(info.addr)),
        _ => (SIGSEGV, SI_KERNEL, None),
    };
    Some(FaultSignal { sig, code, addr })
}

/// The name of `code` for signal `sig` (`SEGV_MAPERR` ...).
pub fn code_name(sig: u32, code: i32) -> &'static str {
    match (sig, code) {
        (_, SI_KERNEL) => "SI_KERNEL",
        (_, SI_USER) => "SI_USER",
        (SIGSEGV, SEGV_MAPERR) => "SEGV_MAPERR",
        (SIGSEGV, SEGV_ACCERR) => "SEGV_ACCERR",
        (SIGILL, ILL_ILLOPN) => "ILL_ILLOPN",
        (SIGFPE, FPE_INTDIV) => "FPE_INTDIV",
        (SIGFPE, FPE_FLTINV) => "FPE_FLTINV",
        (SIGFPE, FPE_FLTDIV) => "FPE_FLTDIV",
        (SIGFPE, FPE_FLTOVF) => "FPE_FLTOVF",
        (SIGFPE, FPE_FLTUND) => "FPE_FLTUND",
        (SIGFPE, FPE_FLTRES) => "FPE_FLTRES",
        (SIGBUS, BUS_ADRALN) => "BUS_ADRALN",
        (SIGTRAP, TRAP_TRACE) => "TRAP_TRACE",
        (SIGTRAP, TRAP_BRKPT) => "TRAP_BRKPT",
        _ => "?",
    }
}

/// The user-fault hook (`trap::set_user_fault`): called with interrupts disabled for an
/// exception from ring 3. Reports the fault and ends the process with the signal.
pub fn user_fault(frame: &mut TrapFrame, info: FaultInfo) {
    // Ending a process frees memory, which takes locks that preempted threads may hold.
    irq::enable();
    let Some(s) = signal_for(frame, info) else {
        irq::disable();
        return;
    };
    let Some(me) = super::current() else {
        // Ring-3 code always runs as an LWP; anything else is a kernel bug.
        trap::kernel_fault(frame);
    };
    let (name, pid) = match me.process() {
        Some(p) => (alloc::string::String::from(p.name()), p.pid()),
        None => (alloc::string::String::from("?"), me.pid()),
    };
    let (mnemonic, _) = trap::vector_name(frame.vector);
    let signame = name_of(s.sig);
    let mut line = LineBuf::<192>::new();
    let _ = write!(
        line,
        "{name}[{pid}]: killed by {signame} ({mnemonic} at rip {:#x}",
        frame.rip
    );
    if frame.vector == 14 {
        let _ = write!(line, ", addr {:#x}", info.addr);
    }
    if s.sig == SIGKILL {
        let _ = write!(line, ", out of memory");
    } else {
        let _ = write!(line, ", {}", code_name(s.sig, s.code));
    }
    let _ = write!(line, ")");
    line.finish_line();
    crate::console::write_bytes(line.as_bytes());
    log::info!(
        "{}  error code {:#x} on cpu {}",
        line.as_str().trim_end(),
        frame.error_code,
        percpu::cpu_id()
    );
    log_registers(frame);
    super::exit_group(WaitStatus::signaled(s.sig))
}

/// The signal's name (`SIGSEGV`), or `SIG?`.
pub fn name_of(sig: u32) -> &'static str {
    shared_abi::current::signal::name(sig).unwrap_or("SIG?")
}

fn log_registers(f: &TrapFrame) {
    log::info!(
        "  rip {:#x} cs {:#x} rflags {:#x} rsp {:#x} ss {:#x}",
        f.rip,
        f.cs,
        f.rflags,
        f.rsp,
        f.ss
    );
    log::info!(
        "  rax {:#x} rbx {:#x} rcx {:#x} rdx {:#x} rsi {:#x} rdi {:#x} rbp {:#x}",
        f.rax,
        f.rbx,
        f.rcx,
        f.rdx,
        f.rsi,
        f.rdi,
        f.rbp
    );
    log::info!(
        "  r8 {:#x} r9 {:#x} r10 {:#x} r11 {:#x} r12 {:#x} r13 {:#x} r14 {:#x} r15 {:#x}",
        f.r8,
        f.r9,
        f.r10,
        f.r11,
        f.r12,
        f.r13,
        f.r14,
        f.r15
    );
}
