//! `uname`, `arch_prctl`, and lwpvm's `lwpvm_dump`.
//!
//! Linux: `kernel/sys.c` (`newuname`: one `copy_to_user` of `struct new_utsname`, `EFAULT`
//! if any byte cannot be written), `arch/x86/kernel/process_64.c` (`do_arch_prctl_64`:
//! `ARCH_SET_FS`/`ARCH_SET_GS` with a base at or above `TASK_SIZE_MAX` is `EPERM`, the
//! `GET` codes `put_user` the base → `EFAULT`) and `process.c` (`do_arch_prctl_common`:
//! `ARCH_GET_CPUID` → 1, `ARCH_SET_CPUID` → `ENODEV` without CPUID faulting, the XSAVE
//! permission codes report FP|SSE, the only state lwpvm saves, and refuse dynamic features
//! with `EOPNOTSUPP`), `arch/x86/mm/tlb.c`/`process_64.c` for the address-tagging queries
//! (no LAM: untag mask all ones, 0 tag bits, enabling is `ENODEV`). Other codes (vDSO
//! mapping, shadow stacks) are `EINVAL`, as on a Linux built without them.

use shared_abi::current::errno::{EINVAL, ENODEV, EOPNOTSUPP, EPERM};
use shared_abi::current::prctl::*;
use shared_abi::current::utsname::{
    field, Utsname, UTS_DOMAINNAME, UTS_MACHINE, UTS_NODENAME, UTS_SYSNAME,
};

use super::{args, SysResult};
use crate::arch::trap::TrapFrame;
use crate::mm::uaccess::{write_user, UserPtr};
use crate::sched;

/// What `uname` reports (`shared_abi::utsname` for the choices).
static UTSNAME: Utsname = Utsname {
    sysname: field(UTS_SYSNAME),
    nodename: field(UTS_NODENAME),
    release: field(env!("CARGO_PKG_VERSION")),
    version: field("#1 lwpvm"),
    machine: field(UTS_MACHINE),
    domainname: field(UTS_DOMAINNAME),
};

/// `uname(buf)`.
pub fn uname(frame: &mut TrapFrame) -> SysResult {
    let [buf, ..] = args(frame);
    write_user(UserPtr(buf), &UTSNAME)?;
    Ok(0)
}

/// Linux's `TASK_SIZE_MAX`: segment bases must lie below it.
const TASK_SIZE_MAX: u64 = shared_abi::current::mman::TASK_SIZE_MAX;

/// The XSAVE features lwpvm saves for user threads: x87 and SSE (FXSAVE format).
const XFEATURES: u64 = 0b11;

/// `arch_prctl(code, addr)`.
pub fn arch_prctl(frame: &mut TrapFrame) -> SysResult {
    let [code, addr, ..] = args(frame);
    let ctx = sched::current().context();
    let put = |v: u64| write_user(UserPtr(addr), &v).map(|()| 0);
    // The option is an `int`.
    match code as u32 {
        ARCH_SET_FS | ARCH_SET_GS if addr >= TASK_SIZE_MAX => Err(EPERM),
        ARCH_SET_FS => {
            ctx.set_fs_base(addr);
            Ok(0)
        }
        ARCH_SET_GS => {
            ctx.set_gs_base(addr);
            Ok(0)
        }
        ARCH_GET_FS => put(ctx.fs_base()),
        ARCH_GET_GS => put(ctx.gs_base()),
        ARCH_GET_CPUID => Ok(1),
        ARCH_SET_CPUID => Err(ENODEV),
        ARCH_GET_XCOMP_SUPP | ARCH_GET_XCOMP_PERM | ARCH_GET_XCOMP_GUEST_PERM => put(XFEATURES),
        ARCH_REQ_XCOMP_PERM | ARCH_REQ_XCOMP_GUEST_PERM => Err(EOPNOTSUPP),
        ARCH_GET_UNTAG_MASK => put(u64::MAX),
        ARCH_GET_MAX_TAG_BITS => put(0),
        ARCH_ENABLE_TAGGED_ADDR => Err(ENODEV),
        _ => Err(EINVAL),
    }
}

/// `lwpvm_dump(what, arg)`: asks the VMM for a dump (`inspect`).
pub fn lwpvm_dump(frame: &mut TrapFrame) -> SysResult {
    let [what, arg, ..] = args(frame);
    match crate::inspect::sys_lwpvm_dump(what as usize, arg as usize) {
        r if r < 0 => Err(-r as i32),
        r => Ok(r as u64),
    }
}
