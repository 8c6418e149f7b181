//! Threads: the static thread table, states, creation, exit, join and reaping.
//!
//! A [`Thread`] is a kernel thread of control (the future LWP's scheduling part): a kernel
//! stack, a saved context, a state, the CPU it last ran on, links for the queues, a name.
//! Threads live in a static table of [`MAX_THREADS`] slots, so `&'static Thread` is the
//! universal handle and the queues are intrusive lists of slot indices (`list`): nothing in the
//! scheduler allocates after `spawn`. A slot is reused after its thread is reaped; the slot's
//! generation tells a [`ThreadId`] of a dead thread from its successor's.
//!
//! # Reference counting
//!
//! `refs` counts who may still use the slot: 1 for the thread itself (released by the reaper
//! once the thread has exited and its context is off every CPU) plus 1 per [`JoinHandle`]. The
//! slot is freed (stack back to the pool, FPU area and closure dropped, generation bumped)
//! when it drops to 0.
//!
//! # Reaping
//!
//! An exiting thread cannot free the stack it runs on: [`exit`] makes it a zombie, which the
//! scheduler puts on its CPU's dead list during the final switch; [`reap_local`] (called by
//! the idle loop and by `spawn`, with interrupts enabled: freeing may take the heap's lock)
//! releases the thread's own reference once its context is off the CPU.

use alloc::boxed::Box;
use core::fmt;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use shared_abi::current::lwp::{LwpState, LSIDL, LSONPROC, LSRUN, LSSLEEP, LSZOMB};

use super::list::{Link, List, Which};
use super::{ids, runq, sleepq};
use crate::arch::switch::Context;
use crate::arch::trap::TrapFrame;
use crate::mm::kstack::KernelStack;
use crate::sync::IrqMutex;

/// Slots in the thread table.
pub const MAX_THREADS: usize = 512;

/// `state` of a free slot (not an LWP state).
const FREE: u32 = 0;
/// No CPU affinity.
pub const ANY_CPU: u32 = u32::MAX;

/// Thread flags.
pub(super) mod flag {
    /// The CPU's idle thread: never queued, never sleeps.
    pub const IDLE: u32 = 1 << 0;
    /// Sleeping interruptibly.
    pub const SLEEP_INTR: u32 = 1 << 1;
    /// The last sleep ended by its timeout.
    pub const TIMED_OUT: u32 = 1 << 2;
    /// The last sleep was interrupted.
    pub const INTERRUPTED: u32 = 1 << 3;
    /// The thread has exited (set before its final switch; joiners wait for it).
    pub const EXITED: u32 = 1 << 4;
}

/// A thread (see the module docs). Fields are atomics or behind locks; which lock orders
/// which field is in the `sched` overview.
pub struct Thread {
    slot: AtomicU32,
    gen: AtomicU32,
    state: AtomicU32,
    /// CPU it runs on or last ran on (or is queued on).
    pub(super) cpu: AtomicU32,
    /// CPU it must run on, or [`ANY_CPU`].
    pub(super) affinity: AtomicU32,
    pub(super) flags: AtomicU32,
    refs: AtomicU32,
    /// Wait channel while sleeping (0 otherwise).
    pub(super) wchan: AtomicUsize,
    /// Timeout (monotonic ns) while on a timeout list.
    pub(super) deadline: AtomicU64,
    /// CPU whose timeout list holds it.
    pub(super) timer_cpu: AtomicU32,
    /// Run queue / sleep queue / dead list / free list link.
    pub(super) link: Link,
    /// Timeout list link.
    pub(super) tlink: Link,
    /// Saved context.
    pub(super) ctx: Context,
    stack: IrqMutex<Option<KernelStack>>,
    entry: IrqMutex<Option<Entry>>,
    name: IrqMutex<Option<&'static str>>,
    /// Times switched to.
    pub(super) switches: AtomicU64,
}

impl Thread {
    #[allow(clippy::declare_interior_mutable_const)] // only an array initialiser
    const EMPTY: Self = Self {
        slot: AtomicU32::new(0),
        gen: AtomicU32::new(0),
        state: AtomicU32::new(FREE),
        cpu: AtomicU32::new(0),
        affinity: AtomicU32::new(0),
        flags: AtomicU32::new(0),
        refs: AtomicU32::new(0),
        wchan: AtomicUsize::new(0),
        deadline: AtomicU64::new(0),
        timer_cpu: AtomicU32::new(0),
        link: Link::new(),
        tlink: Link::new(),
        ctx: Context::new(),
        stack: IrqMutex::new(None),
        entry: IrqMutex::new(None),
        name: IrqMutex::new(None),
        switches: AtomicU64::new(0),
    };

    /// Its slot in the table.
    pub fn slot_index(&self) -> usize {
        self.slot.load(Ordering::Relaxed) as usize
    }

    /// Its id (slot and generation).
    pub fn id(&self) -> ThreadId {
        ThreadId {
            slot: self.slot.load(Ordering::Relaxed),
            gen: self.gen.load(Ordering::Relaxed),
        }
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        self.name.lock().unwrap_or("?")
    }

    /// Its scheduling state (NetBSD numbering).
    pub fn state(&self) -> Option<LwpState> {
        LwpState::from_u32(self.state.load(Ordering::Acquire))
    }

    /// The CPU it runs on, last ran on, or is queued on.
    pub fn cpu(&self) -> usize {
        self.cpu.load(Ordering::Relaxed) as usize
    }

    /// Times it was switched to.
    pub fn switch_count(&self) -> u64 {
        self.switches.load(Ordering::Relaxed)
    }

    /// Its saved context (for the architecture's user-mode and FPU setup).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    pub(super) fn has_flag(&self, f: u32) -> bool {
        self.flags.load(Ordering::Acquire) & f != 0
    }

    pub(super) fn set_flag(&self, f: u32) {
        self.flags.fetch_or(f, Ordering::AcqRel);
    }

    pub(super) fn clear_flag(&self, f: u32) {
        self.flags.fetch_and(!f, Ordering::AcqRel);
    }

    /// Whether it is a CPU's idle thread.
    pub fn is_idle(&self) -> bool {
        self.has_flag(flag::IDLE)
    }

    /// Changes the state along an edge of the diagram in the `sched` overview.
    ///
    /// # Panics
    ///
    /// On any other transition, or if the state changed concurrently (a locking bug).
    pub(super) fn set_state(&self, to: u32) {
        let from = self.state.load(Ordering::Acquire);
        let ok = matches!(
            (from, to),
            (FREE, LSIDL)
                | (LSIDL, LSRUN)
                | (LSIDL, LSONPROC)
                | (LSRUN, LSONPROC)
                | (LSONPROC, LSRUN)
                | (LSONPROC, LSSLEEP)
                | (LSONPROC, LSZOMB)
                | (LSSLEEP, LSRUN)
                | (LSZOMB, FREE)
        );
        assert!(
            ok,
            "thread {}: bad state transition {} -> {}",
            self.slot_index(),
            state_name(from),
            state_name(to)
        );
        let r = self
            .state
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire);
        assert!(
            r.is_ok(),
            "thread {}: state changed under us",
            self.slot_index()
        );
    }

    pub(super) fn raw_state(&self) -> u32 {
        self.state.load(Ordering::Acquire)
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Thread({} {:?} {} cpu {})",
            self.id(),
            self.name.try_lock().and_then(|n| *n).unwrap_or("?"),
            state_name(self.raw_state()),
            self.cpu()
        )
    }
}

fn state_name(s: u32) -> &'static str {
    LwpState::from_u32(s).map_or(if s == FREE { "free" } else { "?" }, LwpState::name)
}

/// A thread id: slot and generation. Printed as `slot.gen`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThreadId {
    /// Slot in the table.
    pub slot: u32,
    /// Generation of the slot.
    pub gen: u32,
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.slot, self.gen)
    }
}

/// The thread table.
pub(super) static THREADS: [Thread; MAX_THREADS] = [const { Thread::EMPTY }; MAX_THREADS];

/// Free slots (after their first use) and the first never-used slot.
struct Slots {
    free: List,
    high_water: usize,
}

static SLOTS: IrqMutex<Slots> = IrqMutex::new(Slots {
    free: List::new(ids::FREE_LIST, Which::Main),
    high_water: 0,
});

/// A kernel stack for a new thread: 16 KiB with an unmapped guard below (`mm::kstack`), so
/// an overflow is reported as such instead of corrupting a neighbour.
pub fn alloc_stack() -> Option<KernelStack> {
    KernelStack::new().ok()
}

/// Takes a free slot and makes it an `LSIDL` thread with one reference (the thread's own).
pub(super) fn alloc_slot(name: &'static str) -> Option<&'static Thread> {
    let t = {
        let mut s = SLOTS.lock();
        match s.free.pop_front() {
            Some(t) => t,
            None if s.high_water < MAX_THREADS => {
                let t = &THREADS[s.high_water];
                t.slot.store(s.high_water as u32, Ordering::Relaxed);
                s.high_water += 1;
                t
            }
            None => return None,
        }
    };
    t.flags.store(0, Ordering::Relaxed);
    t.affinity.store(ANY_CPU, Ordering::Relaxed);
    t.wchan.store(0, Ordering::Relaxed);
    t.switches.store(0, Ordering::Relaxed);
    t.refs.store(1, Ordering::Relaxed);
    *t.name.lock() = Some(name);
    t.set_state(LSIDL);
    Some(t)
}

/// Gives `t` its kernel stack (kept until the slot is freed).
pub(super) fn set_stack(t: &Thread, stack: KernelStack) {
    *t.stack.lock() = Some(stack);
}

/// Drops one reference; the last one frees the slot. Interrupts must be enabled (freeing may
/// take the heap's lock).
pub(super) fn release(t: &'static Thread) {
    if t.refs.fetch_sub(1, Ordering::AcqRel) != 1 {
        return;
    }
    debug_assert_eq!(t.raw_state(), LSZOMB);
    assert!(!t.ctx.on_cpu(), "freeing a thread that is on a CPU");
    let stack = t.stack.lock().take();
    let entry = t.entry.lock().take();
    let fpu = t.ctx.set_fpu(None);
    *t.name.lock() = None;
    drop((stack, entry, fpu));
    t.gen.fetch_add(1, Ordering::Relaxed);
    t.set_state(FREE);
    SLOTS.lock().free.push_back(t);
}

/// Error from [`spawn`].
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// All thread slots are in use.
    NoSlot,
    /// No kernel stack is free.
    NoStack,
    /// The requested CPU is not online.
    NoSuchCpu,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoSlot => "no free thread slot",
            Self::NoStack => "no free kernel stack",
            Self::NoSuchCpu => "no such CPU online",
        })
    }
}

/// Creates a kernel thread running `f` and makes it runnable on the least-loaded CPU.
pub fn spawn<F>(name: &'static str, f: F) -> Result<JoinHandle, SpawnError>
where
    F: FnOnce() + Send + 'static,
{
    spawn_inner(name, ANY_CPU, 0, Entry::Kernel(Box::new(f)))
}

/// Creates a thread that will run user code: like [`spawn`], but the top [`TrapFrame`] of
/// its kernel stack is left free for its user register frame (`arch::trap::user_frame`),
/// where every entry from ring 3 saves the registers. The thread runs `f` below it; when `f`
/// returns registers, they become the user frame and the thread enters ring 3
/// (`arch::trap::enter_user`); when it returns `None`, the thread exits. `f` and everything
/// it captured are dropped before the thread enters ring 3 (nothing is left on the kernel
/// stack it abandons).
pub fn spawn_user<F>(name: &'static str, f: F) -> Result<JoinHandle, SpawnError>
where
    F: FnOnce() -> Option<TrapFrame> + Send + 'static,
{
    let reserve = core::mem::size_of::<TrapFrame>() as u64;
    spawn_inner(name, ANY_CPU, reserve, Entry::User(Box::new(f)))
}

/// Creates a kernel thread running `f` that only ever runs on CPU `cpu`.
pub fn spawn_on<F>(cpu: usize, name: &'static str, f: F) -> Result<JoinHandle, SpawnError>
where
    F: FnOnce() + Send + 'static,
{
    if cpu >= 64 || crate::arch::percpu::online_mask() & (1 << cpu) == 0 {
        return Err(SpawnError::NoSuchCpu);
    }
    spawn_inner(name, cpu as u32, 0, Entry::Kernel(Box::new(f)))
}

fn spawn_inner(
    name: &'static str,
    affinity: u32,
    reserve: u64,
    f: Entry,
) -> Result<JoinHandle, SpawnError> {
    reap_local();
    let stack = alloc_stack().ok_or(SpawnError::NoStack)?;
    let t = alloc_slot(name).ok_or(SpawnError::NoSlot)?;
    t.refs.fetch_add(1, Ordering::Relaxed); // the handle's
    t.affinity.store(affinity, Ordering::Relaxed);
    t.ctx.prepare(stack.top(), reserve, thread_entry, 0);
    *t.stack.lock() = Some(stack);
    *t.entry.lock() = Some(f);
    let id = t.id();
    runq::make_runnable(t);
    Ok(JoinHandle { thread: t, id })
}

/// What a spawned thread runs.
enum Entry {
    /// Kernel code.
    Kernel(Box<dyn FnOnce() + Send>),
    /// Set-up code that returns the registers to enter ring 3 with (`spawn_user`).
    User(Box<dyn FnOnce() -> Option<TrapFrame> + Send>),
}

/// First code of every spawned thread (interrupts are disabled by the switch).
extern "C" fn thread_entry(_: usize) -> ! {
    crate::arch::irq::enable();
    let me = super::current();
    let f = me.entry.lock().take();
    match f {
        Some(Entry::Kernel(f)) => f(),
        Some(Entry::User(f)) => {
            if let Some(regs) = f() {
                crate::arch::trap::enter_user(&regs);
            }
        }
        None => {}
    }
    exit()
}

/// Ends the calling thread.
///
/// # Panics
///
/// If called by an idle thread.
pub fn exit() -> ! {
    let me = super::current();
    assert!(!me.is_idle(), "the idle thread cannot exit");
    me.set_flag(flag::EXITED);
    sleepq::wakeup(sleepq::WaitChannel::of(me));
    runq::switch_away(runq::Why::Exit);
    unreachable!("a zombie ran again");
}

/// Releases the thread's own reference of every zombie on this CPU's dead list whose
/// context is off the CPU. Call with interrupts enabled.
pub fn reap_local() {
    loop {
        let Some(t) = runq::pop_dead() else { return };
        release(t);
    }
}

/// A handle to a spawned thread: [`join`](JoinHandle::join) waits for it to exit; dropping
/// the handle detaches the thread.
#[derive(Debug)]
pub struct JoinHandle {
    thread: &'static Thread,
    id: ThreadId,
}

#[allow(dead_code)] // API
impl JoinHandle {
    /// The thread's id.
    pub fn id(&self) -> ThreadId {
        self.id
    }

    /// The thread (valid while the handle lives).
    pub fn thread(&self) -> &'static Thread {
        self.thread
    }

    /// Whether the thread has exited.
    pub fn is_finished(&self) -> bool {
        self.thread.has_flag(flag::EXITED)
    }

    /// Waits (sleeping, uninterruptibly) until the thread has exited.
    pub fn join(self) {
        let t = self.thread;
        while !t.has_flag(flag::EXITED) {
            sleepq::sleep(sleepq::WaitChannel::of(t), false, || {
                !t.has_flag(flag::EXITED)
            });
        }
        // Dropping the handle releases its reference.
    }
}

impl Drop for JoinHandle {
    fn drop(&mut self) {
        release(self.thread);
    }
}

/// The threads in use (not free), for reports.
pub(super) fn live_threads() -> impl Iterator<Item = &'static Thread> {
    let hw = SLOTS.lock().high_water;
    THREADS[..hw].iter().filter(|t| t.raw_state() != FREE)
}
