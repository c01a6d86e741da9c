//! Arrival schedules: when each request of an open-loop run should be sent, as offsets from the start.
//! Pure and seeded — no clock, no I/O; `load` turns the offsets into sends.
//!
//! Every process is built the same way: arrivals are first placed in *operational time* s (unit rate),
//! then mapped to wall time through the inverse of the cumulative rate Λ(t) = ∫₀ᵗ λ(u) du. With a
//! constant rate this is just t = s/λ; with a trace of rates it gives an exact non-homogeneous Poisson
//! process, with no thinning and no truncation (the original's Go client re-drew every gap below 10 ms).

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::SmallRng};

/// How arrivals are spaced in operational time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// Exponential gaps (a Poisson process with the profile's rate).
    Poisson,
    /// Equal gaps of one unit of operational time (1/λ at a constant rate), the first at t = 0.
    Deterministic,
}

/// A CSV trace line that could not be used; the message names the line (1-based).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("trace line {line}: {problem}")]
pub struct TraceError {
    /// 1-based line number in the file (0 for a problem with the trace as a whole).
    pub line: usize,
    /// What is wrong with it.
    pub problem: String,
}

/// One piece of a piecewise-constant rate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Step {
    /// Wall time this rate starts, seconds from the run's start.
    start_s: f64,
    /// Requests per second from `start_s` until the next step.
    rate: f64,
    /// Λ(start_s): expected arrivals before this step.
    cumulative: f64,
}

/// A piecewise-constant arrival rate over time: constant, or read from a `time_s,rate` trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Sorted by `start_s`; the first starts at 0; the last rate holds forever.
    steps: Vec<Step>,
}

impl Profile {
    /// A constant rate λ (per second). Fails unless λ is finite and > 0.
    pub fn constant(rate: f64) -> Result<Self, TraceError> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(TraceError {
                line: 0,
                problem: format!("rate must be a finite number > 0, got {rate}"),
            });
        }
        Ok(Self::from_points(&[(0.0, rate)]))
    }

    /// Parses a trace: one `time_s,rate` per line, times strictly increasing, rates ≥ 0. Each rate holds
    /// from its time until the next line's; the last holds until the run ends. Before the first time the
    /// rate is 0. An optional `time_s,rate` header, blank lines and `#` comments are skipped.
    pub fn from_trace(text: &str) -> Result<Self, TraceError> {
        let mut points: Vec<(f64, f64)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |problem: String| TraceError { line, problem };
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty()
                || (points.is_empty() && content.replace(' ', "") == "time_s,rate")
            {
                continue;
            }
            let fields: Vec<&str> = content.split(',').map(str::trim).collect();
            let [time, rate] = fields[..] else {
                return Err(err(format!(
                    "expected `time_s,rate`, got {} field(s): {content:?}",
                    fields.len()
                )));
            };
            let number = |name: &str, text: &str| -> Result<f64, TraceError> {
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
                    _ => Err(err(format!(
                        "{name} must be a finite number ≥ 0, got {text:?}"
                    ))),
                }
            };
            let time = number("time_s", time)?;
            let rate = number("rate", rate)?;
            if let Some(&(prev, _)) = points.last()
                && time <= prev
            {
                return Err(err(format!(
                    "time_s must increase, got {time} after {prev}"
                )));
            }
            points.push((time, rate));
        }
        if points.iter().all(|&(_, rate)| rate == 0.0) {
            return Err(TraceError {
                line: 0,
                problem: "the trace has no positive rate".to_owned(),
            });
        }
        Ok(Self::from_points(&points))
    }

    /// Builds the steps from validated, increasing `(time_s, rate)` points.
    fn from_points(points: &[(f64, f64)]) -> Self {
        let mut steps = Vec::with_capacity(points.len() + 1);
        if points.first().is_some_and(|&(t, _)| t > 0.0) {
            steps.push(Step {
                start_s: 0.0,
                rate: 0.0,
                cumulative: 0.0,
            });
        }
        for &(start_s, rate) in points {
            let cumulative = steps.last().map_or(0.0, |s: &Step| {
                s.cumulative + s.rate * (start_s - s.start_s)
            });
            steps.push(Step {
                start_s,
                rate,
                cumulative,
            });
        }
        Self { steps }
    }

    /// Λ⁻¹(s): the wall time by which `s` arrivals are expected, or `None` if the rate stays 0 after.
    fn wall_time(&self, s: f64) -> Option<f64> {
        // The last step whose cumulative is ≤ s. Zero-rate steps share their cumulative with the next
        // step, so this skips them — unless a zero rate is last, where nothing more ever arrives.
        let i = self
            .steps
            .partition_point(|st| st.cumulative <= s)
            .checked_sub(1)?;
        let step = self.steps[i];
        (step.rate > 0.0).then(|| step.start_s + (s - step.cumulative) / step.rate)
    }

    /// Expected number of arrivals in the first `seconds` (Λ(t)).
    pub fn expected_by(&self, seconds: f64) -> f64 {
        let i = self.steps.partition_point(|st| st.start_s <= seconds);
        match i.checked_sub(1) {
            Some(i) => {
                let s = self.steps[i];
                s.cumulative + s.rate * (seconds - s.start_s)
            }
            None => 0.0,
        }
    }
}

/// The send offsets of one target's requests, in order: an endless iterator (bound it by count and
/// duration), reproducible for a given seed.
#[derive(Debug, Clone)]
pub struct Schedule {
    profile: Profile,
    process: Process,
    rng: SmallRng,
    /// Operational time of the next arrival.
    next_s: f64,
}

impl Schedule {
    /// A schedule for `profile` spaced by `process`, drawing from an RNG seeded with `seed`.
    pub fn new(profile: Profile, process: Process, seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let next_s = match process {
            Process::Poisson => unit_exponential(&mut rng),
            Process::Deterministic => 0.0,
        };
        Self {
            profile,
            process,
            rng,
            next_s,
        }
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let t = self.profile.wall_time(self.next_s)?;
        self.next_s += match self.process {
            Process::Poisson => unit_exponential(&mut self.rng),
            Process::Deterministic => 1.0,
        };
        // `t` is finite and ≥ 0 by construction; saturate rather than panic on absurd traces.
        Some(Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX))
    }
}

/// An Exp(1) draw by inversion: −ln(U) with U uniform in (0, 1] (never 0, so never infinite).
fn unit_exponential(rng: &mut impl Rng) -> f64 {
    let u: f64 = rng.r#gen();
    -(1.0 - u).ln()
}

#[cfg(test)]
mod tests;
