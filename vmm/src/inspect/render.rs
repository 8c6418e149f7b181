//! The text view of a [`Dump`]: one readable block per dump, per process and per LWP.

use std::fmt::Write as _;

use super::model::*;

fn set(s: &SigSetDump) -> String {
    if s.signals.is_empty() {
        "{}".into()
    } else {
        format!("{{{}}}", s.signals.join(" "))
    }
}

fn ms(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

fn reason(r: &Reason) -> String {
    match r {
        Reason::Exit { status } => format!("guest exit, status {status}"),
        Reason::Panic { status } => format!("guest kernel panic/fault, status {status}"),
        Reason::Crash { vcpu, what } => format!("guest crash on vCPU {vcpu}: {what}"),
        Reason::Request { id, vcpu } => format!("guest request id {id} from vCPU {vcpu}"),
        Reason::Control => "control socket".into(),
        Reason::Timeout => "--timeout expired".into(),
    }
}

fn queue(q: &QueueDump) -> String {
    let mut s = format!("{} queued", q.count);
    for e in &q.entries {
        let _ = write!(
            s,
            "; {} {} from pid {} uid {} value {}",
            e.signal, e.code_name, e.pid, e.uid, e.value
        );
    }
    if (q.count as usize) > q.entries.len() {
        let _ = write!(s, "; ... {} more", q.count as usize - q.entries.len());
    }
    s
}

fn status_tag(s: RecordStatus) -> &'static str {
    match s {
        RecordStatus::Ok => "",
        RecordStatus::Torn => " [TORN]",
        RecordStatus::Corrupt => " [CORRUPT]",
    }
}

fn user_word<T>(out: &mut String, name: &str, w: &UserWord<T>, show: impl Fn(&T) -> String) {
    let gpa = w.gpa.map(|g| format!(" (gpa {g})")).unwrap_or_default();
    match (&w.value, &w.error) {
        (Some(v), _) => {
            let _ = writeln!(out, "    {name} at {}{gpa}: {}", w.va, show(v));
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "    {name} at {}{gpa}: unreadable: {e}", w.va);
        }
        (None, None) => {
            let _ = writeln!(out, "    {name} at {}{gpa}: unreadable", w.va);
        }
    }
}

fn lwp(out: &mut String, l: &LwpDump) {
    let _ = write!(
        out,
        "  LWP {}.{} {}{}",
        l.pid,
        l.lid,
        l.state,
        status_tag(l.status)
    );
    if let Some(cpu) = l.cpu {
        let _ = write!(out, " cpu {cpu}");
    }
    if !l.flags.is_empty() {
        let _ = write!(out, " [{}]", l.flags.join(","));
    }
    if let Some(sc) = &l.syscall {
        let _ = write!(out, " in {sc}");
    }
    if let Some(m) = &l.wmesg {
        let _ = write!(out, " wchan {m:?}");
    }
    if let Some(w) = l.wchan {
        let _ = write!(out, " ({w})");
    }
    out.push('\n');
    let _ = write!(out, "    mask {}", set(&l.sigmask));
    if let Some(s) = &l.saved_sigmask {
        let _ = write!(out, " saved mask {}", set(s));
    }
    let _ = writeln!(
        out,
        " pending {} queue: {}",
        set(&l.pending),
        queue(&l.queue)
    );
    if let Some(w) = &l.lwpctl {
        user_word(out, "lwpctl", w, |v| {
            format!("curcpu {} pctr {}", v.curcpu, v.pctr)
        });
    }
    if let Some(w) = &l.lpmap {
        user_word(out, "lpmap", w, |v| {
            format!(
                "blockallsigs {} (count {}{}) tid {} version {} title {:?}",
                v.blockallsigs,
                v.block_count,
                if v.held { ", held" } else { "" },
                v.tid,
                v.version,
                v.title
            )
        });
    }
    if let Some(w) = &l.sigfastblock {
        user_word(out, "sigfastblock", w, |v| {
            format!(
                "{} (count {}{})",
                v.word,
                v.block_count,
                if v.pend { ", pend" } else { "" }
            )
        });
    }
    if let Some(a) = &l.altstack {
        let _ = writeln!(
            out,
            "    altstack sp {} size {} flags {:#x}",
            a.sp, a.size, a.flags
        );
    }
    if let Some(r) = &l.regs {
        let _ = writeln!(
            out,
            "    rip {} rsp {} rflags {} rax {} rbx {} rcx {} rdx {}",
            r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx
        );
        let _ = writeln!(
            out,
            "    rsi {} rdi {} rbp {} r8 {} r9 {} r10 {} r11 {}",
            r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11
        );
        let _ = writeln!(
            out,
            "    r12 {} r13 {} r14 {} r15 {} fs_base {} gs_base {}",
            r.r12, r.r13, r.r14, r.r15, r.fs_base, r.gs_base
        );
    }
    let _ = writeln!(
        out,
        "    switches {} signals delivered {} syscalls {}",
        l.switches, l.signals_delivered, l.syscalls
    );
}

/// Renders `d` as text (ends with a newline).
pub fn text(d: &Dump) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "=== lwpvm dump: {} ===", reason(&d.reason));
    let t = &d.timing;
    if t.paused {
        let _ = writeln!(
            out,
            "guest paused {} (pause {}, capture {})",
            ms(t.paused_total_ns),
            ms(t.pause_ns),
            ms(t.capture_ns)
        );
    } else {
        let _ = writeln!(out, "guest stopped (capture {})", ms(t.capture_ns));
    }
    for v in &d.vcpus {
        let _ = write!(out, "vCPU {}: {}", v.id, v.state);
        if let Some(r) = &v.regs {
            let _ = write!(
                out,
                "  rip {} rsp {} rflags {} cs {:#x} cpl {} cr3 {} cr2 {}",
                r.rip, r.rsp, r.rflags, r.cs, r.cpl, r.cr3, r.cr2
            );
        }
        out.push('\n');
    }
    let tb = &d.table;
    match tb.header_gpa {
        None => {
            let _ = writeln!(
                out,
                "inspection table: absent (the kernel has no lwpvm note)"
            );
        }
        Some(gpa) => {
            let _ = write!(out, "inspection table at {gpa}: {}", tb.status);
            if let Some(v) = tb.abi_version {
                let _ = write!(out, ", ABI v{v}");
            }
            if let Some(k) = &tb.kernel_state {
                let _ = write!(out, ", kernel {k}");
            }
            if let Some(g) = tb.boot_generation {
                let _ = write!(out, ", boot {g}");
            }
            if !tb.features.is_empty() {
                let _ = write!(out, ", features {}", tb.features.join(","));
            }
            if let Some(n) = tb.ncpus {
                let _ = write!(out, ", {n} CPUs");
            }
            if let Some(n) = tb.dropped.filter(|&n| n > 0) {
                let _ = write!(out, ", {n} records dropped");
            }
            out.push('\n');
            for t in &tb.tables {
                let _ = writeln!(
                    out,
                    "  {}: {} live ({} claimed), {} slots scanned, {} chunks",
                    t.name, t.live_found, t.live_claimed, t.scanned, t.nchunks
                );
            }
            if let Some(p) = &tb.panic {
                let _ = writeln!(out, "  PANIC on CPU {}: {}", p.cpu, p.message);
            }
            if let (Some(n), Some(id)) = (tb.dump_requests, tb.last_dump_id) {
                if n > 0 {
                    let _ = writeln!(out, "  dump requests: {n}, last id {id}");
                }
            }
            if let Some(c) = &tb.core_request {
                let _ = writeln!(
                    out,
                    "  core requested for process {} ({} code {} addr {})",
                    c.pid, c.signal, c.code, c.addr
                );
            }
            if let Some(m) = &tb.mailbox {
                if m.req != 0 || m.ack != 0 {
                    let _ = writeln!(
                        out,
                        "  host-signal mailbox: req {} ack {} (pid {} signal {} code {} result {})",
                        m.req, m.ack, m.pid, m.signo, m.code, m.result
                    );
                }
            }
        }
    }
    for c in &d.cpus {
        let _ = write!(
            out,
            "CPU {} (APIC {}{}{}){}: ",
            c.cpu_id,
            c.apic_id.map_or("?".to_string(), |a| a.to_string()),
            if c.bsp { ", BSP" } else { "" },
            if c.online { ", online" } else { ", offline" },
            status_tag(c.status)
        );
        match c.current {
            Some(cur) => {
                let _ = write!(out, "running LWP {}.{}", cur.pid, cur.lid);
            }
            None if c.idle => out.push_str("idle"),
            None => out.push_str("no LWP"),
        }
        let _ = writeln!(
            out,
            "; ticks {} (idle {}), switches {}, irqs {}, syscalls {}",
            c.ticks, c.idle_ticks, c.context_switches, c.irqs, c.syscalls
        );
    }
    for p in &d.processes {
        let _ = write!(
            out,
            "process {} {:?} {}{} ppid {} pgid {} sid {}",
            p.pid,
            p.name,
            p.state,
            status_tag(p.status),
            p.ppid,
            p.pgid,
            p.sid
        );
        if !p.flags.is_empty() {
            let _ = write!(out, " [{}]", p.flags.join(","));
        }
        if let Some(m) = &p.exit_meaning {
            let _ = write!(out, " {m}");
        }
        if let Some(s) = &p.stop_signal {
            let _ = write!(out, " stopped by {s}");
        }
        let _ = writeln!(
            out,
            "\n  lwps {} (running/runnable {}, zombie {}, detached {}, in _lwp_wait {}); cr3 {} lwpctl area {}; signals received {}",
            p.nlwps, p.nrlwps, p.nzlwps, p.ndlwps, p.nlwpwait, p.cr3, p.lwpctl_area, p.signals_received
        );
        let _ = writeln!(
            out,
            "  shared pending {} queue: {}",
            set(&p.pending),
            queue(&p.queue)
        );
        for a in &p.actions {
            let _ = writeln!(
                out,
                "  action {}: {} flags [{}] mask {}",
                a.signal,
                a.handler,
                a.flag_names.join(","),
                set(&a.mask)
            );
        }
        for l in &p.lwps {
            lwp(&mut out, l);
        }
    }
    if !d.orphan_lwps.is_empty() {
        let _ = writeln!(out, "LWPs without a process record:");
        for l in &d.orphan_lwps {
            lwp(&mut out, l);
        }
    }
    if d.problems.is_empty() {
        let _ = writeln!(out, "no problems found");
    } else {
        let _ = writeln!(out, "problems ({}):", d.problems.len());
        for p in &d.problems {
            let _ = writeln!(out, "  {}: {}", p.at, p.what);
        }
    }
    let _ = writeln!(out, "=== end of dump ===");
    out
}
