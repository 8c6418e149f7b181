//! `spin [SECONDS]`: stays busy in ring 3 for SECONDS (default 1) of `CLOCK_MONOTONIC`, then
//! exits 0.
//!
//! For preemption tests: the work between two clock readings is 2^20 iterations of pure
//! ring-3 arithmetic (about a millisecond natively), so the program spends nearly all its
//! time in user mode, and only a timer interrupt can take the CPU from it. Run several
//! instances (or one with other programs) and each must finish; the longest gap between two
//! clock readings it saw (`longest stall`) shows how long it was kept off the CPU.
//!
//! Prints a line per elapsed second and a summary. Exit status 1 if the clock fails. It ends
//! with `exit` (not `exit_group`): the exit of a process's only LWP ends the process with
//! that status, as on Linux.
#![no_std]
#![no_main]

use core::hint::black_box;

use lwpvm_user::rt::Args;
use lwpvm_user::sys::{self, CLOCK_MONOTONIC};
use lwpvm_user::{entry, eprintln, println};

entry!(main);

/// Iterations of user-mode work between two clock readings.
const CHUNK: u64 = 1 << 20;

fn now_ns() -> Option<u64> {
    let ts = sys::clock_gettime(CLOCK_MONOTONIC).ok()?;
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

fn main(args: Args) -> i32 {
    let seconds: u64 = args.args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let pid = sys::getpid();
    let Some(start) = now_ns() else {
        eprintln!("spin: clock_gettime(CLOCK_MONOTONIC) failed");
        return 1;
    };
    println!("spin: pid {pid} spinning for {seconds} s");
    let mut iterations = 0u64;
    let mut x = u64::from(pid as u32);
    let mut last = start;
    let mut longest_stall = 0;
    let mut reported = 0;
    loop {
        for _ in 0..CHUNK {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        iterations += CHUNK;
        let Some(t) = now_ns() else {
            eprintln!("spin: clock_gettime(CLOCK_MONOTONIC) failed");
            return 1;
        };
        longest_stall = longest_stall.max(t.saturating_sub(last));
        last = t;
        let elapsed = t.saturating_sub(start);
        while reported < seconds && elapsed >= (reported + 1) * 1_000_000_000 {
            reported += 1;
            println!("spin: pid {pid}: {reported}/{seconds} s, {iterations} iterations");
        }
        if elapsed >= seconds * 1_000_000_000 {
            break;
        }
    }
    println!(
        "spin: pid {pid} done: {iterations} iterations in {seconds} s, longest stall {} us",
        longest_stall / 1000
    );
    sys::exit(0)
}
