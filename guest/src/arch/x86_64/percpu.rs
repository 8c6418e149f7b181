//! Per-CPU data, reached through GS.
//!
//! Each CPU owns one [`PerCpu`] in a static array of [`MAX_CPUS`] areas (in `.bss`: an area is
//! all zeros until its CPU initialises it, so unused areas cost nothing at boot). While a CPU
//! runs kernel code its `IA32_GS_BASE` holds the address of its `PerCpu`; `swapgs` on every
//! entry from and exit to ring 3 exchanges it with `IA32_KERNEL_GS_BASE`, which holds the
//! user's GS base while in the kernel (0 initially).
//!
//! The struct begins with the fields assembly uses (offsets asserted below; the
//! architecture contract in docs/ARCHITECTURE.md):
//!
//! | offset | field | meaning |
//! |---|---|---|
//! | gs:0 | `self_ptr` | the area's own address (one `mov` gives a normal pointer) |
//! | gs:8 | `kernel_rsp` | kernel stack top of the running thread (= TSS.RSP0) |
//! | gs:16 | `user_rsp` | scratch for the `syscall` entry |
//! | gs:24 | `cpu_id` | this CPU's index, 0..ncpus |
//! | gs:28 | `apic_id` | its local APIC id |
//! | gs:32 | `resched` | "reschedule at the next safe point" (set by anyone, cleared by this CPU's scheduler) |
//! | gs:36 | `preempt_count` | kernel preemption is allowed only at 0 |
//! | gs:40 | `cur_ctx` | the running `switch::Context` (owned by `switch`) |
//! | gs:48 | `sched_current` | the running thread, opaque here (owned by `sched`) |
//! | gs:56 | `ast` | "run the `userret` hook on the next return to ring 3" for work other than a reschedule (NetBSD's `astpending`; set by anyone for this CPU's running thread, cleared by the hook) |
//!
//! Each area also holds the CPU's GDT and TSS (see `gdt`) and its 16 KiB of IST stacks
//! (`#DF` 8 KiB, NMI 4 KiB, `#MC` 4 KiB).
//!
//! # Who writes what
//!
//! Everything is written by the owning CPU, except `resched` (any CPU may set it, then send
//! a reschedule IPI) and the counters other CPUs only read. Fields are atomics (relaxed
//! accesses are plain `mov`s) so that no `unsafe` is needed to read another CPU's area.
//!
//! # FS and GS bases
//!
//! The kernel never uses FS. The user's FS base is per thread and lives in `IA32_FS_BASE`
//! while the thread runs (switched by `switch` with `wrmsr`). `rdfsbase`/`wrfsbase` would be
//! cheaper on hardware but need CR4.FSGSBASE, which also lets ring 3 write its GS base
//! directly, and then the paranoid entry (NMI, `#DF`, `#MC`: "is GS the kernel's?") could no
//! longer trust the sign of the GS base. So CR4.FSGSBASE stays off and the bases go through
//! MSRs on every host; [`fsgsbase_available`] only reports what CPUID offers.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::mem::offset_of;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::gdt::{self, TssArea, GDT_ENTRIES};
use super::{cpu, idt, msr};

/// Most CPUs the kernel runs on.
pub const MAX_CPUS: usize = 64;
/// Bytes of IST stacks per CPU.
pub const IST_AREA: usize = 16 * 1024;
/// Offsets of the IST stack tops in a CPU's IST area: `#DF`, NMI, `#MC`.
const IST_TOPS: [usize; 3] = [8 * 1024, 12 * 1024, 16 * 1024];

/// One CPU's data (see the module docs for the fixed part).
#[repr(C)]
pub struct PerCpu {
    self_ptr: AtomicU64,
    kernel_rsp: AtomicU64,
    user_rsp: AtomicU64,
    cpu_id: AtomicU32,
    apic_id: AtomicU32,
    resched: AtomicU32,
    preempt_count: AtomicU32,
    pub(super) cur_ctx: AtomicUsize,
    sched_current: AtomicUsize,
    ast: AtomicU32,
    online: AtomicBool,
    /// The page-table root (PML4 physical address) loaded in CR3 (written by `switch`).
    loaded_root: AtomicU64,
    /// Interrupts taken (vectors >= 32).
    pub interrupts: AtomicU64,
    /// Exceptions taken (vectors < 32), fixed up or not.
    pub exceptions: AtomicU64,
    /// Interrupts on a vector nobody registered (counted, acknowledged, ignored).
    pub unhandled: AtomicU64,
    /// LAPIC spurious interrupts.
    pub spurious: AtomicU64,
    tss: UnsafeCell<TssArea>,
    gdt: UnsafeCell<[u64; GDT_ENTRIES]>,
}

/// Offsets the assembly relies on (the contract in docs/ARCHITECTURE.md).
pub const OFF_SELF: usize = 0;
/// gs:8.
pub const OFF_KERNEL_RSP: usize = 8;
/// gs:16.
pub const OFF_USER_RSP: usize = 16;
/// gs:24.
pub const OFF_CPU_ID: usize = 24;
/// gs:28.
pub const OFF_APIC_ID: usize = 28;
/// gs:32.
pub const OFF_RESCHED: usize = 32;
/// gs:36.
pub const OFF_PREEMPT_COUNT: usize = 36;
/// gs:40.
pub const OFF_CUR_CTX: usize = 40;
/// gs:48.
pub const OFF_SCHED_CURRENT: usize = 48;
/// gs:56.
pub const OFF_AST: usize = 56;

const _: () = {
    assert!(offset_of!(PerCpu, self_ptr) == OFF_SELF);
    assert!(offset_of!(PerCpu, kernel_rsp) == OFF_KERNEL_RSP);
    assert!(offset_of!(PerCpu, user_rsp) == OFF_USER_RSP);
    assert!(offset_of!(PerCpu, cpu_id) == OFF_CPU_ID);
    assert!(offset_of!(PerCpu, apic_id) == OFF_APIC_ID);
    assert!(offset_of!(PerCpu, resched) == OFF_RESCHED);
    assert!(offset_of!(PerCpu, preempt_count) == OFF_PREEMPT_COUNT);
    assert!(offset_of!(PerCpu, cur_ctx) == OFF_CUR_CTX);
    assert!(offset_of!(PerCpu, sched_current) == OFF_SCHED_CURRENT);
    assert!(offset_of!(PerCpu, ast) == OFF_AST);
};

// SAFETY: every field is an atomic except the TSS and GDT, which only the owning CPU touches
// (through raw pointers, in `init_this_cpu` and `set_kernel_stack`, with interrupts off).
unsafe impl Sync for PerCpu {}

impl PerCpu {
    #[allow(clippy::declare_interior_mutable_const)] // only an array initialiser
    const ZERO: Self = Self {
        self_ptr: AtomicU64::new(0),
        kernel_rsp: AtomicU64::new(0),
        user_rsp: AtomicU64::new(0),
        cpu_id: AtomicU32::new(0),
        apic_id: AtomicU32::new(0),
        resched: AtomicU32::new(0),
        preempt_count: AtomicU32::new(0),
        cur_ctx: AtomicUsize::new(0),
        sched_current: AtomicUsize::new(0),
        ast: AtomicU32::new(0),
        online: AtomicBool::new(false),
        loaded_root: AtomicU64::new(0),
        interrupts: AtomicU64::new(0),
        exceptions: AtomicU64::new(0),
        unhandled: AtomicU64::new(0),
        spurious: AtomicU64::new(0),
        tss: UnsafeCell::new(TssArea::ZERO),
        gdt: UnsafeCell::new([0; GDT_ENTRIES]),
    };

    /// This CPU's index.
    #[inline]
    pub fn cpu_id(&self) -> usize {
        self.cpu_id.load(Ordering::Relaxed) as usize
    }

    /// Its local APIC id.
    #[inline]
    pub fn apic_id(&self) -> u32 {
        self.apic_id.load(Ordering::Relaxed)
    }

    /// Records the APIC id read from the LAPIC (the boot CPU learns it after `init_this_cpu`).
    pub fn set_apic_id(&self, id: u32) {
        self.apic_id.store(id, Ordering::Relaxed);
    }

    /// Whether the CPU has finished its initialisation.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Asks this CPU to reschedule at its next safe point (the caller sends the IPI if the
    /// CPU may be halted).
    #[inline]
    pub fn set_resched(&self) {
        self.resched.store(1, Ordering::Release);
    }

    /// Clears and returns the reschedule request.
    #[inline]
    pub fn take_resched(&self) -> bool {
        self.resched.swap(0, Ordering::Acquire) != 0
    }

    /// Whether a reschedule is requested.
    #[inline]
    pub fn resched_pending(&self) -> bool {
        self.resched.load(Ordering::Relaxed) != 0
    }

    /// Asks for the `userret` hook to run before this CPU next returns to ring 3 (for work
    /// other than a reschedule; the caller sends an IPI if the CPU may be running ring-3
    /// code).
    #[allow(dead_code)] // for signals (issue 5)
    #[inline]
    pub fn request_userret(&self) {
        self.ast.store(1, Ordering::Release);
    }

    /// Clears and returns the request of [`request_userret`](Self::request_userret).
    #[inline]
    pub fn take_ast(&self) -> bool {
        self.ast.swap(0, Ordering::Acquire) != 0
    }

    /// Whether the `userret` hook has work: a reschedule or another request.
    #[inline(always)]
    pub fn userret_work(&self) -> bool {
        self.resched.load(Ordering::Relaxed) | self.ast.load(Ordering::Relaxed) != 0
    }

    /// The kernel-preemption counter.
    #[inline]
    pub fn preempt_count(&self) -> u32 {
        self.preempt_count.load(Ordering::Relaxed)
    }

    /// Raises the kernel-preemption counter (only the owning CPU calls this).
    #[inline]
    pub fn preempt_disable(&self) {
        self.preempt_count.fetch_add(1, Ordering::Relaxed);
        core::sync::atomic::compiler_fence(Ordering::SeqCst);
    }

    /// Lowers it; returns the new value.
    #[inline]
    pub fn preempt_enable(&self) -> u32 {
        core::sync::atomic::compiler_fence(Ordering::SeqCst);
        let old = self.preempt_count.fetch_sub(1, Ordering::Relaxed);
        assert!(old > 0, "preempt_enable without preempt_disable");
        old - 1
    }

    /// The scheduler's opaque "current thread" word.
    #[inline]
    pub fn sched_current(&self) -> usize {
        self.sched_current.load(Ordering::Relaxed)
    }

    /// Sets it (the owning CPU's scheduler only).
    #[inline]
    pub fn set_sched_current(&self, v: usize) {
        self.sched_current.store(v, Ordering::Relaxed);
    }

    /// Makes `top` the kernel stack ring-3 entries use (TSS.RSP0 and gs:8). Call with
    /// interrupts disabled, on this CPU.
    #[inline]
    pub(super) fn set_kernel_stack(&self, top: u64) {
        debug_assert!(core::ptr::eq(self, this()));
        self.kernel_rsp.store(top, Ordering::Relaxed);
        // SAFETY: `self` is this CPU's area (asserted above) and interrupts are off, so the
        // TSS is not read by the CPU concurrently in a way that matters: RSP0 is only read on
        // a ring-3 entry, which cannot happen while this CPU runs kernel code.
        unsafe { gdt::set_rsp0(self.tss.get(), top) }
    }

    /// The page-table root loaded on this CPU.
    #[inline]
    pub fn loaded_root(&self) -> u64 {
        self.loaded_root.load(Ordering::Relaxed)
    }

    /// Records the root about to be loaded in CR3 (the owning CPU, interrupts disabled).
    #[inline]
    pub(super) fn set_loaded_root(&self, root: u64) {
        self.loaded_root.store(root, Ordering::SeqCst);
    }

    /// The kernel stack top ring-3 entries use.
    pub fn kernel_stack(&self) -> u64 {
        self.kernel_rsp.load(Ordering::Relaxed)
    }
}

/// One CPU's area: its IST stacks, then its `PerCpu`.
#[repr(C, align(4096))]
struct CpuArea {
    ist: UnsafeCell<[u8; IST_AREA]>,
    percpu: PerCpu,
}

// SAFETY: the IST bytes are only used as stacks by their CPU (Rust takes their address only);
// PerCpu is Sync (above).
unsafe impl Sync for CpuArea {}

static AREAS: [CpuArea; MAX_CPUS] = [const {
    CpuArea {
        ist: UnsafeCell::new([0; IST_AREA]),
        percpu: PerCpu::ZERO,
    }
}; MAX_CPUS];

/// CPUs that finished `init_this_cpu` and were marked online.
static ONLINE: AtomicU32 = AtomicU32::new(0);
/// Bit i: CPU i is online.
static ONLINE_MASK: AtomicU64 = AtomicU64::new(0);

const _: () = assert!(MAX_CPUS <= 64, "ONLINE_MASK is one word");

/// `[bottom, top)` of all CPUs' IST stacks (for bounded backtraces).
pub fn ist_region() -> (u64, u64) {
    let start = AREAS.as_ptr() as u64;
    (start, start + core::mem::size_of_val(&AREAS) as u64)
}

/// CPU `cpu`'s area (initialised or not).
///
/// # Panics
///
/// If `cpu >= MAX_CPUS`.
pub fn get(cpu: usize) -> &'static PerCpu {
    &AREAS[cpu].percpu
}

/// This CPU's area. Valid once `init_this_cpu` ran on this CPU (the boot CPU does it first
/// thing in `arch::init_cpu`).
#[inline]
pub fn this() -> &'static PerCpu {
    let p: u64;
    // SAFETY: reads gs:0, which `init_this_cpu` set to the address of this CPU's PerCpu (a
    // static). GS is the kernel's whenever Rust code runs (the entry paths swap it).
    unsafe { asm!("mov {}, gs:[0]", out(reg) p, options(nostack, preserves_flags, readonly)) };
    // SAFETY: `p` is the address of a `PerCpu` in the static `AREAS` (see above).
    unsafe { &*(p as *const PerCpu) }
}

/// This CPU's index (one load from gs:24).
#[inline]
pub fn cpu_id() -> usize {
    let id: u32;
    // SAFETY: reads gs:24 of this CPU's PerCpu (see `this`).
    unsafe { asm!("mov {:e}, gs:[24]", out(reg) id, options(nostack, preserves_flags, readonly)) };
    id as usize
}

/// CPUs online (started and initialised).
#[inline]
pub fn ncpus() -> usize {
    ONLINE.load(Ordering::Acquire) as usize
}

/// Bit mask of the online CPUs.
#[inline]
pub fn online_mask() -> u64 {
    ONLINE_MASK.load(Ordering::Acquire)
}

/// The online CPUs that have page-table root `root` loaded (bit i: CPU i), for TLB
/// shoot-downs after a change to `root`'s tables.
///
/// Call it after the change, with a full fence in between (this function has it): a CPU
/// that loads `root` concurrently publishes that (`set_loaded_root`, sequentially
/// consistent) before its `mov cr3`, so either it is in the mask or its page walks see the
/// change. A CPU that leaves `root` flushes its TLB by loading another root.
pub fn cpus_with_root(root: u64) -> u64 {
    core::sync::atomic::fence(Ordering::SeqCst);
    let mut left = online_mask();
    let mut mask = 0;
    while left != 0 {
        let cpu = left.trailing_zeros() as usize;
        left &= left - 1;
        if AREAS[cpu].percpu.loaded_root() == root {
            mask |= 1 << cpu;
        }
    }
    mask
}

/// Whether CPUID offers `rdfsbase`/`wrfsbase` (CPUID.7.0:EBX[0]). Reported only: the kernel
/// keeps CR4.FSGSBASE off (see the module docs).
pub fn fsgsbase_available() -> bool {
    cpu::cpuid(0, 0).eax >= 7 && cpu::cpuid(7, 0).ebx & 1 != 0
}

/// Sets up this CPU: its GDT and TSS (RSP0 = `stack_top`, IST stacks), the shared IDT, GS base
/// = its `PerCpu`, the user GS base 0, `IA32_STAR`, and CR0/CR4 for `fxsave`/`fxrstor`.
///
/// # Safety
///
/// Runs once per CPU, on that CPU, with interrupts disabled, with `cpu` < [`MAX_CPUS`] not
/// used by any other CPU.
pub unsafe fn init_this_cpu(cpu: usize, apic_id: u32, stack_top: u64) -> &'static PerCpu {
    let area = &AREAS[cpu];
    let pc = &area.percpu;
    let ist = area.ist.get() as u64;
    pc.self_ptr
        .store(pc as *const PerCpu as u64, Ordering::Relaxed);
    pc.cpu_id.store(cpu as u32, Ordering::Relaxed);
    pc.apic_id.store(apic_id, Ordering::Relaxed);
    pc.kernel_rsp.store(stack_top, Ordering::Relaxed);
    pc.loaded_root
        .store(super::paging::current_root().0, Ordering::Relaxed);
    // SAFETY: this CPU's own GDT/TSS and IST stacks (per the contract), interrupts off.
    unsafe {
        gdt::load(
            pc.gdt.get(),
            pc.tss.get(),
            IST_TOPS.map(|off| ist + off as u64),
            stack_top,
        );
    }
    idt::load();
    // SAFETY: GS base = this CPU's PerCpu (a static); the user GS base starts at 0. STAR only
    // matters once EFER.SCE is set (by the system-call gate). Nothing uses GS until now.
    unsafe {
        msr::write(msr::IA32_GS_BASE, pc as *const PerCpu as u64);
        msr::write(msr::IA32_KERNEL_GS_BASE, 0);
        msr::write(msr::IA32_FS_BASE, 0);
        msr::write(msr::IA32_STAR, gdt::STAR_VALUE);
    }
    super::syscall::init_this_cpu();
    // CR0: MP and NE on, EM and TS off; CR4: OSFXSR and OSXMMEXCPT, so that fxsave/fxrstor
    // cover the SSE state of user threads (the kernel itself never touches SSE).
    // SAFETY: these bits only enable FPU/SSE state handling; paging bits are untouched.
    unsafe {
        asm!(
            "mov {t}, cr0",
            "or {t}, {set0}",
            "and {t}, {clr0}",
            "mov cr0, {t}",
            "mov {t}, cr4",
            "or {t}, {set4}",
            "mov cr4, {t}",
            t = out(reg) _,
            set0 = const (1u64 << 1) | (1 << 5),
            clr0 = const !((1i64 << 2) | (1 << 3)),
            set4 = const (1u64 << 9) | (1 << 10),
            options(nostack, nomem)
        );
    }
    pc
}

/// Marks the calling CPU online (counted by [`ncpus`]).
pub fn mark_online() {
    let pc = this();
    ONLINE_MASK.fetch_or(1 << pc.cpu_id(), Ordering::AcqRel);
    pc.online.store(true, Ordering::Release);
    ONLINE.fetch_add(1, Ordering::AcqRel);
}
