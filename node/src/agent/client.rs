//! One worker's connection to an external agent: the I/O shell around [`super::codec`]. A decide
//! writes one frame into the worker's outgoing buffer and waits, without blocking the worker's event
//! loop, for the answer in a fixed slot; a background task owns the socket (writer and reader
//! halves), reconnects with backoff, and streams transitions in batches. Everything here is owned by
//! one worker thread (`Rc`/`Cell`, no locks); in steady state nothing allocates: the buffers and the
//! slot table are allocated once and reused.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use monoio::buf::{IoBufMut, SliceMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Split, Splitable};

use super::Fallback;
use super::codec::{self, Hello, Transition};
use crate::metrics::WorkerMetrics;
use crate::node::Node;
use crate::shutdown::Shutdown;

/// Decides that may wait at once on one worker; one more is a `busy` fallback.
const SLOTS: usize = 1024;
/// Transitions sent in one frame when the node is busy.
const BATCH: u32 = 64;
/// How often a partial batch of transitions is sent (a transition waits at most about twice this).
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Reconnect backoff: first wait and cap.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Outgoing bytes kept while the agent is slow to read; beyond it transitions are dropped (decides
/// are bounded by the slots).
const MAX_PENDING_BYTES: usize = 1 << 20;

/// Where to connect.
#[derive(Debug, Clone)]
pub enum Target {
    /// A Unix stream socket.
    Unix(PathBuf),
    /// A TCP address.
    Tcp(std::net::SocketAddr),
}

/// One decide's wait place, reused by the decide whose eid maps to it.
#[derive(Default)]
struct Slot {
    eid: Cell<u64>,
    waiting: Cell<bool>,
    answer: Cell<Option<Result<u16, Fallback>>>,
    waker: Cell<Option<Waker>>,
}

/// The shape the agent is told in the hello.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Values per state at the start ([`Client::reshape`] changes it).
    pub dims: u16,
    /// Actions the agent may answer.
    pub actions: u16,
    /// This worker's index.
    pub worker: u16,
    /// The node's id.
    pub node: String,
}

/// A worker's agent connection: shared by the worker's decisions (`decide`, `transition`) and its
/// background [`Client::run`] task.
pub struct Client {
    target: Target,
    shape: Shape,
    /// Values per state now: the hello's, until a reshape announces another.
    dims: Cell<u16>,
    metrics: Arc<WorkerMetrics>,
    slots: Box<[Slot]>,
    /// Next eid; the worker index sits in the top 16 bits so eids are unique on the node.
    next_eid: Cell<u64>,
    connected: Cell<bool>,
    /// Bumped at every disconnect, so waits of the old connection end at once.
    epoch: Cell<u64>,
    /// Frames waiting for the writer.
    out: RefCell<Vec<u8>>,
    writer: Cell<Option<Waker>>,
    /// Transition records not yet framed, and how many.
    records: RefCell<Vec<u8>>,
    record_count: Cell<u32>,
    /// Set every [`FLUSH_EVERY`] while transitions wait: the writer sends a partial batch.
    flush_due: Cell<bool>,
}

impl Client {
    /// A client for worker `shape.worker`, not yet connected (see [`Client::run`]).
    pub fn new(target: Target, shape: Shape, metrics: Arc<WorkerMetrics>) -> Rc<Self> {
        let record = codec::transition_len(usize::from(shape.dims));
        Rc::new(Self {
            target,
            next_eid: Cell::new(u64::from(shape.worker) << 48 | 1),
            dims: Cell::new(shape.dims),
            shape,
            metrics,
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
            connected: Cell::new(false),
            epoch: Cell::new(0),
            out: RefCell::new(Vec::with_capacity(64 * 1024)),
            writer: Cell::new(None),
            records: RefCell::new(Vec::with_capacity(record * BATCH as usize * 2)),
            record_count: Cell::new(0),
            flush_due: Cell::new(false),
        })
    }

    /// The state dimension announced in the last hello.
    pub fn dims(&self) -> usize {
        usize::from(self.dims.get())
    }

    /// Announces a new state dimension (the scheduler changed to another N; a no-op for the same
    /// one): later decides and transitions carry `dims` values. On a live connection the
    /// transitions queued so far go out first, with the old dimension, then a new hello; the agent
    /// reads every frame after it with the new one. Not connected: the next connection's hello says it.
    pub fn reshape(&self, dims: usize) {
        let dims = u16::try_from(dims).unwrap_or(u16::MAX);
        if dims == self.dims.get() {
            return;
        }
        if self.connected.get() {
            self.frame_records();
        }
        self.dims.set(dims);
        if self.connected.get() {
            self.hello(&mut self.out.borrow_mut());
            self.wake_writer();
        }
    }

    /// Appends the hello with the current shape.
    fn hello(&self, out: &mut Vec<u8>) {
        codec::hello(
            out,
            &Hello {
                dims: self.dims.get(),
                actions: self.shape.actions,
                worker: self.shape.worker,
                node: &self.shape.node,
            },
        );
    }

    /// Asks the agent for the action in `state` of a job of `task_type`, waiting at most `timeout`;
    /// returns the decision's eid and action, or why the caller must fall back.
    pub async fn decide(
        &self,
        task_type: u16,
        state: &[f32],
        timeout: Duration,
    ) -> Result<(u64, u16), Fallback> {
        if !self.connected.get() {
            return Err(Fallback::Disconnected);
        }
        let eid = self.next_eid.get();
        self.next_eid.set(eid.wrapping_add(1));
        #[allow(clippy::cast_possible_truncation, reason = "modulo a small table size")]
        let slot = &self.slots[(eid % SLOTS as u64) as usize];
        if slot.waiting.get() {
            return Err(Fallback::Busy);
        }
        slot.eid.set(eid);
        slot.answer.set(None);
        slot.waiting.set(true);
        codec::decide(&mut self.out.borrow_mut(), eid, task_type, state);
        self.wake_writer();
        let wait = Wait {
            client: self,
            slot,
            epoch: self.epoch.get(),
        };
        let result = monoio::time::timeout(timeout, wait).await;
        slot.waiting.set(false);
        drop(slot.waker.take());
        match result {
            Ok(Ok(action)) => Ok((eid, action)),
            Ok(Err(reason)) => Err(reason),
            Err(_) => Err(Fallback::Timeout),
        }
    }

    /// Queues one finished decision for the agent; sent in batches of 64, or partial ones every
    /// 20 ms. Dropped (and counted) while disconnected, when the agent reads too slowly, or when
    /// its state has another dimension than the last hello's (decided before a reshape).
    pub fn queue_transition(&self, t: &Transition<'_>) {
        let mut records = self.records.borrow_mut();
        if !self.connected.get()
            || t.state.len() != self.dims()
            || records.len() + self.out.borrow().len() > MAX_PENDING_BYTES
        {
            self.metrics.agent_transitions_dropped.fetch_add(1, Relaxed);
            return;
        }
        codec::transition(&mut records, t);
        let count = self.record_count.get() + 1;
        self.record_count.set(count);
        if count >= BATCH {
            drop(records);
            self.wake_writer();
        }
    }

    /// Connects, serves the connection until it breaks, and reconnects with backoff, until shutdown.
    pub async fn run(self: Rc<Self>, node: Arc<Node>) {
        let shutdown = &node.shutdown;
        let mut backoff = BACKOFF_MIN;
        while !shutdown.is_triggered() {
            let served = match &self.target {
                Target::Unix(path) => match monoio::net::UnixStream::connect(path).await {
                    Ok(s) => Some(self.serve(s, shutdown).await),
                    Err(_) => None,
                },
                Target::Tcp(addr) => match monoio::net::TcpStream::connect_addr(*addr).await {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        Some(self.serve(s, shutdown).await)
                    }
                    Err(_) => None,
                },
            };
            if let Some(reason) = served {
                tracing::warn!(worker = self.shape.worker, %reason, "external agent disconnected");
                backoff = BACKOFF_MIN;
            }
            monoio::select! {
                () = monoio::time::sleep(backoff) => {}
                () = shutdown.wait() => break,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// Serves one connection until it breaks or the node shuts down; says why it ended.
    async fn serve<S>(&self, stream: S, shutdown: &Shutdown) -> &'static str
    where
        S: Split + AsyncReadRent + AsyncWriteRent,
    {
        {
            let mut out = self.out.borrow_mut();
            out.clear();
            self.hello(&mut out);
        }
        self.records.borrow_mut().clear();
        self.record_count.set(0);
        self.connected.set(true);
        self.metrics.agent_connects.fetch_add(1, Relaxed);
        tracing::info!(worker = self.shape.worker, "external agent connected");
        let (reader, writer) = stream.into_split();
        let reason = monoio::select! {
            r = self.read_loop(reader) => r,
            r = self.write_loop(writer) => r,
            () = self.tick() => "unreachable: the tick never ends",
            () = shutdown.wait() => "shutdown",
        };
        self.disconnect(reason == "bad answer");
        reason
    }

    /// Reads actions and completes their waits.
    async fn read_loop<R: AsyncReadRent>(&self, mut reader: R) -> &'static str {
        let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
        loop {
            let mut used = 0;
            loop {
                match codec::action(&buf[used..]) {
                    Ok((a, n)) => {
                        used += n;
                        self.complete(a);
                    }
                    Err(codec::DecodeError::Incomplete) => break,
                    Err(codec::DecodeError::Invalid { .. }) => return "bad answer",
                }
            }
            buf.drain(..used);
            let len = buf.len();
            if buf.capacity() - len < 1024 {
                buf.reserve(16 * 1024);
            }
            let slice: SliceMut<Vec<u8>> = std::mem::take(&mut buf).slice_mut(len..);
            let (res, slice) = reader.read(slice).await;
            buf = slice.into_inner();
            match res {
                Ok(0) => return "closed by the agent",
                Ok(_) => {}
                Err(_) => return "read error",
            }
        }
    }

    /// The answer `a` for the decide waiting on its slot, if it still waits (a late answer is dropped).
    fn complete(&self, a: codec::Action) {
        #[allow(clippy::cast_possible_truncation, reason = "modulo a small table size")]
        let slot = &self.slots[(a.eid % SLOTS as u64) as usize];
        if !slot.waiting.get() || slot.eid.get() != a.eid {
            self.metrics.agent_late_answers.fetch_add(1, Relaxed);
            return;
        }
        let answer = if a.action < self.shape.actions {
            Ok(a.action)
        } else {
            Err(Fallback::BadAnswer)
        };
        slot.answer.set(Some(answer));
        if let Some(w) = slot.waker.take() {
            w.wake();
        }
    }

    /// Writes what decides and transitions queued: a full batch at once, a partial one when the
    /// [`Client::tick`] says it is due.
    async fn write_loop<W: AsyncWriteRent>(&self, mut writer: W) -> &'static str {
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        loop {
            WaitOut(self).await;
            let count = self.record_count.get();
            if count >= BATCH || (self.flush_due.replace(false) && count > 0) {
                self.frame_records();
            }
            std::mem::swap(&mut *self.out.borrow_mut(), &mut buf);
            if buf.is_empty() {
                continue;
            }
            let (res, b) = writer.write_all(buf).await;
            buf = b;
            buf.clear();
            if res.is_err() {
                return "write error";
            }
        }
    }

    /// Moves the queued transition records into one TRANSITIONS frame for the writer.
    fn frame_records(&self) {
        let count = self.record_count.replace(0);
        if count == 0 {
            return;
        }
        let mut records = self.records.borrow_mut();
        codec::transitions(&mut self.out.borrow_mut(), count, &records);
        records.clear();
        self.metrics
            .agent_transitions
            .fetch_add(u64::from(count), Relaxed);
    }

    /// Ends the connection's waits: each waiting decide falls back (as `bad_answer` when the agent
    /// sent garbage, else `disconnected`), and queued bytes are dropped.
    fn disconnect(&self, bad: bool) {
        self.connected.set(false);
        self.epoch.set(self.epoch.get().wrapping_add(1));
        let reason = if bad {
            Fallback::BadAnswer
        } else {
            Fallback::Disconnected
        };
        for slot in self.slots.iter().filter(|s| s.waiting.get()) {
            slot.answer.set(Some(Err(reason)));
            if let Some(w) = slot.waker.take() {
                w.wake();
            }
        }
        self.out.borrow_mut().clear();
        self.records.borrow_mut().clear();
        self.record_count.set(0);
        self.flush_due.set(false);
    }

    /// Marks a partial batch due every [`FLUSH_EVERY`], so a transition waits at most about
    /// twice that when the node is not busy enough to fill a batch.
    async fn tick(&self) {
        loop {
            monoio::time::sleep(FLUSH_EVERY).await;
            if self.record_count.get() > 0 {
                self.flush_due.set(true);
                self.wake_writer();
            }
        }
    }

    fn wake_writer(&self) {
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }
}

/// A decide waiting for its slot's answer.
struct Wait<'a> {
    client: &'a Client,
    slot: &'a Slot,
    epoch: u64,
}

impl Future for Wait<'_> {
    type Output = Result<u16, Fallback>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(answer) = self.slot.answer.take() {
            return Poll::Ready(answer);
        }
        if self.client.epoch.get() != self.epoch {
            return Poll::Ready(Err(Fallback::Disconnected));
        }
        self.slot.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

/// The writer waiting for something to send.
struct WaitOut<'a>(&'a Client);

impl Future for WaitOut<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let records = self.0.record_count.get();
        if !self.0.out.borrow().is_empty()
            || records >= BATCH
            || (records > 0 && self.0.flush_due.get())
        {
            return Poll::Ready(());
        }
        self.0.writer.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

#[cfg(test)]
mod tests;
