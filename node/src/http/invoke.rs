//! `/function/<name>`: the invocation path. One function, used for every request: look the function up,
//! apply the override headers or ask the scheduler, admit through K slots + queue, run the backend under
//! one timeout, then write the function's own status, headers and body plus the original's
//! `X-P2pfaas-*` headers. Errors return early and `respond::error` turns them into the reply.

use std::sync::atomic::Ordering::{AcqRel, Relaxed};
use std::task::Poll;
use std::time::{Duration, Instant};

use p2pfaas_core::invocation::{End, ForwardOutcome, Invocation as Machine, Step};
use p2pfaas_core::jobs::Arrival;
use p2pfaas_core::learning::Rewards;
use rand::RngCore;

use super::job::{Invocation, header, passes_through};
use super::respond::Response;
use super::{Request, codec, forward};
use crate::backend::{BackendError, Call, Context, FunctionBackend, Headers, Output};
use crate::error::{Error, Overload};
use crate::metrics::Outcome;
use crate::node::TaskCounter;
use crate::peers::path::Path;
use crate::peers::wire;
use crate::queue::Admit;
use crate::registry::Function;
use crate::scheduler::{Admission, JobMeta, Learning, NodeView, Note, Scheduler};
use crate::worker::Worker;

/// Version sent in `X-P2pfaas-Version` and `GET /`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Tracks one job in the per-function and per-task-type counters; undoes exactly what it did on drop.
struct Occupancy<'a> {
    function: &'a Function,
    task: &'a TaskCounter,
    running: bool,
    queued: bool,
}

impl<'a> Occupancy<'a> {
    /// Claims one of the function's `max_inflight` places.
    fn enter(function: &'a Function, task: &'a TaskCounter) -> Result<Self, Error> {
        let before = function.inflight.fetch_add(1, AcqRel);
        if function
            .config
            .max_inflight
            .is_some_and(|max| before >= max.get())
        {
            function.inflight.fetch_sub(1, AcqRel);
            return Err(Error::Overloaded(Overload::FunctionLimit));
        }
        Ok(Self {
            function,
            task,
            running: false,
            queued: false,
        })
    }

    fn wait(&mut self) {
        self.function.queued.fetch_add(1, Relaxed);
        self.task.queued.fetch_add(1, Relaxed);
        self.queued = true;
    }

    fn run(&mut self) {
        if std::mem::take(&mut self.queued) {
            self.function.queued.fetch_sub(1, Relaxed);
            self.task.queued.fetch_sub(1, Relaxed);
        }
        self.function.running.fetch_add(1, Relaxed);
        self.task.running.fetch_add(1, Relaxed);
        self.running = true;
    }
}

impl Drop for Occupancy<'_> {
    fn drop(&mut self) {
        if self.queued {
            self.function.queued.fetch_sub(1, Relaxed);
            self.task.queued.fetch_sub(1, Relaxed);
        }
        if self.running {
            self.function.running.fetch_sub(1, Relaxed);
            self.task.running.fetch_sub(1, Relaxed);
        }
        self.function.inflight.fetch_sub(1, AcqRel);
    }
}

/// Parses the task-type header: absent means 0; otherwise an integer below the configured count.
pub fn task_type(raw: Option<&[u8]>, count: usize) -> Result<usize, Error> {
    let Some(raw) = raw else {
        return Ok(0);
    };
    // What peers send (a few digits) needs no float parser; anything else takes the general path.
    if let Some(v) = small_integer(raw).filter(|v| *v < count) {
        return Ok(v);
    }
    // The original sent it as a float ("1.0"); accept integral floats too.
    let parsed = std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| v.fract() == 0.0 && *v >= 0.0 && *v < count as f64);
    match parsed {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked integral and in range above"
        )]
        Some(v) => Ok(v as usize),
        None => Err(Error::BadInput(format!(
            "{}: expected an integer from 0 to {}, got {:?}",
            header::TASK_TYPE,
            count - 1,
            String::from_utf8_lossy(raw)
        ))),
    }
}

/// `raw` as a number when it is one to three ASCII digits.
fn small_integer(raw: &[u8]) -> Option<usize> {
    (1..=3).contains(&raw.len()).then_some(())?;
    raw.iter().try_fold(0, |n: usize, b| {
        b.is_ascii_digit().then(|| n * 10 + usize::from(b - b'0'))
    })
}

/// Parses `X-P2pfaas-Deadline-Ms` (a positive number of milliseconds, fractions allowed), falling back to
/// the function's configured deadline.
pub fn deadline(raw: Option<&[u8]>, function: &Function) -> Result<Option<Duration>, Error> {
    let Some(raw) = raw else {
        return Ok(function.config.deadline);
    };
    std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|ms| *ms > 0.0 && *ms <= 86_400_000.0)
        .map(|ms| Some(Duration::from_secs_f64(ms / 1000.0)))
        .ok_or_else(|| {
            Error::BadInput(format!(
                "{}: expected milliseconds between 0 and 86400000, got {:?}",
                header::DEADLINE_MS,
                String::from_utf8_lossy(raw)
            ))
        })
}

/// `/function/<name>`: a client's call.
pub async fn invoke(
    w: &Worker,
    req: &Request<'_>,
    function: &Function,
    suffix: &str,
    resp: &mut Response,
    out: &mut Output,
) -> Result<(), Error> {
    let inv = Invocation {
        call: Call {
            method: req.method(),
            path: suffix,
            query: req.query(),
            content_type: req.header("content-type"),
            headers: Headers::new(req.head, req.head_buf),
            body: req.body,
            job_id: None,
        },
        task_type: task_type(req.header(header::TASK_TYPE), w.node.task_types.len())?,
        deadline: deadline(req.header(header::DEADLINE_MS), function)?,
        hops: 0,
        external: false,
        path_ids: Path::EMPTY,
        path_addrs: Path::EMPTY,
        arrived: req.arrived,
        answer_by: req.deadline,
        routed: std::cell::Cell::new(false),
    };
    let overrides = if req.has_flag_header(header::BYPASS) {
        Some(Override::Bypass)
    } else if req.has_flag_header(header::FORWARD) {
        Some(Override::Forward)
    } else if req.has_flag_header(header::REJECT) {
        Some(Override::Reject)
    } else {
        None
    };
    execute(w, &inv, overrides, function, resp, out).await
}

/// The client's override headers, parsed (the decision core applies them).
pub use p2pfaas_core::invocation::Override;

/// Decides, runs (here or on a peer) and answers one invocation; records its outcome and, for a learning
/// decision with a deadline, the reward.
pub async fn execute(
    w: &Worker,
    inv: &Invocation<'_>,
    overrides: Option<Override>,
    function: &Function,
    resp: &mut Response,
    out: &mut Output,
) -> Result<(), Error> {
    let mut ran = Ran::default();
    // At most once: a peer's job whose id came here before never runs again.
    let received = inv.call.job_id.filter(|_| inv.external);
    let (result, first) = match received.map(|id| w.node.jobs.arrive(id, inv.arrived)) {
        Some(Arrival::Duplicate { executed, status }) => {
            (Err(Error::DuplicateJob { executed, status }), None)
        }
        arrival => (
            run(w, inv, overrides, function, resp, out, &mut ran).await,
            arrival.and(received),
        ),
    };
    // Only the first copy's answer is its outcome (a refused copy leaves the first's entry alone).
    if let Some(id) = first {
        let status = match &result {
            Ok(()) => resp.status,
            Err(e) => super::respond::status(e, super::respond::OVERLOADED),
        };
        w.node.jobs.end(id, status);
    }
    let total = ran.total.unwrap_or_else(|| inv.arrived.elapsed());
    let outcome = match &result {
        Ok(()) => Outcome::Ok,
        Err(Error::Overloaded(_)) => Outcome::Overloaded,
        Err(Error::Rejected(_)) => Outcome::Rejected,
        Err(Error::FunctionTimeout | Error::ForwardTimeout { .. }) => Outcome::Timeout,
        Err(_) => Outcome::FunctionError,
    };
    function.metrics(w.index).record(outcome, total);
    if let Err(Error::Overloaded(_)) = &result {
        resp.header_fmt(
            "Retry-After",
            format_args!("{}", function.service_time.retry_after_secs()),
        );
    }
    // A peer's job has the deadline only for its double decision's reward: the origin counts it.
    if let (Some(deadline), false) = (inv.deadline, inv.external) {
        let met = result.is_ok() && (200..300).contains(&resp.status) && total <= deadline;
        let counter = if met {
            &w.metrics.deadline_met
        } else {
            &w.metrics.deadline_missed
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if let (Some(learning), Some(deadline)) = (&ran.note.learning, inv.deadline) {
        let r = &w.node.config.learner;
        let rewards = Rewards {
            met: r.reward_met,
            missed: r.reward_missed,
            rejected: r.reward_rejected,
            refused: r.reward_refused,
        };
        let met = result.is_ok() && (200..300).contains(&resp.status) && total <= deadline;
        let rejected = matches!(result, Err(Error::Rejected(_)));
        w.observe(learning, rewards.of_learning(learning, met, rejected));
    }
    result
}

/// What `run` leaves for `execute` besides its result.
#[derive(Default)]
struct Ran {
    /// The decision's note (its learning, its fallback).
    note: Note,
    /// Arrival → answer of a job that ran here, as its timing header reports it (`None` otherwise):
    /// the metrics then agree with the header, without another clock read.
    total: Option<Duration>,
}

/// The learning headers of contract §1.5 (`%f` formatting, state values comma-joined).
fn write_learning(resp: &mut Response, l: &Learning) {
    struct Joined<'a>(&'a [f32]);
    impl std::fmt::Display for Joined<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            for (i, v) in self.0.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{v:.6}")?;
            }
            Ok(())
        }
    }
    resp.header_fmt(header::LEARNING_EID, format_args!("{}", l.eid));
    resp.header_fmt(
        header::LEARNING_STATE,
        format_args!("{}", Joined(l.state())),
    );
    resp.header_fmt(
        header::LEARNING_ACTION,
        format_args!("{:.6}", f64::from(l.action)),
    );
    resp.header_fmt(header::LEARNING_EPS, format_args!("{:.6}", l.epsilon));
}

/// Drives the decision core's invocation state machine: performs its steps (probes, the Tau wait, the
/// forward, the local run) and feeds their results back. Every rule about what comes next is the
/// machine's; this function only does the I/O and writes the response.
async fn run(
    w: &Worker,
    inv: &Invocation<'_>,
    overrides: Option<Override>,
    function: &Function,
    resp: &mut Response,
    out: &mut Output,
    ran: &mut Ran,
) -> Result<(), Error> {
    resp.own_header(header::VERSION, VERSION.as_bytes());
    let job = JobMeta {
        task_type: inv.task_type,
        external: inv.external,
        hops: inv.hops,
        deadline: inv.deadline,
    };
    let (name, path) = (function.name(), inv.path_ids);
    let answer_within = inv.answer_by.saturating_duration_since(inv.arrived);
    let mut machine = Machine::new(job, Some(answer_within));
    let mut own = w.scratch();
    let job_id = match inv.call.job_id {
        Some(id) => id,
        None => {
            let machine_id = || w.node.peers.own().id.clone();
            w.node.jobs.write_next_id(machine_id, &mut own);
            // Written from a `str` and digits.
            std::str::from_utf8(&own).unwrap_or_default()
        }
    };
    resp.own_header(header::JOB_ID, job_id.as_bytes());
    let start = |s: &mut dyn Scheduler, view: &NodeView<'_>, rng: &mut dyn RngCore| {
        resp.own_header(header::SCHEDULER, s.full_name().as_bytes());
        machine.start(s, view, rng)
    };
    let mut step = match w.agent_for(overrides, &job) {
        Some(link) => w.decide_with_agent(link, &job, name, path, start).await,
        None => w.with_decider(overrides, true, name, path, start),
    };
    // The double decision's own learning stays on this node: the origin writes the client's headers.
    if let Some(l) = machine.note().learning.as_ref().filter(|l| !l.acceptance) {
        write_learning(resp, l);
    }
    let mut probing = None;
    let mut scheduled = None;
    // Why the forward failed, for the answer when the fallback finds no room either.
    let mut failure = None;
    let end = loop {
        step = match step {
            Step::Probe(probe) => {
                let started = Instant::now();
                let results = forward::probe(w, probe.peers()).await;
                probing = Some(started.elapsed());
                let now = inv.arrived.elapsed();
                w.with_decider(overrides, false, name, path, |s, view, rng| {
                    machine.probed(&results, now, s, view, rng)
                })
            }
            Step::WaitUntil(at) => {
                monoio::time::sleep((inv.arrived + at).saturating_duration_since(Instant::now()))
                    .await;
                w.with_decider(overrides, false, name, path, |s, view, rng| {
                    machine.waited(s, view, rng)
                })
            }
            Step::Forward(peer) => {
                let scheduled = *scheduled.get_or_insert_with(Instant::now);
                // A peer's job that its origin cancelled meanwhile goes no further.
                let cancelled = |id| !w.node.jobs.forward(id, scheduled);
                if inv.external && inv.call.job_id.is_some_and(cancelled) {
                    return Err(Error::Cancelled);
                }
                let timing = forward::Timing {
                    arrived: inv.arrived,
                    scheduled,
                    probing,
                };
                let outcome =
                    match forward::forward(w, inv, job_id, function, peer, timing, resp, out).await
                    {
                        Ok(()) => ForwardOutcome::Done,
                        Err(forward::ForwardError::Refused(_)) => ForwardOutcome::Refused,
                        Err(forward::ForwardError::Failed(reason)) => {
                            failure = Some(reason);
                            ForwardOutcome::Failed
                        }
                        Err(forward::ForwardError::TimedOut(reason)) => {
                            failure = Some(reason);
                            ForwardOutcome::TimedOut
                        }
                        Err(forward::ForwardError::Lost(reason)) => {
                            failure = Some(reason);
                            ForwardOutcome::Lost
                        }
                    };
                machine.forwarded(outcome)
            }
            Step::Cancel(peer) => {
                let executed = forward::cancel(w, peer, job_id, inv.answer_by).await;
                machine.cancelled(executed)
            }
            Step::Done(end) => break end,
        };
    };
    ran.note = *machine.note();
    write_fallback(resp, &ran.note);
    // Scheduled just now unless a forward was tried first (then its start is the decision's time).
    let scheduled_now = scheduled.is_none();
    let timing = forward::Timing {
        arrived: inv.arrived,
        scheduled: scheduled.unwrap_or_else(Instant::now),
        probing,
    };
    match end {
        End::Answered => Ok(()),
        End::Reject(reason) => Err(Error::Rejected(reason)),
        End::Unanswered(executed) => Err(Error::ForwardTimeout {
            executed,
            lost: machine
                .outcome()
                .and_then(|o| o.forward)
                .is_some_and(|(_, o)| o == ForwardOutcome::Lost),
        }),
        // After a refused forward, no room here is this node's capacity reject (429: the cluster is
        // busy); after a failed one, the answer says why the peer failed.
        End::RunLocal(mode) => run_local(
            w,
            inv,
            job_id,
            function,
            mode,
            resp,
            out,
            timing,
            scheduled_now,
        )
        .await
        .map(|total| ran.total = Some(total))
        .map_err(|e| match (e, failure) {
            (Error::Overloaded(_), Some(reason)) => Error::PeerFailed(reason),
            (other, _) => other,
        }),
    }
}

fn write_fallback(resp: &mut Response, note: &Note) {
    if let Some(reason) = note.fallback {
        resp.own_header(header::FALLBACK, reason.as_bytes());
    }
}

/// Admits the job through K slots and the queue, runs the backend, and writes the function's answer with
/// the timing headers; returns the job's total time here (arrival → answer). `scheduled_now`:
/// `timing.scheduled` was taken just before this call.
#[allow(
    clippy::too_many_arguments,
    reason = "the invocation's parts, borrowed"
)]
async fn run_local(
    w: &Worker,
    inv: &Invocation<'_>,
    job_id: &str,
    function: &Function,
    mode: Admission,
    resp: &mut Response,
    out: &mut Output,
    timing: forward::Timing,
    scheduled_now: bool,
) -> Result<Duration, Error> {
    let node = &w.node;
    let task = inv.task_type;
    let mut occupancy = Occupancy::enter(function, &node.task_types[task])?;
    let mut waited = false;
    let permit = match mode {
        Admission::NoQueue => node
            .admission
            .try_run()
            .ok_or(Error::Overloaded(Overload::NoFreeSlot))?,
        Admission::Queue => match node.admission.try_admit() {
            Admit::Run(permit) => permit,
            Admit::Wait(ticket) => {
                occupancy.wait();
                waited = true;
                monoio::time::timeout_at(monoio::time::Instant::from_std(inv.answer_by), ticket)
                    .await
                    .map_err(|_| Error::Overloaded(Overload::QueueTimeout))?
            }
            Admit::Full => return Err(Error::Overloaded(Overload::Full)),
        },
    };
    // Scheduled just now and admitted at once, the job starts as it is scheduled (no time in the
    // queue): one clock read less on the common path.
    let started = if scheduled_now && !waited {
        timing.scheduled
    } else {
        Instant::now()
    };
    // The point of no return: a peer's job its origin cancelled while it waited never runs.
    if inv.external
        && inv
            .call
            .job_id
            .is_some_and(|id| !w.node.jobs.start(id, started))
    {
        return Err(Error::Cancelled);
    }
    occupancy.run();
    out.reset();
    let call = Call {
        job_id: Some(job_id),
        ..inv.call
    };
    let http = &node.config.http;
    let ctx = Context {
        rng: &w.rng,
        pool: &w.pool,
        timer_lateness: &w.timer_lateness,
        response_limits: codec::Limits {
            max_head_bytes: http.max_head_bytes,
            max_headers: codec::MAX_HEADERS,
            max_body_bytes: http.max_response_bytes,
        },
    };
    let time_out_at = started
        .checked_add(function.config.timeout)
        .map_or(inv.answer_by, |at| at.min(inv.answer_by));
    // A call done at its first poll (most built-ins) needs no timer: the timeout polls the call first
    // and never cuts one that is done. (The call is dropped at the end of this block, as it was when
    // the timeout wrapped it.)
    let result = {
        let mut invocation = std::pin::pin!(function.backend.invoke(&ctx, &call, out));
        match std::future::poll_fn(|cx| Poll::Ready(invocation.as_mut().poll(cx))).await {
            Poll::Ready(done) => Ok(done),
            Poll::Pending => {
                let at = monoio::time::Instant::from_std(time_out_at);
                monoio::time::timeout_at(at, invocation).await
            }
        }
    };
    let ended = Instant::now();
    // The times are derived from two differences (Instant arithmetic is not free on the hot path).
    let since_scheduled = ended.saturating_duration_since(timing.scheduled);
    let queue = if started == timing.scheduled {
        Duration::ZERO
    } else {
        started.saturating_duration_since(timing.scheduled)
    };
    let execution = since_scheduled.saturating_sub(queue);
    function.service_time.record(execution);
    drop(permit);
    drop(occupancy);
    match result {
        Err(_) | Ok(Err(BackendError::Timeout)) => return Err(Error::FunctionTimeout),
        Ok(Err(BackendError::Unreachable(detail))) => {
            return Err(Error::FunctionUnreachable(detail));
        }
        Ok(Err(BackendError::Failed(detail))) => return Err(Error::FunctionFailed(detail)),
        Ok(Ok(())) => {}
    }

    resp.status = out.status;
    if !out.content_type.is_empty() {
        resp.header("Content-Type", &out.content_type);
    }
    for (name, value) in out.headers.iter() {
        if passes_through(name) {
            resp.header(name, value);
        }
    }
    std::mem::swap(&mut resp.body, &mut out.body);
    let scheduling = timing.scheduled.saturating_duration_since(timing.arrived);
    let times = Times {
        total: scheduling + since_scheduled,
        scheduling,
        probing: timing.probing,
        // A platform-reported duration (OpenFaaS X-Duration-Seconds) is the function's own measure.
        execution: out.reported_duration.unwrap_or(execution),
        queue,
    };
    write_timings(resp, &times);
    Ok(times.total)
}

/// The times of a locally executed job, as its timing headers report them.
struct Times {
    /// Arrival → answer.
    total: Duration,
    /// Arrival → decision.
    scheduling: Duration,
    /// The probe of peers, if one was made.
    probing: Option<Duration>,
    /// The function call.
    execution: Duration,
    /// Decision → start (waiting for a slot).
    queue: Duration,
}

/// The original's timing headers for a locally executed job (`%f` seconds in one-element lists).
fn write_timings(resp: &mut Response, t: &Times) {
    resp.header_secs(header::TOTAL, t.total, true);
    resp.header_secs(header::SCHEDULING, t.scheduling, true);
    if let Some(p) = t.probing {
        resp.header_secs(wire::header::PROBING, p, true);
    }
    resp.header_secs(header::EXECUTION, t.execution, false);
    resp.header_secs(header::QUEUE, t.queue, false);
}

#[cfg(test)]
mod tests {
    use super::{passes_through, task_type};

    #[test]
    fn task_types_parse_as_integers_or_integral_floats_below_the_count() {
        for (raw, want) in [
            ("0", Some(0)),
            ("3", Some(3)),
            ("003", Some(3)),
            ("1.0", Some(1)),
            (" 2 ", Some(2)),
            ("4", None),
            ("100", None),
            ("1.5", None),
            ("-1", None),
            ("", None),
            ("x", None),
        ] {
            assert_eq!(task_type(Some(raw.as_bytes()), 4).ok(), want, "{raw:?}");
        }
        assert_eq!(task_type(None, 4).ok(), Some(0));
    }

    #[test]
    fn only_end_to_end_function_headers_pass() {
        assert!(passes_through("X-Duration-Seconds"));
        assert!(passes_through("Cache-Control"));
        assert!(!passes_through("Connection"));
        assert!(!passes_through("Transfer-Encoding"));
        assert!(!passes_through("content-type"));
        assert!(!passes_through("X-P2pfaas-Hops"));
    }
}
