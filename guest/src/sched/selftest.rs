//! Kernel self-tests of the scheduler, SMP, IPIs and the clock: `lwpvm.selftest=sched` and
//! `lwpvm.selftest=smp`. Each check prints a line on the console; the run ends with
//! `selftest <kind>: ok` and exit status 0, or `selftest <kind>: FAILED` and status 1.
//!
//! `sched` also prints cost figures measured with `rdtsc` (figures, not assertions): an
//! interrupt round trip through the timer vector, a context switch, an IPI round trip, a
//! cross-CPU wake-up.
//!
//! Loop counts are small: on the development machines' KVM every ring-0 instruction is
//! interpreted (~0.6 µs).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use shared_abi::current::ports::status;

use super::{
    current, interrupt, now_ns, sleep, sleep_for, sleep_interlocked, sleep_timeout, spawn,
    spawn_on, wakeup, wakeup_one, yield_now, WaitChannel, Wake,
};
use crate::arch::apic::{self, Dest};
use crate::arch::cpu::rdtsc;
use crate::arch::fpu::{FxArea, XMM0_OFFSET};
use crate::arch::ioapic::{self, Trigger};
use crate::arch::irq::{self, VECTOR_TIMER};
use crate::arch::tlb::{self, test_mapping, Flush};
use crate::arch::trap::TrapFrame;
use crate::arch::{io, mptable, msr, percpu, time};
use crate::println;
use crate::sync::IrqMutex;

/// Runs self-test `kind` and ends the VM.
pub fn run(kind: &str) -> ! {
    let ok = match kind {
        "sched" => sched(),
        "smp" => smp(),
        "pingpong" => {
            super::clock::DUMP_AT_TICK.store(3000, Ordering::Relaxed);
            (0..30).all(|_| ping_pong())
        }
        _ => {
            println!("selftest {kind}: unknown (expected sched or smp)");
            false
        }
    };
    println!("selftest {kind}: {}", if ok { "ok" } else { "FAILED" });
    log::info!("selftest {kind}: {}", if ok { "ok" } else { "FAILED" });
    crate::arch::exit(if ok { status::SUCCESS } else { 1 })
}

/// Prints a check's result; returns it.
fn check(name: &str, ok: bool, detail: core::fmt::Arguments<'_>) -> bool {
    println!(
        "selftest: {name}: {} ({detail})",
        if ok { "ok" } else { "FAILED" }
    );
    ok
}

fn ncpus() -> usize {
    percpu::ncpus()
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn ns(cycles: u64) -> u64 {
    time::tsc_to_ns(cycles)
}

// ------------------------------------------------------------------------------------------
// smp
// ------------------------------------------------------------------------------------------

fn smp() -> bool {
    let n = ncpus();
    let expected = mptable::scan().map_or(1, |m| m.cpus as usize);
    let seen = Box::leak(Box::new(AtomicU64::new(0)));
    let mut handles = Vec::new();
    for cpu in 0..n {
        let seen: &'static AtomicU64 = seen;
        match spawn_on(cpu, "smp-test", move || {
            let me = percpu::cpu_id();
            println!(
                "selftest smp: cpu {me} (APIC id {}) running thread {}",
                percpu::this().apic_id(),
                current().id()
            );
            seen.fetch_or(1 << me, Ordering::AcqRel);
        }) {
            Ok(h) => handles.push(h),
            Err(e) => {
                println!("selftest smp: spawn on cpu {cpu}: {e}");
                return false;
            }
        }
    }
    for h in handles {
        h.join();
    }
    let mask = seen.load(Ordering::Acquire);
    check(
        "smp: all CPUs up and running threads",
        n == expected && mask == percpu::online_mask() && mask.count_ones() as usize == n,
        format_args!("{n} of {expected} online, ran on mask {mask:#x}"),
    )
}

// ------------------------------------------------------------------------------------------
// sched
// ------------------------------------------------------------------------------------------

fn sched() -> bool {
    println!(
        "selftest sched: {} cpus, wall clock {} s since the epoch, TSC {} kHz from {}, {} timer, tick {} ms",
        ncpus(),
        time::realtime_ns() / 1_000_000_000,
        time::tsc_khz(),
        time::source().name(),
        if super::deadline_mode() {
            "TSC-deadline"
        } else {
            "periodic"
        },
        super::tick_ns() / 1_000_000
    );
    // If the test hangs, log the scheduler's state after ~30 s of CPU 0 ticks.
    super::clock::DUMP_AT_TICK.store(
        30_000_000_000 / super::tick_ns() + super::cpu_stats(0).ticks,
        Ordering::Relaxed,
    );
    let mut ok = true;
    ok &= yields();
    ok &= ping_pong();
    ok &= timed_sleep();
    ok &= preemption();
    ok &= fpu_switch();
    ok &= fs_base_switch();
    ok &= sleep_api();
    if ncpus() > 1 {
        ok &= cross_cpu_wakeup();
        ok &= tlb_shootdown();
    }
    ok &= ioapic_route();
    figures();
    for cpu in 0..ncpus() {
        let s = super::cpu_stats(cpu);
        println!(
            "selftest sched: cpu {cpu}: {} switches, {} ticks ({} idle), {} queued, {} interrupts",
            s.switches,
            s.ticks,
            s.idle_ticks,
            s.queued,
            percpu::get(cpu).interrupts.load(Ordering::Relaxed)
        );
    }
    ok
}

/// N threads on all CPUs yield K times each: half of them pinned round robin to every CPU,
/// half placed by the scheduler (least-loaded placement and work stealing; where those ran is
/// reported, not asserted: a short workload may legitimately finish on one CPU).
fn yields() -> bool {
    const K: u32 = 20;
    let n = (2 * ncpus()).max(4);
    let count = Box::leak(Box::new(AtomicU32::new(0)));
    let pinned_cpus = Box::leak(Box::new(AtomicU64::new(0)));
    let free_cpus = Box::leak(Box::new(AtomicU64::new(0)));
    let mut handles = Vec::new();
    for i in 0..n {
        let count: &'static AtomicU32 = count;
        let cpus: &'static AtomicU64 = if i % 2 == 0 { pinned_cpus } else { free_cpus };
        let body = move || {
            for _ in 0..K {
                cpus.fetch_or(1 << percpu::cpu_id(), Ordering::Relaxed);
                count.fetch_add(1, Ordering::Relaxed);
                yield_now();
            }
        };
        let h = if i % 2 == 0 {
            spawn_on((i / 2) % ncpus(), "yielder", body)
        } else {
            spawn("yielder", body)
        };
        handles.push(h.expect("spawn"));
    }
    for h in handles {
        h.join();
    }
    let total = count.load(Ordering::Relaxed);
    let pinned = pinned_cpus.load(Ordering::Relaxed);
    let free = free_cpus.load(Ordering::Relaxed);
    let want = if n / 2 >= ncpus() {
        percpu::online_mask()
    } else {
        (1 << (n / 2)) - 1
    };
    check(
        "yield",
        total == n as u32 * K && pinned == want,
        format_args!(
            "{n} threads x {K} yields = {total}; pinned ones ran on cpu mask {pinned:#x}, placed ones on {free:#x}"
        ),
    )
}

/// Two threads alternate through sleep/wakeup on a shared counter (on two CPUs if there are
/// two).
fn ping_pong() -> bool {
    const ROUNDS: u32 = 40;
    let turn = Box::leak(Box::new(AtomicU32::new(0)));
    let chan = WaitChannel::of(turn);
    let cpu_b = if ncpus() > 1 { 1 } else { 0 };
    let player = |me: u32, turn: &'static AtomicU32| {
        move || {
            for _ in 0..ROUNDS {
                while turn.load(Ordering::Acquire) % 2 != me {
                    sleep(chan, false, || turn.load(Ordering::Acquire) % 2 != me);
                }
                turn.fetch_add(1, Ordering::AcqRel);
                wakeup(chan);
            }
        }
    };
    let t0 = rdtsc();
    let a = spawn_on(0, "ping", player(0, turn)).expect("spawn");
    let b = spawn_on(cpu_b, "pong", player(1, turn)).expect("spawn");
    a.join();
    b.join();
    let cycles = rdtsc() - t0;
    let n = turn.load(Ordering::Acquire);
    check(
        "sleep/wakeup ping-pong",
        n == 2 * ROUNDS,
        format_args!(
            "{n} hand-overs between cpu 0 and cpu {cpu_b}, {} cycles each",
            cycles / u64::from(n.max(1))
        ),
    )
}

/// A timed sleep is never early and not much late; a timeout on a silent channel times out.
fn timed_sleep() -> bool {
    const SLEEP_NS: u64 = 30_000_000;
    let t0 = now_ns();
    sleep_for(SLEEP_NS);
    let slept = now_ns() - t0;
    let late = slept.saturating_sub(SLEEP_NS);
    let ok1 = check(
        "timed sleep",
        slept >= SLEEP_NS && late < 500_000_000,
        format_args!(
            "asked {} µs, slept {} µs ({} µs late)",
            SLEEP_NS / 1000,
            slept / 1000,
            late / 1000
        ),
    );
    let silent = Box::leak(Box::new(0u8));
    let t1 = now_ns();
    let r = sleep_timeout(WaitChannel::of(silent), true, t1 + 5_000_000, || true);
    let waited = now_ns() - t1;
    let ok2 = check(
        "sleep timeout",
        r == Wake::TimedOut && waited >= 5_000_000,
        format_args!("{r:?} after {} µs", waited / 1000),
    );
    ok1 && ok2
}

/// Two threads that never yield, on one CPU (the one `main` runs on when there is one CPU),
/// both make progress: the tick preempts them.
fn preemption() -> bool {
    let cpu = ncpus() - 1;
    let stop = Box::leak(Box::new(AtomicBool::new(false)));
    let counters: &'static [AtomicU64; 2] =
        Box::leak(Box::new([AtomicU64::new(0), AtomicU64::new(0)]));
    let mut handles = Vec::new();
    for counter in counters {
        let stop: &'static AtomicBool = stop;
        handles.push(
            spawn_on(cpu, "spinner", move || {
                while !stop.load(Ordering::Relaxed) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
            .expect("spawn"),
        );
    }
    // Let them run for several ticks, then look twice: both must advance in each window.
    let window = 8 * super::tick_ns();
    sleep_for(window);
    let a = [
        counters[0].load(Ordering::Relaxed),
        counters[1].load(Ordering::Relaxed),
    ];
    sleep_for(window);
    let b = [
        counters[0].load(Ordering::Relaxed),
        counters[1].load(Ordering::Relaxed),
    ];
    stop.store(true, Ordering::Relaxed);
    let switches: u64 = handles.iter().map(|h| h.thread().switch_count()).sum();
    for h in handles {
        h.join();
    }
    check(
        "preemption of spinning threads",
        a[0] > 0 && a[1] > 0 && b[0] > a[0] && b[1] > a[1],
        format_args!(
            "on cpu {cpu}: counters {a:?} then {b:?}, {switches} switches to the spinners"
        ),
    )
}

/// Two threads on one CPU with different XMM0 values in their FPU areas keep them across
/// many switches: the switch saves and restores FPU state eagerly.
fn fpu_switch() -> bool {
    let ok_count = Box::leak(Box::new(AtomicU32::new(0)));
    let mut handles = Vec::new();
    for i in 0..2u8 {
        let ok_count: &'static AtomicU32 = ok_count;
        handles.push(
            spawn_on(0, "fpu", move || {
                let pattern = [0x11 * (i + 1); 16];
                let mut area = FxArea::initial();
                area.0[XMM0_OFFSET..XMM0_OFFSET + 16].copy_from_slice(&pattern);
                let me = current();
                drop(me.context().set_fpu(Some(Box::new(area))));
                for _ in 0..10 {
                    yield_now();
                }
                let mut now = Box::new(FxArea([0; 512]));
                let flags = irq::save_disable();
                now.save();
                irq::restore(flags);
                if now.0[XMM0_OFFSET..XMM0_OFFSET + 16] == pattern {
                    ok_count.fetch_add(1, Ordering::Relaxed);
                }
                drop(me.context().set_fpu(None));
            })
            .expect("spawn"),
        );
    }
    for h in handles {
        h.join();
    }
    let n = ok_count.load(Ordering::Relaxed);
    check(
        "eager FPU switch",
        n == 2,
        format_args!("{n} of 2 threads kept their XMM0 across 10 yields each"),
    )
}

/// Two threads on one CPU with different user FS/GS bases find their own in the MSRs after
/// many switches.
fn fs_base_switch() -> bool {
    let ok_count = Box::leak(Box::new(AtomicU32::new(0)));
    let mut handles = Vec::new();
    for i in 0..2u64 {
        let ok_count: &'static AtomicU32 = ok_count;
        handles.push(
            spawn_on(0, "fsbase", move || {
                let (fs, gs) = (0x1000_0000 * (i + 1), 0x2000_0000 * (i + 1));
                let ctx = current().context();
                ctx.set_fs_base(fs);
                ctx.set_gs_base(gs);
                for _ in 0..10 {
                    yield_now();
                }
                let flags = irq::save_disable();
                let now = (
                    msr::read(msr::IA32_FS_BASE),
                    msr::read(msr::IA32_KERNEL_GS_BASE),
                );
                irq::restore(flags);
                if now == (fs, gs) && (ctx.fs_base(), ctx.gs_base()) == (fs, gs) {
                    ok_count.fetch_add(1, Ordering::Relaxed);
                }
                ctx.set_fs_base(0);
                ctx.set_gs_base(0);
            })
            .expect("spawn"),
        );
    }
    for h in handles {
        h.join();
    }
    let n = ok_count.load(Ordering::Relaxed);
    check(
        "user FS/GS base switch",
        n == 2,
        format_args!("{n} of 2 threads kept their bases across 10 yields each"),
    )
}

/// `wakeup_one` wakes one sleeper of two; `interrupt` ends an interruptible sleep;
/// `sleep_interlocked` releases its lock only once asleep; `IrqMutex::is_held`.
fn sleep_api() -> bool {
    let chan_obj = Box::leak(Box::new(AtomicU32::new(0)));
    let chan = WaitChannel::of(chan_obj);
    let woken = Box::leak(Box::new(AtomicU32::new(0)));
    let interrupted = Box::leak(Box::new(AtomicU32::new(0)));
    let mut handles = Vec::new();
    for _ in 0..2 {
        let (w, i): (&'static AtomicU32, &'static AtomicU32) = (woken, interrupted);
        handles.push(
            spawn("sleeper", move || match sleep(chan, true, || true) {
                Wake::Woken => {
                    w.fetch_add(1, Ordering::Relaxed);
                }
                Wake::Interrupted => {
                    i.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            })
            .expect("spawn"),
        );
    }
    sleep_for(20_000_000);
    let one = wakeup_one(chan);
    sleep_for(20_000_000);
    let after_one = woken.load(Ordering::Relaxed);
    let intr = handles.iter().any(|h| interrupt(h.thread()));
    for h in handles {
        h.join();
    }
    let ok1 = check(
        "wakeup_one and interrupt",
        one && after_one == 1 && intr && interrupted.load(Ordering::Relaxed) == 1,
        format_args!(
            "woken {}, interrupted {}",
            woken.load(Ordering::Relaxed),
            interrupted.load(Ordering::Relaxed)
        ),
    );
    // Interlocked sleep: the waker takes the same lock, sets the flag, wakes.
    let lock: &'static IrqMutex<bool> = Box::leak(Box::new(IrqMutex::new(false)));
    let lchan = WaitChannel::of(lock);
    let waker = spawn("waker", move || {
        sleep_for(10_000_000);
        let mut g = lock.lock();
        *g = true;
        drop(g);
        wakeup(lchan);
    })
    .expect("spawn");
    let mut rounds = 0;
    loop {
        let g = lock.lock();
        if *g {
            break;
        }
        let held = lock.is_held();
        assert!(held);
        rounds += 1;
        sleep_interlocked(lchan, false, None, g);
    }
    let released = !lock.is_held() && !lock.is_locked();
    waker.join();
    let ok2 = check(
        "interlocked sleep",
        rounds >= 1 && released,
        format_args!("{rounds} sleep(s) until the flag was set"),
    );
    ok1 && ok2
}

/// A thread sleeping on another (idle, halted) CPU is woken from here: the reschedule IPI.
fn cross_cpu_wakeup() -> bool {
    let flag = Box::leak(Box::new(AtomicBool::new(false)));
    let woke_at = Box::leak(Box::new(AtomicU64::new(0)));
    let ran_on = Box::leak(Box::new(AtomicUsize::new(usize::MAX)));
    let chan = WaitChannel::of(flag);
    let (f, w, r): (
        &'static AtomicBool,
        &'static AtomicU64,
        &'static AtomicUsize,
    ) = (flag, woke_at, ran_on);
    let h = spawn_on(1, "sleeper", move || {
        while !f.load(Ordering::Acquire) {
            sleep(chan, false, || !f.load(Ordering::Acquire));
        }
        w.store(rdtsc(), Ordering::Release);
        r.store(percpu::cpu_id(), Ordering::Release);
    })
    .expect("spawn");
    // Let it go to sleep and its CPU go idle.
    sleep_for(20_000_000);
    let ipis_before = percpu::get(1).interrupts.load(Ordering::Relaxed);
    let t0 = rdtsc();
    flag.store(true, Ordering::Release);
    wakeup(chan);
    h.join();
    let lat = woke_at.load(Ordering::Acquire).saturating_sub(t0);
    let cpu = ran_on.load(Ordering::Acquire);
    let ipis = percpu::get(1).interrupts.load(Ordering::Relaxed) - ipis_before;
    check(
        "cross-CPU wake-up",
        cpu == 1,
        format_args!(
            "woken on cpu {cpu} after {lat} cycles ({} µs), {ipis} interrupts there meanwhile",
            ns(lat) / 1000
        ),
    )
}

/// A page remapped under every CPU's TLB is seen remapped everywhere after a shoot-down.
fn tlb_shootdown() -> bool {
    const MARKERS: [u64; 2] = [0xaaaa_0001, 0xbbbb_0002];
    let n = ncpus();
    test_mapping::map(0, MARKERS);
    tlb::shootdown(percpu::online_mask(), Flush::All);
    let phase = Box::leak(Box::new(AtomicU32::new(0)));
    let good = Box::leak(Box::new(AtomicU32::new(0)));
    let chan = WaitChannel::of(phase);
    let mut handles = Vec::new();
    for cpu in 0..n {
        let (phase, good): (&'static AtomicU32, &'static AtomicU32) = (phase, good);
        handles.push(
            spawn_on(cpu, "tlb-reader", move || {
                // Load the translation of the old page into this CPU's TLB.
                let before = test_mapping::read();
                while phase.load(Ordering::Acquire) == 0 {
                    sleep(chan, false, || phase.load(Ordering::Acquire) == 0);
                }
                let after = test_mapping::read();
                if before == MARKERS[0] && after == MARKERS[1] {
                    good.fetch_add(1, Ordering::Relaxed);
                }
            })
            .expect("spawn"),
        );
    }
    sleep_for(30_000_000);
    let handled_before: u64 = (0..n).map(tlb::handled).sum();
    test_mapping::map(1, MARKERS);
    let t0 = rdtsc();
    tlb::shootdown(
        percpu::online_mask(),
        Flush::Range {
            start: test_mapping::TEST_VA,
            pages: 1,
        },
    );
    let cycles = rdtsc() - t0;
    let acks = (0..n).map(tlb::handled).sum::<u64>() - handled_before;
    phase.store(1, Ordering::Release);
    wakeup(chan);
    for h in handles {
        h.join();
    }
    test_mapping::unmap();
    tlb::shootdown(percpu::online_mask(), Flush::All);
    let g = good.load(Ordering::Relaxed);
    check(
        "TLB shoot-down",
        g as usize == n && acks as usize == n - 1,
        format_args!("{g} of {n} CPUs saw the new page, {acks} acknowledgements, {cycles} cycles"),
    )
}

static COM1_IRQS: AtomicU32 = AtomicU32::new(0);
static COM1_CPU: AtomicUsize = AtomicUsize::new(usize::MAX);

fn com1_irq(_frame: &mut TrapFrame) {
    // Reading IIR acknowledges the "transmitter empty" interrupt.
    let _ = io::inb(0x3fa);
    COM1_IRQS.fetch_add(1, Ordering::Relaxed);
    COM1_CPU.store(percpu::cpu_id(), Ordering::Relaxed);
}

/// COM1 (GSI 4) routed through the IOAPIC to the last CPU raises its vector there when its
/// "transmitter empty" interrupt is enabled.
fn ioapic_route() -> bool {
    const GSI: u32 = 4;
    if ioapic::pins() <= GSI {
        return check("IOAPIC routing", false, format_args!("no IOAPIC pin {GSI}"));
    }
    let cpu = ncpus() - 1;
    let vector = ioapic::vector_of(GSI);
    irq::register(vector, com1_irq);
    ioapic::route(GSI, vector, percpu::get(cpu).apic_id(), Trigger::Edge);
    let entry = ioapic::entry(GSI);
    io::outb(0x3f9, 0x02); // IER: transmitter empty
    let t0 = now_ns();
    while COM1_IRQS.load(Ordering::Relaxed) == 0 && now_ns() - t0 < 1_000_000_000 {
        core::hint::spin_loop();
    }
    io::outb(0x3f9, 0x00);
    ioapic::mask(GSI);
    irq::unregister(vector);
    let n = COM1_IRQS.load(Ordering::Relaxed);
    let on = COM1_CPU.load(Ordering::Relaxed);
    check(
        "IOAPIC routing",
        n > 0 && on == cpu,
        format_args!(
            "GSI {GSI} -> vector {vector} on cpu {cpu} (entry {:#x}:{:#010x}): {n} interrupt(s), last on cpu {on}",
            entry.0, entry.1
        ),
    )
}

/// Cost figures (rdtsc cycles; medians).
fn figures() {
    const N: usize = 15;
    let pc = percpu::this();
    // Interrupt round trip: a self-IPI on the timer vector taken as soon as interrupts are
    // enabled (entry stub, common entry, dispatcher, timer handler, EOI, exit).
    let mut irq_rt = Vec::with_capacity(N);
    for _ in 0..N {
        let before = pc.interrupts.load(Ordering::Relaxed);
        irq::disable();
        let t0 = rdtsc();
        apic::send_ipi(Dest::ThisCpu, VECTOR_TIMER);
        irq::enable();
        while pc.interrupts.load(Ordering::Relaxed) == before {
            core::hint::spin_loop();
        }
        irq_rt.push(rdtsc() - t0);
    }
    let irq_rt = median(&mut irq_rt);
    // Context switch: two threads on one CPU yielding to each other.
    const Y: u64 = 50;
    let elapsed = Box::leak(Box::new(AtomicU64::new(0)));
    let e: &'static AtomicU64 = elapsed;
    let a = spawn_on(0, "yield-a", move || {
        yield_now();
        let t0 = rdtsc();
        for _ in 0..Y {
            yield_now();
        }
        e.store(rdtsc() - t0, Ordering::Relaxed);
    })
    .expect("spawn");
    let b = spawn_on(0, "yield-b", || {
        for _ in 0..Y + 2 {
            yield_now();
        }
    })
    .expect("spawn");
    a.join();
    b.join();
    let ctxsw = elapsed.load(Ordering::Relaxed) / (2 * Y);
    // IPI round trip: a shoot-down that flushes nothing, to another CPU (preemption off so
    // that "another" stays another).
    let ipi_rt = if ncpus() > 1 {
        let mut v = Vec::with_capacity(N);
        for _ in 0..N {
            super::preempt_disable();
            let other = (percpu::cpu_id() + 1) % ncpus();
            let t0 = rdtsc();
            tlb::shootdown(1 << other, Flush::Nothing);
            v.push(rdtsc() - t0);
            super::preempt_enable();
        }
        Some(median(&mut v))
    } else {
        None
    };
    println!(
        "selftest sched: figures (cycles at {} kHz): irq round trip {irq_rt} ({} ns), context switch {ctxsw} ({} ns), IPI round trip {}",
        time::tsc_khz(),
        ns(irq_rt),
        ns(ctxsw),
        match ipi_rt {
            Some(c) => alloc::format!("{c} ({} ns)", ns(c)),
            None => alloc::string::String::from("n/a (1 cpu)"),
        }
    );
}
