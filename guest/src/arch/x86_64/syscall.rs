//! The system-call gates: how a ring-3 `syscall` instruction reaches
//! [`crate::syscall::dispatch`] and how the result gets back.
//!
//! Programs use the Linux x86_64 convention (`syscall` with the number in RAX, arguments in
//! RDI RSI RDX R10 R8 R9, the result in RAX; RCX and R11 clobbered). The instruction is the
//! same on every host; what it does differs, so there are two ways in, both always armed, and
//! one configuration works everywhere:
//!
//! 1. **The hardware gate** (QEMU, hardware KVM, real CPUs). `syscall` loads RIP from
//!    `IA32_LSTAR` = [`entry_address`], CS/SS from `IA32_STAR` (`gdt::STAR_VALUE`), saves the
//!    return RIP in RCX and RFLAGS in R11, clears the RFLAGS bits in `IA32_FMASK`
//!    ([`SFMASK`]: IF, DF, TF, AC, NT) and enters ring 0 on the user's stack. The entry
//!    (`lwpvm_syscall_entry`, below): `swapgs`, user RSP to gs:16, the kernel stack top from
//!    gs:8, then it pushes the same [`TrapFrame`] an interrupt from ring 3 gets (SS, RSP, R11
//!    as RFLAGS, CS, RCX as RIP, RAX as the "error code", [`VECTOR_SYSCALL`], the fifteen
//!    GPRs) and calls [`syscall_hw`]: interrupts on, dispatch, interrupts off, `userret`.
//!    It returns with `sysretq` when that is safe (the saved RIP is a user address below
//!    `TASK_SIZE_MAX`, so canonical; RCX and R11 in the frame still equal RIP and RFLAGS;
//!    neither TF nor RF is set; CS/SS are the user selectors), else through `trap_return`'s
//!    `iretq`. `sysretq` to a non-canonical RCX would fault in ring 0 on the user's stack on
//!    Intel CPUs; the check keeps that from ever happening.
//! 2. **The fault gate** (the development machines' KVM, where ring-3 `syscall` jumps to
//!    LSTAR without leaving ring 3). LSTAR stays on the kernel's supervisor-only text, so the
//!    fetch there raises `#PF` from ring 3 with CR2 = RIP = LSTAR, RCX = the return address
//!    and R11 = RFLAGS as `syscall` left them (FMASK applied to RFLAGS itself). The `#PF`
//!    stub jumps to `lwpvm_page_fault_entry` (below), which looks at the saved RIP first: not
//!    LSTAR (every other page fault) → the common trap path, one compare later. RIP = LSTAR
//!    from ring 3 → it builds the frame itself (`swapgs`, the vector, the GPRs, `cld`) and
//!    calls [`syscall_fault`], which checks CR2 = RIP (else it is an ordinary page fault,
//!    handed to `trap::trap_dispatch`), rewrites the frame into the hardware gate's (RIP =
//!    RCX, RFLAGS = R11 sanitised, "error code" = RAX), dispatches with interrupts on, runs
//!    `userret`; the entry returns through `trap_return` (`iretq`). Memory management never
//!    sees the system call's `#PF`.
//!
//! A ring-3 jump to the LSTAR address on a host with a working `syscall` takes the fault
//! gate too: it is a system call with a RCX and R11 the program chose. That is harmless:
//! the R11 image is sanitised ([`USER_RFLAGS`]: no IOPL, no NT, no VM; IF forced on), and a
//! non-canonical RCX makes the return address non-canonical, which `trap::userret` turns
//! into a `#GP` of the program (never an `iretq` fault in ring 0).
//!
//! Which gate a host uses is logged once, at the first system call.
//!
//! # The syscall frame
//!
//! A system call's [`TrapFrame`] has `vector` = [`VECTOR_SYSCALL`] (256: not a hardware
//! vector) and `error_code` = RAX at entry (the number, Linux's `orig_ax`, which signal
//! delivery needs to restart calls). The handler's result goes to `rax`. Every other
//! register is returned as it was, RCX = RIP and R11 = RFLAGS as the hardware leaves them.
//!
//! # Cost
//!
//! Ring 0 is interpreted on the development machines' KVM (~0.6 µs per instruction plus the
//! exception round trip), so both paths are counted. A null call (`getpid`), from the
//! disassembly of the release kernel:
//!
//! | | fault gate | hardware gate |
//! |---|---:|---:|
//! | entry to the `call` (stub, check, `swapgs`, the frame) | 24 | 27 |
//! | Rust side: gate note, frame rewrite / none, `sti`, table, `cli` | 27 | 19 |
//! | the handler (`getpid`) | 13 | 13 |
//! | `userret` with nothing to do, return-address check, epilogue | 14 | 34 (incl. the `sysretq` checks) |
//! | exit (`trap_return`'s pops and `iretq` / pops and `sysretq`) | 21 | 20 |
//! | **total** | **99** | **113** |
//!
//! Measured by `cargo xtask bench syscall`: 104 kernel instructions per call through the
//! fault gate on this machine's KVM (KVM's `insn_emulation` between ring-3 marks; timer
//! ticks during the loop included), ~330 k TSC cycles (the `#PF` round trip and the
//! interpreter dominate); 127 user + kernel instructions per call through the hardware gate
//! under QEMU TCG with `-icount shift=0` (Linux 6.1 measured the same way: 344).

use core::arch::global_asm;
use core::mem::offset_of;
use core::sync::atomic::{AtomicU8, Ordering};

use super::gdt::{USER_CS, USER_DS};
use super::percpu::{OFF_KERNEL_RSP, OFF_USER_RSP};
use super::trap::{self, TrapFrame, RFLAGS_IF};
use super::trap::{pop_gprs, push_gprs};
use super::{irq, msr};

/// The pseudo-vector of a system call's [`TrapFrame`] (above every hardware vector).
pub const VECTOR_SYSCALL: u64 = 0x100;

/// RFLAGS bits.
const CF: u64 = 1 << 0;
const FIXED: u64 = 1 << 1;
const PF: u64 = 1 << 2;
const AF: u64 = 1 << 4;
const ZF: u64 = 1 << 6;
const SF: u64 = 1 << 7;
const TF: u64 = 1 << 8;
const DF: u64 = 1 << 10;
const OF: u64 = 1 << 11;
const NT: u64 = 1 << 14;
const RF: u64 = 1 << 16;
const AC: u64 = 1 << 18;
const ID: u64 = 1 << 21;

/// `IA32_FMASK`: the RFLAGS bits `syscall` clears (interrupts, direction, trap, alignment
/// check, nested task), as Linux.
pub const SFMASK: u64 = RFLAGS_IF | DF | TF | AC | NT;

/// RFLAGS bits a program may return with from the fault gate, whose R11 it controls: the
/// bits ring 3 can change with `popfq` (arithmetic flags, TF, DF, AC, ID). IOPL, NT, RF, VM
/// and the virtual-interrupt bits are cleared; IF is forced on.
pub const USER_RFLAGS: u64 = CF | PF | AF | ZF | SF | TF | DF | OF | AC | ID;

/// First user address that is not a valid return address for `sysretq` (Linux's
/// `TASK_SIZE_MAX`: the last canonical page is never mapped).
const SYSRET_RIP_LIMIT: u64 = (1 << 47) - 4096;

global_asm!(
    r#"
    .pushsection .text.syscall, "ax"
    .balign 64
    .global lwpvm_syscall_entry
lwpvm_syscall_entry:                   /* ring 0, IF=0, GS = user's, RSP = user's */
    swapgs
    mov gs:[{user_rsp}], rsp
    mov rsp, gs:[{kernel_rsp}]
    push {user_ds}                     /* ss */
    push qword ptr gs:[{user_rsp}]     /* rsp */
    push r11                           /* rflags */
    push {user_cs}                     /* cs */
    push rcx                           /* rip */
    push rax                           /* error code: the number (orig_ax) */
    push {vector}                      /* vector */
    "#,
    push_gprs!(),
    r#"
    mov rdi, rsp
    call {hw}
    test eax, eax
    jz trap_return                     /* iretq (swapgs included) */
    "#,
    pop_gprs!(),
    r#"
    /* r11 = rflags and rcx = rip, as checked by syscall_hw */
    mov rsp, [rsp + {rsp_off}]         /* the user's stack; IF=0 until sysretq */
    swapgs
    sysretq

    .balign 16
    .global lwpvm_page_fault_entry
lwpvm_page_fault_entry:                /* #PF: [rsp] error code, [rsp+8] rip, [rsp+16] cs */
    cmp qword ptr [rsp + 8], offset lwpvm_syscall_entry
    je 2f
1:  push 14
    jmp trap_common
2:  test byte ptr [rsp + 16], 3
    jz 1b                              /* ring 0 at LSTAR: not the gate */
    swapgs
    push {vector}
    "#,
    push_gprs!(),
    r#"
    cld                                /* a program may jump here with DF set */
    mov rdi, rsp
    call {fault}
    jmp trap_return
    .popsection
    "#,
    user_rsp = const OFF_USER_RSP,
    kernel_rsp = const OFF_KERNEL_RSP,
    user_ds = const USER_DS,
    user_cs = const USER_CS,
    vector = const VECTOR_SYSCALL,
    rsp_off = const offset_of!(TrapFrame, rsp) - offset_of!(TrapFrame, vector),
    hw = sym syscall_hw,
    fault = sym syscall_fault,
);

unsafe extern "C" {
    /// The `IA32_LSTAR` entry (above).
    fn lwpvm_syscall_entry();
}

/// The address in `IA32_LSTAR`: the hardware gate's entry, and the fault gate's `#PF`
/// address.
#[inline(always)]
pub fn entry_address() -> u64 {
    lwpvm_syscall_entry as *const () as u64
}

/// Arms both gates on this CPU: `IA32_LSTAR`, `IA32_FMASK`, `EFER.SCE` (`IA32_STAR` is set by
/// `percpu`). Interrupts disabled.
pub fn init_this_cpu() {
    // SAFETY: LSTAR points at the entry above, in the kernel's text; FMASK clears IF/DF/TF/
    // AC/NT on entry; SCE enables `syscall`/`sysret`, whose selectors STAR already holds.
    unsafe {
        msr::write(msr::IA32_LSTAR, entry_address());
        msr::write(msr::IA32_FMASK, SFMASK);
        msr::write(msr::IA32_EFER, msr::read(msr::IA32_EFER) | 1);
    }
}

/// The gate a system call came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Gate {
    Hardware = 1,
    Fault = 2,
}

/// The first gate seen (0: none yet).
static FIRST_GATE: AtomicU8 = AtomicU8::new(0);

#[inline(always)]
fn note_gate(gate: Gate) {
    if FIRST_GATE.load(Ordering::Relaxed) == 0 {
        first_gate(gate);
    }
}

#[cold]
#[inline(never)]
fn first_gate(gate: Gate) {
    if FIRST_GATE
        .compare_exchange(0, gate as u8, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
    {
        log::info!(
            "syscall: the first system call came through {} (LSTAR {:#x})",
            match gate {
                Gate::Hardware => "the hardware gate (syscall/sysretq)",
                Gate::Fault => "the fault gate (#PF at LSTAR from ring 3, iretq)",
            },
            entry_address()
        );
    }
}

/// The Rust side of the hardware gate: dispatch with interrupts enabled, then `userret`
/// with them disabled. Returns 1 when the entry may return with `sysretq`, 0 for `iretq`.
extern "C" fn syscall_hw(frame: &mut TrapFrame) -> u64 {
    note_gate(Gate::Hardware);
    irq::enable();
    crate::syscall::dispatch(frame);
    irq::disable();
    trap::userret(frame);
    u64::from(
        frame.rcx == frame.rip
            && frame.r11 == frame.rflags
            && frame.rip < SYSRET_RIP_LIMIT
            && frame.rflags & (TF | RF) == 0
            && frame.cs == u64::from(USER_CS)
            && frame.ss == u64::from(USER_DS),
    )
}

/// The fault gate (see the module documentation), called by `lwpvm_page_fault_entry` for a
/// `#PF` from ring 3 at RIP = LSTAR, with interrupts disabled, the user's GS swapped out and
/// the frame built (vector = [`VECTOR_SYSCALL`]). If CR2 says it is not the instruction
/// fetch there, it is an ordinary page fault (`trap::trap_dispatch`). Otherwise the frame
/// becomes the system call's (RIP = RCX, RFLAGS = R11 sanitised, `error_code` = RAX), the
/// call runs with interrupts enabled, then `userret`; the entry returns through
/// `trap_return` (`iretq`).
extern "C" fn syscall_fault(frame: &mut TrapFrame) {
    // The entry checked RIP = LSTAR and CS = user.
    debug_assert!(frame.rip == entry_address() && frame.from_user());
    if super::cpu::cr2() != entry_address() {
        frame.vector = 14;
        trap::trap_dispatch(frame);
        return;
    }
    note_gate(Gate::Fault);
    frame.rip = frame.rcx;
    frame.rflags = (frame.r11 & USER_RFLAGS) | RFLAGS_IF | FIXED;
    frame.error_code = frame.rax;
    irq::enable();
    crate::syscall::dispatch(frame);
    irq::disable();
    trap::userret(frame);
}
