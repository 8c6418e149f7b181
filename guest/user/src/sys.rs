//! System calls: the raw instruction and typed wrappers.
//!
//! Linux x86_64 convention: number in `rax`, arguments in `rdi, rsi, rdx, r10, r8, r9`, result
//! in `rax`, a value in `-4095..=-1` meaning `-errno`; the `syscall` instruction clobbers `rcx`
//! (return address) and `r11` (flags). On every host lwpvm runs on, the program issues the same
//! `syscall` instruction; the kernel picks the gate that works on that host.

use core::arch::asm;

use shared_abi::current::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
use shared_abi::current::prctl::{ARCH_GET_FS, ARCH_GET_GS, ARCH_SET_FS, ARCH_SET_GS};
use shared_abi::current::syscall as nr;

pub use shared_abi::current::time::{Timespec, CLOCK_MONOTONIC, CLOCK_REALTIME};
pub use shared_abi::current::utsname::Utsname;

/// An errno value from a failed system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The symbolic name (`"EFAULT"`), if known.
    pub fn name(self) -> &'static str {
        shared_abi::current::errno::name(self.0).unwrap_or("E?")
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// Splits a raw return value into a result.
#[inline]
pub fn check(ret: isize) -> Result<usize, Errno> {
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// Issues system call `n` with six arguments and returns the raw result.
///
/// # Safety
/// The arguments must be valid for the call: pointers the kernel writes through must point to
/// memory the program owns, and calls that change the address space (munmap, mprotect, brk,
/// arch_prctl) must not invalidate memory Rust still uses.
#[inline]
pub unsafe fn syscall6(
    n: usize,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> isize {
    let ret: isize;
    // SAFETY: the Linux system call instruction; the caller guarantees the arguments, and the
    // clobbers the instruction makes (rcx, r11) are declared.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a0,
            in("rsi") a1,
            in("rdx") a2,
            in("r10") a3,
            in("r8") a4,
            in("r9") a5,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// [`syscall6`] with fewer arguments (the rest are zero).
///
/// # Safety
/// As for [`syscall6`].
#[inline]
pub unsafe fn syscall(n: usize, args: &[usize]) -> isize {
    let a = |i: usize| args.get(i).copied().unwrap_or(0);
    // SAFETY: forwarded from the caller.
    unsafe { syscall6(n, a(0), a(1), a(2), a(3), a(4), a(5)) }
}

/// `write(fd, buf)`.
pub fn write(fd: i32, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel only reads `buf`, which is valid for its length.
    check(unsafe {
        syscall(
            nr::SYS_WRITE,
            &[fd as usize, buf.as_ptr() as usize, buf.len()],
        )
    })
}

/// `read(fd, buf)`.
pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we own mutably.
    check(unsafe {
        syscall(
            nr::SYS_READ,
            &[fd as usize, buf.as_mut_ptr() as usize, buf.len()],
        )
    })
}

/// `exit(status)`: ends the calling LWP (the process, when it is the last one).
pub fn exit(status: i32) -> ! {
    // SAFETY: exit takes no pointers.
    unsafe { syscall(nr::SYS_EXIT, &[status as usize]) };
    unreachable_exit()
}

/// `exit_group(status)`: ends every LWP of the process.
pub fn exit_group(status: i32) -> ! {
    // SAFETY: exit_group takes no pointers.
    unsafe { syscall(nr::SYS_EXIT_GROUP, &[status as usize]) };
    unreachable_exit()
}

/// What follows an exit that returned (a kernel bug): a fault the kernel will report.
fn unreachable_exit() -> ! {
    loop {
        // SAFETY: ud2 raises #UD, ending the program through the kernel's fault path.
        unsafe { asm!("ud2", options(nomem, nostack)) };
    }
}

/// `getpid()`.
pub fn getpid() -> i32 {
    // SAFETY: no arguments.
    unsafe { syscall(nr::SYS_GETPID, &[]) as i32 }
}

/// `gettid()`.
pub fn gettid() -> i32 {
    // SAFETY: no arguments.
    unsafe { syscall(nr::SYS_GETTID, &[]) as i32 }
}

/// `getppid()`.
pub fn getppid() -> i32 {
    // SAFETY: no arguments.
    unsafe { syscall(nr::SYS_GETPPID, &[]) as i32 }
}

/// `sched_yield()`.
pub fn sched_yield() {
    // SAFETY: no arguments.
    unsafe { syscall(nr::SYS_SCHED_YIELD, &[]) };
}

/// `nanosleep(req, rem)`; on EINTR returns the remaining time.
pub fn nanosleep(req: &Timespec) -> Result<(), (Errno, Timespec)> {
    let mut rem = Timespec::default();
    // SAFETY: `req` is read, `rem` written; both are valid.
    let r = unsafe {
        syscall(
            nr::SYS_NANOSLEEP,
            &[req as *const _ as usize, &mut rem as *mut _ as usize],
        )
    };
    check(r).map(|_| ()).map_err(|e| (e, rem))
}

/// `clock_gettime(clock)`.
pub fn clock_gettime(clock: i32) -> Result<Timespec, Errno> {
    let mut ts = Timespec::default();
    // SAFETY: the kernel writes one timespec into `ts`.
    check(unsafe {
        syscall(
            nr::SYS_CLOCK_GETTIME,
            &[clock as usize, &mut ts as *mut _ as usize],
        )
    })?;
    Ok(ts)
}

/// [`syscall`], with the result split by [`check`]: for tests that pass arguments on purpose
/// (bad pointers, bad flags) and look at the errno.
///
/// # Safety
/// As for [`syscall6`]: pointers the kernel may write through must not point at memory Rust
/// uses, and calls that change the address space must not unmap or protect it.
#[inline]
pub unsafe fn raw(n: usize, args: &[usize]) -> Result<usize, Errno> {
    // SAFETY: forwarded from the caller.
    check(unsafe { syscall(n, args) })
}

/// `brk(addr)`: sets the program break and returns the new one; on failure (or with
/// `addr == 0`), returns the current break unchanged. The raw system call never fails with
/// an errno (glibc's and musl's wrappers turn "unchanged" into `ENOMEM`).
///
/// # Safety
/// Shrinking the break unmaps the memory above it: nothing may still use it.
pub unsafe fn brk(addr: usize) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe { syscall(nr::SYS_BRK, &[addr]) as usize }
}

/// The current program break (`brk(0)`).
pub fn current_brk() -> usize {
    // SAFETY: brk(0) changes nothing.
    unsafe { brk(0) }
}

/// `mmap(addr, len, prot, flags, fd, offset)`, returning the address.
///
/// # Safety
/// With `MAP_FIXED`, the range is replaced: nothing may still use it.
pub unsafe fn mmap(
    addr: usize,
    len: usize,
    prot: u32,
    flags: u32,
    fd: i32,
    offset: usize,
) -> Result<usize, Errno> {
    // SAFETY: forwarded from the caller.
    check(unsafe {
        syscall6(
            nr::SYS_MMAP,
            addr,
            len,
            prot as usize,
            flags as usize,
            fd as usize,
            offset,
        )
    })
}

/// A new private anonymous mapping of `len` bytes with protection `prot`, wherever the kernel
/// puts it.
pub fn mmap_anon(len: usize, prot: u32) -> Result<usize, Errno> {
    // SAFETY: without MAP_FIXED the kernel picks a free range: nothing existing changes.
    unsafe { mmap(0, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) }
}

/// `munmap(addr, len)`.
///
/// # Safety
/// Nothing may still use the range.
pub unsafe fn munmap(addr: usize, len: usize) -> Result<(), Errno> {
    // SAFETY: forwarded from the caller.
    check(unsafe { syscall(nr::SYS_MUNMAP, &[addr, len]) }).map(|_| ())
}

/// `mprotect(addr, len, prot)`.
///
/// # Safety
/// Nothing may still access the range in a way the new protection forbids.
pub unsafe fn mprotect(addr: usize, len: usize, prot: u32) -> Result<(), Errno> {
    // SAFETY: forwarded from the caller.
    check(unsafe { syscall(nr::SYS_MPROTECT, &[addr, len, prot as usize]) }).map(|_| ())
}

/// `arch_prctl(code, addr)`.
///
/// # Safety
/// For the `GET` codes, `addr` is written (8 bytes); `SET` codes change segment bases that
/// code using TLS relies on.
pub unsafe fn arch_prctl(code: u32, addr: usize) -> Result<usize, Errno> {
    // SAFETY: forwarded from the caller.
    check(unsafe { syscall(nr::SYS_ARCH_PRCTL, &[code as usize, addr]) })
}

/// Sets the FS base (`ARCH_SET_FS`). Safe here: this runtime does not use TLS, so nothing
/// depends on FS.
pub fn set_fs(base: usize) -> Result<(), Errno> {
    // SAFETY: no pointer is written; see above for FS.
    unsafe { arch_prctl(ARCH_SET_FS, base) }.map(|_| ())
}

/// The FS base (`ARCH_GET_FS`).
pub fn get_fs() -> Result<usize, Errno> {
    let mut v = 0usize;
    // SAFETY: the kernel writes 8 bytes into `v`.
    unsafe { arch_prctl(ARCH_GET_FS, &mut v as *mut usize as usize) }?;
    Ok(v)
}

/// Sets the GS base (`ARCH_SET_GS`). Safe here: this runtime does not use GS.
pub fn set_gs(base: usize) -> Result<(), Errno> {
    // SAFETY: no pointer is written; nothing in this runtime uses GS.
    unsafe { arch_prctl(ARCH_SET_GS, base) }.map(|_| ())
}

/// The GS base (`ARCH_GET_GS`).
pub fn get_gs() -> Result<usize, Errno> {
    let mut v = 0usize;
    // SAFETY: the kernel writes 8 bytes into `v`.
    unsafe { arch_prctl(ARCH_GET_GS, &mut v as *mut usize as usize) }?;
    Ok(v)
}

/// `uname()`.
pub fn uname() -> Result<Utsname, Errno> {
    let mut u = Utsname::default();
    // SAFETY: the kernel writes one struct new_utsname into `u`.
    check(unsafe { syscall(nr::SYS_UNAME, &[&mut u as *mut Utsname as usize]) })?;
    Ok(u)
}
