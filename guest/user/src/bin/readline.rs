//! `readline [N]`: reads N lines (default 1) from the console (fd 0) and writes each back as
//! `readline: got "LINE"`, then exits 0.
//!
//! What it expects from the kernel: `read` on fd 0 blocks until console input arrives and
//! returns at most one line (a terminal in canonical mode), newline included; a line longer
//! than the buffer comes in several reads. Exit status 1 if `read` fails or returns 0.
#![no_std]
#![no_main]

use lwpvm_user::rt::Args;
use lwpvm_user::{entry, eprintln, println, sys};

entry!(main);

/// Bytes kept of a line.
const LINE_MAX: usize = 256;

fn main(args: Args) -> i32 {
    let lines: usize = args.args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    for _ in 0..lines {
        let mut line = [0u8; LINE_MAX];
        let mut len = 0;
        // Several reads may make up one line; each returns at most one.
        while len == 0 || line[len - 1] != b'\n' {
            let mut chunk = [0u8; 16];
            match sys::read(0, &mut chunk) {
                Ok(0) => {
                    eprintln!("readline: read returned 0");
                    return 1;
                }
                Ok(n) => {
                    if chunk[..n - 1].contains(&b'\n') {
                        eprintln!("readline: a read returned more than one line");
                        return 1;
                    }
                    let keep = n.min(LINE_MAX - len);
                    line[len..len + keep].copy_from_slice(&chunk[..keep]);
                    len += keep;
                    if len == LINE_MAX {
                        break;
                    }
                }
                Err(e) => {
                    eprintln!("readline: read failed: {e}");
                    return 1;
                }
            }
        }
        let text = core::str::from_utf8(&line[..len]).unwrap_or("?");
        println!("readline: got {:?}", text.trim_end_matches('\n'));
    }
    0
}
