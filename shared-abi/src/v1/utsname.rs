//! `uname(2)`: `struct new_utsname` and the values lwpvm reports.
//!
//! # Sources
//!
//! | items | source |
//! |---|---|
//! | [`Utsname`], [`UTS_LEN`] | torvalds/linux `include/uapi/linux/utsname.h` (commit 2cc2c3cb…: `struct new_utsname`, six `char[__NEW_UTS_LEN + 1]`, `__NEW_UTS_LEN` 64); x86_64's `uname` system call fills this one |
//! | [`UTS_SYSNAME`] .. [`UTS_DOMAINNAME`] | **lwpvm's own choice**, below |
//!
//! # What lwpvm reports, and why
//!
//! `sysname` is `"lwpvm"`, not `"Linux"`: lwpvm implements the Linux system call ABI but is
//! not Linux, and a program that checks for `"Linux"` usually does so to assume Linux
//! features (procfs, cgroups, a `release` to compare against) lwpvm does not have. The libcs
//! lwpvm targets do not look at it (musl never calls `uname` at startup; glibc no longer
//! compares the kernel version). `machine` is `"x86_64"` as on Linux, since programs use it
//! to pick an architecture. `domainname` is `"(none)"`, Linux's default (`UTS_DOMAINNAME` in
//! `include/linux/uts.h`, checked).

/// Length of each field without its NUL (`__NEW_UTS_LEN`).
pub const UTS_LEN: usize = 64;

/// `struct new_utsname`: six NUL-terminated strings of at most [`UTS_LEN`] bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utsname {
    /// Operating system name.
    pub sysname: [u8; UTS_LEN + 1],
    /// Host name.
    pub nodename: [u8; UTS_LEN + 1],
    /// Operating system release.
    pub release: [u8; UTS_LEN + 1],
    /// Operating system version (build information).
    pub version: [u8; UTS_LEN + 1],
    /// Hardware name.
    pub machine: [u8; UTS_LEN + 1],
    /// NIS domain name.
    pub domainname: [u8; UTS_LEN + 1],
}

const _: () = {
    assert!(core::mem::size_of::<Utsname>() == 6 * 65);
    assert!(core::mem::offset_of!(Utsname, machine) == 4 * 65);
};

impl Default for Utsname {
    fn default() -> Self {
        Utsname {
            sysname: [0; UTS_LEN + 1],
            nodename: [0; UTS_LEN + 1],
            release: [0; UTS_LEN + 1],
            version: [0; UTS_LEN + 1],
            machine: [0; UTS_LEN + 1],
            domainname: [0; UTS_LEN + 1],
        }
    }
}

/// Field bytes up to (not including) the first NUL; the whole field if it has none (which
/// the kernel never produces).
pub fn field_str(field: &[u8; UTS_LEN + 1]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// Copies `s` (at most [`UTS_LEN`] bytes, truncated) into a NUL-padded field.
pub const fn field(s: &str) -> [u8; UTS_LEN + 1] {
    let mut out = [0u8; UTS_LEN + 1];
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && i < UTS_LEN {
        out[i] = b[i];
        i += 1;
    }
    out
}

/// `sysname` lwpvm reports.
pub const UTS_SYSNAME: &str = "lwpvm";
/// `nodename` lwpvm reports until `sethostname` exists.
pub const UTS_NODENAME: &str = "lwpvm";
/// `machine` lwpvm reports (as Linux on x86_64).
pub const UTS_MACHINE: &str = "x86_64";
/// `domainname` lwpvm reports (Linux's default).
pub const UTS_DOMAINNAME: &str = "(none)";
