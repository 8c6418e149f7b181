//! `read` and `write` on the console.
//!
//! Linux: `fs/read_write.c` (`ksys_read`/`ksys_write`: the fd is an `unsigned int`, looked up
//! first → `EBADF`; `vfs_read`/`vfs_write`: `access_ok` on the whole buffer → `EFAULT`
//! before anything is read or written, and before a read blocks; the count is clamped to
//! `MAX_RW_COUNT`) and `drivers/tty/tty_io.c` (a tty write copies chunk by chunk and
//! returns the bytes written before a chunk failed to copy, `EFAULT` if none were; a
//! canonical-mode read returns at most one line).
//!
//! File descriptors 0, 1 and 2 are the console, for reading and writing (init's
//! `/dev/console`, opened read-write as Linux opens it); there are no other files yet.

use shared_abi::current::errno::{EBADF, EFAULT};

use super::{args, SysResult};
use crate::arch::trap::TrapFrame;
use crate::console;
use crate::mm::uaccess::{check_range, copy_from_user, copy_to_user, UserPtr};
use crate::sched::{self, WaitChannel};

/// Linux's `MAX_RW_COUNT`: `INT_MAX` rounded down to a page.
const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// Bytes copied per console transfer.
const CHUNK: usize = 512;
/// How often a read looks for console input (ns).
const READ_POLL_NS: u64 = 10_000_000;

/// Checks that `fd` (an `unsigned int`) is the console.
fn console_fd(fd: u64) -> Result<(), i32> {
    match fd as u32 {
        0..=2 => Ok(()),
        _ => Err(EBADF),
    }
}

/// `write(fd, buf, count)`.
pub fn write(frame: &mut TrapFrame) -> SysResult {
    let [fd, buf, count, ..] = args(frame);
    console_fd(fd)?;
    check_range(UserPtr(buf), count as usize).map_err(|_| EFAULT)?;
    let count = count.min(MAX_RW_COUNT);
    let mut kbuf = [0u8; CHUNK];
    let mut done = 0u64;
    while done < count {
        let n = (count - done).min(CHUNK as u64) as usize;
        if copy_from_user(&mut kbuf[..n], UserPtr(buf + done)).is_err() {
            return if done > 0 { Ok(done) } else { Err(EFAULT) };
        }
        console::write_bytes(&kbuf[..n]);
        done += n as u64;
    }
    Ok(done)
}

/// `read(fd, buf, count)`: waits for console input, returns at most a line.
pub fn read(frame: &mut TrapFrame) -> SysResult {
    let [fd, buf, count, ..] = args(frame);
    console_fd(fd)?;
    check_range(UserPtr(buf), count as usize).map_err(|_| EFAULT)?;
    if count == 0 {
        return Ok(0);
    }
    let mut kbuf = [0u8; CHUNK];
    let want = count.min(MAX_RW_COUNT).min(CHUNK as u64) as usize;
    let chan = WaitChannel::of(sched::current());
    loop {
        let n = console::try_read(&mut kbuf[..want]);
        if n > 0 {
            copy_to_user(UserPtr(buf), &kbuf[..n])?;
            return Ok(n as u64);
        }
        // Interruptible, for the signals to come (EINTR / restart).
        let deadline = sched::now_ns().saturating_add(READ_POLL_NS);
        crate::inspect::set_wmesg(sched::current_slot(), "read");
        sched::sleep_timeout(chan, true, deadline, || true);
    }
}
