//! A walker of the guest's own x86_64 page tables (4-level paging), from any CR3.
//!
//! The inspector translates user virtual addresses (lwpctl slots, lpmap pages, sigfastblock
//! words, and the pages of a core file) in the address space of the process that owns them,
//! using the CR3 its process record publishes, without the guest's help and without KVM
//! (`KVM_TRANSLATE` only knows a vCPU's current CR3).
//!
//! Entries are untrusted: a table address outside guest RAM, a reserved `PS` bit in a PML4E,
//! a non-canonical address, or a huge-page address that is not aligned are reported as
//! [`WalkError`]s, never followed blindly. A single translation reads at most four entries; the
//! enumeration of a whole address space ([`user_mappings`]) is bounded by a budget of table
//! pages and skips a table it has already visited, so self-referencing (recursive) or cyclic
//! tables cannot make it loop or explode.
//!
//! Permissions are the effective ones: writable and user only if every level allows it,
//! no-execute if any level says so (with `EFER.NXE`, which lwpvm's kernel always sets).

use std::collections::HashSet;

use super::mem::GuestPhys;

/// Present.
const P: u64 = 1 << 0;
/// Writable.
const RW: u64 = 1 << 1;
/// User-accessible.
const US: u64 = 1 << 2;
/// Page size (huge page) at the PDPT and PD levels.
const PS: u64 = 1 << 7;
/// No-execute.
const NX: u64 = 1 << 63;
/// Physical-address bits of an entry (bits 12..=51).
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Size of the lower (user) half of the canonical address space.
pub const USER_END: u64 = 1 << 47;

/// The level names, from the top.
const LEVELS: [&str; 4] = ["PML4", "PDPT", "PD", "PT"];

/// A successful translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    /// Guest-physical address of the byte.
    pub gpa: u64,
    /// Size of the page that maps it (4 KiB, 2 MiB or 1 GiB).
    pub page_size: u64,
    /// Writable at every level.
    pub writable: bool,
    /// User-accessible at every level.
    pub user: bool,
    /// Not executable (NX at some level).
    pub nx: bool,
}

/// Why a translation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    /// The address is not canonical.
    #[error("{0:#x} is not a canonical address")]
    NonCanonical(u64),
    /// An entry on the way is not present.
    #[error("not mapped ({level} entry not present)")]
    NotPresent {
        /// The level whose entry is clear.
        level: &'static str,
    },
    /// A table (or CR3) points outside guest RAM.
    #[error("{level} table at {gpa:#x} is outside guest RAM")]
    BadTable {
        /// The level of the table.
        level: &'static str,
        /// Its address.
        gpa: u64,
    },
    /// An entry has reserved bits set or a misaligned huge-page address.
    #[error("{level} entry {entry:#x} is malformed: {what}")]
    Malformed {
        /// The level.
        level: &'static str,
        /// The raw entry.
        entry: u64,
        /// What is wrong.
        what: &'static str,
    },
}

/// Whether `va` is canonical with 48-bit virtual addresses.
pub fn canonical(va: u64) -> bool {
    let top = va >> 47;
    top == 0 || top == 0x1_ffff
}

fn entry(mem: &dyn GuestPhys, table: u64, index: u64, level: usize) -> Result<u64, WalkError> {
    mem.read_u64(table + index * 8).ok_or(WalkError::BadTable {
        level: LEVELS[level],
        gpa: table,
    })
}

/// Translates `va` through the page tables rooted at `cr3`.
pub fn translate(mem: &dyn GuestPhys, cr3: u64, va: u64) -> Result<Translation, WalkError> {
    if !canonical(va) {
        return Err(WalkError::NonCanonical(va));
    }
    let mut table = cr3 & ADDR_MASK;
    let (mut writable, mut user, mut nx) = (true, true, false);
    for (level, name) in LEVELS.iter().enumerate() {
        let shift = 39 - 9 * level as u64;
        let index = (va >> shift) & 0x1ff;
        let e = entry(mem, table, index, level)?;
        if e & P == 0 {
            return Err(WalkError::NotPresent { level: name });
        }
        writable &= e & RW != 0;
        user &= e & US != 0;
        nx |= e & NX != 0;
        let huge = e & PS != 0 && level > 0 && level < 3;
        if e & PS != 0 && level == 0 {
            return Err(WalkError::Malformed {
                level: name,
                entry: e,
                what: "PS set in a PML4 entry",
            });
        }
        if huge || level == 3 {
            let page_size = 1u64 << shift;
            // A huge page's PAT bit is bit 12; the address starts at its alignment.
            let base = if huge {
                e & ADDR_MASK & !(page_size - 1)
            } else {
                e & ADDR_MASK
            };
            if huge && (e & ADDR_MASK & (page_size - 1)) & !(1 << 12) != 0 {
                return Err(WalkError::Malformed {
                    level: name,
                    entry: e,
                    what: "huge-page address not aligned",
                });
            }
            return Ok(Translation {
                gpa: base | (va & (page_size - 1)),
                page_size,
                writable,
                user,
                nx,
            });
        }
        table = e & ADDR_MASK;
    }
    unreachable!("level 3 always returns")
}

/// Reads `buf.len()` bytes at virtual `va` (possibly across pages). With `user_only`, a page
/// that is not user-accessible fails as `NotPresent` would not: it is reported as malformed
/// access ("supervisor page"), because user pointers must never reach kernel memory.
pub fn read_virt(
    mem: &dyn GuestPhys,
    cr3: u64,
    va: u64,
    buf: &mut [u8],
    user_only: bool,
) -> Result<(), WalkError> {
    let mut done = 0usize;
    while done < buf.len() {
        let addr = va
            .checked_add(done as u64)
            .ok_or(WalkError::NonCanonical(va))?;
        let t = translate(mem, cr3, addr)?;
        if user_only && !t.user {
            return Err(WalkError::Malformed {
                level: "PTE",
                entry: t.gpa,
                what: "a user address maps a supervisor-only page",
            });
        }
        let in_page = (t.page_size - (addr & (t.page_size - 1))) as usize;
        let n = in_page.min(buf.len() - done);
        if !mem.read_phys(t.gpa, &mut buf[done..done + n]) {
            return Err(WalkError::BadTable {
                level: "page",
                gpa: t.gpa,
            });
        }
        done += n;
    }
    Ok(())
}

/// A run of user virtual memory mapped to contiguous guest-physical memory with the same
/// permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// First virtual address.
    pub va: u64,
    /// First guest-physical address.
    pub gpa: u64,
    /// Length in bytes.
    pub len: u64,
    /// Writable.
    pub writable: bool,
    /// Not executable.
    pub nx: bool,
}

/// What [`user_mappings`] found, and what it could not follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressSpace {
    /// User-accessible mappings of the lower half, in address order, merged where contiguous.
    pub mappings: Vec<Mapping>,
    /// Problems met (bad tables, cycles, budget exhausted).
    pub problems: Vec<String>,
}

/// Limits of an address-space enumeration.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Most page-table pages read.
    pub tables: usize,
    /// Most bytes of mappings collected.
    pub bytes: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            tables: 4096,
            bytes: 1 << 30,
        }
    }
}

/// Enumerates the user-accessible mappings of the lower half of the address space rooted at
/// `cr3`, within `budget`.
pub fn user_mappings(mem: &dyn GuestPhys, cr3: u64, budget: Budget) -> AddressSpace {
    let mut walk = Walk {
        mem,
        out: AddressSpace::default(),
        visited: HashSet::new(),
        tables_left: budget.tables,
        bytes_left: budget.bytes,
        stopped: false,
    };
    walk.table(cr3 & ADDR_MASK, 0, 0, (true, false));
    walk.out
}

struct Walk<'a> {
    mem: &'a dyn GuestPhys,
    out: AddressSpace,
    visited: HashSet<u64>,
    tables_left: usize,
    bytes_left: u64,
    stopped: bool,
}

impl Walk<'_> {
    /// Visits the table at `gpa` of `level` covering virtual addresses from `base`, with the
    /// permissions accumulated above it.
    fn table(&mut self, gpa: u64, level: usize, base: u64, (writable, nx): (bool, bool)) {
        if self.stopped {
            return;
        }
        if !self.visited.insert(gpa) {
            self.out.problems.push(format!(
                "{} table at {gpa:#x} is referenced more than once (cycle or shared table); not walked again",
                LEVELS[level]
            ));
            return;
        }
        if self.tables_left == 0 {
            self.out
                .problems
                .push("page-table budget exhausted; the address space is incomplete".into());
            self.stopped = true;
            return;
        }
        self.tables_left -= 1;
        let mut page = vec![0u8; 4096];
        if !self.mem.read_phys(gpa, &mut page) {
            self.out.problems.push(format!(
                "{} table at {gpa:#x} is outside guest RAM",
                LEVELS[level]
            ));
            return;
        }
        let shift = 39 - 9 * level as u64;
        // Only the lower half: PML4 entries 0..256.
        let entries = if level == 0 { 256 } else { 512 };
        for i in 0..entries {
            if self.stopped {
                return;
            }
            let e = u64::from_le_bytes(page[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
            if e & P == 0 || e & US == 0 {
                continue;
            }
            let va = base | ((i as u64) << shift);
            let w = writable && e & RW != 0;
            let x = nx || e & NX != 0;
            let leaf = level == 3 || (e & PS != 0 && level > 0);
            if e & PS != 0 && level == 0 {
                self.out
                    .problems
                    .push(format!("PML4 entry {i} ({e:#x}) has PS set; skipped"));
                continue;
            }
            if leaf {
                let size = 1u64 << shift;
                let gpa = e & ADDR_MASK & !(size - 1);
                self.add(Mapping {
                    va,
                    gpa,
                    len: size,
                    writable: w,
                    nx: x,
                });
            } else {
                self.table(e & ADDR_MASK, level + 1, va, (w, x));
            }
        }
    }

    fn add(&mut self, m: Mapping) {
        if m.len > self.bytes_left {
            self.out
                .problems
                .push("mapping budget exhausted; later user mappings are left out".to_string());
            self.stopped = true;
            return;
        }
        self.bytes_left -= m.len;
        if let Some(last) = self.out.mappings.last_mut() {
            if last.va + last.len == m.va
                && last.gpa + last.len == m.gpa
                && last.writable == m.writable
                && last.nx == m.nx
            {
                last.len += m.len;
                return;
            }
        }
        self.out.mappings.push(m);
    }
}

/// Builders of synthetic page tables for tests.
#[cfg(test)]
pub mod test_tables {
    use super::*;
    use vm_memory::GuestMemoryMmap;

    /// Flags for a user page.
    pub const USER_RW: u64 = P | RW | US;
    /// Flags for a user read-only, no-execute page.
    pub const USER_RO_NX: u64 = P | US | NX;
    /// Flags for a kernel page.
    pub const KERNEL_RW: u64 = P | RW;

    /// A bump allocator of zeroed page-table pages in a test memory.
    pub struct Tables<'a> {
        /// The memory.
        pub mem: &'a GuestMemoryMmap,
        /// Next free page.
        pub next: u64,
        /// The root.
        pub cr3: u64,
    }

    impl<'a> Tables<'a> {
        /// Starts allocating tables at `first` (the PML4 is the first page).
        pub fn new(mem: &'a GuestMemoryMmap, first: u64) -> Self {
            Tables {
                mem,
                next: first + 4096,
                cr3: first,
            }
        }

        fn child(&mut self, table: u64, index: u64) -> u64 {
            let e = self.mem.read_u64(table + index * 8).unwrap();
            if e & P != 0 {
                return e & ADDR_MASK;
            }
            let t = self.next;
            self.next += 4096;
            assert!(self.mem.write_phys(t, &[0u8; 4096]));
            assert!(self
                .mem
                .write_phys(table + index * 8, &(t | P | RW | US).to_le_bytes()));
            t
        }

        /// Maps the 4 KiB page at `va` to `gpa` with `flags`.
        pub fn map_4k(&mut self, va: u64, gpa: u64, flags: u64) {
            let mut t = self.cr3;
            for level in 0..3 {
                t = self.child(t, (va >> (39 - 9 * level)) & 0x1ff);
            }
            let i = (va >> 12) & 0x1ff;
            assert!(self.mem.write_phys(t + i * 8, &(gpa | flags).to_le_bytes()));
        }

        /// Maps a 2 MiB page.
        pub fn map_2m(&mut self, va: u64, gpa: u64, flags: u64) {
            let mut t = self.cr3;
            for level in 0..2 {
                t = self.child(t, (va >> (39 - 9 * level)) & 0x1ff);
            }
            let i = (va >> 21) & 0x1ff;
            assert!(self
                .mem
                .write_phys(t + i * 8, &(gpa | flags | PS).to_le_bytes()));
        }

        /// Maps a 1 GiB page.
        pub fn map_1g(&mut self, va: u64, gpa: u64, flags: u64) {
            let t = self.child(self.cr3, (va >> 39) & 0x1ff);
            let i = (va >> 30) & 0x1ff;
            assert!(self
                .mem
                .write_phys(t + i * 8, &(gpa | flags | PS).to_le_bytes()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_tables::*;
    use super::*;
    use vm_memory::{GuestAddress, GuestMemoryMmap};

    fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 8 << 20)]).unwrap()
    }

    #[test]
    fn translates_4k_2m_1g() {
        let m = mem();
        let mut t = Tables::new(&m, 0x10_0000);
        t.map_4k(0x40_0000, 0x30_0000, USER_RW);
        t.map_4k(0x40_1000, 0x30_5000, USER_RO_NX);
        t.map_2m(0x4000_0000, 0x60_0000, USER_RW);
        t.map_1g(0x80_0000_0000, 0x4000_0000, USER_RW);
        t.map_4k(0x50_0000, 0x31_0000, KERNEL_RW);
        let cr3 = t.cr3 | 0x18; // PWT|PCD bits in CR3 are ignored
        let a = translate(&m, cr3, 0x40_0123).unwrap();
        assert_eq!(
            (a.gpa, a.page_size, a.writable, a.user, a.nx),
            (0x30_0123, 4096, true, true, false)
        );
        let b = translate(&m, cr3, 0x40_1ff8).unwrap();
        assert_eq!((b.gpa, b.writable, b.nx), (0x30_5ff8, false, true));
        let c = translate(&m, cr3, 0x4012_3456).unwrap();
        assert_eq!((c.gpa, c.page_size), (0x72_3456, 2 << 20));
        let d = translate(&m, cr3, 0x80_1234_5678).unwrap();
        assert_eq!((d.gpa, d.page_size), (0x5234_5678, 1 << 30));
        assert!(!translate(&m, cr3, 0x50_0000).unwrap().user);
        assert_eq!(
            translate(&m, cr3, 0x40_2000),
            Err(WalkError::NotPresent { level: "PT" })
        );
        assert_eq!(
            translate(&m, cr3, 0x7f00_0000_0000),
            Err(WalkError::NotPresent { level: "PML4" })
        );
        assert!(matches!(
            translate(&m, cr3, 0x8000_0000_0000),
            Err(WalkError::NonCanonical(_))
        ));

        // Across a page boundary, and refusing supervisor pages for user pointers.
        assert!(m.write_phys(0x30_0ffe, &[1, 2]));
        assert!(m.write_phys(0x30_5000, &[3, 4]));
        let mut buf = [0u8; 4];
        read_virt(&m, cr3, 0x40_0ffe, &mut buf, true).unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);
        assert!(read_virt(&m, cr3, 0x50_0000, &mut buf, true).is_err());
        assert!(read_virt(&m, cr3, 0x50_0000, &mut buf, false).is_ok());
    }

    #[test]
    fn bad_tables_are_errors() {
        let m = mem();
        // CR3 outside RAM.
        assert!(matches!(
            translate(&m, 0x10_0000_0000, 0x1000),
            Err(WalkError::BadTable { level: "PML4", .. })
        ));
        // A PML4 entry pointing outside RAM; one with PS set.
        assert!(m.write_phys(0x1000, &(0x7_0000_0000u64 | P | US).to_le_bytes()));
        assert!(m.write_phys(0x1008, &(0x2000u64 | P | US | PS).to_le_bytes()));
        assert!(matches!(
            translate(&m, 0x1000, 0x10),
            Err(WalkError::BadTable { level: "PDPT", .. })
        ));
        assert!(matches!(
            translate(&m, 0x1000, 1 << 39),
            Err(WalkError::Malformed { .. })
        ));
        // A misaligned 2 MiB page.
        let mut t = Tables::new(&m, 0x10_0000);
        t.map_2m(0x20_0000, 0x60_0000, USER_RW);
        let pd_entry = 0x10_0000 + 2 * 4096 + 8; // PML4, PDPT, PD pages in order
        assert!(m.write_phys(
            pd_entry,
            &(0x60_1000u64 | USER_RW | PS | 0x2000).to_le_bytes()
        ));
        assert!(matches!(
            translate(&m, t.cr3, 0x20_0000),
            Err(WalkError::Malformed { .. })
        ));
    }

    #[test]
    fn enumeration_merges_and_survives_cycles() {
        let m = mem();
        let mut t = Tables::new(&m, 0x10_0000);
        t.map_4k(0x40_0000, 0x30_0000, USER_RW);
        t.map_4k(0x40_1000, 0x30_1000, USER_RW);
        t.map_4k(0x40_2000, 0x30_2000, USER_RO_NX);
        t.map_4k(0x60_0000, 0x31_0000, KERNEL_RW);
        let space = user_mappings(&m, t.cr3, Budget::default());
        assert_eq!(
            space.mappings,
            vec![
                Mapping {
                    va: 0x40_0000,
                    gpa: 0x30_0000,
                    len: 0x2000,
                    writable: true,
                    nx: false
                },
                Mapping {
                    va: 0x40_2000,
                    gpa: 0x30_2000,
                    len: 0x1000,
                    writable: false,
                    nx: true
                },
            ]
        );
        assert!(space.problems.is_empty(), "{:?}", space.problems);

        // A recursive PML4 entry (slot 5 points at the PML4 itself) and a PD that points back
        // at the PDPT: reported, not looped on.
        assert!(m.write_phys(t.cr3 + 5 * 8, &(t.cr3 | P | RW | US).to_le_bytes()));
        let space = user_mappings(&m, t.cr3, Budget::default());
        assert!(
            space.problems.iter().any(|p| p.contains("more than once")),
            "{:?}",
            space.problems
        );

        // Budgets.
        let small = user_mappings(
            &m,
            t.cr3,
            Budget {
                tables: 2,
                bytes: 1 << 30,
            },
        );
        assert!(small.problems.iter().any(|p| p.contains("budget")));
        let tiny = user_mappings(
            &m,
            t.cr3,
            Budget {
                tables: 100,
                bytes: 0x1000,
            },
        );
        assert_eq!(tiny.mappings.len(), 1);
        assert!(tiny.problems.iter().any(|p| p.contains("budget")));
    }
}
