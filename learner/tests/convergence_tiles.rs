//! Convergence of differential Sarsa with tile coding on admission control
//! over a continuous load (`support::admission`): accept a job of random
//! value, or keep room for a better one, knowing the node's load.
//!
//! The state is continuous in both components, which is what tile coding is
//! for: a Q-table would key every distinct float. The learned greedy policy,
//! simulated, must reach 95% of the optimal average reward ρ*, which the
//! solver computes by relative value iteration on a fine load grid (its own
//! policy, simulated, is checked against ρ* too). The simple policies score
//! at most about 73% of ρ*, so the bar is not met without learning both the
//! load at which jobs stop fitting and how high a value deserves the room.
//!
//! `cargo test -p p2pfaas-learner --test convergence_tiles` (about 4 s in a
//! debug build here). Every RNG is seeded.

mod support;

use p2pfaas_learner::{
    config::{Config, Dimension, Params, TileConfig},
    policy::EpsilonGreedy,
    td::{Td, Transition},
    tiles::Tiles,
    value::ValueFunction,
};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use support::admission::{ACCEPT, ACTIONS, REJECT, Solution, Spec, State};

/// Load grid points of the solver.
const GRID: usize = 1001;
/// Steps simulated to evaluate a policy (after a warm-up of 1,000).
const EVAL_STEPS: usize = 200_000;
/// Learning steps: 300k take about 1.6 s in a debug build here.
const TRAIN_STEPS: usize = 300_000;

fn features(s: State) -> [f32; 2] {
    [s.load as f32, s.value as f32]
}

/// 8 tilings of tiles 0.1 of capacity wide in load and 0.25 in value:
/// 8 × 11 × 5 = 440 tiles, dense in a table of at least that many slots.
fn tiles(table_size: usize) -> Tiles {
    let dims = [
        Dimension {
            low: 0.0,
            high: 1.0,
            width: 0.1,
        },
        Dimension {
            low: 0.0,
            high: 1.0,
            width: 0.25,
        },
    ];
    let config = TileConfig::try_new(8, &dims, table_size).expect("valid tiling");
    Tiles::try_new(&config, ACTIONS).expect("valid shape")
}

/// Differential Sarsa, ε = 0.1, from an empty node.
fn train(v: &mut Tiles, spec: &Spec, seed: u64) {
    let config = Config::try_new(Params {
        alpha: 0.05,
        beta: 0.01,
        epsilon_start: 0.1,
        epsilon_min: 0.1,
        ..Params::default()
    })
    .expect("valid parameters");
    let mut td = Td::try_new(&config, ACTIONS).expect("valid td");
    let mut policy = EpsilonGreedy::try_new(&config, ACTIONS).expect("valid policy");
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut state = State {
        load: 0.0,
        value: rng.r#gen(),
    };
    let mut s = features(state);
    let mut a = policy.act(v, &s, &mut rng);
    for _ in 0..TRAIN_STEPS {
        let (reward, load) = spec.act(state, a);
        state = State {
            load,
            value: rng.r#gen(),
        };
        let s2 = features(state);
        let a2 = policy.act(v, &s2, &mut rng);
        td.differential_sarsa(
            v,
            &Transition {
                state: &s,
                action: a,
                reward: reward as f32,
                next_state: &s2,
                next_action: a2,
            },
        );
        (s, a) = (s2, a2);
    }
}

/// The learned greedy policy's simulated average reward must reach 95% of ρ*.
fn judge(v: &Tiles, spec: &Spec, optimum: &Solution, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut row = [0.0; ACTIONS];
    let greedy = |s: State| {
        v.q_all(&features(s), &mut row);
        if row[ACCEPT] > row[REJECT] {
            ACCEPT
        } else {
            REJECT
        }
    };
    let learned = spec.simulate(greedy, 1_000, EVAL_STEPS, &mut rng);
    eprintln!(
        "rho* = {:.4} ({} sweeps), learned {learned:.4} ({:.1}%), dense {}",
        optimum.rho,
        optimum.sweeps,
        100.0 * learned / optimum.rho,
        v.is_dense()
    );
    assert!(
        learned >= 0.95 * optimum.rho,
        "learned {learned} below 95% of rho* {}",
        optimum.rho
    );
}

#[test]
fn solver_optimum_beats_simple_policies() {
    let spec = Spec::small();
    let optimum = spec.solve(GRID, 1e-10);
    let mut rng = SmallRng::seed_from_u64(21);
    let simulated = spec.simulate(|s| optimum.policy(&spec, s), 1_000, EVAL_STEPS, &mut rng);
    assert!(
        (simulated - optimum.rho).abs() < 0.02 * optimum.rho,
        "simulated optimal policy {simulated} vs rho* {}",
        optimum.rho
    );
    // Accepting every job that fits: the value dimension is ignored.
    let fits = |s: State| {
        if spec.fits(s.load) { ACCEPT } else { REJECT }
    };
    let greedy_fit = spec.simulate(fits, 1_000, EVAL_STEPS, &mut rng);
    assert!(
        greedy_fit < 0.8 * optimum.rho,
        "accept-if-fits {greedy_fit}"
    );
    // A value threshold blind to the load: jobs that do not fit fail.
    for threshold in [0.5, 0.7, 0.9] {
        let blind = |s: State| {
            if s.value > threshold { ACCEPT } else { REJECT }
        };
        let blind = spec.simulate(blind, 1_000, EVAL_STEPS, &mut rng);
        assert!(blind < 0.8 * optimum.rho, "threshold {threshold}: {blind}");
    }
    // The optimal value threshold rises with the load.
    let threshold = |load: f64| {
        (0..=1000)
            .map(|i| f64::from(i) / 1000.0)
            .find(|&value| optimum.policy(&spec, State { load, value }) == ACCEPT)
            .expect("some job is worth accepting while one fits")
    };
    assert!(threshold(0.6) > threshold(0.0) + 0.1);
}

#[test]
fn differential_sarsa_with_dense_tiles_converges() {
    let spec = Spec::small();
    let optimum = spec.solve(GRID, 1e-10);
    let mut v = tiles(4096);
    assert!(v.is_dense());
    train(&mut v, &spec, 1);
    judge(&v, &spec, &optimum, 11);
}

/// 440 tiles hashed into 256 slots: collisions cost a little accuracy.
#[test]
fn differential_sarsa_with_hashed_tiles_converges() {
    let spec = Spec::small();
    let optimum = spec.solve(GRID, 1e-10);
    let mut v = tiles(256);
    assert!(!v.is_dense());
    train(&mut v, &spec, 2);
    judge(&v, &spec, &optimum, 12);
}
