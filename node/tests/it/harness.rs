//! Test harness: a `Node` guard that starts the binary with a generated config and kills it when dropped,
//! and a minimal blocking HTTP/1.1 client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Which io driver a test run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    IoUring,
    Epoll,
}

impl Driver {
    fn flag(self) -> &'static str {
        match self {
            Self::IoUring => "io-uring",
            Self::Epoll => "epoll",
        }
    }

    /// Whether io_uring can be set up here; tests that need it print `skipped: …` otherwise.
    pub fn available(self) -> bool {
        match self {
            Self::Epoll => true,
            Self::IoUring => io_uring_works(),
        }
    }
}

fn io_uring_works() -> bool {
    static STATE: AtomicUsize = AtomicUsize::new(0);
    match STATE.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            // Probe by starting a node that insists on io_uring.
            let ok = Node::try_start(Driver::IoUring, BASE_CONFIG, &[]).is_ok();
            STATE.store(if ok { 1 } else { 2 }, Ordering::Relaxed);
            ok
        }
    }
}

/// Generates one test per driver: `name::io_uring` and `name::epoll`.
#[macro_export]
macro_rules! nodetest {
    ($name:ident, |$driver:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports, reason = "not every test body uses every import")]
            use super::*;
            fn run($driver: $crate::harness::Driver) $body
            #[test]
            fn io_uring() {
                if !$crate::harness::Driver::IoUring.available() {
                    eprintln!("skipped: io_uring is not available on this kernel/sandbox");
                    return;
                }
                run($crate::harness::Driver::IoUring);
            }
            #[test]
            fn epoll() {
                run($crate::harness::Driver::Epoll);
            }
        }
    };
}

/// A config with the built-in functions used by the tests.
pub const BASE_CONFIG: &str = r#"
[node]
listen = "127.0.0.1:0"
workers = 2
[queue]
slots = 4
queue_len = 4
[functions.echo]
backend = "builtin"
builtin = "echo"
[functions.sleep]
backend = "builtin"
builtin = "sleep"
mean_ms = 1000
distribution = "fixed"
[functions.short]
backend = "builtin"
builtin = "sleep"
mean_ms = 300
distribution = "fixed"
"#;

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A fresh temporary directory for one node.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("p2pfaas-it-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_p2pfaas-node")
}

/// A running node; killed on drop.
pub struct Node {
    pub child: Child,
    /// The rest of the node's stdout, after its `listening` line.
    stdout: Option<BufReader<std::process::ChildStdout>>,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    stderr_path: PathBuf,
    keep_dir: bool,
}

impl Node {
    /// Starts a node with `config` (TOML) plus extra flags, and waits for its `listening` line.
    pub fn start(driver: Driver, config: &str, args: &[&str]) -> Self {
        Self::try_start(driver, config, args).unwrap_or_else(|e| panic!("node did not start: {e}"))
    }

    /// Starts a node in an existing data directory (for restart tests).
    pub fn start_in(dir: PathBuf, driver: Driver, config: &str, args: &[&str]) -> Self {
        Self::spawn(dir, driver, config, args).unwrap_or_else(|e| panic!("node did not start: {e}"))
    }

    pub fn try_start(driver: Driver, config: &str, args: &[&str]) -> Result<Self, String> {
        let dir = temp_dir(driver.flag());
        // A node that did not start has no `Node` to remove its directory on drop.
        Self::spawn(dir.clone(), driver, config, args).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&dir);
        })
    }

    fn spawn(dir: PathBuf, driver: Driver, config: &str, args: &[&str]) -> Result<Self, String> {
        Self::spawn_wrapped(dir, &[], Some(driver), config, args)
    }

    /// Starts the binary under a wrapper command (e.g. `setpriv … prlimit …`); `driver: None` leaves
    /// the choice to the node (`auto`).
    pub fn spawn_wrapped(
        dir: PathBuf,
        wrapper: &[&str],
        driver: Option<Driver>,
        config: &str,
        args: &[&str],
    ) -> Result<Self, String> {
        let config_path = dir.join("node.toml");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let stderr_path = dir.join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(binary());
                c
            }
            None => Command::new(binary()),
        };
        if let Some(driver) = driver {
            command.arg("--driver").arg(driver.flag());
        }
        let mut child = command
            .arg("--config")
            .arg(&config_path)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(args)
            .env_remove("MONOIO_FORCE_LEGACY_DRIVER")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let read = reader.read_line(&mut line);
        let addr = line
            .strip_prefix("listening ")
            .and_then(|a| a.trim().parse().ok());
        match (read, addr) {
            (Ok(_), Some(addr)) => Ok(Self {
                child,
                stdout: Some(reader),
                addr,
                dir,
                stderr_path,
                keep_dir: false,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "no listening line (got {line:?}); stderr: {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                ))
            }
        }
    }

    /// The address of a compatible API port (`learner`, `discovery`) from the node's stdout.
    pub fn api_addr(&mut self, api: &str) -> SocketAddr {
        let reader = self.stdout.as_mut().expect("stdout kept");
        let prefix = format!("{api} listening ");
        loop {
            let mut line = String::new();
            assert!(
                reader.read_line(&mut line).unwrap_or(0) > 0,
                "no {api} line"
            );
            if let Some(a) = line
                .strip_prefix(&prefix)
                .and_then(|a| a.trim().parse().ok())
            {
                return a;
            }
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// One request on a fresh connection.
    pub fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut conn = Conn::open(self.addr);
        conn.send(method, path, headers, body);
        conn.read_reply()
    }

    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, &[], b"")
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Reply {
        self.call("POST", path, &[], body)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM failed");
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Node {
    /// Stops the node with SIGTERM and returns its directory, which is kept for a restart.
    pub fn stop_keep_dir(mut self) -> PathBuf {
        self.terminate();
        assert!(
            self.wait_exit(Duration::from_secs(10)).is_some(),
            "node did not exit"
        );
        self.keep_dir = true;
        self.dir.clone()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// Seconds from a `%f` header such as `X-P2pfaas-Timing-Queue-Seconds`.
    pub fn seconds(&self, name: &str) -> f64 {
        self.header(name)
            .and_then(|v| v.trim_matches(['[', ']']).parse().ok())
            .unwrap_or_else(|| panic!("missing or bad {name}: {:?}", self.headers))
    }
}

/// A keep-alive client connection.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
        {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes);
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads one response (content-length framed, as the node always answers).
    pub fn read_reply(&mut self) -> Reply {
        self.try_read_reply().expect("a complete response")
    }

    pub fn try_read_reply(&mut self) -> Option<Reply> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let (first, headers, len) = split_head(&self.buf[..end]);
                let status = first.split(' ').nth(1).and_then(|s| s.parse().ok())?;
                while self.buf.len() < end + 4 + len {
                    if !self.fill() {
                        return None;
                    }
                }
                let body = self.buf[end + 4..end + 4 + len].to_vec();
                self.buf.drain(..end + 4 + len);
                if status == 100 {
                    continue;
                }
                return Some(Reply {
                    status,
                    headers,
                    body,
                });
            }
            if !self.fill() {
                return None;
            }
        }
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        match self.stream.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// True when the server has closed the connection (EOF with nothing buffered).
    pub fn is_closed(&mut self) -> bool {
        self.buf.is_empty() && !self.fill()
    }
}

/// Splits a raw head (without the blank line) into its first line, its headers and its Content-Length.
pub fn split_head(raw: &[u8]) -> (String, Vec<(String, String)>, usize) {
    let head = String::from_utf8_lossy(raw);
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let len = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    (first, headers, len)
}

/// Reads one request from a stand-in server's connection: its first line and its Content-Length body;
/// `None` when the client closed (or broke) the connection.
pub fn read_request(reader: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut length = 0;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return None;
        }
        if h.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':')
            && n.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((line, body))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Runs `n` calls concurrently, each on its own connection, and returns the replies in start order.
pub fn concurrent(node: &Node, n: usize, path: &str) -> Vec<Reply> {
    let addr = node.addr;
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let path = path.to_owned();
            std::thread::spawn(move || {
                let mut c = Conn::open(addr);
                c.send("POST", &path, &[], format!("job-{i}").as_bytes());
                c.read_reply()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("client thread"))
        .collect()
}

/// Polls `node`'s `/discovery/list` until it lists `want` peers (or 10 s pass); returns the list.
pub fn wait_for_peers(node: &Node, want: usize) -> serde_json::Value {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let list = node.get("/discovery/list").json();
        if list.as_array().is_some_and(|a| a.len() >= want) || Instant::now() > end {
            return list;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Items as the inside of a TOML array of strings: `"a", "b"`.
pub fn toml_strings<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
