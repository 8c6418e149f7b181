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

/// The value of the last `key=value` word whose key is `key` (given with or without the
/// trailing `=`, so the `shared-abi` constants can be used as they are).
pub fn get<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    values(cmdline, key).last()
}

/// The values of every `key=value` word whose key is `key` (with or without the trailing
/// `=`), in order.
pub fn values<'a, 'k>(cmdline: &'a str, key: &'k str) -> impl Iterator<Item = &'a str> + 'k
where
    'a: 'k,
{
    let key = key.strip_suffix('=').unwrap_or(key);
    cmdline
        .split_ascii_whitespace()
        .take_while(|&word| word != "--")
        .filter_map(move |word| {
            let (k, v) = word.split_once('=')?;
            (k == key).then_some(v)
        })
}

/// Like [`values`], but over the whole line, `--` part included: for keys that hosts append
/// to whatever the user gave (QEMU appends `virtio_mmio.device=` at the very end, after any
/// `--`).
pub fn values_anywhere<'a, 'k>(cmdline: &'a str, key: &'k str) -> impl Iterator<Item = &'a str> + 'k
where
    'a: 'k,
{
    let key = key.strip_suffix('=').unwrap_or(key);
    cmdline.split_ascii_whitespace().filter_map(move |word| {
        let (k, v) = word.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// Whether `key` is set to a true value (`1`, `y`, `yes`, `on`, `true`).
pub fn flag(cmdline: &str, key: &str) -> bool {
    matches!(get(cmdline, key), Some("1" | "y" | "yes" | "on" | "true"))
}

/// Parses an unsigned number: decimal, or hex with a `0x` prefix.
pub fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses a size or address the way Linux's `memparse` does: a number (decimal, or `0x` hex)
/// optionally followed by one of `K`, `M`, `G` (binary multiples, either case).
pub fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n = parse_u64(digits)?;
    n.checked_mul(1 << shift)
}
