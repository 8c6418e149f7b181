//! Pausing every vCPU for a dump, and resuming them.
//!
//! A [`PauseGate`] is shared by the main thread and the vCPU threads. To pause, the main thread
//! raises the gate's request and kicks every vCPU thread with the same real-time signal the
//! stop path uses (see `vcpu.rs`: the handler sets `kvm_run.immediate_exit`, so a thread inside
//! `KVM_RUN` — running guest code, halted in `hlt`, or an AP still in wait-for-SIPI, all of
//! which block inside the host kernel — returns at once, and a thread about to enter returns
//! immediately). Each vCPU thread checks the gate at the top of its loop, reads its own
//! registers (`KVM_GET_REGS`/`KVM_GET_SREGS`/`KVM_GET_MP_STATE`: a vCPU's ioctls are issued
//! from its own thread), leaves them in the gate and waits on a condition variable until the
//! gate is lowered. [`PauseGate::pause_all`] returns when every vCPU thread that is still alive
//! has parked (re-kicking stragglers every few milliseconds), or at its deadline, reporting the
//! ones that did not park.
//!
//! A vCPU thread can also raise the gate itself (a dump-port write, [`PauseGate::hold`]): it
//! then parks at once, before the main thread has kicked anybody, so the guest does not run
//! on past the request, and it stays parked — across other pauses and resumes, e.g. a
//! control-socket dump that happens first — until the main thread has served its request and
//! [`PauseGate::release`]s it.
//!
//! Memory ordering: a parked thread is outside `KVM_RUN`, so its vCPU executes nothing; the
//! main thread reads guest memory only after it has seen every thread park (under the gate's
//! mutex), which orders the reads after the guest's last stores as observed by the host.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::inspect::model::VcpuDump;
use crate::sync::lock;

/// How often a parked thread re-checks its stop flag, and how often `pause_all` re-kicks.
const POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Default)]
struct State {
    /// A pause is requested.
    requested: bool,
    /// Incremented at every resume; a parked thread waits for it to change.
    epoch: u64,
    /// Snapshots of the parked vCPUs.
    parked: BTreeMap<u8, VcpuDump>,
    /// vCPUs held until their own request is served.
    held: std::collections::BTreeSet<u8>,
}

/// The pause request and the parked vCPUs' snapshots.
#[derive(Debug, Default)]
pub struct PauseGate {
    requested: AtomicBool,
    state: Mutex<State>,
    cv: Condvar,
}

/// The result of a pause.
#[derive(Debug, Clone)]
pub struct Paused {
    /// Snapshots of the parked vCPUs, by id.
    pub vcpus: Vec<VcpuDump>,
    /// vCPUs that were alive but did not park before the deadline.
    pub stragglers: Vec<u8>,
    /// When the pause was requested.
    pub started: Instant,
    /// How long parking took.
    pub pause_ns: u64,
}

impl PauseGate {
    /// A lowered gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a pause is requested (the vCPU loop's cheap check).
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Raises the gate.
    pub fn request(&self) {
        let mut st = lock(&self.state);
        st.requested = true;
        self.requested.store(true, Ordering::SeqCst);
    }

    /// Raises the gate for vCPU `id`'s own request: it parks at its next check and stays
    /// parked until [`release`](Self::release)d.
    pub fn hold(&self, id: u8) {
        let mut st = lock(&self.state);
        st.held.insert(id);
        st.requested = true;
        self.requested.store(true, Ordering::SeqCst);
    }

    /// Lets a held vCPU go at the next resume.
    pub fn release(&self, id: u8) {
        lock(&self.state).held.remove(&id);
        self.cv.notify_all();
    }

    /// Called by vCPU `id`'s thread at the top of its loop when [`requested`](Self::requested):
    /// leaves `snapshot()` in the gate and waits until the gate is lowered (and, if held, it is
    /// released) or `stop` is set. A held vCPU re-registers its snapshot for every pause that
    /// happens while it waits.
    pub fn park(&self, id: u8, stop: &AtomicBool, snapshot: impl FnOnce() -> VcpuDump) {
        // Read the registers before taking the lock: the ioctls may take a while.
        let snap = snapshot();
        let mut st = lock(&self.state);
        if !st.requested && !st.held.contains(&id) {
            return;
        }
        let mut epoch = st.epoch;
        loop {
            if st.requested && !st.parked.contains_key(&id) {
                st.parked.insert(id, snap.clone());
                self.cv.notify_all();
            }
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let resumed = !st.requested || st.epoch != epoch;
            if resumed && !st.held.contains(&id) {
                return;
            }
            epoch = st.epoch;
            st = match self.cv.wait_timeout(st, POLL) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Raises the gate, kicks (`kick(id)`) every vCPU in `alive()` until all of them have
    /// parked or `timeout` passes. `alive` is re-evaluated as threads may end meanwhile.
    pub fn pause_all(
        &self,
        alive: impl Fn() -> Vec<u8>,
        kick: impl Fn(u8),
        timeout: Duration,
    ) -> Paused {
        let started = Instant::now();
        self.request();
        let deadline = started + timeout;
        let mut st = lock(&self.state);
        let mut last_kick: Option<Instant> = None;
        loop {
            let live = alive();
            let missing: Vec<u8> = live
                .iter()
                .copied()
                .filter(|id| !st.parked.contains_key(id))
                .collect();
            let now = Instant::now();
            if missing.is_empty() || now >= deadline {
                let vcpus = st.parked.values().cloned().collect();
                return Paused {
                    vcpus,
                    stragglers: missing,
                    started,
                    pause_ns: started.elapsed().as_nanos() as u64,
                };
            }
            if last_kick.is_none_or(|t| now.duration_since(t) >= POLL) {
                // Kick without the lock (a parking thread needs it), then look again: a
                // thread may have parked meanwhile, and its notification is not waited for.
                drop(st);
                for id in &missing {
                    kick(*id);
                }
                last_kick = Some(Instant::now());
                st = lock(&self.state);
                continue;
            }
            st = match self.cv.wait_timeout(st, POLL) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Lowers the gate: every parked vCPU goes back to running the guest.
    pub fn resume_all(&self) {
        let mut st = lock(&self.state);
        st.requested = false;
        self.requested.store(false, Ordering::SeqCst);
        st.epoch = st.epoch.wrapping_add(1);
        st.parked.clear();
        self.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    fn snap(id: u8) -> VcpuDump {
        VcpuDump {
            id,
            state: "running".into(),
            mp_state: Some(0),
            regs: None,
        }
    }

    #[test]
    fn threads_park_and_resume() {
        let gate = Arc::new(PauseGate::new());
        let stop = Arc::new(AtomicBool::new(false));
        let runs = Arc::new(Mutex::new([0u64; 3]));
        let mut threads = Vec::new();
        for id in 0..3u8 {
            let (gate, stop, runs) = (gate.clone(), stop.clone(), runs.clone());
            threads.push(thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if gate.requested() {
                        gate.park(id, &stop, || snap(id));
                        continue;
                    }
                    lock(&runs)[id as usize] += 1;
                    thread::yield_now();
                }
            }));
        }
        for _ in 0..20 {
            let p = gate.pause_all(|| vec![0, 1, 2], |_| {}, Duration::from_secs(5));
            assert!(p.stragglers.is_empty());
            assert_eq!(p.vcpus.iter().map(|v| v.id).collect::<Vec<_>>(), [0, 1, 2]);
            // Nobody runs while paused.
            let before = *lock(&runs);
            thread::sleep(Duration::from_millis(2));
            assert_eq!(*lock(&runs), before);
            gate.resume_all();
        }
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn a_held_thread_stays_parked_until_released() {
        let gate = Arc::new(PauseGate::new());
        let stop = Arc::new(AtomicBool::new(false));
        gate.hold(3);
        let (g, s) = (gate.clone(), stop.clone());
        let t = thread::spawn(move || g.park(3, &s, || snap(3)));
        // Another pause and resume first (a control dump): vCPU 3 is in it, and stays parked.
        let p = gate.pause_all(|| vec![3], |_| {}, Duration::from_secs(5));
        assert_eq!(p.vcpus.len(), 1);
        gate.resume_all();
        thread::sleep(Duration::from_millis(20));
        assert!(!t.is_finished(), "held across a resume");
        // Its own dump: it parks again for it, then goes once released and resumed.
        let p = gate.pause_all(|| vec![3], |_| {}, Duration::from_secs(5));
        assert_eq!(p.vcpus.len(), 1, "re-registered for the second pause");
        gate.release(3);
        gate.resume_all();
        t.join().unwrap();
        // A stop flag ends a hold too.
        gate.hold(4);
        stop.store(true, Ordering::SeqCst);
        gate.park(4, &stop, || snap(4));
    }

    #[test]
    fn a_thread_that_never_parks_is_reported() {
        let gate = PauseGate::new();
        let p = gate.pause_all(|| vec![4], |_| {}, Duration::from_millis(30));
        assert_eq!(p.stragglers, vec![4]);
        assert!(p.vcpus.is_empty());
        gate.resume_all();
        assert!(!gate.requested());
    }

    #[test]
    fn a_self_requested_park_waits_for_resume() {
        let gate = Arc::new(PauseGate::new());
        let stop = Arc::new(AtomicBool::new(false));
        gate.request();
        let (g, s) = (gate.clone(), stop.clone());
        let t = thread::spawn(move || g.park(7, &s, || snap(7)));
        let p = gate.pause_all(|| vec![7], |_| {}, Duration::from_secs(5));
        assert_eq!(p.vcpus.len(), 1);
        assert!(!t.is_finished());
        gate.resume_all();
        t.join().unwrap();
    }
}
