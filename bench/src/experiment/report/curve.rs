//! The learning curve of a point: deadline outcomes in equal spans of arrival time, warm-up
//! included, so a learning scheduler's progress (and a fixed rule's flat line beside it) can be seen.

use serde::{Deserialize, Serialize};

/// Spans per point.
pub const SPANS: usize = 20;

/// Deadline outcomes of the requests that arrived in one span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Middle of the span, seconds from the first arrival (warm-up included).
    pub t_s: f64,
    /// Answered in time.
    pub met: u64,
    /// Answered late, or not at all.
    pub missed: u64,
    /// Refused.
    pub rejected: u64,
}

impl CurvePoint {
    /// Requests with a deadline in the span.
    pub fn requests(&self) -> u64 {
        self.met + self.missed + self.rejected
    }

    /// Share that met its deadline; `None` for an empty span.
    pub fn deadline_met(&self) -> Option<f64> {
        let n = self.requests();
        (n > 0).then(|| self.met as f64 / n as f64)
    }

    /// Mean reward under `(met, missed, rejected)` rewards; `None` for an empty span.
    pub fn mean_reward(&self, r: (f64, f64, f64)) -> Option<f64> {
        let n = self.requests();
        (n > 0).then(|| {
            (self.met as f64 * r.0 + self.missed as f64 * r.1 + self.rejected as f64 * r.2)
                / n as f64
        })
    }
}

/// Outcome codes kept per request.
pub(super) const MET: u8 = 0;
pub(super) const MISSED: u8 = 1;
pub(super) const REJECTED: u8 = 2;

/// The spans of `outcomes` (arrival ns, code), from the first arrival to the last.
pub(super) fn spans(outcomes: &[(u64, u8)]) -> Vec<CurvePoint> {
    let (Some(first), Some(last)) = (
        outcomes.iter().map(|o| o.0).min(),
        outcomes.iter().map(|o| o.0).max(),
    ) else {
        return Vec::new();
    };
    let width = ((last - first) / SPANS as u64).max(1);
    let mut out: Vec<CurvePoint> = (0..SPANS)
        .map(|i| CurvePoint {
            t_s: (i as f64 + 0.5) * width as f64 / 1e9,
            ..CurvePoint::default()
        })
        .collect();
    for &(t, code) in outcomes {
        let p = &mut out[(((t - first) / width) as usize).min(SPANS - 1)];
        match code {
            MET => p.met += 1,
            MISSED => p.missed += 1,
            _ => p.rejected += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_count_outcomes_in_arrival_order() {
        // 40 requests 1 ms apart: the first half all missed, the second half all met.
        let outcomes: Vec<(u64, u8)> = (0..40u64)
            .map(|i| (i * 1_000_000, if i < 20 { MISSED } else { MET }))
            .chain([(5_000_000, REJECTED)])
            .collect();
        let c = spans(&outcomes);
        assert_eq!(c.len(), SPANS);
        assert_eq!(c.iter().map(CurvePoint::requests).sum::<u64>(), 41);
        assert_eq!(c[0].deadline_met(), Some(0.0));
        assert_eq!(c[SPANS - 1].deadline_met(), Some(1.0));
        let rejected: Vec<&CurvePoint> = c.iter().filter(|p| p.rejected > 0).collect();
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].mean_reward((1.0, -1.0, -0.5)), Some(-2.5 / 3.0));
        assert!(spans(&[]).is_empty());
    }
}
