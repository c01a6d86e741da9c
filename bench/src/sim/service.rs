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
