//! Per-LWP shared pages for blocking signals without a system call: DragonFly's `lpmap`
//! (`sigblockall()`/`sigunblockall()`) and FreeBSD's `sigfastblock(2)` word.
//!
//! # DragonFly lpmap
//!
//! DragonFly maps three kinds of shared page (`/dev/kpmap`, `/dev/upmap`, `/dev/lpmap`). Each
//! starts with `ukpheader_t header[64]` = `{ u16 type; u16 offset; }`; user code scans the
//! header until a type of 0, takes `base + offset` for the type it wants and caches the
//! pointer, because "absolute locations can change". A type is an id ORed with a length
//! code (`UKPLEN_*`, decoded by [`ukplen_decode`]).
//!
//! lwpvm implements only the per-thread map, with **DragonFly's `struct sys_lpmap` layout
//! and ids** ([`LpMap`]), obtained through lwpvm's own [`SYS_LPMAP`] call instead of
//! `open("/dev/lpmap") + mmap` (the guest has no device files), and one 4 KiB page long
//! ([`LWPVM_LPMAP_SIZE`]) instead of DragonFly's `LPMAP_MAPSIZE` (64 KiB): the structure is
//! 1296 bytes. The header lwpvm writes is [`LWPVM_LPMAP_HEADER`]; clients must scan it
//! ([`ukp_find`]) as on DragonFly.
//!
//! The `blockallsigs` protocol (DragonFly `sys/sys/upmap.h` comment, libc `sigblockall.c`,
//! seed `dragonfly-lpmap-sigblockall.txt`):
//!
//! - the low 31 bits ([`BLOCKALLSIGS_COUNT`]) are a nesting count: `sigblockall()` atomically
//!   adds 1;
//! - while the count is non-zero the kernel does not dispatch maskable signals to the LWP;
//!   they stay pending (the signal mask is not touched) and the kernel sets bit 31
//!   ([`BLOCKALLSIGS_HELD`]). SIGKILL/SIGSTOP and synchronous traps (a kernel-generated
//!   SIGSEGV, SIGFPE ...) are not held back;
//! - `sigunblockall()` atomically subtracts 1; if the result is exactly `BLOCKALLSIGS_HELD`
//!   (count 0, a signal was held) it makes any real system call (libc uses `getpid`) so that
//!   the kernel dispatches on the way out, then clears bit 31 ([`must_poll_after_unblock`]);
//! - fork: the child's LWP gets a page at the same address with the parent LWP's
//!   `blockallsigs` value, bit 31 included. exec: the mapping is gone (and DragonFly resets
//!   the TID to 1).
//!
//! # FreeBSD sigfastblock
//!
//! A thread registers a naturally aligned 32-bit word with `sigfastblock(SETPTR, &word)`
//! ([`SYS_SIGFASTBLOCK`]). Blocking adds [`SIGFASTBLOCK_INC`], unblocking subtracts it; while
//! `word & !SIGFASTBLOCK_FLAGS != 0` the kernel treats the thread as if every blockable
//! signal were masked, and sets [`SIGFASTBLOCK_PEND`] when it holds one back. If the value
//! before the unblocking subtraction was exactly `PEND | INC`, user space calls
//! `sigfastblock(UNBLOCK)`, which requires the word to equal `PEND` (`EBUSY` otherwise),
//! clears it and delivers ([`must_unblock_after_dec`]). Errors (man page): `SETPTR` → `EBUSY`
//! if a word is already registered, `EINVAL` if misaligned; `UNSETPTR` → `EINVAL` if none is
//! registered; `EFAULT` on a failed access (a fault while the kernel implicitly reads the
//! word raises SIGSEGV instead).
//!
//! # Sources
//!
//! | item | source |
//! |---|---|
//! | `UKPLEN_*`, [`ukplen_decode`], `UKPTYPE_VERSION`, `LPTYPE_*`, `UPTYPE_*`, `LPMAP_*`, [`LpMap`] layout, the `blockallsigs` comment | DragonFly `sys/sys/upmap.h`, 2019+ version, read from the ivadasz/DragonFlyBSD fork (commit 6ef03ce32b0e79efec5720cfb6e5a3be95fd875f); the DragonFlyBSD/DragonFlyBSD copy in the index is the 2014 version (0adbcbd6…), which agrees on `UKPLEN_*`, `UKPTYPE_VERSION` and `UPTYPE_RUNTICKS..PROC_TITLE` and predates lpmap |
//! | `sigblockall`/`sigunblockall` steps | seed `dragonfly-lpmap-sigblockall.txt` (commit 64b5a8a5 message) and signals-abi §4.3 (DragonFly libc) |
//! | `SIGFASTBLOCK_*` values | freebsd/freebsd-src `sys/sys/signalvar.h` (commit 3af9b944c7933f967a15d014fa5e412d4540a22f) |
//! | sigfastblock semantics and errors | freebsd/freebsd-src `lib/libc/sys/sigfastblock.2` (commit fd3016b1…); unblock rule from `libexec/rtld-elf/rtld_lock.c` `sig_fastunblock` |
//! | [`LWPVM_LPMAP_SIZE`], [`LWPVM_LPMAP_HEADER`], `LPMAP_CMD_*` | **lwpvm's own** |
//!
//! [`SYS_LPMAP`]: super::syscall::SYS_LPMAP
//! [`SYS_SIGFASTBLOCK`]: super::syscall::SYS_SIGFASTBLOCK

use core::mem::{offset_of, size_of};

// ---------------------------------------------------------------------------------------------
// DragonFly ukpheader protocol.
// ---------------------------------------------------------------------------------------------

/// `ukpheader_t`: one entry of a map's header.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UkpHeader {
    /// Element type (id | `UKPLEN_*`); 0 ends the header.
    pub type_: u16,
    /// Offset of the element from the start of the map.
    pub offset: u16,
}

const _: () = {
    assert!(size_of::<UkpHeader>() == 4);
    assert!(offset_of!(UkpHeader, type_) == 0);
    assert!(offset_of!(UkpHeader, offset) == 2);
};

/// Mask of the length code in a type.
pub const UKPLEN_MASK: u16 = 0x0F00;
/// Length code: 1 byte.
pub const UKPLEN_1: u16 = 0x0000;
/// Length code: 2 bytes.
pub const UKPLEN_2: u16 = 0x0100;
/// Length code: 4 bytes.
pub const UKPLEN_4: u16 = 0x0200;
/// Length code: 8 bytes.
pub const UKPLEN_8: u16 = 0x0300;
/// Length code: 16 bytes.
pub const UKPLEN_16: u16 = 0x0400;
/// Length code: 32 bytes.
pub const UKPLEN_32: u16 = 0x0500;
/// Length code: 64 bytes.
pub const UKPLEN_64: u16 = 0x0600;
/// Length code: 128 bytes.
pub const UKPLEN_128: u16 = 0x0700;
/// Length code: 256 bytes.
pub const UKPLEN_256: u16 = 0x0800;
/// Length code: 512 bytes.
pub const UKPLEN_512: u16 = 0x0900;
/// Length code: 1024 bytes.
pub const UKPLEN_1024: u16 = 0x0A00;

/// `UKPLEN_DECODE(type)`: the element length in bytes, `1 << ((type >> 8) & 0xF)`.
pub const fn ukplen_decode(type_: u16) -> usize {
    1 << ((type_ >> 8) & 0x0F)
}

/// The map's version (`u32`), always the first entry.
pub const UKPTYPE_VERSION: u16 = 0x0001 | UKPLEN_4;

/// lpmap: reserved `u32`.
pub const LPTYPE_RESERVEDINT0: u16 = 0x4010 | UKPLEN_4;
/// lpmap: reserved `u32`.
pub const LPTYPE_RESERVEDINT1: u16 = 0x4011 | UKPLEN_4;
/// lpmap: the `blockallsigs` word (`u32`).
pub const LPTYPE_BLOCKALLSIGS: u16 = 0x4012 | UKPLEN_4;
/// lpmap: the thread title (`char[1024]`).
pub const LPTYPE_THREAD_TITLE: u16 = 0x4013 | UKPLEN_1024;
/// lpmap: the thread's id (`u32`).
pub const LPTYPE_THREAD_TID: u16 = 0x4014 | UKPLEN_4;

/// upmap (per-process; not implemented by lwpvm): running scheduler ticks.
pub const UPTYPE_RUNTICKS: u16 = 0x0010 | UKPLEN_4;
/// upmap: fork id.
pub const UPTYPE_FORKID: u16 = 0x0011 | UKPLEN_8;
/// upmap: process id.
pub const UPTYPE_PID: u16 = 0x0012 | UKPLEN_4;
/// upmap: process title.
pub const UPTYPE_PROC_TITLE: u16 = 0x0013 | UKPLEN_1024;
/// upmap: vfork active.
pub const UPTYPE_INVFORK: u16 = 0x0014 | UKPLEN_4;

/// The offset of the element of type `type_` in a map whose header is `header`: scans until
/// an entry of type 0 (or the end of the slice), as DragonFly's libc does. `None` if absent.
pub const fn ukp_find(header: &[UkpHeader], type_: u16) -> Option<u16> {
    let mut i = 0;
    while i < header.len() {
        let h = header[i];
        if h.type_ == 0 {
            return None;
        }
        if h.type_ == type_ {
            return Some(h.offset);
        }
        i += 1;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// lpmap.
// ---------------------------------------------------------------------------------------------

/// `LPMAP_VERSION`.
pub const LPMAP_VERSION: u32 = 1;
/// `LPMAP_MAXTHREADTITLE`.
pub const LPMAP_MAXTHREADTITLE: usize = 1024;
/// DragonFly's `LPMAP_MAPSIZE` (for reference; lwpvm maps [`LWPVM_LPMAP_SIZE`]).
pub const LPMAP_MAPSIZE: usize = 65536;
/// Size of the lpmap lwpvm maps per LWP: one page.
pub const LWPVM_LPMAP_SIZE: usize = 4096;

/// `blockallsigs`: set by the kernel when it held a signal back.
pub const BLOCKALLSIGS_HELD: u32 = 0x8000_0000;
/// `blockallsigs`: the nesting count.
pub const BLOCKALLSIGS_COUNT: u32 = 0x7FFF_FFFF;

/// DragonFly `struct sys_lpmap`: the per-LWP shared page.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LpMap {
    /// Type/offset entries, ending with a zero type.
    pub header: [UkpHeader; 64],
    /// [`LPMAP_VERSION`].
    pub version: u32,
    /// The LWP's id.
    pub tid: u32,
    pub reserved02: u32,
    /// The sigblockall word.
    pub blockallsigs: u32,
    /// NUL-terminated thread name (written by user space).
    pub thread_title: [u8; LPMAP_MAXTHREADTITLE],
}

const _: () = {
    assert!(size_of::<LpMap>() == 1296);
    assert!(size_of::<LpMap>() <= LWPVM_LPMAP_SIZE);
    assert!(offset_of!(LpMap, header) == 0);
    assert!(offset_of!(LpMap, version) == 256);
    assert!(offset_of!(LpMap, tid) == 260);
    assert!(offset_of!(LpMap, reserved02) == 264);
    assert!(offset_of!(LpMap, blockallsigs) == 268);
    assert!(offset_of!(LpMap, thread_title) == 272);
};

/// The header lwpvm's kernel writes into every lpmap (lwpvm's choice of entries; the ids and
/// offsets are DragonFly's). Entry 5 and later are zero.
pub const LWPVM_LPMAP_HEADER: [UkpHeader; 5] = [
    UkpHeader {
        type_: UKPTYPE_VERSION,
        offset: offset_of!(LpMap, version) as u16,
    },
    UkpHeader {
        type_: LPTYPE_THREAD_TID,
        offset: offset_of!(LpMap, tid) as u16,
    },
    UkpHeader {
        type_: LPTYPE_BLOCKALLSIGS,
        offset: offset_of!(LpMap, blockallsigs) as u16,
    },
    UkpHeader {
        type_: LPTYPE_THREAD_TITLE,
        offset: offset_of!(LpMap, thread_title) as u16,
    },
    UkpHeader {
        type_: 0,
        offset: 0,
    },
];

impl LpMap {
    /// A fresh lpmap for LWP `tid`: lwpvm's header, version 1, count 0, empty title.
    pub const fn new(tid: u32) -> Self {
        let mut header = [UkpHeader {
            type_: 0,
            offset: 0,
        }; 64];
        let mut i = 0;
        while i < LWPVM_LPMAP_HEADER.len() {
            header[i] = LWPVM_LPMAP_HEADER[i];
            i += 1;
        }
        Self {
            header,
            version: LPMAP_VERSION,
            tid,
            reserved02: 0,
            blockallsigs: 0,
            thread_title: [0; LPMAP_MAXTHREADTITLE],
        }
    }
}

/// `SYS_LPMAP` command: map the calling LWP's lpmap (if not yet mapped) and return its user
/// address. lwpvm's own.
pub const LPMAP_CMD_MAP: u32 = 0;
/// `SYS_LPMAP` command: unmap the calling LWP's lpmap (the kernel also unmaps it when the
/// LWP exits). lwpvm's own.
pub const LPMAP_CMD_UNMAP: u32 = 1;

/// Whether a `blockallsigs` value asks the kernel to hold signals back (count non-zero).
pub const fn blockallsigs_blocking(word: u32) -> bool {
    word & BLOCKALLSIGS_COUNT != 0
}

/// Whether `sigunblockall()` must make a system call and then clear bit 31, given the value
/// the word holds *after* its decrement: exactly [`BLOCKALLSIGS_HELD`].
pub const fn must_poll_after_unblock(new_word: u32) -> bool {
    new_word == BLOCKALLSIGS_HELD
}

// ---------------------------------------------------------------------------------------------
// FreeBSD sigfastblock.
// ---------------------------------------------------------------------------------------------

/// `sigfastblock` command: register `ptr` as the calling thread's word.
pub const SIGFASTBLOCK_SETPTR: u32 = 1;
/// `sigfastblock` command: deliver held signals; the word must equal [`SIGFASTBLOCK_PEND`].
pub const SIGFASTBLOCK_UNBLOCK: u32 = 2;
/// `sigfastblock` command: unregister the word.
pub const SIGFASTBLOCK_UNSETPTR: u32 = 3;

/// Word flag set by the kernel: a signal was held back.
pub const SIGFASTBLOCK_PEND: u32 = 0x1;
/// Low bits of the word reserved for kernel flags.
pub const SIGFASTBLOCK_FLAGS: u32 = 0xf;
/// One nesting level.
pub const SIGFASTBLOCK_INC: u32 = 0x10;

/// Whether a sigfastblock word blocks signals (`word & !FLAGS != 0`).
pub const fn sigfastblock_blocking(word: u32) -> bool {
    word & !SIGFASTBLOCK_FLAGS != 0
}

/// Whether user space must call `sigfastblock(UNBLOCK)`, given the value the word held
/// *before* its `-INC` (rtld's `sig_fastunblock`): exactly `PEND | INC`.
pub const fn must_unblock_after_dec(old_word: u32) -> bool {
    old_word == SIGFASTBLOCK_PEND | SIGFASTBLOCK_INC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_codes() {
        assert_eq!(UKPTYPE_VERSION, 0x0201);
        assert_eq!(LPTYPE_BLOCKALLSIGS, 0x4212);
        assert_eq!(LPTYPE_THREAD_TID, 0x4214);
        assert_eq!(LPTYPE_THREAD_TITLE, 0x4A13);
        assert_eq!(ukplen_decode(UKPTYPE_VERSION), 4);
        assert_eq!(ukplen_decode(UPTYPE_FORKID), 8);
        assert_eq!(ukplen_decode(LPTYPE_THREAD_TITLE), 1024);
        assert_eq!(ukplen_decode(0xffff), 1 << 15);
    }

    #[test]
    fn header_scan_finds_lwpvm_entries() {
        let m = LpMap::new(7);
        assert_eq!(ukp_find(&m.header, UKPTYPE_VERSION), Some(256));
        assert_eq!(ukp_find(&m.header, LPTYPE_THREAD_TID), Some(260));
        assert_eq!(ukp_find(&m.header, LPTYPE_BLOCKALLSIGS), Some(268));
        assert_eq!(ukp_find(&m.header, LPTYPE_THREAD_TITLE), Some(272));
        assert_eq!(ukp_find(&m.header, LPTYPE_RESERVEDINT0), None);
        assert_eq!(ukp_find(&[], LPTYPE_THREAD_TID), None);
        // Every entry's length code covers its field.
        for h in LWPVM_LPMAP_HEADER.iter().take_while(|h| h.type_ != 0) {
            assert!(h.offset as usize + ukplen_decode(h.type_) <= size_of::<LpMap>());
        }
        assert_eq!((m.version, m.tid, m.blockallsigs), (1, 7, 0));
    }

    #[test]
    fn blockallsigs_protocol() {
        let mut w = 0u32;
        w += 1; // sigblockall
        w += 1; // nested
        assert!(blockallsigs_blocking(w));
        w |= BLOCKALLSIGS_HELD; // kernel held a signal back
        assert!(blockallsigs_blocking(w));
        w -= 1;
        assert!(!must_poll_after_unblock(w));
        w -= 1;
        assert!(!blockallsigs_blocking(w));
        assert!(must_poll_after_unblock(w));
        assert!(!must_poll_after_unblock(0));
    }

    #[test]
    fn sigfastblock_protocol() {
        let mut w = 0u32;
        w += SIGFASTBLOCK_INC;
        assert!(sigfastblock_blocking(w));
        w |= SIGFASTBLOCK_PEND;
        let old = w;
        w -= SIGFASTBLOCK_INC;
        assert!(must_unblock_after_dec(old));
        assert_eq!(w, SIGFASTBLOCK_PEND);
        assert!(!sigfastblock_blocking(w));
        assert!(!must_unblock_after_dec(SIGFASTBLOCK_INC));
        assert!(!must_unblock_after_dec(
            (2 * SIGFASTBLOCK_INC) | SIGFASTBLOCK_PEND
        ));
    }
}
