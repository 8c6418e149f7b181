//! Processes and light-weight processes: the user side of threads.
//!
//! # Processes, LWPs and threads
//!
//! A **process** ([`Process`]) is a running program: a process id, its parent's id, a name
//! (the program file's base name, at most 15 bytes, as Linux's `comm`), an address space
//! (`mm::VmSpace`), its LWPs and, once they are all gone, an exit status. It owns no CPU
//! state: everything that runs is an LWP.
//!
//! An **LWP** (light-weight process, NetBSD's word; a Linux "thread") is the user side of a
//! scheduler thread (`sched::Thread`): the thread is a kernel stack, a saved kernel context
//! (with the user FS/GS bases, the FPU/SSE area and the page-table root the context switch
//! loads) and a scheduling state; the LWP adds which process it belongs to and its ids. The
//! two are paired by slot: LWP `i` of the static table in `lwp` is the user side of thread
//! slot `i`, so finding the running LWP (NetBSD's `curlwp`) is one per-CPU load and an index,
//! and nothing in the scheduler knows about processes. The registers of ring 3 live in the
//! LWP's **user frame**, the top `TrapFrame` of its kernel stack (`arch::trap::user_frame`),
//! where every entry from ring 3 saves them: exceptions, interrupts and both system-call
//! gates.
//!
//! Ids: a process id and a thread id come from one number space (Linux: the first LWP's
//! thread id is the process id, and `gettid` returns it); NetBSD's per-process LWP id
//! (`lid`, from 1, never 0) is kept alongside for the `_lwp_*` calls. Process 1 is init.
//!
//! # Life of a process (this issue)
//!
//! `exec::start_init` reads a static ELF program from the initrd, builds its address space
//! (image regions copied from the initrd on first touch, the `brk` heap after the image, an
//! 8 MiB demand-zero stack at the top of user space) and its initial stack (argv, envp,
//! auxv), and creates process 1 with one LWP, whose thread enters ring 3 through the common
//! return path (`userret`, `swapgs`, `iretq`). The LWP leaves through `exit`, `exit_group`
//! or a fatal fault ([`fault`]); the last LWP to leave ends the process ([`exit_lwp`]): it
//! drops the address space (after switching its own context to the kernel's tables), records
//! the wait status and wakes whoever waits for the process (the kernel's main thread, for
//! init: its status becomes the VM's).
//!
//! # What issue 4 adds on this structure
//!
//! NetBSD's LWP model (its `kern_lwp.c` overview is the specification) sits on these types
//! without changing their shape:
//!
//! - **States.** An LWP's execution state is its thread's `sched` state (`LSIDL`, `LSRUN`,
//!   `LSONPROC`, `LSSLEEP`, `LSZOMB`, NetBSD's numbers from `shared_abi::lwp`, with the
//!   scheduler's checked `set_state`); `LSSTOP` and `LSSUSPENDED` join them with the seed's
//!   edges only. As the seed requires, `LSSUSPENDED` is entered only in `userret` and
//!   `LSSTOP` only there or from an interruptible sleep: other LWPs state their intent (a
//!   suspend flag, a pending stop), raise the target CPU's `ast` request
//!   (`percpu::request_userret`, plus an IPI) and the target acts on its way back to ring 3.
//! - **Counters.** [`ProcInner`] gets the seed's per-process counters next to `nlwps`:
//!   `nrlwps` (LWPs running or likely to run soon: `LSRUN`, `LSONPROC`, `LSSLEEP`),
//!   `nzlwps` (zombies), `ndlwps` (detached), `nlwpwait` (LWPs in `_lwp_wait`), adjusted
//!   under the process lock whenever an LWP enters or leaves `LSIDL`, `LSZOMB`, `LSSTOP` or
//!   `LSSUSPENDED`; `nlwps` already counts the LWPs that have not exited.
//! - **Zombie LWPs and `_lwp_wait`.** An exiting LWP keeps its [`lwp::Lwp`] slot (lid, exit
//!   state) until reaped: the slot is freed with the thread's, so a zombie costs a thread
//!   slot and nothing else; its kernel stack is freed by the scheduler's reaper.
//! - **Creation.** `_lwp_create` / `clone(CLONE_THREAD)` spawn a thread with
//!   `sched::spawn_user` whose entry copies the creator's user frame (or the given context)
//!   into its own user frame and calls `arch::trap::enter_user`; `fork` does the same in a
//!   new process whose address space is `VmSpace::fork`'s copy.
//! - **`exit_group`** sets the group exit status and asks every other LWP to exit at its
//!   next `userret` (NetBSD's `exit_lwps`), then exits the caller; the last one out ends the
//!   process, exactly as [`exit_lwp`] does now.
//! - **Signals** (issue 5): the per-LWP and per-process pending sets, masks and dispositions
//!   go into [`lwp::Lwp`] and [`ProcInner`]; delivery runs in `userret` on the user frame;
//!   [`fault`] turns from "report and end the process" into "post a synchronous signal".
//!
//! # Locking
//!
//! | lock | covers |
//! |---|---|
//! | the process table ([`table`]) | pid allocation, the pid → process map |
//! | a process's `inner` (`IrqMutex`) | its LWP list and counters, group exit status |
//! | a process's `vm` (`IrqMutex`) | which address space it has (read by cloning the `Arc`) |
//! | an LWP's `proc` (`IrqMutex`) | its process (set once by the LWP itself, cleared at exit) |
//!
//! Lock order: process table → a process's `inner` → its `vm` → an LWP's `proc`. None is
//! held across a context switch, a sleep, or user-memory access. An LWP's ids are atomics
//! written by the LWP itself before it first runs user code and after it last did.

pub mod exec;
pub mod fault;
pub mod lwp;
mod table;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

pub use self::lwp::{current, Lwp};
pub use self::table::{alloc_pid, remove as remove_process};
use shared_abi::current::inspect::{ProcState, PROCF_INIT};

use crate::inspect::{self, LwpSlot, ProcSlot};
use crate::mm::vmspace::VmSpace;
use crate::sched::{self, WaitChannel};
use crate::sync::IrqMutex;

/// A process or thread id.
pub type Pid = i32;

/// The longest process name kept (Linux's `TASK_COMM_LEN` - 1).
pub const NAME_MAX: usize = 15;

/// How a process ended, as a Linux wait status (`wait4`'s `wstatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitStatus(pub i32);

impl WaitStatus {
    /// Exited with `code` (only its low 8 bits are kept, as on Linux).
    pub const fn exited(code: i32) -> Self {
        Self((code & 0xff) << 8)
    }

    /// Killed by signal `sig`.
    pub const fn signaled(sig: u32) -> Self {
        Self((sig & 0x7f) as i32)
    }

    /// The exit code, if it exited.
    pub const fn exit_code(self) -> Option<i32> {
        if self.0 & 0x7f == 0 {
            Some((self.0 >> 8) & 0xff)
        } else {
            None
        }
    }

    /// The signal that killed it, if one did.
    pub const fn signal(self) -> Option<u32> {
        let sig = self.0 & 0x7f;
        if sig != 0 && sig != 0x7f {
            Some(sig as u32)
        } else {
            None
        }
    }
}

/// A process (see the module documentation).
pub struct Process {
    pid: Pid,
    ppid: AtomicI32,
    name: String,
    vm: IrqMutex<Option<Arc<VmSpace>>>,
    inner: IrqMutex<ProcInner>,
    /// Set (release) once the last LWP has left and `status` is final.
    exited: AtomicBool,
    status: AtomicI32,
}

/// The parts of a process under its lock.
pub struct ProcInner {
    /// Its live LWPs (not yet exited).
    pub lwps: Vec<&'static Lwp>,
    /// LWPs created and not yet exited (NetBSD's `p_nlwps`; counts an LWP from its creation,
    /// before its thread first runs).
    pub nlwps: u32,
    /// The next NetBSD LWP id.
    pub next_lid: i32,
    /// `exit_group`'s status (or a fatal signal's), which wins over the last LWP's own.
    pub group_exit: Option<WaitStatus>,
    /// Its inspection record (`None` if the table had no room), updated under this lock.
    pub rec: Option<ProcSlot>,
    /// The inspection records of its exited LWPs (zombies until the process is collected).
    pub zombie_recs: Vec<LwpSlot>,
}

impl Process {
    /// A new process with no LWPs, in the process table.
    pub fn new(pid: Pid, ppid: Pid, name: &str, vm: Arc<VmSpace>) -> Arc<Self> {
        let end = name
            .char_indices()
            .map(|(i, c)| i + c.len_utf8())
            .take_while(|&e| e <= NAME_MAX)
            .last()
            .unwrap_or(0);
        let root = vm.root().0;
        let rec = inspect::alloc_proc(pid);
        if let Some(r) = &rec {
            r.update(|r| {
                r.ppid = ppid;
                r.state = ProcState::Active as u32;
                r.flags = if pid == 1 { PROCF_INIT } else { 0 };
                r.cr3 = root;
                let n = end.min(r.name.len());
                r.name[..n].copy_from_slice(&name.as_bytes()[..n]);
            });
        }
        let p = Arc::new(Self {
            pid,
            ppid: AtomicI32::new(ppid),
            name: String::from(&name[..end]),
            vm: IrqMutex::new(Some(vm)),
            inner: IrqMutex::new(ProcInner {
                lwps: Vec::new(),
                nlwps: 0,
                next_lid: 1,
                group_exit: None,
                rec,
                zombie_recs: Vec::new(),
            }),
            exited: AtomicBool::new(false),
            status: AtomicI32::new(0),
        });
        table::insert(&p);
        p
    }

    /// Its process id.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Its parent's process id (0 for init).
    pub fn ppid(&self) -> Pid {
        self.ppid.load(Ordering::Relaxed)
    }

    /// Its name (the program's base name, at most [`NAME_MAX`] bytes).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its address space (`None` once it has exited).
    pub fn vm(&self) -> Option<Arc<VmSpace>> {
        self.vm.lock().clone()
    }

    /// Counts a new LWP (before its thread runs) and returns its NetBSD LWP id.
    pub fn add_lwp(&self) -> i32 {
        let mut inner = self.inner.lock();
        inner.nlwps += 1;
        let lid = inner.next_lid;
        inner.next_lid += 1;
        let n = inner.nlwps;
        let nz = inner.zombie_recs.len() as u32;
        if let Some(r) = &inner.rec {
            r.update(|r| {
                r.nlwps = n + nz;
                r.nrlwps = n;
            });
        }
        lid
    }

    /// Whether every LWP has left and the wait status is final.
    pub fn has_exited(&self) -> bool {
        self.exited.load(Ordering::Acquire)
    }

    /// The wait status (meaningful once [`has_exited`](Self::has_exited)).
    pub fn status(&self) -> WaitStatus {
        WaitStatus(self.status.load(Ordering::Acquire))
    }

    /// Sleeps until the process has exited, waking every `poll_ns` (if given) to call
    /// `poll` (for heartbeats). Returns its wait status.
    pub fn wait_exit(&self, poll_ns: Option<u64>, mut poll: impl FnMut()) -> WaitStatus {
        let chan = WaitChannel::of(self);
        while !self.has_exited() {
            match poll_ns {
                Some(ns) => {
                    let deadline = sched::now_ns().saturating_add(ns);
                    if sched::sleep_timeout(chan, false, deadline, || !self.has_exited())
                        == sched::Wake::TimedOut
                    {
                        poll();
                    }
                }
                None => {
                    sched::sleep(chan, false, || !self.has_exited());
                }
            }
        }
        self.status()
    }
}

impl Drop for Process {
    /// Collected: its inspection records go (init's stay, as its zombie: nobody collects
    /// init, whose end is the VM's, and the exit dump shows how it ended).
    fn drop(&mut self) {
        if self.pid == 1 {
            return;
        }
        let mut inner = self.inner.lock();
        let zombies = core::mem::take(&mut inner.zombie_recs);
        let rec = inner.rec.take();
        drop(inner);
        for z in zombies {
            inspect::free_lwp(z);
        }
        if let Some(r) = rec {
            inspect::free_proc(r);
        }
    }
}

impl core::fmt::Debug for Process {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}[{}]", self.name, self.pid)
    }
}

/// Ends the calling LWP with `status` (`exit`): if it is the last LWP of its process, the
/// process ends with `status`, or with the group status if `exit_group` or a fatal signal
/// set one. Interrupts must be enabled. Never returns.
///
/// # Panics
///
/// If the caller is not an LWP.
pub fn exit_lwp(status: WaitStatus) -> ! {
    leave_lwp(status);
    sched::exit()
}

/// [`exit_lwp`] without the final switch: the calling thread stops being an LWP (and ends
/// its process if it was the last LWP) and goes on as a kernel thread, which must exit
/// soon. For set-up code that fails before its LWP ever ran user code.
pub fn leave_lwp(status: WaitStatus) {
    let me = current().expect("leave_lwp from a kernel thread");
    let p = me.process().expect("an LWP without a process");
    let zombie = me.detach_record();
    let last = {
        let mut inner = p.inner.lock();
        inner.lwps.retain(|l| !core::ptr::eq(*l, me));
        inner.nlwps -= 1;
        let last = (inner.nlwps == 0).then(|| inner.group_exit.unwrap_or(status));
        let n = inner.nlwps;
        let nz = inner.zombie_recs.len() as u32 + u32::from(zombie.is_some());
        if let Some(r) = &inner.rec {
            // NetBSD's `p_nlwps` counts the zombies too (until they are collected).
            r.update(|r| {
                r.nlwps = n + nz;
                r.nrlwps = n;
                r.nzlwps = nz;
                if let Some(ws) = last {
                    r.state = ProcState::Zombie as u32;
                    r.exit_status = ws.0;
                    r.cr3 = 0;
                }
            });
        }
        inner.zombie_recs.extend(zombie);
        last
    };
    me.detach();
    if let Some(status) = last {
        // The address space goes first: this thread stops using it (its context's root
        // becomes the kernel's), then the last reference is dropped.
        VmSpace::activate_kernel();
        let vm = p.vm.lock().take();
        drop(vm);
        p.status.store(status.0, Ordering::Release);
        p.exited.store(true, Ordering::Release);
        sched::wakeup(WaitChannel::of(&*p));
        log::debug!("{p:?}: exited with wait status {:#x}", status.0);
    }
}

/// Ends the calling LWP's whole process with `status` (`exit_group`, fatal signals). With
/// one LWP per process (this issue) that is [`exit_lwp`] with the group status set; issue 4
/// makes the other LWPs exit at their next `userret` first.
pub fn exit_group(status: WaitStatus) -> ! {
    if let Some(p) = current().and_then(Lwp::process) {
        let mut inner = p.inner.lock();
        inner.group_exit.get_or_insert(status);
    }
    exit_lwp(status)
}

/// Installs the process layer's trap hooks (the user-fault handler). Call once at boot.
pub fn init() {
    crate::arch::trap::set_user_fault(fault::user_fault);
    // Every process and LWP from now on has its inspection record (or is counted in the
    // table's `dropped`), so the VMM may trust "no such process".
    inspect::enable_procs();
}
