//! TLB shoot-down: invalidating translations on other CPUs, synchronously.
//!
//! [`shootdown`] flushes the given range (or everything) on this CPU if it is in the target
//! set, then sends the TLB IPI (`irq::VECTOR_TLB`) to the other targets and waits until each
//! has flushed and acknowledged (cleared its bit in the pending mask). One shoot-down is in
//! flight at a time (a global spin flag). The caller must have interrupts **enabled** and
//! hold no `IrqMutex` when other CPUs are targeted: while it waits — for the flag or for the
//! acknowledgements — it must keep answering other CPUs' shoot-downs, or two CPUs shooting at
//! each other would deadlock. Kernel preemption is disabled meanwhile (the CPU must not
//! change under it).
//!
//! A range flush uses `invlpg` per page, up to [`INVLPG_MAX`] pages; larger ranges and
//! [`Flush::All`] reload CR3 (global pages are not used; if they ever are, toggle CR4.PGE).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::apic;
use super::irq::{self, VECTOR_TLB};
use super::percpu::{self, MAX_CPUS};
use super::trap::TrapFrame;

/// Largest range flushed page by page.
pub const INVLPG_MAX: u64 = 32;

/// What to invalidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Every (non-global) translation.
    All,
    /// The pages covering `[start, start + pages * 4096)`.
    Range {
        /// First virtual address.
        start: u64,
        /// Number of 4 KiB pages.
        pages: u64,
    },
    /// Nothing (an IPI round trip: for measurements).
    Nothing,
}

static BUSY: AtomicBool = AtomicBool::new(false);
/// The request in flight: kind (0 nothing, 1 all, 2 range), start, pages.
static KIND: AtomicU64 = AtomicU64::new(0);
static START: AtomicU64 = AtomicU64::new(0);
static PAGES: AtomicU64 = AtomicU64::new(0);
/// CPUs that have not acknowledged yet.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Shoot-downs handled per CPU (IPI side).
static HANDLED: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Installs the IPI handler. Call once, before other CPUs start.
pub fn init() {
    irq::register(VECTOR_TLB, handler);
}

/// Invalidates `what` on this CPU.
pub fn flush_local(what: Flush) {
    match what {
        Flush::Nothing => {}
        Flush::Range { start, pages } if pages <= INVLPG_MAX => {
            for i in 0..pages {
                let va = start.wrapping_add(i * 4096);
                // SAFETY: `invlpg` only drops a cached translation.
                unsafe {
                    core::arch::asm!("invlpg [{}]", in(reg) va, options(nostack, preserves_flags))
                };
            }
        }
        Flush::Range { .. } | Flush::All => {
            // SAFETY: reloading CR3 with its own value only flushes non-global translations.
            unsafe {
                core::arch::asm!(
                    "mov {t}, cr3",
                    "mov cr3, {t}",
                    t = out(reg) _,
                    options(nostack, preserves_flags)
                )
            };
        }
    }
}

fn encode(what: Flush) {
    let (k, s, p) = match what {
        Flush::Nothing => (0, 0, 0),
        Flush::All => (1, 0, 0),
        Flush::Range { start, pages } => (2, start, pages),
    };
    START.store(s, Ordering::Relaxed);
    PAGES.store(p, Ordering::Relaxed);
    KIND.store(k, Ordering::Relaxed);
}

fn decode() -> Flush {
    match KIND.load(Ordering::Relaxed) {
        1 => Flush::All,
        2 => Flush::Range {
            start: START.load(Ordering::Relaxed),
            pages: PAGES.load(Ordering::Relaxed),
        },
        _ => Flush::Nothing,
    }
}

/// The TLB IPI: flush, acknowledge.
fn handler(_frame: &mut TrapFrame) {
    let me = percpu::cpu_id();
    flush_local(decode());
    HANDLED[me].fetch_add(1, Ordering::Relaxed);
    PENDING.fetch_and(!(1 << me), Ordering::AcqRel);
}

/// Invalidates `what` on every CPU in `cpus` (bit i = CPU i; offline CPUs are ignored) and
/// returns once all of them have (see the module docs for the calling rules).
///
/// # Panics
///
/// If other CPUs are targeted while interrupts are disabled.
pub fn shootdown(cpus: u64, what: Flush) {
    let pc = percpu::this();
    pc.preempt_disable();
    let me = pc.cpu_id();
    let remote = cpus & percpu::online_mask() & !(1 << me);
    if cpus & (1 << me) != 0 {
        flush_local(what);
    }
    if remote != 0 {
        assert!(
            irq::enabled(),
            "tlb::shootdown to other CPUs with interrupts disabled"
        );
        while BUSY
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        encode(what);
        PENDING.store(remote, Ordering::Release);
        let all_others = percpu::online_mask() & !(1 << me);
        if remote == all_others {
            apic::send_ipi(apic::Dest::AllButSelf, VECTOR_TLB);
        } else {
            for cpu in 0..MAX_CPUS {
                if remote & (1 << cpu) != 0 {
                    apic::send_ipi(apic::Dest::Apic(percpu::get(cpu).apic_id()), VECTOR_TLB);
                }
            }
        }
        while PENDING.load(Ordering::Acquire) != 0 {
            core::hint::spin_loop();
        }
        BUSY.store(false, Ordering::Release);
    }
    pc.preempt_enable();
}

/// Shoot-downs CPU `cpu` has handled on the IPI side.
pub fn handled(cpu: usize) -> u64 {
    HANDLED[cpu].load(Ordering::Relaxed)
}

/// A private test mapping for the shoot-down self-test: one 4 KiB page at [`TEST_VA`]
/// (PML4 slot 400, unused by the kernel), mapped to one of two static pages, so that a CPU
/// that still caches the old translation would read the old page's marker.
pub mod test_mapping {
    use super::super::layout::KERNEL_BASE;
    use super::super::layout::PHYS_OFFSET;
    use super::super::{cpu, BootCell};

    /// The test address (PML4 slot 400).
    pub const TEST_VA: u64 = 0xffff_c800_0000_0000;
    const PML4_SLOT: usize = 400;

    #[repr(C, align(4096))]
    struct Pages([[u64; 512]; 5]);

    /// PDPT, PD, PT, then data pages A and B.
    static PAGES: BootCell<Pages> = BootCell::new(Pages([[0; 512]; 5]));

    fn phys(i: usize) -> u64 {
        // SAFETY: only the address is computed.
        let p = unsafe { core::ptr::addr_of!((*PAGES.get()).0[i]) } as u64;
        p - KERNEL_BASE
    }

    fn pml4() -> *mut u64 {
        (PHYS_OFFSET + (cpu::control_regs().cr3 & 0x000f_ffff_ffff_f000)) as *mut u64
    }

    /// Maps [`TEST_VA`] to data page `which` (0 = A, 1 = B), writing each page's marker;
    /// installs the PML4 slot the first time. Does not flush any TLB.
    pub fn map(which: usize, markers: [u64; 2]) {
        // SAFETY: the self-test is the only user of PAGES and of PML4 slot 400; page-table
        // entries are written with volatile stores (the MMU reads them).
        unsafe {
            let p = &mut *PAGES.get();
            p.0[3][0] = markers[0];
            p.0[4][0] = markers[1];
            core::ptr::addr_of_mut!(p.0[0][0]).write_volatile(phys(1) | 3);
            core::ptr::addr_of_mut!(p.0[1][0]).write_volatile(phys(2) | 3);
            core::ptr::addr_of_mut!(p.0[2][0]).write_volatile(phys(3 + which) | 3);
            pml4().add(PML4_SLOT).write_volatile(phys(0) | 3);
        }
    }

    /// Reads the marker through [`TEST_VA`].
    pub fn read() -> u64 {
        // SAFETY: TEST_VA is mapped by `map` (the self-test calls it first) to a static page.
        unsafe { (TEST_VA as *const u64).read_volatile() }
    }

    /// Removes the PML4 slot (the caller then flushes every CPU).
    pub fn unmap() {
        // SAFETY: clears the slot `map` installed.
        unsafe { pml4().add(PML4_SLOT).write_volatile(0) };
    }
}
