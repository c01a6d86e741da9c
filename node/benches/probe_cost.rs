//! Cost of the eBPF load probes per context switch: a pipe ping-pong between two threads pinned to
//! CPU 0 (every round trip is two context switches and two wake-ups), timed without and with the
//! probes attached, in interleaved rounds of the same run. Needs root and the `ebpf` feature:
//!
//! ```sh
//! cargo bench -p p2pfaas-node --features ebpf --bench probe_cost          # add `chrt -f 50` to shut out CFS noise
//! ```
//!
//! Each variant (classic tracepoints or `tp_btf`, wake-to-run latency on or off) is loaded, measured and
//! dropped in turn; `tp_btf` is skipped without kernel BTF.
//!
//! Results (2-vCPU Firecracker VM, kernel 6.18, Debian 12, 2026-11-27, machine shared with other
//! builds; 10 interleaved rounds of 50,000 round trips each; cost in ns per context switch over the
//! run without probes, min vs min / median vs median):
//!
//! | run | without probes (ns/switch) | classic, latency on | classic, off | `tp_btf`, on | `tp_btf`, off |
//! |---|---|---|---|---|---|
//! | `chrt -f 50` | 1159 / 1164 | +307 / +314 | +128 / +126 | +220 / +224 | +75 / +72 |
//! | `chrt -f 50` | 1158 / 1163 | +297 / +312 | +122 / +126 | +217 / +218 | +68 / +70 |
//! | plain | 1011 / 1016 | +271 / +277 | +119 / +128 | +213 / +215 | +71 / +75 |
//!
//! At 100k switches/s that is ≈ 2.7–3.1 % of a core (classic, latency on), 2.1–2.2 % (`tp_btf`, on),
//! 1.2–1.3 % (classic, off) and 0.7–0.75 % (`tp_btf`, off). The kernel's own accounting
//! (`sysctl kernel.bpf_stats_enabled=1`, `bpftool prog show`, under `taskset -c 0 perf bench sched pipe
//! -l 200000`) gives, per run: classic sched_switch 165–174 ns and sched_wakeup 133–146 ns (0.58 per
//! switch); `tp_btf` 138–145 and 115–124 ns; without latency 120–127 (classic) and 88–94 ns (`tp_btf`).
//! That accounting leaves out the classic tracepoint's record building, which `tp_btf` also saves.

use std::io::{Read, Write};
use std::time::Instant;

use p2pfaas_node::load::ebpf::{EbpfPrograms, Options, Probes, RunqSource};

const ROUND_TRIPS: u32 = 50_000;
const ROUNDS: usize = 10;

/// Nanoseconds per context switch for one ping-pong run.
fn ping_pong() -> f64 {
    let (mut a_rx, mut a_tx) = std::io::pipe().expect("pipe");
    let (mut b_rx, mut b_tx) = std::io::pipe().expect("pipe");
    let echo = std::thread::spawn(move || {
        monoio::utils::bind_to_cpu_set([0]).expect("pin echo thread");
        let mut byte = [0u8; 1];
        for _ in 0..ROUND_TRIPS {
            a_rx.read_exact(&mut byte).expect("read");
            b_tx.write_all(&byte).expect("write");
        }
    });
    monoio::utils::bind_to_cpu_set([0]).expect("pin main thread");
    let mut byte = [7u8; 1];
    let start = Instant::now();
    for _ in 0..ROUND_TRIPS {
        a_tx.write_all(&byte).expect("write");
        b_rx.read_exact(&mut byte).expect("read");
    }
    let elapsed = start.elapsed();
    echo.join().expect("echo thread");
    elapsed.as_nanos() as f64 / f64::from(ROUND_TRIPS * 2)
}

fn summary(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2])
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) only checks it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let options = |programs, runq_latency, sched_info| Options {
        pin_dir: None,
        kernel_btf: true,
        runq_latency,
        sched_info,
        programs,
    };
    let mut variants = vec![
        (
            "classic, runq latency on (WAKE_TS)   ",
            options(EbpfPrograms::Classic, true, true),
        ),
        (
            "classic, runq latency off            ",
            options(EbpfPrograms::Classic, false, true),
        ),
    ];
    if let Err(e) = Probes::load(&variants[0].1) {
        eprintln!("skipped: probes do not load here: {e}");
        return;
    }
    match Probes::load(&options(EbpfPrograms::Btf, true, true)) {
        Ok(probes) => {
            if probes.runq_source() != RunqSource::SchedInfo {
                eprintln!("note: this kernel's BTF has no sched_info stamp; tp_btf uses WAKE_TS");
            }
            variants.extend([
                (
                    "tp_btf,  runq latency on (sched_info)",
                    options(EbpfPrograms::Btf, true, true),
                ),
                (
                    "tp_btf,  runq latency on (WAKE_TS)   ",
                    options(EbpfPrograms::Btf, true, false),
                ),
                (
                    "tp_btf,  runq latency off            ",
                    options(EbpfPrograms::Btf, false, true),
                ),
            ]);
        }
        Err(e) => eprintln!("skipped: tp_btf variants ({e})"),
    }
    let mut without = Vec::new();
    let mut with: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _ in 0..ROUNDS {
        without.push(ping_pong());
        for ((_, opts), out) in variants.iter().zip(&mut with) {
            let probes = Probes::load(opts).expect("probes loaded a moment ago");
            out.push(ping_pong());
            drop(probes);
        }
    }
    let (w_min, w_med) = summary(&mut without);
    println!("without probes:                        {w_min:.0} ns/switch min, {w_med:.0} median");
    for ((name, _), v) in variants.iter().zip(&mut with) {
        let (min, med) = summary(v);
        println!(
            "{name}: {min:.0} ns/switch min, {med:.0} median; cost {:.0} (min vs min), {:.0} (median vs median)",
            min - w_min,
            med - w_med
        );
    }
}
