//! The address-space calls: `brk`, `mmap` (anonymous), `munmap`, `mprotect`.
//!
//! The semantics and errnos are `lwpvm_mmcore::space` (host-tested against Linux's
//! `mm/mmap.c`, `mm/vma.c`, `mm/mprotect.c`); `mm::VmSpace` applies them to the page tables
//! and shoots down other CPUs' TLB entries. Here: the argument decoding Linux does before
//! (`arch/x86/kernel/sys_x86_64.c` `sys_mmap`, `mm/mmap.c` `ksys_mmap_pgoff`).

use alloc::sync::Arc;

use shared_abi::current::errno::{EBADF, EINVAL, ENODEV, ENOMEM};
use shared_abi::current::mman::MAP_ANONYMOUS;

use super::{args, SysResult};
use crate::arch::trap::TrapFrame;
use crate::mm::vmspace::VmSpace;

/// The caller's address space.
fn vm() -> Result<Arc<VmSpace>, i32> {
    crate::proc::current()
        .and_then(|l| l.process())
        .and_then(|p| p.vm())
        .ok_or(ENOMEM)
}

/// A `prot` argument as the 32-bit value the region code checks: Linux takes an `unsigned
/// long`, so bits above 31 are unknown protection bits; they become bit 31, unknown too.
fn prot32(prot: u64) -> u32 {
    if prot >> 32 != 0 {
        prot as u32 | 0x8000_0000
    } else {
        prot as u32
    }
}

/// `brk(addr)`: the new break, or the old one if `addr` is refused (Linux never fails).
pub fn brk(frame: &mut TrapFrame) -> SysResult {
    let [addr, ..] = args(frame);
    Ok(vm()?.brk(addr))
}

/// `mmap(addr, len, prot, flags, fd, offset)`, anonymous memory only.
pub fn mmap(frame: &mut TrapFrame) -> SysResult {
    let [addr, len, prot, flags, fd, off] = args(frame);
    // sys_mmap: the offset must be page-aligned (for anonymous mappings too).
    if off & 0xfff != 0 {
        return Err(EINVAL);
    }
    // ksys_mmap_pgoff: a file mapping needs an open file; the console cannot be mapped.
    if flags & u64::from(MAP_ANONYMOUS) == 0 {
        return Err(match fd as u32 {
            0..=2 => ENODEV,
            _ => EBADF,
        });
    }
    // Flags are an `unsigned long`; bits above 31 are unknown flags, which Linux ignores for
    // anonymous mappings (MAP_SHARED_VALIDATE is EINVAL for them anyway).
    vm()?.mmap(addr, len, prot32(prot), flags as u32)
}

/// `munmap(addr, len)`.
pub fn munmap(frame: &mut TrapFrame) -> SysResult {
    let [addr, len, ..] = args(frame);
    vm()?.munmap(addr, len).map(|()| 0)
}

/// `mprotect(addr, len, prot)`.
pub fn mprotect(frame: &mut TrapFrame) -> SysResult {
    let [addr, len, prot, ..] = args(frame);
    vm()?.mprotect(addr, len, prot32(prot)).map(|()| 0)
}
