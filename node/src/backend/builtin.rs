//! Built-in functions for experiments and tests with no external dependency:
//! `echo` (returns the body and its `Content-Type`), `sleep` (waits a sampled service time, then echoes;
//! it asks the runtime for less by the worker's measured timer lateness, so the mean is right),
//! `cpu-loop` (burns a sampled amount of CPU time on the blocking pool, never on an I/O thread).
//! Service times are fixed or exponential; samples come from the worker's seeded RNG.

use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;

use super::{BackendError, Call, Context, FunctionBackend, Output};
use crate::config::{self, Distribution};

/// A built-in function.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    kind: config::Builtin,
}

impl Builtin {
    /// The built-in described by `kind`.
    pub fn new(kind: config::Builtin) -> Self {
        Self { kind }
    }
}

/// Draws a service time with the given mean.
pub fn sample(mean: Duration, distribution: Distribution, rng: &mut SmallRng) -> Duration {
    match distribution {
        Distribution::Fixed => mean,
        Distribution::Exponential => {
            // Inverse transform; 1 - u lies in (0, 1], so ln is finite.
            let u: f64 = rng.r#gen();
            let secs = -mean.as_secs_f64() * libm::log(1.0 - u);
            Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
        }
    }
}

fn echo(call: &Call<'_>, out: &mut Output) {
    out.status = 200;
    if let Some(ct) = call.content_type {
        out.content_type.extend_from_slice(ct);
    }
    out.body.extend_from_slice(call.body);
}

/// Spins until this thread has used `work` of CPU time; returns a value so the loop is not optimised out.
fn burn(work: Duration) -> u64 {
    use nix::time::{ClockId, clock_gettime};
    let now = || {
        clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
            .map(Duration::from)
            .unwrap_or_default()
    };
    let start = now();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while now().saturating_sub(start) < work {
        for _ in 0..1000 {
            // xorshift: cheap, data-dependent work.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
    }
    x
}

impl FunctionBackend for Builtin {
    async fn invoke(
        &self,
        ctx: &Context<'_>,
        call: &Call<'_>,
        out: &mut Output,
    ) -> Result<(), BackendError> {
        let rng = ctx.rng;
        match self.kind {
            config::Builtin::Echo => echo(call, out),
            config::Builtin::Sleep { mean, distribution } => {
                let d = sample(mean, distribution, &mut rng.borrow_mut());
                let asked = d.saturating_sub(ctx.timer_lateness.lead(d));
                let started = std::time::Instant::now();
                monoio::time::sleep(asked).await;
                ctx.timer_lateness.observe(asked, started.elapsed());
                echo(call, out);
            }
            config::Builtin::CpuLoop { mean, distribution } => {
                let work = sample(mean, distribution, &mut rng.borrow_mut());
                let checksum = monoio::spawn_blocking(move || burn(work))
                    .await
                    .map_err(|_| BackendError::Failed("cpu-loop task was cancelled".into()))?;
                out.status = 200;
                out.content_type.extend_from_slice(b"application/json");
                out.body.extend_from_slice(
                    format!(
                        "{{\"cpu_seconds\":{:.6},\"checksum\":{checksum}}}",
                        work.as_secs_f64()
                    )
                    .as_bytes(),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn exponential_sample_mean_is_close() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mean = Duration::from_millis(100);
        let n = 200_000;
        let total: f64 = (0..n)
            .map(|_| sample(mean, Distribution::Exponential, &mut rng).as_secs_f64())
            .sum();
        let m = total / f64::from(n);
        // Standard error is 0.1/sqrt(2e5) ≈ 0.00022 s; allow 5 of them.
        assert!((m - 0.1).abs() < 0.0012, "mean {m}");
        assert_eq!(sample(mean, Distribution::Fixed, &mut rng), mean);
    }

    #[test]
    fn burn_uses_at_least_the_requested_cpu() {
        use nix::time::{ClockId, clock_gettime};
        let t0 = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map(Duration::from);
        burn(Duration::from_millis(20));
        let t1 = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map(Duration::from);
        let used = t1
            .unwrap_or_default()
            .saturating_sub(t0.unwrap_or_default());
        assert!(used >= Duration::from_millis(20), "{used:?}");
    }
}
