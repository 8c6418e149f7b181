//! Context switching: the saved state of a kernel thread and the switch between two of them.
//!
//! A [`Context`] is what a thread leaves behind when it is not running: its stack pointer
//! (with the callee-saved registers and the return address pushed on its stack), its kernel
//! stack top (TSS.RSP0 and gs:8 while it runs), its user FS and GS bases, its page-table root
//! (the kernel's, or its process's address space), and optionally its FPU/SSE area. Everything else (caller-saved registers, the interrupted user state in a
//! `TrapFrame`) is already on its stack at the switch.
//!
//! # The switch ([`switch_to`])
//!
//! Called with interrupts disabled, on the CPU whose current context is the one to leave.
//!
//! 1. Wait until `next` is no longer on any CPU (`on_cpu`): another CPU may still be in the
//!    middle of switching away from it (a thread that went to sleep there and was woken and
//!    queued here before its switch completed). Then claim it (`on_cpu` = true).
//! 2. FPU: `fxsave` the outgoing thread's area, `fxrstor` the incoming one's (if they have
//!    one: kernel threads don't), eagerly (see `fpu`).
//! 3. FS base (`IA32_FS_BASE`) and the user GS base (`IA32_KERNEL_GS_BASE`, which holds it
//!    while in the kernel), written only when they differ: the MSRs always hold the current
//!    context's values.
//! 4. CR3: the incoming context's root, loaded only when it differs from the loaded one
//!    (this CPU's `loaded_root` in `percpu`, which TLB shoot-downs consult). Every context
//!    names its root (kernel threads the kernel's), so a CPU has a user address space loaded
//!    only while it runs a thread of that address space: nothing is lazy, and a `VmSpace`
//!    whose last thread has left can be freed without asking other CPUs.
//! 5. TSS.RSP0 and gs:8 = the incoming kernel stack top; gs:40 = the incoming context.
//! 6. The assembly: push the callee-saved registers, save RSP, load the other RSP, pop,
//!    `ret` — into the incoming thread where it called `switch_to` (or into
//!    `lwpvm_context_start` for a new one), with RAX = the context it came from.
//! 7. On the incoming side: mark the context it came from as off the CPU (`on_cpu` =
//!    false, release: its registers are saved). From now on another CPU may run it.
//!
//! The interrupt flag is not part of the context: every thread switches with interrupts
//! disabled and restores its own state after `switch_to` returns (new threads enable them).
//!
//! # Soundness
//!
//! Contexts are `'static` (the scheduler keeps them in a static table), so the raw pointer to
//! the current context in the per-CPU area and the one passed through RAX always point at a
//! live `Context`. `on_cpu` guarantees that a context runs on at most one CPU and that its
//! saved stack pointer is complete before another CPU loads it. A context's stack is owned by
//! a [`KernelStack`] handle (or is a boot stack) for as long as the context may run.
//!
//! Cost: the assembly is 16 instructions; the Rust around it about 40 more for a kernel
//! thread (no FPU area, equal bases).

use core::arch::global_asm;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

use super::fpu::FxArea;
use super::paging::{self, Root};
use super::{irq, msr, percpu};

/// A thread's saved kernel context (see the module docs).
#[derive(Debug)]
pub struct Context {
    /// Saved stack pointer while not running.
    rsp: AtomicU64,
    /// Kernel stack top (TSS.RSP0) while running.
    kstack_top: AtomicU64,
    /// Running on (or being switched away from on) some CPU.
    on_cpu: AtomicBool,
    /// User FS base.
    fs_base: AtomicU64,
    /// User GS base.
    gs_base: AtomicU64,
    /// FPU/SSE area (a leaked `Box<FxArea>`), or null.
    fpu: AtomicPtr<FxArea>,
    /// The page-table root (PML4 physical address) the context runs with; 0: the kernel's.
    root: AtomicU64,
}

global_asm!(
    r#"
    .pushsection .text.switch, "ax"
    .balign 16
    .global lwpvm_switch_stacks
lwpvm_switch_stacks:                   /* rdi = &prev.rsp, rsi = next rsp, rdx = prev */
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    mov rax, rdx
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

    .balign 16
    .global lwpvm_context_start
lwpvm_context_start:                   /* rax = prev, r12 = entry, r13 = arg */
    mov rdi, rax
    call {finish}
    mov rdi, r13
    xor ebp, ebp
    call r12
    ud2
    .popsection
    "#,
    finish = sym finish_switch,
);

unsafe extern "C" {
    fn lwpvm_switch_stacks(prev_rsp: *mut u64, next_rsp: u64, prev: usize) -> usize;
    fn lwpvm_context_start();
}

/// Words of the initial frame of a new context: r15, r14, r13 (arg), r12 (entry), rbx, rbp,
/// return address. After the pops and the `ret`, RSP = the stack top (16-byte aligned).
const INITIAL_FRAME_WORDS: usize = 7;

impl Context {
    /// An empty context: not running, no stack, no FPU area.
    pub const fn new() -> Self {
        Self {
            rsp: AtomicU64::new(0),
            kstack_top: AtomicU64::new(0),
            on_cpu: AtomicBool::new(false),
            fs_base: AtomicU64::new(0),
            gs_base: AtomicU64::new(0),
            fpu: AtomicPtr::new(ptr::null_mut()),
            root: AtomicU64::new(0),
        }
    }

    /// Prepares the context to run `entry(arg)` when first switched to (with interrupts
    /// disabled; `entry` must never return), on the kernel stack whose top is `kstack_top`
    /// (TSS.RSP0 while the context runs). The first `reserve` bytes below the top are left
    /// alone: a user thread keeps its user `TrapFrame` there (see `trap::user_frame`), so
    /// `entry` runs below it. `kstack_top - reserve` must be 16-byte aligned.
    ///
    /// # Panics
    ///
    /// If the context is running, or the start is misaligned.
    pub fn prepare(
        &self,
        kstack_top: u64,
        reserve: u64,
        entry: extern "C" fn(usize) -> !,
        arg: usize,
    ) {
        assert!(!self.on_cpu(), "preparing a running context");
        let top = kstack_top - reserve;
        assert!(top.is_multiple_of(16), "misaligned initial stack");
        let frame = (top as usize - INITIAL_FRAME_WORDS * 8) as *mut u64;
        let words: [u64; INITIAL_FRAME_WORDS] = [
            0,
            0,
            arg as u64,
            entry as *const () as u64,
            0,
            0,
            lwpvm_context_start as *const () as u64,
        ];
        // SAFETY: the caller owns the stack below `kstack_top` (a `KernelStack` it keeps for
        // as long as the context may run) and the context is not running (asserted), so
        // nothing executes on it; the 56 bytes lie below `top`.
        unsafe { frame.cast::<[u64; INITIAL_FRAME_WORDS]>().write(words) };
        self.rsp.store(frame as u64, Ordering::Relaxed);
        self.kstack_top.store(kstack_top, Ordering::Relaxed);
        self.fs_base.store(0, Ordering::Relaxed);
        self.gs_base.store(0, Ordering::Relaxed);
        self.root.store(0, Ordering::Relaxed);
    }

    /// Whether the context runs (or is being switched away from) on some CPU.
    pub fn on_cpu(&self) -> bool {
        self.on_cpu.load(Ordering::Acquire)
    }

    /// Its kernel stack top.
    #[allow(dead_code)] // for entering user mode
    pub fn kernel_stack_top(&self) -> u64 {
        self.kstack_top.load(Ordering::Relaxed)
    }

    /// Gives the context an FPU/SSE area (user threads), replacing and returning any old one.
    ///
    /// # Panics
    ///
    /// If the context is running on another CPU.
    pub fn set_fpu(
        &self,
        area: Option<alloc::boxed::Box<FxArea>>,
    ) -> Option<alloc::boxed::Box<FxArea>> {
        assert!(
            !self.on_cpu() || self.is_current(),
            "changing the FPU area of a context running elsewhere"
        );
        let new = area.map_or(ptr::null_mut(), alloc::boxed::Box::into_raw);
        let old = self.fpu.swap(new, Ordering::AcqRel);
        if self.is_current() && !new.is_null() {
            // SAFETY: `new` came from Box::into_raw just above and is owned by this context.
            unsafe { (*new).restore() };
        }
        // SAFETY: a non-null `old` came from Box::into_raw in an earlier call and is no
        // longer reachable through the context.
        (!old.is_null()).then(|| unsafe { alloc::boxed::Box::from_raw(old) })
    }

    /// Whether this context is the one running on this CPU.
    pub fn is_current(&self) -> bool {
        percpu::this().cur_ctx.load(Ordering::Relaxed) == self as *const Context as usize
    }

    /// Sets the user FS base (`arch_prctl(ARCH_SET_FS)`); takes effect at once if the context
    /// is this CPU's current one, else at its next switch-in.
    pub fn set_fs_base(&self, base: u64) {
        let flags = irq::save_disable();
        self.fs_base.store(base, Ordering::Relaxed);
        if self.is_current() {
            // SAFETY: FS base is only used by user code; the kernel never uses FS.
            unsafe { msr::write(msr::IA32_FS_BASE, base) };
        }
        irq::restore(flags);
    }

    /// The user FS base.
    pub fn fs_base(&self) -> u64 {
        self.fs_base.load(Ordering::Relaxed)
    }

    /// Sets the user GS base (kept in `IA32_KERNEL_GS_BASE` while in the kernel).
    pub fn set_gs_base(&self, base: u64) {
        let flags = irq::save_disable();
        self.gs_base.store(base, Ordering::Relaxed);
        if self.is_current() {
            // SAFETY: the inactive GS base is the user's; `swapgs` on the way out loads it.
            unsafe { msr::write(msr::IA32_KERNEL_GS_BASE, base) };
        }
        irq::restore(flags);
    }

    /// The user GS base.
    pub fn gs_base(&self) -> u64 {
        self.gs_base.load(Ordering::Relaxed)
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}

/// Makes `ctx` this CPU's current context: for code already running on `stack_top` (the boot
/// CPU's boot stack, an AP's start-up stack) that becomes a thread. Interrupts disabled.
///
/// # Panics
///
/// If `ctx` runs elsewhere or this CPU already has a current context.
pub fn adopt(ctx: &'static Context, stack_top: u64) {
    let pc = percpu::this();
    assert_eq!(
        pc.cur_ctx.load(Ordering::Relaxed),
        0,
        "cpu already has a context"
    );
    assert!(
        !ctx.on_cpu.swap(true, Ordering::AcqRel),
        "adopting a running context"
    );
    ctx.kstack_top.store(stack_top, Ordering::Relaxed);
    pc.set_kernel_stack(stack_top);
    pc.cur_ctx
        .store(ctx as *const Context as usize, Ordering::Relaxed);
}

/// This CPU's current context.
fn current() -> &'static Context {
    let p = percpu::this().cur_ctx.load(Ordering::Relaxed);
    assert!(p != 0, "no current context on this cpu");
    // SAFETY: `cur_ctx` only ever holds the address of a `&'static Context` (`adopt`,
    // `switch_to`).
    unsafe { &*(p as *const Context) }
}

/// Switches from this CPU's current context to `next` (see the module docs). Returns when
/// some CPU switches back to the current context. Interrupts must be disabled.
pub fn switch_to(next: &'static Context) {
    debug_assert!(!irq::enabled(), "switch_to with interrupts enabled");
    let pc = percpu::this();
    let prev = current();
    if ptr::eq(prev, next) {
        return;
    }
    // 1. Wait for `next` to be fully switched out elsewhere, then claim it.
    while next
        .on_cpu
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    // 2. FPU.
    let pf = prev.fpu.load(Ordering::Relaxed);
    if !pf.is_null() {
        // SAFETY: a non-null pointer is the context's own leaked Box (set_fpu); only the CPU
        // running the context touches it, and that is this CPU.
        unsafe { (*pf).save() };
    }
    let nf = next.fpu.load(Ordering::Relaxed);
    if !nf.is_null() {
        // SAFETY: as above: `next` is claimed by this CPU (on_cpu), its area saved by the
        // CPU that last ran it before it released `on_cpu`.
        unsafe { (*nf).restore() };
    }
    // 3. User FS/GS bases.
    let nfs = next.fs_base.load(Ordering::Relaxed);
    if nfs != prev.fs_base.load(Ordering::Relaxed) {
        // SAFETY: the kernel never uses FS; the value is the incoming thread's.
        unsafe { msr::write(msr::IA32_FS_BASE, nfs) };
    }
    let ngs = next.gs_base.load(Ordering::Relaxed);
    if ngs != prev.gs_base.load(Ordering::Relaxed) {
        // SAFETY: the inactive GS base is the user's; the value is the incoming thread's.
        unsafe { msr::write(msr::IA32_KERNEL_GS_BASE, ngs) };
    }
    // 4. Page-table root.
    let nroot = resolve_root(next.root.load(Ordering::Relaxed));
    if nroot != pc.loaded_root() {
        load_root_here(pc, nroot);
    }
    // 5. Kernel stack and current context.
    pc.set_kernel_stack(next.kstack_top.load(Ordering::Relaxed));
    pc.cur_ctx
        .store(next as *const Context as usize, Ordering::Relaxed);
    // 6. The stacks.
    // SAFETY: `prev` is this CPU's running context, so its stack is the current one and its
    // `rsp` slot receives the saved stack pointer; `next`'s saved rsp points at a frame built
    // by `prepare` or by an earlier switch away from it, and `next` is claimed by this CPU.
    let came_from = unsafe {
        lwpvm_switch_stacks(
            prev.rsp.as_ptr(),
            next.rsp.load(Ordering::Relaxed),
            prev as *const Context as usize,
        )
    };
    // 7. Back in `prev`'s thread (possibly on another CPU).
    finish_switch(came_from);
}

/// The physical root a context's `root` word stands for (0: the kernel's tables).
#[inline]
fn resolve_root(root: u64) -> u64 {
    if root == 0 {
        paging::kernel_root().0
    } else {
        root
    }
}

/// Loads `root` into CR3 on this CPU and records it. Interrupts disabled.
fn load_root_here(pc: &percpu::PerCpu, root: u64) {
    // Published before CR3 changes (`mov cr3` is serialising): a CPU that changes page
    // tables and then reads `loaded_root` either sees this CPU in the root or this CPU's
    // first walk sees the change (see `percpu::cpus_with_root`).
    pc.set_loaded_root(root);
    // SAFETY: `root` is the kernel's tree or a user root a live `VmSpace` owns, with the
    // kernel's upper half; whoever set it as a context's root keeps it alive while the
    // context may run (`set_current_root`'s contract).
    unsafe { paging::load_root(Root(root)) };
}

/// Makes `root` (0: the kernel's tables) the page-table root of the running context and
/// loads it now: the thread runs in that address space from here on, across context
/// switches.
///
/// # Safety
///
/// `root` is 0 or a user PML4 made by `paging::new_user_root` that stays valid until every
/// context using it has switched to another root (its `VmSpace` is dropped only after that).
pub unsafe fn set_current_root(root: u64) {
    let flags = irq::save_disable();
    let pc = percpu::this();
    let ctx = current();
    ctx.root.store(root, Ordering::Relaxed);
    let r = resolve_root(root);
    if r != pc.loaded_root() {
        load_root_here(pc, r);
    }
    irq::restore(flags);
}

/// The incoming side's last step: the context we came from is off its CPU.
extern "C" fn finish_switch(came_from: usize) {
    // SAFETY: `came_from` is the address of the `&'static Context` the switching CPU left
    // (passed through RAX by `lwpvm_switch_stacks`).
    let prev = unsafe { &*(came_from as *const Context) };
    prev.on_cpu.store(false, Ordering::Release);
}
