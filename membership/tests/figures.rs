//! The figures quoted in the crate README, measured on the simulated
//! network with the default config (2–5 ms one-way latency, 5 ms steps),
//! and checked against the design targets with 10× headroom where the
//! style guide asks for it — the targets themselves are asserted in `sim.rs`.
//!
//! `cargo test -p p2pfaas-membership --release --test figures -- --nocapture`

mod support;

use std::time::Duration;

use p2pfaas_membership::{Config, State};
use support::{Sim, converged, median};

const SECOND: Duration = Duration::from_secs(1);
const SEEDS: [u64; 5] = [101, 102, 103, 104, 105];

/// Time until every survivor holds the crashed node dead.
fn crash_detection(n: usize, seed: u64, loss: f64) -> Duration {
    let mut sim = converged(n, seed);
    sim.loss = loss;
    sim.run_for(5 * SECOND);
    let victim = n / 2;
    sim.crash(victim);
    sim.run_until(30 * SECOND, |s| {
        s.live().all(|i| s.state_of(i, victim) == Some(State::Dead))
    })
    .expect("crash detected")
}

/// Time from a late node's `join` until every member knows it alive.
fn join_propagation(n: usize, seed: u64) -> Duration {
    let mut sim = Sim::new(n, seed, &Config::default());
    let last = n - 1;
    for i in 1..last {
        sim.join(i);
    }
    sim.crash(last);
    sim.run_until(10 * SECOND, Sim::converged)
        .expect("converges");
    sim.run_for(5 * SECOND);
    sim.nodes[last].up = true;
    sim.join(last);
    sim.run_until(10 * SECOND, Sim::converged)
        .expect("joiner known")
}

/// Mean bytes sent per node per second over a minute of steady state, with
/// every node changing its load `load_changes_per_s` times a second.
fn gossip_bytes(n: usize, seed: u64, load_changes_per_s: u32) -> f64 {
    let mut sim = converged(n, seed);
    sim.run_for(5 * SECOND);
    sim.sent_bytes.iter_mut().for_each(|b| *b = 0);
    let minute = 60 * SECOND;
    let start = sim.now;
    let every = (load_changes_per_s > 0).then(|| 1000 / u128::from(load_changes_per_s));
    let mut counter = 0;
    while sim.now - start < minute {
        if every.is_some_and(|ms| (sim.now - start).as_millis().is_multiple_of(ms)) {
            counter += 1;
            for i in 0..n {
                sim.set_load(i, counter);
            }
        }
        sim.step();
    }
    sim.sent_bytes.iter().sum::<u64>() as f64 / n as f64 / minute.as_secs_f64()
}

#[test]
fn figures_at_twelve_nodes() {
    let crash: Vec<Duration> = SEEDS.iter().map(|&s| crash_detection(12, s, 0.0)).collect();
    let crash_lossy: Vec<Duration> = SEEDS
        .iter()
        .map(|&s| crash_detection(12, s, 0.05))
        .collect();
    let join: Vec<Duration> = SEEDS.iter().map(|&s| join_propagation(12, s)).collect();
    println!("12 nodes, 5 seeds, default config:");
    println!(
        "  crash detected by all survivors: median {:?} (all: {crash:?})",
        median(crash.clone())
    );
    println!(
        "  same with 5% message loss:       median {:?} (all: {crash_lossy:?})",
        median(crash_lossy.clone())
    );
    println!(
        "  join known cluster-wide:         median {:?} (all: {join:?})",
        median(join.clone())
    );
    assert!(median(crash) <= 6 * SECOND);
    assert!(median(crash_lossy) <= 6 * SECOND);
    assert!(median(join) <= 2 * SECOND);
}

#[test]
fn gossip_traffic_per_node_is_flat_in_cluster_size() {
    let mut idle = Vec::new();
    for n in [6, 12, 24, 48] {
        let quiet = gossip_bytes(n, 7, 0);
        let busy = gossip_bytes(n, 7, 4);
        println!(
            "  {n:>2} nodes: {quiet:>7.0} B/node/s idle, {busy:>7.0} B/node/s with 4 load changes/s"
        );
        idle.push(quiet);
    }
    // Idle traffic is probes only: flat in cluster size (within 1.5×).
    let (lo, hi) = idle
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), &b| (lo.min(b), hi.max(b)));
    assert!(hi <= 1.5 * lo, "idle traffic grows with size: {idle:?}");
}
