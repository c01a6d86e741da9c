use super::*;

fn spec() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bench/specs/learning-deadline.toml"
    ))
    .expect("spec in the repository")
}

fn options() -> Options {
    Options {
        arrivals: Some(400),
        ..Options::default()
    }
}

/// Plays `steps` steps of a 2-environment batch with a fixed action rule; returns everything seen.
fn play(seed: u64, steps: usize) -> (Vec<f32>, Vec<f32>, Vec<u8>) {
    let cluster = Cluster::new(&spec(), &options()).expect("valid");
    let Shape { dims, actions } = cluster.shape();
    let k = cluster.cluster_nodes();
    let mut batch = Batch::new(cluster, 2);
    let (mut states, mut nodes) = (vec![0.0; 2 * dims], vec![0; 2]);
    batch.reset(seed, &mut states, &mut nodes).expect("starts");
    let (mut rewards, mut dones) = (vec![0.0; 2 * k], vec![0; 2]);
    let (mut seen_states, mut seen_rewards, mut seen_dones) =
        (states.clone(), Vec::new(), Vec::new());
    for t in 0..steps {
        // A rule that depends on the state, so a wrong state shows up as another trajectory.
        let acts: Vec<u32> = (0..2)
            .map(|i| (states[i * dims + 1] as u32 + t as u32) % actions as u32)
            .collect();
        batch
            .step(&acts, &mut states, &mut nodes, &mut rewards, &mut dones)
            .expect("steps");
        assert_eq!(nodes, [0, 0], "only node 0 is driven");
        seen_states.extend_from_slice(&states);
        seen_rewards.extend_from_slice(&rewards);
        seen_dones.extend_from_slice(&dones);
    }
    (seen_states, seen_rewards, seen_dones)
}

#[test]
fn same_seed_same_episode_and_episodes_roll_over() {
    let a = play(7, 2000);
    assert_eq!(a, play(7, 2000), "deterministic");
    assert_ne!(a.0, play(8, 2000).0, "another seed, another episode");
    assert!(
        a.2.contains(&1),
        "2000 decisions outlast an episode of 10 s warm-up and 400 arrivals"
    );
    assert!(a.1.iter().any(|&r| r != 0.0), "rewards are delivered");
}

#[test]
fn ended_episode_leaves_its_report_and_bad_input_is_refused() {
    let cluster = Cluster::new(&spec(), &options()).expect("valid");
    let Shape { dims, actions } = cluster.shape();
    assert_eq!(
        (dims, actions),
        (5, 3),
        "learning-deadline: 2 task types, 3 actions"
    );
    let k = cluster.cluster_nodes();
    let mut batch = Batch::new(cluster, 1);
    let (mut s, mut n, mut r, mut d) = (vec![0.0; dims], vec![0], vec![0.0; k], vec![0]);
    assert!(
        batch.step(&[1], &mut s, &mut n, &mut r, &mut d).is_err(),
        "before reset"
    );
    batch.reset(1, &mut s, &mut n).expect("starts");
    let err = batch
        .step(&[9], &mut s, &mut n, &mut r, &mut d)
        .expect_err("action 9");
    assert!(err.contains("action 9"), "{err}");
    while d[0] == 0 {
        batch
            .step(&[1], &mut s, &mut n, &mut r, &mut d)
            .expect("steps");
    }
    let report: serde_json::Value =
        serde_json::from_str(batch.report(0).expect("report")).expect("json");
    assert_eq!(report["mode"], "simulated");
    assert_eq!(report["rows"][0]["scheduler"], "LearningScheduler(2)");
}

#[test]
fn specs_without_learning_or_with_bad_nodes_are_refused() {
    let plain = spec().replace("LearningScheduler", "NoSchedulerX");
    assert!(Cluster::new(&plain, &options()).is_err());
    let err = Cluster::new(
        &spec(),
        &Options {
            nodes: vec![3],
            ..options()
        },
    )
    .expect_err("3 nodes");
    assert!(err.contains("nodes: 3"), "{err}");
}

#[test]
fn the_default_spec_is_the_hetero_deadline_study() {
    let bench = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bench/specs/hetero-deadline.toml"
    ))
    .expect("spec in the repository");
    assert_eq!(DEFAULT_SPEC, bench, "built from the bench spec, not a copy");
    let cluster = Cluster::new(DEFAULT_SPEC, &Options::default()).expect("valid");
    assert_eq!(cluster.cluster_nodes(), 12);
    let spec = &cluster.spec;
    assert_eq!(
        spec.traffic.rho,
        [0.4],
        "one ρ per episode: the spec's first"
    );
    assert_eq!(spec.schedulers.len(), 1, "its LearningScheduler only");
    assert_eq!(spec.schedulers[0].name, "LearningScheduler");
    let speeds: Vec<f64> = (0..12).map(|i| spec.speed(i)).collect();
    assert_eq!(speeds[..3], [0.5; 3], "n0–n2 at half speed");
    assert!(speeds[3..].iter().all(|&s| s == 1.0));
    let mix: Vec<(f64, Option<f64>)> = spec.mix.iter().map(|m| (m.weight, m.deadline_ms)).collect();
    assert_eq!(
        mix,
        [(60.0, Some(16.0)), (30.0, Some(33.0)), (15.0, Some(700.0))]
    );
    assert_eq!(
        (spec.cluster.slots, spec.cluster.queue_len),
        (1, 9),
        "K = 10"
    );
    assert_eq!(spec.simulation.probe_delay_ms, 4.0);
    let shape = cluster.shape();
    // Three task types: [type, running×3, queued×3, features…]; the actions are the spec's.
    assert!(shape.dims >= 7, "{shape:?}");
    assert!(shape.actions >= 3, "{shape:?}");
}

/// Plays 2 environments through several episodes with a rule that rejects decisions whose id is a
/// multiple of 3 (reward_rejected, known) and runs or probes the others (met or missed), on a spec
/// whose three verdicts differ; checks every credit against the decision it names.
#[test]
fn credits_name_their_decisions_once_and_sum_to_the_step_rewards() {
    let text = spec()
        .replace("reward_missed = 0.0", "reward_missed = -1.0")
        .replace("reward_rejected = 0.0", "reward_rejected = -5.0");
    let cluster = Cluster::new(&text, &options()).expect("valid");
    let (dims, k) = (cluster.shape().dims, cluster.cluster_nodes());
    let mut batch = Batch::new(cluster, 2);
    let (mut states, mut nodes) = (vec![0.0; 2 * dims], vec![0; 2]);
    batch.reset(3, &mut states, &mut nodes).expect("starts");
    assert_eq!(batch.decisions(), [1, 1], "ids start at 1");
    assert_eq!(batch.credits(), (&[0, 0, 0][..], &[][..]), "none yet");
    let (mut rewards, mut dones) = (vec![0.0; 2 * k], vec![0; 2]);
    // Per environment: the action of each decision of its episode not yet credited.
    let mut open: [std::collections::HashMap<u64, u32>; 2] = Default::default();
    let (mut episodes, mut credited, mut rejected) = (0, 0, 0);
    while episodes < 4 {
        let ids = batch.decisions().to_vec();
        let acts: Vec<u32> = ids
            .iter()
            .map(|&id| if id % 3 == 0 { 0 } else { 1 + (id % 2) as u32 })
            .collect();
        for i in 0..2 {
            assert_eq!(open[i].insert(ids[i], acts[i]), None, "a fresh id");
        }
        batch
            .step(&acts, &mut states, &mut nodes, &mut rewards, &mut dones)
            .expect("steps");
        let (offsets, credits) = batch.credits();
        assert_eq!(offsets[2] as usize, credits.len());
        for i in 0..2 {
            let mine = &credits[offsets[i] as usize..offsets[i + 1] as usize];
            let sum: f32 = mine.iter().map(|c| c.reward).sum();
            assert_eq!(sum, rewards[i * k], "the step's reward, split by decision");
            for c in mine {
                assert_eq!(c.node, 0);
                let action = open[i]
                    .remove(&c.decision)
                    .expect("a decision made, credited once");
                let expected: &[f32] = if action == 0 { &[-5.0] } else { &[1.0, -1.0] };
                assert!(
                    expected.contains(&c.reward),
                    "decision {} action {action}: {}",
                    c.decision,
                    c.reward
                );
                credited += 1;
                rejected += usize::from(action == 0);
            }
            if dones[i] == 1 {
                episodes += 1;
                // The run ends when its jobs have: every decision has had its reward.
                assert!(
                    open[i].is_empty(),
                    "{} decisions left uncredited",
                    open[i].len()
                );
                open[i].clear();
                assert_eq!(batch.decisions()[i], 1, "the next episode's first");
            } else {
                assert_eq!(batch.decisions()[i], ids[i] + 1, "ids count decisions");
            }
        }
    }
    assert!(
        credited > 1000 && rejected > credited / 4,
        "{credited} credited, {rejected} rejected"
    );
}
