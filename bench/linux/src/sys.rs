//! Thin safe wrappers over the Linux calls the benchmarks make. Each wrapper is one call;
//! errors are returned as `io::Error` (from `errno`).
//!
//! Raw system calls (`libc::syscall`) are used where the C library would add work of its own
//! or cache a result: the benchmarks measure the kernel, not glibc's wrappers.

use std::io;
use std::mem::MaybeUninit;
use std::sync::atomic::AtomicU32;

use libc::{c_int, c_long, pid_t};

/// `Err(errno)` if `r` is -1.
fn check(r: c_long) -> io::Result<c_long> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// An error from a pthread-style return value (the error number itself, not -1/errno).
fn check_pthread(r: c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

/// `getpid` as a real system call (glibc does not cache it any more, but other libraries
/// have, and the raw call is what the lwpvm side makes).
#[inline]
pub fn sys_getpid() -> pid_t {
    // SAFETY: getpid takes no arguments and touches no memory.
    unsafe { libc::syscall(libc::SYS_getpid) as pid_t }
}

/// The calling thread's id.
pub fn gettid() -> pid_t {
    // SAFETY: gettid takes no arguments and touches no memory.
    unsafe { libc::syscall(libc::SYS_gettid) as pid_t }
}

/// `tgkill(tgid, tid, sig)`.
#[inline]
pub fn tgkill(tgid: pid_t, tid: pid_t, sig: c_int) -> io::Result<()> {
    // SAFETY: tgkill takes three integers and touches no memory of ours.
    check(unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, sig) }).map(drop)
}

/// `rt_sigprocmask(how, set, old)` with the kernel's 8-byte sigset.
#[inline]
pub fn rt_sigprocmask(
    how: c_int,
    set: Option<&libc::sigset_t>,
    old: Option<&mut libc::sigset_t>,
) -> io::Result<()> {
    let set = set.map_or(std::ptr::null(), |s| s as *const libc::sigset_t);
    let old = old.map_or(std::ptr::null_mut(), |s| s as *mut libc::sigset_t);
    // SAFETY: `set` is null or points to a sigset_t (128 bytes, more than the 8 the kernel
    // reads); `old` is null or points to a writable sigset_t, which outlives the call.
    check(unsafe { libc::syscall(libc::SYS_rt_sigprocmask, how, set, old, 8usize) }).map(drop)
}

/// A signal set holding `sigs` (`full` for every signal).
pub fn sigset(sigs: &[c_int], full: bool) -> libc::sigset_t {
    let mut s = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset/sigfillset initialise the whole set; sigaddset only needs an
    // initialised set and a signal number (invalid ones are rejected with EINVAL, ignored).
    unsafe {
        if full {
            libc::sigfillset(s.as_mut_ptr());
        } else {
            libc::sigemptyset(s.as_mut_ptr());
        }
        for &sig in sigs {
            libc::sigaddset(s.as_mut_ptr(), sig);
        }
        s.assume_init()
    }
}

/// `set` without `sig`.
pub fn sigset_without(mut set: libc::sigset_t, sig: c_int) -> libc::sigset_t {
    // SAFETY: `set` is an initialised set owned by us.
    unsafe { libc::sigdelset(&mut set, sig) };
    set
}

/// The calling thread's signal mask.
pub fn current_mask() -> io::Result<libc::sigset_t> {
    let mut old = sigset(&[], false);
    rt_sigprocmask(libc::SIG_BLOCK, None, Some(&mut old))?;
    Ok(old)
}

/// Whether `sig` is pending for the calling thread or its process.
pub fn is_pending(sig: c_int) -> bool {
    let mut set = sigset(&[], false);
    // SAFETY: `set` is a writable sigset_t; sigismember reads an initialised one.
    unsafe { libc::sigpending(&mut set) == 0 && libc::sigismember(&set, sig) == 1 }
}

/// `sigsuspend(mask)`: returns when a handler has run (the call's `EINTR` is its success).
#[inline]
pub fn sigsuspend(mask: &libc::sigset_t) {
    // SAFETY: `mask` points to an initialised sigset_t for the duration of the call.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigsuspend,
            mask as *const libc::sigset_t,
            8usize,
        )
    };
}

/// A handler as `sigaction` stores it.
#[derive(Debug, Clone, Copy)]
pub enum Handler {
    /// `void (*)(int)`.
    Plain(extern "C" fn(c_int)),
    /// `void (*)(int, siginfo_t *, void *)`, installed with `SA_SIGINFO`.
    Info(extern "C" fn(c_int, *mut libc::siginfo_t, *mut libc::c_void)),
}

/// A signal disposition installed for the lifetime of the guard; the previous one comes back
/// on drop.
pub struct SigAction {
    sig: c_int,
    old: libc::sigaction,
}

impl SigAction {
    /// Installs `handler` for `sig` with `flags` (plus `SA_SIGINFO` for [`Handler::Info`]) and
    /// an empty `sa_mask`.
    pub fn install(sig: c_int, handler: Handler, flags: c_int) -> io::Result<SigAction> {
        // SAFETY: sigaction is plain old data; all-zero is a valid value (empty mask).
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        let (addr, extra) = match handler {
            Handler::Plain(f) => (f as usize, 0),
            Handler::Info(f) => (f as usize, libc::SA_SIGINFO),
        };
        sa.sa_sigaction = addr;
        sa.sa_flags = flags | extra;
        // SAFETY: as above.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers refer to live sigaction structures; the handler is an
        // `extern "C"` function of the signature the flags announce.
        check(unsafe { libc::sigaction(sig, &sa, &mut old) }.into())?;
        Ok(SigAction { sig, old })
    }
}

impl Drop for SigAction {
    fn drop(&mut self) {
        // SAFETY: restores the disposition sigaction returned earlier.
        unsafe { libc::sigaction(self.sig, &self.old, std::ptr::null_mut()) };
    }
}

/// A signal mask change undone on drop (for the calling thread).
pub struct MaskGuard {
    old: libc::sigset_t,
}

impl MaskGuard {
    /// Blocks `sigs` in the calling thread.
    pub fn block(sigs: &[c_int]) -> io::Result<MaskGuard> {
        let mut old = sigset(&[], false);
        rt_sigprocmask(libc::SIG_BLOCK, Some(&sigset(sigs, false)), Some(&mut old))?;
        Ok(MaskGuard { old })
    }
}

impl Drop for MaskGuard {
    fn drop(&mut self) {
        let _ = rt_sigprocmask(libc::SIG_SETMASK, Some(&self.old), None);
    }
}

/// An alternate signal stack installed for the lifetime of the guard.
pub struct AltStack {
    _mem: Vec<u8>,
    old: libc::stack_t,
}

impl AltStack {
    /// Allocates `size` bytes and makes them the calling thread's alternate signal stack.
    pub fn install(size: usize) -> io::Result<AltStack> {
        let mut mem = vec![0u8; size];
        let new = libc::stack_t {
            ss_sp: mem.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: size,
        };
        // SAFETY: stack_t is plain old data.
        let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: `new` describes `mem`, which the guard keeps alive until the old stack is
        // back (drop); `old` is writable.
        check(unsafe { libc::sigaltstack(&new, &mut old) }.into())?;
        Ok(AltStack { _mem: mem, old })
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: restores the stack sigaltstack reported; ours is not in use (no handler runs).
        unsafe { libc::sigaltstack(&self.old, std::ptr::null_mut()) };
    }
}

/// Pins the calling thread to `cpu`.
pub fn pin(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is a plain bit array; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET checks nothing but `cpu` is below CPU_SETSIZE (callers pass CPUs from
    // `allowed_cpus`, which are).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size given; pid 0 is the calling thread.
    check(unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) }.into()).map(drop)
}

/// The CPUs the calling thread may run on, in increasing order.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: as in `pin`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is writable and of the size given.
    check(unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) }.into())?;
    let n = 8 * std::mem::size_of_val(&set);
    // SAFETY: CPU_ISSET reads the set for indices below CPU_SETSIZE.
    Ok((0..n)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect())
}

/// `FUTEX_WAIT_PRIVATE`: sleeps while `*word == expected` (returns at once otherwise, and
/// spuriously at times: callers re-check).
#[inline]
pub fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: `word` is a live, aligned 32-bit atomic; the timeout pointer is null (no
    // timeout); the other arguments are unused by FUTEX_WAIT.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        )
    };
}

/// `FUTEX_WAKE_PRIVATE` of at most `n` waiters on `word`.
#[inline]
pub fn futex_wake(word: &AtomicU32, n: u32) {
    // SAFETY: `word` is a live, aligned 32-bit atomic; FUTEX_WAKE only uses its address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        )
    };
}

/// `fork()`: `Ok(0)` in the child, the child's pid in the parent.
///
/// # Safety
///
/// The child of a multi-threaded process may only make async-signal-safe calls; the caller
/// must make sure it does (or that the process is single-threaded).
pub unsafe fn fork() -> io::Result<pid_t> {
    // SAFETY: the caller upholds the child's restrictions.
    check(unsafe { libc::fork() }.into()).map(|p| p as pid_t)
}

/// `waitpid(pid, 0)`, returning the raw status.
pub fn waitpid(pid: pid_t) -> io::Result<c_int> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is writable.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(status);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `kill(pid, sig)`.
pub fn kill(pid: pid_t, sig: c_int) -> io::Result<()> {
    // SAFETY: kill takes two integers.
    check(unsafe { libc::kill(pid, sig) }.into()).map(drop)
}

/// `_exit(status)`: ends the process without running atexit handlers or unwinding (the only
/// way out of a forked child).
pub fn exit_now(status: c_int) -> ! {
    // SAFETY: _exit is async-signal-safe and does not return.
    unsafe { libc::_exit(status) }
}

/// A pipe, as (read end, write end).
pub fn pipe() -> io::Result<(c_int, c_int)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }.into())?;
    Ok((fds[0], fds[1]))
}

/// Reads one byte from `fd` (`None` at end of file).
pub fn read_byte(fd: c_int) -> io::Result<Option<u8>> {
    let mut b = 0u8;
    loop {
        // SAFETY: `b` is a writable byte.
        let r = unsafe { libc::read(fd, (&mut b as *mut u8).cast(), 1) };
        match r {
            1 => return Ok(Some(b)),
            0 => return Ok(None),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Writes one byte to `fd` (async-signal-safe: used in forked children).
pub fn write_byte(fd: c_int, b: u8) {
    // SAFETY: `b` is a readable byte.
    unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
}

/// Closes `fd`.
pub fn close(fd: c_int) {
    // SAFETY: the caller owns `fd` and does not use it again.
    unsafe { libc::close(fd) };
}

/// A raw pthread running `start(NULL)`, with a stack of `stack` bytes (0: the default).
pub fn pthread_spawn(
    start: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
    stack: usize,
) -> io::Result<libc::pthread_t> {
    let arg = std::ptr::null_mut();
    let mut t: libc::pthread_t = 0;
    if stack == 0 {
        // SAFETY: `t` is writable; a null attribute means the defaults; `start` is an extern
        // "C" function of the right type, which does not use its (null) argument.
        check_pthread(unsafe { libc::pthread_create(&mut t, std::ptr::null(), start, arg) })?;
        return Ok(t);
    }
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: pthread_attr_init initialises `attr`; it is destroyed below in every case.
    check_pthread(unsafe { libc::pthread_attr_init(attr.as_mut_ptr()) })?;
    // SAFETY: `attr` was initialised above.
    let r = unsafe { libc::pthread_attr_setstacksize(attr.as_mut_ptr(), stack) };
    let r = if r == 0 {
        // SAFETY: as in the default case, with an initialised attribute.
        unsafe { libc::pthread_create(&mut t, attr.as_ptr(), start, arg) }
    } else {
        r
    };
    // SAFETY: `attr` is initialised and no longer used.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    check_pthread(r)?;
    Ok(t)
}

/// `pthread_join(t)`, ignoring the thread's return value.
pub fn pthread_join(t: libc::pthread_t) -> io::Result<()> {
    // SAFETY: `t` is a joinable thread created by `pthread_spawn` and joined only once.
    check_pthread(unsafe { libc::pthread_join(t, std::ptr::null_mut()) })
}

/// The CPU the calling thread runs on (glibc `sched_getcpu`).
pub fn sched_getcpu() -> c_int {
    // SAFETY: sched_getcpu takes no arguments.
    unsafe { libc::sched_getcpu() }
}
