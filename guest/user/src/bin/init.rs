//! The first program the kernel runs. For now: say hello from ring 3 and exit 0.
#![no_std]
#![no_main]

use lwpvm_user::{entry, println, rt::Args, sys};

entry!(main);

fn main(args: Args) -> i32 {
    let name = args.args().next().unwrap_or("?");
    println!("init: {name} running in ring 3 as pid {}", sys::getpid());
    0
}
