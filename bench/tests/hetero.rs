//! Heterogeneous clusters from `[[node]]` tables: a node at speed 0.5 really takes twice as long,
//! on real nodes and simulated, and the per-node table shows it.

mod common;

use std::time::Duration;

use p2pfaas_bench::experiment::cluster::Cluster;
use p2pfaas_bench::experiment::{self, Options, report::CurvePoint, spec::Spec};
use p2pfaas_bench::load::get_json;
use p2pfaas_bench::sim::{self, SimOptions};

/// Two nodes, each called at λ = 0.2 × 4 × 50/s = 40/s; n1 runs at half speed and has one slot
/// more. `sleep` takes exactly 20 ms on n0 (40 ms on n1); nobody forwards.
fn spec() -> Spec {
    Spec::parse(
        r#"
        name = "hetero-speed"
        [cluster]
        nodes = 2
        slots = 4
        [function]
        builtin = "sleep"
        mean_ms = 20
        distribution = "fixed"
        [traffic]
        rho = [0.2]
        duration_s = 3
        [[mix]]
        deadline_ms = 30
        [[scheduler]]
        name = "NoScheduler"
        parameters = ["true"]
        [[node]]
        [[node]]
        speed = 0.5
        slots = 5
        "#,
    )
    .expect("valid spec")
}

/// `spec` simulated with `arrivals` counted arrivals per point.
fn simulate(spec: &Spec, arrivals: u64) -> experiment::report::Report {
    let options = SimOptions {
        arrivals: Some(arrivals),
        ..SimOptions::default()
    };
    sim::run(spec, &options).expect("simulates")
}

fn execution(report: &experiment::report::Report) -> (f64, f64) {
    let [row] = report.rows.as_slice() else {
        panic!("one row: {:?}", report.rows);
    };
    let [n0, n1] = row.nodes.as_slice() else {
        panic!("two nodes: {:?}", row.nodes);
    };
    for n in [n0, n1] {
        assert!(n.sent > 60 && n.ok > 0, "{n:?}");
        assert_eq!((n.forwarded_in, n.forwarded_out), (0, 0), "{n:?}");
        assert_eq!(n.executed, n.ok, "{n:?}");
    }
    // n0's jobs (20 ms of work) meet a 30 ms deadline, n1's (40 ms) hardly ever.
    assert!(n0.deadline_met.unwrap_or(0.0) > 0.8, "{n0:?}");
    assert!(n1.deadline_met.unwrap_or(1.0) < 0.2, "{n1:?}");
    (
        n0.execution_ms.expect("n0 ran jobs"),
        n1.execution_ms.expect("n1 ran jobs"),
    )
}

#[test]
fn a_half_speed_node_takes_twice_as_long_live() {
    let Some(node_binary) = common::node_binary() else {
        return;
    };
    let options = Options {
        node_binary,
        requests_dir: None,
        progress: false,
        load_weights: None,
    };
    let report = experiment::run(&spec(), &options).expect("experiment runs");
    eprint!("{}", report.markdown());
    let (fast, slow) = execution(&report);
    assert!((18.0..24.0).contains(&fast), "n0 ran {fast} ms for 20");
    let ratio = slow / fast;
    assert!(
        (1.8..2.2).contains(&ratio),
        "n1/n0 = {slow}/{fast} = {ratio}"
    );
    assert!(report.markdown().contains("## Per node"));
}

#[test]
fn a_half_speed_node_takes_twice_as_long_simulated() {
    let report = simulate(&spec(), 20_000);
    let (fast, slow) = execution(&report);
    assert!((fast - 20.0).abs() < 1e-6, "n0 ran {fast} ms");
    assert!((slow - 40.0).abs() < 1e-6, "n1 ran {slow} ms");
}

/// Exponential service, loss nodes: the half-speed node blocks as Erlang-B at twice the load, with
/// its own K.
#[test]
fn simulated_slow_nodes_block_as_their_own_erlang_b() {
    let text = r#"
        name = "hetero-erlang"
        [cluster]
        nodes = 2
        slots = 4
        [function]
        builtin = "sleep"
        mean_ms = 1000
        [traffic]
        rho = [0.5]
        duration_s = 1
        [[scheduler]]
        name = "NoScheduler"
        parameters = ["true"]
        [[node]]
        [[node]]
        speed = 0.5
        slots = 6
    "#;
    let spec = Spec::parse(text).expect("valid");
    let report = simulate(&spec, 200_000);
    let row = &report.rows[0];
    let block = |i: usize| {
        let n = &row.nodes[i];
        n.rejected as f64 / n.sent as f64
    };
    // λ = 2/s per node: a = 2 on n0 (K = 4), a = 4 on n1 (K = 6).
    let b0 = p2pfaas_bench::theory::erlang_b(2.0, 4).expect("b");
    let b1 = p2pfaas_bench::theory::erlang_b(4.0, 6).expect("b");
    assert!((block(0) - b0).abs() < 0.01, "n0 {} vs {b0}", block(0));
    assert!((block(1) - b1).abs() < 0.01, "n1 {} vs {b1}", block(1));
}

/// A learning run gets its learning curves: deadline met and mean reward over time per ρ, one line
/// per scheduler; the spans hold every request with a deadline, warm-up included.
#[test]
fn learning_runs_get_learning_curves() {
    let text = r#"
        name = "curves"
        [cluster]
        nodes = 2
        slots = 1
        queue_len = 4
        node_config = """
        [learner]
        reward_missed = -1.0
        """
        [function]
        builtin = "sleep"
        mean_ms = 5
        [traffic]
        rho = [0.6]
        duration_s = 1
        warmup_s = 5
        [[mix]]
        deadline_ms = 12
        [[scheduler]]
        name = "NoScheduler"
        parameters = ["false"]
        [[scheduler]]
        name = "LearningScheduler"
        parameters = ["1"]
        [[node]]
        speed = 0.5
    "#;
    let spec = Spec::parse(text).expect("valid");
    let report = simulate(&spec, 20_000);
    for row in &report.rows {
        let spans: u64 = row.curve.iter().map(CurvePoint::requests).sum();
        assert_eq!(row.curve.len(), 20, "{}", row.scheduler);
        // λ = 2 × 0.6 × 200/s = 240/s: 5 s of warm-up adds about 1,200 to the 20,000 counted.
        assert!(
            spans > row.sent + 1_000,
            "{spans} spans vs {} sent",
            row.sent
        );
    }
    let charts = experiment::svg::charts(&report);
    let names: Vec<&str> = charts.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "learning-deadline-met-rho0.6.svg",
        "learning-reward-rho0.6.svg",
    ] {
        let (_, svg) = charts
            .iter()
            .find(|(n, _)| n == want)
            .unwrap_or_else(|| panic!("{want} in {names:?}"));
        assert_eq!(svg.matches("<polyline").count(), 2, "{want}");
        assert!(svg.contains("LearningScheduler(1)"), "{want}");
    }
    // A miss costs −1 here, so the reward chart's axis goes below 0.
    let reward = &charts
        .iter()
        .find(|(n, _)| n == "learning-reward-rho0.6.svg")
        .expect("reward chart")
        .1;
    assert!(reward.contains(">-"), "a negative tick");
    // Without a learning row there is no learning chart.
    let mut plain = report.clone();
    plain
        .rows
        .retain(|r| r.scheduler.starts_with("NoScheduler"));
    assert!(
        !experiment::svg::charts(&plain)
            .iter()
            .any(|(n, _)| n.starts_with("learning-"))
    );
}

/// Each node reports its own speed on `/monitoring/load`; in namespaces, a `cpu_max` node runs in a
/// cgroup v2 group with that quota (root only).
#[test]
fn nodes_report_their_speed_and_cpu_max_puts_a_node_in_its_cgroup() {
    let Some(node_binary) = common::node_binary() else {
        return;
    };
    let s = spec();
    let cluster = Cluster::start(&s, &s.schedulers[0], 1, &node_binary).expect("cluster starts");
    let speeds: Vec<Option<f64>> = cluster
        .addrs()
        .iter()
        .map(|&a| get_json(a, "/monitoring/load", Duration::from_secs(2))?["speed"].as_f64())
        .collect();
    assert_eq!(speeds, [Some(1.0), Some(0.5)]);
    drop(cluster);
    if !p2pfaas_bench::chaos::fault::is_root() {
        eprintln!("skipped: cpu_max needs root (namespaces and cgroups)");
        return;
    }
    let text = "name = \"cpu-max\"\n[cluster]\nnodes = 2\nslots = 1\nnetwork = \"netns\"\n\
                [function]\nbuiltin = \"cpu-loop\"\nmean_ms = 5\n[traffic]\nrho = [0.1]\n\
                duration_s = 1\n[[scheduler]]\nname = \"NoScheduler\"\nparameters = [\"true\"]\n[[node]]\n\
                cpu_max = \"20000 100000\"\n";
    let s = Spec::parse(text).expect("valid");
    let cluster = match Cluster::start(&s, &s.schedulers[0], 1, &node_binary) {
        Err(e) if e.to_string().starts_with("cpu_max needs cgroup v2") => {
            eprintln!("skipped: {e} (a cgroup v1 or hybrid host)");
            return;
        }
        other => other.expect("cluster starts"),
    };
    let pids = cluster.pids();
    let group = std::fs::read_to_string(format!("/proc/{}/cgroup", pids[0])).expect("cgroup");
    let path = group
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup v2 line");
    let mounts = std::fs::read_to_string("/proc/self/mounts").expect("mounts");
    let root = mounts
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"cgroup2")).then(|| f[1].to_owned())
        })
        .expect("a cgroup2 mount");
    let dir = format!("{root}{path}");
    let max = std::fs::read_to_string(format!("{dir}/cpu.max")).expect("cpu.max");
    assert_eq!(max.trim(), "20000 100000", "{dir}");
    let other = std::fs::read_to_string(format!("/proc/{}/cgroup", pids[1])).expect("cgroup");
    assert_ne!(other, group, "n1 has no cpu_max");
    drop(cluster);
    assert!(!std::path::Path::new(&dir).exists(), "{dir} removed");
}
