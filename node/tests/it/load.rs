//! The load sampler as seen from outside: `/monitoring/load` keeps its original fields and gains a
//! `sample`, `/metrics` names the source, and a forced fallback source is honoured.

use std::time::{Duration, Instant};

use crate::harness::{BASE_CONFIG, Node};
use crate::nodetest;

/// Polls `/monitoring/load` until the sampler has published a first sample.
fn first_sample(node: &Node) -> serde_json::Value {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = node.get("/monitoring/load");
        assert_eq!(reply.status, 200);
        let body = reply.json();
        if body["sample"]["source"] != "none" || Instant::now() > end {
            return body;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

nodetest!(
    monitoring_load_keeps_its_fields_and_adds_a_sample,
    |driver| {
        let node = Node::start(driver, BASE_CONFIG, &[]);
        let body = first_sample(&node);
        for key in [
            "running",
            "queued",
            "load",
            "slots",
            "queue_len",
            "functions",
            "task_types",
        ] {
            assert!(body.get(key).is_some(), "missing {key}: {body}");
        }
        let s = &body["sample"];
        let source = s["source"].as_str().unwrap_or_default();
        assert!(["ebpf", "psi", "procfs"].contains(&source), "{body}");
        let util = s["utilisation"].as_f64().expect("utilisation is a number");
        assert!((0.0..=1.0).contains(&util), "{s}");
        assert!(s["cpus"].as_u64().is_some_and(|n| n >= 1), "{s}");
        assert!(
            s["timestamp_ms"]
                .as_u64()
                .is_some_and(|t| t > 1_600_000_000_000),
            "{s}"
        );

        let metrics = node.get("/metrics").text();
        let info = metrics
            .lines()
            .find(|l| l.starts_with("p2pfaas_load_source_info{"))
            .unwrap_or_else(|| panic!("no p2pfaas_load_source_info in {metrics}"));
        assert!(info.contains(&format!("source=\"{source}\"")), "{info}");
        assert!(
            metrics.contains("\np2pfaas_load_cpu_utilisation "),
            "{metrics}"
        );
    }
);

nodetest!(
    forced_procfs_source_is_used_and_explains_nothing,
    |driver| {
        let config =
            format!("{BASE_CONFIG}\n[load]\nsource = \"procfs\"\nsample_interval_ms = 20\n");
        let node = Node::start(driver, &config, &[]);
        let body = first_sample(&node);
        assert_eq!(body["sample"]["source"], "procfs", "{body}");
        assert!(body["sample"]["cpu_pressure"].is_null(), "{body}");
        assert!(body["sample"]["runq_latency_p50_us"].is_null(), "{body}");
        let metrics = node.get("/metrics").text();
        assert!(
            metrics.contains("p2pfaas_load_source_info{source=\"procfs\",reason=\"\"} 1\n"),
            "{metrics}"
        );
    }
);

#[test]
fn load_subcommand_checks_its_arguments_and_explains_missing_maps() {
    use std::process::Command;
    let run = |args: &[&str]| {
        Command::new(crate::harness::binary())
            .arg("load")
            .args(args)
            .output()
            .expect("run p2pfaas-node load")
    };
    let bad = run(&["--interval-ms", "1"]);
    assert_eq!(bad.status.code(), Some(64), "{bad:?}");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--interval-ms"),
        "{bad:?}"
    );
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--pin-dir"));
    // No node pinned anything there: a clear error either way the binary was built.
    let none = run(&["--pin-dir", "/nonexistent/p2pfaas", "--count", "1"]);
    assert_eq!(none.status.code(), Some(1), "{none:?}");
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(
        err.contains("without the `ebpf` feature") || err.contains("is a node running"),
        "{err}"
    );
}
