//! Cost of the eBPF load probes per context switch: a pipe ping-pong between two threads pinned to
//! CPU 0 (every round trip is two context switches and two wake-ups), timed without and with the
//! probes attached, in interleaved rounds of the same run. Needs root and the `ebpf` feature:
//!
//! ```sh
//! cargo bench -p p2pfaas-node --features ebpf --bench probe_cost          # add `chrt -f 50` to shut out CFS noise
//! ```
//!
//! Each variant (classic tracepoints or `tp_btf`; wake-to-run latency off, or on from `WAKE_TS` or from
//! the kernel's `sched_info` stamp, ebpf/README.md) is loaded, measured and dropped in turn; `tp_btf`
//! is skipped without kernel BTF.
//!
//! Results (2-vCPU Firecracker VM, kernel 6.18, Debian 12, 2026-11-27, commit ad32415, machine shared
//! with other builds, load average 1–7; 10 interleaved rounds of 50,000 round trips each; cost in ns
//! per context switch over the run without probes, min vs min / median vs median):
//!
//! | run | without probes (ns/switch) | classic, on | classic, off | `tp_btf`, on (`sched_info`) | `tp_btf`, on (`WAKE_TS`) | `tp_btf`, off |
//! |---|---|---|---|---|---|---|
//! | `chrt -f 50` | 1157 / 1165 | +296 / +300 | +121 / +118 | +73 / +73 | +216 / +215 | +72 / +71 |
//! | `chrt -f 50` | 1123 / 1164 | +324 / +310 | +160 / +126 | +88 / +82 | +231 / +223 | +94 / +73 |
//! | `chrt -f 50` | 1158 / 1163 | +294 / +297 | +120 / +122 | +78 / +78 | +209 / +217 | +72 / +81 |
//! | `chrt -f 50` | 1103 / 1131 | +274 / +307 | +134 / +139 | +73 / +100 | +201 / +211 | +63 / +72 |
//! | plain (load 4–5, medians unusable) | 1011 / 1619 | +259 / +384 | +216 / +112 | +167 / +28 | +205 / +206 | +69 / +41 |
//!
//! At 100k switches/s that is ≈ 0.7–0.9 % of a core for the default with kernel BTF (`tp_btf`, latency
//! from `sched_info`), the same as `tp_btf` without the latency (0.6–0.9 %), against 2.0–2.3 % for
//! `tp_btf` with `WAKE_TS` (the default before) and 2.7–3.2 % (classic, on) or 1.2–1.6 % (classic,
//! off). The kernel's own accounting (`sysctl kernel.bpf_stats_enabled=1`, `bpftool prog show`, under
//! `taskset -c 0 perf bench sched pipe -l 200000`, a node attached) gives, per run: `tp_btf`
//! sched_switch 95–98 ns with the `sched_info` latency and 91–95 ns without; classic sched_switch 170 ns
//! and sched_wakeup 130–135 ns (0.58 per switch), 121–125 ns without latency. That accounting includes
//! the stats' own clock reads and leaves out the classic tracepoint's record building.

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
