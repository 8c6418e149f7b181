//! What machine this is: CPU model, kernel, C library (for the report and PERFORMANCE.md).

use crate::report::Machine;

/// The value of the first `key : value` line of /proc/cpuinfo with this key.
pub fn cpuinfo_field(cpuinfo: &str, key: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// `uname -r` and `uname -v`.
fn uname() -> (String, String) {
    // SAFETY: utsname is plain old data; uname fills it with NUL-terminated strings.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is writable.
    if unsafe { libc::uname(&mut u) } != 0 {
        return ("?".into(), "?".into());
    }
    let s = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (s(&u.release), s(&u.version))
}

/// The C library's name and version.
fn libc_version() -> String {
    #[cfg(target_env = "gnu")]
    {
        // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        format!("glibc {}", v.to_string_lossy())
    }
    #[cfg(not(target_env = "gnu"))]
    {
        "not glibc".to_string()
    }
}

/// Describes this machine.
pub fn describe(cpus_allowed: Vec<usize>) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let (kernel, kernel_version) = uname();
    // SAFETY: sysconf takes an integer.
    let nproc = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as u32;
    Machine {
        nproc,
        cpu_model: cpuinfo_field(&cpuinfo, "model name").unwrap_or_else(|| "?".into()),
        cpu_signature: format!(
            "family {} model {}",
            cpuinfo_field(&cpuinfo, "cpu family").unwrap_or_else(|| "?".into()),
            cpuinfo_field(&cpuinfo, "model").unwrap_or_else(|| "?".into())
        ),
        hypervisor: cpuinfo_field(&cpuinfo, "flags")
            .is_some_and(|f| f.split_whitespace().any(|w| w == "hypervisor")),
        kernel,
        kernel_version,
        libc: libc_version(),
        cpus_allowed,
        mitigations: mitigations(),
    }
}

/// The active mitigations, sorted by name.
fn mitigations() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/sys/devices/system/cpu/vulnerabilities") else {
        return Vec::new();
    };
    let mut out: Vec<String> = dir
        .filter_map(|e| {
            let e = e.ok()?;
            let text = std::fs::read_to_string(e.path()).ok()?;
            let text = text.trim();
            text.starts_with("Mitigation")
                .then(|| format!("{}: {text}", e.file_name().to_string_lossy()))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_fields() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n\
                    model name\t: AMD EPYC\nflags\t\t: fpu hypervisor rdpid\n\nprocessor\t: 1\n\
                    model name\t: other\n";
        assert_eq!(
            cpuinfo_field(text, "model name").as_deref(),
            Some("AMD EPYC")
        );
        assert_eq!(cpuinfo_field(text, "model").as_deref(), Some("1"));
        assert_eq!(cpuinfo_field(text, "cpu family").as_deref(), Some("25"));
        assert_eq!(cpuinfo_field(text, "bogus"), None);
    }

    #[test]
    fn describes_this_machine() {
        let m = describe(vec![0]);
        assert!(m.nproc >= 1);
        assert!(!m.kernel.is_empty());
    }
}
