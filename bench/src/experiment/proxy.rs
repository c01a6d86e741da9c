//! A userspace link-delay proxy: every byte accepted on its address reaches the target `delay` later, in
//! both directions, order kept. This kernel has no `sch_netem`, so experiments put one of these in front
//! of each node's peer address to model a slower network between nodes.

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A running proxy; stops accepting when dropped (open connections end with their peers).
pub struct DelayProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl DelayProxy {
    /// Listens on `listen` and forwards to `target` with `delay` each way.
    pub fn start(listen: SocketAddr, target: SocketAddr, delay: Duration) -> io::Result<Self> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        thread::Builder::new()
            .name(format!("proxy-{}", addr.port()))
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            // A connection that cannot reach the target is closed: the caller sees
                            // what a dead link looks like.
                            let _ = splice(client, target, delay);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            })?;
        Ok(Self { addr, stop })
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

fn splice(client: TcpStream, target: SocketAddr, delay: Duration) -> io::Result<()> {
    client.set_nonblocking(false)?;
    let server = TcpStream::connect_timeout(&target, Duration::from_secs(2))?;
    for s in [&client, &server] {
        s.set_nodelay(true)?;
    }
    pipe(client.try_clone()?, server.try_clone()?, delay)?;
    pipe(server, client, delay)
}

/// Copies `from` → `to` through a queue stamped with each chunk's due time; the write side of `to` is
/// shut when `from` ends, so a close travels (delayed) like data.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) -> io::Result<()> {
    let (tx, rx) = mpsc::channel::<(Instant, Option<Vec<u8>>)>();
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
            while let Ok((due, chunk)) = rx.recv() {
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
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
}
