//! Model-specific registers: the numbers the kernel uses, plain `rdmsr`/`wrmsr`, and probing
//! variants that survive a `#GP` on an MSR the host does not implement.
//!
//! The probing variants are two tiny assembly functions whose faulting instruction is listed
//! in [`super::trap`]'s fix-up table: a `#GP` there resumes at the function's failure exit
//! instead of being reported as a kernel fault. They are for boot-time feature probes (the
//! KVM paravirtual clock); everything else uses the plain forms, where a `#GP` is a bug.

use core::arch::{asm, global_asm};

/// `IA32_APIC_BASE`: LAPIC base address, enable (bit 11) and x2APIC mode (bit 10).
pub const IA32_APIC_BASE: u32 = 0x1b;
/// `IA32_TSC_DEADLINE`: the LAPIC timer's deadline in TSC-deadline mode.
pub const IA32_TSC_DEADLINE: u32 = 0x6e0;
/// `IA32_EFER`.
pub const IA32_EFER: u32 = 0xc000_0080;
/// `IA32_STAR`: `syscall`/`sysret` selectors.
pub const IA32_STAR: u32 = 0xc000_0081;
/// `IA32_LSTAR`: the 64-bit `syscall` entry point.
pub const IA32_LSTAR: u32 = 0xc000_0082;
/// `IA32_FMASK`: RFLAGS bits `syscall` clears.
pub const IA32_FMASK: u32 = 0xc000_0084;
/// `IA32_FS_BASE`.
pub const IA32_FS_BASE: u32 = 0xc000_0100;
/// `IA32_GS_BASE`: the active GS base (the per-CPU area while in the kernel).
pub const IA32_GS_BASE: u32 = 0xc000_0101;
/// `IA32_KERNEL_GS_BASE`: the inactive GS base, swapped in by `swapgs` (the user's GS base
/// while in the kernel).
pub const IA32_KERNEL_GS_BASE: u32 = 0xc000_0102;
/// KVM's paravirtual clock (`MSR_KVM_SYSTEM_TIME_NEW`): the guest-physical address of a
/// `pvclock_vcpu_time_info`, bit 0 = enable.
pub const MSR_KVM_SYSTEM_TIME_NEW: u32 = 0x4b56_4d01;
/// The first x2APIC register MSR (`0x800 + offset / 16`).
pub const X2APIC_BASE: u32 = 0x800;

/// Reads an MSR. A `#GP` (an MSR this CPU lacks) is a kernel fault.
#[inline]
pub fn read(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: `rdmsr` only reads; the MSRs this kernel names exist on every x86_64 CPU it
    // supports, or are guarded by a CPUID check at the caller.
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    u64::from(lo) | (u64::from(hi) << 32)
}

/// Writes an MSR.
///
/// # Safety
///
/// Writing an MSR can change paging, segmentation, the interrupt controller or the system-call
/// entry: the caller guarantees the value keeps the kernel's invariants (see each MSR's user).
#[inline]
pub unsafe fn write(msr: u32, value: u64) {
    // SAFETY: the caller vouches for the effect (see above).
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32, options(nostack, preserves_flags))
    };
}

global_asm!(
    r#"
    .pushsection .text.msr_probe, "ax"
    .balign 16
    .global lwpvm_rdmsr_probe
lwpvm_rdmsr_probe:                     /* edi = msr, rsi = *mut u64; eax = 0 ok, 1 #GP */
    mov ecx, edi
    .global lwpvm_rdmsr_probe_insn
lwpvm_rdmsr_probe_insn:
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov [rsi], rax
    xor eax, eax
    ret
    .global lwpvm_rdmsr_probe_fail
lwpvm_rdmsr_probe_fail:
    mov eax, 1
    ret

    .balign 16
    .global lwpvm_wrmsr_probe
lwpvm_wrmsr_probe:                     /* edi = msr, rsi = value; eax = 0 ok, 1 #GP */
    mov ecx, edi
    mov eax, esi
    mov rdx, rsi
    shr rdx, 32
    .global lwpvm_wrmsr_probe_insn
lwpvm_wrmsr_probe_insn:
    wrmsr
    xor eax, eax
    ret
    .global lwpvm_wrmsr_probe_fail
lwpvm_wrmsr_probe_fail:
    mov eax, 1
    ret
    .popsection
    "#
);

unsafe extern "C" {
    fn lwpvm_rdmsr_probe(msr: u32, out: *mut u64) -> u32;
    fn lwpvm_wrmsr_probe(msr: u32, value: u64) -> u32;
    static lwpvm_rdmsr_probe_insn: u8;
    static lwpvm_rdmsr_probe_fail: u8;
    static lwpvm_wrmsr_probe_insn: u8;
    static lwpvm_wrmsr_probe_fail: u8;
}

/// `(faulting instruction, resume address)` pairs for the trap path's fix-up lookup.
pub(super) fn fixups() -> [(u64, u64); 2] {
    // Only the addresses of the assembly labels are taken.
    [
        (
            core::ptr::addr_of!(lwpvm_rdmsr_probe_insn) as u64,
            core::ptr::addr_of!(lwpvm_rdmsr_probe_fail) as u64,
        ),
        (
            core::ptr::addr_of!(lwpvm_wrmsr_probe_insn) as u64,
            core::ptr::addr_of!(lwpvm_wrmsr_probe_fail) as u64,
        ),
    ]
}

/// Reads an MSR that may not exist: `None` if `rdmsr` raised `#GP`.
#[allow(dead_code)] // for feature probes
pub fn probe_read(msr: u32) -> Option<u64> {
    let mut value = 0u64;
    // SAFETY: the probe only reads the MSR and writes `value`; a #GP resumes at its failure
    // exit through the fix-up table (trap.rs), with every callee-saved register intact.
    let failed = unsafe { lwpvm_rdmsr_probe(msr, &mut value) };
    (failed == 0).then_some(value)
}

/// Writes an MSR that may not exist: `false` if `wrmsr` raised `#GP`.
///
/// # Safety
///
/// As for [`write`]: if the MSR exists, the write takes effect.
pub unsafe fn probe_write(msr: u32, value: u64) -> bool {
    // SAFETY: the caller vouches for the effect; a #GP resumes at the failure exit.
    unsafe { lwpvm_wrmsr_probe(msr, value) == 0 }
}
