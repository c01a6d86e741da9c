//! A function's measured service time: an exponentially weighted moving average of its completed calls,
//! shared lock-free by every worker. It gives a capacity reject its `Retry-After` (about when a running
//! call finishes and frees a slot) instead of a constant.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Weight of the newest call (about the last ten calls dominate).
const WEIGHT: f64 = 0.2;
/// Longest `Retry-After` ever suggested.
const MAX_RETRY_AFTER_SECS: u64 = 3600;

/// The moving average, in seconds as `f64` bits; 0 means no call measured yet.
#[derive(Debug, Default)]
pub struct ServiceTime(AtomicU64);

impl ServiceTime {
    /// Folds one completed call into the average. Concurrent updates retry, so none is lost.
    pub fn record(&self, took: Duration) {
        let sample = took.as_secs_f64();
        let _ = self.0.fetch_update(Relaxed, Relaxed, |bits| {
            let mean = f64::from_bits(bits);
            let next = if bits == 0 {
                sample
            } else {
                mean + WEIGHT * (sample - mean)
            };
            // A zero-length call must not read back as "never measured".
            Some(next.max(f64::MIN_POSITIVE).to_bits())
        });
    }

    /// The average, once a call has been measured.
    pub fn mean(&self) -> Option<Duration> {
        let bits = self.0.load(Relaxed);
        (bits != 0).then(|| Duration::from_secs_f64(f64::from_bits(bits)))
    }

    /// `Retry-After` in whole seconds: the average rounded up, at least 1 (also before any call).
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.mean().map_or(1.0, |m| m.as_secs_f64().ceil());
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a non-negative whole number, clamped below"
        )]
        let secs = secs.min(MAX_RETRY_AFTER_SECS as f64) as u64;
        secs.clamp(1, MAX_RETRY_AFTER_SECS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_follows_the_calls_and_rounds_up() {
        let s = ServiceTime::default();
        assert_eq!(s.mean(), None);
        assert_eq!(s.retry_after_secs(), 1, "unmeasured: 1 s");
        s.record(Duration::from_millis(2500));
        assert_eq!(s.retry_after_secs(), 3);
        // Ten fast calls pull the average below one second.
        for _ in 0..10 {
            s.record(Duration::from_millis(100));
        }
        let mean = s.mean().expect("measured");
        assert!(mean < Duration::from_millis(500), "{mean:?}");
        assert_eq!(s.retry_after_secs(), 1);
        s.record(Duration::ZERO);
        assert!(s.mean().is_some());
        s.record(Duration::from_secs(1_000_000));
        assert_eq!(s.retry_after_secs(), MAX_RETRY_AFTER_SECS);
    }

    #[test]
    fn concurrent_records_are_all_counted() {
        let s = std::sync::Arc::new(ServiceTime::default());
        s.record(Duration::from_secs(10));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = std::sync::Arc::clone(&s);
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        s.record(Duration::from_secs(2));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        // 800 updates of weight 0.2 leave nothing of the first 10 s.
        let mean = s.mean().expect("measured").as_secs_f64();
        assert!((mean - 2.0).abs() < 1e-6, "{mean}");
    }
}
