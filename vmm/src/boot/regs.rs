//! The CPU state the guest starts in, described without KVM types.
//!
//! **BSP (vCPU 0)** enters the kernel at its PVH entry in the state the PVH ABI
//! (xenbits.xen.org/docs/unstable/misc/pvh.html) prescribes: 32-bit flat protected mode with
//! paging off — CS a 32-bit execute/read segment, DS/ES/FS/GS/SS 32-bit read/write segments, all
//! base 0 limit 4 GiB; CR0 = PE | ET, CR4 = 0, EFER = 0, RFLAGS = 0x2, EBX = the guest-physical
//! address of `hvm_start_info`. TR holds a minimal 32-bit TSS descriptor only because KVM
//! refuses to enter protected mode with an unusable TR. The segments are also written as a small
//! GDT in the reserved boot area (selectors 0x08 code, 0x10 data, 0x18 TSS) so that the hidden
//! descriptor caches match a real table; the guest loads its own GDT before relying on one.
//!
//! **APs (vCPUs 1..N-1)** are left in KVM's reset state: with the in-kernel irqchip they wait
//! for INIT-SIPI-SIPI (`KVM_MP_STATE_UNINITIALIZED`; KVM_RUN blocks in the host kernel), and the
//! guest starts them exactly as it would on QEMU or hardware, in real mode at the SIPI vector.
//! The VMM does not set their registers.
//!
//! `kvm/` turns this description into `kvm_regs`/`kvm_sregs`.

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::layout::BOOT_GDT_START;

/// CR0.PE: protected mode.
pub const CR0_PE: u64 = 1 << 0;
/// CR0.ET: extension type (always 1 on modern CPUs).
pub const CR0_ET: u64 = 1 << 4;
/// The only RFLAGS bit set at entry (bit 1 is reserved, always 1).
pub const RFLAGS_RESERVED: u64 = 1 << 1;

/// Selector of the boot code segment.
pub const BOOT_CS: u16 = 0x08;
/// Selector of the boot data segment.
pub const BOOT_DS: u16 = 0x10;
/// Selector of the boot TSS.
pub const BOOT_TR: u16 = 0x18;

/// A segment register's visible selector and hidden descriptor cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Base address.
    pub base: u64,
    /// Limit in bytes (already scaled by granularity).
    pub limit: u32,
    /// Selector.
    pub selector: u16,
    /// Type field (4 bits).
    pub type_: u8,
    /// Present.
    pub present: bool,
    /// Descriptor privilege level.
    pub dpl: u8,
    /// Default operation size (1 = 32-bit).
    pub db: bool,
    /// Code/data (true) or system (false) descriptor.
    pub s: bool,
    /// 64-bit code segment.
    pub l: bool,
    /// Granularity (4 KiB units).
    pub g: bool,
}

impl Segment {
    /// The 8-byte GDT descriptor encoding this segment.
    pub fn gdt_entry(&self) -> u64 {
        let limit = if self.g { self.limit >> 12 } else { self.limit };
        let limit = u64::from(limit);
        let base = self.base & 0xffff_ffff;
        let access = u64::from(self.type_ & 0xf)
            | (u64::from(self.s) << 4)
            | (u64::from(self.dpl & 3) << 5)
            | (u64::from(self.present) << 7);
        let flags = (u64::from(self.l) << 1) | (u64::from(self.db) << 2) | (u64::from(self.g) << 3);
        (limit & 0xffff)
            | ((base & 0xff_ffff) << 16)
            | (access << 40)
            | (((limit >> 16) & 0xf) << 48)
            | (flags << 52)
            | (((base >> 24) & 0xff) << 56)
    }
}

/// The flat 32-bit code segment of the PVH entry.
pub const CODE32: Segment = Segment {
    base: 0,
    limit: 0xffff_ffff,
    selector: BOOT_CS,
    type_: 0xb,
    present: true,
    dpl: 0,
    db: true,
    s: true,
    l: false,
    g: true,
};

/// The flat 32-bit data segment of the PVH entry.
pub const DATA32: Segment = Segment {
    base: 0,
    limit: 0xffff_ffff,
    selector: BOOT_DS,
    type_: 0x3,
    present: true,
    dpl: 0,
    db: true,
    s: true,
    l: false,
    g: true,
};

/// The minimal busy 32-bit TSS KVM needs in TR.
pub const TSS32: Segment = Segment {
    base: 0,
    limit: 0x67,
    selector: BOOT_TR,
    type_: 0xb,
    present: true,
    dpl: 0,
    db: false,
    s: false,
    l: false,
    g: false,
};

/// Everything the BSP's registers are set to at the PVH entry. Registers not named are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryState {
    /// Instruction pointer: the PVH entry.
    pub rip: u64,
    /// RBX: guest-physical address of `hvm_start_info`.
    pub rbx: u64,
    /// RFLAGS.
    pub rflags: u64,
    /// CR0.
    pub cr0: u64,
    /// CR4.
    pub cr4: u64,
    /// EFER.
    pub efer: u64,
    /// CS.
    pub cs: Segment,
    /// DS, ES, FS, GS and SS.
    pub data: Segment,
    /// TR.
    pub tr: Segment,
    /// GDTR base.
    pub gdt_base: u64,
    /// GDTR limit.
    pub gdt_limit: u16,
}

/// The BSP's state at the PVH entry `entry` with `hvm_start_info` at `start_info`.
pub fn pvh_entry_state(entry: u64, start_info: u64) -> EntryState {
    EntryState {
        rip: entry,
        rbx: start_info,
        rflags: RFLAGS_RESERVED,
        cr0: CR0_PE | CR0_ET,
        cr4: 0,
        efer: 0,
        cs: CODE32,
        data: DATA32,
        tr: TSS32,
        gdt_base: BOOT_GDT_START,
        gdt_limit: (boot_gdt().len() * 8 - 1) as u16,
    }
}

/// The boot GDT: null, code, data, TSS.
pub fn boot_gdt() -> [u64; 4] {
    [0, CODE32.gdt_entry(), DATA32.gdt_entry(), TSS32.gdt_entry()]
}

/// Writes [`boot_gdt`] at [`BOOT_GDT_START`].
pub fn write_boot_gdt(mem: &GuestMemoryMmap) -> Result<(), vm_memory::GuestMemoryError> {
    for (i, e) in boot_gdt().iter().enumerate() {
        mem.write_obj(*e, GuestAddress(BOOT_GDT_START + 8 * i as u64))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gdt_entries_match_the_classic_encodings() {
        // The values every 32-bit boot GDT uses (Linux's boot GDT, Firecracker's gdt.rs).
        assert_eq!(CODE32.gdt_entry(), 0x00cf_9b00_0000_ffff);
        assert_eq!(DATA32.gdt_entry(), 0x00cf_9300_0000_ffff);
        assert_eq!(TSS32.gdt_entry(), 0x0000_8b00_0000_0067);
    }

    #[test]
    fn selectors_index_the_gdt() {
        let gdt = boot_gdt();
        assert_eq!(gdt[usize::from(BOOT_CS >> 3)], CODE32.gdt_entry());
        assert_eq!(gdt[usize::from(BOOT_DS >> 3)], DATA32.gdt_entry());
        assert_eq!(gdt[usize::from(BOOT_TR >> 3)], TSS32.gdt_entry());
    }

    #[test]
    fn pvh_state() {
        let s = pvh_entry_state(0x10_0000, 0xf_2000);
        assert_eq!(s.rip, 0x10_0000);
        assert_eq!(s.rbx, 0xf_2000);
        assert_eq!(s.rflags, 2);
        assert_eq!(s.cr0, 0x11);
        assert_eq!((s.cr4, s.efer), (0, 0));
        assert!(s.cs.db && s.cs.g && s.cs.s && s.cs.present && !s.cs.l);
        assert_eq!(s.cs.type_, 0xb);
        assert_eq!(s.data.type_, 0x3);
        assert_eq!(s.gdt_limit, 31);
    }
}
