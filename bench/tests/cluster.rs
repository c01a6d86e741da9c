//! The experiment runner's cluster options on real nodes: a link delay shows up in forwarded jobs'
//! latency (and only there), on loopback and between network namespaces; nodes in namespaces measure
//! their load with eBPF and pin their maps where the host reads them.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use p2pfaas_bench::experiment::{self, Options, cluster::Cluster, spec::Spec};

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

/// Whether `node` was built with the `ebpf` feature (`p2pfaas-node load` says so when it was not).
fn built_with_ebpf(node: &Path) -> bool {
    let out = Command::new(node)
        .args(["load", "--pin-dir", "/nonexistent", "--count", "1"])
        .output()
        .expect("run p2pfaas-node load");
    !String::from_utf8_lossy(&out.stderr).contains("without the `ebpf` feature")
}

#[test]
fn nodes_in_namespaces_measure_with_ebpf_and_pin_in_their_own_directories() {
    if !p2pfaas_bench::chaos::fault::is_root() {
        eprintln!("skipped: network namespaces and eBPF need root");
        return;
    }
    let Some(node) = common::node_binary() else {
        return;
    };
    if !built_with_ebpf(&node) {
        eprintln!(
            "skipped: {} was built without the `ebpf` feature (cargo build -p p2pfaas-node --features ebpf)",
            node.display()
        );
        return;
    }
    // The spec's own `[load]` table (eBPF or fail, no fallback) gets each node's pin_dir added.
    let spec = Spec::parse(
        r#"
        name = "netns-ebpf"
        [cluster]
        nodes = 3
        slots = 2
        network = "netns"
        node_config = """
        [load]
        source = "ebpf"
        """
        [function]
        builtin = "sleep"
        mean_ms = 10
        [traffic]
        rho = [0.1]
        duration_s = 1
        [[scheduler]]
        name = "NoScheduler"
        parameters = ["false"]
        "#,
    )
    .expect("valid spec");
    let cluster =
        Cluster::start(&spec, &spec.schedulers[0], 1, &node).expect("a netns cluster starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sources = cluster.load_sources();
    while sources.iter().any(|s| s == "?") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        sources = cluster.load_sources();
    }
    assert_eq!(sources, ["ebpf"; 3]);
    let pin_dirs: Vec<_> = (0..3)
        .map(|i| {
            cluster
                .pin_dir(i)
                .expect("nodes in namespaces get a pin directory")
        })
        .collect();
    for (i, pins) in pin_dirs.iter().enumerate() {
        assert!(
            pin_dirs[..i].iter().all(|other| other != pins),
            "{pin_dirs:?}"
        );
        // The maps node i pinned from inside its namespace, read from here.
        let out = Command::new(&node)
            .args(["load", "--interval-ms", "100", "--count", "1", "--pin-dir"])
            .arg(pins)
            .output()
            .expect("run p2pfaas-node load");
        assert!(
            out.status.success(),
            "n{i}: p2pfaas-node load --pin-dir {}: {}",
            pins.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
