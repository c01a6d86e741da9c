//! Convergence of differential Sarsa with a Q-table on the access-control
//! queuing task (Sutton & Barto, example 10.2, scaled down to 4 servers).
//!
//! The learned greedy policy's average reward, simulated, must be within 5%
//! of the optimum ρ* computed exactly by relative value iteration
//! (`support::access_control`). Every RNG is seeded.
//!
//! `cargo test -p p2pfaas-learner --test convergence` runs them all (about
//! 2 s in a debug build here, including the textbook's 2·10⁶ steps).

mod support;

use p2pfaas_learner::{
    config::{Config, Params},
    policy::EpsilonGreedy,
    qtable::QTable,
    td::{Td, Transition},
    value::ValueFunction,
    window::{Push, Window},
};
use rand::{SeedableRng, rngs::SmallRng, seq::SliceRandom};
use support::access_control::{ACTIONS, AccessControl, Spec, State};

/// Steps simulated to evaluate a policy (after a warm-up).
const EVAL_STEPS: usize = 400_000;

fn features(s: State) -> [f32; 2] {
    [s.free as f32, s.priority as f32]
}

fn learner() -> (QTable, Td, EpsilonGreedy) {
    let config = Config::try_new(Params {
        alpha: 0.01,
        beta: 0.01,
        epsilon_start: 0.1,
        epsilon_min: 0.1,
        epsilon_decay: 1.0,
        ..Params::default()
    })
    .expect("valid parameters");
    let q = QTable::try_new(2, ACTIONS, 64).expect("valid table");
    let td = Td::try_new(&config, ACTIONS).expect("valid td");
    let policy = EpsilonGreedy::try_new(&config, ACTIONS).expect("valid policy");
    (q, td, policy)
}

/// The greedy policy of `q` per state index; ties go to reject (when no
/// server is free both actions are the same).
fn greedy(spec: &Spec, q: &QTable) -> Vec<usize> {
    let mut row = [0.0; ACTIONS];
    (0..spec.states())
        .map(|i| {
            q.q_all(&features(spec.state(i)), &mut row);
            usize::from(row[1] > row[0])
        })
        .collect()
}

/// Simulated and exact average reward of the greedy policy, against ρ*.
fn judge(spec: &Spec, q: &QTable, seed: u64) {
    let optimum = spec.solve(1e-9);
    let policy = greedy(spec, q);
    let exact = spec.gain(&policy);
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut env = AccessControl::new(spec.clone(), &mut rng);
    let simulated = env.simulate(&policy, 10_000, EVAL_STEPS, &mut rng);
    eprintln!(
        "rho* = {:.4} ({} sweeps), learned: simulated {simulated:.4}, exact {exact:.4}, \
         policy {policy:?}, optimal {:?}",
        optimum.rho, optimum.sweeps, optimum.policy
    );
    assert!(
        simulated >= 0.95 * optimum.rho,
        "simulated {simulated} below 95% of rho* {}",
        optimum.rho
    );
}

/// Differential Sarsa, one update per step, `steps` steps.
fn train_direct(spec: &Spec, steps: usize, seed: u64) -> QTable {
    let (mut q, mut td, mut policy) = learner();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut env = AccessControl::new(spec.clone(), &mut rng);
    let mut s = features(env.state());
    let mut a = policy.act(&q, &s, &mut rng);
    for _ in 0..steps {
        let (r, next) = env.step(a, &mut rng);
        let s2 = features(next);
        let a2 = policy.act(&q, &s2, &mut rng);
        td.differential_sarsa(
            &mut q,
            &Transition {
                state: &s,
                action: a,
                reward: r as f32,
                next_state: &s2,
                next_action: a2,
            },
        );
        (s, a) = (s2, a2);
    }
    q
}

#[test]
fn solver_finds_optimum_above_simple_policies() {
    let spec = Spec::small();
    let sol = spec.solve(1e-10);
    let accept_all = vec![1; spec.states()];
    let exact = spec.gain(&sol.policy);
    assert!(
        (exact - sol.rho).abs() < 1e-6,
        "gain {exact} vs rho {}",
        sol.rho
    );
    // 5% of ρ* separates the optimum from the naive policy.
    assert!(
        spec.gain(&accept_all) < 0.9 * sol.rho,
        "accept-all {}",
        spec.gain(&accept_all)
    );
    // The top priority is always worth serving when a server is free.
    for free in 1..=spec.servers {
        assert_eq!(sol.policy[spec.index(State { free, priority: 3 })], 1);
    }
    let mut rng = SmallRng::seed_from_u64(7);
    let mut env = AccessControl::new(spec.clone(), &mut rng);
    let simulated = env.simulate(&sol.policy, 10_000, EVAL_STEPS, &mut rng);
    assert!(
        (simulated - sol.rho).abs() < 0.02 * sol.rho,
        "{simulated} vs {}",
        sol.rho
    );
}

#[test]
fn differential_sarsa_converges_light() {
    let spec = Spec::small();
    let q = train_direct(&spec, 500_000, 1);
    judge(&spec, &q, 11);
}

#[test]
fn differential_sarsa_converges_textbook_length() {
    let spec = Spec::small();
    let q = train_direct(&spec, 2_000_000, 2);
    judge(&spec, &q, 12);
}

/// The node's path: entries reach the learner through the EID window, out of
/// order (shuffled in blocks of 8), sometimes twice, sometimes never.
#[test]
fn differential_sarsa_converges_through_window() {
    let spec = Spec::small();
    let (mut q, mut td, mut policy) = learner();
    let mut window = Window::new(1024, 2, 10, 50)
        .expect("valid window")
        .with_start(0);
    let mut rng = SmallRng::seed_from_u64(3);
    let mut env = AccessControl::new(spec.clone(), &mut rng);
    let mut block: Vec<(u64, [f32; 2], usize, f32)> = Vec::with_capacity(8);
    for eid in 0..500_000u64 {
        let s = features(env.state());
        let a = policy.act(&q, &s, &mut rng);
        let (r, _) = env.step(a, &mut rng);
        block.push((eid, s, a, r as f32));
        if block.len() == 8 {
            block.shuffle(&mut rng);
            for &(eid, s, a, r) in &block {
                // 1% of responses are lost, 1% arrive twice.
                let roll: f32 = rand::Rng::r#gen(&mut rng);
                if roll < 0.01 {
                    continue;
                }
                let copies = if roll > 0.99 { 2 } else { 1 };
                for _ in 0..copies {
                    let pushed = window.push(eid, &s, a as u32, r);
                    assert_ne!(pushed, Push::WrongDims);
                }
                window.drain(|t| {
                    td.differential_sarsa(
                        &mut q,
                        &Transition {
                            state: t.state,
                            action: t.action as usize,
                            reward: t.reward,
                            next_state: t.next_state,
                            next_action: t.next_action as usize,
                        },
                    );
                });
            }
            block.clear();
        }
    }
    let stats = window.stats();
    eprintln!("window: {stats:?}");
    assert_eq!(stats.forced_skips, 0);
    assert!(stats.gaps_skipped > 0 && stats.duplicates > 0);
    assert!(stats.trained > 450_000);
    judge(&spec, &q, 13);
}
