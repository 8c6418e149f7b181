//! The memory-management side of `#PF` and `#DF`, called first by the trap dispatcher.
//!
//! `#PF` (vector 14), in order:
//!
//! 1. A fault at a user address (below `USER_END`, reserved-bit faults excluded, and never a
//!    ring-0 instruction fetch) goes to the current address space's demand paging
//!    ([`VmSpace::handle_page_fault`]); resolved → the trap returns and the access is retried.
//!    This serves ring-3 programs and the kernel's own `copy_to_user` alike.
//! 2. A ring-0 fault whose RIP is in the exception table (a user-access instruction) resumes
//!    at its fix-up, which returns `EFAULT` to the caller.
//! 3. Anything else is not handled here: the trap layer reports it (a kernel fault; for
//!    ring 3, the end of the process now and later a `SIGSEGV` whose `si_code` comes from
//!    the [`Fault`] in [`Outcome::Unhandled`]).
//!
//! `#DF` (vector 8, on IST1): when CR2 (the last page-fault address) lies in a kernel stack's
//! guard, the fault is a kernel stack overflow: one line saying so goes to the serial port
//! before the trap layer's report.

use core::fmt::Write;

use lwpvm_mmcore::{Access, USER_END};

use super::kstack;
use super::vmspace::{Fault, VmSpace};
use crate::arch::trap::{TrapFrame, VECTOR_DOUBLE_FAULT, VECTOR_PAGE_FAULT};
use crate::arch::uaccess;
use crate::drivers::serial::Serial;

/// Page-fault error-code bits.
const PF_WRITE: u64 = 1 << 1;
const PF_USER: u64 = 1 << 2;
const PF_RESERVED: u64 = 1 << 3;
const PF_FETCH: u64 = 1 << 4;

/// What the memory-management layer did with a trap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Resolved (demand paging or a fix-up): return from the trap.
    Handled,
    /// Not ours to resolve: report it. For a user-address `#PF`, why it could not be resolved.
    Unhandled(Option<Fault>),
}

/// Handles `#PF` and notes `#DF` causes (see the module documentation). `cr2` is CR2 as read
/// on entry.
pub fn handle_trap(frame: &mut TrapFrame, cr2: u64) -> Outcome {
    if frame.vector == u64::from(VECTOR_PAGE_FAULT) {
        return page_fault(frame, cr2);
    }
    if frame.vector == u64::from(VECTOR_DOUBLE_FAULT) {
        if let Some((slot, bottom, top)) = kstack::guard_hit(cr2) {
            let mut serial = Serial::COM1;
            let _ = writeln!(
                serial,
                "kernel stack overflow: {cr2:#x} is in the guard page below kernel stack {slot} ({bottom:#x}..{top:#x})"
            );
        }
    }
    Outcome::Unhandled(None)
}

fn page_fault(frame: &mut TrapFrame, cr2: u64) -> Outcome {
    let err = frame.error_code;
    let from_user = err & PF_USER != 0;
    let access = if err & PF_FETCH != 0 {
        Access::Exec
    } else if err & PF_WRITE != 0 {
        Access::Write
    } else {
        Access::Read
    };
    let mut why = None;
    if cr2 < USER_END && err & PF_RESERVED == 0 && (from_user || access != Access::Exec) {
        why = Some(match VmSpace::current() {
            Some(vm) => match vm.handle_page_fault(cr2, access) {
                Ok(()) => return Outcome::Handled,
                Err(f) => f,
            },
            None => Fault::MapErr,
        });
    }
    if !from_user {
        if let Some(fixup) = uaccess::fixup_for(frame.rip) {
            frame.rip = fixup;
            return Outcome::Handled;
        }
    }
    Outcome::Unhandled(why)
}
