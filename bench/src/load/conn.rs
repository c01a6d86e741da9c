//! One keep-alive HTTP/1.1 connection to a target: the request bytes, and a worker thread that reads
//! one response per request written by the sender and then hands the connection back as idle.
//!
//! Why a thread per connection and not an async runtime: the sender must never wait on a response, so
//! every connection with a request in flight needs something blocked on its read; on loopback a
//! blocking read wakes a thread about as fast as an event loop would, the code stays small, and the
//! sender thread (the part whose timing matters) does nothing but sleep, spin and `write`.

use std::borrow::Cow;
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use super::Class;
use super::record::Record;

/// A request the sender has just written; the worker owning that connection reads its answer.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) seq: u64,
    pub(crate) class: u16,
    pub(crate) intended: Duration,
    /// When the first byte was handed to the kernel; latency is measured from here.
    pub(crate) sent_at: Instant,
    pub(crate) send_error_ns: i64,
}

/// The parts of a response the results file keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) reject_reason: Option<String>,
    pub(crate) hops: Option<u16>,
    /// Last id of `X-P2pfaas-Peers-List-Id`, if the node sent one.
    pub(crate) executor: Option<String>,
    /// `X-P2pfaas-Timing-Execution-Time-Seconds`: how long the function ran on the executor.
    pub(crate) execution: Option<Duration>,
    /// `X-P2pfaas-Timing-Queue-Seconds`: how long the job waited for a slot there.
    pub(crate) queue: Option<Duration>,
    /// `X-P2pfaas-Scheduler-Fallback`, when the node did not do what its scheduler chose.
    pub(crate) fallback: Option<String>,
    /// `X-P2pfaas-Job-Id`.
    pub(crate) job_id: Option<String>,
}

/// The fixed bytes of every request of one class to one target (built once, written as is).
pub(crate) fn request_bytes(host: &str, function: &str, class: &Class) -> Vec<u8> {
    let mut head = format!(
        "POST /function/{function} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {}\r\n\
         Content-Length: {}\r\n",
        class.content_type,
        class.payload.len()
    );
    if let Some(t) = class.task_type {
        head.push_str(&format!("X-P2pfaas-Scheduler-Learning-Task-Type: {t}\r\n"));
    }
    if let Some(d) = class.deadline_ms {
        head.push_str(&format!("X-P2pfaas-Deadline-Ms: {d}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&class.payload);
    bytes
}

/// Why no answer was read; the connection is closed afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadError {
    Timeout,
    Closed,
    BadResponse,
}

impl ReadError {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Closed => "read",
            Self::BadResponse => "bad_response",
        }
    }
}

/// The read side of a connection with its buffer (kept across responses: keep-alive).
pub(crate) struct Reader {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Reader {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Reads one complete response, giving up at `deadline`.
    pub(crate) fn read_answer(&mut self, deadline: Instant) -> Result<Answer, ReadError> {
        loop {
            if let Some((answer, used)) = parse(&self.buf)? {
                self.buf.drain(..used);
                return Ok(answer);
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or(ReadError::Timeout)?;
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|_| ReadError::Closed)?;
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(ReadError::Timeout);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(ReadError::Closed),
            }
        }
    }

    fn close(&self) {
        // Also closes the sender's write clone of this socket, so a late answer cannot be mistaken
        // for the next request's.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// Parses one response from the front of `buf`: `Ok(None)` when more bytes are needed. The node
/// always frames answers with `Content-Length`; anything else is `BadResponse`.
fn parse(buf: &[u8]) -> Result<Option<(Answer, usize)>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(ReadError::BadResponse),
    };
    let status = response.code.ok_or(ReadError::BadResponse)?;
    let mut answer = Answer {
        status,
        ..Answer::default()
    };
    let mut body_len = None;
    for h in response.headers.iter() {
        let value = std::str::from_utf8(h.value).map(str::trim);
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            body_len = value.ok().and_then(|v| v.parse::<usize>().ok());
        } else if name.eq_ignore_ascii_case("x-p2pfaas-reject-reason") {
            answer.reject_reason = value.ok().map(str::to_owned);
        } else if name.eq_ignore_ascii_case("x-p2pfaas-scheduler-fallback") {
            answer.fallback = value.ok().map(str::to_owned);
        } else if name.eq_ignore_ascii_case("x-p2pfaas-job-id") {
            answer.job_id = value.ok().map(str::to_owned);
        } else if name.eq_ignore_ascii_case("x-p2pfaas-hops") {
            answer.hops = value.ok().and_then(|v| v.parse().ok());
        } else if name.eq_ignore_ascii_case("x-p2pfaas-peers-list-id") {
            answer.executor = value.ok().and_then(last_id);
        } else if name.eq_ignore_ascii_case("x-p2pfaas-timing-execution-time-seconds") {
            answer.execution = value.ok().and_then(seconds);
        } else if name.eq_ignore_ascii_case("x-p2pfaas-timing-queue-seconds") {
            answer.queue = value.ok().and_then(seconds);
        }
    }
    let total = head_len + body_len.ok_or(ReadError::BadResponse)?;
    Ok((buf.len() >= total).then_some((answer, total)))
}

/// A non-negative number of seconds, as the timing headers carry them.
fn seconds(v: &str) -> Option<Duration> {
    Duration::try_from_secs_f64(v.parse().ok()?).ok()
}

/// The last id of a JSON array of strings such as `["a","b"]` (node ids never contain commas or quotes).
fn last_id(list: &str) -> Option<String> {
    let inner = list.trim().strip_prefix('[')?.strip_suffix(']')?;
    let last = inner.rsplit(',').next()?.trim().trim_matches('"');
    (!last.is_empty()).then(|| last.to_owned())
}

/// Everything a connection's worker needs besides its socket.
pub(crate) struct Worker {
    /// Position of this connection in the sender's pool; sent back on `idle` after each answer.
    pub(crate) index: usize,
    pub(crate) target: u16,
    /// The id recorded as executor when the node names none (a job it ran or refused itself).
    pub(crate) target_id: std::sync::Arc<str>,
    pub(crate) timeout: Duration,
    pub(crate) jobs: Receiver<Job>,
    pub(crate) idle: Sender<usize>,
    pub(crate) records: Sender<Record>,
}

impl Worker {
    /// Answers jobs until the sender drops the connection or it fails (timeout, close, bad response).
    pub(crate) fn run(self, mut reader: Reader) {
        while let Ok(job) = self.jobs.recv() {
            let result = reader.read_answer(job.sent_at + self.timeout);
            let latency = job.sent_at.elapsed();
            let ok = result.is_ok();
            let (answer, error) = match result {
                Ok(a) => (a, None),
                Err(e) => (Answer::default(), Some(e.label())),
            };
            let record = Record {
                target: self.target,
                seq: job.seq,
                intended: job.intended,
                send_error_ns: job.send_error_ns,
                status: answer.status,
                latency,
                reject_reason: answer.reject_reason,
                hops: answer.hops,
                executor: answer
                    .executor
                    .unwrap_or_else(|| self.target_id.to_string()),
                error,
                class: job.class,
                execution: answer.execution,
                queue: answer.queue,
                fallback: answer.fallback.map(Cow::Owned),
                job_id: answer.job_id,
            };
            if self.records.send(record).is_err() || !ok || self.idle.send(self.index).is_err() {
                break;
            }
        }
        reader.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_reject_in_pieces() {
        let raw = b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 5\r\n\
                    X-P2pfaas-Reject-Reason: no_free_slot\r\nX-P2pfaas-Hops: 1\r\n\
                    X-P2pfaas-Peers-List-Id: [\"a\", \"b\"]\r\n\
                    X-P2pfaas-Scheduler-Fallback: peer_refused\r\nX-P2pfaas-Job-Id: a/3\r\n\
                    X-P2pfaas-Timing-Queue-Seconds: 0.002500\r\n\r\nhelloHTTP/1.1";
        let head_end = raw.len() - "helloHTTP/1.1".len();
        assert_eq!(parse(&raw[..head_end - 1]), Ok(None));
        assert_eq!(parse(&raw[..head_end + 2]), Ok(None));
        let (answer, used) = parse(raw).expect("valid").expect("complete");
        assert_eq!(used, head_end + 5);
        assert_eq!(
            answer,
            Answer {
                status: 429,
                reject_reason: Some("no_free_slot".into()),
                hops: Some(1),
                executor: Some("b".into()),
                execution: None,
                queue: Some(Duration::from_micros(2500)),
                fallback: Some("peer_refused".into()),
                job_id: Some("a/3".into()),
            }
        );
    }

    #[test]
    fn unframed_or_garbage_answers_are_bad() {
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\n\r\n"),
            Err(ReadError::BadResponse)
        );
        assert_eq!(parse(b"SSH-2.0-x\r\n\r\n"), Err(ReadError::BadResponse));
    }

    #[test]
    fn request_carries_optional_headers() {
        let class = Class {
            payload: b"hi".to_vec(),
            task_type: Some(2),
            deadline_ms: Some(150.5),
            ..Class::default()
        };
        let r = request_bytes("h:1", "echo", &class);
        let text = String::from_utf8(r).expect("ascii");
        assert!(text.starts_with("POST /function/echo HTTP/1.1\r\nHost: h:1\r\n"));
        assert!(text.contains("Content-Length: 2\r\n"));
        assert!(text.contains("X-P2pfaas-Scheduler-Learning-Task-Type: 2\r\n"));
        assert!(text.contains("X-P2pfaas-Deadline-Ms: 150.5\r\n"));
        assert!(text.ends_with("\r\n\r\nhi"));
        let plain = request_bytes("h:1", "echo", &Class::default());
        assert!(!String::from_utf8_lossy(&plain).contains("X-P2pfaas"));
    }

    #[test]
    fn last_id_takes_the_executor() {
        assert_eq!(last_id("[\"a\",\"b\"]").as_deref(), Some("b"));
        assert_eq!(last_id("[]"), None);
        assert_eq!(last_id("nope"), None);
    }
}
