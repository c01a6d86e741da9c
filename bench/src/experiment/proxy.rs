//! A userspace link-delay proxy: every byte accepted on its address reaches the target `delay` later, in
//! both directions, order kept. This kernel has no `sch_netem`, so experiments put one of these in front
//! of each node's peer address to model a slower network between nodes.
//!
//! The fault suite (`chaos`) also steers a running proxy through its [`Link`]: cut (bytes are held, as
//! a black-holed route holds TCP segments, and delivered on heal), and loss. TCP hides loss from the
//! application as head-of-line stalls, so a lost chunk is modelled as one retransmission timeout of
//! extra delay for it and, order being kept, for everything behind it; reordering below TCP looks the
//! same to the peer. Reordering *across* connections is a mode of its own ([`Link::reorder`]): a chunk
//! held back for a while on one connection while the others' pass, so a later message (a cancel on a
//! fresh connection) can overtake an earlier one (the job it cancels).

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};

/// Linux's minimum TCP retransmission timeout: what one lost segment costs the receiver.
pub const RETRANSMIT: Duration = Duration::from_millis(200);

/// A running proxy; stops accepting when dropped (open connections end with their peers).
pub struct DelayProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    link: Link,
}

/// The fault controls of one proxy, shared by all its connections; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Link {
    state: Arc<LinkState>,
}

#[derive(Debug, Default)]
struct LinkState {
    /// While set, no byte is delivered (held until healed).
    cut: AtomicBool,
    /// Chance per chunk, in parts per million, that it is "lost" and costs [`RETRANSMIT`].
    loss_ppm: AtomicU32,
    /// Extra one-way delay on top of the proxy's own, in microseconds.
    extra_delay_us: AtomicU32,
    /// Chance per chunk, in parts per million, that it is held back (reordering across connections).
    hold_ppm: AtomicU32,
    /// Longest hold, in microseconds (each held chunk draws uniformly up to it).
    max_hold_us: AtomicU32,
    /// Both ends of every connection so far, for [`Link::reset`].
    open: Mutex<Vec<TcpStream>>,
}

// === impl Link ===

impl Link {
    /// Holds every byte in both directions until [`Link::heal`].
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::Relaxed);
    }

    /// Delivers what was held and lets traffic through again.
    pub fn heal(&self) {
        self.state.cut.store(false, Ordering::Relaxed);
    }

    /// Sets the loss probability per chunk (0–1) and the extra one-way delay.
    pub fn degrade(&self, loss: f64, extra_delay: Duration) {
        let ppm = (loss.clamp(0.0, 1.0) * 1e6) as u32;
        let us = u32::try_from(extra_delay.as_micros()).unwrap_or(u32::MAX);
        self.state.loss_ppm.store(ppm, Ordering::Relaxed);
        self.state.extra_delay_us.store(us, Ordering::Relaxed);
    }

    /// Closes every connection open through the link, both ends, mid-flight or not: what a peer
    /// sees when a middlebox drops its state or the far end's host reboots.
    pub fn reset(&self) {
        let open = std::mem::take(
            &mut *self
                .state
                .open
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for s in open {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn track(&self, s: &TcpStream) {
        if let Ok(clone) = s.try_clone() {
            self.state
                .open
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(clone);
        }
    }

    /// Holds a `share` (0–1) of chunks back for up to `max_hold` each (uniform), keeping order within
    /// a connection: messages on different connections arrive out of the order they were sent.
    pub fn reorder(&self, share: f64, max_hold: Duration) {
        let ppm = (share.clamp(0.0, 1.0) * 1e6) as u32;
        let us = u32::try_from(max_hold.as_micros()).unwrap_or(u32::MAX);
        self.state.hold_ppm.store(ppm, Ordering::Relaxed);
        self.state.max_hold_us.store(us, Ordering::Relaxed);
    }

    /// Back to a clean link (no loss, no extra delay, no reordering, not cut).
    pub fn restore(&self) {
        self.degrade(0.0, Duration::ZERO);
        self.reorder(0.0, Duration::ZERO);
        self.heal();
    }

    fn is_cut(&self) -> bool {
        self.state.cut.load(Ordering::Relaxed)
    }

    /// The extra delay for one chunk: the link's own, plus a retransmission if a draw falls under the
    /// loss rate, plus a hold if another falls under the reordering share.
    fn penalty(&self, rng: &mut SmallRng) -> Duration {
        let s = &self.state;
        let mut extra = Duration::from_micros(s.extra_delay_us.load(Ordering::Relaxed).into());
        if rng.gen_range(0..1_000_000) < s.loss_ppm.load(Ordering::Relaxed) {
            extra += RETRANSMIT;
        }
        if rng.gen_range(0..1_000_000) < s.hold_ppm.load(Ordering::Relaxed) {
            let max = s.max_hold_us.load(Ordering::Relaxed);
            extra += Duration::from_micros(rng.gen_range(0..=max).into());
        }
        extra
    }
}

impl DelayProxy {
    /// Listens on `listen` and forwards to `target` with `delay` each way.
    pub fn start(listen: SocketAddr, target: SocketAddr, delay: Duration) -> io::Result<Self> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let link = Link::default();
        let shared = link.clone();
        thread::Builder::new()
            .name(format!("proxy-{}", addr.port()))
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            // A connection that cannot reach the target is closed: the caller sees
                            // what a dead link looks like.
                            let _ = splice(client, target, delay, &shared);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            })?;
        Ok(Self { addr, stop, link })
    }

    /// The fault controls of this proxy.
    pub fn link(&self) -> Link {
        self.link.clone()
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn splice(client: TcpStream, target: SocketAddr, delay: Duration, link: &Link) -> io::Result<()> {
    client.set_nonblocking(false)?;
    let server = TcpStream::connect_timeout(&target, Duration::from_secs(2))?;
    for s in [&client, &server] {
        s.set_nodelay(true)?;
        link.track(s);
    }
    pipe(
        client.try_clone()?,
        server.try_clone()?,
        delay,
        link.clone(),
    )?;
    pipe(server, client, delay, link.clone())
}

/// Copies `from` → `to` through a queue stamped with each chunk's due time; the write side of `to` is
/// shut when `from` ends, so a close travels (delayed) like data. The link's faults apply on the way out.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration, link: Link) -> io::Result<()> {
    let (tx, rx) = mpsc::channel::<(Instant, Option<Vec<u8>>)>();
    // Seeded from the port pair: runs repeat, and the two directions draw different streams.
    let seed = u64::from(from.peer_addr().map_or(0, |a| a.port())) << 16
        | u64::from(to.peer_addr().map_or(0, |a| a.port()));
    let mut rng = SmallRng::seed_from_u64(seed);
    thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send((Instant::now() + delay, None));
                        return;
                    }
                    Ok(n) => {
                        if tx
                            .send((Instant::now() + delay, Some(buf[..n].to_vec())))
                            .is_err()
                        {
                            let _ = from.shutdown(Shutdown::Both);
                            return;
                        }
                    }
                }
            }
        })?;
    thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(move || {
            // Never earlier than the chunk before: a TCP stream keeps its order however it is delayed.
            let mut last = Instant::now();
            while let Ok((due, chunk)) = rx.recv() {
                let due = (due + link.penalty(&mut rng)).max(last);
                last = due;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
                while link.is_cut() {
                    thread::sleep(Duration::from_millis(5));
                }
                match chunk {
                    Some(bytes) if to.write_all(&bytes).is_ok() => {}
                    _ => {
                        let _ = to.shutdown(Shutdown::Write);
                        return;
                    }
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_round_trip_takes_twice_the_delay_and_keeps_bytes() {
        let echo = TcpListener::bind("127.0.0.1:0").expect("bind");
        let echo_addr = echo.local_addr().expect("addr");
        thread::spawn(move || {
            if let Ok((mut s, _)) = echo.accept() {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        });
        let delay = Duration::from_millis(30);
        let proxy = DelayProxy::start("127.0.0.1:0".parse().expect("addr"), echo_addr, delay)
            .expect("proxy");
        let mut c = TcpStream::connect(proxy.addr()).expect("connect");
        let started = Instant::now();
        c.write_all(b"hello through the delay").expect("write");
        let mut got = vec![0u8; 23];
        c.read_exact(&mut got).expect("echo");
        let rtt = started.elapsed();
        assert_eq!(&got, b"hello through the delay");
        assert!(rtt >= 2 * delay, "{rtt:?}");
        assert!(rtt < 2 * delay + Duration::from_millis(200), "{rtt:?}");
        // Closing our side closes the far side and comes back as EOF.
        c.shutdown(Shutdown::Write).expect("shutdown");
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).expect("eof");
        assert!(rest.is_empty());
    }

    /// An echo server for any number of connections.
    fn echo_server() -> SocketAddr {
        let echo = TcpListener::bind("127.0.0.1:0").expect("bind");
        let echo_addr = echo.local_addr().expect("addr");
        thread::spawn(move || {
            for s in echo.incoming() {
                let Ok(mut s) = s else { return };
                thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        echo_addr
    }

    #[test]
    fn reordering_lets_a_later_connection_overtake_and_keeps_each_stream_in_order() {
        let proxy = DelayProxy::start(
            "127.0.0.1:0".parse().expect("addr"),
            echo_server(),
            Duration::ZERO,
        )
        .expect("proxy");
        proxy.link().reorder(1.0, Duration::from_millis(300));
        let mut overtaken = 0;
        for _ in 0..16 {
            let mut first = TcpStream::connect(proxy.addr()).expect("connect");
            let mut second = TcpStream::connect(proxy.addr()).expect("connect");
            first.write_all(b"one").expect("write");
            first.write_all(b"two").expect("write");
            thread::sleep(Duration::from_millis(10));
            second.write_all(b"later").expect("write");
            let at = |mut s: TcpStream, n: usize| {
                thread::spawn(move || {
                    let mut got = vec![0u8; n];
                    s.read_exact(&mut got).expect("echo");
                    (Instant::now(), got)
                })
            };
            let (a, b) = (at(first, 6), at(second, 5));
            let ((a_at, a_got), (b_at, _)) = (a.join().expect("a"), b.join().expect("b"));
            assert_eq!(&a_got, b"onetwo", "order within a connection");
            overtaken += usize::from(b_at < a_at);
        }
        assert!(
            overtaken > 0,
            "no later message ever overtook an earlier one"
        );
    }

    #[test]
    fn a_cut_link_holds_bytes_until_healed_and_a_reset_closes_both_ends() {
        let echo_addr = echo_server();
        let proxy = DelayProxy::start(
            "127.0.0.1:0".parse().expect("addr"),
            echo_addr,
            Duration::ZERO,
        )
        .expect("proxy");
        let link = proxy.link();
        let mut c = TcpStream::connect(proxy.addr()).expect("connect");
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        link.cut();
        c.write_all(b"held").expect("write");
        let mut got = [0u8; 4];
        assert!(
            c.read_exact(&mut got).is_err(),
            "nothing crosses a cut link"
        );
        link.heal();
        c.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        c.read_exact(&mut got).expect("delivered after the heal");
        assert_eq!(&got, b"held");
        link.reset();
        let mut rest = Vec::new();
        // EOF or a reset error: either way the connection is gone, not hanging.
        let _ = c.read_to_end(&mut rest);
        assert!(rest.is_empty());
    }
}
