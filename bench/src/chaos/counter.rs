//! The counting function of the at-most-once checks: an HTTP function server that records the job id
//! (`X-P2pfaas-Job-Id`, which the node sends every function) of every execution it starts, so a
//! scenario can count the jobs that ran more than once anywhere in the cluster. One [`Counter`] per
//! node, all sharing one [`Counts`]; each may be slow on a share of its calls (the slow peer).

use std::collections::HashMap;
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};

/// Executions by job id, across every counter that shares it.
#[derive(Debug, Default)]
pub struct Counts {
    by_id: Mutex<HashMap<String, u32>>,
    without_id: AtomicU64,
}

impl Counts {
    fn record(&self, id: Option<&str>) {
        match id {
            Some(id) => {
                *self
                    .by_id
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(id.to_owned())
                    .or_default() += 1;
            }
            None => {
                self.without_id.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Executions started (with an id or without).
    pub fn executions(&self) -> u64 {
        let by_id = self.by_id.lock().unwrap_or_else(PoisonError::into_inner);
        by_id.values().map(|&n| u64::from(n)).sum::<u64>() + self.without_id()
    }

    /// Executions beyond the first of each job id: what at most once forbids.
    pub fn duplicate_executions(&self) -> u64 {
        let by_id = self.by_id.lock().unwrap_or_else(PoisonError::into_inner);
        by_id
            .values()
            .map(|&n| u64::from(n.saturating_sub(1)))
            .sum()
    }

    /// Up to `limit` job ids executed more than once, with their counts (for the report).
    pub fn repeated(&self, limit: usize) -> Vec<(String, u32)> {
        let by_id = self.by_id.lock().unwrap_or_else(PoisonError::into_inner);
        let mut ids: Vec<(String, u32)> = by_id
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, n)| (id.clone(), *n))
            .collect();
        ids.sort();
        ids.truncate(limit);
        ids
    }

    /// Executions that came without a job id (each node sends one: should be 0).
    pub fn without_id(&self) -> u64 {
        self.without_id.load(Ordering::Relaxed)
    }
}

/// How long a counter's calls take: `slow` on a `slow_share` of them (drawn per call), else `fast`.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Share of slow calls, 0–1.
    pub slow_share: f64,
    /// A slow call's duration.
    pub slow: Duration,
    /// Every other call's duration.
    pub fast: Duration,
}

/// A running counting function; stops accepting when dropped.
pub struct Counter {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Counter {
    /// Listens on `listen` (port 0: any); every request on a connection (keep-alive) is one execution,
    /// recorded in `counts` when it starts, answered `200 ok` after its pace.
    pub fn start(
        listen: SocketAddr,
        counts: Arc<Counts>,
        pace: Pace,
        seed: u64,
    ) -> io::Result<Self> {
        let connections = AtomicU64::new(0);
        super::fault::serve(listen, move |s| {
            let counts = Arc::clone(&counts);
            let n = connections.fetch_add(1, Ordering::Relaxed);
            let rng = SmallRng::seed_from_u64(seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let _ = thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || serve_calls(s, &counts, pace, rng));
        })
        .map(|(addr, stop)| Self { addr, stop })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Answers calls on one connection until it closes or breaks (a node that timed the call out).
fn serve_calls(mut s: TcpStream, counts: &Counts, pace: Pace, mut rng: SmallRng) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        // One request: head, then Content-Length bytes of body.
        let (head_len, body_len, id) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let header = |name: &str| {
                        req.headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case(name))
                            .and_then(|h| std::str::from_utf8(h.value).ok())
                    };
                    let body = header("content-length")
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    break (n, body, header("x-p2pfaas-job-id").map(str::to_owned));
                }
                Ok(httparse::Status::Partial) => match s.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                },
                Err(_) => return,
            }
        };
        while buf.len() < head_len + body_len {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
            }
        }
        buf.drain(..head_len + body_len);
        counts.record(id.as_deref());
        let slow = rng.gen_bool(pace.slow_share.clamp(0.0, 1.0));
        thread::sleep(if slow { pace.slow } else { pace.fast });
        if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(addr: SocketAddr, ids: &[Option<&str>]) {
        let mut s = TcpStream::connect(addr).expect("connect");
        for id in ids {
            let header = id
                .map(|i| format!("X-P2pfaas-Job-Id: {i}\r\n"))
                .unwrap_or_default();
            write!(
                s,
                "POST / HTTP/1.1\r\nHost: x\r\n{header}Content-Length: 3\r\n\r\nabc"
            )
            .expect("write");
            let mut answer = [0u8; 40];
            s.read_exact(&mut answer).expect("answer");
            assert!(answer.starts_with(b"HTTP/1.1 200 OK"));
        }
    }

    #[test]
    fn counts_every_execution_by_job_id_across_counters() {
        let counts = Arc::new(Counts::default());
        let pace = Pace {
            slow_share: 0.0,
            slow: Duration::ZERO,
            fast: Duration::ZERO,
        };
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        let a = Counter::start(local, Arc::clone(&counts), pace, 1).expect("a");
        let b = Counter::start(local, Arc::clone(&counts), pace, 2).expect("b");
        call(a.addr(), &[Some("n0/1"), Some("n0/2"), None]);
        assert_eq!(counts.duplicate_executions(), 0);
        call(b.addr(), &[Some("n0/2"), Some("n0/2")]);
        assert_eq!(counts.duplicate_executions(), 2);
        assert_eq!((counts.executions(), counts.without_id()), (5, 1));
    }
}
