//! Translation between the VMM's neutral CPU-state description and KVM's register structs, and
//! the register dump printed when a guest crashes.
//!
//! Knows `kvm_regs`/`kvm_sregs`/`kvm_segment`; knows nothing of why a state is chosen
//! (`boot/regs.rs` decides that).

use std::fmt::Write as _;

use kvm_bindings::{kvm_fpu, kvm_regs, kvm_segment, kvm_sregs};

use crate::boot::regs::{EntryState, Segment};
use crate::inspect::model::{CpuRegs, Hex};

/// x87 control word after FNINIT.
const FPU_FCW_DEFAULT: u16 = 0x37f;
/// MXCSR after reset (all exceptions masked).
const MXCSR_DEFAULT: u32 = 0x1f80;

/// A KVM segment from a neutral one.
pub fn kvm_segment_from(s: &Segment) -> kvm_segment {
    kvm_segment {
        base: s.base,
        limit: s.limit,
        selector: s.selector,
        type_: s.type_,
        present: u8::from(s.present),
        dpl: s.dpl,
        db: u8::from(s.db),
        s: u8::from(s.s),
        l: u8::from(s.l),
        g: u8::from(s.g),
        avl: 0,
        unusable: u8::from(!s.present),
        padding: 0,
    }
}

/// General-purpose registers for `state` (everything else 0).
pub fn entry_regs(state: &EntryState) -> kvm_regs {
    kvm_regs {
        rip: state.rip,
        rbx: state.rbx,
        rflags: state.rflags,
        ..Default::default()
    }
}

/// Applies `state` to the special registers read from the vCPU (keeping e.g. APIC base and
/// LDT as KVM reset them).
pub fn apply_entry_sregs(sregs: &mut kvm_sregs, state: &EntryState) {
    let data = kvm_segment_from(&state.data);
    sregs.cs = kvm_segment_from(&state.cs);
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.tr = kvm_segment_from(&state.tr);
    sregs.gdt.base = state.gdt_base;
    sregs.gdt.limit = state.gdt_limit;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    sregs.cr0 = state.cr0;
    sregs.cr3 = 0;
    sregs.cr4 = state.cr4;
    sregs.efer = state.efer;
}

/// The FPU state after FNINIT, with SSE exceptions masked.
pub fn default_fpu() -> kvm_fpu {
    kvm_fpu {
        fcw: FPU_FCW_DEFAULT,
        mxcsr: MXCSR_DEFAULT,
        ..Default::default()
    }
}

/// A multi-line, human-readable dump of the registers.
pub fn format_registers(regs: &kvm_regs, sregs: &kvm_sregs) -> String {
    let mut s = String::new();
    let r = regs;
    // Writing to a String cannot fail.
    let _ = writeln!(
        s,
        "  RAX={:016x} RBX={:016x} RCX={:016x} RDX={:016x}",
        r.rax, r.rbx, r.rcx, r.rdx
    );
    let _ = writeln!(
        s,
        "  RSI={:016x} RDI={:016x} RBP={:016x} RSP={:016x}",
        r.rsi, r.rdi, r.rbp, r.rsp
    );
    let _ = writeln!(
        s,
        "  R8 ={:016x} R9 ={:016x} R10={:016x} R11={:016x}",
        r.r8, r.r9, r.r10, r.r11
    );
    let _ = writeln!(
        s,
        "  R12={:016x} R13={:016x} R14={:016x} R15={:016x}",
        r.r12, r.r13, r.r14, r.r15
    );
    let _ = writeln!(s, "  RIP={:016x} RFLAGS={:08x}", r.rip, r.rflags);
    let _ = writeln!(
        s,
        "  CR0={:08x} CR2={:016x} CR3={:016x} CR4={:08x} EFER={:08x}",
        sregs.cr0, sregs.cr2, sregs.cr3, sregs.cr4, sregs.efer
    );
    let seg = |name: &str, g: &kvm_segment| {
        format!(
            "{name}={:04x} (base {:x} limit {:x} type {:x}{}{})",
            g.selector,
            g.base,
            g.limit,
            g.type_,
            if g.l != 0 { " L" } else { "" },
            if g.dpl != 0 {
                format!(" dpl{}", g.dpl)
            } else {
                String::new()
            }
        )
    };
    let _ = writeln!(s, "  {}  {}", seg("CS", &sregs.cs), seg("SS", &sregs.ss));
    let _ = writeln!(
        s,
        "  DS={:04x} ES={:04x} FS={:04x} GS={:04x} TR={:04x} FS.base={:x} GS.base={:x}",
        sregs.ds.selector,
        sregs.es.selector,
        sregs.fs.selector,
        sregs.gs.selector,
        sregs.tr.selector,
        sregs.fs.base,
        sregs.gs.base
    );
    let _ = write!(
        s,
        "  GDT={:x}/{:x} IDT={:x}/{:x} APIC_BASE={:x}",
        sregs.gdt.base, sregs.gdt.limit, sregs.idt.base, sregs.idt.limit, sregs.apic_base
    );
    s
}

/// The registers in the dump's neutral form.
pub fn cpu_regs(r: &kvm_regs, s: &kvm_sregs) -> CpuRegs {
    CpuRegs {
        rax: Hex(r.rax),
        rbx: Hex(r.rbx),
        rcx: Hex(r.rcx),
        rdx: Hex(r.rdx),
        rsi: Hex(r.rsi),
        rdi: Hex(r.rdi),
        rbp: Hex(r.rbp),
        rsp: Hex(r.rsp),
        r8: Hex(r.r8),
        r9: Hex(r.r9),
        r10: Hex(r.r10),
        r11: Hex(r.r11),
        r12: Hex(r.r12),
        r13: Hex(r.r13),
        r14: Hex(r.r14),
        r15: Hex(r.r15),
        rip: Hex(r.rip),
        rflags: Hex(r.rflags),
        cs: s.cs.selector,
        ss: s.ss.selector,
        cpl: s.cs.dpl,
        cr0: Hex(s.cr0),
        cr2: Hex(s.cr2),
        cr3: Hex(s.cr3),
        cr4: Hex(s.cr4),
        efer: Hex(s.efer),
        fs_base: Hex(s.fs.base),
        gs_base: Hex(s.gs.base),
    }
}

/// A one-line summary (RIP, CPL and mode) for hang reports.
pub fn summarize(regs: &kvm_regs, sregs: &kvm_sregs) -> String {
    let mode = if sregs.efer & (1 << 10) != 0 {
        "long mode"
    } else if sregs.cr0 & 1 != 0 {
        "protected mode"
    } else {
        "real mode"
    };
    format!(
        "RIP={:#x} CS={:#x} CPL={} {mode}",
        regs.rip,
        sregs.cs.selector,
        sregs.cs.selector & 3
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::regs::{pvh_entry_state, CODE32, TSS32};

    #[test]
    fn segments_translate() {
        let cs = kvm_segment_from(&CODE32);
        assert_eq!(
            (
                cs.base,
                cs.limit,
                cs.selector,
                cs.type_,
                cs.present,
                cs.db,
                cs.s,
                cs.g,
                cs.l
            ),
            (0, 0xffff_ffff, 8, 0xb, 1, 1, 1, 1, 0)
        );
        assert_eq!(cs.unusable, 0);
        let tr = kvm_segment_from(&TSS32);
        assert_eq!((tr.limit, tr.type_, tr.s, tr.present), (0x67, 0xb, 0, 1));
    }

    #[test]
    fn entry_state_applies() {
        let st = pvh_entry_state(0x10_0000, 0xf_2000);
        let r = entry_regs(&st);
        assert_eq!((r.rip, r.rbx, r.rflags), (0x10_0000, 0xf_2000, 2));
        let mut s = kvm_sregs {
            apic_base: 0xfee0_0900,
            cr0: 0x6000_0010,
            ..Default::default()
        };
        apply_entry_sregs(&mut s, &st);
        assert_eq!((s.cr0, s.cr4, s.efer, s.cr3), (0x11, 0, 0, 0));
        assert_eq!(s.apic_base, 0xfee0_0900, "kept");
        assert_eq!(s.ds.type_, 3);
        assert_eq!(s.ss.db, 1);
        let dump = format_registers(&r, &s);
        assert!(dump.contains("RIP=0000000000100000"));
        assert!(dump.contains("RBX=00000000000f2000"));
        assert!(dump.contains("CR0=00000011"));
        assert!(dump.contains("EFER=00000000"));
        assert!(summarize(&r, &s).contains("protected mode"));
    }
}
