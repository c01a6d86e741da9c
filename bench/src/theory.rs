//! Queueing models a single node is checked against: Erlang-B (M/M/K/K), M/M/K/K+Q (K servers, Q
//! waiting places) and M/M/1/K. Pure functions of rates and sizes; no I/O (the `theory` command's
//! flags and printing are [`cli`]'s).
//!
//! **Every model here takes the offered load `a = λ/μ` (in Erlangs), or λ and μ separately — never λ
//! alone.** The original's `model_mmkk.py` passed λ where the load belongs, which is only right when
//! μ = 1 s⁻¹; its curves were off by a factor μ on the load axis.

use std::fmt;

pub mod cli;

/// Why a model could not be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A rate or load was negative, NaN or infinite (the caller's input; nothing to retry).
    #[error("{name} must be a finite number ≥ 0, got {value}")]
    BadRate {
        /// Which input (`lambda`, `mu`, `load`).
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// μ = 0: the service never completes, so no stationary distribution exists.
    #[error("mu must be > 0")]
    ZeroServiceRate,
    /// K = 0 servers (or M/M/1/K with K = 0 places).
    #[error("k must be ≥ 1")]
    NoServers,
}

fn check(name: &'static str, value: f64) -> Result<f64, Error> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(Error::BadRate { name, value })
    }
}

/// Erlang-B blocking probability of an M/M/K/K loss system with offered load `a = λ/μ` Erlangs.
///
/// Uses the recursion `B(0) = 1`, `B(k) = a·B(k−1) / (k + a·B(k−1))`, which stays in [0, 1] at every
/// step, so it neither overflows (unlike `aᴷ/K!`) nor loses precision for large K.
///
/// Note the argument: **a = λ/μ, not λ.**
pub fn erlang_b(a: f64, k: u32) -> Result<f64, Error> {
    let a = check("load", a)?;
    let mut b = 1.0;
    for i in 1..=k {
        b = a * b / (f64::from(i) + a * b);
    }
    Ok(b)
}

/// Steady-state figures of a finite birth–death queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Probability that an arrival finds the system full and is refused (PASTA: = P(full)).
    pub blocking: f64,
    /// Mean number of jobs in the system (waiting + in service).
    pub mean_in_system: f64,
    /// Mean time an *admitted* job waits before service starts, seconds.
    pub mean_wait_s: f64,
    /// Mean time an admitted job spends in the system (wait + service), seconds.
    pub mean_time_in_system_s: f64,
    /// Accepted throughput λ·(1 − blocking), jobs per second.
    pub throughput: f64,
}

/// M/M/K/K+Q: Poisson arrivals at `lambda`, exponential service at `mu` per server, `k` servers and
/// `q` waiting places (the node's `queue.slots` and `queue.queue_len`). `q = 0` is Erlang-B.
pub fn mmkq(lambda: f64, mu: f64, k: u32, q: u32) -> Result<Figures, Error> {
    let lambda = check("lambda", lambda)?;
    let mu = check("mu", mu)?;
    if mu == 0.0 {
        return Err(Error::ZeroServiceRate);
    }
    if k == 0 {
        return Err(Error::NoServers);
    }
    let a = lambda / mu;
    let capacity = k + q;
    // Unnormalised p_n relative to p_0, in logs: p_n/p_{n−1} = a / min(n, K). Logs avoid overflow of
    // aⁿ/n! for large K; subtracting the maximum before exponentiating keeps the sum finite.
    let mut logs = Vec::with_capacity(capacity as usize + 1);
    logs.push(0.0_f64);
    let log_a = a.ln();
    for n in 1..=capacity {
        let prev = logs[n as usize - 1];
        logs.push(prev + log_a - f64::from(n.min(k)).ln());
    }
    if a == 0.0 {
        // ln 0 = −∞ makes every state but the empty one impossible: the exact answer.
        return Ok(Figures {
            blocking: 0.0,
            mean_in_system: 0.0,
            mean_wait_s: 0.0,
            mean_time_in_system_s: 1.0 / mu,
            throughput: 0.0,
        });
    }
    let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logs.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let p = |n: u32| weights[n as usize] / total;
    let blocking = p(capacity);
    let mean_in_system: f64 = (0..=capacity).map(|n| f64::from(n) * p(n)).sum();
    // fold from +0.0: an empty `sum()` of f64 is −0.0, which would print as "-0.000".
    let mean_queued = (k + 1..=capacity)
        .map(|n| f64::from(n - k) * p(n))
        .fold(0.0, |acc, x| acc + x);
    let throughput = lambda * (1.0 - blocking);
    // Little's law on admitted jobs. Throughput > 0 because a > 0 and blocking < 1 in a finite system.
    let mean_wait_s = mean_queued / throughput;
    Ok(Figures {
        blocking,
        mean_in_system,
        mean_wait_s,
        mean_time_in_system_s: mean_wait_s + 1.0 / mu,
        throughput,
    })
}

/// M/M/1/K: one server and `k` places in total (the one in service included), as in the original's
/// `model_mm1k.py`. The same chain as M/M/K/K+Q with one server and `k − 1` waiting places.
pub fn mm1k(lambda: f64, mu: f64, k: u32) -> Result<Figures, Error> {
    if k == 0 {
        return Err(Error::NoServers);
    }
    mmkq(lambda, mu, 1, k - 1)
}

/// The `theory` subcommand's table for one (λ, μ, K, Q).
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// Arrival rate, per second.
    pub lambda: f64,
    /// Service rate per server, per second.
    pub mu: f64,
    /// Servers (the node's K).
    pub k: u32,
    /// Waiting places (the node's Q).
    pub q: u32,
}

impl Table {
    fn rows(&self) -> Result<[(String, Figures); 3], Error> {
        Ok([
            (
                format!("M/M/{0}/{0} (Erlang-B)", self.k),
                mmkq(self.lambda, self.mu, self.k, 0)?,
            ),
            (
                format!("M/M/{}/{}", self.k, self.k + self.q),
                mmkq(self.lambda, self.mu, self.k, self.q)?,
            ),
            (
                format!("M/M/1/{}", self.k),
                mm1k(self.lambda, self.mu, self.k)?,
            ),
        ])
    }

    /// Renders the table, or says which input is wrong.
    pub fn render(&self) -> Result<String, Error> {
        use fmt::Write as _;
        let rows = self.rows()?;
        let a = self.lambda / self.mu;
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = writeln!(
            out,
            "λ = {} /s, μ = {} /s, offered load a = λ/μ = {a:.4} Erlang, ρ = a/K = {:.4}",
            self.lambda,
            self.mu,
            a / f64::from(self.k)
        );
        let _ = writeln!(
            out,
            "{:<22} {:>10} {:>10} {:>12} {:>12} {:>12}",
            "model", "blocking", "L", "W wait ms", "T system ms", "X /s"
        );
        for (name, f) in rows {
            let _ = writeln!(
                out,
                "{name:<22} {:>10.6} {:>10.4} {:>12.3} {:>12.3} {:>12.3}",
                f.blocking,
                f.mean_in_system,
                f.mean_wait_s * 1e3,
                f.mean_time_in_system_s * 1e3,
                f.throughput
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
