//! `hostile SEED N [-v]`: N system calls with random numbers and arguments; the kernel must
//! survive them all, and so must this program. Prints `hostile: survived N calls` and exits 0.
//!
//! A deterministic xorshift generator seeded with SEED (default 1; N default 1000) picks each
//! number uniformly from 0..=470 and 1000..=1020, and each of the six arguments from classes
//! that matter to a kernel: 0, small integers, -1, random 32- and 64-bit values, powers of two,
//! pointers into a scratch area (valid), just before its guard page (straddling), into a
//! read-only page, into an unmapped page, into the kernel (direct map, image), non-canonical
//! addresses, the last user pages (or, where the stack is there, the unmapped page), and
//! page-aligned addresses in an "arena" the program gives up to address-space calls. The result of each call is only counted; any result is fine.
//! With `-v`, each call is printed before it is made (to find the one a kernel trips on).
//!
//! Run only under lwpvm: on a Linux host running as root, the allowed calls include `mount`,
//! `swapoff`, `settimeofday` and friends.
//!
//! # Calls that are never made (the deny list)
//!
//! Each would end or block this program, or make it fail for reasons that are not kernel
//! bugs:
//!
//! | calls | why |
//! |---|---|
//! | `exit`, `exit_group`, `execve`, `execveat`, `_lwp_exit` | end or replace the program |
//! | `fork`, `vfork`, `clone`, `clone3`, `_lwp_create` | new processes or LWPs running random code |
//! | `kill`, `tkill`, `tgkill`, `rt_sigqueueinfo`, `rt_tgsigqueueinfo`, `pidfd_send_signal`, `_lwp_kill` | may signal this program (or everything) |
//! | `alarm`, `setitimer`, `timer_create` | a later signal ends the program |
//! | `rt_sigaction` | a random handler would run on the next signal |
//! | `rt_sigreturn` | restores a frame of random bytes (`fault sigreturn` tests that) |
//! | `pause`, `rt_sigsuspend`, `rt_sigtimedwait`, `wait4`, `waitid`, `_lwp_wait`, `_lwp_suspend`, `_lwp_park` | block (forever, or until a child or signal) |
//! | `poll`, `select`, `ppoll`, `pselect6`, `epoll_wait`, `epoll_pwait`, `epoll_pwait2`, `futex`, `futex_waitv`, `futex_wait`, `flock` | may block forever |
//! | `accept`, `accept4`, `connect`, `msgrcv`, `msgsnd`, `semop`, `semtimedop`, `mq_timedreceive`, `mq_timedsend`, `io_getevents`, `io_pgetevents`, `io_uring_enter` | may block |
//! | `mremap`, `shmat`, `mlockall` | may move memory over the program's own; populate every mapping (slow where ring 0 is interpreted) |
//! | `prctl`, `seccomp`, `setrlimit`, `prlimit64`, `ptrace`, `rseq`, `sched_setscheduler`, `sched_setattr`, `userfaultfd` | can end, stop, throttle or trap the program later |
//! | `process_vm_writev` | writes this program's memory |
//! | `vhangup`, `reboot`, `kexec_load`, `kexec_file_load` | hang up the console, end the machine |
//! | `uretprobe`, 336 (`uprobe`) | Linux answers with SIGILL outside a uprobe trampoline |
//! | `pkey_alloc` | after a `pkey_free(0)` (which Linux allows) it can hand out key 0 write-disabled: all memory turns read-only |
//! | `mknod`, `mknodat` | a FIFO it creates would block a later `open` of the same name |
//! | `sigfastblock`, `lwpvm_dump` | a random block word defers signals forever; a dump request is slow and noisy |
//!
//! # Calls that are made with some arguments adjusted (`sanitize`)
//!
//! - `nanosleep`, `clock_nanosleep`: a request pointer into user space (other than NULL) is
//!   replaced by one into the scratch area, holding at most 2 ms (or an invalid `tv_nsec`):
//!   memory an earlier call wrote (a `clock_gettime` result, say) would sleep for hours.
//!   `clock_nanosleep` on a CPU-time clock uses `CLOCK_MONOTONIC` instead (a sleeper's CPU
//!   time does not advance, so a relative sleep on it never ends).
//! - Calls that read or write a file descriptor (the `read`/`write`/`send`/`recv`/`splice`
//!   families): the descriptor is made invalid (+1000000), since a console or a pipe made by an
//!   earlier call could block. `close`, `close_range`, `dup`, `dup2`, `dup3`, `pidfd_getfd`,
//!   `ioctl`, `fcntl`, `mmap`, `lseek`, `ftruncate`, `fallocate` and other calls that change a
//!   file: descriptors 0..=2 are moved out of the way (the console must survive, and a
//!   duplicate would share its file offset).
//! - `mmap`: `MAP_POPULATE` and `MAP_LOCKED` are dropped (populating a huge range takes minutes
//!   where ring 0 is interpreted); successful mappings are unmapped at once.
//! - Address-space calls (`mmap` with `MAP_FIXED`, `munmap`, `mprotect`, `madvise`, `mlock`,
//!   `munlock`, `mlock2`, `msync`, `mincore`, `mbind`, `pkey_mprotect`, `remap_file_pages`,
//!   `mseal`): a range that touches this program's image, stack or scratch area is moved
//!   into the arena.
//! - `arch_prctl`: the shadow-stack codes (0x5001..) are replaced by `ARCH_GET_FS` (enabling a
//!   shadow stack in the middle of a program kills it at the next `ret`).
#![no_std]
#![no_main]

use lwpvm_user::rt::Args;
use lwpvm_user::sys::{self, Timespec, CLOCK_MONOTONIC};
use lwpvm_user::{entry, eprintln, println};
use shared_abi::current::mman::{
    MAP_FIXED, MAP_LOCKED, MAP_POPULATE, PROT_NONE, PROT_READ, PROT_WRITE, TASK_SIZE_MAX,
};
use shared_abi::current::prctl::ARCH_GET_FS;
use shared_abi::current::syscall::*;
use shared_abi::current::time::{CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID};

entry!(main);

const PAGE: usize = 4096;
const SCRATCH_PAGES: usize = 16;
const ARENA_PAGES: usize = 64;

/// Never called; see the module documentation.
const DENY: &[usize] = &[
    SYS_EXIT,
    SYS_EXIT_GROUP,
    SYS_EXECVE,
    SYS_EXECVEAT,
    SYS__LWP_EXIT,
    SYS_FORK,
    SYS_VFORK,
    SYS_CLONE,
    SYS_CLONE3,
    SYS__LWP_CREATE,
    SYS_KILL,
    SYS_TKILL,
    SYS_TGKILL,
    SYS_RT_SIGQUEUEINFO,
    SYS_RT_TGSIGQUEUEINFO,
    SYS_PIDFD_SEND_SIGNAL,
    SYS__LWP_KILL,
    SYS_ALARM,
    SYS_SETITIMER,
    SYS_TIMER_CREATE,
    SYS_RT_SIGACTION,
    SYS_RT_SIGRETURN,
    SYS_PAUSE,
    SYS_RT_SIGSUSPEND,
    SYS_RT_SIGTIMEDWAIT,
    SYS_WAIT4,
    SYS_WAITID,
    SYS__LWP_WAIT,
    SYS__LWP_SUSPEND,
    SYS__LWP_PARK,
    SYS_POLL,
    SYS_SELECT,
    SYS_PPOLL,
    SYS_PSELECT6,
    SYS_EPOLL_WAIT,
    SYS_EPOLL_PWAIT,
    SYS_EPOLL_PWAIT2,
    SYS_FUTEX,
    SYS_FUTEX_WAITV,
    SYS_FUTEX_WAIT,
    SYS_FLOCK,
    SYS_ACCEPT,
    SYS_ACCEPT4,
    SYS_CONNECT,
    SYS_MSGRCV,
    SYS_MSGSND,
    SYS_SEMOP,
    SYS_SEMTIMEDOP,
    SYS_MQ_TIMEDRECEIVE,
    SYS_MQ_TIMEDSEND,
    SYS_IO_GETEVENTS,
    SYS_IO_PGETEVENTS,
    SYS_IO_URING_ENTER,
    SYS_MREMAP,
    SYS_SHMAT,
    SYS_MLOCKALL,
    SYS_PRCTL,
    SYS_SECCOMP,
    SYS_SETRLIMIT,
    SYS_PRLIMIT64,
    SYS_PTRACE,
    SYS_RSEQ,
    SYS_SCHED_SETSCHEDULER,
    SYS_SCHED_SETATTR,
    SYS_USERFAULTFD,
    SYS_PROCESS_VM_WRITEV,
    SYS_VHANGUP,
    SYS_REBOOT,
    SYS_KEXEC_LOAD,
    SYS_KEXEC_FILE_LOAD,
    SYS_URETPROBE,
    336,
    SYS_PKEY_ALLOC,
    SYS_MKNOD,
    SYS_MKNODAT,
    SYS_SIGFASTBLOCK,
    SYS_LWPVM_DUMP,
];

/// Calls whose descriptor arguments (at these positions) are made invalid.
const FD_IO: &[(usize, &[usize])] = &[
    (SYS_READ, &[0]),
    (SYS_WRITE, &[0]),
    (SYS_PREAD64, &[0]),
    (SYS_PWRITE64, &[0]),
    (SYS_READV, &[0]),
    (SYS_WRITEV, &[0]),
    (SYS_PREADV, &[0]),
    (SYS_PWRITEV, &[0]),
    (SYS_PREADV2, &[0]),
    (SYS_PWRITEV2, &[0]),
    (SYS_SENDFILE, &[0, 1]),
    (SYS_SPLICE, &[0, 2]),
    (SYS_TEE, &[0, 1]),
    (SYS_VMSPLICE, &[0]),
    (SYS_COPY_FILE_RANGE, &[0, 2]),
    (SYS_SENDTO, &[0]),
    (SYS_RECVFROM, &[0]),
    (SYS_SENDMSG, &[0]),
    (SYS_RECVMSG, &[0]),
    (SYS_SENDMMSG, &[0]),
    (SYS_RECVMMSG, &[0]),
];

/// Calls whose descriptor arguments (at these positions) must not be 0, 1 or 2.
const FD_STDIO: &[(usize, &[usize])] = &[
    (SYS_CLOSE, &[0]),
    (SYS_CLOSE_RANGE, &[0]),
    (SYS_DUP, &[0]),
    (SYS_DUP2, &[0, 1]),
    (SYS_DUP3, &[0, 1]),
    (SYS_PIDFD_GETFD, &[1]),
    (SYS_IOCTL, &[0]),
    (SYS_FCNTL, &[0]),
    (SYS_MMAP, &[4]),
    (SYS_LSEEK, &[0]),
    (SYS_FTRUNCATE, &[0]),
    (SYS_FALLOCATE, &[0]),
    (SYS_FCHMOD, &[0]),
    (SYS_FCHOWN, &[0]),
    (SYS_FADVISE64, &[0]),
    (SYS_SYNC_FILE_RANGE, &[0]),
    (SYS_FSETXATTR, &[0]),
    (SYS_FREMOVEXATTR, &[0]),
];

/// Address-space calls: (number, address argument, length argument).
const VM: &[(usize, usize, usize)] = &[
    (SYS_MUNMAP, 0, 1),
    (SYS_MPROTECT, 0, 1),
    (SYS_MADVISE, 0, 1),
    (SYS_MLOCK, 0, 1),
    (SYS_MUNLOCK, 0, 1),
    (SYS_MLOCK2, 0, 1),
    (SYS_MSYNC, 0, 1),
    (SYS_MINCORE, 0, 1),
    (SYS_MBIND, 0, 1),
    (SYS_PKEY_MPROTECT, 0, 1),
    (SYS_REMAP_FILE_PAGES, 0, 1),
    (SYS_MSEAL, 0, 1),
];

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An address range `[start, end)`.
#[derive(Clone, Copy)]
struct Range(usize, usize);

impl Range {
    fn touches(&self, addr: usize, len: usize) -> bool {
        match addr.checked_add(len.max(1)) {
            Some(end) => addr < self.1 && end > self.0,
            None => true,
        }
    }
}

struct World {
    rng: Rng,
    scratch: usize,
    readonly: usize,
    unmapped: usize,
    arena: usize,
    /// The program's own memory: image, stack, scratch area with its guards.
    own: [Range; 3],
}

unsafe extern "C" {
    /// Start of the image (the ELF header; lld defines it).
    static __ehdr_start: u8;
    /// End of the image's last segment (lld defines it).
    static _end: u8;
}

fn main(args: Args) -> i32 {
    let seed: u64 = args.args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let n: u64 = args.args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let verbose = args.args().nth(3) == Some("-v");
    let Some(mut w) = World::new(seed, args.initial_sp()) else {
        eprintln!("hostile: cannot set up its memory (mmap failed)");
        return 1;
    };
    println!("hostile: seed {seed}, {n} calls");
    let (mut ok, mut enosys, mut errors) = (0u64, 0u64, 0u64);
    for i in 0..n {
        w.refill_scratch();
        let nr = w.number();
        let mut a = [0usize; 6];
        for x in &mut a {
            *x = w.arg();
        }
        w.sanitize(nr, &mut a);
        if verbose {
            println!(
                "hostile: call {i}: {nr} {:#x} {:#x} {:#x} {:#x} {:#x} {:#x}",
                a[0], a[1], a[2], a[3], a[4], a[5]
            );
        }
        // SAFETY: `sanitize` keeps every pointer the kernel may write through or unmap away
        // from the program's own memory; see the module documentation.
        let r = unsafe { sys::syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
        match sys::check(r) {
            Ok(v) => {
                ok += 1;
                if nr == SYS_MMAP && a[3] as u32 & MAP_FIXED == 0 {
                    // SAFETY: the kernel just mapped [v, v + len) for this call.
                    let _ = unsafe { sys::munmap(v, a[1]) };
                }
            }
            Err(sys::Errno(38)) => enosys += 1,
            Err(_) => errors += 1,
        }
        if n >= 10 && (i + 1) % (n / 10) == 0 {
            println!("hostile: {}/{n} calls", i + 1);
        }
    }
    println!("hostile: {ok} succeeded, {enosys} ENOSYS, {errors} other errors");
    println!("hostile: survived {n} calls");
    0
}

impl World {
    fn new(seed: u64, sp: usize) -> Option<World> {
        let rw = PROT_READ | PROT_WRITE;
        // Scratch pages between two PROT_NONE guards.
        let guarded = sys::mmap_anon((SCRATCH_PAGES + 2) * PAGE, rw).ok()?;
        // SAFETY: our new mapping.
        unsafe {
            sys::mprotect(guarded, PAGE, PROT_NONE).ok()?;
            sys::mprotect(guarded + (SCRATCH_PAGES + 1) * PAGE, PAGE, PROT_NONE).ok()?;
        }
        let readonly = sys::mmap_anon(PAGE, PROT_READ).ok()?;
        let unmapped = sys::mmap_anon(PAGE, rw).ok()?;
        // SAFETY: our new page, unused.
        unsafe { sys::munmap(unmapped, PAGE).ok()? };
        let arena = sys::mmap_anon(ARENA_PAGES * PAGE, rw).ok()?;
        let (image_start, image_end) = (&raw const __ehdr_start as usize, &raw const _end as usize);
        let own = [
            Range(image_start, image_end.next_multiple_of(PAGE)),
            Range(sp.saturating_sub(8 << 20), sp.saturating_add(1 << 20)),
            Range(guarded, guarded + (SCRATCH_PAGES + 2) * PAGE),
        ];
        let w = World {
            rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            scratch: guarded + PAGE,
            readonly,
            unmapped,
            arena,
            own,
        };
        Some(w)
    }

    /// A system call number that is not denied.
    fn number(&mut self) -> usize {
        loop {
            let k = self.rng.below(471 + 21) as usize;
            let nr = if k <= 470 { k } else { 1000 + (k - 471) };
            if !DENY.contains(&nr) {
                return nr;
            }
        }
    }

    fn arg(&mut self) -> usize {
        let r = &mut self.rng;
        match r.below(16) {
            0 => 0,
            1 => 1 + r.below(64) as usize,
            2 => usize::MAX,
            3 => r.next() as usize,
            4 => r.next() as u32 as usize,
            5 => self.scratch + r.below(PAGE as u64) as usize,
            6 => self.scratch + SCRATCH_PAGES * PAGE - 1 - r.below(64) as usize,
            7 => self.readonly + r.below(PAGE as u64) as usize,
            8 => self.unmapped + r.below(PAGE as u64) as usize,
            9 => 0xffff_8000_0000_0000 + (r.below(1 << 32) as usize),
            10 => 0xffff_ffff_8000_0000 + (r.below(1 << 30) as usize),
            11 => 0x0000_8000_0000_0000 + (r.below(1 << 40) as usize),
            12 => {
                // The last user pages; unless the stack is there (a kernel without stack
                // randomisation, such as lwpvm, puts its top at TASK_SIZE_MAX): then the
                // unmapped page, so that the kernel does not write over this program's stack.
                let a = TASK_SIZE_MAX as usize - r.below(2 * PAGE as u64) as usize;
                if self.own.iter().any(|o| o.touches(a, PAGE)) {
                    self.unmapped + (a % PAGE)
                } else {
                    a
                }
            }
            13 => self.arena + PAGE * r.below(ARENA_PAGES as u64) as usize,
            14 => 1 << r.below(64),
            _ => PAGE * r.below(1 << 20) as usize,
        }
    }

    /// New random contents for the scratch area, so that what one call wrote (pointers
    /// included) is not what the next one reads.
    fn refill_scratch(&mut self) {
        for i in 0..SCRATCH_PAGES * PAGE / 8 {
            let v = self.rng.next();
            // SAFETY: the scratch pages are ours and writable (sanitize keeps them so).
            unsafe { ((self.scratch + 8 * i) as *mut u64).write(v) };
        }
    }

    fn touches_own(&self, addr: usize, len: usize) -> bool {
        self.own.iter().any(|r| r.touches(addr, len))
    }

    /// Moves a range into the arena if it touches the program's own memory.
    fn confine(&mut self, a: &mut [usize; 6], addr: usize, len: usize) {
        if self.touches_own(a[addr], a[len]) {
            let page = self.rng.below(ARENA_PAGES as u64) as usize;
            a[addr] = self.arena + page * PAGE;
            a[len] = a[len].min((ARENA_PAGES - page) * PAGE);
        }
    }

    fn sanitize(&mut self, nr: usize, a: &mut [usize; 6]) {
        for &(n, positions) in FD_IO {
            if n == nr {
                for &i in positions {
                    a[i] = (a[i] as u32 as usize).wrapping_add(1_000_000);
                }
            }
        }
        for &(n, positions) in FD_STDIO {
            if n == nr {
                for &i in positions {
                    if a[i] as u32 <= 2 {
                        a[i] += 1000;
                    }
                }
            }
        }
        for &(n, addr, len) in VM {
            if n == nr {
                self.confine(a, addr, len);
            }
        }
        match nr {
            SYS_MMAP => {
                a[3] &= !((MAP_POPULATE | MAP_LOCKED) as usize);
                if a[3] as u32 & MAP_FIXED != 0 {
                    self.confine(a, 0, 1);
                }
            }
            SYS_NANOSLEEP => self.cap_sleep(&mut a[0]),
            SYS_CLOCK_NANOSLEEP => {
                // A relative sleep on a CPU-time clock (2, 3, negative ids) never ends: the
                // sleeper uses no CPU time.
                let clock = a[0] as u32 as i32;
                if clock < 0
                    || clock == CLOCK_PROCESS_CPUTIME_ID
                    || clock == CLOCK_THREAD_CPUTIME_ID
                {
                    a[0] = CLOCK_MONOTONIC as usize;
                }
                self.cap_sleep(&mut a[2]);
            }
            SYS_ARCH_PRCTL if (0x5001..0x6000).contains(&(a[0] as u32)) => {
                a[0] = ARCH_GET_FS as usize;
            }
            _ => {}
        }
    }

    /// Points a sleep request that is in user space (and not NULL) at a short one in the
    /// scratch area: at most 2 ms, or an invalid `tv_nsec`.
    fn cap_sleep(&mut self, req: &mut usize) {
        if *req == 0 || *req >= TASK_SIZE_MAX as usize {
            return;
        }
        *req = self.scratch + 16 * self.rng.below((PAGE / 16) as u64) as usize;
        let nsec = match self.rng.below(4) {
            0 => 1_000_000_000,
            1 => -1,
            _ => self.rng.below(2_000_000) as i64,
        };
        let ts = Timespec { tv_sec: 0, tv_nsec: nsec };
        // SAFETY: `*req` is inside the scratch area, which is ours and writable.
        unsafe { (*req as *mut Timespec).write(ts) };
    }
}
