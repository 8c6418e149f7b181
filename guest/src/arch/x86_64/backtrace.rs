//! Frame-pointer backtraces, bounded to the known kernel stacks.
//!
//! The kernel is built with frame pointers (`-C force-frame-pointers=yes`), so each frame
//! starts with `[saved rbp, return address]` at `rbp`. The walk only dereferences a frame
//! pointer that is 8-byte aligned and whose 16 bytes lie inside one of the regions known to
//! hold kernel stacks ([`kernel_stacks`]: the boot stack, the IST stacks, regions their
//! owners register, and one stack of the slotted kernel-stack region of `mm::kstack`, whose
//! pages are checked to be mapped since free slots and guards are not), follows saved RBPs
//! only upwards (towards older frames), and stops
//! after [`MAX_FRAMES`] frames, at RBP = 0 (the boot entry clears it) or at anything
//! suspicious. A corrupted stack therefore ends the backtrace early instead of faulting inside
//! the panic or fault report. Addresses are printed raw: resolve them with
//! `addr2line -e lwpvm-kernel` (the release image keeps line tables).

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU64, Ordering};

use super::boot::BOOT_STACK;
use super::percpu;

/// Most frames printed.
pub const MAX_FRAMES: usize = 32;

/// Extra stack regions (`[bottom, top)`, 0/0 = unused) registered by the owners of kernel
/// stacks other than the boot stack, the IST stacks and the slotted region.
static REGIONS: [(AtomicU64, AtomicU64); 4] = [const { (AtomicU64::new(0), AtomicU64::new(0)) }; 4];

/// Registers `[bottom, top)` as memory that holds kernel stacks (it must stay mapped).
#[allow(dead_code)] // for stacks outside the slotted region (none today)
/// Silently ignored once [`REGIONS`] is full.
pub fn add_stack_region(bottom: u64, top: u64) {
    for (b, t) in &REGIONS {
        if t.load(Ordering::Acquire) == 0 {
            b.store(bottom, Ordering::Relaxed);
            t.store(top, Ordering::Release);
            return;
        }
    }
}

/// The slotted kernel-stack region: base, end, slot size, stack size (at the top of each
/// slot); zeros until registered.
static SLOTTED: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// Registers `[base, end)` as cut into `slot`-byte slots, each holding a `stack`-byte stack
/// at its top and an unmapped guard below (`mm::kstack`). Frames are read there only after
/// checking that their page is mapped.
pub fn set_slotted_stack_region(base: u64, end: u64, slot: u64, stack: u64) {
    SLOTTED[0].store(base, Ordering::Relaxed);
    SLOTTED[2].store(slot, Ordering::Relaxed);
    SLOTTED[3].store(stack, Ordering::Relaxed);
    SLOTTED[1].store(end, Ordering::Release);
}

/// The stack of the slotted region holding all of `[addr, addr + len)`, if its pages are
/// mapped.
fn slotted_stack_of(addr: u64, end: u64) -> Option<(u64, u64)> {
    let (base, rend) = (
        SLOTTED[0].load(Ordering::Relaxed),
        SLOTTED[1].load(Ordering::Acquire),
    );
    if addr < base || end > rend {
        return None;
    }
    let (slot, size) = (
        SLOTTED[2].load(Ordering::Relaxed),
        SLOTTED[3].load(Ordering::Relaxed),
    );
    let top = base + ((addr - base) / slot + 1) * slot;
    let bottom = top - size;
    let mapped = |a: u64| super::paging::translate(super::paging::kernel_root(), a).is_some();
    (addr >= bottom && end <= top && mapped(addr) && mapped(end - 1)).then_some((bottom, top))
}

/// `[bottom, top)` of every region known to hold kernel stacks: the boot stack, all CPUs'
/// IST stacks, and the registered regions (unused slots are empty ranges).
pub fn kernel_stacks() -> [(u64, u64); 6] {
    let mut out = [(0, 0); 6];
    out[0] = (BOOT_STACK.bottom(), BOOT_STACK.top());
    out[1] = percpu::ist_region();
    for (i, (b, t)) in REGIONS.iter().enumerate() {
        out[2 + i] = (b.load(Ordering::Relaxed), t.load(Ordering::Acquire));
    }
    out
}

/// The kernel stack region that holds all of `[addr, addr + len)`, if any.
fn stack_of(addr: u64, len: u64) -> Option<(u64, u64)> {
    let end = addr.checked_add(len)?;
    kernel_stacks()
        .into_iter()
        .find(|&(bottom, top)| addr >= bottom && end <= top)
        .or_else(|| slotted_stack_of(addr, end))
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
