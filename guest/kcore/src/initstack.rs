//! The initial process stack of the Linux x86_64 ABI: what `rsp` points at when a program's
//! `_start` runs.
//!
//! [`build_into`] writes the image straight into the top of the new user stack (the memory
//! the kernel reaches it through) and returns the initial `rsp` and where each part is
//! ([`StackInfo`]); [`build`] does the same into a buffer of its own. Only the image's bytes
//! are written, once each: ring-0 copies are slow on some hosts. The layout is Linux's (`fs/exec.c` `do_execveat_common` and `bprm_mm_init`,
//! `fs/binfmt_elf.c` `create_elf_tables`), from the top down:
//!
//! ```text
//! stack_top ->  8 zero bytes                     (bprm->p = vm_end - sizeof(void *))
//!               execfn string, NUL               (AT_EXECFN points here)
//!               envp strings, NULs               (envp[0] lowest)
//!               argv strings, NULs               (argv[0] lowest)
//!               -- rounded down to 16 bytes --   (arch_align_stack, without randomisation)
//!               "x86_64", NUL                    (AT_PLATFORM)
//!               16 random bytes                  (AT_RANDOM)
//!               padding                          (so that rsp is 16-byte aligned)
//!               auxv: (type, value) pairs, AT_NULL last
//!               envp[0] .. envp[envc-1], NULL
//!               argv[0] .. argv[argc-1], NULL
//! rsp ->        argc                             (rsp % 16 == 0)
//! ```
//!
//! The auxiliary vector holds, in Linux's order: `AT_MINSIGSTKSZ` (x86's `ARCH_DLINFO`;
//! `AT_SYSINFO_EHDR` is omitted: lwpvm has no vDSO), `AT_HWCAP`, `AT_PAGESZ`, `AT_CLKTCK`,
//! `AT_PHDR`, `AT_PHENT`, `AT_PHNUM`, `AT_BASE` (0: no interpreter), `AT_FLAGS` (0),
//! `AT_ENTRY`, `AT_UID`, `AT_EUID`, `AT_GID`, `AT_EGID`, `AT_SECURE`, `AT_RANDOM`,
//! `AT_HWCAP2`, `AT_EXECFN`, `AT_PLATFORM`, `AT_NULL`. (`AT_RSEQ_*` are left out: lwpvm has
//! no `rseq`.)
//!
//! As Linux (since 5.18) does, an empty `argv` is replaced by one empty string, so that
//! programs that look at `argv[1..]` do not walk into `envp`. Each string, its NUL counted,
//! may be at most [`MAX_ARG_STRLEN`] bytes (`E2BIG`, as Linux), and the whole image at most
//! the caller's limit.
//!
//! [`minsigstksz`] computes `AT_MINSIGSTKSZ` the way Linux does from the size of the FP
//! state the kernel saves in signal frames.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use shared_abi::current::auxv::*;
use shared_abi::current::errno::{E2BIG, EINVAL};
use shared_abi::current::sigframe::{RtSigFrame, FXSAVE_SIZE};

use crate::elf::LoadPlan;
use crate::PAGE_SIZE;

/// Longest string (NUL included) allowed in argv or envp: Linux's `MAX_ARG_STRLEN`
/// (32 pages).
pub const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE as usize;

/// `AT_MINSIGSTKSZ` for a kernel whose signal frames carry `fp_state_size` bytes of FP state:
/// Linux's `init_sigframe_size()` (`arch/x86/kernel/signal.c`) for a 64-bit-only kernel:
/// `round_up(sizeof(struct rt_sigframe) + 15 + fp_state_size + 63, 16)`, the 15 and 63 being
/// the worst-case padding to align the frame and the XSAVE area. `fp_state_size` is
/// `fpu__get_fpstate_size()`: 512 with FXSAVE only (no `FP_XSTATE_MAGIC2`), or the XSAVE
/// size + 4 (and + 112 for the legacy `fsave` header when ia32 emulation is configured, which
/// lwpvm does not have).
pub const fn minsigstksz(fp_state_size: u64) -> u64 {
    let frame = core::mem::size_of::<RtSigFrame>() as u64;
    (frame + 15 + fp_state_size + 63 + 15) & !15
}

/// [`minsigstksz`] for FXSAVE-only signal frames (this machine's KVM): 1040.
pub const MINSIGSTKSZ_FXSAVE: u64 = minsigstksz(FXSAVE_SIZE as u64);

/// The values of the auxiliary vector that come from the program and the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuxValues {
    /// `AT_PHDR`: the program headers in memory (0 if not loaded).
    pub phdr: u64,
    /// `AT_PHENT`.
    pub phent: u64,
    /// `AT_PHNUM`.
    pub phnum: u64,
    /// `AT_ENTRY`.
    pub entry: u64,
    /// `AT_UID`.
    pub uid: u32,
    /// `AT_EUID`.
    pub euid: u32,
    /// `AT_GID`.
    pub gid: u32,
    /// `AT_EGID`.
    pub egid: u32,
    /// `AT_SECURE`.
    pub secure: bool,
    /// `AT_HWCAP`: CPUID.1:EDX on x86.
    pub hwcap: u64,
    /// `AT_HWCAP2` (bit 1: the kernel enabled FSGSBASE for user space).
    pub hwcap2: u64,
    /// `AT_MINSIGSTKSZ` ([`minsigstksz`]).
    pub minsigstksz: u64,
}

impl AuxValues {
    /// The program's part of the vector from its [`LoadPlan`]; ids 0 (lwpvm has one user),
    /// no hardware capabilities, FXSAVE-sized signal frames. The kernel overrides what it
    /// knows better (`hwcap` from CPUID, `minsigstksz` from its FPU setup).
    pub fn for_program(plan: &LoadPlan) -> Self {
        AuxValues {
            phdr: plan.phdr.unwrap_or(0),
            phent: plan.phent as u64,
            phnum: plan.phnum as u64,
            entry: plan.entry,
            minsigstksz: MINSIGSTKSZ_FXSAVE,
            ..AuxValues::default()
        }
    }

    /// The `(type, value)` pairs, `AT_NULL` last, with the addresses of the random bytes,
    /// the file name and the platform string.
    fn pairs(&self, random: u64, execfn: u64, platform: u64) -> [(u64, u64); 20] {
        [
            (AT_MINSIGSTKSZ, self.minsigstksz),
            (AT_HWCAP, self.hwcap),
            (AT_PAGESZ, PAGE_SIZE),
            (AT_CLKTCK, CLOCKS_PER_SEC),
            (AT_PHDR, self.phdr),
            (AT_PHENT, self.phent),
            (AT_PHNUM, self.phnum),
            (AT_BASE, 0),
            (AT_FLAGS, 0),
            (AT_ENTRY, self.entry),
            (AT_UID, self.uid as u64),
            (AT_EUID, self.euid as u64),
            (AT_GID, self.gid as u64),
            (AT_EGID, self.egid as u64),
            (AT_SECURE, self.secure as u64),
            (AT_RANDOM, random),
            (AT_HWCAP2, self.hwcap2),
            (AT_EXECFN, execfn),
            (AT_PLATFORM, platform),
            (AT_NULL, 0),
        ]
    }
}

/// Which string an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// `argv[index]`.
    Arg(usize),
    /// `envp[index]`.
    Env(usize),
    /// The file name (`AT_EXECFN`).
    Execfn,
}

/// Why an initial stack could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackError {
    /// A string contains a NUL byte.
    Nul(Which),
    /// A string is longer than [`MAX_ARG_STRLEN`] with its NUL.
    TooLong(Which),
    /// The image needs more than the allowed size.
    TooBig {
        /// Bytes needed.
        needed: u64,
        /// Bytes allowed.
        max: usize,
    },
    /// The stack top is not 16-byte aligned, or too low for the image.
    BadStackTop(u64),
}

impl StackError {
    /// The errno an `execve` would return.
    pub fn errno(&self) -> i32 {
        match self {
            StackError::TooLong(_) | StackError::TooBig { .. } => E2BIG,
            StackError::Nul(_) | StackError::BadStackTop(_) => EINVAL,
        }
    }
}

impl fmt::Display for Which {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Which::Arg(i) => write!(f, "argv[{i}]"),
            Which::Env(i) => write!(f, "envp[{i}]"),
            Which::Execfn => write!(f, "the file name"),
        }
    }
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackError::Nul(w) => write!(f, "{w} contains a NUL byte"),
            StackError::TooLong(w) => write!(f, "{w} is longer than {MAX_ARG_STRLEN} bytes"),
            StackError::TooBig { needed, max } => {
                write!(f, "initial stack needs {needed} bytes, more than {max}")
            }
            StackError::BadStackTop(t) => write!(f, "bad stack top {t:#x}"),
        }
    }
}

/// Where the parts of an initial stack are: all addresses, between `sp` and the stack top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackInfo {
    /// The initial `rsp`: 16-byte aligned, pointing at `argc`.
    pub sp: u64,
    /// Size of the image: `stack_top - sp`.
    pub size: usize,
    /// Address of `argv[0]`'s pointer (`sp + 8`).
    pub argv: u64,
    /// Address of `envp[0]`'s pointer.
    pub envp: u64,
    /// Address of the first auxv pair.
    pub auxv: u64,
    /// Address of the 16 random bytes (`AT_RANDOM`).
    pub random: u64,
    /// Address of the file name (`AT_EXECFN`).
    pub execfn: u64,
}

/// A built image in memory of its own: `bytes` go to `[info.sp, stack_top)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackImage {
    /// The layout.
    pub info: StackInfo,
    /// The contents of `[info.sp, stack_top)`.
    pub bytes: Vec<u8>,
}

/// Checks one string and returns its size with the NUL.
fn string_size(s: &[u8], which: Which) -> Result<u64, StackError> {
    if s.contains(&0) {
        return Err(StackError::Nul(which));
    }
    if s.len() + 1 > MAX_ARG_STRLEN {
        return Err(StackError::TooLong(which));
    }
    Ok(s.len() as u64 + 1)
}

/// The strings of a new program and where everything goes.
struct Layout<'a> {
    args: Vec<&'a [u8]>,
    envs: Vec<&'a [u8]>,
    arg_addrs: Vec<u64>,
    env_addrs: Vec<u64>,
    platform: u64,
    info: StackInfo,
}

/// Number of auxv pairs, AT_NULL included.
const AUX_PAIRS: usize = 20;

impl<'a> Layout<'a> {
    fn new<A: AsRef<[u8]>, E: AsRef<[u8]>>(
        stack_top: u64,
        argv: &'a [A],
        envp: &'a [E],
        execfn: &[u8],
    ) -> Result<Self, StackError> {
        if !stack_top.is_multiple_of(16) {
            return Err(StackError::BadStackTop(stack_top));
        }
        // Empty argv: one empty string, as Linux.
        let args: Vec<&[u8]> = if argv.is_empty() {
            alloc::vec![&b""[..]]
        } else {
            argv.iter().map(|a| a.as_ref()).collect()
        };
        let envs: Vec<&[u8]> = envp.iter().map(|e| e.as_ref()).collect();

        // Sizes, checked before any address arithmetic.
        let mut strings = 8 + string_size(execfn, Which::Execfn)?;
        for (i, a) in args.iter().enumerate() {
            strings += string_size(a, Which::Arg(i))?;
        }
        for (i, e) in envs.iter().enumerate() {
            strings += string_size(e, Which::Env(i))?;
        }
        let platform_len = PLATFORM_X86_64.len() as u64 + 1;
        let words = 1 + (args.len() as u64 + 1) + (envs.len() as u64 + 1) + 2 * AUX_PAIRS as u64;
        // An upper bound of the image: strings, alignment, platform, random bytes, vectors,
        // final alignment.
        let bound = strings + 15 + platform_len + AT_RANDOM_LEN as u64 + 8 * words + 15;
        if stack_top < bound {
            return Err(StackError::BadStackTop(stack_top));
        }

        // Addresses, from the top down (no overflow: all are above stack_top - bound).
        let mut p = stack_top - 8;
        p -= execfn.len() as u64 + 1;
        let execfn_addr = p;
        let mut env_addrs = vec![0u64; envs.len()];
        for (addr, e) in env_addrs.iter_mut().zip(&envs).rev() {
            p -= e.len() as u64 + 1;
            *addr = p;
        }
        let mut arg_addrs = vec![0u64; args.len()];
        for (addr, a) in arg_addrs.iter_mut().zip(&args).rev() {
            p -= a.len() as u64 + 1;
            *addr = p;
        }
        p &= !15;
        p -= platform_len;
        let platform = p;
        p -= AT_RANDOM_LEN as u64;
        let random = p;
        let sp = (p - 8 * words) & !15;
        let argv_addr = sp + 8;
        let envp_addr = argv_addr + 8 * (args.len() as u64 + 1);
        let info = StackInfo {
            sp,
            size: (stack_top - sp) as usize,
            argv: argv_addr,
            envp: envp_addr,
            auxv: envp_addr + 8 * (envs.len() as u64 + 1),
            random,
            execfn: execfn_addr,
        };
        Ok(Layout {
            args,
            envs,
            arg_addrs,
            env_addrs,
            platform,
            info,
        })
    }

    /// Writes every byte of the image into `out` (exactly `info.size` bytes).
    fn write(&self, out: &mut [u8], execfn: &[u8], random: &[u8; AT_RANDOM_LEN], aux: &AuxValues) {
        let sp = self.info.sp;
        let mut put = |addr: u64, data: &[u8]| {
            let at = (addr - sp) as usize;
            out[at..at + data.len()].copy_from_slice(data);
        };
        // The strings, each with its NUL, and the zero word at the top.
        let top = sp + self.info.size as u64;
        put(self.info.execfn, execfn);
        put(self.info.execfn + execfn.len() as u64, &[0; 9]);
        for (addr, e) in self.env_addrs.iter().zip(&self.envs) {
            put(*addr, e);
            put(addr + e.len() as u64, &[0]);
        }
        for (addr, a) in self.arg_addrs.iter().zip(&self.args) {
            put(*addr, a);
            put(addr + a.len() as u64, &[0]);
        }
        // Below the strings: the alignment gap, the platform string, the random bytes.
        let strings = self.arg_addrs.first().copied().unwrap_or(self.info.execfn);
        let platform = PLATFORM_X86_64.as_bytes();
        let gap_end = strings.min(top);
        put(self.platform, platform);
        put(self.platform + platform.len() as u64, &[0]);
        let mut at = self.platform + platform.len() as u64 + 1;
        while at < gap_end {
            put(at, &[0]);
            at += 1;
        }
        put(self.info.random, random);
        // argc, argv, envp, auxv, then zeros up to the random bytes.
        let mut at = sp;
        let mut word = |v: u64| {
            put(at, &v.to_le_bytes());
            at += 8;
        };
        word(self.args.len() as u64);
        self.arg_addrs.iter().for_each(|&a| word(a));
        word(0);
        self.env_addrs.iter().for_each(|&e| word(e));
        word(0);
        for (ty, value) in aux.pairs(self.info.random, self.info.execfn, self.platform) {
            word(ty);
            word(value);
        }
        let aux_end = self.info.auxv + 16 * AUX_PAIRS as u64;
        let pad = (self.info.random - aux_end) as usize;
        let at = (aux_end - sp) as usize;
        out[at..at + pad].fill(0);
    }
}

/// Builds the initial stack for a program started with `argv` and `envp` from the file
/// `execfn`, below `stack_top` (16-byte aligned), directly into `stack`: the memory that
/// will be `[stack_top - stack.len(), stack_top)` (the top of the new stack, through the
/// kernel's direct map, say). Every byte of `[info.sp, stack_top)` is written (padding with
/// zeros); bytes below are left alone. Nothing is written if an error is returned.
pub fn build_into<A: AsRef<[u8]>, E: AsRef<[u8]>>(
    stack: &mut [u8],
    stack_top: u64,
    argv: &[A],
    envp: &[E],
    execfn: &[u8],
    random: &[u8; AT_RANDOM_LEN],
    aux: &AuxValues,
) -> Result<StackInfo, StackError> {
    let layout = Layout::new(stack_top, argv, envp, execfn)?;
    let size = layout.info.size;
    if size > stack.len() {
        return Err(StackError::TooBig {
            needed: size as u64,
            max: stack.len(),
        });
    }
    let start = stack.len() - size;
    layout.write(&mut stack[start..], execfn, random, aux);
    Ok(layout.info)
}

/// [`build_into`] a buffer of its own, of at most `max_size` bytes.
pub fn build<A: AsRef<[u8]>, E: AsRef<[u8]>>(
    stack_top: u64,
    argv: &[A],
    envp: &[E],
    execfn: &[u8],
    random: &[u8; AT_RANDOM_LEN],
    aux: &AuxValues,
    max_size: usize,
) -> Result<StackImage, StackError> {
    let layout = Layout::new(stack_top, argv, envp, execfn)?;
    let size = layout.info.size;
    if size > max_size {
        return Err(StackError::TooBig {
            needed: size as u64,
            max: max_size,
        });
    }
    let mut bytes = vec![0u8; size];
    layout.write(&mut bytes, execfn, random, aux);
    Ok(StackImage {
        info: layout.info,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;
    use alloc::{format, vec};

    const TOP: u64 = 0x7fff_ffff_e000;

    fn aux() -> AuxValues {
        AuxValues {
            phdr: 0x400040,
            phent: 56,
            phnum: 5,
            entry: 0x400160,
            uid: 1,
            euid: 2,
            gid: 3,
            egid: 4,
            secure: false,
            hwcap: 0x178b_fbff,
            hwcap2: 2,
            minsigstksz: MINSIGSTKSZ_FXSAVE,
        }
    }

    /// What a libc's startup code (musl's `__init_libc`, glibc's `_dl_aux_init`) reads,
    /// decoded from the image alone: every pointer must land inside it.
    struct Parsed {
        argv: Vec<String>,
        envp: Vec<String>,
        auxv: Vec<(u64, u64)>,
    }

    fn word(img: &StackImage, addr: u64) -> u64 {
        let at = (addr - img.info.sp) as usize;
        u64::from_le_bytes(img.bytes[at..at + 8].try_into().unwrap())
    }

    fn cstr(img: &StackImage, addr: u64) -> String {
        assert!(addr >= img.info.sp && addr < img.info.sp + img.bytes.len() as u64);
        let at = (addr - img.info.sp) as usize;
        let len = img.bytes[at..].iter().position(|&b| b == 0).expect("NUL");
        String::from_utf8(img.bytes[at..at + len].to_vec()).unwrap()
    }

    fn parse(img: &StackImage) -> Parsed {
        let mut p = img.info.sp;
        let argc = word(img, p);
        p += 8;
        let mut argv = Vec::new();
        for _ in 0..argc {
            argv.push(cstr(img, word(img, p)));
            p += 8;
        }
        assert_eq!(word(img, p), 0, "argv is NULL-terminated");
        p += 8;
        assert_eq!(p, img.info.envp);
        let mut envp = Vec::new();
        while word(img, p) != 0 {
            envp.push(cstr(img, word(img, p)));
            p += 8;
        }
        p += 8;
        assert_eq!(p, img.info.auxv);
        let mut auxv = Vec::new();
        loop {
            let (t, v) = (word(img, p), word(img, p + 8));
            auxv.push((t, v));
            p += 16;
            if t == AT_NULL {
                break;
            }
        }
        Parsed { argv, envp, auxv }
    }

    fn get(p: &Parsed, ty: u64) -> u64 {
        let found: Vec<u64> = p.auxv.iter().filter(|e| e.0 == ty).map(|e| e.1).collect();
        assert_eq!(found.len(), 1, "{:?} once", name(ty));
        found[0]
    }

    fn random() -> [u8; 16] {
        core::array::from_fn(|i| 0xa0 + i as u8)
    }

    #[test]
    fn round_trip_like_a_libc() {
        let img = build(
            TOP,
            &["/bin/init", "-v", ""],
            &["HOME=/", "TERM=linux"],
            b"/bin/init",
            &random(),
            &aux(),
            1 << 20,
        )
        .unwrap();
        assert_eq!(img.info.sp % 16, 0);
        assert_eq!(img.info.sp + img.bytes.len() as u64, TOP);
        assert_eq!(img.info.argv, img.info.sp + 8);
        let p = parse(&img);
        assert_eq!(p.argv, ["/bin/init", "-v", ""]);
        assert_eq!(p.envp, ["HOME=/", "TERM=linux"]);

        let a = aux();
        assert_eq!(get(&p, AT_PHDR), a.phdr);
        assert_eq!(get(&p, AT_PHENT), 56);
        assert_eq!(get(&p, AT_PHNUM), 5);
        assert_eq!(get(&p, AT_PAGESZ), 4096);
        assert_eq!(get(&p, AT_BASE), 0);
        assert_eq!(get(&p, AT_FLAGS), 0);
        assert_eq!(get(&p, AT_ENTRY), a.entry);
        assert_eq!(get(&p, AT_UID), 1);
        assert_eq!(get(&p, AT_EUID), 2);
        assert_eq!(get(&p, AT_GID), 3);
        assert_eq!(get(&p, AT_EGID), 4);
        assert_eq!(get(&p, AT_SECURE), 0);
        assert_eq!(get(&p, AT_HWCAP), 0x178b_fbff);
        assert_eq!(get(&p, AT_HWCAP2), 2);
        assert_eq!(get(&p, AT_CLKTCK), 100);
        assert_eq!(get(&p, AT_MINSIGSTKSZ), 1040);
        assert_eq!(cstr(&img, get(&p, AT_EXECFN)), "/bin/init");
        assert_eq!(get(&p, AT_EXECFN), img.info.execfn);
        assert_eq!(cstr(&img, get(&p, AT_PLATFORM)), "x86_64");
        let r = get(&p, AT_RANDOM);
        assert_eq!(r, img.info.random);
        let at = (r - img.info.sp) as usize;
        assert_eq!(img.bytes[at..at + 16], random());
        // No vDSO, no interpreter-only entries.
        assert!(p
            .auxv
            .iter()
            .all(|e| e.0 != AT_SYSINFO_EHDR && e.0 != AT_SYSINFO));
        assert_eq!(p.auxv.len(), 20);
        assert_eq!(p.auxv[0].0, AT_MINSIGSTKSZ);
        assert_eq!(p.auxv.last(), Some(&(AT_NULL, 0)));
    }

    #[test]
    fn layout_follows_linux() {
        let img = build(TOP, &["a", "bb"], &["c"], b"/x", &random(), &aux(), 4096).unwrap();
        let p = parse(&img);
        // The top 8 bytes are zero; the file name sits right below them.
        assert_eq!(img.bytes[img.bytes.len() - 8..], [0; 8]);
        assert_eq!(img.info.execfn, TOP - 8 - 3);
        // Strings ascend argv[0], argv[1], envp[0], execfn, each right after the other.
        let a0 = word(&img, img.info.argv);
        let a1 = word(&img, img.info.argv + 8);
        let e0 = word(&img, img.info.envp);
        assert_eq!((a1, e0, img.info.execfn), (a0 + 2, a1 + 3, e0 + 2));
        // Platform below the 16-aligned end of the strings, random bytes below it, then
        // the vectors.
        let platform = get(&p, AT_PLATFORM);
        assert_eq!(platform, (a0 & !15) - 7);
        assert_eq!(img.info.random, platform - 16);
        let aux_end = img.info.auxv + 16 * p.auxv.len() as u64;
        assert!(aux_end <= img.info.random && img.info.random - aux_end < 16);
    }

    #[test]
    fn rsp_is_aligned_for_every_shape() {
        for argc in 0..6usize {
            for envc in 0..6usize {
                for extra in 0..20usize {
                    let args: Vec<String> = (0..argc).map(|i| "x".repeat(i + extra)).collect();
                    let envs: Vec<String> = (0..envc)
                        .map(|i| format!("K{i}={}", "v".repeat(extra)))
                        .collect();
                    let img =
                        build(TOP, &args, &envs, b"/bin/p", &random(), &aux(), 1 << 16).unwrap();
                    assert_eq!(img.info.sp % 16, 0);
                    let p = parse(&img);
                    if argc == 0 {
                        assert_eq!(p.argv, [""]);
                    } else {
                        assert_eq!(p.argv, args);
                    }
                    assert_eq!(p.envp, envs);
                }
            }
        }
    }

    #[test]
    fn empty_argv_gets_an_empty_argv0() {
        let none: [&str; 0] = [];
        let img = build(TOP, &none, &none, b"/bin/p", &random(), &aux(), 4096).unwrap();
        let p = parse(&img);
        assert_eq!(p.argv, [""]);
        assert!(p.envp.is_empty());
    }

    #[test]
    fn rejections() {
        let r = random();
        let a = aux();
        let none: [&str; 0] = [];
        let b = |top, argv: &[&[u8]], env: &[&[u8]], exe: &[u8], max| {
            build(top, argv, env, exe, &r, &a, max)
        };
        assert_eq!(
            b(TOP, &[b"a\0b"], &[], b"/x", 4096),
            Err(StackError::Nul(Which::Arg(0)))
        );
        assert_eq!(
            b(TOP, &[b"a"], &[b"x", b"\0"], b"/x", 4096),
            Err(StackError::Nul(Which::Env(1)))
        );
        assert_eq!(
            b(TOP, &[b"a"], &[], b"/\0", 4096),
            Err(StackError::Nul(Which::Execfn))
        );
        let long = vec![b'x'; MAX_ARG_STRLEN];
        assert_eq!(
            b(TOP, &[b"a", &long], &[], b"/x", 1 << 20),
            Err(StackError::TooLong(Which::Arg(1)))
        );
        assert_eq!(StackError::TooLong(Which::Arg(1)).errno(), E2BIG);
        let fits = vec![b'x'; MAX_ARG_STRLEN - 1];
        assert!(b(TOP, &[&fits], &[], b"/x", 1 << 20).is_ok());
        assert!(matches!(
            b(TOP, &[&fits], &[], b"/x", 4096),
            Err(StackError::TooBig { max: 4096, .. })
        ));
        assert_eq!(
            b(TOP + 8, &[b"a"], &[], b"/x", 4096),
            Err(StackError::BadStackTop(TOP + 8))
        );
        assert_eq!(
            b(256, &[b"a"], &[], b"/x", 4096),
            Err(StackError::BadStackTop(256))
        );
        assert!(build(TOP, &none, &none, b"", &r, &a, 4096).is_ok());
        assert!(format!("{}", StackError::Nul(Which::Env(3))).contains("envp[3]"));
    }

    #[test]
    fn build_into_writes_exactly_the_image() {
        let args = ["/bin/p", "x"];
        let env = ["A=1"];
        let img = build(TOP, &args, &env, b"/bin/p", &random(), &aux(), 4096).unwrap();
        let mut stack = vec![0xaau8; 4096];
        let info = build_into(&mut stack, TOP, &args, &env, b"/bin/p", &random(), &aux()).unwrap();
        assert_eq!(info, img.info);
        assert_eq!(info.size, img.bytes.len());
        let start = stack.len() - info.size;
        assert_eq!(stack[start..], img.bytes[..]);
        assert!(
            stack[..start].iter().all(|&b| b == 0xaa),
            "below sp untouched"
        );
        // Every byte of the image was written: the same image over garbage or zeros.
        let mut zeros = vec![0u8; 4096];
        build_into(&mut zeros, TOP, &args, &env, b"/bin/p", &random(), &aux()).unwrap();
        assert_eq!(zeros[start..], stack[start..]);
        // Too small: an error, and nothing written.
        let mut small = vec![0x55u8; info.size - 1];
        assert_eq!(
            build_into(&mut small, TOP, &args, &env, b"/bin/p", &random(), &aux()),
            Err(StackError::TooBig {
                needed: info.size as u64,
                max: info.size - 1
            })
        );
        assert!(small.iter().all(|&b| b == 0x55));
    }

    #[test]
    fn minsigstksz_matches_linux_formula() {
        // 440 (rt_sigframe) + 15 + 512 (fxsave) + 63 = 1030, rounded up to 16.
        assert_eq!(MINSIGSTKSZ_FXSAVE, 1040);
        // An AVX machine's XSAVE frame (832 + FP_XSTATE_MAGIC2_SIZE).
        assert_eq!(minsigstksz(836), 1360);
        assert_eq!(minsigstksz(836) % 16, 0);
    }

    #[test]
    fn for_program_takes_the_plan() {
        let plan = LoadPlan {
            e_type: crate::elf::ET_EXEC,
            bias: 0,
            entry: 0x400160,
            segments: vec![],
            phdr: Some(0x400040),
            phnum: 5,
            phent: 56,
            brk_start: 0x404000,
            exec_stack: false,
            tls: None,
        };
        let a = AuxValues::for_program(&plan);
        assert_eq!(
            (a.phdr, a.phent, a.phnum, a.entry),
            (0x400040, 56, 5, 0x400160)
        );
        assert_eq!(a.minsigstksz, 1040);
        assert_eq!(
            (a.uid, a.euid, a.gid, a.egid, a.secure),
            (0, 0, 0, 0, false)
        );
        let none = LoadPlan { phdr: None, ..plan };
        assert_eq!(AuxValues::for_program(&none).phdr, 0);
    }
}
