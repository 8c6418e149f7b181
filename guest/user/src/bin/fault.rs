//! `fault KIND`: takes one user-mode fault of the given kind.
//!
//! The kernel must end the program with a clear report (the fault, the address, the
//! registers) and stay up; with signals, it must deliver the signal Linux x86_64 delivers
//! (`arch/x86/kernel/traps.c`, `arch/x86/mm/fault.c`), listed per kind below. The program
//! prints `fault: KIND: ...` before it faults. If it is still running afterwards it prints
//! `fault: KIND: no fault` and exits with [`NO_FAULT`]: the kernel let a fault through.
//! Exit status 2: no or unknown kind. `sysret` is the exception: it exits 0 when the kernel
//! correctly refuses to map the page the trick needs.
//!
//! | kind | what | vector | Linux signal, si_code |
//! |---|---|---|---|
//! | `ud2` | `ud2` | #UD | SIGILL, ILL_ILLOPN |
//! | `gp` | `hlt` (privileged) | #GP | SIGSEGV, SI_KERNEL |
//! | `gp-cli` | `cli` with IOPL 0 | #GP | SIGSEGV, SI_KERNEL |
//! | `gp-cr3` | `mov rax, cr3` | #GP | SIGSEGV, SI_KERNEL |
//! | `bad-iopl` | `in al, dx` (port 0x80) with IOPL 0, no I/O bitmap | #GP | SIGSEGV, SI_KERNEL |
//! | `int80` | `int 0x80`: not a user gate in lwpvm (no 32-bit emulation); #UD on this KVM | #GP | SIGSEGV, SI_KERNEL (a Linux with IA32 emulation runs i386 `getpid` instead: no fault) |
//! | `pf-read` | read an unmapped page | #PF | SIGSEGV, SEGV_MAPERR |
//! | `pf-write` | write a page made read-only with `mprotect` | #PF | SIGSEGV, SEGV_ACCERR |
//! | `pf-exec` | call into a page mapped without PROT_EXEC (needs NX) | #PF | SIGSEGV, SEGV_ACCERR |
//! | `null-call` | call address 0 | #PF | SIGSEGV, SEGV_MAPERR |
//! | `kernel-read` | read 0xffff_ffff_8000_0000 (the kernel image) | #PF | SIGSEGV, SEGV_MAPERR |
//! | `kernel-write` | write 0xffff_8000_0000_0000 (the direct map) | #PF | SIGSEGV, SEGV_MAPERR |
//! | `de` | divide by zero | #DE | SIGFPE, FPE_INTDIV |
//! | `wild-jump` | jump to 0x0000_8000_0000_0000 (non-canonical) | #GP | SIGSEGV, SI_KERNEL |
//! | `int3` | `int3` | #BP | SIGTRAP, SI_KERNEL |
//! | `single-step` | set TF with `popfq` | #DB | SIGTRAP, TRAP_TRACE |
//! | `ss` | `push` with a non-canonical `rsp` | #SS (Intel SDM) | SIGBUS, SI_KERNEL; the development host (AMD EPYC) reports SIGSEGV: accept either |
//! | `stack-overflow` | unbounded recursion | #PF | SIGSEGV, SEGV_MAPERR (at the stack limit) |
//! | `sigreturn` | `rt_sigreturn` on a stack of 0xff bytes | — | SIGSEGV (bad frame; before signals exist: ENOSYS, then "no fault") |
//! | `sysret` | map the last user page and run `syscall` in its last 2 bytes, so that the return address is non-canonical | — | the `mmap` must fail (ENOMEM): exit 0 |
//! | `gate-iopl ADDR` | jump to ADDR (the kernel's `syscall` entry, `IA32_LSTAR`) with RAX = getpid, R11 = RFLAGS with IOPL 3, RCX = the next instruction, then `cli` | #PF at ADDR; under lwpvm a system call (its fault gate) whose return must not grant IOPL 3: `cli` then raises #GP | SIGSEGV (Linux: SEGV_MAPERR at ADDR; lwpvm: SI_KERNEL at the `cli`) |
//! | `gate-rcx ADDR` | the same with RCX = 2^47 (non-canonical) | lwpvm: the call runs, its return address is refused | SIGSEGV (lwpvm: #GP SI_KERNEL at rip 0x800000000000) |
//!
//! `ss`, `wild-jump` and `sysret` reach the kernel with a user `rsp` or `rip` that must not
//! be trusted; `sigreturn` hands it garbage selectors and flags; the `gate-*` kinds hand a
//! kernel that treats a jump to its `syscall` entry as a system call (lwpvm on every host)
//! forged RCX and R11 images.
//!
//! Checked on the development host's Linux 6.18: every kind ends with the signal in the table
//! (`int80` and `ss` as noted), `sysret` exits 0.
#![no_std]
#![no_main]

use core::arch::asm;

use lwpvm_user::rt::Args;
use lwpvm_user::sys::{self, Errno};
use lwpvm_user::{entry, println};
use shared_abi::current::mman::{
    MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE,
    TASK_SIZE_MAX,
};
use shared_abi::current::syscall as nr;

entry!(main);

/// Exit status when the fault did not end the program.
pub const NO_FAULT: i32 = 99;

const PAGE: usize = 4096;

/// The kinds: name, what Linux delivers, the action.
const KINDS: &[(&str, &str, fn())] = &[
    ("ud2", "SIGILL ILL_ILLOPN", ud2),
    ("gp", "SIGSEGV SI_KERNEL", hlt),
    ("gp-cli", "SIGSEGV SI_KERNEL", cli),
    ("gp-cr3", "SIGSEGV SI_KERNEL", read_cr3),
    ("bad-iopl", "SIGSEGV SI_KERNEL", port_in),
    ("int80", "SIGSEGV SI_KERNEL", int80),
    ("pf-read", "SIGSEGV SEGV_MAPERR", pf_read),
    ("pf-write", "SIGSEGV SEGV_ACCERR", pf_write),
    ("pf-exec", "SIGSEGV SEGV_ACCERR", pf_exec),
    ("null-call", "SIGSEGV SEGV_MAPERR", null_call),
    ("kernel-read", "SIGSEGV SEGV_MAPERR", kernel_read),
    ("kernel-write", "SIGSEGV SEGV_MAPERR", kernel_write),
    ("de", "SIGFPE FPE_INTDIV", divide_by_zero),
    ("wild-jump", "SIGSEGV SI_KERNEL", wild_jump),
    ("int3", "SIGTRAP SI_KERNEL", int3),
    ("single-step", "SIGTRAP TRAP_TRACE", single_step),
    ("ss", "SIGBUS SI_KERNEL", bad_stack),
    ("stack-overflow", "SIGSEGV SEGV_MAPERR", stack_overflow),
    ("sigreturn", "SIGSEGV", sigreturn),
    ("sysret", "no fault: mmap of the last page fails", sysret),
    ("gate-iopl", "SIGSEGV (lwpvm: SI_KERNEL at the cli)", gate_iopl),
    ("gate-rcx", "SIGSEGV (lwpvm: SI_KERNEL at rip 1 << 47)", gate_rcx),
];

/// The `ADDR` argument of the `gate-*` kinds.
static GATE: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

fn main(args: Args) -> i32 {
    let Some(kind) = args.args().nth(1) else {
        usage();
        return 2;
    };
    let Some((name, expect, action)) = KINDS.iter().find(|k| k.0 == kind) else {
        println!("fault: unknown kind {kind:?}");
        usage();
        return 2;
    };
    if let Some(addr) = args.args().nth(2) {
        let addr = addr.trim_start_matches("0x");
        GATE.store(
            usize::from_str_radix(addr, 16).unwrap_or(0),
            core::sync::atomic::Ordering::Relaxed,
        );
    }
    println!("fault: {name}: faulting now (Linux delivers {expect})");
    action();
    println!("fault: {name}: no fault");
    NO_FAULT
}

fn usage() {
    println!("usage: fault KIND [ADDR], with KIND one of:");
    for (name, expect, _) in KINDS {
        println!("  {name:16} {expect}");
    }
}

fn ud2() {
    // SAFETY: raises #UD; nothing is changed if it returns.
    unsafe { asm!("ud2", options(nomem, nostack)) };
}

fn hlt() {
    // SAFETY: a privileged instruction: #GP in ring 3.
    unsafe { asm!("hlt", options(nomem, nostack)) };
}

fn cli() {
    // SAFETY: #GP with IOPL 0; if it executed, the `sti` undoes it.
    unsafe { asm!("cli", "sti", options(nomem, nostack)) };
}

fn read_cr3() {
    // SAFETY: reading CR3 is privileged: #GP in ring 3; rax is declared clobbered.
    unsafe { asm!("mov rax, cr3", out("rax") _, options(nomem, nostack)) };
}

fn port_in() {
    // SAFETY: #GP with IOPL 0 and no I/O bitmap; port 0x80 (POST) reads are harmless anyway.
    unsafe { asm!("in al, dx", in("dx") 0x80u16, out("al") _, options(nomem, nostack)) };
}

fn int80() {
    // SAFETY: vector 0x80 is not a user gate in lwpvm: #GP. eax = 20 is getpid in the i386
    // table, harmless if some kernel treats this as a 32-bit system call.
    unsafe {
        asm!("int 0x80", inout("rax") 20usize => _, options(nostack));
    }
}

fn pf_read() {
    let p = sys::mmap_anon(PAGE, PROT_READ | PROT_WRITE).unwrap_or(0);
    // SAFETY: the page is ours and unused; afterwards nothing is mapped there.
    let _ = unsafe { sys::munmap(p, PAGE) };
    println!("fault: reading {p:#x}");
    // SAFETY: a read of an unmapped page: #PF (the point of this kind).
    let v = unsafe { core::ptr::read_volatile(p as *const u64) };
    println!("fault: read {v:#x}");
}

fn pf_write() {
    let p = sys::mmap_anon(PAGE, PROT_READ | PROT_WRITE).unwrap_or(0);
    // SAFETY: our page; only the write below touches it.
    let r = unsafe { sys::mprotect(p, PAGE, PROT_READ) };
    println!("fault: writing {p:#x} (mprotect: {r:?})");
    // SAFETY: a write to a read-only page: #PF (the point of this kind).
    unsafe { core::ptr::write_volatile(p as *mut u64, 1) };
}

fn pf_exec() {
    let p = sys::mmap_anon(PAGE, PROT_READ | PROT_WRITE).unwrap_or(0);
    // SAFETY: our page: `ret` at its start.
    unsafe { core::ptr::write_volatile(p as *mut u8, 0xc3) };
    println!("fault: calling {p:#x} (RW, not X)");
    // SAFETY: an instruction fetch from a no-execute page: #PF. Were NX not enforced, the
    // `ret` there would return here.
    unsafe { asm!("call {p}", p = in(reg) p, clobber_abi("C")) };
}

fn null_call() {
    // SAFETY: a call to address 0: #PF (page zero is never mapped).
    unsafe { asm!("call {p}", p = in(reg) 0usize, clobber_abi("C")) };
}

fn kernel_read() {
    // SAFETY: a read of a supervisor page: #PF (protection violation).
    let v = unsafe { core::ptr::read_volatile(0xffff_ffff_8000_0000usize as *const u64) };
    println!("fault: read {v:#x}");
}

fn kernel_write() {
    // SAFETY: a write to a supervisor page: #PF. Were it allowed, it would corrupt the
    // kernel's direct map of physical page 0.
    unsafe { core::ptr::write_volatile(0xffff_8000_0000_0000usize as *mut u64, 0) };
}

fn divide_by_zero() {
    // SAFETY: `div` by zero: #DE. Registers are declared clobbered.
    unsafe {
        asm!("div ecx", inout("eax") 1u32 => _, inout("edx") 0u32 => _, in("ecx") 0u32,
             options(nomem, nostack));
    }
}

fn wild_jump() {
    // SAFETY: a jump to a non-canonical address: #GP. Nothing comes back.
    unsafe { asm!("jmp {t}", t = in(reg) 0x0000_8000_0000_0000usize, options(noreturn)) };
}

fn int3() {
    // SAFETY: a breakpoint: #BP (a trap: were it ignored, execution would continue here).
    unsafe { asm!("int3", options(nomem, nostack)) };
}

fn single_step() {
    // SAFETY: sets TF: #DB after the next instruction. If no trap ends the program, TF is
    // cleared again before returning.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], 0x100",
            "popfq",
            "nop",
            "nop",
            "pushfq",
            "and qword ptr [rsp], -0x101",
            "popfq",
        );
    }
}

fn bad_stack() {
    // SAFETY: a push with a non-canonical rsp: #SS. rsp is restored from r12 if it returns.
    unsafe {
        asm!(
            "mov r12, rsp",
            "mov rsp, {nc}",
            "push rax",
            "mov rsp, r12",
            nc = in(reg) 0x0000_8000_0000_0000usize,
            out("r12") _,
        );
    }
}

// Recursion without end is the point: the stack limit ends it.
#[allow(unconditional_recursion)]
#[inline(never)]
fn recurse(depth: usize) -> usize {
    let frame = [depth as u8; 1024];
    let frame = core::hint::black_box(frame);
    if depth.is_multiple_of(1024 * 64) {
        println!("fault: recursion depth {depth} ({} MiB of stack)", depth / 1024);
    }
    recurse(depth + 1) + frame[depth % 1024] as usize
}

fn stack_overflow() {
    let n = recurse(1);
    println!("fault: recursion ended at {n}");
}

fn sigreturn() {
    let p = sys::mmap_anon(2 * PAGE, PROT_READ | PROT_WRITE).unwrap_or(0);
    // SAFETY: our two pages, filled with 0xff: every field of the frame is garbage.
    unsafe { core::ptr::write_bytes(p as *mut u8, 0xff, 2 * PAGE) };
    let ret: isize;
    // SAFETY: rt_sigreturn reads a frame at the new rsp; if it returns, rsp is restored from
    // r12 (which the kernel must not change).
    unsafe {
        asm!(
            "mov r12, rsp",
            "mov rsp, {sp}",
            "syscall",
            "mov rsp, r12",
            sp = in(reg) p + PAGE,
            inout("rax") nr::SYS_RT_SIGRETURN => ret,
            out("rcx") _, out("r11") _, out("r12") _,
        );
    }
    println!("fault: rt_sigreturn returned {:?}", sys::check(ret));
}

fn sysret() {
    let top = TASK_SIZE_MAX as usize;
    // SAFETY: MAP_FIXED_NOREPLACE replaces nothing.
    let r = unsafe {
        sys::mmap(
            top,
            PAGE,
            PROT_READ | PROT_WRITE | PROT_EXEC,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    match r {
        Err(Errno(e)) => {
            println!("fault: sysret: the last user page cannot be mapped ({}): correct", Errno(e));
            sys::exit_group(0);
        }
        Ok(p) => {
            println!("fault: sysret: mapped {p:#x}: running syscall at its last 2 bytes");
            // SAFETY: our page: `syscall` (0f 05) in its last two bytes.
            unsafe { core::ptr::write_volatile((p + PAGE - 2) as *mut [u8; 2], [0x0f, 0x05]) };
            // SAFETY: jumps to the syscall; the return address is 1 << 47 (non-canonical), so
            // nothing comes back here.
            unsafe {
                asm!("jmp {t}", t = in(reg) p + PAGE - 2, in("rax") nr::SYS_GETPID,
                     options(noreturn));
            }
        }
    }
}

fn gate_iopl() {
    let entry = GATE.load(core::sync::atomic::Ordering::Relaxed);
    let ret: usize;
    // SAFETY: jumps to `entry` with a return address (RCX) of the label after it; a kernel
    // that takes this as a system call (getpid, no memory touched) comes back there, anything
    // else ends the program. rbx, r12 (callee-saved) are saved and restored around it. The
    // `cli` raises #GP unless the kernel returned with IOPL 3; `sti` undoes it if it did not.
    unsafe {
        asm!(
            "lea rcx, [rip + 2f]",
            "mov r11, 0x3202",
            "jmp {entry}",
            "2:",
            "cli",
            "sti",
            entry = in(reg) entry,
            inout("rax") nr::SYS_GETPID => ret,
            out("rcx") _, out("r11") _,
        );
    }
    println!("fault: gate-iopl: the call returned {ret} and cli did not fault");
}

fn gate_rcx() {
    let entry = GATE.load(core::sync::atomic::Ordering::Relaxed);
    // SAFETY: jumps to `entry` with RCX non-canonical: nothing can come back here.
    unsafe {
        asm!(
            "jmp {entry}",
            entry = in(reg) entry,
            in("rax") nr::SYS_GETPID,
            in("rcx") 1usize << 47,
            in("r11") 0x202usize,
            options(noreturn),
        );
    }
}
