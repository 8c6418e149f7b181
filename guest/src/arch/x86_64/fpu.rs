//! Per-thread FPU/SSE state: the 512-byte `fxsave` area.
//!
//! Threads that run user code own an [`FxArea`]; the context switch saves the outgoing
//! thread's state and restores the incoming one's eagerly (`switch`). Lazy switching (CR0.TS
//! and `#NM`) is impossible on the development machines' KVM, where CR0.TS does not raise
//! `#NM`; `xsave`/`xrstor` kill the VM in ring 0 there, so `fxsave64`/`fxrstor64` are used on
//! every host (x87 + SSE state; no AVX state). Kernel code never touches the FPU (the kernel
//! is soft-float), so kernel threads have no area and cost nothing. CR4.OSFXSR is set per CPU
//! (`percpu`), so the area includes the XMM registers and MXCSR.

use core::arch::asm;

/// The `fxsave` image: 512 bytes, 16-byte aligned.
#[derive(Clone)]
#[repr(C, align(16))]
pub struct FxArea(pub [u8; 512]);

const _: () = assert!(core::mem::size_of::<FxArea>() == 512);

/// Offset of MXCSR in the image.
pub const MXCSR_OFFSET: usize = 24;
/// Offset of XMM0 in the image.
pub const XMM0_OFFSET: usize = 160;

impl FxArea {
    /// The state after `fninit` with SSE exceptions masked: FCW 0x37f, MXCSR 0x1f80, all
    /// registers zero (what Linux gives a new thread).
    pub fn initial() -> Self {
        let mut a = FxArea([0; 512]);
        a.0[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        a.0[MXCSR_OFFSET..MXCSR_OFFSET + 4].copy_from_slice(&0x1f80u32.to_le_bytes());
        a
    }

    /// Saves this CPU's FPU/SSE state into the area.
    #[inline]
    pub fn save(&mut self) {
        // SAFETY: `fxsave64` writes 512 bytes at a 16-byte-aligned address: the area.
        unsafe {
            asm!("fxsave64 [{}]", in(reg) self.0.as_mut_ptr(), options(nostack, preserves_flags))
        };
    }

    /// Loads the area into this CPU's FPU/SSE registers.
    ///
    /// The image must come from [`FxArea::save`] or [`FxArea::initial`] (or be checked: reserved
    /// MXCSR bits raise `#GP`).
    #[inline]
    pub fn restore(&self) {
        // SAFETY: `fxrstor64` reads 512 bytes at a 16-byte-aligned address: the area. Its
        // MXCSR is valid by the contract above. Kernel code does not use the FPU, so changing
        // its registers affects only user threads.
        unsafe {
            asm!("fxrstor64 [{}]", in(reg) self.0.as_ptr(), options(nostack, preserves_flags, readonly))
        };
    }
}
