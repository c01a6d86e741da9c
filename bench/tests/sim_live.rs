//! Simulated and live agree under a fault: one 3-node spec, all traffic into n0, which forwards every
//! job to a random peer (`ForwardScheduler(1)`); n1 is killed (SIGKILL, as `chaos kill` does) a quarter
//! into the run live, and crashes at the same time simulated (`[[simulation.crash]]`). Both runs drive
//! the same invocation state machine, so the reject rate and the forwarded share agree within ±0.03 and
//! both reports give the same fallback reasons: `peer_failed` (forwards to n1 until n0 stops using it,
//! and the jobs n1 held when it died) and `peer_refused` (n2, alone after the kill at ρ = 0.8 with two
//! slots and two queue places, turns some jobs away; n0 runs them itself).

mod common;

use std::io::sink;
use std::time::Duration;

use p2pfaas_bench::arrivals::{Process, Profile};
use p2pfaas_bench::experiment::cluster::Cluster;
use p2pfaas_bench::experiment::report::{Accumulator, Row};
use p2pfaas_bench::experiment::spec::Spec;
use p2pfaas_bench::load::{self, Class, Target};
use p2pfaas_bench::sim::{self, SimOptions};

/// Seconds of traffic; the kill comes at a quarter of them.
const SECONDS: f64 = 8.0;

fn spec() -> Spec {
    Spec::parse(&format!(
        r#"
        name = "kill-n1"
        [cluster]
        nodes = 3
        slots = 2
        queue_len = 2
        [function]
        builtin = "sleep"
        mean_ms = 50
        distribution = "fixed"
        [traffic]
        rho = [0.8]
        weights = [1.0, 0.0, 0.0]
        duration_s = {SECONDS}
        [simulation]
        view_refresh_ms = 1000
        [[simulation.crash]]
        node = 1
        at_s = {}
        [[scheduler]]
        name = "ForwardScheduler"
        parameters = ["1"]
        "#,
        SECONDS / 4.0
    ))
    .expect("valid spec")
}

fn live(spec: &Spec) -> Option<Row> {
    let node_binary = common::node_binary()?;
    let scheduler = &spec.schedulers[0];
    let cluster = Cluster::start(spec, scheduler, 7, &node_binary).expect("cluster starts");
    let rho = spec.traffic.rho[0];
    let lambda = spec.rates(rho);
    let load = load::Spec {
        targets: vec![Target {
            addr: cluster.addrs()[0],
            profile: Profile::constant(lambda[0]).expect("valid rate"),
        }],
        process: Process::Poisson,
        seed: 7,
        function: "work".to_owned(),
        classes: vec![Class::default()],
        timeout: Duration::from_secs(10),
        max_requests: (lambda[0] * SECONDS * 2.0) as u64 + 100,
        max_duration: Duration::from_secs_f64(SECONDS),
        connections: 8,
        max_connections: 256,
        spin: Duration::from_micros(200),
        progress: false,
    };
    let mut acc = Accumulator::new(0.0, vec![None]);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_secs_f64(SECONDS / 4.0));
            cluster.signal(1, "KILL").expect("kill n1");
        });
        load::run_with(&load, &mut sink(), |r| acc.add(r)).expect("load runs");
    });
    Some(acc.finish(scheduler.label(), 7, rho, lambda, None))
}

#[test]
fn a_killed_peer_live_and_a_crashed_node_simulated_agree() {
    let spec = spec();
    let Some(live) = live(&spec) else {
        return;
    };
    let simulated = sim::run(&spec, &SimOptions::default())
        .expect("simulates")
        .rows
        .remove(0);
    eprintln!(
        "live: reject {:.4} forwarded {:.3} failed {} fallbacks {:?}\n\
         simulated: reject {:.4} forwarded {:.3} failed {} fallbacks {:?}",
        live.reject_rate,
        live.forwarded,
        live.failed,
        live.fallbacks,
        simulated.reject_rate,
        simulated.forwarded,
        simulated.failed,
        simulated.fallbacks
    );
    assert!(
        (live.reject_rate - simulated.reject_rate).abs() <= 0.03,
        "reject: live {:.4}, simulated {:.4}",
        live.reject_rate,
        simulated.reject_rate
    );
    assert!(
        (live.forwarded - simulated.forwarded).abs() <= 0.03,
        "forwarded: live {:.3}, simulated {:.3}",
        live.forwarded,
        simulated.forwarded
    );
    let reasons = |r: &Row| r.fallbacks.keys().cloned().collect::<Vec<_>>();
    assert_eq!(reasons(&live), reasons(&simulated));
    assert!(
        simulated.fallbacks.contains_key("peer_failed"),
        "the crash shows as failed forwards: {:?}",
        simulated.fallbacks
    );
}
