use rand::{SeedableRng, rngs::SmallRng};

use super::*;
use crate::{config::Params, qtable::QTable};

fn config(params: Params) -> Config {
    Config::try_new(params).expect("valid params")
}

fn table_with(values: &[f32]) -> QTable {
    let mut t = QTable::try_new(1, values.len(), 4).expect("valid shape");
    assert!(t.set(&[0.0], values));
    t
}

/// An ε-greedy policy with ε = 0 throughout: it always exploits.
fn greedy_policy(actions: usize) -> EpsilonGreedy {
    EpsilonGreedy::try_new(
        &config(Params {
            epsilon_start: 0.0,
            epsilon_min: 0.0,
            ..Params::default()
        }),
        actions,
    )
    .expect("valid")
}

#[test]
fn greedy_picks_the_maximum() {
    let t = table_with(&[1.0, 5.0, 2.0]);
    let mut p = greedy_policy(3);
    let mut rng = SmallRng::seed_from_u64(1);
    for _ in 0..100 {
        assert_eq!(p.act(&t, &[0.0], &mut rng), 1);
    }
}

#[test]
fn ties_are_broken_uniformly() {
    let t = table_with(&[3.0, 1.0, 3.0, 3.0]);
    let mut p = greedy_policy(4);
    let mut rng = SmallRng::seed_from_u64(2);
    let mut counts = [0u32; 4];
    for _ in 0..30_000 {
        counts[p.act(&t, &[0.0], &mut rng)] += 1;
    }
    assert_eq!(counts[1], 0);
    for &c in &[counts[0], counts[2], counts[3]] {
        assert!((9_000..11_000).contains(&c), "counts {counts:?}");
    }
}

#[test]
fn epsilon_explores_at_the_configured_rate() {
    let t = table_with(&[0.0, 10.0]);
    let params = Params {
        epsilon_start: 0.5,
        epsilon_min: 0.5,
        ..Params::default()
    };
    let mut p = EpsilonGreedy::try_new(&config(params), 2).expect("valid");
    let mut rng = SmallRng::seed_from_u64(3);
    let worse = (0..20_000)
        .filter(|_| p.act(&t, &[0.0], &mut rng) == 0)
        .count();
    // P(action 0) = ε / 2 = 0.25.
    assert!((4_500..5_500).contains(&worse), "worse = {worse}");
}

#[test]
fn decay_per_step_reaches_the_floor() {
    let t = table_with(&[0.0, 0.0]);
    let params = Params {
        epsilon_start: 1.0,
        epsilon_min: 0.05,
        epsilon_decay: 0.5,
        ..Params::default()
    };
    let mut p = EpsilonGreedy::try_new(&config(params), 2).expect("valid");
    let mut rng = SmallRng::seed_from_u64(4);
    p.act(&t, &[0.0], &mut rng);
    assert_eq!(p.epsilon(), 0.5);
    p.end_episode();
    assert_eq!(p.epsilon(), 0.5, "per-step decay ignores episodes");
    for _ in 0..10 {
        p.act(&t, &[0.0], &mut rng);
    }
    assert_eq!(p.epsilon(), 0.05);
}

#[test]
fn decay_per_episode_ignores_steps() {
    let t = table_with(&[0.0, 0.0]);
    let params = Params {
        epsilon_start: 0.8,
        epsilon_min: 0.1,
        epsilon_decay: 0.5,
        decay: Decay::PerEpisode,
        ..Params::default()
    };
    let mut p = EpsilonGreedy::try_new(&config(params), 2).expect("valid");
    let mut rng = SmallRng::seed_from_u64(5);
    p.act(&t, &[0.0], &mut rng);
    assert_eq!(p.epsilon(), 0.8);
    p.end_episode();
    assert_eq!(p.epsilon(), 0.4);
}

#[test]
fn softmax_follows_the_boltzmann_distribution() {
    // Q = [0, ln 3] at τ = 1 gives probabilities [1/4, 3/4].
    let t = table_with(&[0.0, 3.0f32.ln()]);
    let mut p = Softmax::try_new(&config(Params::default()), 2).expect("valid");
    let mut rng = SmallRng::seed_from_u64(6);
    let ones = (0..20_000)
        .filter(|_| p.act(&t, &[0.0], &mut rng) == 1)
        .count();
    assert!((14_500..15_500).contains(&ones), "ones = {ones}");
}

#[test]
fn zero_actions_rejected() {
    let c = config(Params::default());
    assert!(EpsilonGreedy::try_new(&c, 0).is_err());
    assert!(Softmax::try_new(&c, 0).is_err());
}

#[test]
fn reconfigure_keeps_epsilon_above_the_new_floor() {
    let mut p = EpsilonGreedy::try_new(
        &config(Params {
            epsilon_start: 0.5,
            epsilon_min: 0.0,
            epsilon_decay: 0.5,
            ..Params::default()
        }),
        2,
    )
    .expect("valid");
    let t = table_with(&[0.0, 1.0]);
    let mut rng = SmallRng::seed_from_u64(3);
    p.act(&t, &[0.0], &mut rng);
    assert!((p.epsilon() - 0.25).abs() < 1e-6);
    p.reconfigure(&config(Params {
        epsilon_start: 0.9,
        epsilon_min: 0.3,
        epsilon_decay: 1.0,
        ..Params::default()
    }));
    // Raised to the floor, not restarted at epsilon_start; no decay any more.
    assert!((p.epsilon() - 0.3).abs() < 1e-6);
    p.act(&t, &[0.0], &mut rng);
    assert!((p.epsilon() - 0.3).abs() < 1e-6);
}

#[test]
fn ties_across_blocks_of_64_actions() {
    // 70 actions: the second block (64..70) is a partial one.
    let mut values = vec![0.0; 70];
    values[3] = 2.0;
    values[66] = 2.0;
    let t = table_with(&values);
    let mut p = greedy_policy(70);
    let mut rng = SmallRng::seed_from_u64(7);
    let mut counts = [0u32; 70];
    for _ in 0..4_000 {
        counts[p.act(&t, &[0.0], &mut rng)] += 1;
    }
    assert_eq!(counts[3] + counts[66], 4_000, "counts {counts:?}");
    assert!((1_800..2_200).contains(&counts[3]), "counts {counts:?}");
}

#[test]
fn padding_never_wins() {
    // Every value -inf ties with the -inf padding of the scratch row: only
    // real actions may be chosen, and uniformly.
    let t = table_with(&[f32::NEG_INFINITY; 3]);
    let mut p = greedy_policy(3);
    let mut rng = SmallRng::seed_from_u64(8);
    let mut counts = [0u32; 3];
    for _ in 0..3_000 {
        counts[p.act(&t, &[0.0], &mut rng)] += 1;
    }
    assert!(
        counts.iter().all(|&c| (800..1_200).contains(&c)),
        "{counts:?}"
    );
    // NaN everywhere has no maximiser: action 0, as documented.
    let t = table_with(&[f32::NAN; 3]);
    assert_eq!(p.act(&t, &[0.0], &mut rng), 0);
}

#[test]
fn set_epsilon_moves_the_current_rate_within_the_floor_and_one() {
    let mut p = EpsilonGreedy::try_new(
        &config(Params {
            epsilon_start: 0.5,
            epsilon_min: 0.1,
            ..Params::default()
        }),
        3,
    )
    .expect("valid");
    p.set_epsilon(0.9);
    assert_eq!(p.epsilon(), 0.9);
    p.set_epsilon(0.01);
    assert_eq!(p.epsilon(), 0.1, "raised to epsilon_min");
    p.set_epsilon(3.0);
    assert_eq!(p.epsilon(), 1.0);
}
