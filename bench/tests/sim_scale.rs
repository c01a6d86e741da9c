//! The simulator past the 64 nodes a live run starts: each node's view is bounded (64 peers, a window
//! that rotates), not the cluster. At 1,000 loss nodes without cooperation every node is Erlang-B, and
//! one probe at the threshold still cuts blocking.

use p2pfaas_bench::experiment::spec::Spec;
use p2pfaas_bench::sim::{self, SimOptions};

#[test]
fn a_thousand_nodes_block_as_erlang_b_alone_and_less_with_one_probe() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/fog-1000.toml");
    let spec = Spec::parse(&std::fs::read_to_string(path).expect("shipped spec")).expect("valid");
    assert_eq!(spec.cluster.nodes, 1000);
    let report = sim::run(
        &spec,
        &SimOptions {
            // Sized for the debug test profile.
            arrivals: Some(400_000),
            ..SimOptions::default()
        },
    )
    .expect("simulates");
    let row = |name: &str| {
        report
            .rows
            .iter()
            .find(|r| r.scheduler.starts_with(name))
            .unwrap_or_else(|| panic!("{name} row"))
    };
    let alone = row("NoScheduler");
    let k = spec.cluster.slots;
    let erlang = p2pfaas_bench::theory::erlang_b(alone.rho * k as f64, k as u32).expect("valid");
    let ci = alone.reject_rate_ci95.expect("batch means");
    assert!(
        (alone.reject_rate - erlang).abs() <= ci,
        "1000 × M/M/10/10 at ρ = {}: simulated {:.4} ± {ci:.4}, Erlang-B {erlang:.4}",
        alone.rho,
        alone.reject_rate
    );
    assert_eq!(alone.forwarded, 0.0);
    let probe = row("PowerOfNScheduler");
    assert!(
        probe.reject_rate < alone.reject_rate - 0.03,
        "one probe {:.4} vs none {:.4}",
        probe.reject_rate,
        alone.reject_rate
    );
    assert!(probe.forwarded > 0.1, "{}", probe.forwarded);
    assert_eq!(probe.sent, probe.ok + probe.rejected + probe.failed);
}

#[test]
fn a_live_run_refuses_more_nodes_than_it_can_start() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/fog-1000.toml");
    let spec = Spec::parse(&std::fs::read_to_string(path).expect("shipped spec")).expect("valid");
    let options = p2pfaas_bench::experiment::Options {
        node_binary: "/nonexistent/p2pfaas-node".into(),
        requests_dir: None,
        progress: false,
        load_weights: None,
    };
    let err = p2pfaas_bench::experiment::run(&spec, &options)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("cluster.nodes: a live run starts at most 64"),
        "{err}"
    );
}
