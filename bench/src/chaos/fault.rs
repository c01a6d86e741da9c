//! Fault injectors that are neither a signal nor a proxy setting: a peer that accepts connections and
//! never answers, a function server that answers garbage, and a data directory that is full. Each
//! undoes itself when dropped.

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

/// A listener that accepts every connection and then says nothing, reads nothing and closes nothing
/// until it is dropped: a peer whose process is wedged but whose kernel still completes handshakes.
pub struct Silent {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Silent {
    /// Listens on `listen` (port 0: any).
    pub fn start(listen: SocketAddr) -> io::Result<Self> {
        serve(listen, |_| {}).map(|(addr, stop)| Self { addr, stop })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A "function" at an HTTP address that reads a request and then, in turn, answers bytes that are not
/// HTTP, a response cut short of its `Content-Length`, or nothing, and closes: what a crashed or
/// confused function container looks like to the node's HTTP backend.
pub struct Garbage {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Garbage {
    /// Listens on `listen` (port 0: any).
    pub fn start(listen: SocketAddr) -> io::Result<Self> {
        let turn = AtomicU32::new(0);
        serve(listen, move |mut s| {
            let mut buf = [0u8; 4096];
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let _ = s.read(&mut buf);
            let answer: &[u8] = match turn.fetch_add(1, Ordering::Relaxed) % 3 {
                0 => b"\x00\xffNOT HTTP AT ALL\r\n\r\n\x7f garbage \x01\x02\x03",
                1 => b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this",
                _ => b"",
            };
            let _ = s.write_all(answer);
            let _ = s.shutdown(Shutdown::Both);
        })
        .map(|(addr, stop)| Self { addr, stop })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Garbage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Accepts until stopped; `each` gets every connection on the accept thread. Connections `each` does
/// not close are kept open (held in a list) until the stop.
pub(super) fn serve(
    listen: SocketAddr,
    each: impl Fn(TcpStream) + Send + 'static,
) -> io::Result<(SocketAddr, Arc<AtomicBool>)> {
    let listener = TcpListener::bind(listen)?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    thread::Builder::new()
        .name(format!("fault-{}", addr.port()))
        .spawn(move || {
            let mut held = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let _ = s.set_nonblocking(false);
                        if let Ok(keep) = s.try_clone() {
                            held.push(keep);
                        }
                        each(s);
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        })?;
    Ok((addr, stop))
}

/// Clients that open connections to a node and then stall: half send part of a request head, half a
/// full head with a `Content-Length` of 1000 and ten bytes of body. They hold their connections until
/// dropped. The node must go on answering everyone else.
pub struct SlowClients {
    _held: Vec<TcpStream>,
}

impl SlowClients {
    /// Opens `count` stalled connections to `addr`.
    pub fn start(addr: SocketAddr, count: usize) -> io::Result<Self> {
        let mut held = Vec::with_capacity(count);
        for i in 0..count {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
            let partial: &[u8] = if i % 2 == 0 {
                b"POST /function/work HTTP/1.1\r\nHost: slow\r\nX-Slow: "
            } else {
                b"POST /function/work HTTP/1.1\r\nHost: slow\r\nContent-Length: 1000\r\n\r\n0123456789"
            };
            s.write_all(partial)?;
            held.push(s);
        }
        Ok(Self { _held: held })
    }
}

/// A data directory with no room left: as root a 64 KiB tmpfs mounted over it and filled; otherwise
/// the directory made read-only (root ignores permission bits, so that way needs a non-root user).
pub struct DiskFull {
    dir: PathBuf,
    mounted: bool,
}

impl DiskFull {
    /// Fills (or write-protects) `dir`, creating it first.
    pub fn start(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        if is_root() {
            let status = Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "chaos-full"])
                .arg(dir)
                .status()?;
            if !status.success() {
                return Err(io::Error::other(format!(
                    "mount tmpfs on {}",
                    dir.display()
                )));
            }
            let full = Self {
                dir: dir.to_owned(),
                mounted: true,
            };
            fill(&dir.join("filler"));
            Ok(full)
        } else {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o500))?;
            Ok(Self {
                dir: dir.to_owned(),
                mounted: false,
            })
        }
    }
}

impl Drop for DiskFull {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.dir).status();
        } else {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700));
        }
    }
}

/// Writes to `path` until the filesystem says no.
fn fill(path: &Path) {
    let Ok(mut f) = std::fs::File::create(path) else {
        return;
    };
    let block = [0u8; 4096];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

/// Whether this process runs as root (`id -u`: no libc needed).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
