//! Service times: exponential or fixed with the spec's mean, or drawn from times measured live.

use rand::Rng;

/// How long a job holds its slot on a node of speed 1, in ns.
#[derive(Debug, Clone)]
pub(crate) enum Service {
    /// Exp(1/mean).
    Exponential {
        /// Mean, ns.
        mean_ns: f64,
    },
    /// Always this long.
    Fixed {
        /// ns.
        ns: f64,
    },
    /// Uniformly one of these (ns).
    Empirical(Vec<f64>),
}

impl Service {
    /// One draw, ns.
    pub(crate) fn sample(&self, rng: &mut impl Rng) -> f64 {
        match self {
            Self::Exponential { mean_ns } => {
                let u: f64 = rng.r#gen();
                -(1.0 - u).ln() * mean_ns
            }
            Self::Fixed { ns } => *ns,
            Self::Empirical(times) => times[rng.gen_range(0..times.len())],
        }
    }

    /// Parses measured service times in ms: one per line or the first CSV column; blank lines, `#`
    /// comments and a non-numeric first line (a header) are skipped. The error names the line.
    pub(crate) fn from_measured(text: &str) -> Result<Self, String> {
        let mut times = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let field = raw
                .split('#')
                .next()
                .unwrap_or_default()
                .split(',')
                .next()
                .unwrap_or_default()
                .trim();
            if field.is_empty() {
                continue;
            }
            match field.parse::<f64>() {
                Ok(ms) if ms.is_finite() && ms >= 0.0 => times.push(ms * 1e6),
                _ if times.is_empty() && i == 0 => {}
                _ => return Err(format!("line {}: expected ms ≥ 0, got {field:?}", i + 1)),
            }
        }
        if times.is_empty() {
            return Err("no service times".to_owned());
        }
        Ok(Self::Empirical(times))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    #[test]
    fn measured_times_skip_header_comments_and_extra_columns() {
        let s = Service::from_measured("time_ms,other\n\n10 # first\n20,x\n").expect("valid");
        let Service::Empirical(times) = &s else {
            panic!("{s:?}");
        };
        assert_eq!(times, &[10e6, 20e6]);
        let mut rng = SmallRng::seed_from_u64(1);
        assert!((0..100).all(|_| [10e6, 20e6].contains(&s.sample(&mut rng))));
        assert_eq!(
            Service::from_measured("5\nfast\n").err().as_deref(),
            Some("line 2: expected ms ≥ 0, got \"fast\"")
        );
        assert!(Service::from_measured("# nothing\n").is_err());
    }

    #[test]
    fn exponential_has_its_mean() {
        let s = Service::Exponential { mean_ns: 1e6 };
        let mut rng = SmallRng::seed_from_u64(2);
        let mean = (0..100_000).map(|_| s.sample(&mut rng)).sum::<f64>() / 1e5;
        assert!((mean / 1e6 - 1.0).abs() < 0.02, "{mean}");
    }
}
