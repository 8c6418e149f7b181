//! Starting a program from the initrd: the first process, init.
//!
//! [`load`] does what Linux's `execve` does for a static ELF executable, with the file taken
//! from the initrd (a newc cpio archive, boot module 0, read in place through the direct
//! map):
//!
//! 1. the file (`kcore::cpio`): it must be a regular file;
//! 2. its load plan (`kcore::elf::plan`: an ELF64 x86-64 `ET_EXEC` or `ET_DYN` without
//!    `PT_INTERP`; `ET_DYN` programs go at `elf::DYN_BASE`);
//! 3. a new address space: one image region per `PT_LOAD` segment, backed by the segment's
//!    bytes in the initrd and copied into a frame on first touch (the rest of the page and
//!    `.bss` are zero); the program break right after the highest segment; an 8 MiB
//!    demand-zero stack whose top is the top of user space ([`STACK_TOP`], Linux's
//!    `STACK_TOP` without randomisation);
//! 4. the initial stack image (`kcore::initstack`): argv, envp, the auxiliary vector with
//!    `AT_HWCAP` = CPUID.1:EDX, `AT_RANDOM` = 16 bytes from `rdrand` (or, without it, a
//!    mix of the TSC), `AT_MINSIGSTKSZ` for FXSAVE-format signal frames, and the file name.
//!
//! Nothing of it touches user memory: the new LWP's thread copies the stack image into its
//! address space (where the stack pages are populated on demand like any others), gets its
//! FPU/SSE area in Linux's initial state (FCW 0x37f, MXCSR 0x1f80) and enters ring 3 at the
//! entry point with RSP at `argc`, every other register 0 and RFLAGS = IF.
//!
//! [`start_init`] makes process 1 of a loaded program.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use lwpvm_kcore::cpio::{self, Archive};
use lwpvm_kcore::elf::{self, ElfError, LoadPlan};
use lwpvm_kcore::initstack::{self, AuxValues, StackError};
use lwpvm_mmcore::space::DEFAULT_STACK_SIZE;
use lwpvm_mmcore::{Prot, USER_END};
use shared_abi::current::auxv::AT_RANDOM_LEN;

use super::{Lwp, Process, WaitStatus};
use crate::arch::fpu::FxArea;
use crate::arch::{cpu, trap};
use crate::mm::uaccess::{copy_to_user, UserPtr};
use crate::mm::vmspace::VmSpace;
use crate::sched::{self, SpawnError};

/// Top of the user stack: the top of user space (the last canonical page stays unmapped).
pub const STACK_TOP: u64 = USER_END;
/// Size of the user stack reservation.
pub const STACK_SIZE: u64 = DEFAULT_STACK_SIZE;
/// Largest initial stack image (argv, envp, auxv and strings): a quarter of the stack, as
/// Linux limits arguments to `_STK_LIM / 4`.
pub const ARG_MAX: usize = (STACK_SIZE / 4) as usize;

/// The environment of init.
pub const INIT_ENV: [&str; 2] = ["HOME=/", "TERM=linux"];

/// Why a program could not be started.
#[derive(Debug)]
pub enum ExecError {
    /// The host passed no initrd.
    NoInitrd,
    /// The initrd is not a valid cpio archive.
    BadInitrd(cpio::Error),
    /// No such file in the initrd.
    NotFound,
    /// The path names something other than a regular file.
    NotAFile,
    /// The file is not a program lwpvm can run.
    Elf(ElfError),
    /// The arguments do not fit.
    Stack(StackError),
    /// Out of memory (an errno of the address-space calls).
    NoMemory(i32),
    /// No free process id.
    NoPid,
    /// No thread for it.
    NoThread(SpawnError),
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoInitrd => write!(f, "no initrd (boot module 0) to load it from"),
            Self::BadInitrd(e) => write!(f, "the initrd is not a valid cpio archive: {e}"),
            Self::NotFound => write!(f, "not found in the initrd"),
            Self::NotAFile => write!(f, "not a regular file"),
            Self::Elf(e) => write!(f, "not a program lwpvm can run: {e}"),
            Self::Stack(e) => write!(f, "arguments do not fit: {e}"),
            Self::NoMemory(e) => write!(
                f,
                "cannot build its address space ({})",
                shared_abi::current::errno::name(*e).unwrap_or("?")
            ),
            Self::NoPid => write!(f, "no free process id"),
            Self::NoThread(e) => write!(f, "no thread for it: {e}"),
        }
    }
}

/// A program ready to run: its address space, entry point and initial stack.
pub struct Image {
    /// The address space, with every region in place (nothing populated yet).
    pub vm: Arc<VmSpace>,
    /// The entry point.
    pub entry: u64,
    /// The initial `rsp` (pointing at `argc`).
    pub sp: u64,
    /// The bytes of `[sp, STACK_TOP)`.
    pub stack: Vec<u8>,
}

/// The base name of `path` (Linux's `comm` comes from it).
pub fn base_name(path: &str) -> &str {
    path.rsplit('/').find(|s| !s.is_empty()).unwrap_or(path)
}

/// 16 bytes for `AT_RANDOM`: `rdrand` if the CPU has it, else the TSC through splitmix64.
fn random_bytes() -> [u8; AT_RANDOM_LEN] {
    let mut out = [0u8; AT_RANDOM_LEN];
    let mut seed = cpu::rdtsc();
    for chunk in out.chunks_mut(8) {
        let v = cpu::rdrand64().unwrap_or_else(|| {
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15) ^ cpu::rdtsc().rotate_left(29);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        });
        chunk.copy_from_slice(&v.to_le_bytes()[..chunk.len()]);
    }
    out
}

/// Maps `plan`'s segments (backed by `file`), sets the break and reserves the stack.
fn build_space(file: &'static [u8], plan: &LoadPlan) -> Result<Arc<VmSpace>, i32> {
    let vm = VmSpace::new()?;
    for seg in &plan.segments {
        let mut prot = 0;
        if seg.flags.read() {
            prot |= lwpvm_mmcore::PROT_READ;
        }
        if seg.flags.write() {
            prot |= lwpvm_mmcore::PROT_WRITE;
        }
        if seg.flags.exec() {
            prot |= lwpvm_mmcore::PROT_EXEC;
        }
        let prot = Prot::from_bits(prot)?;
        vm.map_image(
            seg.pages.start,
            seg.pages.end,
            prot,
            &file[seg.copy.clone()],
            seg.pages.start,
        )?;
    }
    vm.init_brk(plan.brk_start)?;
    vm.map_stack(STACK_TOP, STACK_SIZE)?;
    Ok(vm)
}

/// Loads program `path` from `initrd` with arguments `argv` and environment `envp` (see the
/// module documentation). Touches no user memory.
pub fn load(
    initrd: &'static [u8],
    path: &str,
    argv: &[&str],
    envp: &[&str],
) -> Result<Image, ExecError> {
    let archive = Archive::parse(initrd).map_err(ExecError::BadInitrd)?;
    let entry = archive.find(path).ok_or(ExecError::NotFound)?;
    if !entry.is_file() {
        return Err(ExecError::NotAFile);
    }
    let file: &'static [u8] = entry.data;
    let plan = elf::plan(file, elf::DYN_BASE).map_err(ExecError::Elf)?;
    let aux = AuxValues {
        hwcap: u64::from(cpu::cpuid(1, 0).edx),
        ..AuxValues::for_program(&plan)
    };
    let image = initstack::build(
        STACK_TOP,
        argv,
        envp,
        path.as_bytes(),
        &random_bytes(),
        &aux,
        ARG_MAX,
    )
    .map_err(ExecError::Stack)?;
    let vm = build_space(file, &plan).map_err(ExecError::NoMemory)?;
    Ok(Image {
        vm,
        entry: plan.entry,
        sp: image.info.sp,
        stack: image.bytes,
    })
}

/// Starts `path` from `initrd` as process 1 with arguments `args` (after `argv[0]` = `path`)
/// and [`INIT_ENV`]. Returns the process; its first LWP is runnable.
pub fn start_init(
    initrd: Option<&'static [u8]>,
    path: &str,
    args: &[&str],
) -> Result<Arc<Process>, ExecError> {
    let initrd = initrd.ok_or(ExecError::NoInitrd)?;
    let mut argv: Vec<&str> = Vec::with_capacity(args.len() + 1);
    argv.push(path);
    argv.extend_from_slice(args);
    let image = load(initrd, path, &argv, &INIT_ENV)?;
    let pid = super::alloc_pid().ok_or(ExecError::NoPid)?;
    let p = Process::new(pid, 0, base_name(path), image.vm.clone());
    let lid = p.add_lwp();
    let name = String::from(p.name());
    let child = p.clone();
    let spawned = sched::spawn_user("user", move || first_lwp(child, pid, lid, image, name));
    match spawned {
        Ok(handle) => {
            drop(handle);
            Ok(p)
        }
        Err(e) => {
            super::remove_process(pid);
            Err(ExecError::NoThread(e))
        }
    }
}

/// The first code of a new process's first LWP: becomes the LWP, enters the address space,
/// gets its FPU state, copies the initial stack, and returns the registers to enter ring 3
/// with (`sched::spawn_user`).
fn first_lwp(
    p: Arc<Process>,
    tid: super::Pid,
    lid: i32,
    image: Image,
    name: String,
) -> Option<trap::TrapFrame> {
    Lwp::attach(p, tid, lid);
    image.vm.activate();
    let _ = sched::current()
        .context()
        .set_fpu(Some(Box::new(FxArea::initial())));
    if let Err(e) = copy_to_user(UserPtr(image.sp), &image.stack) {
        crate::println!(
            "{name}[{tid}]: cannot set up its initial stack ({})",
            shared_abi::current::errno::name(e).unwrap_or("?")
        );
        drop(image);
        super::leave_lwp(WaitStatus::exited(127));
        return None;
    }
    log::debug!(
        "{name}[{tid}]: entering ring 3 at {:#x} with rsp {:#x}",
        image.entry,
        image.sp
    );
    Some(trap::initial_user_frame(image.entry, image.sp))
}
