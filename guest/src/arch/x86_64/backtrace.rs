//! Frame-pointer backtraces, bounded to the known kernel stacks.
//!
//! The kernel is built with frame pointers (`-C force-frame-pointers=yes`), so each frame
//! starts with `[saved rbp, return address]` at `rbp`. The walk only dereferences a frame
//! pointer that is 8-byte aligned and whose 16 bytes lie inside one of the kernel stacks
//! ([`kernel_stacks`]), follows saved RBPs only upwards (towards older frames), and stops
//! after [`MAX_FRAMES`] frames, at RBP = 0 (the boot entry clears it) or at anything
//! suspicious. A corrupted stack therefore ends the backtrace early instead of faulting inside
//! the panic or fault report. Addresses are printed raw: resolve them with
//! `addr2line -e lwpvm-kernel` (the release image keeps line tables).

use core::fmt::{self, Write};

use super::boot::BOOT_STACK;
use super::gdt::DOUBLE_FAULT_STACK;

/// Most frames printed.
pub const MAX_FRAMES: usize = 32;

/// `[bottom, top)` of every kernel stack: the boot stack and the double-fault IST stack.
pub fn kernel_stacks() -> [(u64, u64); 2] {
    [
        (BOOT_STACK.bottom(), BOOT_STACK.top()),
        (DOUBLE_FAULT_STACK.bottom(), DOUBLE_FAULT_STACK.top()),
    ]
}

/// The kernel stack that holds all of `[addr, addr + len)`, if any.
fn stack_of(addr: u64, len: u64) -> Option<(u64, u64)> {
    let end = addr.checked_add(len)?;
    kernel_stacks()
        .into_iter()
        .find(|&(bottom, top)| addr >= bottom && end <= top)
}

/// Calls `f(depth, address)` for each frame: `rip` first (depth 0) if given, then the return
/// addresses found by walking the frame-pointer chain from `rbp`.
pub fn walk(rip: Option<u64>, rbp: u64, mut f: impl FnMut(usize, u64)) {
    let first = usize::from(rip.is_some());
    if let Some(rip) = rip {
        f(0, rip);
    }
    let mut fp = rbp;
    let Some(stack) = stack_of(fp, 16) else {
        return;
    };
    for depth in first..MAX_FRAMES {
        if !fp.is_multiple_of(8) || stack_of(fp, 16) != Some(stack) {
            return;
        }
        let frame = fp as *const u64;
        // SAFETY: `fp` is 8-aligned and `[fp, fp + 16)` lies inside a kernel stack (a static
        // that is always mapped), so both loads read mapped, initialised memory. The values
        // may be garbage; they are only printed or range-checked.
        let (saved_rbp, ret) = unsafe { (frame.read(), frame.add(1).read()) };
        if ret == 0 {
            return;
        }
        f(depth, ret);
        if saved_rbp <= fp {
            return;
        }
        fp = saved_rbp;
    }
}

/// Writes a backtrace (see [`walk`]) as `backtrace:` and one `  #n 0x...` line per frame.
pub fn write(out: &mut impl Write, rip: Option<u64>, rbp: u64) -> fmt::Result {
    writeln!(out, "backtrace:")?;
    let mut result = Ok(());
    walk(rip, rbp, |depth, addr| {
        if result.is_ok() {
            result = writeln!(out, "  #{depth:<2} {addr:#018x}");
        }
    });
    result
}
