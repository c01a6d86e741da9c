//! A small blocking HTTP/1.1 client for a node's admin and monitoring routes: one connection per call
//! (these calls are rare), a timeout on every step, admin calls signed when the fleet has a cluster key.
//! The node's clock offset (measured by the preflight) is added to the signing time, so a node whose
//! clock is off still accepts our signatures.

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::sign::Signer;

/// Largest answer read (a `/metrics` page of many functions is well under this).
const MAX_ANSWER_BYTES: usize = 4 << 20;

/// Why a call got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The address does not resolve.
    #[error("address {0:?} does not resolve to host:port")]
    Resolve(String),
    /// Connecting, writing or reading failed (refused, unreachable, timed out).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The answer is not HTTP, or too large.
    #[error("bad answer: {0}")]
    Bad(&'static str),
    /// The node took a change but did not report it in time.
    #[error("{0}")]
    NotReported(String),
    /// An answer other than 2xx; the node's `{code, message}` body, if any.
    #[error("HTTP {status}: {message}")]
    Status {
        /// The status code.
        status: u16,
        /// The node's message, or the body.
        message: String,
    },
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, CallError> {
        serde_json::from_slice(&self.body).map_err(|_| CallError::Bad("body is not JSON"))
    }
}

/// The client of one node.
#[derive(Debug, Clone)]
pub struct Client {
    /// The address as written in the fleet file.
    pub address: String,
    addr: SocketAddr,
    signer: Option<Arc<Signer>>,
    /// Node clock − our clock, ms (0 until measured).
    pub offset_ms: i64,
    timeout: Duration,
}

/// Milliseconds since the Unix epoch on this machine.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Client {
    /// A client of `address` (`host:port`); admin calls signed with `signer` when given.
    pub fn new(
        address: &str,
        signer: Option<Arc<Signer>>,
        timeout: Duration,
    ) -> Result<Self, CallError> {
        let addr = address
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| CallError::Resolve(address.to_owned()))?;
        Ok(Self {
            address: address.to_owned(),
            addr,
            signer,
            offset_ms: 0,
            timeout,
        })
    }

    /// The resolved address (what the load generator targets).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `GET path`, unsigned; any status is an answer.
    pub fn get_any(&self, path: &str) -> Result<Answer, CallError> {
        self.call("GET", path, &[], b"")
    }

    /// `GET path` expecting a 2xx JSON body.
    pub fn get_json(&self, path: &str) -> Result<serde_json::Value, CallError> {
        ok(self.get_any(path)?)?.json()
    }

    /// `GET path` expecting a 2xx text body.
    pub fn get_text(&self, path: &str) -> Result<String, CallError> {
        let answer = ok(self.get_any(path)?)?;
        String::from_utf8(answer.body).map_err(|_| CallError::Bad("body is not UTF-8"))
    }

    /// An admin call (signed when there is a key), expecting a 2xx JSON body.
    pub fn admin(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, CallError> {
        let body = if method == "GET" {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        self.admin_bytes(method, path, &body)?.json()
    }

    /// An admin call with a raw body (signed when there is a key), expecting a 2xx answer: a weight
    /// file read or put back.
    pub fn admin_bytes(&self, method: &str, path: &str, body: &[u8]) -> Result<Answer, CallError> {
        let headers: Vec<(&str, String)> = match &self.signer {
            Some(s) => {
                let now = u64::try_from(unix_ms().saturating_add(self.offset_ms)).unwrap_or(0);
                s.sign(method, path, body, now).into()
            }
            None => Vec::new(),
        };
        ok(self.call(method, path, &headers, body)?)
    }

    /// One request on a fresh connection; the answer whatever its status.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Answer, CallError> {
        let mut stream = TcpStream::connect_timeout(&self.addr, self.timeout)?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.address,
            body.len()
        );
        if !body.is_empty() {
            // Admin bodies are JSON, but for a weight file.
            let json = serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
            head.push_str(if json {
                "Content-Type: application/json\r\n"
            } else {
                "Content-Type: application/octet-stream\r\n"
            });
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        read_answer(&mut stream)
    }
}

/// Reads one answer framed by `Content-Length` (or the end of the connection).
fn read_answer(stream: &mut TcpStream) -> Result<Answer, CallError> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk)?;
        raw.extend_from_slice(&chunk[..n]);
        if raw.len() > MAX_ANSWER_BYTES {
            return Err(CallError::Bad("answer too large"));
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let parsed = response
            .parse(&raw)
            .map_err(|_| CallError::Bad("not HTTP"))?;
        if let httparse::Status::Complete(head_len) = parsed {
            let status = response.code.unwrap_or(0);
            let length: Option<usize> = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok());
            match length {
                Some(len) if raw.len() >= head_len + len => {
                    return Ok(Answer {
                        status,
                        body: raw[head_len..head_len + len].to_vec(),
                    });
                }
                None if n == 0 => {
                    return Ok(Answer {
                        status,
                        body: raw[head_len..].to_vec(),
                    });
                }
                _ => {}
            }
        }
        if n == 0 {
            return Err(CallError::Bad("connection closed before the answer ended"));
        }
    }
}

/// The answer if 2xx, else its status and the node's message.
fn ok(answer: Answer) -> Result<Answer, CallError> {
    if (200..300).contains(&answer.status) {
        return Ok(answer);
    }
    let message = serde_json::from_slice::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&answer.body).trim().to_owned());
    Err(CallError::Status {
        status: answer.status,
        message,
    })
}
