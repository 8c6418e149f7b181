//! The initrd: where it goes, and copying it into guest memory.
//!
//! Like QEMU, the initrd is placed page-aligned at the top of the RAM below the MMIO hole, so it
//! stays out of the kernel's way whatever the kernel's size. The placement is decided before
//! any VM is created, so "too large" is an input error. This module does not describe the
//! initrd to the guest (that is the PVH module list, in `bootinfo.rs`).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::layout::INITRD_ALIGN;
use crate::memory::RamLayout;

/// Errors about the initrd (input problems except [`InitrdError::Copy`]).
#[derive(Debug, thiserror::Error)]
pub enum InitrdError {
    /// The file cannot be opened or read.
    #[error("cannot read initrd {path}: {source}")]
    Read {
        /// The initrd path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Not a regular file.
    #[error("initrd {0} is not a regular file")]
    NotAFile(PathBuf),
    /// Zero bytes.
    #[error("initrd {0} is empty")]
    Empty(PathBuf),
    /// Does not fit between the kernel and the top of low RAM.
    #[error("initrd {path} ({size} bytes) does not fit in guest memory: only {room} bytes are free between the kernel's end ({kernel_end:#x}) and the top of low RAM ({low_end:#x}); raise --mem")]
    TooLarge {
        /// The initrd path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// Bytes available.
        room: u64,
        /// End of the kernel image.
        kernel_end: u64,
        /// End of RAM below the MMIO hole.
        low_end: u64,
    },
    /// Copying into guest memory failed.
    #[error("cannot copy initrd {path} into guest memory: {source}")]
    Copy {
        /// The initrd path.
        path: PathBuf,
        /// vm-memory's error.
        #[source]
        source: vm_memory::GuestMemoryError,
    },
}

/// An opened initrd with its guest placement.
#[derive(Debug)]
pub struct Initrd {
    path: PathBuf,
    file: File,
    /// Guest-physical address (page-aligned).
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
}

impl Initrd {
    /// Opens `path` and places it at the top of low RAM, above `kernel_end`.
    pub fn plan(path: &Path, ram: &RamLayout, kernel_end: u64) -> Result<Self, InitrdError> {
        let read_err = |source| InitrdError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(InitrdError::NotAFile(path.to_path_buf()));
        }
        let size = meta.len();
        if size == 0 {
            return Err(InitrdError::Empty(path.to_path_buf()));
        }
        let addr = placement(size, ram.low_end(), kernel_end).ok_or_else(|| {
            let floor = align_up(kernel_end);
            InitrdError::TooLarge {
                path: path.to_path_buf(),
                size,
                room: ram.low_end().saturating_sub(floor),
                kernel_end,
                low_end: ram.low_end(),
            }
        })?;
        Ok(Initrd {
            path: path.to_path_buf(),
            file,
            addr,
            size,
        })
    }

    /// Copies the file into guest memory at [`Initrd::addr`].
    pub fn load(&mut self, mem: &GuestMemoryMmap) -> Result<(), InitrdError> {
        let size = usize::try_from(self.size).map_err(|_| InitrdError::Copy {
            path: self.path.clone(),
            source: vm_memory::GuestMemoryError::InvalidGuestAddress(GuestAddress(self.addr)),
        })?;
        mem.read_exact_volatile_from(GuestAddress(self.addr), &mut self.file, size)
            .map_err(|source| InitrdError::Copy {
                path: self.path.clone(),
                source,
            })
    }
}

fn align_up(v: u64) -> u64 {
    v.saturating_add(INITRD_ALIGN - 1) & !(INITRD_ALIGN - 1)
}

/// The page-aligned address of a `size`-byte initrd at the top of `[kernel_end, low_end)`, or
/// `None` if it does not fit.
pub fn placement(size: u64, low_end: u64, kernel_end: u64) -> Option<u64> {
    let addr = low_end.checked_sub(size)? & !(INITRD_ALIGN - 1);
    (addr >= align_up(kernel_end)).then_some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmm_sys_util::tempdir::TempDir;

    #[test]
    fn placement_is_top_of_low_ram_page_aligned() {
        assert_eq!(
            placement(0x1800, 0x1000_0000, 0x20_0000),
            Some(0x1000_0000 - 0x2000)
        );
        assert_eq!(placement(0x1000, 0x1000_0000, 0x20_0000), Some(0x0fff_f000));
    }

    #[test]
    fn placement_refuses_overlap_and_overflow() {
        assert_eq!(placement(0x1000_0000, 0x1000_0000, 0x20_0000), None);
        assert_eq!(placement(u64::MAX, 0x1000_0000, 0x20_0000), None);
        // Exactly fits above the page-aligned kernel end.
        assert_eq!(placement(0x1000, 0x20_2000, 0x20_0001), Some(0x20_1000));
        assert_eq!(placement(0x1001, 0x20_2000, 0x20_0001), None);
    }

    #[test]
    fn plan_and_load() {
        let dir = TempDir::new().unwrap();
        let p = dir.as_path().join("initrd");
        std::fs::write(&p, b"initrd contents").unwrap();
        let ram = RamLayout::new(16 << 20);
        let mut i = Initrd::plan(&p, &ram, 0x20_0000).unwrap();
        assert_eq!(i.addr, (16 << 20) - 0x1000);
        assert_eq!(i.size, 15);
        let mem = ram.create_guest_memory().unwrap();
        i.load(&mem).unwrap();
        let mut got = [0u8; 15];
        mem.read_slice(&mut got, GuestAddress(i.addr)).unwrap();
        assert_eq!(&got, b"initrd contents");
    }

    #[test]
    fn too_large_and_empty() {
        let dir = TempDir::new().unwrap();
        let p = dir.as_path().join("big");
        let f = File::create(&p).unwrap();
        f.set_len(32 << 20).unwrap();
        let ram = RamLayout::new(16 << 20);
        let e = Initrd::plan(&p, &ram, 0x20_0000).unwrap_err();
        assert!(matches!(e, InitrdError::TooLarge { .. }), "{e}");

        let p = dir.as_path().join("empty");
        File::create(&p).unwrap();
        let e = Initrd::plan(&p, &ram, 0x20_0000).unwrap_err();
        assert!(matches!(e, InitrdError::Empty(_)), "{e}");

        let e = Initrd::plan(Path::new("/nonexistent/initrd"), &ram, 0).unwrap_err();
        assert!(matches!(e, InitrdError::Read { .. }), "{e}");
    }
}
