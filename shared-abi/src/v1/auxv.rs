//! Auxiliary vector (`auxv`) entry types: the `(type, value)` pairs the kernel puts on a new
//! program's initial stack after `envp` (see `lwpvm-kcore`'s `initstack` for the layout).
//!
//! # Sources
//!
//! | items | source |
//! |---|---|
//! | `AT_NULL`..=`AT_HWCAP2`, `AT_EXECFN` | torvalds/linux `include/uapi/linux/auxvec.h` (commit 30c09233…, read in full) |
//! | `AT_SYSINFO_EHDR` (33) | torvalds/linux `arch/x86/include/uapi/asm/auxvec.h` (commit 2cc2c3cb…; `AT_SYSINFO` 32 is i386-only) |
//! | `AT_RSEQ_FEATURE_SIZE` 27, `AT_RSEQ_ALIGN` 28, `AT_HWCAP3` 29, `AT_HWCAP4` 30, `AT_MINSIGSTKSZ` 51 | newer `include/uapi/linux/auxvec.h` than the stored copy: the rseq patch adding 27/28, the x86 `AT_MINSIGSTKSZ` patch (Chang S. Bae, 2021: `#ifndef AT_MINSIGSTKSZ` / `#define AT_MINSIGSTKSZ 51`), and copies of the current header listing 27..=31 and 51 |
//! | `AT_FLAGS_PRESERVE_ARGV0` | the patch adding it to `include/uapi/linux/binfmts.h` (`AT_FLAGS_PRESERVE_ARGV0_BIT 0`) |
//!
//! Which entries Linux x86_64 emits, in which order, is in `fs/binfmt_elf.c`
//! `create_elf_tables()` (`ARCH_DLINFO` first: `AT_SYSINFO_EHDR` when there is a vDSO, then
//! `AT_MINSIGSTKSZ` = `get_sigframe_size()` from `arch/x86/kernel/signal.c`).
//!
//! Values are `u64` (`Elf64_auxv_t.a_type` is a 64-bit integer on x86_64).

/// End of the vector.
pub const AT_NULL: u64 = 0;
/// Entry to be ignored.
pub const AT_IGNORE: u64 = 1;
/// File descriptor of the program (binfmt_misc `O` flag).
pub const AT_EXECFD: u64 = 2;
/// Address of the program headers in memory.
pub const AT_PHDR: u64 = 3;
/// Size of one program header entry (56 for ELF64).
pub const AT_PHENT: u64 = 4;
/// Number of program headers.
pub const AT_PHNUM: u64 = 5;
/// System page size.
pub const AT_PAGESZ: u64 = 6;
/// Base address of the interpreter (0 without one).
pub const AT_BASE: u64 = 7;
/// Flags ([`AT_FLAGS_PRESERVE_ARGV0`]).
pub const AT_FLAGS: u64 = 8;
/// Entry point of the program.
pub const AT_ENTRY: u64 = 9;
/// Program is not ELF.
pub const AT_NOTELF: u64 = 10;
/// Real user id.
pub const AT_UID: u64 = 11;
/// Effective user id.
pub const AT_EUID: u64 = 12;
/// Real group id.
pub const AT_GID: u64 = 13;
/// Effective group id.
pub const AT_EGID: u64 = 14;
/// Address of a string naming the CPU ("x86_64").
pub const AT_PLATFORM: u64 = 15;
/// Arch-dependent CPU capabilities (x86: CPUID.1:EDX).
pub const AT_HWCAP: u64 = 16;
/// Frequency at which `times()` counts (`CLOCKS_PER_SEC`, 100).
pub const AT_CLKTCK: u64 = 17;
// 18..=22 are reserved.
/// Secure mode (setuid-like exec): 0 or 1.
pub const AT_SECURE: u64 = 23;
/// Address of a string naming the real platform.
pub const AT_BASE_PLATFORM: u64 = 24;
/// Address of 16 random bytes.
pub const AT_RANDOM: u64 = 25;
/// Extension of [`AT_HWCAP`] (x86: `HWCAP2_RING3MWAIT` bit 0, `HWCAP2_FSGSBASE` bit 1).
pub const AT_HWCAP2: u64 = 26;
/// rseq: supported feature size.
pub const AT_RSEQ_FEATURE_SIZE: u64 = 27;
/// rseq: required alignment.
pub const AT_RSEQ_ALIGN: u64 = 28;
/// Extension of [`AT_HWCAP2`] (not used on x86).
pub const AT_HWCAP3: u64 = 29;
/// Extension of [`AT_HWCAP3`] (not used on x86).
pub const AT_HWCAP4: u64 = 30;
/// Address of the file name of the program.
pub const AT_EXECFN: u64 = 31;
/// i386 only: the vsyscall entry point. Never emitted on x86_64.
pub const AT_SYSINFO: u64 = 32;
/// Address of the vDSO's ELF header (omitted when there is no vDSO, as in lwpvm).
pub const AT_SYSINFO_EHDR: u64 = 33;
/// Minimal stack size the kernel needs to deliver a signal (x86: the worst-case signal frame).
pub const AT_MINSIGSTKSZ: u64 = 51;

/// [`AT_FLAGS`] bit: the interpreter was started with the original `argv[0]`.
pub const AT_FLAGS_PRESERVE_ARGV0: u64 = 1;

/// Linux's `CLOCKS_PER_SEC` / `USER_HZ` on x86_64, the value of [`AT_CLKTCK`].
pub const CLOCKS_PER_SEC: u64 = 100;

/// The string [`AT_PLATFORM`] points to on x86_64 (`ELF_PLATFORM`, the machine name).
pub const PLATFORM_X86_64: &str = "x86_64";

/// Number of random bytes [`AT_RANDOM`] points to.
pub const AT_RANDOM_LEN: usize = 16;

/// The symbolic name of an entry type (`"AT_PHDR"`), if known.
pub const fn name(ty: u64) -> Option<&'static str> {
    Some(match ty {
        AT_NULL => "AT_NULL",
        AT_IGNORE => "AT_IGNORE",
        AT_EXECFD => "AT_EXECFD",
        AT_PHDR => "AT_PHDR",
        AT_PHENT => "AT_PHENT",
        AT_PHNUM => "AT_PHNUM",
        AT_PAGESZ => "AT_PAGESZ",
        AT_BASE => "AT_BASE",
        AT_FLAGS => "AT_FLAGS",
        AT_ENTRY => "AT_ENTRY",
        AT_NOTELF => "AT_NOTELF",
        AT_UID => "AT_UID",
        AT_EUID => "AT_EUID",
        AT_GID => "AT_GID",
        AT_EGID => "AT_EGID",
        AT_PLATFORM => "AT_PLATFORM",
        AT_HWCAP => "AT_HWCAP",
        AT_CLKTCK => "AT_CLKTCK",
        AT_SECURE => "AT_SECURE",
        AT_BASE_PLATFORM => "AT_BASE_PLATFORM",
        AT_RANDOM => "AT_RANDOM",
        AT_HWCAP2 => "AT_HWCAP2",
        AT_RSEQ_FEATURE_SIZE => "AT_RSEQ_FEATURE_SIZE",
        AT_RSEQ_ALIGN => "AT_RSEQ_ALIGN",
        AT_HWCAP3 => "AT_HWCAP3",
        AT_HWCAP4 => "AT_HWCAP4",
        AT_EXECFN => "AT_EXECFN",
        AT_SYSINFO => "AT_SYSINFO",
        AT_SYSINFO_EHDR => "AT_SYSINFO_EHDR",
        AT_MINSIGSTKSZ => "AT_MINSIGSTKSZ",
        _ => return None,
    })
}
