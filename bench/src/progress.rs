//! Progress of `run` (local or on a fleet) on stderr: one line per second — scheduler, point,
//! elapsed/total, sent/ok/rejected, estimated time left — and a summary line per point. Fed from the
//! load generator's record stream, so it needs no thread of its own.

use std::time::{Duration, Instant};

use crate::experiment::report::Row;
use crate::load::record::Record;

/// The run's shape and where it is.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    started: Instant,
    /// Seconds of traffic per point (warm-up included).
    point_s: f64,
    points: usize,
    done: usize,
    label: String,
    point_started: Instant,
    next_line: Instant,
    sent: u64,
    ok: u64,
    rejected: u64,
}

impl Progress {
    /// A run of `points` points of `point_s` seconds each; silent unless `enabled`.
    pub fn new(points: usize, point_s: f64, enabled: bool) -> Self {
        let now = Instant::now();
        Self {
            enabled,
            started: now,
            point_s,
            points,
            done: 0,
            label: String::new(),
            point_started: now,
            next_line: now,
            sent: 0,
            ok: 0,
            rejected: 0,
        }
    }

    /// A point starts: `label` names it (scheduler, seed, ρ).
    pub fn start_point(&mut self, label: String) {
        self.label = label;
        self.point_started = Instant::now();
        self.next_line = self.point_started + Duration::from_secs(1);
        (self.sent, self.ok, self.rejected) = (0, 0, 0);
    }

    /// One answered (or failed) request; prints the line when a second has passed.
    pub fn record(&mut self, r: &Record) {
        self.sent += 1;
        if (200..300).contains(&r.status) {
            self.ok += 1;
        } else if r.is_rejected() {
            self.rejected += 1;
        }
        let now = Instant::now();
        if self.enabled && now >= self.next_line {
            eprintln!("{}", self.line(now));
            self.next_line += Duration::from_secs(1);
            if self.next_line < now {
                self.next_line = now + Duration::from_secs(1);
            }
        }
    }

    /// The point ended with `row`: its summary line.
    pub fn end_point(&mut self, row: &Row) {
        self.done += 1;
        if self.enabled {
            eprintln!(
                "{} seed {} ρ {}: sent {} reject {:.4} forwarded {:.0}% p99 {:.1} ms",
                row.scheduler,
                row.seed,
                row.rho,
                row.sent,
                row.reject_rate,
                row.forwarded * 100.0,
                row.p99_ms
            );
        }
    }

    /// The progress line at `now`.
    pub fn line(&self, now: Instant) -> String {
        let in_point = now.duration_since(self.point_started).as_secs_f64();
        let left = (self.points.saturating_sub(self.done + 1)) as f64 * self.point_s
            + (self.point_s - in_point).max(0.0);
        format!(
            "{} (point {}/{}): {:.0}/{:.0} s, sent {} ok {} rejected {}; total {:.0} s, ETA {:.0} s",
            self.label,
            self.done + 1,
            self.points,
            in_point,
            self.point_s,
            self.sent,
            self.ok,
            self.rejected,
            now.duration_since(self.started).as_secs_f64(),
            left
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_and_estimates() {
        let mut p = Progress::new(3, 10.0, false);
        p.start_point("PowerOfN seed 1 ρ 0.5".to_owned());
        let mut r = Record {
            status: 200,
            ..Record::default()
        };
        p.record(&r);
        r.status = 429;
        p.record(&r);
        let line = p.line(p.point_started + Duration::from_secs(4));
        assert!(
            line.starts_with("PowerOfN seed 1 ρ 0.5 (point 1/3): 4/10 s, sent 2 ok 1 rejected 1"),
            "{line}"
        );
        // 6 s of this point and two more points of 10 s.
        assert!(line.ends_with("ETA 26 s"), "{line}");
    }
}
