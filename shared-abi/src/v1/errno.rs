//! Linux error numbers (the values system calls return negated in `rax`), and the
//! kernel-internal restart codes.
//!
//! # Sources
//!
//! - `EPERM`..=`ERANGE` (1..=34): torvalds/linux `include/uapi/asm-generic/errno-base.h`
//!   (commit 2cc2c3cb54de578666d905537e4c15969caf0dc5).
//! - `EDEADLK`..=`EHWPOISON` (35..=133): torvalds/linux `include/uapi/asm-generic/errno.h`
//!   (commit 01b944fe1cd4e21a2a9ed51adbdbafe2d5e905ba). x86_64 uses the generic values.
//!   41 and 58 are unassigned (`EWOULDBLOCK` = `EAGAIN`, `EDEADLOCK` = `EDEADLK`).
//! - `ERESTARTSYS`..=`ERESTART_RESTARTBLOCK` (512..=516): torvalds/linux
//!   `include/linux/errno.h` ("Should never be seen by user programs"), checked; the values
//!   have not changed since 2.6.12 (commit 1da177e4c3f41524e886b7f1b8a0c1fc7321cac2).
//! - [`MAX_ERRNO`] = 4095: torvalds/linux `include/linux/err.h` (`IS_ERR_VALUE(x)` is
//!   `x >= (unsigned long)-MAX_ERRNO`), which is also the user-visible rule for "this return
//!   value is an error".
//!
//! Descriptions are the comments of those headers (the strings of [`name`] are the macro
//! names). Values are `i32` (C `int`); a system call returns `-(value as isize)`.

/// Operation not permitted.
pub const EPERM: i32 = 1;
/// No such file or directory.
pub const ENOENT: i32 = 2;
/// No such process.
pub const ESRCH: i32 = 3;
/// Interrupted system call.
pub const EINTR: i32 = 4;
/// I/O error.
pub const EIO: i32 = 5;
/// No such device or address.
pub const ENXIO: i32 = 6;
/// Argument list too long.
pub const E2BIG: i32 = 7;
/// Exec format error.
pub const ENOEXEC: i32 = 8;
/// Bad file number.
pub const EBADF: i32 = 9;
/// No child processes.
pub const ECHILD: i32 = 10;
/// Try again.
pub const EAGAIN: i32 = 11;
/// Operation would block (alias of [`EAGAIN`]).
pub const EWOULDBLOCK: i32 = EAGAIN;
/// Out of memory.
pub const ENOMEM: i32 = 12;
/// Permission denied.
pub const EACCES: i32 = 13;
/// Bad address.
pub const EFAULT: i32 = 14;
/// Block device required.
pub const ENOTBLK: i32 = 15;
/// Device or resource busy.
pub const EBUSY: i32 = 16;
/// File exists.
pub const EEXIST: i32 = 17;
/// Cross-device link.
pub const EXDEV: i32 = 18;
/// No such device.
pub const ENODEV: i32 = 19;
/// Not a directory.
pub const ENOTDIR: i32 = 20;
/// Is a directory.
pub const EISDIR: i32 = 21;
/// Invalid argument.
pub const EINVAL: i32 = 22;
/// File table overflow.
pub const ENFILE: i32 = 23;
/// Too many open files.
pub const EMFILE: i32 = 24;
/// Not a typewriter.
pub const ENOTTY: i32 = 25;
/// Text file busy.
pub const ETXTBSY: i32 = 26;
/// File too large.
pub const EFBIG: i32 = 27;
/// No space left on device.
pub const ENOSPC: i32 = 28;
/// Illegal seek.
pub const ESPIPE: i32 = 29;
/// Read-only file system.
pub const EROFS: i32 = 30;
/// Too many links.
pub const EMLINK: i32 = 31;
/// Broken pipe.
pub const EPIPE: i32 = 32;
/// Math argument out of domain of func.
pub const EDOM: i32 = 33;
/// Math result not representable.
pub const ERANGE: i32 = 34;
/// Resource deadlock would occur.
pub const EDEADLK: i32 = 35;
/// Alias of [`EDEADLK`].
pub const EDEADLOCK: i32 = EDEADLK;
/// File name too long.
pub const ENAMETOOLONG: i32 = 36;
/// No record locks available.
pub const ENOLCK: i32 = 37;
/// Invalid system call number.
pub const ENOSYS: i32 = 38;
/// Directory not empty.
pub const ENOTEMPTY: i32 = 39;
/// Too many symbolic links encountered.
pub const ELOOP: i32 = 40;
/// No message of desired type.
pub const ENOMSG: i32 = 42;
/// Identifier removed.
pub const EIDRM: i32 = 43;
/// Channel number out of range.
pub const ECHRNG: i32 = 44;
/// Level 2 not synchronized.
pub const EL2NSYNC: i32 = 45;
/// Level 3 halted.
pub const EL3HLT: i32 = 46;
/// Level 3 reset.
pub const EL3RST: i32 = 47;
/// Link number out of range.
pub const ELNRNG: i32 = 48;
/// Protocol driver not attached.
pub const EUNATCH: i32 = 49;
/// No CSI structure available.
pub const ENOCSI: i32 = 50;
/// Level 2 halted.
pub const EL2HLT: i32 = 51;
/// Invalid exchange.
pub const EBADE: i32 = 52;
/// Invalid request descriptor.
pub const EBADR: i32 = 53;
/// Exchange full.
pub const EXFULL: i32 = 54;
/// No anode.
pub const ENOANO: i32 = 55;
/// Invalid request code.
pub const EBADRQC: i32 = 56;
/// Invalid slot.
pub const EBADSLT: i32 = 57;
/// Bad font file format.
pub const EBFONT: i32 = 59;
/// Device not a stream.
pub const ENOSTR: i32 = 60;
/// No data available.
pub const ENODATA: i32 = 61;
/// Timer expired.
pub const ETIME: i32 = 62;
/// Out of streams resources.
pub const ENOSR: i32 = 63;
/// Machine is not on the network.
pub const ENONET: i32 = 64;
/// Package not installed.
pub const ENOPKG: i32 = 65;
/// Object is remote.
pub const EREMOTE: i32 = 66;
/// Link has been severed.
pub const ENOLINK: i32 = 67;
/// Advertise error.
pub const EADV: i32 = 68;
/// Srmount error.
pub const ESRMNT: i32 = 69;
/// Communication error on send.
pub const ECOMM: i32 = 70;
/// Protocol error.
pub const EPROTO: i32 = 71;
/// Multihop attempted.
pub const EMULTIHOP: i32 = 72;
/// RFS specific error.
pub const EDOTDOT: i32 = 73;
/// Not a data message.
pub const EBADMSG: i32 = 74;
/// Value too large for defined data type.
pub const EOVERFLOW: i32 = 75;
/// Name not unique on network.
pub const ENOTUNIQ: i32 = 76;
/// File descriptor in bad state.
pub const EBADFD: i32 = 77;
/// Remote address changed.
pub const EREMCHG: i32 = 78;
/// Can not access a needed shared library.
pub const ELIBACC: i32 = 79;
/// Accessing a corrupted shared library.
pub const ELIBBAD: i32 = 80;
/// .lib section in a.out corrupted.
pub const ELIBSCN: i32 = 81;
/// Attempting to link in too many shared libraries.
pub const ELIBMAX: i32 = 82;
/// Cannot exec a shared library directly.
pub const ELIBEXEC: i32 = 83;
/// Illegal byte sequence.
pub const EILSEQ: i32 = 84;
/// Interrupted system call should be restarted.
pub const ERESTART: i32 = 85;
/// Streams pipe error.
pub const ESTRPIPE: i32 = 86;
/// Too many users.
pub const EUSERS: i32 = 87;
/// Socket operation on non-socket.
pub const ENOTSOCK: i32 = 88;
/// Destination address required.
pub const EDESTADDRREQ: i32 = 89;
/// Message too long.
pub const EMSGSIZE: i32 = 90;
/// Protocol wrong type for socket.
pub const EPROTOTYPE: i32 = 91;
/// Protocol not available.
pub const ENOPROTOOPT: i32 = 92;
/// Protocol not supported.
pub const EPROTONOSUPPORT: i32 = 93;
/// Socket type not supported.
pub const ESOCKTNOSUPPORT: i32 = 94;
/// Operation not supported on transport endpoint.
pub const EOPNOTSUPP: i32 = 95;
/// Protocol family not supported.
pub const EPFNOSUPPORT: i32 = 96;
/// Address family not supported by protocol.
pub const EAFNOSUPPORT: i32 = 97;
/// Address already in use.
pub const EADDRINUSE: i32 = 98;
/// Cannot assign requested address.
pub const EADDRNOTAVAIL: i32 = 99;
/// Network is down.
pub const ENETDOWN: i32 = 100;
/// Network is unreachable.
pub const ENETUNREACH: i32 = 101;
/// Network dropped connection because of reset.
pub const ENETRESET: i32 = 102;
/// Software caused connection abort.
pub const ECONNABORTED: i32 = 103;
/// Connection reset by peer.
pub const ECONNRESET: i32 = 104;
/// No buffer space available.
pub const ENOBUFS: i32 = 105;
/// Transport endpoint is already connected.
pub const EISCONN: i32 = 106;
/// Transport endpoint is not connected.
pub const ENOTCONN: i32 = 107;
/// Cannot send after transport endpoint shutdown.
pub const ESHUTDOWN: i32 = 108;
/// Too many references: cannot splice.
pub const ETOOMANYREFS: i32 = 109;
/// Connection timed out.
pub const ETIMEDOUT: i32 = 110;
/// Connection refused.
pub const ECONNREFUSED: i32 = 111;
/// Host is down.
pub const EHOSTDOWN: i32 = 112;
/// No route to host.
pub const EHOSTUNREACH: i32 = 113;
/// Operation already in progress.
pub const EALREADY: i32 = 114;
/// Operation now in progress.
pub const EINPROGRESS: i32 = 115;
/// Stale file handle.
pub const ESTALE: i32 = 116;
/// Structure needs cleaning.
pub const EUCLEAN: i32 = 117;
/// Not a XENIX named type file.
pub const ENOTNAM: i32 = 118;
/// No XENIX semaphores available.
pub const ENAVAIL: i32 = 119;
/// Is a named type file.
pub const EISNAM: i32 = 120;
/// Remote I/O error.
pub const EREMOTEIO: i32 = 121;
/// Quota exceeded.
pub const EDQUOT: i32 = 122;
/// No medium found.
pub const ENOMEDIUM: i32 = 123;
/// Wrong medium type.
pub const EMEDIUMTYPE: i32 = 124;
/// Operation Canceled.
pub const ECANCELED: i32 = 125;
/// Required key not available.
pub const ENOKEY: i32 = 126;
/// Key has expired.
pub const EKEYEXPIRED: i32 = 127;
/// Key has been revoked.
pub const EKEYREVOKED: i32 = 128;
/// Key was rejected by service.
pub const EKEYREJECTED: i32 = 129;
/// Owner died.
pub const EOWNERDEAD: i32 = 130;
/// State not recoverable.
pub const ENOTRECOVERABLE: i32 = 131;
/// Operation not possible due to RF-kill.
pub const ERFKILL: i32 = 132;
/// Memory page has hardware error.
pub const EHWPOISON: i32 = 133;

// ---------------------------------------------------------------------------------------------
// Kernel-internal codes. The guest kernel uses them between a sleeping system call and the
// signal-delivery code on the way out (signals-abi §2.7); they must never reach user space:
// delivery turns them into a restart (`rax = orig_rax`, `rip -= 2`) or into `-EINTR`.
// ---------------------------------------------------------------------------------------------

/// Restart if no handler runs or the handler has `SA_RESTART`; else `-EINTR`.
pub const ERESTARTSYS: i32 = 512;
/// Always restart, even after a handler ran.
pub const ERESTARTNOINTR: i32 = 513;
/// Restart if no handler runs; `-EINTR` if one does (`pause`, `rt_sigsuspend`).
pub const ERESTARTNOHAND: i32 = 514;
/// No such ioctl command (internal to ioctl dispatch; user space sees `ENOTTY`).
pub const ENOIOCTLCMD: i32 = 515;
/// Restart through `restart_syscall` (219) if no handler runs; `-EINTR` if one does.
pub const ERESTART_RESTARTBLOCK: i32 = 516;

/// Largest error number: a system call result `r` (as `usize`) is an error iff
/// `r > usize::MAX - MAX_ERRNO`, i.e. `-4095 <= r as isize <= -1`.
pub const MAX_ERRNO: usize = 4095;

// Index = error number.
const NAMES: [&str; 134] = [
    "", // 0: not an error
    "EPERM",
    "ENOENT",
    "ESRCH",
    "EINTR",
    "EIO",
    "ENXIO",
    "E2BIG",
    "ENOEXEC",
    "EBADF",
    "ECHILD",
    "EAGAIN",
    "ENOMEM",
    "EACCES",
    "EFAULT",
    "ENOTBLK",
    "EBUSY",
    "EEXIST",
    "EXDEV",
    "ENODEV",
    "ENOTDIR",
    "EISDIR",
    "EINVAL",
    "ENFILE",
    "EMFILE",
    "ENOTTY",
    "ETXTBSY",
    "EFBIG",
    "ENOSPC",
    "ESPIPE",
    "EROFS",
    "EMLINK",
    "EPIPE",
    "EDOM",
    "ERANGE",
    "EDEADLK",
    "ENAMETOOLONG",
    "ENOLCK",
    "ENOSYS",
    "ENOTEMPTY",
    "ELOOP",
    "", // 41: unassigned
    "ENOMSG",
    "EIDRM",
    "ECHRNG",
    "EL2NSYNC",
    "EL3HLT",
    "EL3RST",
    "ELNRNG",
    "EUNATCH",
    "ENOCSI",
    "EL2HLT",
    "EBADE",
    "EBADR",
    "EXFULL",
    "ENOANO",
    "EBADRQC",
    "EBADSLT",
    "", // 58: unassigned
    "EBFONT",
    "ENOSTR",
    "ENODATA",
    "ETIME",
    "ENOSR",
    "ENONET",
    "ENOPKG",
    "EREMOTE",
    "ENOLINK",
    "EADV",
    "ESRMNT",
    "ECOMM",
    "EPROTO",
    "EMULTIHOP",
    "EDOTDOT",
    "EBADMSG",
    "EOVERFLOW",
    "ENOTUNIQ",
    "EBADFD",
    "EREMCHG",
    "ELIBACC",
    "ELIBBAD",
    "ELIBSCN",
    "ELIBMAX",
    "ELIBEXEC",
    "EILSEQ",
    "ERESTART",
    "ESTRPIPE",
    "EUSERS",
    "ENOTSOCK",
    "EDESTADDRREQ",
    "EMSGSIZE",
    "EPROTOTYPE",
    "ENOPROTOOPT",
    "EPROTONOSUPPORT",
    "ESOCKTNOSUPPORT",
    "EOPNOTSUPP",
    "EPFNOSUPPORT",
    "EAFNOSUPPORT",
    "EADDRINUSE",
    "EADDRNOTAVAIL",
    "ENETDOWN",
    "ENETUNREACH",
    "ENETRESET",
    "ECONNABORTED",
    "ECONNRESET",
    "ENOBUFS",
    "EISCONN",
    "ENOTCONN",
    "ESHUTDOWN",
    "ETOOMANYREFS",
    "ETIMEDOUT",
    "ECONNREFUSED",
    "EHOSTDOWN",
    "EHOSTUNREACH",
    "EALREADY",
    "EINPROGRESS",
    "ESTALE",
    "EUCLEAN",
    "ENOTNAM",
    "ENAVAIL",
    "EISNAM",
    "EREMOTEIO",
    "EDQUOT",
    "ENOMEDIUM",
    "EMEDIUMTYPE",
    "ECANCELED",
    "ENOKEY",
    "EKEYEXPIRED",
    "EKEYREVOKED",
    "EKEYREJECTED",
    "EOWNERDEAD",
    "ENOTRECOVERABLE",
    "ERFKILL",
    "EHWPOISON",
];

/// The macro name of error number `e` (`"EPERM"` ...), including the kernel-internal
/// restart codes, or `None` if `e` is not a Linux error number. Aliases (`EWOULDBLOCK`,
/// `EDEADLOCK`) are reported under their primary name.
pub const fn name(e: i32) -> Option<&'static str> {
    let s = match e {
        ERESTARTSYS => "ERESTARTSYS",
        ERESTARTNOINTR => "ERESTARTNOINTR",
        ERESTARTNOHAND => "ERESTARTNOHAND",
        ENOIOCTLCMD => "ENOIOCTLCMD",
        ERESTART_RESTARTBLOCK => "ERESTART_RESTARTBLOCK",
        1..=133 => NAMES[e as usize],
        _ => "",
    };
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

/// The error number named `name` (the inverse of [`name`]; also accepts the aliases
/// `EWOULDBLOCK` and `EDEADLOCK`). A linear search, meant for scenario files and tracing.
pub fn number(name: &str) -> Option<i32> {
    match name {
        "" => None,
        "EWOULDBLOCK" => Some(EWOULDBLOCK),
        "EDEADLOCK" => Some(EDEADLOCK),
        "ERESTARTSYS" => Some(ERESTARTSYS),
        "ERESTARTNOINTR" => Some(ERESTARTNOINTR),
        "ERESTARTNOHAND" => Some(ERESTARTNOHAND),
        "ENOIOCTLCMD" => Some(ENOIOCTLCMD),
        "ERESTART_RESTARTBLOCK" => Some(ERESTART_RESTARTBLOCK),
        _ => NAMES.iter().position(|&n| n == name).map(|i| i as i32),
    }
}

/// Whether `e` is one of the kernel-internal restart codes that must never be returned to
/// user space.
pub const fn is_kernel_internal(e: i32) -> bool {
    matches!(e, ERESTARTSYS..=ERESTART_RESTARTBLOCK)
}

/// The error number carried by a raw system call return value, or `None` if `ret` is not in
/// the `-errno` range (a success value, which may be a large pointer).
pub const fn from_return(ret: usize) -> Option<i32> {
    if ret > usize::MAX - MAX_ERRNO {
        Some((ret as isize).wrapping_neg() as i32)
    } else {
        None
    }
}

/// The raw system call return value for error `e` (`-e` as a register value).
pub const fn to_return(e: i32) -> usize {
    (e as isize).wrapping_neg() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_values() {
        assert_eq!(EPERM, 1);
        assert_eq!(EINTR, 4);
        assert_eq!(EAGAIN, 11);
        assert_eq!(EWOULDBLOCK, EAGAIN);
        assert_eq!(EFAULT, 14);
        assert_eq!(EINVAL, 22);
        assert_eq!(EDEADLK, 35);
        assert_eq!(EDEADLOCK, EDEADLK);
        assert_eq!(ENOSYS, 38);
        assert_eq!(EALREADY, 114);
        assert_eq!(ETIMEDOUT, 110);
        assert_eq!(EHWPOISON, 133);
    }

    #[test]
    fn names_round_trip() {
        let mut n = 0;
        for e in 0..=600 {
            if let Some(s) = name(e) {
                n += 1;
                assert!(s.starts_with('E'), "{s}");
                assert_eq!(number(s), Some(e));
            }
        }
        assert_eq!(n, 131 + 5);
        assert_eq!(name(0), None);
        assert_eq!(name(41), None);
        assert_eq!(name(58), None);
        assert_eq!(name(134), None);
        assert_eq!(name(-1), None);
        assert_eq!(name(EPERM), Some("EPERM"));
        assert_eq!(name(ENOTRECOVERABLE), Some("ENOTRECOVERABLE"));
        assert_eq!(name(ERESTART_RESTARTBLOCK), Some("ERESTART_RESTARTBLOCK"));
        assert_eq!(number("EWOULDBLOCK"), Some(EAGAIN));
        assert_eq!(number("EDEADLOCK"), Some(EDEADLK));
        assert_eq!(number(""), None);
        assert_eq!(number("ENOTANERROR"), None);
    }

    #[test]
    fn return_values() {
        assert_eq!(to_return(EINTR), (-4isize) as usize);
        assert_eq!(from_return(to_return(EINTR)), Some(EINTR));
        assert_eq!(from_return(to_return(4095)), Some(4095));
        assert_eq!(from_return((-4096isize) as usize), None);
        assert_eq!(from_return(0), None);
        assert_eq!(from_return(0x7fff_ffff_f000), None);
        assert!(is_kernel_internal(ERESTARTSYS));
        assert!(is_kernel_internal(ERESTART_RESTARTBLOCK));
        assert!(!is_kernel_internal(EINTR));
        assert!(!is_kernel_internal(517));
    }
}
