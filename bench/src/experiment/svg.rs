//! Line charts as standalone SVG: one line per scheduler, a metric against the sweep's ρ. Hand-written
//! (a few hundred bytes of markup per series) so results need no plotting stack to view.

use std::fmt::Write as _;

use super::report::{CurvePoint, Report, Row};

/// One chart: file stem, title and how to read a row.
struct Metric {
    stem: &'static str,
    title: &'static str,
    value: fn(&Row) -> Option<f64>,
}

const METRICS: [Metric; 6] = [
    Metric {
        stem: "reject-rate",
        title: "reject rate",
        value: |r| Some(r.reject_rate),
    },
    Metric {
        stem: "deadline-met",
        title: "deadline met",
        value: |r| r.deadline_met,
    },
    Metric {
        stem: "latency-p50",
        title: "latency p50 (ms)",
        value: |r| Some(r.p50_ms),
    },
    Metric {
        stem: "latency-p95",
        title: "latency p95 (ms)",
        value: |r| Some(r.p95_ms),
    },
    Metric {
        stem: "latency-p99",
        title: "latency p99 (ms)",
        value: |r| Some(r.p99_ms),
    },
    Metric {
        stem: "forwarded",
        title: "forwarded share",
        value: |r| Some(r.forwarded),
    },
];

const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Every chart that has data, as (file name, SVG text). Seeds are averaged per (scheduler, ρ).
pub fn charts(report: &Report) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for m in &METRICS {
        let series = series(report, m.value);
        if series.iter().all(|(_, points)| points.is_empty()) {
            continue;
        }
        let title = format!("{}: {} vs ρ", report.spec.name, m.title);
        out.push((
            format!("{}.svg", m.stem),
            chart(&title, "ρ (offered load per unit of weight)", &series),
        ));
    }
    out.extend(learning_curves(report));
    out
}

/// For a report with a `LearningScheduler` row: per ρ, deadline met and mean reward over time (the
/// rows' [`curve`](super::report::Row::curve)), one line per scheduler, seeds averaged. The reward
/// of an outcome is the learner's (`cluster.node_config`, else 1 / 0 / 0).
fn learning_curves(report: &Report) -> Vec<(String, String)> {
    let learning = report
        .rows
        .iter()
        .any(|r| r.scheduler.starts_with("LearningScheduler(") && !r.curve.is_empty());
    if !learning {
        return Vec::new();
    }
    let rewards =
        crate::sim::host::parse(&report.spec.cluster.node_config).map_or((1.0, 0.0, 0.0), |h| {
            let r = h.rewards;
            (f64::from(r.met), f64::from(r.missed), f64::from(r.rejected))
        });
    let mut rhos: Vec<f64> = Vec::new();
    for r in &report.rows {
        if !rhos.contains(&r.rho) {
            rhos.push(r.rho);
        }
    }
    let mut out = Vec::new();
    for rho in rhos {
        let met = curves(report, rho, CurvePoint::deadline_met);
        let reward = curves(report, rho, |p| p.mean_reward(rewards));
        let x = "s from the first arrival (warm-up included)";
        let name = &report.spec.name;
        out.push((
            format!("learning-deadline-met-rho{rho}.svg"),
            chart(&format!("{name}: deadline met over time, ρ {rho}"), x, &met),
        ));
        out.push((
            format!("learning-reward-rho{rho}.svg"),
            chart(
                &format!("{name}: mean reward over time, ρ {rho}"),
                x,
                &reward,
            ),
        ));
    }
    out
}

/// Per scheduler at `rho`: (span time, mean over seeds of `value`).
fn curves(
    report: &Report,
    rho: f64,
    value: impl Fn(&CurvePoint) -> Option<f64>,
) -> Vec<(String, Vec<(f64, f64)>)> {
    // Per scheduler, per span: (time, sum over seeds, seeds).
    type Sums = Vec<(f64, f64, usize)>;
    let mut out: Vec<(String, Sums)> = Vec::new();
    for r in report.rows.iter().filter(|r| r.rho == rho) {
        let i = match out.iter().position(|(n, _)| *n == r.scheduler) {
            Some(i) => i,
            None => {
                out.push((r.scheduler.clone(), Vec::new()));
                out.len() - 1
            }
        };
        let sums = &mut out[i].1;
        for (k, p) in r.curve.iter().enumerate() {
            let Some(v) = value(p) else { continue };
            if sums.len() <= k {
                sums.resize(k + 1, (p.t_s, 0.0, 0));
            }
            sums[k].1 += v;
            sums[k].2 += 1;
        }
    }
    out.into_iter()
        .map(|(name, sums)| {
            let points = sums
                .into_iter()
                .filter(|s| s.2 > 0)
                .map(|(t, v, n)| (t, v / n as f64))
                .collect();
            (name, points)
        })
        .collect()
}

/// Per scheduler, in first-seen order: (ρ, mean over seeds) sorted by ρ.
fn series(report: &Report, value: fn(&Row) -> Option<f64>) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut names: Vec<String> = Vec::new();
    for r in &report.rows {
        if !names.contains(&r.scheduler) {
            names.push(r.scheduler.clone());
        }
    }
    names
        .into_iter()
        .map(|name| {
            let mut sums: Vec<(f64, f64, usize)> = Vec::new();
            for r in report.rows.iter().filter(|r| r.scheduler == name) {
                let Some(v) = value(r) else { continue };
                match sums.iter_mut().find(|(rho, _, _)| *rho == r.rho) {
                    Some(s) => {
                        s.1 += v;
                        s.2 += 1;
                    }
                    None => sums.push((r.rho, v, 1)),
                }
            }
            let mut points: Vec<(f64, f64)> = sums
                .into_iter()
                .map(|(x, s, n)| (x, s / n as f64))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            (name, points)
        })
        .collect()
}

const W: f64 = 760.0;
const H: f64 = 400.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 280.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 48.0;

/// A line chart of named series of (x, y) points, y from 0.
pub fn chart(title: &str, x_label: &str, series: &[(String, Vec<(f64, f64)>)]) -> String {
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0_f64);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if x0 >= x1 {
        x0 -= 0.5;
        x1 += 0.5;
    }
    let y1 = nice_ceiling(y1);
    // From 0, or below it when a series goes negative (a reward of −1 for a miss).
    let y0 = match series
        .iter()
        .flat_map(|(_, p)| p.iter())
        .map(|p| p.1)
        .fold(0.0, f64::min)
    {
        low if low < 0.0 => -nice_ceiling(-low),
        _ => 0.0,
    };
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - (y - y0) / (y1 - y0) * (H - TOP - BOTTOM);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
        W / 2.0,
        escape(title)
    );
    // Axes with five ticks each.
    let _ = writeln!(
        s,
        "<path d=\"M{LEFT},{TOP} V{} H{}\" stroke=\"black\" fill=\"none\"/>",
        H - BOTTOM,
        W - RIGHT
    );
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        let (x, y) = (x0 + f * (x1 - x0), y0 + f * (y1 - y0));
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <path d=\"M{LEFT},{:.1} H{}\" stroke=\"#ddd\"/>",
            px(x),
            H - BOTTOM + 18.0,
            short(x),
            LEFT - 6.0,
            py(y) + 4.0,
            short(y),
            py(y),
            W - RIGHT
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        (LEFT + W - RIGHT) / 2.0,
        H - 10.0,
        escape(x_label)
    );
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
            path.join(" ")
        );
        for &(x, y) in points {
            let _ = writeln!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/>",
                px(x),
                py(y)
            );
        }
        let ly = TOP + 16.0 * i as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"3\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\">{}</text>",
            W - RIGHT + 12.0,
            ly - 4.0,
            W - RIGHT + 30.0,
            ly,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `v` (1 for 0), so ticks land on round values.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let base = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * base)
        .find(|&c| c >= v)
        .unwrap_or(10.0 * base)
}

fn short(v: f64) -> String {
    if v.abs() >= 10.0 {
        return format!("{v:.0}");
    }
    let t = format!("{v:.3}");
    t.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(0.31), 0.5);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(130.0), 200.0);
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(2.0), "2");
        assert_eq!(short(164.855), "165");
    }

    #[test]
    fn a_chart_has_one_line_per_series_and_escapes_names() {
        let series = vec![
            ("A<1>".to_owned(), vec![(0.5, 0.1), (1.0, 0.3)]),
            ("B".to_owned(), vec![(0.5, 0.0), (1.0, 0.05)]),
        ];
        let svg = chart("t", "x", &series);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("A&lt;1&gt;"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }
}
