//! Program start and end: `_start`, the initial stack, the panic handler.
//!
//! The kernel starts a program with `rsp` pointing at the Linux initial stack:
//!
//! ```text
//! rsp -> argc
//!        argv[0] .. argv[argc-1], NULL
//!        envp[0] .. , NULL
//!        auxv: (type, value) pairs, ending with AT_NULL
//! ```
//!
//! `_start` passes that pointer to [`start`], which builds [`Args`] and calls the program's
//! entry (named with [`entry!`]); the entry's return value is the exit status.

use core::ffi::CStr;

/// Exit status of a program that panicked.
pub const PANIC_STATUS: i32 = 101;

core::arch::global_asm!(
    ".section .text._start, \"ax\"",
    ".globl _start",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {start}",
    "ud2",
    start = sym start,
);

/// The initial stack, decoded.
#[derive(Clone, Copy)]
pub struct Args {
    sp: *const usize,
}

impl Args {
    /// The stack pointer the program started with (it pointed at `argc`; the ABI wants it
    /// 16-byte aligned).
    pub fn initial_sp(&self) -> usize {
        self.sp as usize
    }

    /// The number of arguments.
    pub fn argc(&self) -> usize {
        // SAFETY: the kernel put argc at the initial stack pointer.
        unsafe { *self.sp }
    }

    fn vector(&self, index: usize) -> *const usize {
        // SAFETY: indices stay within the argv/envp/auxv area the kernel built.
        unsafe { self.sp.add(index) }
    }

    /// The arguments.
    pub fn args(&self) -> impl Iterator<Item = &'static str> + '_ {
        (0..self.argc()).filter_map(move |i| {
            // SAFETY: argv[i] for i < argc is a NUL-terminated string built by the kernel.
            unsafe { cstr(*self.vector(1 + i)) }
        })
    }

    /// The environment strings.
    pub fn env(&self) -> impl Iterator<Item = &'static str> + '_ {
        let base = 1 + self.argc() + 1;
        (0..)
            // SAFETY: envp is NULL-terminated; we stop at the NULL.
            .map(move |i| unsafe { *self.vector(base + i) })
            .take_while(|&p| p != 0)
            // SAFETY: each envp entry is a NUL-terminated string built by the kernel.
            .filter_map(|p| unsafe { cstr(p) })
    }

    /// The value of auxiliary vector entry `ty` (`AT_PAGESZ` ...), if present.
    pub fn aux(&self, ty: usize) -> Option<usize> {
        let mut i = 1 + self.argc() + 1;
        // SAFETY: envp is NULL-terminated; we skip past the NULL.
        while unsafe { *self.vector(i) } != 0 {
            i += 1;
        }
        i += 1;
        loop {
            // SAFETY: auxv is a sequence of pairs ending with AT_NULL (0).
            let (t, v) = unsafe { (*self.vector(i), *self.vector(i + 1)) };
            if t == 0 {
                return None;
            }
            if t == ty {
                return Some(v);
            }
            i += 2;
        }
    }
}

/// # Safety
/// `p` is 0 or a NUL-terminated string that lives for the whole program.
unsafe fn cstr(p: usize) -> Option<&'static str> {
    if p == 0 {
        return None;
    }
    // SAFETY: per the contract above.
    unsafe { CStr::from_ptr(p as *const core::ffi::c_char) }
        .to_str()
        .ok()
}

unsafe extern "Rust" {
    /// The program's entry, defined by [`entry!`].
    fn __lwpvm_user_main(args: Args) -> i32;
}

/// Called by `_start` with the initial stack pointer.
extern "C" fn start(sp: *const usize) -> ! {
    // SAFETY: `entry!` defines this symbol in every program.
    let status = unsafe { __lwpvm_user_main(Args { sp }) };
    crate::sys::exit_group(status)
}

/// Names a program's entry: `entry!(main);` with `fn main(args: Args) -> i32`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        fn __lwpvm_user_main(args: $crate::rt::Args) -> i32 {
            let f: fn($crate::rt::Args) -> i32 = $main;
            f(args)
        }
    };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::eprintln!("panic: {info}");
    crate::sys::exit_group(PANIC_STATUS)
}
