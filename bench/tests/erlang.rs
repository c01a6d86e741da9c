//! One real `p2pfaas-node` as a loss system against Erlang-B, through the experiment runner and the
//! checked-in spec `bench/specs/ci-single-node.toml` (K = 4, Q = 0, exponential service with mean
//! 20 ms, ρ ∈ {0.6, 1.0}, 15 s of Poisson arrivals per point: ≈ 1,800 and 3,000 arrivals).
//!
//! Then the same spec runs in the simulator (same seed, so the same arrival times) and each point's
//! blocking must agree with the live one within ±0.02.
//!
//! Tolerance: ±0.03 of Erlang-B at the load the node really offered (measured λ × mean holding time of
//! admitted jobs), as the issue asks; ±0.05 of the nominal Erlang-B(a = λ/μ). With 1,800–3,000 arrivals
//! the standard error of the blocking estimate is 0.007–0.008 for independent samples, 0.010–0.015
//! with the correlation between neighbouring arrivals, so ±0.03 is 2–4 standard errors. The nominal
//! band is looser because the node's slot holding time only matches `mean_ms` on average (its
//! `sleep` corrects the runtime timer's lateness with a running estimate).

mod common;

use p2pfaas_bench::experiment::{self, Options, report::Report, spec::Spec};
use p2pfaas_bench::sim::{self, SimOptions};

const TOLERANCE: f64 = 0.03;
/// Live against its simulated twin (the same spec and seed, so the same arrival times; the service
/// times are drawn by different RNGs): issue 8 asks for ±0.02.
const TWIN_TOLERANCE: f64 = 0.02;
const NOMINAL_TOLERANCE: f64 = 0.05;
/// A run whose sender was late by more than this at p99 did not produce Poisson arrivals (a starved
/// generator catches up in bursts, which raises blocking): it says nothing about the node. A tenth of
/// the mean service time.
const STARVED_P99_US: f64 = 2000.0;
const ATTEMPTS: usize = 3;

fn spec() -> Spec {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/specs/ci-single-node.toml");
    Spec::parse(&std::fs::read_to_string(path).expect("spec")).expect("valid spec")
}

#[test]
fn single_node_blocking_matches_erlang_b() {
    let Some(node_binary) = common::node_binary() else {
        return;
    };
    let spec = spec();
    let options = Options {
        node_binary,
        requests_dir: None,
        progress: true,
        load_weights: None,
    };
    for attempt in 1..=ATTEMPTS {
        let report = experiment::run(&spec, &options).expect("experiment runs");
        let late = report
            .rows
            .iter()
            .map(|r| r.send_error_p99_us)
            .fold(0.0, f64::max);
        if late > STARVED_P99_US {
            eprintln!(
                "attempt {attempt}: the generator was starved of CPU (send error p99 {late:.0} µs); \
                 this run does not count"
            );
            continue;
        }
        check(&report);
        let twin = sim::run(
            &spec,
            &SimOptions {
                arrivals: None,
                ..SimOptions::default()
            },
        )
        .expect("simulated twin");
        compare_twin(&report, &twin);
        return;
    }
    eprintln!("skipped: the machine was too busy for Poisson arrivals in {ATTEMPTS} attempts");
}

fn check(report: &Report) {
    eprint!("{}", report.markdown());
    assert_eq!(report.rows.len(), 2, "one row per ρ");
    for row in &report.rows {
        assert_eq!(row.failed, 0, "no request may time out or fail: {row:?}");
        assert_eq!(row.ok + row.rejected, row.sent, "{row:?}");
        let theory = row.theory.as_ref().expect("single-node rows carry theory");
        let expected_rate = row.rho * 200.0;
        assert!(
            (row.lambda[0] - expected_rate).abs() < 1e-9,
            "λ = ρ K μ: {:?}",
            row.lambda
        );
        assert!(
            (row.reject_rate - theory.blocking_effective).abs() <= TOLERANCE,
            "ρ = {}: measured {:.4}, Erlang-B at the offered a = {:.3}: {:.4}",
            row.rho,
            row.reject_rate,
            theory.a_effective,
            theory.blocking_effective
        );
        assert!(
            (row.reject_rate - theory.blocking).abs() <= NOMINAL_TOLERANCE,
            "ρ = {}: measured {:.4}, nominal Erlang-B(a = {:.1}) = {:.4}",
            row.rho,
            row.reject_rate,
            theory.a,
            theory.blocking
        );
    }
}

fn compare_twin(live: &Report, twin: &Report) {
    assert_eq!(twin.mode, "simulated");
    for (l, s) in live.rows.iter().zip(&twin.rows) {
        assert_eq!((l.rho, &l.scheduler), (s.rho, &s.scheduler));
        eprintln!(
            "ρ = {}: live {:.4}, simulated {:.4}, difference {:+.4}",
            l.rho,
            l.reject_rate,
            s.reject_rate,
            s.reject_rate - l.reject_rate
        );
        assert!(
            (l.reject_rate - s.reject_rate).abs() <= TWIN_TOLERANCE,
            "ρ = {}: live {:.4} vs simulated {:.4}",
            l.rho,
            l.reject_rate,
            s.reject_rate
        );
    }
}
