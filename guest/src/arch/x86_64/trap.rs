//! The trap path: the [`TrapFrame`], entry stubs for all 256 vectors, the common entry and
//! exit, the Rust dispatcher, and the kernel-fault report.
//!
//! # The frame
//!
//! Every vector has a 16-byte stub that makes the stack look the same: vectors without a CPU
//! error code push a 0 in its place, then every stub pushes its vector number and jumps to the
//! common entry, which pushes all fifteen general-purpose registers. The result, from the
//! lowest address up, is exactly [`TrapFrame`]; the entry passes its address to the
//! dispatcher and, when that returns, pops it all back and `iretq`s, so a handler may change
//! any saved register (RIP, RSP, RFLAGS included) to redirect the return. Ring-3 traps, system
//! calls through either gate and signal delivery use this same frame, which is why its layout
//! is asserted field by field below. The CPU aligns RSP to 16 bytes before pushing SS..RIP;
//! the frame is 22 quadwords (176 bytes), so RSP is 16-byte aligned again at the `call`.
//!
//! # The common entry (`trap_common`), instruction by instruction
//!
//! It is paid on every interrupt and exception (system calls have entries of their own that
//! build the same frame: `syscall`; `#PF` passes through the fault gate's RIP check first),
//! and ring 0 is interpreted at ~0.6 µs per instruction on the development machines' KVM, so
//! it is short: the stub (2–3 instructions), `test`/`jz` on the saved CS and `swapgs` only if
//! it was ring 3,
//! 15 pushes, `cld`, `mov`, `call`; on the way back 15 pops, `add`, `test`/`jz`, `swapgs` only
//! if returning to ring 3, `iretq`: about 40 instructions around the dispatcher.
//!
//! # The paranoid entry (`trap_paranoid`): NMI, `#DF`, `#MC`
//!
//! These three arrive on IST stacks and may interrupt the kernel anywhere, including the
//! instructions between a ring-3 entry and its `swapgs` (or between the exit's `swapgs` and
//! `iretq`), where the saved CS says ring 0 but GS is still the user's. So their entry decides
//! by the GS base itself, as Linux's `paranoid_entry` does: `rdmsr IA32_GS_BASE`, and `swapgs`
//! (and swap back on exit) unless it is a kernel address (negative). User GS bases are always
//! lower-half addresses: CR4.FSGSBASE stays off (see `percpu`), so only the kernel writes them.
//!
//! # The dispatcher
//!
//! [`trap_dispatch`] sends vectors 0..=31 to [`exception`] and the rest to [`irq::dispatch`]
//! (which calls the handler registered for the vector and sends the LAPIC EOI). Then, before
//! the return:
//!
//! - to ring 3: the **userret** hook ([`set_userret`]) — where the scheduler preempts and,
//!   later, signals are delivered (NetBSD's `lwp_userret`); it is called with interrupts
//!   disabled and returns with them disabled;
//! - to ring 0 with interrupts enabled in the interrupted context, when this CPU's `resched`
//!   flag is set and its `preempt_count` is 0: the **kernel-preemption** hook
//!   ([`set_kernel_preempt`]).
//!
//! Exceptions: `#PF` goes to [`page_fault`] (memory management hooks in there); other
//! exceptions from ring 3 go to the **user-fault** hook ([`set_user_fault`]: `proc::fault`;
//! without one, the fault is reported like a kernel fault); exceptions in ring 0 are looked
//! up in the fix-up table (MSR probes) and otherwise reported: vector name, error code, RIP,
//! CR2 for `#PF`, all registers, control registers, a frame-pointer backtrace, on the serial
//! port and the console; the other CPUs are stopped and the VM ends with `KERNEL_FAULT`. A
//! fault while reporting a fault prints one short line on the serial port and exits at once.
//!
//! Nothing here knows the scheduler: it registers its hooks and handlers.

use core::arch::{asm, global_asm};
use core::fmt::{self, Write};
use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use shared_abi::current::ports::status;

use super::{backtrace, cpu, irq, msr, percpu, smp};
use crate::drivers::serial::Serial;

/// Saved state of the interrupted context, as built by the entry stubs (lowest address
/// first).
///
/// A system call's frame (either gate, see `syscall`) has the same layout with `vector` =
/// `syscall::VECTOR_SYSCALL` and `error_code` = RAX at entry (the number, Linux's
/// `orig_ax`). A user thread's frame from ring 3 is always the top [`TrapFrame`] of its
/// kernel stack ([`user_frame`]).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// Vector (pushed by the stub).
    pub vector: u64,
    /// CPU error code, or 0 for vectors without one (pushed by the stub).
    pub error_code: u64,
    /// From here on: pushed by the CPU.
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

// The stubs below push in exactly this order; signal frames will rely on it too.
const _: () = {
    assert!(offset_of!(TrapFrame, r15) == 0);
    assert!(offset_of!(TrapFrame, r14) == 8);
    assert!(offset_of!(TrapFrame, r13) == 16);
    assert!(offset_of!(TrapFrame, r12) == 24);
    assert!(offset_of!(TrapFrame, r11) == 32);
    assert!(offset_of!(TrapFrame, r10) == 40);
    assert!(offset_of!(TrapFrame, r9) == 48);
    assert!(offset_of!(TrapFrame, r8) == 56);
    assert!(offset_of!(TrapFrame, rbp) == 64);
    assert!(offset_of!(TrapFrame, rdi) == 72);
    assert!(offset_of!(TrapFrame, rsi) == 80);
    assert!(offset_of!(TrapFrame, rdx) == 88);
    assert!(offset_of!(TrapFrame, rcx) == 96);
    assert!(offset_of!(TrapFrame, rbx) == 104);
    assert!(offset_of!(TrapFrame, rax) == 112);
    assert!(offset_of!(TrapFrame, vector) == 120);
    assert!(offset_of!(TrapFrame, error_code) == 128);
    assert!(offset_of!(TrapFrame, rip) == 136);
    assert!(offset_of!(TrapFrame, cs) == 144);
    assert!(offset_of!(TrapFrame, rflags) == 152);
    assert!(offset_of!(TrapFrame, rsp) == 160);
    assert!(offset_of!(TrapFrame, ss) == 168);
    assert!(size_of::<TrapFrame>() == 176);
    assert!(size_of::<TrapFrame>().is_multiple_of(16));
};

/// Offset of the saved CS from RSP at `trap_common`'s first instruction (vector, error code,
/// RIP, CS).
const ENTRY_CS: usize = 24;
/// Offset of the saved CS from RSP just before `iretq` (RIP, CS).
const EXIT_CS: usize = 8;
const _: () = {
    assert!(ENTRY_CS == offset_of!(TrapFrame, cs) - offset_of!(TrapFrame, vector));
    assert!(EXIT_CS == offset_of!(TrapFrame, cs) - offset_of!(TrapFrame, rip));
};

/// RFLAGS.IF.
pub const RFLAGS_IF: u64 = 1 << 9;

impl TrapFrame {
    /// Whether the trap came from ring 3.
    #[allow(clippy::wrong_self_convention)] // "from user (mode)", not a conversion
    #[inline]
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }
}

/// NMI, the vector whose stub takes the paranoid entry (IST2).
pub const VECTOR_NMI: u8 = 2;
/// `#BP` (its gate is DPL 3: ring-3 `int3`).
pub const VECTOR_BREAKPOINT: u8 = 3;
/// `#DF` (IST1, paranoid).
pub const VECTOR_DOUBLE_FAULT: u8 = 8;
/// `#GP`.
pub const VECTOR_GENERAL_PROTECTION: u8 = 13;
/// `#PF`.
pub const VECTOR_PAGE_FAULT: u8 = 14;
/// `#MC` (IST3, paranoid).
pub const VECTOR_MACHINE_CHECK: u8 = 18;

/// The 15 general-purpose registers pushed in [`TrapFrame`] order (RAX first, so R15 ends at
/// the lowest address): every kernel entry builds its frame with this one sequence.
macro_rules! push_gprs {
    () => {
        "push rax\npush rbx\npush rcx\npush rdx\npush rsi\npush rdi\npush rbp\npush r8\npush r9\npush r10\npush r11\npush r12\npush r13\npush r14\npush r15\n"
    };
}

/// The inverse of [`push_gprs`]: the 15 registers popped from a [`TrapFrame`].
macro_rules! pop_gprs {
    () => {
        "pop r15\npop r14\npop r13\npop r12\npop r11\npop r10\npop r9\npop r8\npop rbp\npop rdi\npop rsi\npop rdx\npop rcx\npop rbx\npop rax\n"
    };
}
pub(crate) use {pop_gprs, push_gprs};

global_asm!(
    r#"
    .macro TRAP_STUB v
    .balign 16
    .if (\v == 8) || ((\v >= 10) && (\v <= 14)) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
    .else
    push 0
    .endif
    .if \v == 14
    jmp lwpvm_page_fault_entry         /* the fault gate's check first (syscall.rs) */
    .else
    push \v
    .if (\v == 2) || (\v == 8) || (\v == 18)
    jmp trap_paranoid
    .else
    jmp trap_common
    .endif
    .endif
    .endm

    .pushsection .text.trap, "ax"
    .balign 16
    .global trap_stubs
trap_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,124,125,126,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159,160,161,162,163,164,165,166,167,168,169,170,171,172,173,174,175,176,177,178,179,180,181,182,183,184,185,186,187,188,189,190,191,192,193,194,195,196,197,198,199,200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,215,216,217,218,219,220,221,222,223,224,225,226,227,228,229,230,231,232,233,234,235,236,237,238,239,240,241,242,243,244,245,246,247,248,249,250,251,252,253,254,255
    TRAP_STUB \v
    .endr
    .balign 16
    .global trap_stubs_end
trap_stubs_end:

    .balign 16
    .global trap_common
trap_common:
    test byte ptr [rsp + {entry_cs}], 3
    jz 1f
    swapgs
1:
    "#,
    push_gprs!(),
    r#"
    cld
    mov rdi, rsp
    call {dispatch}
    .global trap_return
trap_return:                           /* rsp: a TrapFrame; returns to it */
    "#,
    pop_gprs!(),
    r#"
    add rsp, 16                        /* vector, error code */
    test byte ptr [rsp + {exit_cs}], 3
    jz 2f
    swapgs
2:  iretq

    .balign 16
trap_paranoid:
    "#,
    push_gprs!(),
    r#"
    cld
    mov ecx, {gs_base}
    rdmsr
    xor ebx, ebx                       /* rbx (callee-saved): 1 if we swapped */
    test edx, edx
    js 3f                              /* kernel GS base already active */
    swapgs
    mov ebx, 1
3:  mov rdi, rsp
    call {dispatch_paranoid}
    test ebx, ebx
    jz 4f
    swapgs
4:
    "#,
    pop_gprs!(),
    r#"
    add rsp, 16
    iretq
    .popsection
    "#,
    entry_cs = const ENTRY_CS,
    exit_cs = const EXIT_CS,
    gs_base = const msr::IA32_GS_BASE,
    dispatch = sym trap_dispatch,
    dispatch_paranoid = sym trap_dispatch_paranoid,
);

unsafe extern "C" {
    /// The first of the 256 entry stubs, 16 bytes apart (in `.text.trap` above).
    static trap_stubs: u8;
    /// One past the last stub.
    static trap_stubs_end: u8;
}

/// Size of one entry stub.
const STUB_SIZE: u64 = 16;

/// The user register frame of a user thread whose kernel stack top is `kstack_top`: every
/// entry from ring 3 (interrupt, exception, either system-call gate) saves the registers
/// there, since the CPU (TSS.RSP0) and the `syscall` entry (gs:8) start on an empty stack.
pub fn user_frame(kstack_top: u64) -> *mut TrapFrame {
    (kstack_top - size_of::<TrapFrame>() as u64) as *mut TrapFrame
}

/// A frame that starts ring-3 code at `rip` with stack pointer `rsp`: user selectors,
/// RFLAGS = IF only, every general-purpose register 0 (as Linux starts a program).
pub fn initial_user_frame(rip: u64, rsp: u64) -> TrapFrame {
    TrapFrame {
        rip,
        rsp,
        cs: u64::from(super::gdt::USER_CS),
        ss: u64::from(super::gdt::USER_DS),
        rflags: RFLAGS_IF | (1 << 1),
        ..TrapFrame::default()
    }
}

/// Enters ring 3 with the registers of `regs`, from a thread spawned with room for its user
/// frame at the top of its kernel stack (`sched::spawn_user`): copies `regs` there, disables
/// interrupts, runs [`userret`] and returns through `trap_return` (`swapgs`, `iretq`).
/// Everything the calling kernel code had on the stack is abandoned.
///
/// # Panics
///
/// If `regs` does not return to ring 3, or the current stack already reaches into the user
/// frame's place.
pub fn enter_user(regs: &TrapFrame) -> ! {
    assert!(
        regs.cs == u64::from(super::gdt::USER_CS) && regs.ss == u64::from(super::gdt::USER_DS),
        "enter_user with kernel selectors"
    );
    irq::disable();
    let frame = user_frame(percpu::this().kernel_stack());
    let (rsp, _) = cpu::stack_regs();
    assert!(
        rsp <= frame as u64,
        "enter_user: no room for the user frame"
    );
    // SAFETY: `frame` is the top TrapFrame of this thread's kernel stack (gs:8 is its top),
    // which nothing uses: the thread runs below it (checked above).
    let frame = unsafe {
        frame.write(*regs);
        &mut *frame
    };
    userret(frame);
    // SAFETY: RSP moves to the frame, the layout `trap_return` pops and returns to; the
    // frame's selectors are the user's, so `trap_return` swaps GS back to the user's. Nothing
    // on the abandoned stack is referenced again.
    unsafe {
        asm!(
            "mov rsp, {f}",
            "jmp trap_return",
            f = in(reg) frame as *mut TrapFrame,
            options(noreturn)
        )
    }
}

/// Addresses of the 256 entry stubs, by vector.
pub fn stub_addresses() -> [u64; 256] {
    // Only the labels' addresses are taken.
    let base = core::ptr::addr_of!(trap_stubs) as u64;
    let end = core::ptr::addr_of!(trap_stubs_end) as u64;
    assert_eq!(
        end - base,
        256 * STUB_SIZE,
        "trap stubs are not 16 bytes apart"
    );
    core::array::from_fn(|v| base + v as u64 * STUB_SIZE)
}

// ------------------------------------------------------------------------------------------
// Hooks.
// ------------------------------------------------------------------------------------------

/// A handler that receives the trap frame.
pub type TrapHook = fn(&mut TrapFrame);

/// What the trap path knows about a user fault beyond its frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultInfo {
    /// `#PF`: the faulting address (CR2 as read on entry; CR2 itself may have changed since,
    /// the handler having run with interrupts enabled). 0 for other vectors.
    pub addr: u64,
    /// `#PF` at a user address: why memory management could not resolve it.
    pub why: Option<crate::mm::vmspace::Fault>,
}

/// The handler of exceptions from ring 3 ([`set_user_fault`]).
pub type UserFaultHook = fn(&mut TrapFrame, FaultInfo);

/// `fn(&mut TrapFrame)` run before every return to ring 3 (0: none).
static USERRET: AtomicUsize = AtomicUsize::new(0);
/// `fn(&mut TrapFrame)` for exceptions from ring 3 (0: report and end the VM).
static USER_FAULT: AtomicUsize = AtomicUsize::new(0);
/// `fn()` for kernel preemption (0: none).
static KERNEL_PREEMPT: AtomicUsize = AtomicUsize::new(0);

fn load_hook(slot: &AtomicUsize) -> Option<TrapHook> {
    let v = slot.load(Ordering::Acquire);
    // SAFETY: a non-zero value was stored by a `set_*` function from a `TrapHook`.
    (v != 0).then(|| unsafe { core::mem::transmute::<usize, TrapHook>(v) })
}

/// Installs the return-to-user hook: called before a return to ring 3 when this CPU has a
/// reschedule or an `ast` request pending (see [`userret`]), with interrupts disabled; it
/// must clear the `ast` request and handle what it stands for; it may enable interrupts
/// while it works but must return with them disabled.
pub fn set_userret(hook: TrapHook) {
    USERRET.store(hook as usize, Ordering::Release);
}

/// Installs the handler of exceptions from ring 3 (other than those `page_fault` resolves).
/// It is called with interrupts disabled and the faulting frame (`#PF`: CR2 still holds the
/// address); it either does not return (the program ends) or returns with interrupts
/// disabled and the frame fixed (later: redirected to a signal handler).
pub fn set_user_fault(hook: UserFaultHook) {
    USER_FAULT.store(hook as usize, Ordering::Release);
}

/// Installs the kernel-preemption hook: called on return from a trap to ring-0 code that had
/// interrupts enabled, when this CPU's `resched` flag is set and its `preempt_count` is 0,
/// with interrupts disabled (and must return with them disabled).
pub fn set_kernel_preempt(hook: fn()) {
    KERNEL_PREEMPT.store(hook as usize, Ordering::Release);
}

/// First non-canonical address above user space: no return to ring 3 may go there.
const NONCANONICAL: u64 = 1 << 47;

/// Runs before every return to ring 3, with interrupts disabled (the trap path calls it, and
/// the system-call gates, which return without passing through [`trap_dispatch`]): the
/// return-to-user hook when this CPU has work for it (a reschedule request, or the `ast`
/// word of `percpu`: nothing to do costs four instructions), then a last check of the
/// return address. An `iretq` to a
/// non-canonical RIP would fault in ring 0 on some CPUs; such a frame (a fault-gate system
/// call with a forged RCX, later a forged signal frame) becomes a `#GP` of the program,
/// reported through the user-fault hook like any other.
#[inline]
pub fn userret(frame: &mut TrapFrame) {
    loop {
        if percpu::this().userret_work() {
            if let Some(hook) = load_hook(&USERRET) {
                hook(frame);
            }
        }
        if frame.rip < NONCANONICAL {
            return;
        }
        frame.vector = u64::from(VECTOR_GENERAL_PROTECTION);
        frame.error_code = 0;
        user_fault(frame, FaultInfo::default());
    }
}

// ------------------------------------------------------------------------------------------
// Dispatch.
// ------------------------------------------------------------------------------------------

/// The Rust side of every non-paranoid entry (called by `trap_common` with the frame, and by
/// the fault gate's entry for a `#PF` that turns out not to be a system call).
pub(super) extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    let vector = frame.vector as u8;
    if vector < 32 {
        exception(frame);
    } else {
        irq::dispatch(vector, frame);
    }
    if frame.from_user() {
        userret(frame);
    } else if frame.rflags & RFLAGS_IF != 0 {
        let pc = percpu::this();
        if pc.resched_pending() && pc.preempt_count() == 0 {
            let v = KERNEL_PREEMPT.load(Ordering::Acquire);
            if v != 0 {
                // SAFETY: stored by `set_kernel_preempt` from a `fn()`.
                let hook = unsafe { core::mem::transmute::<usize, fn()>(v) };
                hook();
            }
        }
    }
}

/// The Rust side of the paranoid entry (NMI, `#DF`, `#MC`; GS is the kernel's).
extern "C" fn trap_dispatch_paranoid(frame: &mut TrapFrame) {
    if frame.vector == u64::from(VECTOR_NMI) {
        smp::nmi(frame);
    } else {
        if frame.vector == u64::from(VECTOR_DOUBLE_FAULT) {
            // Memory management names a kernel-stack overflow (a #DF from the guard page).
            let cr2 = cpu::control_regs().cr2;
            let _ = crate::mm::fault::handle_trap(frame, cr2);
        }
        kernel_fault(frame);
    }
}

/// Exceptions (vectors 0..=31 other than the paranoid ones).
fn exception(frame: &mut TrapFrame) {
    percpu::this().exceptions.fetch_add(1, Ordering::Relaxed);
    if frame.vector == u64::from(VECTOR_PAGE_FAULT) {
        page_fault(frame);
    } else if frame.from_user() {
        user_fault(frame, FaultInfo::default());
    } else if let Some(resume) = fixup(frame.rip) {
        frame.rip = resume;
    } else {
        kernel_fault(frame);
    }
}

/// `#PF`, from either ring. CR2 holds the faulting address until the next page fault.
///
/// The `#PF` stub first goes through the system-call fault gate's check (`syscall`: a ring-3
/// fetch at `IA32_LSTAR` is a system call and never comes here). Then memory management: demand paging of the user's regions
/// (from ring 3, and from the kernel's user accesses) and the user-access fix-ups, with
/// interrupts enabled when the faulting context had them (populating a page takes locks that
/// preempted threads may hold, and may have to shoot down other CPUs' TLBs). What it cannot
/// resolve is a user fault from ring 3 and a kernel fault from ring 0.
pub fn page_fault(frame: &mut TrapFrame) {
    let cr2 = cpu::cr2();
    let irqs = frame.rflags & RFLAGS_IF != 0;
    if irqs {
        irq::enable();
    }
    let outcome = crate::mm::fault::handle_trap(frame, cr2);
    if irqs {
        irq::disable();
    }
    let why = match outcome {
        crate::mm::fault::Outcome::Handled => return,
        crate::mm::fault::Outcome::Unhandled(why) => why,
    };
    if frame.from_user() {
        user_fault(frame, FaultInfo { addr: cr2, why });
    } else {
        kernel_fault(frame);
    }
}

/// An exception from ring 3: the registered handler, or (until user mode exists) a report
/// and the end of the VM.
fn user_fault(frame: &mut TrapFrame, info: FaultInfo) {
    let v = USER_FAULT.load(Ordering::Acquire);
    if v == 0 {
        kernel_fault(frame);
    }
    // SAFETY: a non-zero value was stored by `set_user_fault` from a `UserFaultHook`.
    let hook = unsafe { core::mem::transmute::<usize, UserFaultHook>(v) };
    hook(frame, info);
}

/// Where to resume after a ring-0 exception at `rip`, if `rip` is a known probing
/// instruction (see `msr`).
fn fixup(rip: u64) -> Option<u64> {
    msr::fixups()
        .into_iter()
        .find(|&(insn, _)| insn == rip)
        .map(|(_, resume)| resume)
}

/// Set while a fault report is being written.
static FAULTING: AtomicBool = AtomicBool::new(false);

/// Reports an unexpected exception and ends the VM with `KERNEL_FAULT`.
pub fn kernel_fault(frame: &TrapFrame) -> ! {
    // Read CR2 first: a fault while reporting would overwrite it.
    let regs = cpu::control_regs();
    if FAULTING.swap(true, Ordering::AcqRel) {
        let mut serial = Serial::COM1;
        let _ = writeln!(
            serial,
            "kernel fault while reporting a fault: vector {} at rip {:#x}",
            frame.vector, frame.rip
        );
        cpu::exit(status::KERNEL_FAULT);
    }
    smp::stop_others();
    let mut out = crate::console::Emergency::new();
    let _ = report(&mut out, frame, &regs);
    drop(out);
    cpu::exit(status::KERNEL_FAULT);
}

/// Mnemonic and name of an exception vector.
pub fn vector_name(vector: u64) -> (&'static str, &'static str) {
    match vector {
        0 => ("#DE", "divide error"),
        1 => ("#DB", "debug"),
        2 => ("NMI", "non-maskable interrupt"),
        3 => ("#BP", "breakpoint"),
        4 => ("#OF", "overflow"),
        5 => ("#BR", "bound range exceeded"),
        6 => ("#UD", "invalid opcode"),
        7 => ("#NM", "device not available"),
        8 => ("#DF", "double fault"),
        9 => ("CSO", "coprocessor segment overrun"),
        10 => ("#TS", "invalid TSS"),
        11 => ("#NP", "segment not present"),
        12 => ("#SS", "stack-segment fault"),
        13 => ("#GP", "general protection"),
        14 => ("#PF", "page fault"),
        16 => ("#MF", "x87 floating-point error"),
        17 => ("#AC", "alignment check"),
        18 => ("#MC", "machine check"),
        19 => ("#XM", "SIMD floating-point"),
        20 => ("#VE", "virtualization exception"),
        21 => ("#CP", "control protection"),
        28 => ("#HV", "hypervisor injection"),
        29 => ("#VC", "VMM communication"),
        30 => ("#SX", "security exception"),
        _ => ("#??", "reserved vector"),
    }
}

/// Writes the fault report for `frame`.
fn report(out: &mut impl Write, f: &TrapFrame, regs: &cpu::ControlRegs) -> fmt::Result {
    let (mnemonic, name) = vector_name(f.vector);
    let ring = if f.from_user() { "user" } else { "kernel" };
    write!(
        out,
        "{ring} fault: {mnemonic} {name} (vector {}), error code {:#x}",
        f.vector, f.error_code
    )?;
    if f.vector == u64::from(VECTOR_PAGE_FAULT) {
        let e = f.error_code;
        write!(
            out,
            " [{} {} {}{}{}]",
            if e & 2 != 0 { "write" } else { "read" },
            if e & 1 != 0 {
                "protection"
            } else {
                "not-present"
            },
            if e & 4 != 0 { "user" } else { "supervisor" },
            if e & 8 != 0 { " reserved-bit" } else { "" },
            if e & 16 != 0 { " fetch" } else { "" },
        )?;
    }
    writeln!(out, " on cpu {}", percpu::cpu_id())?;
    writeln!(
        out,
        "  rip {:#018x}  cs {:#06x}  rflags {:#010x}  rsp {:#018x}  ss {:#06x}",
        f.rip, f.cs, f.rflags, f.rsp, f.ss
    )?;
    if f.vector == u64::from(VECTOR_PAGE_FAULT) {
        writeln!(out, "  cr2 {:#018x} (faulting address)", regs.cr2)?;
    }
    writeln!(
        out,
        "  rax {:#018x}  rbx {:#018x}  rcx {:#018x}  rdx {:#018x}",
        f.rax, f.rbx, f.rcx, f.rdx
    )?;
    writeln!(
        out,
        "  rsi {:#018x}  rdi {:#018x}  rbp {:#018x}  r8  {:#018x}",
        f.rsi, f.rdi, f.rbp, f.r8
    )?;
    writeln!(
        out,
        "  r9  {:#018x}  r10 {:#018x}  r11 {:#018x}  r12 {:#018x}",
        f.r9, f.r10, f.r11, f.r12
    )?;
    writeln!(
        out,
        "  r13 {:#018x}  r14 {:#018x}  r15 {:#018x}",
        f.r13, f.r14, f.r15
    )?;
    writeln!(
        out,
        "  cr0 {:#010x}  cr2 {:#018x}  cr3 {:#018x}  cr4 {:#010x}",
        regs.cr0, regs.cr2, regs.cr3, regs.cr4
    )?;
    if f.from_user() {
        return Ok(());
    }
    backtrace::write(out, Some(f.rip), f.rbp)
}

/// The exceptions [`trigger`] can raise on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestFault {
    /// `ud2`: `#UD`.
    InvalidOpcode,
    /// A read of an unmapped address ([`TEST_FAULT_ADDRESS`]): `#PF`.
    PageFault,
    /// `div` by zero: `#DE`.
    DivideError,
    /// `ud2` with RSP pointing at unmapped memory: delivering `#UD` faults (`#PF`), delivering
    /// that faults again, and the CPU raises `#DF`, which runs on IST1. Tests the IST stack.
    DoubleFault,
}

/// The unmapped, canonical address [`TestFault::PageFault`] reads (PML4 slot 252, never
/// mapped: the identity map is slot 0 only, and removed early).
pub const TEST_FAULT_ADDRESS: u64 = 0x0000_7e57_0000_0000;

/// Raises `fault` in ring 0, for tests of the fault path. Does not return: the fault report
/// ends the VM. (Never `int3`/`int n`: those kill the VM on the development machines' KVM.)
pub fn trigger(fault: TestFault) -> ! {
    match fault {
        // SAFETY: `ud2` raises #UD, whose handler never returns here.
        TestFault::InvalidOpcode => unsafe { asm!("ud2", options(nomem, nostack, noreturn)) },
        // SAFETY: the address is canonical and unmapped, so the load raises #PF before it
        // reads anything; the handler never returns here.
        TestFault::PageFault => unsafe {
            asm!(
                "mov rax, [{addr}]",
                "ud2",
                addr = in(reg) TEST_FAULT_ADDRESS,
                options(nostack, noreturn)
            )
        },
        // SAFETY: the CPU cannot push the #UD frame on the unmapped stack, so it raises #DF,
        // whose handler runs on IST1 and never returns here. Nothing uses the old stack again.
        TestFault::DoubleFault => unsafe {
            asm!(
                "mov rsp, {addr}",
                "ud2",
                addr = in(reg) TEST_FAULT_ADDRESS,
                options(nomem, noreturn)
            )
        },
        // SAFETY: dividing by zero raises #DE; the handler never returns here.
        TestFault::DivideError => unsafe {
            asm!(
                "xor edx, edx",
                "mov eax, 1",
                "xor ecx, ecx",
                "div ecx",
                "ud2",
                options(nomem, nostack, noreturn)
            )
        },
    }
}
