//! The simulator against queueing theory and against itself: one node is Erlang-B (and M/M/K/K+Q with
//! a queue), one probe at the threshold blocks about as little as power-of-two on 12 nodes, and a seed
//! fixes the results bit for bit. Arrival counts are sized for the debug test profile (a few seconds).

use p2pfaas_bench::experiment::report::Report;
use p2pfaas_bench::experiment::spec::Spec;
use p2pfaas_bench::sim::{self, SimOptions};

fn spec(text: &str) -> Spec {
    Spec::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn shipped(name: &str) -> Spec {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("specs")
        .join(name);
    spec(&std::fs::read_to_string(&path).expect("shipped spec"))
}

fn simulate(spec: &Spec, arrivals: Option<u64>) -> Report {
    sim::run(
        spec,
        &SimOptions {
            arrivals,
            progress: false,
        },
    )
    .expect("simulates")
}

fn single_node(k: usize, q: usize, scheduler: &str) -> Spec {
    spec(&format!(
        r#"
        name = "mmkk"
        [cluster]
        nodes = 1
        slots = {k}
        queue_len = {q}
        [function]
        builtin = "sleep"
        mean_ms = 1000
        [traffic]
        rho = [0.6, 0.8, 1.0]
        duration_s = 1
        warmup_s = 50
        [simulation]
        arrivals = 150000
        [[scheduler]]
        name = "NoScheduler"
        parameters = ["{scheduler}"]
        "#
    ))
}

#[test]
fn one_loss_node_blocks_as_erlang_b_within_the_95_ci() {
    for k in [4, 10] {
        let report = simulate(&single_node(k, 0, "true"), None);
        for row in &report.rows {
            let theory = row.theory.as_ref().expect("single node: theory").blocking;
            let a = row.rho * k as f64;
            let b = p2pfaas_bench::theory::erlang_b(a, k as u32).expect("valid");
            assert!((theory - b).abs() < 1e-12);
            let ci = row.reject_rate_ci95.expect("batch means");
            assert!(ci < 0.01, "K={k} ρ={}: CI ±{ci} too wide to test", row.rho);
            assert!(
                (row.reject_rate - b).abs() <= ci,
                "K={k} ρ={}: simulated {:.4} ± {ci:.4}, Erlang-B {b:.4}",
                row.rho,
                row.reject_rate
            );
            assert_eq!(row.failed, 0);
            assert_eq!(row.load_sources, ["simulated"]);
        }
        assert_eq!(report.mode, "simulated");
    }
}

#[test]
fn one_queueing_node_blocks_as_mmkq_within_the_95_ci() {
    let report = simulate(&single_node(4, 4, "false"), None);
    for row in &report.rows {
        let theory = row.theory.as_ref().expect("single node: theory").blocking;
        let ci = row.reject_rate_ci95.expect("batch means");
        assert!(
            (row.reject_rate - theory).abs() <= ci,
            "ρ={}: simulated {:.4} ± {ci:.4}, M/M/4/4+4 {theory:.4}",
            row.rho,
            row.reject_rate
        );
    }
}

#[test]
fn one_probe_at_the_threshold_blocks_like_power_of_two_on_12_nodes() {
    let report = simulate(&shipped("cooperation-12.toml"), Some(300_000));
    let reject = |scheduler: &str, rho: f64| {
        report
            .rows
            .iter()
            .find(|r| r.scheduler == scheduler && r.rho == rho)
            .map(|r| r.reject_rate)
            .unwrap_or_else(|| panic!("{scheduler} at {rho}"))
    };
    for rho in [0.8, 0.9] {
        let none = reject("NoScheduler(true)", rho);
        let one_probe = reject("PowerOfNScheduler(1, 9, true, 1)", rho);
        let two_choices = reject("JSQ(1)", rho);
        assert!(
            (one_probe - two_choices).abs() <= 0.005,
            "ρ={rho}: PowerOfN {one_probe:.4} vs power-of-two {two_choices:.4}"
        );
        assert!(
            one_probe < none / 2.0 && two_choices < none / 2.0,
            "ρ={rho}: cooperation {one_probe:.4}/{two_choices:.4} vs none {none:.4}"
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_results_bit_for_bit() {
    // Every scheduler the demo compares (learning with deadline rewards included), with link and
    // probe delays and a stale view, so every event kind runs.
    let mut spec = shipped("demo.toml");
    spec.cluster.link_delay_ms = 2.0;
    spec.simulation.probe_delay_ms = 1.0;
    spec.simulation.view_refresh_ms = 250.0;
    let json = |r: &Report| serde_json::to_string(&r.rows).expect("serialises");
    let a = simulate(&spec, None);
    let b = simulate(&spec, None);
    assert_eq!(json(&a), json(&b));
    assert_eq!(a.rows.len(), spec.schedulers.len());
    // Cooperation actually happened, and the learner was rewarded against deadlines.
    assert!(a.rows.iter().any(|r| r.forwarded > 0.0));
    assert!(a.rows.iter().all(|r| r.deadline_met.is_some()));
    spec.traffic.seeds = vec![2];
    assert_ne!(json(&a), json(&simulate(&spec, None)));
}

#[test]
fn live_reports_without_confidence_intervals_still_parse_and_compare() {
    let sim = simulate(&single_node(4, 0, "true"), Some(2000));
    let mut live = sim.clone();
    live.mode = "live".to_owned();
    for row in &mut live.rows {
        row.reject_rate_ci95 = None;
        row.deadline_met_ci95 = None;
        row.mean_ms_ci95 = None;
        row.reject_rate += 0.01;
    }
    let text = serde_json::to_string(&live).expect("serialises");
    assert!(!text.contains("ci95"), "live JSON unchanged");
    let live: Report = serde_json::from_str(&text).expect("parses");
    let table = sim::compare::table(&live, &sim);
    assert!(table.contains("| NoScheduler(true) | 0.6 |"), "{table}");
    assert!(table.contains("-0.0100"), "{table}");
}
