//! Cost of the eBPF load probes per context switch: a pipe ping-pong between two threads pinned to
//! CPU 0 (every round trip is two context switches and two wake-ups), timed in short segments with
//! the switch-path programs attached and detached. Needs root and the `ebpf` feature:
//!
//! ```sh
//! chrt -f 50 cargo bench -p p2pfaas-node --features ebpf --bench probe_cost   # chrt shuts out CFS noise
//! ```
//!
//! **Method.** Every variant is loaded once, up front, and stays loaded; between segments (not inside
//! them: an attach patches kernel text) the bench attaches or detaches one variant's `sched_switch`
//! program ([`Probes::set_switch_attached`]). A segment is a fixed number of round trips (≈ 11 ms
//! here) after CPU 0 idled for 1 ms. Each measurement is a quad of segments in the order A B B A
//! (A: nothing attached, B: the variant attached), whose estimate (B₁ + B₂ − A₁ − A₂) / 2 cancels any
//! drift of the machine's speed that is linear over the quad's ≈ 50 ms. The lines take turns, one quad
//! each per round, for [`BUDGET`], so each sees the same conditions over the run; each reports the
//! median of its quads and a distribution-free 95 % confidence interval of that median.
//!
//! **Wake-up sampling.** Where the programs time wake-ups themselves (`classic runq=on`: `WAKE_TS`), a
//! running node attaches `sched_wakeup` and raises `WAKE_WINDOW` one sample interval in [`WAKE_CYCLE`].
//! A separate line measures that window's extra cost per switch (A: the variant attached, window
//! closed; B: window open), and the variant's figure adds its 1/[`WAKE_CYCLE`] share (and the same
//! share of the window's interval bounds to the switch line's, a conservative interval). Left out: the
//! sampler's map reads (on another CPU in the node) and the window's attach and detach, once a cycle
//! each (a few µs a second).
//!
//! **Proof of the method**, in every run: an **A/A** line (A and B identical: must read ≈ 0 with a
//! confidence interval holding 0) and a **calibration** line (B adds a busy spin per switch, itself
//! timed in the same run: must read back that spin within the interval). The run says whether both
//! held. Then one pass per variant with the kernel's BPF run-time statistics on gives the programs'
//! own time per switch (`kernel-timed`: all their run time over the `sched_switch` runs, one sampling
//! cycle with the window open in its first tenth), which leaves out the call into the programs.
//!
//! **Sampled waits.** The `runq=on` variants time a random 1 in 4 wake-to-run waits, as a node does
//! at the ping-pong's switch rate (above `SAMPLE_ABOVE` switches/s); `runq=on, every wait` times
//! every one, side by side in the same run.
//!
//! Output, one line per variant (`classic` names the raw tracepoint programs a kernel without BTF
//! loads; `tp_btf` is skipped without kernel BTF): `classic runq=on: 120 ns/switch, 1.20% of a core
//! at 100k switches/s`, then the classic/`tp_btf` ratios, wall-clock and kernel-timed.
//!
//! Results (2-vCPU Firecracker VM, AMD EPYC, kernel 6.18, 2026-12-08, nothing else running), ns per
//! switch, in 4 runs: classic on 105–114 (every wait 115–135), off 79–95; `tp_btf` on 105–123 (every
//! wait 106–131), off 91–101; classic/`tp_btf` on 0.86–1.02×. An empty program on `sched_switch` (a
//! scratch line, not kept) cost 65 (61, 72) here: the kernel's call into any program, which is most
//! of the figures; ebpf/README.md ("Cost") has every run and the split.

use std::io::{PipeReader, PipeWriter, Read, Write};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use p2pfaas_node::load::ebpf::{EbpfPrograms, Options, Probes, RunqSource, WAKE_CYCLE};

/// Round trips (two switches each) per timed segment.
const ROUND_TRIPS: u32 = 2_000;

/// How long the lines take turns; a round of quads is ≈ 0.4 s, so a few hundred quads per line.
const BUDGET: Duration = Duration::from_secs(140);

/// The calibration line's busy spin per switch, roughly (the run times what it really costs).
const SPIN_NS: f64 = 100.0;

/// A pipe ping-pong with an echo thread, both on CPU 0, kept for the whole run: the thread is created
/// after the probes are loaded, so every variant tracks it as one of the node's threads (switches
/// between the two count alike, as between a node's threads).
struct PingPong {
    tx: PipeWriter,
    rx: PipeReader,
    echo: Option<JoinHandle<()>>,
}

impl PingPong {
    fn start() -> Self {
        let (mut a_rx, a_tx) = std::io::pipe().expect("pipe");
        let (b_rx, mut b_tx) = std::io::pipe().expect("pipe");
        let echo = std::thread::spawn(move || {
            monoio::utils::bind_to_cpu_set([0]).expect("pin echo thread");
            let mut byte = [0u8; 1];
            loop {
                a_rx.read_exact(&mut byte).expect("read");
                b_tx.write_all(&byte).expect("write");
                // Byte 0 ends the thread.
                if byte[0] == 0 {
                    break;
                }
            }
        });
        monoio::utils::bind_to_cpu_set([0]).expect("pin main thread");
        Self {
            tx: a_tx,
            rx: b_rx,
            echo: Some(echo),
        }
    }

    /// One segment: CPU 0 idles a moment (as CPUs do many times a second on a running node, and the
    /// raw tracepoint programs learn a CPU's idle task when it first leaves the CPU), then
    /// [`ROUND_TRIPS`] round trips, each with `spin` spin iterations; nanoseconds per switch.
    fn segment(&mut self, spin: u64) -> f64 {
        std::thread::sleep(Duration::from_millis(1));
        let mut byte = [7u8; 1];
        let start = Instant::now();
        for _ in 0..ROUND_TRIPS {
            busy(spin);
            self.tx.write_all(&byte).expect("write");
            self.rx.read_exact(&mut byte).expect("read");
        }
        start.elapsed().as_nanos() as f64 / f64::from(2 * ROUND_TRIPS)
    }
}

impl Drop for PingPong {
    fn drop(&mut self) {
        let mut byte = [0u8; 1];
        self.tx.write_all(&byte).expect("write");
        self.rx.read_exact(&mut byte).expect("read");
        if let Some(echo) = self.echo.take() {
            echo.join().expect("echo thread");
        }
    }
}

fn busy(iterations: u64) {
    for i in 0..iterations {
        std::hint::black_box(i);
    }
}

/// Spin iterations per round trip that add about [`SPIN_NS`] per switch.
fn spin_iterations() -> u64 {
    const TRIAL: u64 = 1_000;
    let mut per_iteration: Vec<f64> = (0..5).map(|_| spin_ns(TRIAL) / TRIAL as f64).collect();
    (SPIN_NS / Estimate::of(&mut per_iteration).median).round() as u64
}

/// What the spin of [`PingPong::segment`] costs per switch: the same loop, without the pipes.
fn spin_ns(spin: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..ROUND_TRIPS {
        busy(spin);
    }
    start.elapsed().as_nanos() as f64 / f64::from(2 * ROUND_TRIPS)
}

/// A loaded variant.
struct Variant {
    name: &'static str,
    probes: Probes,
    /// Wake-to-run waits sampled (what a node does above `SAMPLE_ABOVE` switches/s, so at the
    /// ping-pong's rate), or every one timed.
    sampling: bool,
}

impl Variant {
    /// Opens or closes the wake-up window; the sampling mode, which the window's moves let follow the
    /// switch rate, is then set back to the variant's.
    fn set_window(&mut self, open: bool) {
        set_window(&mut self.probes, open);
        self.probes
            .set_runq_sampling(self.sampling)
            .expect("set the wake-to-run sampling");
    }
}

/// What is attached during a segment: a variant's `sched_switch` (its index), with its wake-up
/// window open or not; or nothing, with the calibration spin or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    attached: Option<usize>,
    window: bool,
    spin: bool,
}

const NOTHING: State = State {
    attached: None,
    window: false,
    spin: false,
};

/// What a line compares: its A and B states.
#[derive(Debug, Clone, Copy)]
enum Line {
    /// A and B alike.
    Aa,
    /// B adds the spin.
    Calibration,
    /// B has the variant's `sched_switch`.
    Switch(usize),
    /// The variant's `sched_switch` in both; B has the wake-up window open.
    Window(usize),
}

impl Line {
    fn states(self) -> (State, State) {
        let attached = |v| State {
            attached: Some(v),
            ..NOTHING
        };
        match self {
            Self::Aa => (NOTHING, NOTHING),
            Self::Calibration => (
                NOTHING,
                State {
                    spin: true,
                    ..NOTHING
                },
            ),
            Self::Switch(v) => (NOTHING, attached(v)),
            Self::Window(v) => (
                attached(v),
                State {
                    window: true,
                    ..attached(v)
                },
            ),
        }
    }
}

/// The variants, the ping-pong and what is attached now.
struct Bench {
    variants: Vec<Variant>,
    ping: PingPong,
    now: State,
    spin: u64,
}

impl Bench {
    fn set(&mut self, to: State) {
        let from = self.now;
        if let Some(v) = from.attached
            && (from.attached != to.attached || from.window != to.window)
        {
            let variant = &mut self.variants[v];
            variant.set_window(false);
            if from.attached != to.attached {
                variant
                    .probes
                    .set_switch_attached(false)
                    .expect("detach sched_switch");
            }
        }
        if let Some(v) = to.attached {
            let variant = &mut self.variants[v];
            variant
                .probes
                .set_switch_attached(true)
                .expect("attach sched_switch");
            variant.set_window(to.window);
        }
        self.now = to;
    }

    /// One segment in state `state`.
    fn segment(&mut self, state: State) -> f64 {
        self.set(state);
        let spin = if state.spin { self.spin } else { 0 };
        self.ping.segment(spin)
    }

    /// One A B B A quad of `line`: its estimate of B − A, and the first A segment.
    fn quad(&mut self, line: Line) -> (f64, f64) {
        let (a, b) = line.states();
        let t = [a, b, b, a].map(|state| self.segment(state));
        ((t[1] + t[2] - t[0] - t[3]) / 2.0, t[0])
    }

    /// The programs' own time per switch (BPF run-time statistics on for this pass only: they add two
    /// clock reads per program run, which the timed segments must not pay), over one sampling cycle.
    /// `None` where the kernel keeps no statistics.
    fn kernel_timed(&mut self, v: usize) -> Option<f64> {
        let _stats = aya::sys::enable_stats(aya::sys::Stats::RunTime).ok()?;
        let before = program_totals(&self.variants[v].probes);
        for i in 0..WAKE_CYCLE {
            self.segment(State {
                attached: Some(v),
                window: i == 0,
                spin: false,
            });
        }
        self.set(NOTHING);
        let after = program_totals(&self.variants[v].probes);
        let switches = after.0.checked_sub(before.0).filter(|&n| n > 0)?;
        Some((after.1 - before.1).as_nanos() as f64 / switches as f64)
    }
}

/// Opens or closes a variant's wake-up window (nothing where it has none) the way the node does:
/// by sampling, which moves the window on one interval per call.
fn set_window(probes: &mut Probes, open: bool) {
    while probes.wake_window_open() == Some(!open) {
        probes.sample().expect("sample the maps");
    }
}

/// `sched_switch` runs and all programs' run time, as the kernel has counted them so far.
fn program_totals(probes: &Probes) -> (u64, Duration) {
    let stats = probes.program_stats();
    let switches = stats
        .iter()
        .filter(|(name, ..)| name.starts_with("sched_switch"))
        .map(|&(_, runs, _)| runs)
        .sum();
    (switches, stats.iter().map(|&(.., time)| time).sum())
}

/// A median and its 95 % confidence interval.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    median: f64,
    low: f64,
    high: f64,
}

impl Estimate {
    /// The median of `v` and a distribution-free 95 % confidence interval for it: the order
    /// statistics n/2 ∓ 0.98·√n (the number of values below the median is binomial, p = ½).
    fn of(v: &mut [f64]) -> Self {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let half = 0.98 * (n as f64).sqrt();
        let at = |rank: f64| v[(rank.max(0.0) as usize).min(n - 1)];
        Self {
            median: v[n / 2],
            low: at((n as f64 / 2.0 - half).floor()),
            high: at((n as f64 / 2.0 + half).ceil()),
        }
    }

    fn holds(&self, x: f64) -> bool {
        (self.low..=self.high).contains(&x)
    }
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:+.1} ns/switch (95% CI {:+.1} to {:+.1})",
            self.median, self.low, self.high
        )
    }
}

/// classic / `tp_btf` cost with the run-queue latency `runq` (`on`, `off`), from per-variant costs.
fn ratio(costs: &[(&str, f64)], runq: &str) -> Option<f64> {
    let find = |kind: &str| {
        let name = format!("{kind} runq={runq}");
        costs.iter().find(|(n, _)| *n == name).map(|&(_, ns)| ns)
    };
    Some(find("classic")? / find("tp_btf")?.max(1.0))
}

fn loadavg() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn load_variants() -> Option<Vec<Variant>> {
    let options = |programs, runq_latency| Options {
        pin_dir: None,
        kernel_btf: true,
        runq_latency,
        sched_info: true,
        programs,
    };
    let mut specs = vec![
        (
            "classic runq=on",
            options(EbpfPrograms::Classic, true),
            true,
        ),
        (
            "classic runq=on, every wait",
            options(EbpfPrograms::Classic, true),
            false,
        ),
        (
            "classic runq=off",
            options(EbpfPrograms::Classic, false),
            true,
        ),
        ("tp_btf runq=on", options(EbpfPrograms::Btf, true), true),
        (
            "tp_btf runq=on, every wait",
            options(EbpfPrograms::Btf, true),
            false,
        ),
        ("tp_btf runq=off", options(EbpfPrograms::Btf, false), true),
    ];
    let mut variants = Vec::new();
    for (name, options, sampling) in specs.drain(..) {
        let mut probes = match Probes::load(&options) {
            Ok(p) => p,
            Err(e) if variants.is_empty() => {
                eprintln!("skipped: probes do not load here: {e}");
                return None;
            }
            Err(e) => {
                eprintln!("skipped: {name} ({e})");
                continue;
            }
        };
        if name == "tp_btf runq=on" && probes.runq_source() != RunqSource::SchedInfo {
            eprintln!("note: this kernel's BTF has no sched_info stamp; tp_btf uses WAKE_TS");
        }
        probes
            .set_switch_attached(false)
            .expect("detach sched_switch");
        let mut variant = Variant {
            name,
            probes,
            sampling,
        };
        // Loaded with everything attached (and the first wake-up window open): start from nothing.
        variant.set_window(false);
        variants.push(variant);
    }
    Some(variants)
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) only checks it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let Some(variants) = load_variants() else {
        return;
    };
    let started = loadavg();
    let mut bench = Bench {
        variants,
        ping: PingPong::start(),
        now: NOTHING,
        spin: spin_iterations(),
    };
    let mut lines = vec![Line::Aa, Line::Calibration];
    // Per variant: the index of its switch line and of its window line, if it has a window.
    let mut of_variant = Vec::new();
    for (v, variant) in bench.variants.iter().enumerate() {
        let switch = lines.len();
        lines.push(Line::Switch(v));
        let window = variant.probes.wake_window_open().map(|_| {
            lines.push(Line::Window(v));
            lines.len() - 1
        });
        of_variant.push((switch, window));
    }
    // Warm-up: one segment of each state, not counted.
    for &line in &lines {
        let (a, b) = line.states();
        bench.segment(a);
        bench.segment(b);
    }
    let mut quads: Vec<Vec<f64>> = vec![Vec::new(); lines.len()];
    let mut baseline = Vec::new();
    let mut spins = Vec::new();
    let start = Instant::now();
    while start.elapsed() < BUDGET {
        for (&line, quads) in lines.iter().zip(&mut quads) {
            if let Line::Calibration = line {
                spins.push(spin_ns(bench.spin));
            }
            let (estimate, a) = bench.quad(line);
            quads.push(estimate);
            if let Line::Aa = line {
                baseline.push(a);
            }
        }
    }
    bench.set(NOTHING);
    let estimates: Vec<Estimate> = quads.iter_mut().map(|q| Estimate::of(q)).collect();
    let rounds = quads[0].len();
    println!(
        "without probes: {:.0} ns/switch (median of {rounds} segments of {ROUND_TRIPS} round trips; \
         load average {started} at start, {} at end)",
        Estimate::of(&mut baseline).median,
        loadavg()
    );
    // The method's own checks.
    let aa = estimates[0];
    let spin = Estimate::of(&mut spins).median;
    let calibration = estimates[1];
    println!("A/A (nothing changes): {aa}, {rounds} A B B A quads");
    println!("calibration (B spins {spin:.1} ns/switch, timed in this run): {calibration}");
    if aa.holds(0.0) && calibration.holds(spin) {
        println!(
            "method check: passed (A/A interval holds 0, calibration interval holds the spin)"
        );
    } else {
        println!("method check: FAILED: the figures below cannot be trusted");
    }
    let mut costs = Vec::new();
    for (variant, &(switch, window)) in bench.variants.iter().zip(&of_variant) {
        let switch = estimates[switch];
        let window = window.map(|w| estimates[w]);
        let share = f64::from(WAKE_CYCLE);
        let ns = switch.median + window.map_or(0.0, |w| w.median / share);
        // At 100k switches/s, 1 ns per switch is 0.01 % of a core.
        println!(
            "{}: {ns:.0} ns/switch, {:.2}% of a core at 100k switches/s",
            variant.name,
            ns / 100.0
        );
        match window {
            Some(w) => println!(
                "  sched_switch {switch}; wake-up window {w}, counted 1/{WAKE_CYCLE}: 95% CI \
                 {:.0} to {:.0} ns/switch",
                switch.low + w.low / share,
                switch.high + w.high / share
            ),
            None => println!("  sched_switch {switch}"),
        }
        costs.push((variant.name, ns));
    }
    let mut timed = Vec::new();
    for v in 0..bench.variants.len() {
        if let Some(ns) = bench.kernel_timed(v) {
            let name = bench.variants[v].name;
            println!("{name}: {ns:.0} ns/switch in the programs (kernel-timed)");
            timed.push((name, ns));
        }
    }
    for runq in ["on", "on, every wait", "off"] {
        if let Some(r) = ratio(&costs, runq) {
            println!("classic/tp_btf runq={runq}: {r:.2}x");
        }
        if let Some(r) = ratio(&timed, runq) {
            println!("classic/tp_btf runq={runq}, kernel-timed: {r:.2}x");
        }
    }
}
