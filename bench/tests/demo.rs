//! `p2pfaas-bench demo`, shortened to 3 s per scheduler, end to end: three real nodes, a table row per
//! scheduler of the shipped demo spec, and cooperation visibly helping the overloaded node.

use std::path::PathBuf;
use std::process::Command;

mod common;

#[test]
fn demo_prints_a_row_per_scheduler() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_p2pfaas-bench"));
    let Some(node) = common::node_binary() else {
        return;
    };
    let out = Command::new(&bench)
        .args(["demo", "--seconds", "3", "--quiet", "--node-bin"])
        .arg(&node)
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("theory: without cooperation n0 blocks"),
        "{stdout}"
    );
    let spec_text = include_str!("../specs/demo.toml");
    let spec = p2pfaas_bench::experiment::spec::Spec::parse(spec_text).expect("demo spec");
    let reject = |label: &str| -> f64 {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {label} |")))
            .unwrap_or_else(|| panic!("no row for {label}:\n{stdout}"));
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | scheduler | ρ | seed | λ/s | sent | reject | …
        cells[6]
            .parse()
            .unwrap_or_else(|_| panic!("reject cell in {line}"))
    };
    let rejects: Vec<f64> = spec.schedulers.iter().map(|s| reject(&s.label())).collect();
    // n0 alone is at ρ = 1.2 with K = 2, Q = 2 (it blocks ≈ 0.3 of its calls, ≈ 0.25 of all); the
    // cluster as a whole is at ρ ≈ 0.5. Probing the load of peers must do far better than nothing.
    let none = reject("NoScheduler(true)");
    let jsq = reject("JSQ(2)");
    assert!(none > 0.1, "no cooperation should block: {rejects:?}");
    assert!(
        jsq < none / 2.0,
        "JSQ(2) should halve blocking at least: {rejects:?}"
    );
}
