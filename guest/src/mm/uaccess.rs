//! Access to user memory from the kernel: the only way system calls touch user pointers.
//!
//! Every function checks that the whole user range lies below `USER_END` (`2^47 - 4096`),
//! without overflow, before touching it: a range that wraps, reaches into the canonical
//! hole or the kernel half fails with `EFAULT` at once. The copy itself runs in
//! `arch::x86_64::uaccess`, whose faulting instructions have exception-table fix-ups: a
//! fault first goes to the current address space's demand paging (so copying into
//! never-touched stack or heap pages works), and only if that fails to the fix-up, which
//! makes the copy return `EFAULT`. The kernel never faults because of a user pointer.
//!
//! Callers must not hold their address space's lock while calling these (see
//! `mm::vmspace`).
//!
//! [`Pod`] marks the types [`read_user`]/[`write_user`] may copy as raw bytes. A tiny marker
//! trait instead of `zerocopy`: the types crossing the boundary are few and `#[repr(C)]`
//! (signal frames, timespecs, from `shared-abi`, which forbids `unsafe` and so cannot
//! implement an unsafe trait itself); each opts in here with one reviewed line.

use core::mem::{size_of, MaybeUninit};

use lwpvm_mmcore::USER_END;
use shared_abi::current::errno::EFAULT;

use crate::arch::uaccess;

/// A user-space address, as a system call received it (unchecked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct UserPtr(pub u64);

impl UserPtr {
    /// The address `n` bytes further (wrapping: the range check catches it).
    pub fn add(self, n: u64) -> Self {
        Self(self.0.wrapping_add(n))
    }

    /// Whether it is null.
    pub fn is_null(self) -> bool {
        self.0 == 0
    }
}

/// Types that may be copied to and from user memory as raw bytes.
///
/// # Safety
///
/// Every bit pattern must be a valid value (user memory can hold anything), and the type
/// must have no padding (its bytes are copied out as they are, so padding would leak kernel
/// data).
pub unsafe trait Pod: Copy + 'static {}

// SAFETY: integers have no padding and accept every bit pattern; arrays of them too.
unsafe impl Pod for u8 {}
// SAFETY: as above.
unsafe impl Pod for u16 {}
// SAFETY: as above.
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for u64 {}
// SAFETY: as above.
unsafe impl Pod for i32 {}
// SAFETY: as above.
unsafe impl Pod for i64 {}
// SAFETY: as above.
unsafe impl Pod for usize {}
// SAFETY: an array of Pod has no padding and accepts every bit pattern.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}
// SAFETY: `#[repr(C)]` of two i64 (size asserted 16 in shared-abi): no padding, any bits.
unsafe impl Pod for shared_abi::current::time::Timespec {}
// SAFETY: `#[repr(C)]` of six `[u8; 65]` (size asserted 390 in shared-abi): no padding.
unsafe impl Pod for shared_abi::current::utsname::Utsname {}

/// `Ok` if `[ptr, ptr + len)` lies entirely in user space (an empty range anywhere is fine).
pub fn check_range(ptr: UserPtr, len: usize) -> Result<(), i32> {
    if len == 0 {
        return Ok(());
    }
    match ptr.0.checked_add(len as u64) {
        Some(end) if end <= USER_END => Ok(()),
        _ => Err(EFAULT),
    }
}

/// Copies `dst.len()` bytes from user `src` into `dst`. `EFAULT` if any byte of the user range
/// is outside user space or cannot be read (then `dst` may hold part of the data).
pub fn copy_from_user(dst: &mut [u8], src: UserPtr) -> Result<(), i32> {
    check_range(src, dst.len())?;
    // SAFETY: `dst` is a valid kernel buffer of that length; the user range was checked to
    // lie in user space, where faults are fixed up.
    let left = unsafe { uaccess::copy_user(dst.as_mut_ptr(), src.0 as *const u8, dst.len()) };
    if left == 0 {
        Ok(())
    } else {
        Err(EFAULT)
    }
}

/// Copies `src` to user `dst`. `EFAULT` if any byte of the user range is outside user space or
/// cannot be written (then a prefix may have been written).
pub fn copy_to_user(dst: UserPtr, src: &[u8]) -> Result<(), i32> {
    check_range(dst, src.len())?;
    // SAFETY: as in `copy_from_user`, the other way round.
    let left = unsafe { uaccess::copy_user(dst.0 as *mut u8, src.as_ptr(), src.len()) };
    if left == 0 {
        Ok(())
    } else {
        Err(EFAULT)
    }
}

/// Reads a `T` from user `src` (any alignment).
pub fn read_user<T: Pod>(src: UserPtr) -> Result<T, i32> {
    let mut v = MaybeUninit::<T>::uninit();
    check_range(src, size_of::<T>())?;
    // SAFETY: `v` is valid for size_of::<T>() bytes; the user range is checked.
    let left =
        unsafe { uaccess::copy_user(v.as_mut_ptr().cast(), src.0 as *const u8, size_of::<T>()) };
    if left != 0 {
        return Err(EFAULT);
    }
    // SAFETY: every byte was written, and `T: Pod` accepts every bit pattern.
    Ok(unsafe { v.assume_init() })
}

/// Writes `value` to user `dst` (any alignment).
pub fn write_user<T: Pod>(dst: UserPtr, value: &T) -> Result<(), i32> {
    // SAFETY: `T: Pod` has no padding, so all its bytes are initialised.
    let bytes =
        unsafe { core::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) };
    copy_to_user(dst, bytes)
}

/// Copies a NUL-terminated string from user `src` into `dst` (Linux's
/// `strncpy_from_user`): returns its length without the NUL when one was found within
/// `dst.len()` bytes (the NUL is copied too), or `dst.len()` when none was (`dst` is then not
/// terminated). `EFAULT` if a byte before the NUL is outside user space or unreadable. Bytes
/// beyond the end of user space are never read, so a short string ending just below it is
/// fine.
pub fn strncpy_from_user(dst: &mut [u8], src: UserPtr) -> Result<usize, i32> {
    if dst.is_empty() {
        return Ok(0);
    }
    if src.0 >= USER_END {
        return Err(EFAULT);
    }
    let max = dst.len().min((USER_END - src.0) as usize);
    // SAFETY: `dst` is valid for max <= dst.len() bytes; [src, src + max) lies in user space.
    let n = unsafe { uaccess::strncpy_user(dst.as_mut_ptr(), src.0 as *const u8, max) }
        .ok_or(EFAULT)?;
    if n == max && max < dst.len() {
        // Ran into the end of user space without a NUL: the next byte is not user memory.
        return Err(EFAULT);
    }
    Ok(n)
}
