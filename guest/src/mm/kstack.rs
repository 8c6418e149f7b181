//! Kernel stacks for LWPs: 16 KiB each, with an unmapped guard below.
//!
//! The region at [`KSTACK_REGION_BASE`] (PML4 slot 384, shared by every address space) is cut
//! into [`KSTACK_SLOT_SIZE`] (32 KiB) slots. Slot `i` spans `[base + i·32 KiB, base +
//! (i+1)·32 KiB)`: its upper 16 KiB ([`KSTACK_SIZE`]) is the stack, mapped read-write and
//! no-execute; its lower 16 KiB is never mapped. A stack that overflows therefore touches
//! the guard, the CPU cannot push the `#PF` frame there and raises `#DF`, which runs on IST1
//! and reports "kernel stack overflow" (see `mm::fault`) instead of corrupting a neighbour.
//!
//! # Memory per stack
//!
//! 4 frames (16 KiB) of stack, plus 1/64 of a page table (one PT maps 64 slots: 64 bytes per
//! stack) and a negligible share of one page directory; 32 KiB of virtual space. At most
//! [`KSTACK_MAX_SLOTS`] stacks (2 GiB of virtual space).
//!
//! # Allocation
//!
//! O(1): a freed stack keeps its frames and mapping and goes onto a cache of up to
//! [`CACHE_MAX`] ready stacks, which the next allocation takes with no page-table work at
//! all; beyond that, its frames are unmapped and freed and the empty slot is remembered for
//! reuse. Fresh slots are taken in order. Stack memory is not zeroed (nobody reads a stack
//! before writing it).
//!
//! # Locking
//!
//! One spin lock ([`SLOTS`]) covers the slot lists and the region's page tables. It nests
//! outside the heap and frame locks.

use alloc::vec::Vec;
use core::arch::asm;

use spin::Mutex;

use super::frame;
use crate::arch::layout::{
    KSTACK_MAX_SLOTS, KSTACK_REGION_BASE, KSTACK_SIZE, KSTACK_SLOT_SIZE, PAGE_SIZE,
};
use crate::arch::paging::{self, nx, PTE_ADDR, PTE_P, PTE_W};

/// Most freed stacks kept mapped for reuse.
pub const CACHE_MAX: usize = 64;
/// Pages per stack.
const PAGES: usize = (KSTACK_SIZE / PAGE_SIZE as u64) as usize;

struct Slots {
    /// Slots never used start here.
    next_fresh: u32,
    /// Free slots whose stack is still mapped.
    cached: Vec<u32>,
    /// Free slots with nothing mapped.
    empty: Vec<u32>,
    /// Stacks handed out.
    live: u32,
}

static SLOTS: Mutex<Slots> = Mutex::new(Slots {
    next_fresh: 0,
    cached: Vec::new(),
    empty: Vec::new(),
    live: 0,
});

/// Why a stack could not be allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KstackError {
    /// No frames left.
    NoMemory,
    /// Every slot is in use.
    NoSlot,
}

/// A kernel stack; dropping it frees the slot (see the module documentation).
#[derive(Debug)]
pub struct KernelStack {
    slot: u32,
}

fn slot_base(slot: u32) -> u64 {
    KSTACK_REGION_BASE + u64::from(slot) * KSTACK_SLOT_SIZE
}

impl KernelStack {
    /// A new stack.
    pub fn new() -> Result<Self, KstackError> {
        let mut s = SLOTS.lock();
        if let Some(slot) = s.cached.pop() {
            s.live += 1;
            return Ok(Self { slot });
        }
        let slot = match s.empty.pop() {
            Some(slot) => slot,
            None if u64::from(s.next_fresh) < KSTACK_MAX_SLOTS => {
                s.next_fresh += 1;
                s.next_fresh - 1
            }
            None => return Err(KstackError::NoSlot),
        };
        let stack = Self { slot };
        let mut got = 0;
        // SAFETY: the stack region's tables change only under SLOTS' lock (held); the slot is
        // free, so its stack pages are unmapped; the frames are fresh from the allocator.
        let r = unsafe {
            paging::map_run(
                paging::kernel_root(),
                stack.bottom(),
                &mut |_| {
                    let f = frame::alloc()?;
                    got += 1;
                    Some(f)
                },
                PAGES,
                PTE_W | nx(),
                &mut frame::alloc_zeroed,
            )
        };
        if r.is_err() {
            unmap_slot(slot);
            s.empty.push(slot);
            return Err(KstackError::NoMemory);
        }
        s.live += 1;
        Ok(stack)
    }

    /// The initial stack pointer (one past the highest byte; 16-byte aligned).
    pub fn top(&self) -> u64 {
        slot_base(self.slot) + KSTACK_SLOT_SIZE
    }

    /// The lowest mapped byte.
    pub fn bottom(&self) -> u64 {
        self.top() - KSTACK_SIZE
    }

    /// Runs `f(arg)` on this stack and returns its result (for tests and for starting
    /// kernel threads' first frames later).
    pub fn run_on(&self, f: extern "C" fn(u64) -> u64, arg: u64) -> u64 {
        let ret: u64;
        // SAFETY: the stack is mapped and owned by `self` for the whole call; the old RSP is
        // saved on the new stack and restored after `f` returns; RSP is 16-byte aligned
        // before the `call` (top is aligned; push + sub 8 keep it so). All caller-saved
        // registers are declared clobbered.
        unsafe {
            asm!(
                "mov rax, rsp",
                "mov rsp, {top}",
                "push rax",
                "sub rsp, 8",
                "call {f}",
                "add rsp, 8",
                "pop rsp",
                top = in(reg) self.top(),
                f = in(reg) f,
                inout("rdi") arg => _,
                out("rax") ret,
                clobber_abi("C"),
            );
        }
        ret
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let mut s = SLOTS.lock();
        s.live -= 1;
        if s.cached.len() < CACHE_MAX {
            s.cached.push(self.slot);
        } else {
            unmap_slot(self.slot);
            s.empty.push(self.slot);
        }
    }
}

/// Unmaps and frees a slot's stack pages (with SLOTS' lock held). The frames are freed
/// after this CPU's TLB is flushed.
fn unmap_slot(slot: u32) {
    let bottom = slot_base(slot) + KSTACK_SLOT_SIZE - KSTACK_SIZE;
    let root = paging::kernel_root();
    let mut frames = [0u64; PAGES];
    // SAFETY: SLOTS' lock is held by the caller; the slot is free, so nobody runs on or
    // points into these pages.
    unsafe {
        paging::for_each_leaf(root, bottom, bottom + KSTACK_SIZE, &mut |va, e| {
            if *e & PTE_P != 0 {
                frames[((va - bottom) / PAGE_SIZE as u64) as usize] = *e & PTE_ADDR;
                *e = 0;
            }
        })
    };
    // Kernel mappings are shared by every CPU: once other CPUs run LWPs, the caller's IPI
    // layer must shoot down their stale entries too; locally:
    let mut va = bottom;
    while va < bottom + KSTACK_SIZE {
        paging::flush_page(va);
        va += PAGE_SIZE as u64;
    }
    for pa in frames.into_iter().filter(|&pa| pa != 0) {
        frame::free(pa);
    }
}

/// If `addr` lies in the guard of a kernel-stack slot: `(slot, stack bottom, stack top)`.
pub fn guard_hit(addr: u64) -> Option<(u32, u64, u64)> {
    let off = addr.checked_sub(KSTACK_REGION_BASE)?;
    if off >= KSTACK_MAX_SLOTS * KSTACK_SLOT_SIZE {
        return None;
    }
    let slot = (off / KSTACK_SLOT_SIZE) as u32;
    let in_slot = off % KSTACK_SLOT_SIZE;
    let top = slot_base(slot) + KSTACK_SLOT_SIZE;
    (in_slot < KSTACK_SLOT_SIZE - KSTACK_SIZE).then_some((slot, top - KSTACK_SIZE, top))
}

/// `(live, cached)` stack counts.
pub fn counts() -> (u32, usize) {
    let s = SLOTS.lock();
    (s.live, s.cached.len())
}
