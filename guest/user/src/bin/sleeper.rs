//! `sleeper [SECONDS] [STATUS]`: sleeps SECONDS (default 1) in one `nanosleep`, then exits
//! with STATUS (default 0).
//!
//! For inspection tests: while it sleeps, a dump shows process 1 (`sleeper`) with one LWP in
//! `LSSLEEP` on wait channel `nanosleep`, its user registers saved with RIP just after the
//! `syscall` instruction; after it exits, an exit dump shows the zombie and its wait status.
//! Prints `sleeper: pid P sleeping for S s` before the sleep. Exit status 1 if the sleep
//! fails.
#![no_std]
#![no_main]

use lwpvm_user::rt::Args;
use lwpvm_user::sys::{self, Timespec};
use lwpvm_user::{entry, eprintln, println};

entry!(main);

fn main(args: Args) -> i32 {
    let mut rest = args.args().skip(1);
    let seconds: i64 = rest.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let status: i32 = rest.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    println!("sleeper: pid {} sleeping for {seconds} s", sys::getpid());
    let req = Timespec { tv_sec: seconds, tv_nsec: 0 };
    if let Err((e, _)) = sys::nanosleep(&req) {
        eprintln!("sleeper: nanosleep failed: {e:?}");
        return 1;
    }
    status
}
