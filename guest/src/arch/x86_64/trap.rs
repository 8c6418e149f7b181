//! Exception entry: the [`TrapFrame`], the 32 entry stubs, and the kernel-fault report.
//!
//! # The frame
//!
//! Every exception vector has a stub that makes the stack look the same: vectors without a
//! CPU error code push a 0 in its place, then every stub pushes its vector number and jumps to
//! `trap_common`, which pushes all fifteen general-purpose registers. The result, from the
//! lowest address up, is exactly [`TrapFrame`]; `trap_common` passes its address to
//! [`trap_dispatch`] and, when that returns, pops it all back and `iretq`s, so a handler may
//! change any saved register (RIP, RSP, RFLAGS included) to redirect the return. Ring-3 traps,
//! system calls through the exception gate and signal delivery will use this same frame,
//! which is why its layout is asserted field by field below. (Ring-3 entries will also need
//! `swapgs`; that arrives with user mode.)
//!
//! The CPU aligns RSP to 16 bytes before pushing SS..RIP in long mode; the frame is 22
//! quadwords (176 bytes), so RSP is 16-byte aligned again at the `call`, as the ABI wants.
//!
//! # Now
//!
//! Every exception in ring 0 is a kernel bug (nothing expects one yet), so [`trap_dispatch`]
//! prints a report (vector name, error code, RIP, CR2 for `#PF`, all registers, control
//! registers, a frame-pointer backtrace) on the serial port and the console, and ends the VM
//! with `KERNEL_FAULT`. `#DF` runs on IST1 (see `gdt`). A fault while reporting a fault prints
//! one short line on the serial port and exits at once.

use core::arch::{asm, global_asm};
use core::fmt::{self, Write};
use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicBool, Ordering};

use shared_abi::current::ports::status;

use super::{backtrace, cpu};
use crate::drivers::serial::Serial;

/// Saved state of the interrupted context, as built by the entry stubs (lowest address
/// first).
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
    /// Exception vector (pushed by the stub).
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

/// `#DF`, the vector that runs on IST1.
pub const VECTOR_DOUBLE_FAULT: u8 = 8;
/// `#PF`.
pub const VECTOR_PAGE_FAULT: u8 = 14;

global_asm!(
    r#"
    .macro TRAP_STUB vec, has_error_code
    .balign 16
trap_stub_\vec:
    .if \has_error_code == 0
    push 0
    .endif
    push \vec
    jmp trap_common
    .endm

    .pushsection .text.trap, "ax"
    .irp v, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
    TRAP_STUB \v, 0
    .endr
    .irp v, 8,10,11,12,13,14,17,21,29,30
    TRAP_STUB \v, 1
    .endr

    .balign 16
trap_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    mov rdi, rsp
    call {dispatch}
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16                        /* vector, error code */
    iretq
    .popsection

    .pushsection .rodata.trap, "a"
    .balign 8
    .global trap_stub_table
trap_stub_table:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad trap_stub_\v
    .endr
    .popsection
    "#,
    dispatch = sym trap_dispatch,
);

unsafe extern "C" {
    /// Addresses of the 32 entry stubs, by vector (in `.rodata.trap` above).
    static trap_stub_table: [u64; 32];
}

/// Addresses of the 32 exception entry stubs, by vector.
pub fn stub_addresses() -> &'static [u64; 32] {
    // SAFETY: `trap_stub_table` is an initialised, read-only array of 32 quadwords defined in
    // the assembly above.
    unsafe { &trap_stub_table }
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

/// Set while a fault report is being written.
static FAULTING: AtomicBool = AtomicBool::new(false);

/// The Rust side of every exception entry (called by `trap_common` with the frame).
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    // Read CR2 first: a fault while reporting would overwrite it.
    let regs = cpu::control_regs();
    // Memory management first: demand paging, user-access fix-ups, stack-overflow notes.
    if (frame.vector == u64::from(VECTOR_PAGE_FAULT)
        || frame.vector == u64::from(VECTOR_DOUBLE_FAULT))
        && crate::mm::fault::handle_trap(frame, regs.cr2) == crate::mm::fault::Outcome::Handled
    {
        return;
    }
    if FAULTING.swap(true, Ordering::AcqRel) {
        let mut serial = Serial::COM1;
        let _ = writeln!(
            serial,
            "kernel fault while reporting a fault: vector {} at rip {:#x}",
            frame.vector, frame.rip
        );
        cpu::exit(status::KERNEL_FAULT);
    }
    let mut out = crate::console::Emergency::new();
    let _ = report(&mut out, frame, &regs);
    drop(out);
    cpu::exit(status::KERNEL_FAULT);
}

/// Writes the kernel-fault report for `frame`.
fn report(out: &mut impl Write, f: &TrapFrame, regs: &cpu::ControlRegs) -> fmt::Result {
    let (mnemonic, name) = vector_name(f.vector);
    write!(
        out,
        "kernel fault: {mnemonic} {name} (vector {}), error code {:#x}",
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
    writeln!(out)?;
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
