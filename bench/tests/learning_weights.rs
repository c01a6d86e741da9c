//! Train in simulation, run live: `simulate --save-weights` writes each node's tables (the decision
//! agent's and the double decision's), a live cluster started with `--load-weights` serves exactly
//! those tables (with ε as the spec says), and weights of another state shape are refused with an
//! error naming the mismatch.

mod common;

use std::time::Duration;

use p2pfaas_bench::experiment::{self, spec::Spec};
use p2pfaas_bench::load::get_json;
use p2pfaas_bench::sim::{self, SimOptions};
use p2pfaas_core::learning::{Agent, Parameters, dims_for, weights};

/// Two nodes, one learning scheduler with the double decision, `features` extra state features.
fn spec(features: &str) -> Spec {
    Spec::parse(&format!(
        r#"
        name = "weights"
        [cluster]
        nodes = 2
        slots = 2
        queue_len = 2
        node_config = """
        [learner]
        state_features = [{features}]
        [learner.parameters]
        actions_n = 3
        alpha = 0.1
        epsilon_start = 0.25
        epsilon_min = 0.25
        """
        [function]
        builtin = "sleep"
        mean_ms = 20
        distribution = "exponential"
        [traffic]
        rho = [0.7]
        weights = [2.0, 0.5]
        duration_s = 1
        warmup_s = 0
        [[mix]]
        weight = 1
        deadline_ms = 40
        [[scheduler]]
        name = "LearningScheduler"
        parameters = ["1", "true"]
        "#
    ))
    .expect("valid spec")
}

#[test]
fn simulated_weights_start_live_nodes_and_a_mismatch_is_named() {
    let Some(node) = common::node_binary() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("p2pfaas-weights-{}", std::process::id()));
    let trained = spec("\"peer_load_0\"");
    sim::run(
        &trained,
        &SimOptions {
            arrivals: Some(20_000),
            threads: 1,
            save_weights: Some(dir.clone()),
            ..SimOptions::default()
        },
    )
    .expect("simulates");
    let label = trained.schedulers[0].label();
    let options = experiment::Options {
        node_binary: node,
        requests_dir: None,
        progress: false,
        load_weights: Some(dir.clone()),
    };
    let cluster = experiment::start_cluster(&trained, &trained.schedulers[0], 1, &options)
        .expect("nodes start from the saved weights");
    for (i, addr) in cluster.addrs().into_iter().enumerate() {
        let bytes = std::fs::read(sim::weights_file(&dir, &label, i)).expect("saved");
        let agent = |actions_n| {
            Agent::new(
                dims_for(1, 1),
                Parameters {
                    actions_n,
                    ..Parameters::default()
                },
            )
            .expect("valid")
        };
        let (decision, acceptance) = (agent(3), agent(2));
        weights::decode(&decision, &acceptance, &bytes).expect("the file fits its own shape");
        for (what, expected, path) in [
            ("decision", &decision, "/learner/weights"),
            ("acceptance", &acceptance, "/learner/acceptance/weights"),
        ] {
            assert!(
                expected.stats().states > 0,
                "n{i}'s {what} agent learned something in simulation: {:?}",
                expected.stats()
            );
            let live = get_json(addr, path, Duration::from_secs(5)).expect("weights");
            assert_same_table(&live, &expected.weights(), &format!("n{i} {what}"));
        }
        let stats = get_json(addr, "/learner/stats", Duration::from_secs(5)).expect("stats");
        assert_eq!(stats["epsilon"].as_f64(), Some(0.25), "ε as the spec says");
    }
    drop(cluster);
    // The same files for nodes whose state has another feature: refused, naming the field.
    let wider = spec("\"peer_load_0\", \"speed\"");
    let err = experiment::start_cluster(&wider, &wider.schedulers[0], 1, &options)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("n0") && err.contains("`dims`: file has 4, value function has 5"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same states with the same f32 values (the JSON of f32s may differ in the last printed digit).
fn assert_same_table(live: &serde_json::Value, want: &serde_json::Value, what: &str) {
    assert_eq!(
        live["states_map"], want["states_map"],
        "{what}: the same states"
    );
    let numbers = |v: &serde_json::Value| -> Vec<f64> {
        v["table"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|row| row.as_array().into_iter().flatten())
            .filter_map(serde_json::Value::as_f64)
            .collect()
    };
    let (live_q, want_q) = (numbers(live), numbers(want));
    assert_eq!(live_q.len(), want_q.len(), "{what}");
    for (a, b) in live_q.iter().zip(&want_q) {
        assert!(
            (a - b).abs() < 1e-6,
            "{what} serves the simulated table: {a} vs {b}"
        );
    }
}
