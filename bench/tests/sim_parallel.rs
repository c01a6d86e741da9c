//! `simulate` runs a sweep's independent (scheduler, seed) replications on all cores; the report is the
//! one a sequential run gives, bit for bit and in the same row order.

use p2pfaas_bench::experiment::spec::Spec;
use p2pfaas_bench::sim::{self, SimOptions};

#[test]
fn parallel_replications_give_the_sequential_report() {
    let text = r#"
        name = "parallel"
        [cluster]
        nodes = 4
        slots = 3
        queue_len = 1
        link_delay_ms = 1
        [function]
        builtin = "sleep"
        mean_ms = 20
        [traffic]
        rho = [0.6, 0.9]
        seeds = [1, 2, 3]
        duration_s = 1
        warmup_s = 1
        [simulation]
        arrivals = 5000
        probe_failure = 0.1
        mtbf_s = 30
        mttr_s = 1
        [[scheduler]]
        name = "PowerOfNScheduler"
        parameters = ["1", "1", "false", "1"]
        [[scheduler]]
        name = "LearningScheduler"
        parameters = ["1"]
        [[scheduler]]
        name = "NoScheduler"
        parameters = ["false"]
    "#;
    let spec = Spec::parse(text).expect("valid spec");
    let run = |threads| {
        sim::run_counted(
            &spec,
            &SimOptions {
                threads,
                ..SimOptions::default()
            },
        )
        .expect("simulates")
    };
    let (sequential, n1) = run(1);
    let (parallel, n4) = run(4);
    assert_eq!(sequential.rows.len(), 3 * 3 * 2);
    assert_eq!(n1, n4);
    assert_eq!(sequential.rows, parallel.rows);
    let (all_cores, _) = run(0);
    assert_eq!(sequential.rows, all_cores.rows);
}
