use proptest::prelude::*;

use super::*;

fn close(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, want {want} ± {tol}");
}

#[test]
fn erlang_b_known_values() {
    close(erlang_b(1.0, 1).expect("valid"), 0.5, 1e-12);
    // Standard Erlang-B tables: B(a=10, K=10) = 0.2146, B(a=2, K=4) = 0.0952.
    close(erlang_b(10.0, 10).expect("valid"), 0.214_582, 1e-6);
    close(erlang_b(2.0, 4).expect("valid"), 0.095_238, 1e-6);
    // a = K = 4 (the CI experiment): (4⁴/4!) / Σ 4ⁿ/n! = 10.667 / 34.333.
    close(erlang_b(4.0, 4).expect("valid"), 32.0 / 103.0, 1e-12);
}

#[test]
fn erlang_b_limits() {
    assert_eq!(erlang_b(0.0, 3), Ok(0.0));
    assert_eq!(erlang_b(5.0, 0), Ok(1.0), "no servers: everything is lost");
    // Heavy overload: B → 1 − K/a.
    close(erlang_b(1e6, 10).expect("valid"), 1.0 - 10.0 / 1e6, 1e-9);
    // Large K with a ≪ K: negligible blocking, and no overflow on the way.
    let b = erlang_b(100.0, 10_000).expect("valid");
    assert!((0.0..1e-300).contains(&b) || b == 0.0, "{b}");
}

#[test]
fn erlang_b_rejects_bad_load() {
    assert!(matches!(erlang_b(-1.0, 2), Err(Error::BadRate { .. })));
    assert!(matches!(erlang_b(f64::NAN, 2), Err(Error::BadRate { .. })));
    assert!(matches!(
        erlang_b(f64::INFINITY, 2),
        Err(Error::BadRate { .. })
    ));
}

#[test]
fn the_originals_mistake_is_not_ours() {
    // μ = 1/0.180 s⁻¹, K = 3, λ = 10 /s (model_mmkk.py): the load is 1.8 Erlang, not 10.
    let mu = 1.0 / 0.180;
    let right = mmkq(10.0, mu, 3, 0).expect("valid").blocking;
    close(right, erlang_b(1.8, 3).expect("valid"), 1e-12);
    assert!((right - erlang_b(10.0, 3).expect("valid")).abs() > 0.4);
}

#[test]
fn mm1k_matches_closed_form() {
    // p_K = (1 − ρ)ρᴷ / (1 − ρᴷ⁺¹), and E[T] = L / (λ(1 − p_K)).
    let (lambda, mu, k) = (1.5, 2.0, 4);
    let rho: f64 = lambda / mu;
    let f = mm1k(lambda, mu, k).expect("valid");
    let pk = (1.0 - rho) * rho.powi(4) / (1.0 - rho.powi(5));
    close(f.blocking, pk, 1e-12);
    let l: f64 = (0..=4)
        .map(|n| f64::from(n) * (1.0 - rho) * rho.powi(n) / (1.0 - rho.powi(5)))
        .sum();
    close(f.mean_in_system, l, 1e-12);
    close(f.mean_time_in_system_s, l / (lambda * (1.0 - pk)), 1e-12);
    // ρ = 1: uniform over K + 1 states, no special case needed (the original nudged ρ by 1e-5).
    close(mm1k(2.0, 2.0, 4).expect("valid").blocking, 0.2, 1e-12);
}

#[test]
fn mmkq_queue_adds_wait_and_cuts_blocking() {
    let loss = mmkq(200.0, 50.0, 4, 0).expect("valid");
    let queued = mmkq(200.0, 50.0, 4, 4).expect("valid");
    close(loss.blocking, erlang_b(4.0, 4).expect("valid"), 1e-12);
    assert_eq!(loss.mean_wait_s, 0.0);
    assert!(queued.blocking < loss.blocking);
    assert!(queued.mean_wait_s > 0.0);
}

#[test]
fn mmkq_rejects_bad_input() {
    assert_eq!(mmkq(1.0, 0.0, 1, 0), Err(Error::ZeroServiceRate));
    assert_eq!(mmkq(1.0, 1.0, 0, 0), Err(Error::NoServers));
    assert_eq!(mm1k(1.0, 1.0, 0), Err(Error::NoServers));
    assert!(matches!(
        mmkq(-1.0, 1.0, 1, 0),
        Err(Error::BadRate { name: "lambda", .. })
    ));
}

#[test]
fn table_renders_every_model() {
    let t = Table {
        lambda: 200.0,
        mu: 50.0,
        k: 4,
        q: 2,
    }
    .render()
    .expect("valid");
    assert!(t.contains("a = λ/μ = 4.0000"), "{t}");
    assert!(t.contains("M/M/4/4 (Erlang-B)"), "{t}");
    assert!(t.contains("0.310680"), "{t}");
    assert!(t.contains("M/M/4/6"), "{t}");
    assert!(t.contains("M/M/1/4"), "{t}");
}

proptest! {
    #[test]
    fn erlang_b_is_a_probability(a in 0.0..1e4_f64, k in 0u32..500) {
        let b = erlang_b(a, k).expect("valid");
        prop_assert!((0.0..=1.0).contains(&b));
    }

    #[test]
    fn erlang_b_grows_with_load_and_falls_with_servers(a in 0.01..500.0_f64, k in 1u32..200) {
        let b = erlang_b(a, k).expect("valid");
        prop_assert!(erlang_b(a * 1.1, k).expect("valid") >= b);
        prop_assert!(erlang_b(a, k + 1).expect("valid") <= b);
    }

    #[test]
    fn mmkq_is_consistent(lambda in 0.01..1e3_f64, mu in 0.01..1e3_f64, k in 1u32..64, q in 0u32..64) {
        let f = mmkq(lambda, mu, k, q).expect("valid");
        prop_assert!((0.0..=1.0).contains(&f.blocking));
        prop_assert!(f.mean_in_system >= 0.0 && f.mean_in_system <= f64::from(k + q) + 1e-9);
        // Little's law for the whole system: L = X·T.
        let lhs = f.mean_in_system;
        let rhs = f.throughput * f.mean_time_in_system_s;
        prop_assert!((lhs - rhs).abs() <= 1e-9 * lhs.max(1.0), "{lhs} vs {rhs}");
        // Blocking never rises when waiting places are added.
        prop_assert!(mmkq(lambda, mu, k, q + 1).expect("valid").blocking <= f.blocking + 1e-12);
        if q == 0 {
            let b = erlang_b(lambda / mu, k).expect("valid");
            prop_assert!((f.blocking - b).abs() <= 1e-9);
        }
    }
}
