//! The LWP table: the user side of each scheduler thread, by thread slot.
//!
//! [`Lwp`] `i` belongs to `sched` thread slot `i` (see the `proc` overview). A slot is an
//! LWP while its thread runs user code: the thread itself [`attach`](Lwp::attach)es it before
//! entering ring 3 and [`detach`](Lwp::detach)es it on its way out, so only the owning
//! thread ever writes its ids and only it reads them through [`current`] (other LWPs will find
//! it through its process's list, under the process lock).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicI32, Ordering};

use shared_abi::current::lwp::{LSONPROC, LSZOMB};

use super::{Pid, Process};
use crate::inspect::{self, LwpSlot};
use crate::sched::{self, MAX_THREADS};
use crate::sync::IrqMutex;

/// The user side of one thread (see the module documentation).
pub struct Lwp {
    /// Its process's id; 0 while the slot is not an LWP.
    pid: AtomicI32,
    /// Its (Linux) thread id.
    tid: AtomicI32,
    /// Its NetBSD LWP id in its process.
    lid: AtomicI32,
    /// Its process.
    proc: IrqMutex<Option<Arc<Process>>>,
    /// Its inspection record while it is an LWP (`None` if the table had no room).
    rec: IrqMutex<Option<LwpSlot>>,
}

impl Lwp {
    #[allow(clippy::declare_interior_mutable_const)] // only an array initialiser
    const EMPTY: Self = Self {
        pid: AtomicI32::new(0),
        tid: AtomicI32::new(0),
        lid: AtomicI32::new(0),
        proc: IrqMutex::new(None),
        rec: IrqMutex::new(None),
    };

    /// Its process id (`getpid`).
    #[inline]
    pub fn pid(&self) -> Pid {
        self.pid.load(Ordering::Relaxed)
    }

    /// Its thread id (`gettid`).
    #[inline]
    pub fn tid(&self) -> Pid {
        self.tid.load(Ordering::Relaxed)
    }

    /// Its NetBSD LWP id (`_lwp_self`).
    #[allow(dead_code)] // for the _lwp_* calls (issue 4)
    pub fn lid(&self) -> i32 {
        self.lid.load(Ordering::Relaxed)
    }

    /// Its process.
    pub fn process(&self) -> Option<Arc<Process>> {
        self.proc.lock().clone()
    }

    /// Makes the calling thread's slot an LWP of `p` with thread id `tid` and LWP id `lid`
    /// (the thread's first step before entering ring 3), and adds it to `p`'s LWP list.
    ///
    /// # Panics
    ///
    /// If the slot is an LWP already.
    pub fn attach(p: Arc<Process>, tid: Pid, lid: i32) -> &'static Lwp {
        let me = &LWPS[sched::current().slot_index()];
        assert_eq!(me.pid(), 0, "attaching a thread that is an LWP already");
        me.tid.store(tid, Ordering::Relaxed);
        me.lid.store(lid, Ordering::Relaxed);
        me.pid.store(p.pid(), Ordering::Relaxed);
        // Its inspection record, running here; from now on the scheduler's transitions keep
        // it current (`inspect::bind_thread`).
        let slot = sched::current().slot_index();
        let rec = inspect::alloc_lwp(p.pid(), lid);
        if let Some(r) = &rec {
            let cpu = crate::arch::percpu::cpu_id() as i32;
            r.update(|r| {
                r.state = LSONPROC;
                r.cpu = cpu;
                r.switches = 1;
            });
            inspect::bind_thread(slot, r);
        }
        *me.rec.lock() = rec;
        p.inner.lock().lwps.push(me);
        *me.proc.lock() = Some(p);
        me
    }

    /// Stops publishing the calling LWP's transitions and marks its record `LSZOMB`; returns
    /// the record, which its process keeps until it is collected.
    pub(super) fn detach_record(&self) -> Option<LwpSlot> {
        inspect::unbind_thread(sched::current().slot_index());
        // Unbound: the scheduler no longer writes the record, so this is its only writer.
        let rec = self.rec.lock().take()?;
        rec.update(|r| {
            r.state = LSZOMB;
            r.regs_valid = 0;
            r.wchan = 0;
            r.wmesg = [0; 16];
        });
        Some(rec)
    }

    /// Makes the calling thread's slot free again (its last step as an LWP).
    pub(super) fn detach(&self) {
        self.pid.store(0, Ordering::Relaxed);
        self.tid.store(0, Ordering::Relaxed);
        self.lid.store(0, Ordering::Relaxed);
        let p = self.proc.lock().take();
        drop(p);
    }
}

/// The LWP table, by thread slot.
static LWPS: [Lwp; MAX_THREADS] = [const { Lwp::EMPTY }; MAX_THREADS];

/// The running LWP (NetBSD's `curlwp`), or `None` in a kernel thread.
#[inline]
pub fn current() -> Option<&'static Lwp> {
    let me = LWPS.get(sched::current_slot())?;
    (me.pid() != 0).then_some(me)
}
