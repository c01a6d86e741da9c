use super::*;
use crate::{config::Params, qtable::QTable};

fn td(params: Params, actions: usize) -> Td {
    Td::try_new(&Config::try_new(params).expect("valid"), actions).expect("valid")
}

fn table(actions: usize) -> QTable {
    QTable::try_new(1, actions, 16).expect("valid shape")
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() < 1e-5
}

#[test]
fn differential_sarsa_one_step_by_hand() {
    let mut td = td(
        Params {
            alpha: 0.5,
            beta: 0.25,
            ..Params::default()
        },
        1,
    );
    let mut q = table(1);
    assert!(q.set(&[1.0], &[2.0]));
    let t = Transition {
        state: &[0.0],
        action: 0,
        reward: 1.0,
        next_state: &[1.0],
        next_action: 0,
    };
    // δ = 1 − 0 + 2 − 0 = 3; R̄ = 0 + 0.25·3; Q(s) = 0.5·3.
    assert!(close(td.differential_sarsa(&mut q, &t), 3.0));
    assert!(close(td.average_reward().value(), 0.75));
    assert!(close(q.q(&[0.0], 0), 1.5));
    // δ = 1 − 0.75 + 2 − 1.5 = 0.75; R̄ = 0.75 + 0.25·0.75 = 0.9375 (the
    // original's R̄ = r + βδ would give 1.1875).
    assert!(close(td.differential_sarsa(&mut q, &t), 0.75));
    assert!(close(td.average_reward().value(), 0.9375));
}

#[test]
fn differential_sarsa_solves_the_two_state_cycle() {
    // A → B pays 1, B → A pays 3, one action. By hand: the average reward is
    // 2, and the differential values satisfy q(A) = 1 − 2 + q(B), so
    // q(B) − q(A) = 1. The original update R̄ ← r + βδ keeps R̄ near the last
    // reward (1 or 3) and fails this test.
    let mut td = td(
        Params {
            alpha: 0.1,
            beta: 0.05,
            ..Params::default()
        },
        1,
    );
    let mut q = table(1);
    let (a, b) = ([0.0f32], [1.0f32]);
    for i in 0..20_000 {
        let (s, s2, r) = if i % 2 == 0 {
            (&a, &b, 1.0)
        } else {
            (&b, &a, 3.0)
        };
        td.differential_sarsa(
            &mut q,
            &Transition {
                state: s,
                action: 0,
                reward: r,
                next_state: s2,
                next_action: 0,
            },
        );
    }
    let avg = td.average_reward().value();
    let gap = q.q(&b, 0) - q.q(&a, 0);
    assert!((avg - 2.0).abs() < 1e-2, "R̄ = {avg}");
    assert!((gap - 1.0).abs() < 1e-2, "q(B) − q(A) = {gap}");
}

#[test]
fn differential_sarsa_prefers_the_better_action() {
    // One state, action 1 pays 2, action 0 pays 1. Under the greedy policy
    // (a' = 1) the average is 2 and q(1) − q(0) = 2 − 1 = 1.
    let mut td = td(
        Params {
            alpha: 0.1,
            beta: 0.05,
            ..Params::default()
        },
        2,
    );
    let mut q = table(2);
    let s = [0.0f32];
    for i in 0..20_000 {
        let a = i % 2;
        let r = if a == 1 { 2.0 } else { 1.0 };
        td.differential_sarsa(
            &mut q,
            &Transition {
                state: &s,
                action: a,
                reward: r,
                next_state: &s,
                next_action: 1,
            },
        );
    }
    let gap = q.q(&s, 1) - q.q(&s, 0);
    assert!((gap - 1.0).abs() < 2e-2, "gap = {gap}");
}

#[test]
fn discounted_forms_by_hand() {
    let p = Params {
        alpha: 0.5,
        gamma: 0.5,
        ..Params::default()
    };
    let next = [1.0];
    let mut q = table(2);
    assert!(q.set(&next, &[1.0, 3.0]));
    let t = Transition {
        state: &[0.0],
        action: 0,
        reward: 1.0,
        next_state: &next,
        next_action: 0,
    };

    // Sarsa uses a' = 0: δ = 1 + 0.5·1 = 1.5.
    let mut q1 = q.clone();
    assert!(close(td(p, 2).sarsa(&mut q1, &t), 1.5));
    assert!(close(q1.q(&[0.0], 0), 0.75));

    // Q-learning uses max = 3: δ = 1 + 1.5 = 2.5.
    let mut q2 = q.clone();
    assert!(close(td(p, 2).q_learning(&mut q2, &t), 2.5));

    // Expected Sarsa at ε = 0.5: 0.5·3 + 0.5·2 = 2.5; δ = 1 + 1.25 = 2.25.
    let mut q3 = q.clone();
    assert!(close(td(p, 2).expected_sarsa(&mut q3, &t, 0.5), 2.25));

    // `step` dispatches to the same updates.
    let mut q4 = q;
    assert!(close(td(p, 2).step(Form::QLearning, &mut q4, &t, 0.0), 2.5));
}

#[test]
fn reconfigure_keeps_the_average_reward() {
    let mut q = table(1);
    let mut td = td(
        Params {
            alpha: 0.5,
            beta: 0.5,
            ..Params::default()
        },
        1,
    );
    let t = Transition {
        state: &[0.0],
        action: 0,
        reward: 2.0,
        next_state: &[0.0],
        next_action: 0,
    };
    // δ = 2 − 0 + 0 − 0 = 2 → R̄ = 1.
    td.differential_sarsa(&mut q, &t);
    assert!(close(td.average_reward().value(), 1.0));
    td.reconfigure(
        &Config::try_new(Params {
            alpha: 0.1,
            beta: 0.25,
            ..Params::default()
        })
        .expect("valid"),
    );
    assert!(close(td.average_reward().value(), 1.0));
    // Q(0,0) = 1 now; δ = 2 − 1 + 1 − 1 = 1 → R̄ = 1 + 0.25, Q += 0.1.
    td.differential_sarsa(&mut q, &t);
    assert!(close(td.average_reward().value(), 1.25));
    assert!(close(q.q(&[0.0], 0), 1.1));
}
