//! The kernel command line: `key=value` words for the kernel, and the init program's arguments
//! after a lone `--`.
//!
//! The line is split on ASCII whitespace; quoting is not supported (a value is one word).
//! Words before the first lone `--` are the kernel's ([`kernel_words`]); [`get`],
//! [`values`] and [`flag`] look only there. When a key is repeated, [`get`] returns the last
//! value (a later word overrides an earlier one, as in Linux); [`values`] yields them all.
//!
//! Words after the `--` are the init program's arguments ([`init_args`]), as with Linux and
//! linux-loader, with one exception: hosts append device announcements to whatever the user
//! gave, and QEMU appends `virtio_mmio.device=...` at the very end of the line, after any
//! `--`. Those words ([`HOST_APPENDED_KEYS`]) are found by [`values_anywhere`] and are never
//! passed to init. (lwpvm's own VMM inserts its keys before the `--`.)
//!
//! This is the same behaviour as the kernel's `guest/src/cmdline.rs`, with [`kernel_words`]
//! and [`init_args`] added; the kernel will switch to this module.
//!
//! Keys the kernel understands are listed in the kernel's `cmdline.rs` overview.

/// Keys that hosts append after any `--`: looked up on the whole line by
/// [`values_anywhere`], and left out of [`init_args`].
pub const HOST_APPENDED_KEYS: &[&str] = &["virtio_mmio.device"];

/// The words before the first lone `--`: the kernel's.
pub fn kernel_words(cmdline: &str) -> impl Iterator<Item = &str> {
    cmdline
        .split_ascii_whitespace()
        .take_while(|&word| word != "--")
}

/// The init program's arguments: the words after the first lone `--`, without the
/// host-appended `key=value` words ([`HOST_APPENDED_KEYS`]). Empty when there is no `--`.
/// A later `--` is an ordinary argument.
pub fn init_args(cmdline: &str) -> impl Iterator<Item = &str> {
    cmdline
        .split_ascii_whitespace()
        .skip_while(|&word| word != "--")
        .skip(1)
        .filter(|word| {
            !word
                .split_once('=')
                .is_some_and(|(k, _)| HOST_APPENDED_KEYS.contains(&k))
        })
}

/// The value of the last `key=value` word whose key is `key` (given with or without the
/// trailing `=`, so the `shared-abi` constants can be used as they are).
pub fn get<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    values(cmdline, key).last()
}

/// The values of every `key=value` word whose key is `key` (with or without the trailing
/// `=`), in order, among the kernel's words.
pub fn values<'a, 'k>(cmdline: &'a str, key: &'k str) -> impl Iterator<Item = &'a str> + 'k
where
    'a: 'k,
{
    let key = key.strip_suffix('=').unwrap_or(key);
    kernel_words(cmdline).filter_map(move |word| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    const QEMU: &str =
        "loglevel=debug lwpvm.exit=3 -- init -v x=1 -- virtio_mmio.device=512@0xfeb00e00:12";
    const LWPVM: &str =
        "loglevel=debug virtio_mmio.device=4K@0xd0000000:5 lwpvm.host=lwpvm -- init arg";

    #[test]
    fn kernel_words_stop_at_the_first_lone_dashes() {
        let w: Vec<&str> = kernel_words(QEMU).collect();
        assert_eq!(w, ["loglevel=debug", "lwpvm.exit=3"]);
        assert_eq!(kernel_words("a --b c").count(), 3);
        assert_eq!(kernel_words("").count(), 0);
        assert_eq!(kernel_words("-- a").count(), 0);
    }

    #[test]
    fn init_args_are_after_dashes_without_host_keys() {
        let a: Vec<&str> = init_args(QEMU).collect();
        assert_eq!(a, ["init", "-v", "x=1", "--"]);
        let a: Vec<&str> = init_args(LWPVM).collect();
        assert_eq!(a, ["init", "arg"]);
        assert_eq!(init_args("loglevel=info").count(), 0);
        assert_eq!(init_args("a --").count(), 0);
        assert_eq!(
            init_args("  --   one\ttwo\n").collect::<Vec<_>>(),
            ["one", "two"]
        );
        // Only the exact host key is dropped.
        assert_eq!(
            init_args("-- virtio_mmio.devicex=1 virtio_mmio.device").collect::<Vec<_>>(),
            ["virtio_mmio.devicex=1", "virtio_mmio.device"]
        );
    }

    #[test]
    fn get_takes_the_last_kernel_value() {
        assert_eq!(get("a=1 b=2 a=3", "a"), Some("3"));
        assert_eq!(get("a=1 b=2 a=3", "a="), Some("3"));
        assert_eq!(get("a=1 -- a=5", "a"), Some("1"));
        assert_eq!(get("ab=1", "a"), None);
        assert_eq!(get("a", "a"), None);
        assert_eq!(get("a=", "a"), Some(""));
        assert_eq!(get("a=x=y", "a"), Some("x=y"));
        assert_eq!(get(QEMU, "lwpvm.exit"), Some("3"));
        assert_eq!(get(LWPVM, "lwpvm.host"), Some("lwpvm"));
    }

    #[test]
    fn values_and_values_anywhere() {
        let v: Vec<&str> = values("d=1 x d=2 -- d=3", "d").collect();
        assert_eq!(v, ["1", "2"]);
        let v: Vec<&str> = values_anywhere("d=1 x d=2 -- d=3", "d=").collect();
        assert_eq!(v, ["1", "2", "3"]);
        let v: Vec<&str> = values_anywhere(QEMU, "virtio_mmio.device").collect();
        assert_eq!(v, ["512@0xfeb00e00:12"]);
        let v: Vec<&str> = values_anywhere(LWPVM, "virtio_mmio.device").collect();
        assert_eq!(v, ["4K@0xd0000000:5"]);
    }

    #[test]
    fn flags() {
        for t in ["1", "y", "yes", "on", "true"] {
            assert!(flag(&alloc::format!("f={t}"), "f"));
        }
        for f in ["0", "no", "off", "", "TRUE"] {
            assert!(!flag(&alloc::format!("f={f}"), "f"));
        }
        assert!(!flag("f", "f"));
        assert!(!flag("-- f=1", "f"));
        assert!(!flag("f=1 f=0", "f"));
    }

    #[test]
    fn numbers_and_sizes() {
        assert_eq!(parse_u64("42"), Some(42));
        assert_eq!(parse_u64("0x2a"), Some(42));
        assert_eq!(parse_u64("0X2A"), Some(42));
        assert_eq!(parse_u64("0x"), None);
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_u64("18446744073709551616"), None);
        assert_eq!(parse_size("4K"), Some(4096));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("0xd0000000"), Some(0xd000_0000));
        assert_eq!(parse_size("2m"), Some(2 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("K"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("0xfffffffffffffffG"), None);
    }
}
