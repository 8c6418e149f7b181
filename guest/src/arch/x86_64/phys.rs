//! Guest-physical memory through the direct map: address conversion and bounds-checked reads.
//!
//! Physical address `pa` is visible at virtual `pa + PHYS_OFFSET` for `pa` < 4 GiB
//! ([`DIRECT_MAP_SIZE`]); kernel-image addresses (`KERNEL_BASE` + physical) convert back too.
//! [`ram_bytes`] is the only way generic code reads physical memory the loader or firmware
//! wrote (boot information, MP table): it refuses ranges that overflow, start at 0, or reach
//! the MMIO hole, where the direct map is uncached device memory rather than RAM.

use super::layout::{
    DIRECT_MAP_SIZE, KERNEL_BASE, KERNEL_WINDOW_SIZE, MMIO_WINDOW_START, PHYS_OFFSET,
};

/// The direct-map virtual address of physical address `pa`, if the direct map covers it.
pub fn phys_to_virt(pa: u64) -> Option<u64> {
    (pa < DIRECT_MAP_SIZE).then(|| pa + PHYS_OFFSET)
}

/// The physical address behind kernel virtual address `va` (direct map or kernel window).
pub fn virt_to_phys(va: u64) -> Option<u64> {
    if (KERNEL_BASE..KERNEL_BASE + KERNEL_WINDOW_SIZE).contains(&va) {
        Some(va - KERNEL_BASE)
    } else if (PHYS_OFFSET..PHYS_OFFSET + DIRECT_MAP_SIZE).contains(&va) {
        Some(va - PHYS_OFFSET)
    } else {
        None
    }
}

/// The bytes of RAM at `[pa, pa + len)` through the direct map, if the range is non-empty,
/// does not start at 0 and ends at or below the MMIO hole (3 GiB).
///
/// The memory is whatever the host or firmware left there; the caller must not assume any
/// structure without validating it.
pub fn ram_bytes(pa: u64, len: u64) -> Option<&'static [u8]> {
    let end = pa.checked_add(len)?;
    if pa == 0 || len == 0 || end > MMIO_WINDOW_START {
        return None;
    }
    let ptr = (pa + PHYS_OFFSET) as *const u8;
    // SAFETY: `[pa, end)` lies below 3 GiB, inside the direct map (DIRECT_MAP_SIZE = 4 GiB),
    // which maps it readable and cached for the kernel's whole life; u8 has no alignment or
    // validity requirement. Nothing writes this memory while the slice lives: the host is
    // done with its boot data, and the frame allocator never hands out the first MiB or a boot module.
    Some(unsafe { core::slice::from_raw_parts(ptr, len as usize) })
}

/// Little-endian u16 at `off` in `b` (panics if out of range: callers check lengths).
pub fn le16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

/// Little-endian u32 at `off` in `b`.
pub fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Little-endian u64 at `off` in `b`.
pub fn le64(b: &[u8], off: usize) -> u64 {
    u64::from(le32(b, off)) | (u64::from(le32(b, off + 4)) << 32)
}
