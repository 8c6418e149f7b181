//! Single CPU instructions wrapped for the rest of the kernel: CPUID, the TSC, control
//! registers, halting, and leaving the VM through the exit port.
//!
//! Only instructions checked to work in ring 0 on the development machines' interpreted KVM
//! are used here (`rdtsc`, never `rdtscp`; no `xgetbv`). `cargo xtask build` rejects images that contain them (xtask/src/ring0.rs).

use core::arch::asm;

use shared_abi::current::ports::EXIT_PORT;

use super::io;

/// The four registers CPUID returns.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpuid {
    /// EAX.
    pub eax: u32,
    /// EBX.
    pub ebx: u32,
    /// ECX.
    pub ecx: u32,
    /// EDX.
    pub edx: u32,
}

/// Executes CPUID for `leaf`/`subleaf`.
pub fn cpuid(leaf: u32, subleaf: u32) -> Cpuid {
    // CPUID exists on every x86_64 CPU and has no side effects Rust can see.
    let r = core::arch::x86_64::__cpuid_count(leaf, subleaf);
    Cpuid {
        eax: r.eax,
        ebx: r.ebx,
        ecx: r.ecx,
        edx: r.edx,
    }
}

/// Reads the time-stamp counter.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` only reads the TSC (CR4.TSD is clear: we are in ring 0 anyway).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Control and flag registers, for fault and panic reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct ControlRegs {
    /// CR0.
    pub cr0: u64,
    /// CR2 (the last page-fault address).
    pub cr2: u64,
    /// CR3 (the page-table root).
    pub cr3: u64,
    /// CR4.
    pub cr4: u64,
    /// RFLAGS.
    pub rflags: u64,
}

/// A random 64-bit value from `rdrand`, if the CPU has it (CPUID.1:ECX[30]) and it delivers
/// within ten tries.
pub fn rdrand64() -> Option<u64> {
    if cpuid(1, 0).ecx & (1 << 30) == 0 {
        return None;
    }
    for _ in 0..10 {
        let (v, ok): (u64, u8);
        // SAFETY: `rdrand` writes a register and CF only (CPUID says it exists).
        unsafe {
            asm!("rdrand {v}", "setc {ok}", v = out(reg) v, ok = out(reg_byte) ok,
                 options(nomem, nostack))
        };
        if ok != 0 {
            return Some(v);
        }
    }
    None
}

/// Reads CR2 (the last page-fault address).
#[inline(always)]
pub fn cr2() -> u64 {
    let cr2: u64;
    // SAFETY: reading CR2 has no side effects (ring 0).
    unsafe { asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack, preserves_flags)) };
    cr2
}

/// Reads CR0, CR2, CR3, CR4 and RFLAGS.
pub fn control_regs() -> ControlRegs {
    let (cr0, cr2, cr3, cr4, rflags): (u64, u64, u64, u64, u64);
    // SAFETY: reading control registers and RFLAGS has no side effects (ring 0).
    unsafe {
        asm!(
            "mov {0}, cr0",
            "mov {1}, cr2",
            "mov {2}, cr3",
            "mov {3}, cr4",
            "pushfq",
            "pop {4}",
            out(reg) cr0, out(reg) cr2, out(reg) cr3, out(reg) cr4, out(reg) rflags,
            options(nomem, preserves_flags)
        );
    }
    ControlRegs {
        cr0,
        cr2,
        cr3,
        cr4,
        rflags,
    }
}

/// The current stack and frame pointers.
#[inline(always)]
pub fn stack_regs() -> (u64, u64) {
    let (rsp, rbp): (u64, u64);
    // SAFETY: copying RSP and RBP into other registers has no side effects.
    unsafe {
        asm!("mov {0}, rsp", "mov {1}, rbp", out(reg) rsp, out(reg) rbp, options(nomem, nostack, preserves_flags))
    }
    (rsp, rbp)
}

/// Disables interrupts and halts this CPU forever.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: `cli; hlt` stops this CPU; nothing after it runs (NMIs return to the loop).
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) }
    }
}

/// Ends the VM with `status`: a 32-bit write to the exit port ([`EXIT_PORT`]), then halts
/// forever in case the host ignores the write (QEMU without `isa-debug-exit`).
///
/// Under the lwpvm VMM the VMM exits with `status`; under QEMU with `(status << 1) | 1`.
pub fn exit(status: u32) -> ! {
    io::outl(EXIT_PORT, status);
    halt_forever()
}
