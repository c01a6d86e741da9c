//! Multi-node scenarios on the simulated network (`support`): join,
//! crash, suspicion and refutation, partition and heal, leave, stale
//! gossip, load piggybacking. Default config, seeded, virtual time; LAN-like
//! latency of 2–5 ms per message unless a test says otherwise.
//!
//! `cargo test -p p2pfaas-membership --test sim`

mod support;

use std::time::Duration;

use p2pfaas_membership::{Event, State};
use support::{Sim, converged, id};

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn three_nodes_join_through_one_seed() {
    let mut sim = Sim::new(3, 1, &Default::default());
    sim.join_all();
    let took = sim
        .run_until(5 * SECOND, Sim::converged)
        .expect("converges");
    assert!(took <= 2 * SECOND, "{took:?}");
}

#[test]
fn twelve_nodes_converge_within_two_seconds() {
    for seed in 1..=5 {
        let mut sim = Sim::new(12, seed, &Default::default());
        sim.join_all();
        let took = sim
            .run_until(5 * SECOND, Sim::converged)
            .expect("converges");
        assert!(took <= 2 * SECOND, "seed {seed}: {took:?}");
    }
}

#[test]
fn a_late_joiner_is_known_cluster_wide_within_two_seconds() {
    for seed in 1..=5 {
        let mut sim = Sim::new(12, seed, &Default::default());
        for i in 1..11 {
            sim.join(i);
        }
        sim.crash(11);
        sim.run_until(5 * SECOND, Sim::converged)
            .expect("11 converge");
        sim.nodes[11].up = true;
        sim.join(11);
        let took = sim
            .run_until(5 * SECOND, Sim::converged)
            .expect("joiner known");
        assert!(took <= 2 * SECOND, "seed {seed}: {took:?}");
    }
}

#[test]
fn a_crash_is_detected_by_all_survivors_within_six_seconds() {
    for seed in 1..=5 {
        let mut sim = converged(12, seed);
        sim.run_for(3 * SECOND);
        sim.crash(5);
        let took = sim
            .run_until(10 * SECOND, |s| {
                s.live().all(|i| s.state_of(i, 5) == Some(State::Dead))
            })
            .expect("detected");
        assert!(took <= 6 * SECOND, "seed {seed}: {took:?}");
        // And nobody else was declared dead on the way.
        assert_eq!(sim.count_events(|e| matches!(e, Event::Down(_))), 11);
        // Removed after `remove_after`, everywhere.
        sim.run_for(31 * SECOND);
        assert!(sim.live().all(|i| sim.state_of(i, 5).is_none()));
        assert!(sim.converged());
    }
}

#[test]
fn a_slow_node_is_suspected_refutes_and_stays_up() {
    let mut sim = converged(8, 3);
    // 700 ms each way: direct and indirect probes time out, but the node
    // hears of its suspicion and refutes well within the suspicion timeout.
    sim.nodes[2].delay = Duration::from_millis(700);
    sim.run_for(20 * SECOND);
    let suspected = sim.count_events(|e| matches!(e, Event::Suspect(i) if i.id == id(2)));
    let refuted = sim
        .events
        .iter()
        .filter(|(_, n, e)| *n == 2 && matches!(e, Event::Refuted { .. }))
        .count();
    assert!(suspected > 0, "the delay should cause suspicion");
    assert!(refuted > 0, "the node should refute");
    assert_eq!(
        sim.count_events(|e| matches!(e, Event::Down(_))),
        0,
        "nobody declared dead"
    );
    sim.nodes[2].delay = Duration::ZERO;
    sim.run_until(5 * SECOND, Sim::converged)
        .expect("all alive again");
}

#[test]
fn a_partition_heals_and_reconverges() {
    for (seed, apart) in [(4, 15 * SECOND), (5, 45 * SECOND)] {
        let mut sim = converged(12, seed);
        for i in 6..12 {
            sim.nodes[i].group = 1;
        }
        sim.run_for(apart);
        // Each half sees the other as gone.
        assert!(sim.nodes[0].core.members().len() == 5, "seed {seed}");
        assert!(sim.nodes[11].core.members().len() == 5, "seed {seed}");
        for node in &mut sim.nodes {
            node.group = 0;
        }
        let took = sim.run_until(30 * SECOND, Sim::converged);
        assert!(
            took.is_some(),
            "seed {seed}: no reconvergence after {apart:?} apart"
        );
        println!("partition {apart:?}: reconverged in {took:?}");
    }
}

#[test]
fn leave_propagates_as_left_not_down() {
    let mut sim = converged(12, 6);
    let now = sim.now;
    sim.nodes[7].core.leave(now);
    let took = sim
        .run_until(5 * SECOND, |s| {
            (0..12)
                .filter(|&i| i != 7)
                .all(|i| s.state_of(i, 7) == Some(State::Left))
        })
        .expect("left known");
    assert!(took <= 2 * SECOND, "{took:?}");
    sim.crash(7);
    sim.run_for(10 * SECOND);
    assert_eq!(sim.count_events(|e| matches!(e, Event::Down(_))), 0);
    assert!(sim.converged());
}

#[test]
fn stale_gossip_does_not_resurrect_the_dead() {
    let mut sim = converged(6, 7);
    sim.record = true;
    sim.run_for(3 * SECOND);
    sim.record = false;
    let old = std::mem::take(&mut sim.recorded);
    assert!(!old.is_empty());
    sim.crash(4);
    sim.run_until(10 * SECOND, |s| s.all_see_inactive(4))
        .expect("detected");
    // Replay every message of the healthy period, the dead node's own
    // included: all of it says node 4 is alive, at old incarnations.
    for (from, bytes) in &old {
        sim.inject_to_all(*from, bytes);
    }
    sim.run_for(2 * SECOND);
    assert!(sim.all_see_inactive(4), "replayed before removal");
    sim.run_for(30 * SECOND);
    for (from, bytes) in &old {
        sim.inject_to_all(*from, bytes);
    }
    sim.run_for(2 * SECOND);
    assert!(
        sim.live().all(|i| sim.state_of(i, 4).is_none()),
        "replayed after removal"
    );
    assert!(sim.converged());
}

#[test]
fn a_crashed_node_that_restarts_rejoins() {
    let mut sim = converged(6, 8);
    sim.crash(3);
    sim.run_until(10 * SECOND, |s| s.all_see_inactive(3))
        .expect("detected");
    // Restart: a fresh core (incarnation 0) at the same id and address.
    let cfg = sim.nodes[3].core.config().clone();
    sim.nodes[3].core = p2pfaas_membership::Membership::try_new(
        p2pfaas_membership::Identity::new(id(3), support::addr(3)),
        cfg,
        99,
    )
    .expect("valid");
    sim.nodes[3].up = true;
    sim.join(3);
    let took = sim
        .run_until(10 * SECOND, Sim::converged)
        .expect("rejoined");
    assert!(took <= 3 * SECOND, "{took:?}");
}

#[test]
fn loads_piggyback_at_most_a_probe_period_stale() {
    let mut sim = converged(12, 9);
    let n = sim.nodes.len();
    // Every node changes its load every 250 ms; track when each version was set.
    let mut set_at: Vec<Vec<Duration>> = vec![vec![Duration::ZERO]; n];
    let mut worst = Duration::ZERO;
    let mut ages = Vec::new();
    let start = sim.now;
    while sim.now - start < 20 * SECOND {
        if (sim.now - start).as_millis().is_multiple_of(250) {
            for (i, versions) in set_at.iter_mut().enumerate() {
                sim.set_load(i, versions.len() as u32);
                versions.push(sim.now);
            }
        }
        sim.step();
        if sim.now - start < 3 * SECOND || !(sim.now - start).as_millis().is_multiple_of(100) {
            continue;
        }
        for i in 0..n {
            for m in sim.nodes[i].core.members() {
                let j: usize = m.identity.id[5..].parse().expect("node id");
                let v = m.load.as_ref().map_or(0, |s| s.version) as usize;
                // Stale for as long as a newer version existed unseen.
                let age = set_at[j]
                    .get(v + 1)
                    .map_or(Duration::ZERO, |t| sim.now.saturating_sub(*t));
                worst = worst.max(age);
                ages.push(age);
            }
        }
    }
    ages.sort();
    let p99 = ages[ages.len() * 99 / 100];
    println!("load staleness at 12 nodes: p99 {p99:?}, max {worst:?}");
    assert!(p99 <= SECOND, "p99 {p99:?}");
    assert!(worst <= 2 * SECOND, "max {worst:?}");
}

#[test]
fn message_loss_causes_no_false_deaths() {
    for (seed, loss) in [(10, 0.05), (11, 0.10)] {
        let mut sim = converged(12, seed);
        sim.loss = loss;
        sim.run_for(60 * SECOND);
        let suspected = sim.count_events(|e| matches!(e, Event::Suspect(_)));
        let down = sim.count_events(|e| matches!(e, Event::Down(_)));
        println!("loss {loss}: {suspected} suspicions, {down} deaths in 60 s");
        assert_eq!(down, 0, "seed {seed}, loss {loss}");
        sim.loss = 0.0;
        sim.run_until(5 * SECOND, Sim::converged)
            .expect("converged");
    }
}

#[test]
fn a_node_restarted_at_a_new_address_takes_its_id_over() {
    let mut sim = converged(6, 12);
    let old_addr = support::addr(3);
    sim.crash(3);
    // The machine comes back on another port (new index 6 in the sim, same id).
    let cfg = sim.nodes[3].core.config().clone();
    let moved = p2pfaas_membership::Membership::try_new(
        p2pfaas_membership::Identity::new(id(3), support::addr(6)),
        cfg,
        77,
    )
    .expect("valid");
    sim.add_node(moved);
    sim.join(6);
    let took = sim
        .run_until(20 * SECOND, |s| {
            (0..6).filter(|&i| i != 3).all(|i| {
                s.nodes[i]
                    .core
                    .get(&id(3))
                    .is_some_and(|m| m.state == State::Alive && m.identity.addr == support::addr(6))
            })
        })
        .expect("new address adopted");
    println!("moved node adopted in {took:?}");
    // Old address detected first (≤ 6 s), then the takeover.
    assert!(took <= 8 * SECOND, "{took:?}");
    assert!(sim.nodes[6].core.members().len() == 5);
    assert!(
        sim.count_events(
            |e| matches!(e, Event::IdentityConflict { other, .. } if *other == old_addr)
        ) > 0
    );
}
