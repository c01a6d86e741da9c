//! The experiment runner's cluster options on real nodes: a link delay shows up in forwarded jobs'
//! latency (and only there), on loopback and between network namespaces.

mod common;

use p2pfaas_bench::experiment::{self, Options, spec::Spec};

/// Two nodes; every call goes to n0, which forwards it to n1 (`ForwardScheduler(1)`) across a link
/// with 20 ms of delay each way; the function sleeps exactly 10 ms.
fn spec(network: &str) -> Spec {
    Spec::parse(&format!(
        r#"
        name = "delay-{network}"
        [cluster]
        nodes = 2
        slots = 4
        network = "{network}"
        link_delay_ms = 20
        [function]
        builtin = "sleep"
        mean_ms = 10
        distribution = "fixed"
        [traffic]
        rho = [0.1]
        weights = [1.0, 0.0]
        duration_s = 3
        [[scheduler]]
        name = "ForwardScheduler"
        parameters = ["1"]
        [[scheduler]]
        name = "NoScheduler"
        parameters = ["false"]
        "#
    ))
    .expect("valid spec")
}

fn check(network: &str) {
    let Some(node_binary) = common::node_binary() else {
        return;
    };
    let options = Options {
        node_binary,
        requests_dir: None,
        progress: false,
        load_weights: None,
    };
    let report = experiment::run(&spec(network), &options).expect("experiment runs");
    eprint!("{}", report.markdown());
    let [forward, local] = report.rows.as_slice() else {
        panic!("two rows: {:?}", report.rows);
    };
    // λ = 0.1 × 4 × 100/s = 40/s on n0 for 3 s.
    assert!(forward.sent > 80, "{forward:?}");
    assert_eq!((forward.failed, forward.rejected), (0, 0), "{forward:?}");
    assert!(forward.forwarded > 0.99, "{forward:?}");
    // Client → n0 → (20 ms) → n1, 10 ms of work, → (20 ms) → n0 → client.
    assert!(
        (50.0..150.0).contains(&forward.p50_ms),
        "forwarded p50 {} ms",
        forward.p50_ms
    );
    assert!(local.forwarded == 0.0 && local.p50_ms < 40.0, "{local:?}");
}

#[test]
fn link_delay_applies_to_peer_traffic_on_loopback() {
    check("loopback");
}

#[test]
fn link_delay_applies_between_network_namespaces() {
    if !p2pfaas_bench::chaos::fault::is_root() {
        eprintln!("skipped: network namespaces need root");
        return;
    }
    check("netns");
}
