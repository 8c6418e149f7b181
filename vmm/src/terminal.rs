//! The controlling terminal: raw mode while the guest runs, restored on every way out.
//!
//! When stdin is a terminal, echo, line editing and signal keys are turned off so keystrokes
//! (Ctrl-C included) go to the guest's console unchanged. [`restore`] undoes that; it is
//! idempotent and is called on every exit path: normal end, errors, guest crash, timeout,
//! SIGINT/SIGTERM (via the event loop) and panics (via the panic hook) — always before
//! `std::process::exit`, which skips destructors. Output post-processing stays on, so `\n`
//! still moves to the start of the next line.
//!
//! The settings found at start are saved (`tcgetattr`, through `nix`'s safe wrapper) and put
//! back exactly by [`restore`], so a terminal that was already in some unusual mode gets that
//! mode back, not a default one.

use std::io::{self, IsTerminal};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::sync::Mutex;

use nix::sys::termios::{self, SetArg, Termios};
use vmm_sys_util::terminal::Terminal;

/// The settings found before raw mode, while raw mode is on.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

/// Puts a terminal stdin in raw mode, saving its settings first; returns whether it did.
pub fn enter_raw_mode() -> bool {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return false;
    }
    let saved = match termios::tcgetattr(&stdin) {
        Ok(t) => t,
        Err(e) => {
            log::warn!("cannot read the terminal's settings: {e}; leaving it as it is");
            return false;
        }
    };
    match stdin.lock().set_raw_mode() {
        Ok(()) => {
            *SAVED.lock().unwrap_or_else(|p| p.into_inner()) = Some(saved);
            true
        }
        Err(e) => {
            log::warn!("cannot put the terminal in raw mode: {e}");
            false
        }
    }
}

/// Puts back the settings [`enter_raw_mode`] saved (once; later calls do nothing).
pub fn restore() {
    let saved = SAVED.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(t) = saved {
        if let Err(e) = termios::tcsetattr(io::stdin(), SetArg::TCSANOW, &t) {
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
