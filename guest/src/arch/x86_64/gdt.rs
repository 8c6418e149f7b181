//! The GDT and TSS of the boot CPU, with an IST stack for double faults.
//!
//! Selector layout (fixed: the boot GDT in `boot.rs` uses the same kernel selectors, and the
//! order of the user selectors is what `sysret` requires: SS = STAR[63:48] + 8,
//! CS = STAR[63:48] + 16 with STAR[63:48] = [`KERNEL_DS`]):
//!
//! | selector | descriptor |
//! |---|---|
//! | 0x00 | null |
//! | 0x08 | [`KERNEL_CS`]: 64-bit code, DPL 0 |
//! | 0x10 | [`KERNEL_DS`]: data, DPL 0 |
//! | 0x1b | [`USER_DS`]: data, DPL 3 |
//! | 0x23 | [`USER_CS`]: 64-bit code, DPL 3 |
//! | 0x28 | [`TSS_SEL`]: 64-bit TSS (two slots) |
//!
//! The TSS holds IST1 ([`DOUBLE_FAULT_IST`]) for `#DF`, so a kernel stack overflow ends in a
//! readable report instead of a triple fault. RSP0 (the stack ring-3 traps switch to) is set
//! when user mode arrives. One GDT and TSS for the boot CPU now; per-CPU copies come with SMP.
//! This module knows nothing of tasks.

use core::arch::asm;
use core::mem::size_of;

use super::layout::IST_STACK_SIZE;
use super::{BootCell, StackMem};

/// Kernel code selector.
pub const KERNEL_CS: u16 = 0x08;
/// Kernel data selector.
pub const KERNEL_DS: u16 = 0x10;
/// User data selector (RPL 3).
#[allow(dead_code)] // for user mode, which is not there yet
pub const USER_DS: u16 = 0x18 | 3;
/// User code selector (RPL 3).
#[allow(dead_code)] // for user mode, which is not there yet
pub const USER_CS: u16 = 0x20 | 3;
/// TSS selector.
pub const TSS_SEL: u16 = 0x28;

/// IST index (1-based, as in the IDT gate) of the double-fault stack.
pub const DOUBLE_FAULT_IST: u8 = 1;

/// The 64-bit task-state segment (Intel SDM vol. 3, 8.7).
#[repr(C, packed(4))]
pub struct Tss {
    _reserved0: u32,
    /// Stack pointers loaded on a privilege change to ring 0..2.
    pub rsp: [u64; 3],
    _reserved1: u64,
    /// Interrupt stack table, IST1..IST7.
    pub ist: [u64; 7],
    _reserved2: u64,
    _reserved3: u16,
    /// Offset of the I/O permission bitmap (beyond the limit: none).
    pub iomap_base: u16,
}

const _: () = assert!(size_of::<Tss>() == 104);

static TSS: BootCell<Tss> = BootCell::new(Tss {
    _reserved0: 0,
    rsp: [0; 3],
    _reserved1: 0,
    ist: [0; 7],
    _reserved2: 0,
    _reserved3: 0,
    iomap_base: size_of::<Tss>() as u16,
});

/// The double-fault stack.
pub(super) static DOUBLE_FAULT_STACK: StackMem<IST_STACK_SIZE> = StackMem::new();

/// The GDT: 5 ordinary descriptors, then the 16-byte TSS descriptor (slots 5 and 6).
static GDT: BootCell<[u64; 7]> = BootCell::new([
    0,
    0x00af_9b00_0000_ffff, // kernel code: P, DPL0, code RX accessed, L, G
    0x00cf_9300_0000_ffff, // kernel data: P, DPL0, data RW accessed, D/B, G
    0x00cf_f300_0000_ffff, // user data:   P, DPL3, data RW accessed, D/B, G
    0x00af_fb00_0000_ffff, // user code:   P, DPL3, code RX accessed, L, G
    0,                     // TSS low  (filled in by `init`)
    0,                     // TSS high
]);

/// The operand of `lgdt`/`lidt`.
#[repr(C, packed)]
pub(super) struct DescriptorTablePointer {
    pub limit: u16,
    pub base: u64,
}

/// Builds the TSS descriptor, loads the GDT, reloads every segment register and the task
/// register. Call once on the boot CPU, before anything can fault onto IST1.
pub fn init() {
    let tss_base = TSS.get() as u64;
    let ist1_top = DOUBLE_FAULT_STACK.top();
    let limit = (size_of::<Tss>() - 1) as u64;
    // 64-bit available TSS (type 9), present, DPL 0.
    let low = (limit & 0xffff)
        | ((tss_base & 0x00ff_ffff) << 16)
        | (0x89 << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (((tss_base >> 24) & 0xff) << 56);
    let high = tss_base >> 32;

    // SAFETY: single-threaded boot: nothing else references TSS or GDT yet (the CPU still
    // uses the boot GDT, and TR is not loaded). The TSS is packed(4): write through a raw
    // pointer with `write_unaligned` to avoid references to misaligned fields.
    unsafe {
        let tss = TSS.get();
        core::ptr::addr_of_mut!((*tss).ist[usize::from(DOUBLE_FAULT_IST - 1)])
            .write_unaligned(ist1_top);
        let gdt = &mut *GDT.get();
        gdt[5] = low;
        gdt[6] = high;
    }

    let gdtr = DescriptorTablePointer {
        limit: (size_of::<[u64; 7]>() - 1) as u16,
        base: GDT.get() as u64,
    };
    // SAFETY: the GDT is a static that lives forever with valid descriptors at the selectors
    // loaded here (KERNEL_CS, KERNEL_DS, TSS_SEL). CS is reloaded with a far return to the
    // next instruction. FS/GS are loaded with the null selector (their bases are set by MSR
    // later). `ltr` marks the TSS descriptor busy, which is why the GDT is writable.
    unsafe {
        asm!(
            "lgdt [{gdtr}]",
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {ds:e}",
            "mov es, {ds:e}",
            "mov ss, {ds:e}",
            "xor {tmp:e}, {tmp:e}",
            "mov fs, {tmp:e}",
            "mov gs, {tmp:e}",
            "ltr {tss:x}",
            gdtr = in(reg) &gdtr,
            cs = const KERNEL_CS,
            ds = in(reg) u32::from(KERNEL_DS),
            tss = in(reg) TSS_SEL,
            tmp = out(reg) _,
        );
    }
}
