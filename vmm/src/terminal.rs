//! The controlling terminal: raw mode while the guest runs, restored on every way out.
//!
//! When stdin is a terminal, echo, line editing and signal keys are turned off so keystrokes
//! (Ctrl-C included) go to the guest's console unchanged. [`restore`] undoes that; it is
//! idempotent and is called on every exit path: normal end, errors, guest crash, timeout,
//! SIGINT/SIGTERM (via the event loop) and panics (via the panic hook) — always before
//! `std::process::exit`, which skips destructors. Output post-processing stays on, so `\n`
//! still moves to the start of the next line.
//!
//! Restoring sets ICANON, ECHO and ISIG back on (vmm-sys-util's canonical mode) rather than
//! replaying the saved `termios`, which would need `unsafe` outside the KVM layer; a terminal
//! that had one of those off before the VMM started gets it turned on.

use std::io::{self, IsTerminal};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use vmm_sys_util::terminal::Terminal;

static RAW_MODE: AtomicBool = AtomicBool::new(false);

/// Puts a terminal stdin in raw mode; returns whether it did.
pub fn enter_raw_mode() -> bool {
    if !io::stdin().is_terminal() {
        return false;
    }
    match io::stdin().lock().set_raw_mode() {
        Ok(()) => {
            RAW_MODE.store(true, Ordering::SeqCst);
            true
        }
        Err(e) => {
            log::warn!("cannot put the terminal in raw mode: {e}");
            false
        }
    }
}

/// Restores the terminal if [`enter_raw_mode`] changed it.
pub fn restore() {
    if RAW_MODE.swap(false, Ordering::SeqCst) {
        if let Err(e) = io::stdin().lock().set_canon_mode() {
            eprintln!("vmm: cannot restore the terminal: {e} (run `stty sane`)");
        }
    }
}

/// Makes sure file descriptors 0, 1 and 2 are open (on `/dev/null` if they were closed), so
/// that no file the VMM opens later is mistaken for stdin, stdout or stderr.
pub fn ensure_standard_fds() {
    for _ in 0..3 {
        match std::fs::File::open("/dev/null") {
            Ok(f) if f.as_raw_fd() <= 2 => {
                // Keep it open for the life of the process: it now stands in for a standard fd.
                let _ = f.into_raw_fd();
            }
            _ => break,
        }
    }
}

/// Makes panics restore the terminal before the default report.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        default(info);
    }));
}
