//! `node.speed` and `functions.<name>.speed`: a service-time divisor for the built-ins `sleep` and
//! `cpu-loop`, so one machine can host a heterogeneous cluster (speed 0.5 takes twice as long, as a
//! slower board would). A function's own `speed` wins over the node's.

use super::{Builtin, ConfigError, field_err};

/// Slowest and fastest speed accepted.
const RANGE: std::ops::RangeInclusive<f64> = 0.001..=1000.0;

/// `v` checked, 1 when absent; the error names `field`.
pub(super) fn checked(field: &str, v: Option<f64>) -> Result<f64, ConfigError> {
    match v {
        None => Ok(1.0),
        Some(s) if s.is_finite() && RANGE.contains(&s) => Ok(s),
        Some(s) => Err(field_err(
            field,
            format!(
                "must be a number from {} to {}, got {s}",
                RANGE.start(),
                RANGE.end()
            ),
        )),
    }
}

/// `builtin` with its mean service time divided by `speed`; `echo` is unchanged.
pub(super) fn scaled(builtin: Builtin, speed: f64) -> Builtin {
    let slow = |mean: std::time::Duration| mean.div_f64(speed);
    match builtin {
        Builtin::Echo => Builtin::Echo,
        Builtin::Sleep { mean, distribution } => Builtin::Sleep {
            mean: slow(mean),
            distribution,
        },
        Builtin::CpuLoop { mean, distribution } => Builtin::CpuLoop {
            mean: slow(mean),
            distribution,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{Config, Distribution, Raw};

    fn work(text: &str) -> Result<Builtin, ConfigError> {
        let raw: Raw = toml::from_str(text).map_err(|e| field_err("toml", e.to_string()))?;
        let config = Config::from_raw(raw)?;
        let f = config
            .functions
            .first()
            .ok_or_else(|| field_err("functions", "none"))?;
        match &f.backend {
            super::super::BackendConfig::Builtin(b) => Ok(*b),
            _ => Err(field_err("functions.work.backend", "not builtin")),
        }
    }

    #[test]
    fn node_speed_scales_builtins_and_a_function_speed_wins() {
        let base = "[functions.work]\nbackend = \"builtin\"\nbuiltin = \"sleep\"\nmean_ms = 10\n";
        let mean = |b: Builtin| match b {
            Builtin::Sleep { mean, distribution } => {
                assert_eq!(distribution, Distribution::Exponential);
                mean
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(mean(work(base).expect("plain")), Duration::from_millis(10));
        let half = format!("[node]\nspeed = 0.5\n{base}");
        assert_eq!(mean(work(&half).expect("half")), Duration::from_millis(20));
        let own = format!("{half}speed = 2.0\n");
        assert_eq!(mean(work(&own).expect("own")), Duration::from_millis(5));
        for (text, field) in [
            (format!("[node]\nspeed = 0.0\n{base}"), "node.speed"),
            (format!("{base}speed = -1.0\n"), "functions.work.speed"),
        ] {
            let err = work(&text).expect_err(field).to_string();
            assert!(err.contains(field), "{text}: {err}");
        }
    }
}
