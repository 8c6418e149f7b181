//! KVM's per-vCPU binary statistics (`KVM_GET_STATS_FD`), read by name.
//!
//! The stats file starts with a `kvm_stats_header`; `desc_offset` locates `num_desc`
//! descriptors (`kvm_stats_desc`, 16 bytes plus a `name_size`-byte name each), and
//! `data_offset` + a descriptor's `offset` locates its value(s), `size` little-endian u64s.
//! lwpvm reads `insn_emulation`: on the development machines' KVM ring 0 is interpreted, so it
//! counts exactly the guest's ring-0 instructions.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;

use kvm_ioctls::VcpuFd;

/// `KVM_GET_STATS_FD`: `_IO(KVMIO, 0xce)`.
const KVM_GET_STATS_FD: u64 = 0xae_ce;

/// Size of `struct kvm_stats_header`.
const HEADER_SIZE: usize = 24;
/// Size of `struct kvm_stats_desc` without its name.
const DESC_SIZE: usize = 16;
/// Descriptors read at most (a bound on what a broken kernel could make us read).
const MAX_DESCS: u32 = 4096;

/// One vCPU's statistics file, with the offsets of the values lwpvm reads.
#[derive(Debug)]
pub struct VcpuStats {
    file: File,
    insn_emulation: Option<u64>,
    exits: Option<u64>,
}

/// The counters lwpvm reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Instructions KVM emulated for this vCPU (its ring-0 instructions on an interpreting KVM).
    pub insn_emulation: Option<u64>,
    /// VM exits of this vCPU.
    pub exits: Option<u64>,
}

impl VcpuStats {
    /// Opens `fd`'s statistics and finds the counters. `None` if the kernel offers no binary
    /// statistics or the file does not parse.
    pub fn open(fd: &VcpuFd) -> Option<Self> {
        // SAFETY: KVM_GET_STATS_FD takes no argument and returns a new file descriptor (or
        // -1); `fd` is a valid vCPU file descriptor for the duration of the call.
        let raw = unsafe { libc::ioctl(fd.as_raw_fd(), KVM_GET_STATS_FD as _, 0) };
        if raw < 0 {
            return None;
        }
        // SAFETY: `raw` is a file descriptor the ioctl just created and nobody else owns.
        let file = unsafe { File::from_raw_fd(raw) };
        let offsets = parse(&file)?;
        Some(VcpuStats {
            file,
            insn_emulation: offsets
                .iter()
                .find(|(n, _)| n == "insn_emulation")
                .map(|x| x.1),
            exits: offsets.iter().find(|(n, _)| n == "exits").map(|x| x.1),
        })
    }

    /// The current counter values.
    pub fn read(&self) -> Counters {
        let at = |off: Option<u64>| {
            let mut b = [0u8; 8];
            let off = off?;
            self.file.read_exact_at(&mut b, off).ok()?;
            Some(u64::from_le_bytes(b))
        };
        Counters {
            insn_emulation: at(self.insn_emulation),
            exits: at(self.exits),
        }
    }
}

/// Each statistic's name and the file offset of its first value.
fn parse(file: &File) -> Option<Vec<(String, u64)>> {
    let mut h = [0u8; HEADER_SIZE];
    file.read_exact_at(&mut h, 0).ok()?;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let name_size = u32_at(&h, 4) as usize;
    let num_desc = u32_at(&h, 8).min(MAX_DESCS) as usize;
    let desc_offset = u64::from(u32_at(&h, 16));
    let data_offset = u64::from(u32_at(&h, 20));
    if name_size == 0 || name_size > 4096 {
        return None;
    }
    let stride = DESC_SIZE + name_size;
    let mut descs = vec![0u8; num_desc * stride];
    file.read_exact_at(&mut descs, desc_offset).ok()?;
    Some(
        descs
            .chunks_exact(stride)
            .map(|d| {
                let offset = u64::from(u32_at(d, 8));
                let name = &d[DESC_SIZE..];
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                (
                    String::from_utf8_lossy(&name[..end]).into_owned(),
                    data_offset + offset,
                )
            })
            .collect(),
    )
}
