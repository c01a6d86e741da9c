//! Batch means: the measured period is cut into equal spans of arrival time, each span's figure is one
//! observation, and the spread of those gives a Student-t 95% confidence interval. With spans much
//! longer than the system's memory (a few service times) the batch figures are nearly independent.

/// One span's counts.
#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    ok: u64,
    rejected: u64,
    with_deadline: u64,
    met: u64,
    latency_ns: f64,
}

/// Per-batch counts of one point.
#[derive(Debug, Clone)]
pub(crate) struct Batches {
    start: u64,
    span: u64,
    bins: Vec<Bin>,
}

impl Batches {
    /// `n` batches over arrivals in `[start, end)` (ns).
    pub(crate) fn new(start: u64, end: u64, n: usize) -> Self {
        Self {
            start,
            span: (end.saturating_sub(start) / n as u64).max(1),
            bins: vec![Bin::default(); n],
        }
    }

    /// One answered request that arrived at `arrived`: its status class and latency, and whether it met
    /// its deadline when it had one.
    pub(crate) fn add(
        &mut self,
        arrived: u64,
        ok: bool,
        rejected: bool,
        latency_ns: u64,
        met: Option<bool>,
    ) {
        let Some(i) = arrived.checked_sub(self.start).map(|d| d / self.span) else {
            return;
        };
        let last = self.bins.len() - 1;
        let bin = &mut self.bins[usize::try_from(i).map_or(last, |i| i.min(last))];
        if ok {
            bin.ok += 1;
            bin.latency_ns += latency_ns as f64;
        }
        bin.rejected += u64::from(rejected);
        if let Some(met) = met {
            bin.with_deadline += 1;
            bin.met += u64::from(met);
        }
    }

    /// Half-width of the 95% CI of the reject rate (rejected / answered).
    pub(crate) fn reject_rate(&self) -> Option<f64> {
        self.ci(|b| ratio(b.rejected, b.ok + b.rejected))
    }

    /// Half-width of the 95% CI of the deadline-met share.
    pub(crate) fn deadline_met(&self) -> Option<f64> {
        self.ci(|b| ratio(b.met, b.with_deadline))
    }

    /// Half-width of the 95% CI of the mean latency of 2xx answers, ms.
    pub(crate) fn mean_ms(&self) -> Option<f64> {
        self.ci(|b| (b.ok > 0).then(|| b.latency_ns / b.ok as f64 / 1e6))
    }

    fn ci(&self, figure: impl Fn(&Bin) -> Option<f64>) -> Option<f64> {
        let values: Vec<f64> = self.bins.iter().filter_map(figure).collect();
        half_width(&values)
    }
}

fn ratio(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| n as f64 / of as f64)
}

/// Student-t 95% half-width of the mean of `values` (None with fewer than two).
pub(crate) fn half_width(values: &[f64]) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some(t975(n - 1) * (var / n as f64).sqrt())
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom.
fn t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        // Cornish-Fisher to two terms: within 0.001 of the exact value beyond 30.
        _ => {
            let z = 1.959_964;
            let d = df as f64;
            z + (z * z * z + z) / (4.0 * d)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_width_of_known_samples() {
        assert_eq!(half_width(&[1.0]), None);
        // mean 2, sd 1, n 3: 4.303 / √3.
        let h = half_width(&[1.0, 2.0, 3.0]).expect("n = 3");
        assert!((h - 4.303 / 3f64.sqrt()).abs() < 1e-9, "{h}");
        assert!((t975(31) - 2.040).abs() < 2e-3);
        assert!((t975(1000) - 1.962).abs() < 1e-3);
    }

    #[test]
    fn batches_split_by_arrival_time() {
        let mut b = Batches::new(100, 300, 2);
        b.add(50, true, false, 1, None); // warm-up: ignored
        b.add(100, false, true, 0, None);
        b.add(150, true, false, 2_000_000, Some(true));
        b.add(250, true, false, 4_000_000, Some(false));
        b.add(299, true, false, 4_000_000, None);
        assert_eq!(b.bins[0].rejected, 1);
        assert_eq!(b.bins[1].ok, 2);
        assert!(b.reject_rate().is_some());
        assert!(b.deadline_met().is_some());
    }
}
