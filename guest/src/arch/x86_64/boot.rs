//! PVH boot: from the host's 32-bit entry to Rust in the higher half, and `hvm_start_info` →
//! [`BootInfo`].
//!
//! # The entry
//!
//! Both hosts (the lwpvm VMM through linux-loader, and QEMU `microvm` through qboot) start the
//! kernel the PVH way: at the physical address in the ELF note `Xen`/18
//! (`XEN_ELFNOTE_PHYS32_ENTRY`), in 32-bit flat protected mode with paging off, interrupts
//! off, and `EBX` = the guest-physical address of `struct hvm_start_info`. Nothing else may
//! be assumed: no stack (ESP may be anything), no GDT we own, arbitrary upper halves of the
//! registers once we are in long mode.
//!
//! `pvh_start32` (below, in assembly) then
//!
//! 0. points ESP at the top of the boot stack by its physical address (the far return below
//!    needs a stack; the lwpvm VMM enters with ESP = 0, QEMU's qboot with a stack of its own);
//! 1. checks CPUID for long mode (fails with a serial message and `BOOT_FAILURE` if absent)
//!    and for NX;
//! 2. sets CR4.PAE, loads CR3 with the boot page tables, sets EFER.LME (and EFER.NXE when the
//!    CPU has NX), sets CR0.PG|WP: long mode, compatibility submode;
//! 3. loads the boot GDT (same selectors as the final one: 0x08 kernel code, 0x10 kernel data)
//!    and far-jumps to 64-bit code, still at its physical (identity-mapped) address;
//! 4. jumps to the higher-half alias, loads the data segments, switches to the boot stack (a
//!    higher-half `.bss` array) and calls `kernel_main(start_info_phys)` in `main.rs`.
//!
//! The boot page tables are not built at run time: they are initialised data assembled below
//! (`.rept` loops evaluated by the assembler), so the entry costs a few dozen instructions
//! (ring 0 is interpreted at ~0.6 µs per instruction on the development machines' KVM). See
//! `layout.rs` for the resulting address space. Code in this file before the jump to the
//! higher half refers to symbols by physical address: `sym + PHYS_ADJ`, where `PHYS_ADJ` =
//! 2^64 - `KERNEL_BASE`, which wraps to `sym - KERNEL_BASE` in the linker's 64-bit arithmetic.
//!
//! # The start info
//!
//! [`parse_start_info`] validates `hvm_start_info` (magic, version, every address and length
//! against the part of the direct map that holds boot data: RAM below the 3 GiB MMIO hole)
//! and copies it into the kernel's one [`BootInfo`]: the command line, the memory map without
//! QEMU's bogus trailing `0/0/type 0` entry and without empty entries, and the modules (the
//! initrd is module 0). Generic code never sees the raw structure.
//!
//! Raw layout (Xen `public/arch-x86/hvm/start_info.h`), all little-endian:
//!
//! ```text
//! hvm_start_info (56 bytes, version 1)   hvm_modlist_entry (32)   hvm_memmap_table_entry (24)
//!  0 u32 magic = 0x336ec578                0 u64 paddr              0 u64 addr
//!  4 u32 version                           8 u64 size               8 u64 size
//!  8 u32 flags                            16 u64 cmdline_paddr     16 u32 type
//! 12 u32 nr_modules                       24 u64 reserved          20 u32 reserved
//! 16 u64 modlist_paddr
//! 24 u64 cmdline_paddr
//! 32 u64 rsdp_paddr
//! 40 u64 memmap_paddr     (version >= 1)
//! 48 u32 memmap_entries   (version >= 1)
//! 52 u32 reserved
//! ```

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, Ordering};

use shared_abi::current::boot::{HVM_START_MAGIC, XEN_ELFNOTE_PHYS32_ENTRY};
use shared_abi::current::ports::{status, COM1_PORT, EXIT_PORT};

use super::layout::{BOOT_STACK_SIZE, KERNEL_BASE, MMIO_WINDOW_START};
use super::phys::{self, le32, le64};
use super::{BootCell, StackMem};
use crate::boot_info::{BootInfo, BootInfoError, MemoryKind, MemoryRegion, Module, CMDLINE_MAX};

/// Adding this to a kernel symbol's virtual address gives its physical address (mod 2^64).
const PHYS_ADJ: u64 = 0u64.wrapping_sub(KERNEL_BASE);

/// The boot CPU's kernel stack.
pub(super) static BOOT_STACK: StackMem<BOOT_STACK_SIZE> = StackMem::new();

global_asm!(
    r#"
    .pushsection .text.boot, "ax"
    .code32
    .balign 16
    .global pvh_start32
    .type pvh_start32, @function
pvh_start32:
    cli
    cld
    mov esi, ebx                       /* esi: hvm_start_info (cpuid clobbers ebx) */
    /* PVH promises no stack (the lwpvm VMM enters with ESP = 0): use the boot stack, by its
       physical address until paging is on. */
    mov esp, offset {boot_stack} + {boot_stack_size} + {phys_adj}

    /* 1. Long mode? NX? */
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb .Lno_long_mode
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 29                  /* LM */
    jz .Lno_long_mode
    mov edi, edx                       /* edi bit 20: NX */

    /* 2. PAE, page tables, EFER.LME (+NXE), paging */
    mov eax, cr4
    or eax, 1 << 5                     /* PAE */
    mov cr4, eax
    mov eax, offset boot_pml4 + {phys_adj}
    mov cr3, eax
    mov ecx, 0xc0000080                /* IA32_EFER */
    rdmsr
    or eax, 1 << 8                     /* LME */
    test edi, 1 << 20
    jz 1f
    or eax, 1 << 11                    /* NXE */
1:  wrmsr
    mov eax, cr0
    or eax, 0x80010001                 /* PG | WP | PE */
    mov cr0, eax

    /* 3. 64-bit GDT, far jump into 64-bit code (identity-mapped) */
    lgdt [boot_gdtr + {phys_adj}]
    push 0x08
    mov eax, offset pvh_start64_low + {phys_adj}
    push eax
    retf

.Lno_long_mode:
    mov esi, offset .Lno_long_mode_msg + {phys_adj}
    mov dx, {com1}
2:  mov al, byte ptr [esi]
    test al, al
    jz 3f
    out dx, al
    inc esi
    jmp 2b
3:  mov dx, {exit_port}
    mov eax, {boot_failure}
    out dx, eax
4:  cli
    hlt
    jmp 4b

    .code64
pvh_start64_low:
    /* 4. Into the higher half, segments, stack, Rust */
    movabs rax, offset pvh_start64_high
    jmp rax
pvh_start64_high:
    mov eax, 0x10
    mov ds, eax
    mov es, eax
    mov ss, eax
    xor eax, eax
    mov fs, eax
    mov gs, eax
    lea rsp, [rip + {boot_stack} + {boot_stack_size}]
    xor ebp, ebp                       /* ends frame-pointer backtraces */
    mov edi, esi                       /* zero-extends: start_info_phys */
    call {kernel_main}
5:  cli
    hlt
    jmp 5b
    .size pvh_start32, . - pvh_start32
    .popsection

    .pushsection .rodata.boot, "a"
.Lno_long_mode_msg:
    .asciz "lwpvm: this CPU has no long mode (CPUID 0x80000001 EDX.LM)\n"
    .popsection

    /* The PVH entry note (Xen public/elfnote.h): name "Xen", type 18, the 32-bit entry. */
    .pushsection .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 4
    .long {note_type}
    .asciz "Xen"
    .balign 4
    .long pvh_start32 + {phys_adj}
    .balign 4
    .popsection

    /* Boot GDT: null, 0x08 kernel code (64-bit), 0x10 kernel data. */
    .pushsection .data.boot_gdt, "aw"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9b000000ffff
    .quad 0x00cf93000000ffff
boot_gdt_end:
    .balign 4
    .word 0
boot_gdtr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt + {phys_adj}
    .popsection

    /*
     * Boot page tables (see layout.rs). Flags: 0x003 = P|RW, 0x083 = P|RW|PS (2 MiB),
     * 0x09b = P|RW|PWT|PCD|PS (uncached: the 3..4 GiB MMIO hole).
     */
    .pushsection .data.boot_page_tables, "aw"
    .balign 4096
    .global boot_pml4
boot_pml4:
    .quad boot_pdpt_low + {phys_adj} + 0x003   /* [0]   identity map, 0..4 GiB */
    .fill 255, 8, 0
    .quad boot_pdpt_low + {phys_adj} + 0x003   /* [256] direct map, 0..4 GiB */
    .fill 254, 8, 0
    .quad boot_pdpt_high + {phys_adj} + 0x003  /* [511] kernel window */
boot_pdpt_low:
    .quad boot_pd + {phys_adj} + 0x003
    .quad boot_pd + 0x1000 + {phys_adj} + 0x003
    .quad boot_pd + 0x2000 + {phys_adj} + 0x003
    .quad boot_pd + 0x3000 + {phys_adj} + 0x003
    .fill 508, 8, 0
boot_pdpt_high:
    .fill 510, 8, 0
    .quad boot_pd + {phys_adj} + 0x003         /* [510] KERNEL_BASE -> physical 0..1 GiB */
    .quad 0
boot_pd:
    .set .Lpd_i, 0
    .rept 1536
    .quad (.Lpd_i << 21) | 0x083
    .set .Lpd_i, .Lpd_i + 1
    .endr
    .rept 512
    .quad (.Lpd_i << 21) | 0x09b
    .set .Lpd_i, .Lpd_i + 1
    .endr
    .popsection
    "#,
    phys_adj = const PHYS_ADJ,
    com1 = const COM1_PORT,
    exit_port = const EXIT_PORT,
    boot_failure = const status::BOOT_FAILURE,
    note_type = const XEN_ELFNOTE_PHYS32_ENTRY,
    boot_stack = sym BOOT_STACK,
    boot_stack_size = const BOOT_STACK_SIZE,
    kernel_main = sym crate::kernel_main,
);

unsafe extern "C" {
    /// The boot PML4 (in `.data.boot_page_tables` above).
    static boot_pml4: BootCell<[u64; 512]>;
}

/// The boot PML4 (virtual address in the kernel window), for `paging`.
pub(super) fn boot_pml4_table() -> &'static BootCell<[u64; 512]> {
    // SAFETY: taking a reference to an extern static defined in the assembly above; it is a
    // 4096-byte, 4096-aligned, initialised array of u64, and `BootCell` is
    // `repr(transparent)` over it, so the types match.
    unsafe { &boot_pml4 }
}

// ------------------------------------------------------------------------------------------
// hvm_start_info
// ------------------------------------------------------------------------------------------

/// Size of `hvm_start_info` version 1.
const START_INFO_SIZE: u64 = 56;
/// Size of `hvm_modlist_entry`.
const MODLIST_ENTRY_SIZE: u64 = 32;
/// Size of `hvm_memmap_table_entry`.
const MEMMAP_ENTRY_SIZE: u64 = 24;
/// Most raw memory-map entries looked at (the kept ones are further limited by `BootInfo`).
const MAX_RAW_MEMMAP_ENTRIES: u32 = 128;

/// The kernel's one boot info, filled in place by [`parse_start_info`].
static BOOT_INFO: BootCell<BootInfo> = BootCell::new(BootInfo::EMPTY);
/// Set once [`parse_start_info`] has started: it runs at most once.
static BOOT_INFO_TAKEN: AtomicBool = AtomicBool::new(false);

/// Boot data at `[phys, phys + len)`, if it lies in boot-readable RAM (see
/// [`phys::ram_bytes`]).
fn boot_bytes(what: &'static str, phys: u64, len: u64) -> Result<&'static [u8], BootInfoError> {
    phys::ram_bytes(phys, len).ok_or(BootInfoError::OutOfBounds { what, phys, len })
}

/// Validates the PVH `hvm_start_info` at `start_info_phys` and fills the kernel's
/// [`BootInfo`] from it.
///
/// # Panics
///
/// If called more than once.
pub fn parse_start_info(start_info_phys: u64) -> Result<&'static BootInfo, BootInfoError> {
    assert!(
        !BOOT_INFO_TAKEN.swap(true, Ordering::AcqRel),
        "parse_start_info called twice"
    );
    // SAFETY: the flag above makes this the only place that ever forms a reference to
    // BOOT_INFO's contents until this function returns; afterwards only shared references
    // exist (the one returned).
    let info = unsafe { &mut *BOOT_INFO.get() };
    fill(info, start_info_phys)?;
    Ok(info)
}

fn fill(info: &mut BootInfo, start_info_phys: u64) -> Result<(), BootInfoError> {
    info.source = "PVH hvm_start_info";
    info.raw_phys = start_info_phys;

    // The version-0 part first: magic and version decide how much there is.
    let head = boot_bytes("hvm_start_info", start_info_phys, 8)?;
    let magic = le32(head, 0);
    if magic != HVM_START_MAGIC {
        return Err(BootInfoError::BadMagic(magic));
    }
    if le32(head, 4) < 1 {
        return Err(BootInfoError::NoMemoryMap);
    }
    let si = boot_bytes("hvm_start_info", start_info_phys, START_INFO_SIZE)?;
    let nr_modules = le32(si, 12);
    let modlist_paddr = le64(si, 16);
    let cmdline_paddr = le64(si, 24);
    let rsdp_paddr = le64(si, 32);
    let memmap_paddr = le64(si, 40);
    let memmap_entries = le32(si, 48);

    info.rsdp_phys = (rsdp_paddr != 0).then_some(rsdp_paddr);

    // Command line: NUL-terminated, at most CMDLINE_MAX bytes including the NUL. Read only
    // what is there: the scan stops at the NUL or at the end of readable boot RAM.
    if cmdline_paddr != 0 {
        let avail = (MMIO_WINDOW_START.saturating_sub(cmdline_paddr)).min(CMDLINE_MAX as u64);
        let bytes = boot_bytes("command line", cmdline_paddr, avail.max(1))?;
        let len = bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or(BootInfoError::CmdlineTooLong)?;
        info.set_cmdline(&bytes[..len])?;
    }

    // Memory map.
    if memmap_entries > MAX_RAW_MEMMAP_ENTRIES {
        return Err(BootInfoError::TooMany {
            what: "memory-map entries",
            count: memmap_entries.into(),
            max: MAX_RAW_MEMMAP_ENTRIES as usize,
        });
    }
    if memmap_entries > 0 {
        let table = boot_bytes(
            "memory map",
            memmap_paddr,
            u64::from(memmap_entries) * MEMMAP_ENTRY_SIZE,
        )?;
        for e in table.chunks_exact(MEMMAP_ENTRY_SIZE as usize) {
            let (start, len, kind) = (le64(e, 0), le64(e, 8), le32(e, 16));
            if kind == 0 || start.checked_add(len).is_none() {
                // QEMU/qboot's bogus trailing 0/0/type-0 entry, or nonsense.
                info.skipped_regions += 1;
                continue;
            }
            info.push_region(MemoryRegion {
                start,
                len,
                kind: MemoryKind::from_e820(kind),
            })?;
        }
    }
    if info.usable_memory() == 0 {
        return Err(BootInfoError::NoUsableMemory);
    }

    // Modules (module 0 is the initrd). Their contents must be readable later.
    if nr_modules as usize > crate::boot_info::MAX_MODULES {
        return Err(BootInfoError::TooMany {
            what: "boot modules",
            count: nr_modules.into(),
            max: crate::boot_info::MAX_MODULES,
        });
    }
    if nr_modules > 0 {
        let list = boot_bytes(
            "module list",
            modlist_paddr,
            u64::from(nr_modules) * MODLIST_ENTRY_SIZE,
        )?;
        for e in list.chunks_exact(MODLIST_ENTRY_SIZE as usize) {
            let (phys, size) = (le64(e, 0), le64(e, 8));
            if size > 0 {
                boot_bytes("boot module", phys, size)?;
            }
            info.push_module(Module { phys, size })?;
        }
    }
    Ok(())
}
