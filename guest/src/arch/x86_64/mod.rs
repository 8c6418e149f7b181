//! x86_64 support: everything that needs assembly or privileged instructions.
//!
//! | module | concern |
//! |---|---|
//! | [`boot`] | PVH 32-bit entry → long mode → higher half; `hvm_start_info` → `BootInfo` |
//! | [`layout`] | the virtual/physical address-space constants |
//! | [`gdt`] | GDT and TSS (IST1 for `#DF`) |
//! | [`idt`] | the vector table; delegates to `trap` |
//! | [`trap`] | `TrapFrame`, exception entry stubs, the kernel-fault report |
//! | [`paging`] | 4-level page tables: map/unmap/protect in any PML4, TLB flushes |
//! | [`phys`] | bounds-checked access to guest-physical memory through the direct map |
//! | [`mptable`] | counting CPUs from the Intel MP table |
//! | [`host`] | which hypervisor we run on (for the banner) |
//! | [`uaccess`] | the user-memory copy routines and their exception table |
//! | [`backtrace`] | frame-pointer walks bounded to known kernel stacks |
//! | [`cpu`], [`io`] | single instructions: CPUID, TSC, control registers, ports, exit |

#![allow(unsafe_code)]

pub mod backtrace;
pub mod boot;
pub mod cpu;
pub mod gdt;
pub mod host;
pub mod idt;
pub mod io;
pub mod layout;
pub mod mptable;
pub mod paging;
pub mod phys;
pub mod trap;
pub mod uaccess;

use core::cell::UnsafeCell;

/// A `static` whose contents are written during single-threaded boot (or only by this CPU)
/// and read afterwards: the GDT, TSS, IDT, boot page tables, the boot info.
///
/// It hands out raw pointers only; each user states in a `// SAFETY:` comment why its access
/// does not race.
#[repr(transparent)]
pub struct BootCell<T>(UnsafeCell<T>);

// SAFETY: `BootCell` only hands out raw pointers; every dereference is an `unsafe` block
// whose comment justifies the absence of data races (single-threaded boot, one writer).
unsafe impl<T> Sync for BootCell<T> {}

impl<T> BootCell<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// A raw pointer to the contents.
    pub const fn get(&self) -> *mut T {
        self.0.get()
    }
}

/// Memory for a kernel stack: page-aligned, in `.bss` (never zeroed at run time).
#[repr(C, align(4096))]
pub struct StackMem<const N: usize>(UnsafeCell<[u8; N]>);

// SAFETY: the stack's bytes are only touched by the CPU running on it; Rust code only takes
// its address.
unsafe impl<const N: usize> Sync for StackMem<N> {}

impl<const N: usize> StackMem<N> {
    /// A new stack.
    pub const fn new() -> Self {
        Self(UnsafeCell::new([0; N]))
    }

    /// Lowest address of the stack.
    pub fn bottom(&self) -> u64 {
        self.0.get() as u64
    }

    /// One past the highest address of the stack: the initial stack pointer.
    pub fn top(&self) -> u64 {
        self.bottom() + N as u64
    }
}

/// Early CPU setup on the boot CPU: the final GDT and TSS, then the IDT, so every later step
/// (including the parsing of boot information) reports faults readably.
pub fn init_cpu() {
    gdt::init();
    idt::init();
}

/// Ends the VM with `status` (see [`cpu::exit`]).
pub fn exit(status: u32) -> ! {
    cpu::exit(status)
}
