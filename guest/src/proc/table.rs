//! The process table and the id allocator.
//!
//! Process and thread ids share one number space, as on Linux: ids are handed out in
//! increasing order from 1 (init), wrapping around below [`PID_MAX`] to the lowest free id
//! above 1, never reusing an id that is a process's or a live thread's. Processes stay in the
//! table from creation until their parent reaps them ([`remove`]).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::sync::Arc;

use super::{Pid, Process};
use crate::sync::IrqMutex;

/// One above the largest id (Linux's `PID_MAX_LIMIT` on 64-bit).
pub const PID_MAX: Pid = 4 * 1024 * 1024;

struct Table {
    procs: BTreeMap<Pid, Arc<Process>>,
    /// Ids in use (processes and threads).
    used: BTreeSet<Pid>,
    /// The last id handed out.
    last: Pid,
}

static TABLE: IrqMutex<Table> = IrqMutex::new(Table {
    procs: BTreeMap::new(),
    used: BTreeSet::new(),
    last: 0,
});

/// A free id (`None` when all are in use); released with [`free_pid`].
pub fn alloc_pid() -> Option<Pid> {
    let mut t = TABLE.lock();
    let mut id = t.last;
    for _ in 0..PID_MAX {
        id = if id + 1 >= PID_MAX { 2 } else { id + 1 };
        if !t.used.contains(&id) {
            t.used.insert(id);
            t.last = id;
            return Some(id);
        }
    }
    None
}

/// Gives an id back (a thread id that was not a process's; process ids go with [`remove`]).
#[allow(dead_code)] // for threads beyond the first (issue 4)
pub fn free_pid(id: Pid) {
    TABLE.lock().used.remove(&id);
}

/// Enters `p` in the table (its id came from [`alloc_pid`]).
pub(super) fn insert(p: &Arc<Process>) {
    let mut t = TABLE.lock();
    t.used.insert(p.pid());
    t.procs.insert(p.pid(), p.clone());
}

/// Takes process `pid` out of the table and frees its id (the parent reaped it).
pub fn remove(pid: Pid) -> Option<Arc<Process>> {
    let mut t = TABLE.lock();
    t.used.remove(&pid);
    t.procs.remove(&pid)
}

/// Process `pid`, if it is in the table.
#[allow(dead_code)] // for kill, wait4 (issues 4 and 5)
pub fn find(pid: Pid) -> Option<Arc<Process>> {
    TABLE.lock().procs.get(&pid).cloned()
}
