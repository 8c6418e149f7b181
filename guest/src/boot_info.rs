//! The arch-neutral description of what the boot loader handed the kernel.
//!
//! The architecture's boot code (`arch::x86_64::boot`, from PVH `hvm_start_info`) validates
//! the loader's raw structures and fills one [`BootInfo`]; from then on generic code sees only
//! this type: the command line as a `&str`, the physical memory map with loader quirks removed,
//! and the boot modules (module 0 is the initrd). As in hermit-entry, the rich type is kept
//! apart from the raw one so that either can change without the other.
//!
//! Everything is copied out of the loader's memory into fixed-capacity arrays owned by the
//! kernel, so the loader's pages (the start info, its command line, its memory map) can later
//! be reused by the frame allocator. No allocation: the heap does not exist yet when this is
//! filled. The arrays live in a `static` filled in place (a by-value `BootInfo` would cost a
//! `rep movs`/`rep stos` of a few KiB, and every ring-0 iteration counts on the development
//! machines' interpreted KVM).

use core::fmt;

/// Longest command line kept, including its terminating NUL (the lwpvm VMM's capacity).
pub const CMDLINE_MAX: usize = 4096;
/// Most memory-map entries kept.
pub const MAX_REGIONS: usize = 64;
/// Most boot modules kept.
pub const MAX_MODULES: usize = 8;

/// What a physical memory region may be used for (E820 / PVH memory-map types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    /// Ordinary RAM the kernel may use (type 1).
    Usable,
    /// Reserved by the platform (type 2).
    Reserved,
    /// ACPI tables, reclaimable after they are parsed (type 3).
    AcpiReclaimable,
    /// ACPI non-volatile storage (type 4).
    AcpiNvs,
    /// Memory with errors (type 5).
    Unusable,
    /// Persistent memory (type 7).
    Persistent,
    /// Any other type number.
    Other(u32),
}

impl MemoryKind {
    /// Decodes an E820 / `hvm_memmap_table_entry` type number.
    pub fn from_e820(kind: u32) -> Self {
        match kind {
            1 => Self::Usable,
            2 => Self::Reserved,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::Unusable,
            7 => Self::Persistent,
            other => Self::Other(other),
        }
    }
}

/// One physical memory region `[start, start + len)`, `len > 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    /// Physical start address.
    pub start: u64,
    /// Length in bytes (never zero).
    pub len: u64,
    /// What the region may be used for.
    pub kind: MemoryKind,
}

impl MemoryRegion {
    const EMPTY: Self = Self {
        start: 0,
        len: 0,
        kind: MemoryKind::Reserved,
    };

    /// Physical end address (exclusive).
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// A boot module (module 0 is the initrd): physical placement only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Module {
    /// Physical address of the module's first byte.
    pub phys: u64,
    /// Size in bytes.
    pub size: u64,
}

impl Module {
    const EMPTY: Self = Self { phys: 0, size: 0 };
}

/// Why the loader's boot information was rejected. The message is what the user sees before
/// the kernel exits with `BOOT_FAILURE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    /// A structure the loader points at lies outside memory the kernel can read.
    OutOfBounds {
        /// Which structure.
        what: &'static str,
        /// Its physical address.
        phys: u64,
        /// Its length in bytes.
        len: u64,
    },
    /// The start-info magic number is wrong.
    BadMagic(u32),
    /// The loader's structure has no memory map (PVH start info version 0).
    NoMemoryMap,
    /// More entries than the kernel keeps.
    TooMany {
        /// Which list.
        what: &'static str,
        /// How many the loader gave.
        count: u64,
        /// How many are kept.
        max: usize,
    },
    /// The command line has no terminating NUL within [`CMDLINE_MAX`] bytes.
    CmdlineTooLong,
    /// The command line is not UTF-8.
    CmdlineNotUtf8,
    /// The memory map has no usable RAM at all.
    NoUsableMemory,
}

impl fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::OutOfBounds { what, phys, len } => write!(
                f,
                "{what} at {phys:#x} (+{len:#x}) lies outside boot-readable RAM"
            ),
            Self::BadMagic(m) => write!(f, "bad hvm_start_info magic {m:#010x}"),
            Self::NoMemoryMap => f.write_str("hvm_start_info version 0 has no memory map"),
            Self::TooMany { what, count, max } => {
                write!(f, "{count} {what} given, at most {max} supported")
            }
            Self::CmdlineTooLong => write!(
                f,
                "command line longer than {} bytes or not NUL-terminated",
                CMDLINE_MAX - 1
            ),
            Self::CmdlineNotUtf8 => f.write_str("command line is not UTF-8"),
            Self::NoUsableMemory => f.write_str("memory map has no usable RAM"),
        }
    }
}

/// What the boot loader handed the kernel, validated and copied into kernel memory.
pub struct BootInfo {
    cmdline: [u8; CMDLINE_MAX],
    cmdline_len: usize,
    regions: [MemoryRegion; MAX_REGIONS],
    nr_regions: usize,
    modules: [Module; MAX_MODULES],
    nr_modules: usize,
    /// Memory-map entries dropped as loader quirks (zero length, QEMU's trailing 0/0/type-0).
    pub skipped_regions: usize,
    /// Name and version of the raw structure it came from, for the log.
    pub source: &'static str,
    /// Physical address of the raw structure it came from.
    pub raw_phys: u64,
    /// Physical address of the ACPI RSDP, if the loader gave one.
    pub rsdp_phys: Option<u64>,
}

impl BootInfo {
    /// An empty boot info, the initial value of the `static` the arch code fills.
    pub const EMPTY: Self = Self {
        cmdline: [0; CMDLINE_MAX],
        cmdline_len: 0,
        regions: [MemoryRegion::EMPTY; MAX_REGIONS],
        nr_regions: 0,
        modules: [Module::EMPTY; MAX_MODULES],
        nr_modules: 0,
        skipped_regions: 0,
        source: "",
        raw_phys: 0,
        rsdp_phys: None,
    };

    /// The kernel command line (may be empty).
    pub fn cmdline(&self) -> &str {
        // Only set through `set_cmdline`, which checked UTF-8; fall back to "" defensively.
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }

    /// The physical memory map, in the loader's order, without empty entries.
    pub fn memory_regions(&self) -> &[MemoryRegion] {
        &self.regions[..self.nr_regions]
    }

    /// The boot modules; module 0 is the initrd.
    pub fn modules(&self) -> &[Module] {
        &self.modules[..self.nr_modules]
    }

    /// The initrd (module 0), if the loader gave one.
    pub fn initrd(&self) -> Option<&Module> {
        self.modules().first()
    }

    /// Total bytes of usable RAM in the memory map.
    pub fn usable_memory(&self) -> u64 {
        self.memory_regions()
            .iter()
            .filter(|r| r.kind == MemoryKind::Usable)
            .map(|r| r.len)
            .sum()
    }

    /// Stores the command line (bytes without the NUL).
    pub(crate) fn set_cmdline(&mut self, bytes: &[u8]) -> Result<(), BootInfoError> {
        if bytes.len() >= CMDLINE_MAX {
            return Err(BootInfoError::CmdlineTooLong);
        }
        core::str::from_utf8(bytes).map_err(|_| BootInfoError::CmdlineNotUtf8)?;
        self.cmdline[..bytes.len()].copy_from_slice(bytes);
        self.cmdline_len = bytes.len();
        Ok(())
    }

    /// Appends a memory region; empty ones are counted in `skipped_regions` and dropped.
    pub(crate) fn push_region(&mut self, region: MemoryRegion) -> Result<(), BootInfoError> {
        if region.len == 0 {
            self.skipped_regions += 1;
            return Ok(());
        }
        let slot = self
            .regions
            .get_mut(self.nr_regions)
            .ok_or(BootInfoError::TooMany {
                what: "memory-map entries",
                count: self.nr_regions as u64 + 1,
                max: MAX_REGIONS,
            })?;
        *slot = region;
        self.nr_regions += 1;
        Ok(())
    }

    /// Appends a boot module.
    pub(crate) fn push_module(&mut self, module: Module) -> Result<(), BootInfoError> {
        let slot = self
            .modules
            .get_mut(self.nr_modules)
            .ok_or(BootInfoError::TooMany {
                what: "boot modules",
                count: self.nr_modules as u64 + 1,
                max: MAX_MODULES,
            })?;
        *slot = module;
        self.nr_modules += 1;
        Ok(())
    }
}
