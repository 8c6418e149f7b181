//! Kernel command-line parsing: whitespace-separated `key=value` words, Linux style.
//!
//! Keys the kernel understands (all optional):
//!
//! | key | values | effect |
//! |---|---|---|
//! | `loglevel=` | `error` `warn` `info` `debug` `trace` | level of the serial kernel log (default `info`) |
//! | `virtio_mmio.device=` | `<size>@<base>:<irq>[:<id>]` | a virtio-mmio device (Linux syntax; may repeat) |
//! | `lwpvm.host=` | `lwpvm` | set by the lwpvm VMM: the VMM's name for the banner |
//! | `lwpvm.cpus=` | `N` | CPU count when no MP table is found |
//! | `init=` | `/bin/NAME` | the program run as process 1 from the initrd (default `/bin/init` when there is an initrd); its arguments are the words after a lone `--` |
//! | `lwpvm.heartbeat=` | `MS` | while init runs, the kernel's main thread logs `heartbeat N` every MS milliseconds (preemption tests) |
//! | `lwpvm.exit=` | `0..=127` | exit status when no init program runs (default 0) |
//! | `lwpvm.echo=1` | | after the banner, read one console line, print `echo: <line>`, exit 0 |
//! | `lwpvm.panic=1` | | panic deliberately after the banner (tests) |
//! | `lwpvm.fault=` | `ud2` `pf` `de` `df` | take a ring-0 exception deliberately after the banner (tests; `df`: a double fault on IST1) |
//! | `lwpvm.tsc_khz=` | `N` | TSC frequency in kHz, used when CPUID does not give it (a VMM can pass `KVM_GET_TSC_KHZ`) |
//! | `lwpvm.hz=` | `1..=1000` | scheduler tick rate (default 100) |
//! | `lwpvm.apic=` | `xapic` | use the LAPIC in xAPIC (MMIO) mode even where x2APIC is offered |
//! | `lwpvm.selftest=` | `sched` `smp` `pingpong` | run a kernel self-test after the banner; exit 0 if it passes, 1 if not |
//!
//! Words after a lone `--` are not the kernel's (Linux and linux-loader pass them to init):
//! no key is looked up there, except device announcements (`virtio_mmio.device=`), which
//! QEMU appends at the very end of the line ([`values_anywhere`]).
//!
//! When a key is repeated, [`get`] returns the last value (a later word overrides an earlier
//! one, as in Linux); [`values`] yields them all. Quoting is not supported: a value is one word.

pub use lwpvm_kcore::cmdline::{flag, get, parse_size, parse_u64, values_anywhere};
