//! The fault suite, shortened (2 s of traffic per scenario, every scenario, no request floor): nothing
//! lost, nothing hung, nothing answered twice, no job run twice, on loopback; between network namespaces too when run as root.

mod common;

use p2pfaas_bench::chaos::{self, Options, Spec};
use p2pfaas_bench::experiment::spec::Network;

fn check(spec: &Spec) {
    let Some(node_binary) = common::node_binary() else {
        return;
    };
    let options = Options {
        node_binary,
        progress: true,
        requests_dir: None,
    };
    let report = chaos::run(spec, &options).expect("the suite runs");
    eprint!("{}", report.markdown());
    assert_eq!(report.rows.len(), spec.scenarios.len());
    let html = report.html();
    assert!(html.contains("<h1>Fault suite</h1>") && html.contains(&report.commit));
    assert_eq!(
        html.matches("<tr>").count(),
        spec.scenarios.len() + 1,
        "a row per scenario"
    );
    for row in &report.rows {
        assert!(row.sent > 0, "{}: nothing sent", row.scenario);
        assert_eq!(
            (row.lost, row.hung, row.duplicates),
            (0, 0, 0),
            "{}",
            row.line()
        );
        assert_eq!(row.duplicate_executions.unwrap_or(0), 0, "{}", row.line());
        assert!(row.passed, "{}", row.line());
    }
}

#[test]
fn no_request_is_lost_or_hung_under_any_fault() {
    check(&Spec {
        seconds: 2.0,
        min_requests: 0,
        ..Spec::default()
    });
}

#[test]
fn peer_faults_between_network_namespaces() {
    if !chaos::fault::is_root() {
        eprintln!("skipped: network namespaces need root");
        return;
    }
    use chaos::Scenario::{Cut, Freeze, Kill};
    check(&Spec {
        seconds: 2.0,
        min_requests: 0,
        network: Network::Netns,
        scenarios: vec![Kill, Freeze, Cut],
        ..Spec::default()
    });
}
