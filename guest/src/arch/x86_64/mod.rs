//! x86_64 support: everything that needs assembly or privileged instructions.
//!
//! | module | concern |
//! |---|---|
//! | [`boot`] | PVH 32-bit entry → long mode → higher half; `hvm_start_info` → `BootInfo` |
//! | [`layout`] | the virtual/physical address-space constants |
//! | [`gdt`] | per-CPU GDT and TSS (Linux selectors; IST for `#DF`, NMI, `#MC`) |
//! | [`idt`] | the vector table (all 256 vectors); delegates to `trap` |
//! | [`trap`] | `TrapFrame`, entry stubs, the common and paranoid entries, the dispatcher, the kernel-fault report |
//! | [`irq`] | the vector map, interrupt-handler registration, EOI, the interrupt flag |
//! | [`percpu`] | per-CPU data through GS |
//! | [`msr`] | model-specific registers (and `#GP`-safe probes) |
//! | [`pic`] | the legacy 8259s: remapped and masked |
//! | [`apic`] | the local APIC (xAPIC or x2APIC): EOI, IPIs, timer |
//! | [`ioapic`] | device interrupt routing |
//! | [`paging`] | 4-level page tables: map/unmap/protect in any PML4, TLB flushes; removing the identity map |
//! | [`phys`] | bounds-checked access to guest-physical memory through the direct map |
//! | [`mptable`] | CPUs, APIC ids and the IOAPIC from the Intel MP table |
//! | [`host`] | which hypervisor we run on (for the banner) |
//! | [`uaccess`] | the user-memory copy routines and their exception table |
//! | [`backtrace`] | frame-pointer walks bounded to known kernel stacks |
//! | [`smp`] | starting the other CPUs (real-mode trampoline), stopping them on a panic |
//! | [`time`] | TSC frequency, monotonic and real-time clocks |
//! | [`switch`] | thread contexts and the context switch |
//! | [`fpu`] | per-thread FPU/SSE areas (`fxsave`/`fxrstor`) |
//! | [`tlb`] | TLB shoot-down IPIs |
//! | [`syscall`] | the system-call gates: `syscall`/`sysretq`, and the `#PF` gate of this machine's KVM |
//! | [`cpu`], [`io`] | single instructions: CPUID, TSC, control registers, ports, exit |

#![allow(unsafe_code)]

pub mod apic;
pub mod backtrace;
pub mod boot;
pub mod cpu;
pub mod fpu;
pub mod gdt;
pub mod host;
pub mod idt;
pub mod io;
pub mod ioapic;
pub mod irq;
pub mod layout;
pub mod mptable;
pub mod msr;
pub mod paging;
pub mod percpu;
pub mod phys;
pub mod pic;
pub mod smp;
pub mod switch;
pub mod syscall;
pub mod time;
pub mod tlb;
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

impl<const N: usize> Default for StackMem<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Early CPU setup on the boot CPU, first thing after the serial port: the IDT, then the boot
/// CPU's per-CPU area (GDT, TSS, GS base), so that every later step reports faults readably
/// and may take locks; then the legacy PIC is remapped and masked.
pub fn init_cpu() {
    idt::init();
    // SAFETY: first call, on the boot CPU (index 0), interrupts disabled since the PVH entry.
    unsafe { percpu::init_this_cpu(0, 0, boot::BOOT_STACK.top()) };
    pic::disable();
}

/// Top of the boot CPU's boot stack (the stack `kernel_main` runs on).
pub fn boot_stack_top() -> u64 {
    boot::BOOT_STACK.top()
}

/// Ends the VM with `status` (see [`cpu::exit`]).
pub fn exit(status: u32) -> ! {
    cpu::exit(status)
}
