//! The simulator's faults (`[simulation]` probe and forward failures, forward timeouts, node crashes):
//! each ends the way the node's invocation state machine ends it live, with the same fallback reason in
//! the report, and every arrival is accounted for.

use p2pfaas_bench::experiment::report::Row;
use p2pfaas_bench::experiment::spec::Spec;
use p2pfaas_bench::sim::{self, SimOptions};

/// Three loss-free nodes (K = 4, Q = 4, 50 ms exponential service) at ρ = 0.7, one scheduler.
fn three_nodes(scheduler: &str, params: &[&str], simulation: &str) -> Spec {
    let params = params
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"
        name = "faults"
        [cluster]
        nodes = 3
        slots = 4
        queue_len = 4
        link_delay_ms = 1
        [function]
        builtin = "sleep"
        mean_ms = 50
        [traffic]
        rho = [0.7]
        duration_s = 1
        warmup_s = 1
        [simulation]
        arrivals = 20000
        {simulation}
        [[scheduler]]
        name = "{scheduler}"
        parameters = [{params}]
        "#
    );
    Spec::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn row(spec: &Spec) -> Row {
    let report = sim::run(spec, &SimOptions::default()).expect("simulates");
    let row = report.rows[0].clone();
    assert_eq!(
        row.sent,
        row.ok + row.rejected + row.failed,
        "every arrival is answered or failed"
    );
    row
}

fn fallbacks(row: &Row, reason: &str) -> u64 {
    row.fallbacks.get(reason).copied().unwrap_or(0)
}

#[test]
fn without_faults_nothing_falls_back_or_fails() {
    let r = row(&three_nodes("ForwardScheduler", &["1"], ""));
    assert_eq!(r.failed, 0);
    assert!(r.forwarded > 0.9, "{}", r.forwarded);
    assert_eq!(
        fallbacks(&r, "peer_failed") + fallbacks(&r, "peer_timeout"),
        0
    );
}

#[test]
fn failed_probes_leave_the_job_here_with_probes_failed() {
    let r = row(&three_nodes(
        "PowerOfNScheduler",
        &["2", "0", "false", "1"],
        "probe_failure = 1.0",
    ));
    assert_eq!(r.forwarded, 0.0, "no usable probe, no forward");
    assert!(
        fallbacks(&r, "probes_failed") as f64 > 0.99 * r.sent as f64,
        "{:?}",
        r.fallbacks
    );
    let half = row(&three_nodes(
        "PowerOfNScheduler",
        &["2", "0", "false", "1"],
        "probe_failure = 0.5",
    ));
    // Both probes fail a quarter of the time.
    let share = fallbacks(&half, "probes_failed") as f64 / half.sent as f64;
    assert!((share - 0.25).abs() < 0.02, "{share}");
}

#[test]
fn failed_and_timed_out_forwards_fall_back_once_with_their_reason() {
    let failed = row(&three_nodes(
        "ForwardScheduler",
        &["1"],
        "forward_failure = 1.0",
    ));
    assert_eq!(failed.forwarded, 0.0);
    assert!(fallbacks(&failed, "peer_failed") as f64 > 0.99 * failed.sent as f64);
    let timed_out = row(&three_nodes(
        "ForwardScheduler",
        &["1"],
        "forward_timeout = 1.0\nforward_timeout_ms = 200",
    ));
    assert!(fallbacks(&timed_out, "peer_timeout") as f64 > 0.99 * timed_out.sent as f64);
    // Every answer waited for the timeout first.
    assert!(timed_out.p50_ms >= 200.0, "{}", timed_out.p50_ms);
    let some = row(&three_nodes(
        "ForwardScheduler",
        &["1"],
        "forward_failure = 0.2\nforward_timeout = 0.1\nforward_timeout_ms = 20",
    ));
    let share = |reason| fallbacks(&some, reason) as f64 / some.sent as f64;
    assert!(
        (share("peer_failed") - 0.2).abs() < 0.02,
        "{:?}",
        some.fallbacks
    );
    assert!(
        (share("peer_timeout") - 0.1).abs() < 0.02,
        "{:?}",
        some.fallbacks
    );
    assert!((some.forwarded - 0.7).abs() < 0.03, "{}", some.forwarded);
}

#[test]
fn a_failed_chain_answers_through_every_hop() {
    // Two hops of forwarding, half the forwards failing, no queue: a middle node whose forward failed
    // and whose fallback finds no room answers 502, which its sender passes on as the peer's answer.
    let spec = three_nodes("ForwardScheduler", &["2"], "forward_failure = 0.5");
    let mut spec = spec;
    spec.cluster.queue_len = 0;
    spec.cluster.slots = 1;
    let r = row(&spec);
    assert!(r.failed > 0, "some 502s reach the client: {r:?}");
    assert!(fallbacks(&r, "peer_failed") > 0);
}

#[test]
fn a_crashed_peer_fails_forwards_until_the_view_drops_it() {
    // Node 2 crashes 3 s in and stays down; views refresh every 500 ms.
    let sim = "view_refresh_ms = 500\n[[simulation.crash]]\nnode = 2\nat_s = 3\n";
    let r = row(&three_nodes("ForwardScheduler", &["1"], sim));
    // Its own clients get no answer from then on.
    assert!(r.failed > 0);
    // Forwards to it fail (and run at their origin) only until the next refresh or the first failure.
    let failed = fallbacks(&r, "peer_failed");
    assert!(failed > 0, "{:?}", r.fallbacks);
    assert!(failed < 100, "{failed}: the dead peer left the views");
    // Without crashes nothing fails.
    let healthy = row(&three_nodes(
        "ForwardScheduler",
        &["1"],
        "view_refresh_ms = 500",
    ));
    assert_eq!(healthy.failed, 0);
}

#[test]
fn random_crashes_and_repairs_lose_only_what_the_crashed_node_held() {
    let sim = "mtbf_s = 20\nmttr_s = 2";
    let r = row(&three_nodes(
        "PowerOfNScheduler",
        &["1", "2", "false", "1"],
        sim,
    ));
    assert!(r.failed > 0, "some clients met a crashed node");
    // Nodes are down about mttr / (mtbf + mttr) ≈ 9% of the time.
    let lost = r.failed as f64 / r.sent as f64;
    assert!(lost < 0.2, "{lost}");
    // The same seed gives the same crashes.
    let again = row(&three_nodes(
        "PowerOfNScheduler",
        &["1", "2", "false", "1"],
        sim,
    ));
    assert_eq!(again, r);
}

#[test]
fn fault_knobs_are_checked() {
    for (knob, field) in [
        ("probe_failure = 1.5", "simulation.probe_failure"),
        (
            "forward_failure = 0.6\nforward_timeout = 0.6",
            "simulation.forward_timeout",
        ),
        ("mtbf_s = 10\nmttr_s = 0", "simulation.mttr_s"),
        (
            "[[simulation.crash]]\nnode = 3\nat_s = 1",
            "simulation.crash.node",
        ),
    ] {
        let spec = three_nodes("NoScheduler", &["false"], knob);
        let err = sim::run(&spec, &SimOptions::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with(field), "{knob}: {err}");
    }
}

#[test]
fn the_report_lists_fallback_reasons() {
    let spec = three_nodes("ForwardScheduler", &["1"], "forward_failure = 0.5");
    let report = sim::run(&spec, &SimOptions::default()).expect("simulates");
    let md = report.markdown();
    assert!(md.contains("| fallbacks |"), "{md}");
    let n = report.rows[0].fallbacks["peer_failed"];
    assert!(md.contains(&format!("peer_failed {n}")), "{md}");
    let json = serde_json::to_string(&report).expect("serialises");
    assert!(json.contains("\"fallbacks\":{\"peer_failed\":"), "{json}");
}
