//! `bench-syscall [N [ROUNDS]]`: the cost of a null system call (`getpid`), for `cargo xtask
//! bench syscall`.
//!
//! Each round (default 5) runs two loops of N iterations (default 1000), each bracketed by
//! marks (`lwpvm_user::bench::mark`) and timed with `rdtsc`: an empty loop (the baseline: the
//! marks and the loop itself), then N `getpid` calls. Mark ids are `round << 8 | k`: k = 1, 2
//! around the empty loop, 3, 4 around the calls. For each round it prints
//! `bench-syscall: round R: N calls, empty loop C0 cycles, getpid loop C1 cycles` (cycles of
//! the whole loop); the VMM's mark file gives the kernel instructions. Exits 0.
//!
//! Run it under lwpvm: the mark port is open to ring 3 there (TSS I/O bitmap); on a Linux
//! host the first mark is a `#GP` (SIGSEGV) unless the process has `ioperm` for it.
#![no_std]
#![no_main]

use core::hint::black_box;

use lwpvm_user::bench::{mark, rdtsc};
use lwpvm_user::rt::Args;
use lwpvm_user::{entry, println, sys};

entry!(main);

fn main(args: Args) -> i32 {
    let mut words = args.args().skip(1);
    let n: u32 = words.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let rounds: u32 = words.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    for round in 1..=rounds {
        let id = round << 8;
        mark(id | 1);
        let t0 = rdtsc();
        for i in 0..n {
            black_box(i);
        }
        let t1 = rdtsc();
        mark(id | 2);
        mark(id | 3);
        let t2 = rdtsc();
        for i in 0..n {
            black_box(i);
            black_box(sys::getpid());
        }
        let t3 = rdtsc();
        mark(id | 4);
        println!(
            "bench-syscall: round {round}: {n} calls, empty loop {} cycles, getpid loop {} cycles",
            t1 - t0,
            t3 - t2
        );
    }
    0
}
