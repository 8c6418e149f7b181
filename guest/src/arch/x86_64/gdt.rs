//! Per-CPU GDT and TSS, with Linux's x86_64 selector layout and IST stacks.
//!
//! Every CPU has its own GDT and TSS (in its [`PerCpu`](super::percpu::PerCpu) area): the TSS
//! holds that CPU's RSP0 (the running thread's kernel stack top, changed on every context
//! switch) and IST pointers into that CPU's IST stacks, and `ltr` marks the TSS descriptor
//! busy, so neither can be shared.
//!
//! Selector layout, as Linux's (`arch/x86/include/asm/segment.h`), so that selectors in
//! signal frames read as on Linux:
//!
//! | selector | index | descriptor |
//! |---|---|---|
//! | 0x00 | 0 | null |
//! | 0x08 | 1 | kernel 32-bit code (Linux's `__KERNEL32_CS`; unused) |
//! | 0x10 | 2 | [`KERNEL_CS`]: 64-bit code, DPL 0 |
//! | 0x18 | 3 | [`KERNEL_DS`]: data, DPL 0 |
//! | 0x23 | 4 | [`USER32_CS`]: 32-bit code, DPL 3, **not present**: a placeholder (compat mode is not supported; a far jump there raises `#NP`) |
//! | 0x2b | 5 | [`USER_DS`]: data, DPL 3 |
//! | 0x33 | 6 | [`USER_CS`]: 64-bit code, DPL 3 |
//! | 0x38 | 7 | null (as in Linux) |
//! | 0x40 | 8, 9 | [`TSS_SEL`]: 64-bit TSS |
//!
//! `IA32_STAR` ([`STAR_VALUE`]) puts `USER32_CS` in bits 63:48, so `sysretq` loads CS =
//! 0x23 + 16 = 0x33 and SS = 0x23 + 8 = 0x2b, and `KERNEL_CS` in bits 47:32, so `syscall`
//! loads CS = 0x10 and SS = 0x18.
//!
//! IST: 1 = `#DF` ([`IST_DOUBLE_FAULT`]), 2 = NMI ([`IST_NMI`]), 3 = `#MC`
//! ([`IST_MACHINE_CHECK`]): the three vectors that can arrive on a bad or unknown stack.
//! This module knows nothing of threads.
//!
//! # The I/O permission bitmap
//!
//! Each TSS is followed by an I/O permission bitmap ([`TssArea`]) covering ports 0..=0xff,
//! plus the terminating all-ones byte the CPU needs (it reads two bytes per check). Every
//! bit is 1 (denied) except those of the instruction-count mark port
//! (`ports::MARK_PORT..+MARK_PORT_SIZE`): ring 3 may write marks (benchmarks bracket their
//! loops with them and the VMM records its counters), and nothing else. Ports above 0xff lie
//! beyond the TSS limit and are denied too. IOPL stays 0, so `cli`, `in`/`out` to any other
//! port and the like still raise `#GP` in ring 3.

use core::arch::asm;
use core::mem::size_of;

/// Kernel 32-bit code selector (unused; Linux's `__KERNEL32_CS`).
#[allow(dead_code)] // documents the layout
pub const KERNEL32_CS: u16 = 0x08;
/// Kernel code selector.
pub const KERNEL_CS: u16 = 0x10;
/// Kernel data selector.
pub const KERNEL_DS: u16 = 0x18;
/// User 32-bit code selector (RPL 3): a not-present placeholder.
pub const USER32_CS: u16 = 0x20 | 3;
/// User data selector (RPL 3).
pub const USER_DS: u16 = 0x28 | 3;
/// User 64-bit code selector (RPL 3).
pub const USER_CS: u16 = 0x30 | 3;
/// TSS selector.
pub const TSS_SEL: u16 = 0x40;
/// Number of 8-byte GDT slots.
pub const GDT_ENTRIES: usize = 10;

/// `IA32_STAR`: `sysret` base selector in 63:48, `syscall` CS in 47:32.
pub const STAR_VALUE: u64 = ((USER32_CS as u64) << 48) | ((KERNEL_CS as u64) << 32);

/// IST index (1-based, as in an IDT gate) of the double-fault stack.
pub const IST_DOUBLE_FAULT: u8 = 1;
/// IST index of the NMI stack.
pub const IST_NMI: u8 = 2;
/// IST index of the machine-check stack.
pub const IST_MACHINE_CHECK: u8 = 3;

const _: () = {
    // sysret's arithmetic on STAR[63:48].
    assert!((USER32_CS & !3) + 8 == (USER_DS & !3));
    assert!((USER32_CS & !3) + 16 == (USER_CS & !3));
    // syscall's: SS = CS + 8.
    assert!(KERNEL_CS + 8 == KERNEL_DS);
    assert!(TSS_SEL as usize / 8 + 2 == GDT_ENTRIES);
};

/// The GDT's fixed descriptors (the TSS slots are filled per CPU).
const TEMPLATE: [u64; GDT_ENTRIES] = [
    0,
    0x00cf_9b00_0000_ffff, // 0x08 kernel 32-bit code: P, DPL0, code RX accessed, D, G
    0x00af_9b00_0000_ffff, // 0x10 kernel code: P, DPL0, code RX accessed, L, G
    0x00cf_9300_0000_ffff, // 0x18 kernel data: P, DPL0, data RW accessed, D/B, G
    0x00cf_7b00_0000_ffff, // 0x23 user 32-bit code: NOT present, DPL3, code RX, D, G
    0x00cf_f300_0000_ffff, // 0x2b user data: P, DPL3, data RW accessed, D/B, G
    0x00af_fb00_0000_ffff, // 0x33 user code: P, DPL3, code RX accessed, L, G
    0,                     // 0x38 unused
    0,                     // 0x40 TSS low (per CPU)
    0,                     // 0x48 TSS high
];

/// The 64-bit task-state segment (Intel SDM vol. 3, 8.7).
#[derive(Clone, Copy)]
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
    /// Offset of the I/O permission bitmap (see [`TssArea`]).
    pub iomap_base: u16,
}

const _: () = assert!(size_of::<Tss>() == 104);

impl Tss {
    /// An all-zero TSS (so that per-CPU areas stay in `.bss`); [`load`] fills it in.
    pub const ZERO: Self = Self {
        _reserved0: 0,
        rsp: [0; 3],
        _reserved1: 0,
        ist: [0; 7],
        _reserved2: 0,
        _reserved3: 0,
        iomap_base: 0,
    };
}

/// Bytes of the I/O permission bitmap: ports 0..=0xff (32 bytes) and the terminating byte.
pub const IOMAP_BYTES: usize = 0x100 / 8 + 1;

/// The bitmap: every port denied but the mark port (module documentation).
const IOMAP: [u8; IOMAP_BYTES] = {
    use shared_abi::current::ports::{MARK_PORT, MARK_PORT_SIZE};
    let mut m = [0xff; IOMAP_BYTES];
    let mut port = MARK_PORT as usize;
    while port < (MARK_PORT + MARK_PORT_SIZE) as usize {
        m[port / 8] &= !(1 << (port % 8));
        port += 1;
    }
    m
};

const _: () = assert!(
    (shared_abi::current::ports::MARK_PORT + shared_abi::current::ports::MARK_PORT_SIZE) as usize
        <= 0x100
);

/// A CPU's TSS and its I/O permission bitmap (the TSS limit covers both).
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
pub struct TssArea {
    /// The TSS proper.
    pub tss: Tss,
    /// The I/O permission bitmap (`Tss::iomap_base` = its offset).
    pub iomap: [u8; IOMAP_BYTES],
}

impl TssArea {
    /// All zeros (so that per-CPU areas stay in `.bss`); [`load`] fills it in, bitmap
    /// included, before the CPU can run ring-3 code.
    pub const ZERO: Self = Self {
        tss: Tss::ZERO,
        iomap: [0; IOMAP_BYTES],
    };
}

/// The operand of `lgdt`/`lidt`.
#[repr(C, packed)]
pub(super) struct DescriptorTablePointer {
    pub limit: u16,
    pub base: u64,
}

/// Fills this CPU's TSS (IST tops, RSP0, the I/O bitmap) and GDT, loads the GDT, reloads
/// every segment register and the task register.
///
/// # Safety
///
/// `gdt` and `tss` are this CPU's own, live forever and are not loaded on any other CPU;
/// `ist_tops` are the tops of stacks reserved for this CPU. Interrupts are disabled.
pub(super) unsafe fn load(
    gdt: *mut [u64; GDT_ENTRIES],
    tss: *mut TssArea,
    ist_tops: [u64; 3],
    rsp0: u64,
) {
    let tss_base = tss as u64;
    let limit = (size_of::<TssArea>() - 1) as u64;
    // 64-bit available TSS (type 9), present, DPL 0.
    let low = (limit & 0xffff)
        | ((tss_base & 0x00ff_ffff) << 16)
        | (0x89 << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (((tss_base >> 24) & 0xff) << 56);
    let high = tss_base >> 32;

    // SAFETY: the caller gives this CPU's own GDT and TSS, not yet loaded (or loaded only by
    // this CPU, which is not using them while interrupts are off). The TSS is packed(4):
    // write through raw pointers with `write_unaligned`.
    unsafe {
        let mut t = Tss::ZERO;
        t.rsp[0] = rsp0;
        t.ist[0] = ist_tops[0];
        t.ist[1] = ist_tops[1];
        t.ist[2] = ist_tops[2];
        t.iomap_base = size_of::<Tss>() as u16;
        tss.write_unaligned(TssArea {
            tss: t,
            iomap: IOMAP,
        });
        let mut g = TEMPLATE;
        g[TSS_SEL as usize / 8] = low;
        g[TSS_SEL as usize / 8 + 1] = high;
        gdt.write(g);
    }

    let gdtr = DescriptorTablePointer {
        limit: (size_of::<[u64; GDT_ENTRIES]>() - 1) as u16,
        base: gdt as u64,
    };
    // SAFETY: the GDT lives forever with valid descriptors at the selectors loaded here. CS is
    // reloaded with a far return. FS/GS get the null selector: loading a selector would clear
    // the bases, which are set by MSR afterwards (`percpu`). `ltr` marks the TSS descriptor
    // busy, which is why the GDT is writable and per CPU.
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

/// Sets RSP0 in `tss` (the stack a ring-3 interrupt or exception switches to).
///
/// # Safety
///
/// `tss` is this CPU's TSS; interrupts are disabled (the CPU reads RSP0 on a ring-3 entry).
#[inline]
pub(super) unsafe fn set_rsp0(tss: *mut TssArea, rsp0: u64) {
    // SAFETY: per the contract; the field is at offset 4 of a packed struct: unaligned write.
    unsafe { core::ptr::addr_of_mut!((*tss).tss.rsp[0]).write_unaligned(rsp0) }
}
