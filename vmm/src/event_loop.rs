//! The event-loop thread: `event-manager` (epoll) over device eventfds, stdin and the VMM's own
//! control events.
//!
//! Subscribers (device glue such as the console's) are registered before the thread starts and
//! interpret their own events; the loop does not look at data. It owns two control events:
//! - a stop `EventFd`, written by [`EventLoop::stop`], which ends the thread;
//! - the host-signal `EventFd`: SIGINT, SIGTERM and SIGHUP sent to the VMM are caught by a handler
//!   that only records the signal number and writes this eventfd (both async-signal-safe), and
//!   the loop turns that into [`VmEnd::Signal`], so the main thread stops the VM and restores the
//!   terminal as on every other path.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use event_manager::{EventManager, EventOps, EventSet, Events, MutEventSubscriber, SubscriberOps};
use libc::{c_int, c_void, siginfo_t};
use vmm_sys_util::eventfd::EventFd;
use vmm_sys_util::signal::register_signal_handler;

use crate::outcome::{VmEnd, VmEvent};

/// A subscriber the loop can own and move to its thread.
pub type Subscriber = Box<dyn MutEventSubscriber + Send>;

/// Signals that end the VM cleanly.
pub const STOP_SIGNALS: [c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

static SIGNAL_EVT: OnceLock<EventFd> = OnceLock::new();
static LAST_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn stop_signal_handler(signal: c_int, _info: *mut siginfo_t, _ctx: *mut c_void) {
    LAST_SIGNAL.store(signal, Ordering::SeqCst);
    if let Some(evt) = SIGNAL_EVT.get() {
        let _ = evt.write(1);
    }
}

const TOKEN_STOP: u32 = 0;
const TOKEN_SIGNAL: u32 = 1;

/// The loop's own events.
struct Control {
    stop_evt: EventFd,
    signal_evt: Option<EventFd>,
    stop: Arc<AtomicBool>,
    ends: Sender<VmEvent>,
}

impl MutEventSubscriber for Control {
    fn init(&mut self, ops: &mut EventOps) {
        if let Err(e) = ops.add(Events::with_data(&self.stop_evt, TOKEN_STOP, EventSet::IN)) {
            log::warn!("event loop: cannot watch its stop event: {e}");
        }
        if let Some(evt) = &self.signal_evt {
            if let Err(e) = ops.add(Events::with_data(evt, TOKEN_SIGNAL, EventSet::IN)) {
                log::warn!("event loop: cannot watch for SIGINT/SIGTERM: {e}");
            }
        }
    }

    fn process(&mut self, events: Events, _ops: &mut EventOps) {
        match events.data() {
            TOKEN_STOP => {
                let _ = self.stop_evt.read();
                self.stop.store(true, Ordering::SeqCst);
            }
            TOKEN_SIGNAL => {
                if let Some(evt) = &self.signal_evt {
                    let _ = evt.read();
                }
                let signal = LAST_SIGNAL.load(Ordering::SeqCst);
                let _ = self.ends.send(VmEnd::Signal { signal }.into());
            }
            _ => {}
        }
    }
}

/// Routes SIGINT, SIGTERM and SIGHUP to the event loop (process-wide; call once).
fn install_stop_signals() -> io::Result<EventFd> {
    let evt = match SIGNAL_EVT.get() {
        Some(evt) => evt,
        None => {
            let _ = SIGNAL_EVT.set(EventFd::new(libc::EFD_NONBLOCK)?);
            SIGNAL_EVT
                .get()
                .ok_or_else(|| io::Error::other("signal eventfd not set"))?
        }
    };
    for s in STOP_SIGNALS {
        register_signal_handler(s, stop_signal_handler).map_err(io::Error::from)?;
    }
    evt.try_clone()
}

/// The running event-loop thread.
#[derive(Debug)]
pub struct EventLoop {
    stop_evt: EventFd,
    thread: Option<JoinHandle<()>>,
}

impl EventLoop {
    /// Starts the loop with `subscribers`; VM-ending events it sees (signals if
    /// `catch_signals`, host errors) go to `ends`.
    pub fn start(
        subscribers: Vec<Subscriber>,
        ends: Sender<VmEvent>,
        catch_signals: bool,
    ) -> io::Result<Self> {
        let mut manager: EventManager<Subscriber> =
            EventManager::new().map_err(|e| io::Error::other(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop_evt = EventFd::new(libc::EFD_NONBLOCK)?;
        let signal_evt = match catch_signals.then(install_stop_signals).transpose() {
            Ok(evt) => evt,
            Err(e) => {
                log::warn!("cannot catch SIGINT/SIGTERM ({e}); they will kill the VMM outright");
                None
            }
        };
        manager.add_subscriber(Box::new(Control {
            stop_evt: stop_evt.try_clone()?,
            signal_evt,
            stop: stop.clone(),
            ends: ends.clone(),
        }));
        for s in subscribers {
            manager.add_subscriber(s);
        }
        let thread = thread::Builder::new()
            .name("event-loop".into())
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match manager.run() {
                        Ok(_) => {}
                        Err(event_manager::Error::Epoll(e)) if e.errno() == libc::EINTR => {}
                        Err(e) => {
                            let _ = ends.send(
                                VmEnd::HostError {
                                    what: format!("event loop failed: {e}"),
                                }
                                .into(),
                            );
                            break;
                        }
                    }
                }
            })?;
        Ok(EventLoop {
            stop_evt,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits up to `timeout` for it.
    pub fn stop(&mut self, timeout: Duration) {
        if let Err(e) = self.stop_evt.write(1) {
            log::warn!("cannot stop the event loop: {e}");
            return;
        }
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = std::time::Instant::now() + timeout;
        while !thread.is_finished() {
            if std::time::Instant::now() >= deadline {
                log::warn!("the event loop did not stop within {timeout:?}");
                return;
            }
            thread::sleep(Duration::from_millis(1));
        }
        let _ = thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Mutex;

    struct Counter {
        evt: EventFd,
        seen: Arc<Mutex<u32>>,
    }

    impl MutEventSubscriber for Counter {
        fn init(&mut self, ops: &mut EventOps) {
            ops.add(Events::new(&self.evt, EventSet::IN)).unwrap();
        }
        fn process(&mut self, _: Events, _: &mut EventOps) {
            let _ = self.evt.read();
            *self.seen.lock().unwrap() += 1;
        }
    }

    #[test]
    fn dispatches_and_stops() {
        let evt = EventFd::new(libc::EFD_NONBLOCK).unwrap();
        let seen = Arc::new(Mutex::new(0));
        let (tx, _rx) = mpsc::channel();
        let mut lp = EventLoop::start(
            vec![Box::new(Counter {
                evt: evt.try_clone().unwrap(),
                seen: seen.clone(),
            })],
            tx,
            false,
        )
        .unwrap();
        evt.write(1).unwrap();
        for _ in 0..1000 {
            if *seen.lock().unwrap() > 0 {
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(*seen.lock().unwrap(), 1);
        lp.stop(Duration::from_secs(5));
        assert!(lp.thread.is_none());
    }
}
