use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::*;

fn agent(params: Parameters) -> Agent {
    Agent::new(3, params).expect("valid parameters")
}

/// Parameters for the two-state task: fast steps and constant exploration.
fn two_state(window_size: usize) -> Parameters {
    Parameters {
        alpha: 0.2,
        beta: 0.05,
        window_size,
        epsilon_start: 0.3,
        epsilon_min: 0.3,
        ..Parameters::default()
    }
}

fn patch(json: &str) -> Map<String, Value> {
    match serde_json::from_str(json) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

#[test]
fn act_checks_the_state_length_and_counts() {
    let a = agent(Parameters::default());
    let mut rng = SmallRng::seed_from_u64(1);
    assert!(a.act(&[0.0, 1.0], &mut rng).is_none());
    let (action, eps) = a.act(&[0.0, 1.0, 0.0], &mut rng).expect("right length");
    assert!(action < 2);
    assert!((eps - 0.9).abs() < 1e-6, "ε used is the start value");
    let s = a.stats();
    assert_eq!(s.inferences, 1);
    assert!((s.epsilon - 0.9 * 0.99).abs() < 1e-6, "decayed per step");
}

#[test]
fn learns_the_better_action_from_rewards() {
    // Two states alternate; action 1 pays 1 in state A, action 0 pays 1 in state B.
    let a = agent(two_state(1));
    let mut rng = SmallRng::seed_from_u64(9);
    let states = [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]];
    for step in 0..4000u64 {
        let s = &states[(step % 2) as usize];
        let (action, _) = a.act(s, &mut rng).expect("right length");
        let good = if step % 2 == 0 { 1 } else { 0 };
        let reward = if action == good { 1.0 } else { 0.0 };
        a.learn(step + 1, s, action, reward).expect("valid entry");
    }
    let va = a.values(&states[0]).unwrap_or_default();
    let vb = a.values(&states[1]).unwrap_or_default();
    assert!(va[1] > va[0], "{va:?}");
    assert!(vb[0] > vb[1], "{vb:?}");
    let s = a.stats();
    assert!(s.trained_items >= 3990, "{s:?}");
    assert!(s.average_reward > 0.6, "R̄ tracks the average reward: {s:?}");
}

#[test]
fn node_decisions_train_with_rewards_in_any_order() {
    // The same two-state task, but rewards arrive late and out of order, as jobs finish.
    let a = agent(two_state(5));
    let mut rng = SmallRng::seed_from_u64(4);
    let states = [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]];
    let mut pending: Vec<(u64, f32)> = Vec::new();
    for step in 0..4000u64 {
        let s = &states[(step % 2) as usize];
        let (eid, action, _) = a.decide(s, &mut rng).expect("right length");
        let good = u32::from(step % 2 == 0);
        pending.push((eid, if action == good { 1.0 } else { 0.0 }));
        // Every third step, deliver the newest pending reward first, then the oldest.
        if step % 3 == 2 {
            for (eid, r) in pending.drain(..).rev() {
                assert!(a.reward(eid, r));
            }
        }
    }
    for (eid, r) in pending {
        assert!(a.reward(eid, r));
    }
    let va = a.values(&states[0]).unwrap_or_default();
    let vb = a.values(&states[1]).unwrap_or_default();
    assert!(va[1] > va[0], "{va:?}");
    assert!(vb[0] > vb[1], "{vb:?}");
    let s = a.stats();
    assert_eq!(
        (s.trained_items, s.rewards, s.late_rewards),
        (3999, 4000, 0)
    );
    assert!(
        !a.reward(1, 1.0),
        "a second reward for the same decision is refused"
    );
}

#[test]
fn batch_is_checked_before_anything_is_recorded() {
    let a = agent(Parameters::default());
    a.learn(1, &[0.0, 0.0, 0.0], 1, 1.0).expect("valid");
    let entries = vec![
        Entry {
            eid: 2,
            state: vec![0.0, 0.0, 0.0],
            action: 1,
            reward: 1.0,
        },
        Entry {
            eid: 3,
            state: vec![0.0, 0.0],
            action: 1,
            reward: 1.0,
        },
    ];
    assert_eq!(
        a.learn_batch(&entries),
        Err((
            1,
            LearnError::StateLength {
                expected: 3,
                got: 2
            }
        ))
    );
    let s = a.stats();
    assert_eq!(
        s.pending_entries, 1,
        "the earlier entry is kept, none added"
    );
    assert_eq!(s.rewards, 1);
    assert_eq!(
        a.learn(4, &[0.0, 0.0, 0.0], 2, 0.0),
        Err(LearnError::Action {
            actions_n: 2,
            action: 2
        })
    );
}

#[test]
fn parameters_apply_at_once_and_keep_learned_values() {
    let a = agent(Parameters {
        window_size: 1,
        ..Parameters::default()
    });
    let s = [1.0, 2.0, 3.0];
    for eid in 1..=20 {
        a.learn(eid, &s, 1, 1.0).expect("valid");
    }
    let before = a.values(&s).unwrap_or_default();
    assert!(before[1] > 0.0);
    let p = a
        .set_parameters(&patch(r#"{"actions_n": 14, "epsilon_min": 0.05}"#))
        .expect("valid change");
    assert_eq!(p.actions_n, 14);
    let after = a.values(&s).unwrap_or_default();
    assert_eq!(after.len(), 14);
    assert_eq!(&after[..2], &before[..]);
    assert!(after[2..].iter().all(|v| *v == 0.0));
    assert_eq!(a.stats().actions, 14);
    // A bad change names the key and changes nothing.
    assert!(
        a.set_parameters(&patch(r#"{"alpha": 2.0}"#))
            .err()
            .map(|e| e.to_string())
            .is_some_and(|m| m.contains("alpha"))
    );
    assert!((a.parameters().alpha - 0.01).abs() < 1e-9);
}

#[test]
fn reset_and_resize_start_over() {
    let a = agent(Parameters {
        window_size: 1,
        ..Parameters::default()
    });
    for eid in 1..=5 {
        a.learn(eid, &[0.0, 0.0, 0.0], 0, 1.0).expect("valid");
    }
    assert!(a.stats().states > 0);
    a.reset().expect("reset");
    let s = a.stats();
    assert_eq!((s.states, s.trained_items, s.pending_entries), (0, 0, 0));
    assert!((s.epsilon - 0.9).abs() < 1e-6);
    a.resize(5).expect("resize");
    assert_eq!(a.dims(), 5);
    assert!(a.act(&[0.0; 3], &mut SmallRng::seed_from_u64(1)).is_none());
}

#[test]
fn weights_keep_distinct_states_apart() {
    // The original keyed [1,21] and [12,1] both as "121".
    let a = Agent::new(
        2,
        Parameters {
            window_size: 1,
            ..Parameters::default()
        },
    )
    .expect("valid");
    a.learn(1, &[1.0, 21.0], 0, 1.0).expect("valid");
    a.learn(2, &[12.0, 1.0], 1, 5.0).expect("valid");
    a.learn(3, &[1.0, 21.0], 0, 0.0).expect("valid");
    let w = a.weights();
    let states = w["states_map"].as_object().cloned().unwrap_or_default();
    assert_eq!(states.len(), 2, "{w}");
    let (ra, rb) = (&states["1,21"], &states["12,1"]);
    assert_ne!(ra, rb);
    assert_ne!(
        w["table"][ra.as_u64().unwrap_or(0) as usize],
        w["table"][rb.as_u64().unwrap_or(0) as usize]
    );
    assert_eq!(w["actions_map"]["1"], 1);
}

#[test]
fn rewards_by_how_the_job_ended() {
    let r = Rewards {
        met: 1.0,
        missed: -0.5,
        rejected: -1.0,
        refused: 0.25,
    };
    assert_eq!(r.of(true, false), 1.0);
    assert_eq!(r.of(false, true), -1.0);
    assert_eq!(r.of(false, false), -0.5);
}

#[test]
fn tile_coding_learns_and_generalises_between_near_states() {
    let params = Parameters {
        value_function: params::ValueKind::Tiles,
        tilings: 8,
        tile_width: 4.0,
        window_size: 1,
        alpha: 0.5,
        ..Parameters::default()
    };
    let agent = Agent::new(3, params).expect("valid tile parameters");
    for eid in 1..=50 {
        agent.learn(eid, &[0.0, 2.0, 0.0], 1, 1.0).expect("valid");
    }
    let trained = agent.values(&[0.0, 2.0, 0.0]).unwrap_or_default();
    let near = agent.values(&[0.0, 3.0, 0.0]).unwrap_or_default();
    let far = agent.values(&[0.0, 30.0, 30.0]).unwrap_or_default();
    assert!(trained[1] > 0.0, "{trained:?}");
    assert!(near[1] > 0.0, "a neighbouring state shares tiles: {near:?}");
    assert!(far[1] == 0.0, "a distant one shares none: {far:?}");
    assert_eq!(
        agent.stats().states,
        0,
        "tile coding stores weights, not states"
    );
    // Weights round trip, and a table agent refuses a tile file naming the field.
    let bytes = agent.encode_weights();
    let copy = Agent::new(3, params).expect("valid");
    assert!(copy.decode_weights(&bytes).is_ok());
    assert_eq!(copy.values(&[0.0, 3.0, 0.0]), Some(near));
    let table = Agent::new(3, Parameters::default()).expect("valid");
    let err = table.decode_weights(&bytes).err().map(|e| e.to_string());
    assert!(
        err.as_deref().is_some_and(|e| e.contains("`kind`")),
        "{err:?}"
    );
}

#[test]
fn switching_to_tiles_rebuilds_the_value_function() {
    let agent = Agent::new(3, Parameters::default()).expect("valid");
    let patch = serde_json::json!({"value_function": "tiles"});
    let patch = patch.as_object().cloned().unwrap_or_default();
    assert!(agent.set_parameters(&patch).is_ok());
    assert_eq!(agent.parameters().value_function, params::ValueKind::Tiles);
    let bytes = agent.encode_weights();
    let table = Agent::new(3, Parameters::default()).expect("valid");
    assert!(table.decode_weights(&bytes).is_err());
}

/// Trains `rewards` (action, reward) on one state into an agent with window 1.
fn trained(actions_n: usize, rewards: &[(u32, f32)]) -> Agent {
    let a = agent(Parameters {
        window_size: 1,
        actions_n,
        ..Parameters::default()
    });
    for (i, &(action, reward)) in rewards.iter().enumerate() {
        a.learn(i as u64 + 1, &[0.0, 1.0, 2.0], action, reward)
            .expect("valid entry");
    }
    a
}

#[test]
fn both_agents_round_trip_through_one_weight_file() {
    let state = [0.0, 1.0, 2.0];
    let (decision, acceptance) = (
        trained(3, &[(2, 1.0), (1, 0.5), (2, 1.0), (0, 0.0)]),
        trained(2, &[(0, 1.0), (1, 0.2), (0, 1.0), (1, 0.0)]),
    );
    let bytes = weights::encode(&decision, &acceptance);
    let (d, a) = (trained(3, &[]), trained(2, &[]));
    assert!(weights::decode(&d, &a, &bytes).is_ok());
    assert_eq!(d.values(&state), decision.values(&state));
    assert_eq!(a.values(&state), acceptance.values(&state));
    assert_ne!(
        d.values(&state),
        a.values(&state),
        "each agent got its own part"
    );

    // A lone learner file (one agent's) still loads, into the decision agent only.
    let (d, a) = (trained(3, &[]), trained(2, &[]));
    assert!(weights::decode(&d, &a, &decision.encode_weights()).is_ok());
    assert_eq!(d.values(&state), decision.values(&state));
    assert_eq!(a.values(&state), Some(vec![0.0, 0.0]));
}

#[test]
fn a_bad_weight_file_changes_neither_agent() {
    let state = [0.0, 1.0, 2.0];
    let bytes = weights::encode(&trained(3, &[(2, 1.0)]), &trained(2, &[(0, 1.0)]));
    let (d, a) = (trained(3, &[(1, 0.7)]), trained(2, &[(1, 0.3)]));
    let before = (d.values(&state), a.values(&state));
    let refusal = |d: &Agent, a: &Agent, bytes: &[u8]| {
        weights::decode(d, a, bytes)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let check = |bytes: &[u8], expect: &str, d: &Agent, a: &Agent| {
        let err = refusal(d, a, bytes);
        assert!(err.contains(expect), "{err:?} should name {expect}");
        assert_eq!((d.values(&state), a.values(&state)), before);
    };
    // The acceptance part does not fit an acceptance agent of 3 actions: the decision agent, whose
    // part fits, is not changed either.
    let wide = trained(3, &[(1, 0.3)]);
    let before_wide = wide.values(&state);
    let err = refusal(&d, &wide, &bytes);
    assert!(
        err.starts_with("acceptance agent") && err.contains("`actions`"),
        "{err:?}"
    );
    assert_eq!(d.values(&state), before.0);
    assert_eq!(wide.values(&state), before_wide);
    // The decision part does not fit a decision agent of 4 actions.
    let err = refusal(&trained(4, &[]), &a, &bytes);
    assert!(
        err.starts_with("decision agent") && err.contains("`actions`"),
        "{err:?}"
    );
    assert_eq!(a.values(&state), before.1);
    check(&bytes[..bytes.len() - 3], "truncated", &d, &a);
    check(&bytes[..12], "truncated", &d, &a);
    check(b"not weights at all", "bad magic", &d, &a);
}
