//! Two reports side by side (`p2pfaas-bench compare a.json b.json`): per (scheduler, ρ), averaged over
//! seeds, each figure of `a`, of `b` and `b − a`. Made for a live run next to its simulated twin, but
//! any two reports of the same schema compare.

use std::fmt::Write as _;

use crate::experiment::report::{Report, Row};

/// One (scheduler, ρ) point averaged over its seeds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Point {
    /// Mean reject rate.
    pub reject_rate: f64,
    /// Widest 95% half-width among the seeds' rows, when they have one.
    pub reject_ci95: Option<f64>,
    /// Mean deadline-met share, when the rows have one.
    pub deadline_met: Option<f64>,
    /// Mean latency of 2xx answers, ms.
    pub mean_ms: f64,
    /// p99 latency, ms (mean over seeds).
    pub p99_ms: f64,
    /// Share forwarded.
    pub forwarded: f64,
}

/// The rows of `report` for `scheduler` at `rho`, averaged; `None` when there are none.
pub fn point(report: &Report, scheduler: &str, rho: f64) -> Option<Point> {
    let rows: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| r.scheduler == scheduler && r.rho == rho)
        .collect();
    if rows.is_empty() {
        return None;
    }
    let n = rows.len() as f64;
    let mean = |f: &dyn Fn(&Row) -> f64| rows.iter().map(|r| f(r)).sum::<f64>() / n;
    let deadline: Vec<f64> = rows.iter().filter_map(|r| r.deadline_met).collect();
    Some(Point {
        reject_rate: mean(&|r| r.reject_rate),
        reject_ci95: rows
            .iter()
            .filter_map(|r| r.reject_rate_ci95)
            .reduce(f64::max),
        deadline_met: (!deadline.is_empty())
            .then(|| deadline.iter().sum::<f64>() / deadline.len() as f64),
        mean_ms: mean(&|r| r.mean_ms),
        p99_ms: mean(&|r| r.p99_ms),
        forwarded: mean(&|r| r.forwarded),
    })
}

/// The (scheduler, ρ) keys of both reports, `a`'s first, each once.
fn keys(a: &Report, b: &Report) -> Vec<(String, f64)> {
    let mut keys: Vec<(String, f64)> = Vec::new();
    for r in a.rows.iter().chain(&b.rows) {
        if !keys
            .iter()
            .any(|(s, rho)| *s == r.scheduler && *rho == r.rho)
        {
            keys.push((r.scheduler.clone(), r.rho));
        }
    }
    keys
}

/// The side-by-side table in markdown; a figure missing on one side prints as `–`.
pub fn table(a: &Report, b: &Report) -> String {
    let mut out = format!(
        "a: {} `{}` {} · b: {} `{}` {}\n\n",
        a.mode, a.spec.name, a.date, b.mode, b.spec.name, b.date
    );
    out.push_str(
        "| scheduler | ρ | reject a | reject b | Δ | ±95% b | deadline met a | b | Δ | mean ms a | b | Δ | p99 ms a | b | forwarded a | b |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let f = |v: Option<f64>, digits: usize| v.map_or("–".to_owned(), |v| format!("{v:.digits$}"));
    let d = |x: Option<f64>, y: Option<f64>, digits: usize| match (x, y) {
        (Some(x), Some(y)) => format!("{:+.digits$}", y - x),
        _ => "–".to_owned(),
    };
    for (scheduler, rho) in keys(a, b) {
        let pa = point(a, &scheduler, rho);
        let pb = point(b, &scheduler, rho);
        let get = |p: Option<Point>, g: fn(&Point) -> Option<f64>| p.as_ref().and_then(g);
        let reject = (
            get(pa, |p| Some(p.reject_rate)),
            get(pb, |p| Some(p.reject_rate)),
        );
        let deadline = (get(pa, |p| p.deadline_met), get(pb, |p| p.deadline_met));
        let mean = (get(pa, |p| Some(p.mean_ms)), get(pb, |p| Some(p.mean_ms)));
        let p99 = (get(pa, |p| Some(p.p99_ms)), get(pb, |p| Some(p.p99_ms)));
        let fwd = (
            get(pa, |p| Some(p.forwarded)),
            get(pb, |p| Some(p.forwarded)),
        );
        let _ = writeln!(
            out,
            "| {scheduler} | {rho} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f(reject.0, 4),
            f(reject.1, 4),
            d(reject.0, reject.1, 4),
            f(get(pb, |p| p.reject_ci95), 4),
            f(deadline.0, 3),
            f(deadline.1, 3),
            d(deadline.0, deadline.1, 3),
            f(mean.0, 1),
            f(mean.1, 1),
            d(mean.0, mean.1, 1),
            f(p99.0, 1),
            f(p99.1, 1),
            f(fwd.0, 3),
            f(fwd.1, 3),
        );
    }
    out
}
