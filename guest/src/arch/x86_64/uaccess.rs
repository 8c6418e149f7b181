//! The user-memory copy routines and the exception table.
//!
//! The only kernel instructions that touch user memory are the few below. Each one that may
//! fault is listed in the exception table (the `__ex_table` section, gathered by `linker.ld`
//! between `__start___ex_table` and `__stop___ex_table`) as a pair (faulting RIP, fix-up RIP).
//! On a ring-0 page fault that demand paging cannot resolve, `mm::fault` looks the RIP up
//! ([`fixup_for`]) and resumes at the fix-up, which makes the routine return a failure; the
//! generic layer (`mm::uaccess`) turns that into `EFAULT`. Callers check beforehand that the
//! whole range lies in user space, so a fix-up only ever covers unmapped or protected user
//! pages, never a kernel address.
//!
//! `rep movsq` + a `rep movsb` tail: the development machines' KVM emulates each iteration of
//! a ring-0 `rep` instruction separately (~1 instruction's cost per iteration), so this is
//! cheaper than any loop, and on hardware it is the usual fast path. A fault inside a `rep`
//! leaves RCX/RSI/RDI at the faulting iteration, which is how the fix-ups compute how many
//! bytes were not copied.
//!
//! SMAP is not enabled (CR4.SMAP stays clear), so no `stac`/`clac` is needed. It cannot be
//! used on the development machines' KVM: CPUID.7.EBX advertises SMAP (and SMEP), but a
//! ring-0 `stac` ends the VM with `KVM_EXIT_INTERNAL_ERROR` (tried: the emulator does not
//! know the instruction). QEMU's default `qemu64` CPU has no SMAP at all. On hardware, SMAP
//! would mean bracketing these routines with `stac`/`clac` when CPUID leaf 7 EBX bit 20 is
//! set and the host is not this KVM.

use core::arch::global_asm;

global_asm!(
    r#"
    .pushsection .text.uaccess, "ax"

    /* u64 lwpvm_copy_user(u8 *dst, const u8 *src, u64 len): copies len bytes; returns 0, or
       the number of bytes not copied when a user page faults. */
    .balign 16
    .global lwpvm_copy_user
lwpvm_copy_user:
    mov rcx, rdx
    shr rcx, 3
.Lcopy_q:
    rep movsq
    mov ecx, edx
    and ecx, 7
.Lcopy_b:
    rep movsb
    xor eax, eax
    ret
.Lcopy_q_fault:
    lea rax, [rcx * 8]
    and edx, 7
    add rax, rdx
    ret
.Lcopy_b_fault:
    mov rax, rcx
    ret

    /* i64 lwpvm_strncpy_user(u8 *dst, const u8 *src, u64 max): copies up to max bytes, stopping
       after a NUL; returns the length without the NUL, max if no NUL was found, or -1 when a
       user page faults. */
    .balign 16
    .global lwpvm_strncpy_user
lwpvm_strncpy_user:
    xor eax, eax
.Lstr_loop:
    cmp rax, rdx
    je .Lstr_done
.Lstr_load:
    movzx ecx, byte ptr [rsi + rax]
    mov byte ptr [rdi + rax], cl
    test ecx, ecx
    jz .Lstr_done
    inc rax
    jmp .Lstr_loop
.Lstr_done:
    ret
.Lstr_fault:
    mov rax, -1
    ret

    .popsection

    .pushsection __ex_table, "a"
    .balign 8
    .quad .Lcopy_q, .Lcopy_q_fault
    .quad .Lcopy_b, .Lcopy_b_fault
    .quad .Lstr_load, .Lstr_fault
    .popsection
    "#
);

unsafe extern "C" {
    fn lwpvm_copy_user(dst: *mut u8, src: *const u8, len: u64) -> u64;
    fn lwpvm_strncpy_user(dst: *mut u8, src: *const u8, max: u64) -> i64;
    static __start___ex_table: [u64; 0];
    static __stop___ex_table: [u64; 0];
}

/// Copies `len` bytes from `src` to `dst`, where one side is user memory. Returns the number
/// of bytes not copied (0 on success).
///
/// # Safety
///
/// The kernel side must be valid for `len` bytes; the user side must lie entirely in user
/// space (`mm::uaccess` checks it), where a fault is recovered through the exception table.
pub unsafe fn copy_user(dst: *mut u8, src: *const u8, len: usize) -> usize {
    // SAFETY: per the contract above; the routine follows the C ABI.
    unsafe { lwpvm_copy_user(dst, src, len as u64) as usize }
}

/// Copies a NUL-terminated string of at most `max` bytes from user `src` to kernel `dst`.
/// Returns its length without the NUL, `max` if none was found, or `None` on a fault.
///
/// # Safety
///
/// `dst` must be valid for `max` bytes; `[src, src + max)` must lie in user space.
pub unsafe fn strncpy_user(dst: *mut u8, src: *const u8, max: usize) -> Option<usize> {
    // SAFETY: per the contract above.
    let r = unsafe { lwpvm_strncpy_user(dst, src, max as u64) };
    usize::try_from(r).ok()
}

/// The fix-up address for a fault at `rip`, if `rip` is a listed user-access instruction.
pub fn fixup_for(rip: u64) -> Option<u64> {
    // SAFETY: the linker defines both symbols around the `__ex_table` section, which holds
    // pairs of u64 written by the assembly above; the section is read-only data.
    let table = unsafe {
        let start = core::ptr::addr_of!(__start___ex_table).cast::<u64>();
        let end = core::ptr::addr_of!(__stop___ex_table).cast::<u64>();
        core::slice::from_raw_parts(start, end.offset_from(start) as usize)
    };
    table
        .chunks_exact(2)
        .find(|pair| pair[0] == rip)
        .map(|pair| pair[1])
}
