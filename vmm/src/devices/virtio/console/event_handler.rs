//! Event-loop glue for the console: queue notifications (the ioeventfds) and stdin.
//!
//! Dispatches on constant event tokens and calls into [`Console`]; it holds no device state of
//! its own. Stdin is read with plain `read(2)` calls, one per readiness event (never through
//! std's buffered `Stdin`, whose buffer epoll cannot see). At EOF or on error stdin is dropped
//! from the loop; the guest simply gets no more input. A stdin that epoll cannot watch (a
//! regular file or `/dev/null`) is read up front, up to [`MAX_UNPOLLABLE_INPUT`] bytes.

use std::io;
use std::sync::{Arc, Mutex};

use event_manager::{EventOps, EventSet, Events, MutEventSubscriber};
use vmm_sys_util::eventfd::EventFd;
use vmm_sys_util::terminal::Terminal;

use super::device::Console;
use super::{RECEIVEQ, TRANSMITQ};
use crate::sync::lock;

const TOKEN_RECEIVEQ: u32 = 0;
const TOKEN_TRANSMITQ: u32 = 1;
const TOKEN_STDIN: u32 = 2;
/// Most bytes read from a stdin that cannot be polled.
pub const MAX_UNPOLLABLE_INPUT: usize = 1 << 20;
/// Bytes read from stdin per readiness event.
const STDIN_CHUNK: usize = 4096;

/// The console's event subscriber.
pub struct ConsoleEventHandler {
    console: Arc<Mutex<Console>>,
    rx_evt: EventFd,
    tx_evt: EventFd,
    read_stdin: bool,
}

impl ConsoleEventHandler {
    /// Handles `console`'s queue notifications, and stdin if `read_stdin`.
    pub fn new(console: Arc<Mutex<Console>>, read_stdin: bool) -> io::Result<Self> {
        let (rx_evt, tx_evt) = {
            let c = lock(&console);
            let clone = |i| {
                c.queue_evt(i)
                    .ok_or_else(|| io::Error::other("console queue without an eventfd"))?
                    .try_clone()
            };
            (clone(RECEIVEQ)?, clone(TRANSMITQ)?)
        };
        Ok(ConsoleEventHandler {
            console,
            rx_evt,
            tx_evt,
            read_stdin,
        })
    }

    /// Reads whatever stdin has now; returns false at EOF or on a hard error.
    fn read_stdin_once(&mut self) -> bool {
        let mut buf = [0u8; STDIN_CHUNK];
        match io::stdin().lock().read_raw(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                lock(&self.console).push_input(&buf[..n]);
                true
            }
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => true,
            Err(e) => {
                log::warn!("reading stdin failed ({e}); the guest gets no more input");
                false
            }
        }
    }

    /// Reads a non-pollable stdin to its end (bounded).
    fn slurp_stdin(&mut self) {
        let mut total = 0;
        while total < MAX_UNPOLLABLE_INPUT {
            let mut buf = [0u8; STDIN_CHUNK];
            match io::stdin().lock().read_raw(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    total += n;
                    lock(&self.console).push_input(&buf[..n]);
                }
                Err(e) if e.errno() == libc::EINTR => {}
                Err(_) => break,
            }
        }
    }
}

impl MutEventSubscriber for ConsoleEventHandler {
    fn init(&mut self, ops: &mut EventOps) {
        for (evt, token, name) in [
            (&self.rx_evt, TOKEN_RECEIVEQ, "receiveq"),
            (&self.tx_evt, TOKEN_TRANSMITQ, "transmitq"),
        ] {
            if let Err(e) = ops.add(Events::with_data(evt, token, EventSet::IN)) {
                log::warn!("virtio-console: cannot watch the {name} eventfd: {e}");
            }
        }
        if self.read_stdin {
            let stdin = io::stdin();
            match ops.add(Events::with_data(&stdin, TOKEN_STDIN, EventSet::IN)) {
                Ok(()) => {}
                Err(event_manager::Error::Epoll(e)) if e.errno() == libc::EPERM => {
                    self.slurp_stdin()
                }
                Err(e) => log::warn!("cannot watch stdin ({e}); the guest gets no input"),
            }
        }
    }

    fn process(&mut self, events: Events, ops: &mut EventOps) {
        match events.data() {
            TOKEN_RECEIVEQ => {
                let _ = self.rx_evt.read();
                lock(&self.console).process_receiveq();
            }
            TOKEN_TRANSMITQ => {
                let _ = self.tx_evt.read();
                lock(&self.console).process_transmitq();
            }
            TOKEN_STDIN => {
                let readable = events.event_set().contains(EventSet::IN);
                if !readable || !self.read_stdin_once() {
                    let _ = ops.remove(events);
                    log::debug!("stdin closed; no more console input");
                }
            }
            other => log::debug!("console: unexpected event token {other}"),
        }
    }
}
