//! Instruction-count marks: the guest writes an id to `shared_abi::ports::MARK_PORT`, and the
//! writing vCPU records its KVM counters (`kvm::stats`) here; `vmm run --marks FILE` writes
//! them out as JSON lines when the VM ends.
//!
//! Benchmarks bracket a measured loop with two marks from ring 3 (the kernel opens the port to
//! ring 3), so the difference of `insn_emulation` is the exact number of ring-0 instructions
//! the loop cost on an interpreting KVM, with nothing of the measurement itself in it.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use crate::kvm::stats::Counters;

/// One recorded mark.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mark {
    /// Order of recording over all vCPUs.
    pub seq: u64,
    /// The vCPU that wrote the mark.
    pub vcpu: u8,
    /// The id the guest wrote.
    pub id: u32,
    /// Host nanoseconds since the VM started.
    pub host_ns: u64,
    /// The vCPU's counters at the mark.
    #[serde(flatten)]
    pub counters: Counters,
}

/// All marks of a run.
#[derive(Debug)]
pub struct MarkLog {
    start: Instant,
    marks: Mutex<Vec<Mark>>,
}

impl Default for MarkLog {
    fn default() -> Self {
        MarkLog {
            start: Instant::now(),
            marks: Mutex::new(Vec::new()),
        }
    }
}

impl MarkLog {
    /// Records mark `id` written by `vcpu`.
    pub fn record(&self, vcpu: u8, id: u32, counters: Counters) {
        let host_ns = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        let seq = marks.len() as u64;
        marks.push(Mark {
            seq,
            vcpu,
            id,
            host_ns,
            counters,
        });
    }

    /// The marks so far.
    pub fn marks(&self) -> Vec<Mark> {
        self.marks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Writes every mark as one JSON object per line.
    pub fn write_json(&self, path: &Path) -> io::Result<()> {
        let mut out = io::BufWriter::new(std::fs::File::create(path)?);
        for m in self.marks() {
            serde_json::to_writer(&mut out, &m)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_numbered_and_written_as_json_lines() {
        let log = MarkLog::default();
        let c = Counters {
            insn_emulation: Some(100),
            exits: Some(3),
        };
        log.record(0, 1, c);
        log.record(1, 2, Counters::default());
        let m = log.marks();
        assert_eq!((m[0].seq, m[0].id, m[1].seq, m[1].vcpu), (0, 1, 1, 1));
        let path = std::env::temp_dir().join(format!("lwpvm-marks-{}", std::process::id()));
        log.write_json(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["insn_emulation"], 100);
        assert_eq!(first["exits"], 3);
        assert_eq!(first["id"], 1);
        std::fs::remove_file(path).unwrap();
    }
}
