use super::*;

/// Kolmogorov–Smirnov statistic D = sup |F̂(x) − F(x)| of `sample` against the CDF `cdf`.
fn ks_statistic(sample: &mut [f64], cdf: impl Fn(f64) -> f64) -> f64 {
    sample.sort_by(f64::total_cmp);
    let n = sample.len() as f64;
    sample
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            // The empirical CDF jumps from i/n to (i+1)/n at x: check both sides of the step.
            (f - i as f64 / n).max((i + 1) as f64 / n - f)
        })
        .fold(0.0, f64::max)
}

/// Asymptotic critical value of D at level α = 0.01: √(−ln(α/2)/2) / √n ≈ 1.6276/√n.
fn ks_critical_001(n: usize) -> f64 {
    (-(0.01_f64 / 2.0).ln() / 2.0).sqrt() / (n as f64).sqrt()
}

fn gaps(offsets: &[Duration]) -> Vec<f64> {
    offsets
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect()
}

fn poisson(rate: f64, seed: u64, n: usize) -> Vec<Duration> {
    let profile = Profile::constant(rate).expect("valid rate");
    Schedule::new(profile, Process::Poisson, seed)
        .take(n)
        .collect()
}

#[test]
fn poisson_gaps_pass_ks_against_exponential() {
    let lambda = 5000.0;
    for seed in [1, 2, 3] {
        let mut g = gaps(&poisson(lambda, seed, 10_001));
        let d = ks_statistic(&mut g, |x| 1.0 - (-lambda * x).exp());
        let critical = ks_critical_001(g.len());
        assert!(d < critical, "seed {seed}: D = {d} ≥ {critical}");
    }
}

#[test]
fn ks_catches_the_originals_truncated_gaps() {
    // The Go client re-drew gaps below 10 ms: at λ = 50/s that is visibly not exponential.
    let lambda = 50.0;
    let mut rng = SmallRng::seed_from_u64(7);
    let mut g: Vec<f64> = (0..10_000)
        .map(|_| {
            loop {
                let x = unit_exponential(&mut rng) / lambda;
                if x >= 0.010 {
                    break x;
                }
            }
        })
        .collect();
    let d = ks_statistic(&mut g, |x| 1.0 - (-lambda * x).exp());
    assert!(d > ks_critical_001(g.len()), "D = {d}");
}

#[test]
fn poisson_rate_is_within_two_percent() {
    for (lambda, seed) in [(1000.0, 11), (5000.0, 12), (200.0, 13)] {
        let n = 100_000;
        let offsets = poisson(lambda, seed, n);
        let last = offsets.last().expect("n > 0").as_secs_f64();
        // n arrivals, the first after one gap: n/T estimates λ.
        let measured = n as f64 / last;
        assert!(
            (measured / lambda - 1.0).abs() < 0.02,
            "λ = {lambda}: measured {measured}"
        );
    }
}

#[test]
fn seed_fixes_the_schedule() {
    assert_eq!(poisson(100.0, 5, 50), poisson(100.0, 5, 50));
    assert_ne!(poisson(100.0, 5, 50), poisson(100.0, 6, 50));
}

#[test]
fn deterministic_is_evenly_spaced_from_zero() {
    let profile = Profile::constant(4.0).expect("valid");
    let got: Vec<Duration> = Schedule::new(profile, Process::Deterministic, 0)
        .take(3)
        .collect();
    assert_eq!(got, [0, 250, 500].map(Duration::from_millis));
}

#[test]
fn trace_rates_hold_between_points() {
    let trace = "time_s,rate\n# warm-up off\n1,100\n\n3,0\n4, 200\n";
    let profile = Profile::from_trace(trace).expect("valid trace");
    // Λ: 0 until 1 s, then 100/s for 2 s, 0 for 1 s, then 200/s.
    assert_eq!(profile.expected_by(0.5), 0.0);
    assert_eq!(profile.expected_by(3.5), 200.0);
    assert_eq!(profile.expected_by(5.0), 400.0);
    let offsets: Vec<f64> = Schedule::new(profile, Process::Deterministic, 0)
        .take(400)
        .map(|d| d.as_secs_f64())
        .collect();
    assert!((offsets[0] - 1.0).abs() < 1e-9);
    assert!(
        offsets
            .iter()
            .all(|&t| !(3.0..4.0).contains(&t) && t >= 1.0)
    );
    let in_first = offsets.iter().filter(|&&t| t < 3.0).count();
    assert_eq!(in_first, 200);
    assert!((offsets[399] - (4.0 + 199.0 / 200.0)).abs() < 1e-9);
}

#[test]
fn trace_ending_at_zero_rate_ends_the_schedule() {
    let profile = Profile::from_trace("0,10\n1,0\n").expect("valid");
    assert!(Schedule::new(profile, Process::Poisson, 1).count() > 0);
    let profile = Profile::from_trace("0,10\n1,0\n").expect("valid");
    assert!(Schedule::new(profile, Process::Poisson, 1).all(|d| d.as_secs_f64() <= 1.0));
}

#[test]
fn trace_errors_name_the_line() {
    let cases = [
        ("0,1\n1,2,3\n", 2, "expected `time_s,rate`"),
        ("time_s,rate\n0,abc\n", 2, "rate must be"),
        ("0,1\n\n-1,2\n", 3, "time_s must be"),
        ("0,1\n2,1\n2,5\n", 3, "time_s must increase"),
        ("0,1\n1,inf\n", 2, "rate must be"),
        ("0,0\n", 0, "no positive rate"),
        ("", 0, "no positive rate"),
    ];
    for (text, line, wanted) in cases {
        let err = Profile::from_trace(text).expect_err(text);
        assert_eq!(err.line, line, "{text:?}: {err}");
        assert!(err.to_string().contains(wanted), "{text:?}: {err}");
        if line > 0 {
            assert!(err.to_string().starts_with(&format!("trace line {line}:")));
        }
    }
}

#[test]
fn constant_rate_must_be_positive() {
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(Profile::constant(bad).is_err(), "{bad}");
    }
}
