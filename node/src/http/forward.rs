//! Talking to peers: load probes, the periodic refresh of the peer table, and forwarding one job in the
//! peer's protocol (contract §1.8–1.9). Connections come from the worker's keep-alive pool.
//!
//! Every answer a peer gives carries its load, which goes straight into the peer table; a peer that does
//! not answer a refresh is counted as failing, and after a few failures it leaves every view until it
//! answers again. A forwarding failure (no connection, timeout, garbage, or a refusal by the peer's own
//! admission) is returned to the caller, which falls back once — unless the job may have run on the
//! peer (a timeout, a connection that broke after the job was sent, an answer saying it ran): then the
//! caller sends a [`cancel`] and runs the job here only if the peer answers that it did not run. A
//! function error on the executor is a clean answer and comes back as is.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use super::codec;
use super::job::{Invocation, header, is_named, is_own, passes_through};
use super::respond::Response;
use crate::backend::reply::{Headers, Output, ReplyHeaders};
use crate::config::PeerProtocol;
use crate::http::client::{ClientRequest, write_request_target};
use crate::http::respond::EXECUTED;
use crate::jobs::Executed;
use crate::peers::path::{self, Path};
use crate::peers::wire::{self, JsonRequest, JsonResponse, PathMember, Timings};
use crate::peers::{Own, Peer, PeerTable, Snapshot};
use crate::registry::Function;
use crate::scheduler::{PeerId, PeerLoad, ProbeResult};
use crate::worker::Worker;

/// When this node decided, and how long it probed: its entries in the timing lists.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// When the job arrived here.
    pub arrived: Instant,
    /// When the decision took effect.
    pub scheduled: Instant,
    /// Time spent probing, if it probed.
    pub probing: Option<Duration>,
}

/// Polls every future to completion concurrently on this worker; outputs in input order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Probes the given peers at once; a probe that fails or times out has no load.
pub async fn probe(w: &Worker, ids: &[PeerId]) -> Vec<ProbeResult> {
    let snapshot = w.peers();
    let probes = ids.iter().map(|&id| {
        let snapshot = &snapshot;
        async move {
            let load = match snapshot.get(id) {
                Some(peer) => probe_one(w, peer).await,
                None => None,
            };
            ProbeResult { id, load }
        }
    });
    join_all(probes.collect()).await
}

/// Refreshes every known peer's load and functions every `peers.refresh_interval` until shutdown.
/// Runs on one worker only.
pub async fn refresh(w: &Worker) {
    let interval = w.node.config.peers.refresh_interval;
    loop {
        let snapshot: std::sync::Arc<Snapshot> = w.peers();
        let all = snapshot
            .peers()
            .iter()
            .filter(|p| !p.is_removed() && !p.is_gossiping())
            .map(|p| probe_one(w, p));
        join_all(all.collect()).await;
        monoio::select! {
            () = monoio::time::sleep(interval) => {}
            () = w.node.shutdown.wait() => return,
        }
    }
}

/// `GET /monitoring/load` on `peer`: its load from the headers, and its id and functions from the JSON
/// body (an original node has no body: it is assumed to serve what this node serves, as every node of an
/// original cluster did).
async fn probe_one(w: &Worker, peer: &Peer) -> Option<PeerLoad> {
    let table = &w.node.peers;
    let mut out = Output::default();
    let req = ClientRequest {
        method: "GET",
        target: "/monitoring/load".into(),
        headers: Headers::default(),
        authorization: None,
        content_type: None,
        body: b"",
        extra: &[("User-Agent", b"Machine")],
    };
    let limits = codec::Limits {
        max_head_bytes: 16 * 1024,
        max_headers: codec::MAX_HEADERS,
        max_body_bytes: 1 << 20,
    };
    let started = Instant::now();
    let answer = monoio::time::timeout(
        w.node.config.peers.probe_timeout,
        w.pool.send(&peer.target, &req, &mut out, &limits),
    )
    .await;
    let rtt = started.elapsed();
    let load = match answer {
        Ok(Ok(())) if out.status == 200 => wire::load_from_headers(|n| out.header(n)),
        _ => None,
    };
    let Some(load) = load else {
        PeerTable::report_failure(&peer.live);
        return None;
    };
    // Identity first: a peer is listed as soon as its load is in, and must be usable by then.
    let body: serde_json::Value = serde_json::from_slice(&out.body).unwrap_or_default();
    let machine_id = body["machine_id"].as_str().unwrap_or(&peer.addr).to_owned();
    let functions: BTreeSet<String> = match body["functions"].as_array() {
        Some(list) => list
            .iter()
            .filter_map(|f| f["name"].as_str().map(str::to_owned))
            .collect(),
        None => w.functions().iter().map(|f| f.name().to_owned()).collect(),
    };
    table.report_identity(peer.id, &machine_id, functions);
    PeerTable::report_rtt(&peer.live, rtt);
    if let Some(group) = body["group_name"].as_str() {
        PeerTable::report_group(&peer.live, group);
    }
    if out.header(wire::header::PROTOCOL).is_some() {
        PeerTable::report_native(&peer.live);
    }
    table.report_load(&peer.live, load);
    Some(load)
}

/// A timing-list header of the answer (empty when absent or malformed).
/// The path and timings of a forwarded job from the answering peer to the executor, to which this node
/// prepends itself: the JSON lists as the native answer's headers carry them.
#[derive(Debug, Clone, Copy)]
struct Route<'a> {
    ids: Path<'a>,
    addrs: Path<'a>,
    total: Option<&'a [u8]>,
    scheduling: Option<&'a [u8]>,
    probing: Option<&'a [u8]>,
}

impl<'a> Route<'a> {
    /// Read from a native answer's headers, in place (a list that is not one counts as empty).
    fn of(found: &Answer<'a>) -> Self {
        let path = |list: Option<&'a [u8]>| list.and_then(Path::parse).unwrap_or(Path::EMPTY);
        Self {
            ids: path(found.ids),
            addrs: path(found.addrs),
            total: found.total,
            scheduling: found.scheduling,
            probing: found.probing,
        }
    }
}

/// The headers of a peer's answer that this node reads (the first of each name), found in one pass:
/// an answer carries a dozen `X-P2pfaas-…` headers, and looking each up would scan them a dozen times.
#[derive(Debug, Clone, Copy, Default)]
struct Answer<'a> {
    load: Option<&'a [u8]>,
    queue_length: Option<&'a [u8]>,
    maxload: Option<&'a [u8]>,
    protocol: Option<&'a [u8]>,
    reject_reason: Option<&'a [u8]>,
    executed: Option<&'a [u8]>,
    ids: Option<&'a [u8]>,
    addrs: Option<&'a [u8]>,
    total: Option<&'a [u8]>,
    scheduling: Option<&'a [u8]>,
    probing: Option<&'a [u8]>,
}

/// Why a native answer was not the job's: the peer's node-level refusal.
const REJECT_REASON: &str = "X-P2pfaas-Reject-Reason";

impl<'a> Answer<'a> {
    fn of(headers: &'a ReplyHeaders) -> Self {
        let mut found = Self::default();
        for (name, value) in headers.iter() {
            let slot = if is_own(name) {
                match found.own_slot(name) {
                    Some(slot) => slot,
                    None => continue,
                }
            } else if is_named(name, wire::header::QUEUE_LENGTH) {
                &mut found.queue_length
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        found
    }

    /// Where an `X-P2pfaas-…` header read here goes (compared by length first).
    fn own_slot(&mut self, name: &str) -> Option<&mut Option<&'a [u8]>> {
        let slots = [
            (wire::header::LOAD, &mut self.load),
            (wire::header::MAXLOAD, &mut self.maxload),
            (wire::header::PROTOCOL, &mut self.protocol),
            (REJECT_REASON, &mut self.reject_reason),
            (EXECUTED, &mut self.executed),
            (wire::header::PEERS_ID, &mut self.ids),
            (wire::header::PEERS_ADDR, &mut self.addrs),
            (header::TOTAL, &mut self.total),
            (header::SCHEDULING, &mut self.scheduling),
            (wire::header::PROBING, &mut self.probing),
        ];
        slots
            .into_iter()
            .find(|(known, _)| is_named(name, known))
            .map(|(_, slot)| slot)
    }
}

/// A JSON answer's route, written as the native lists.
#[derive(Debug, Default)]
struct Lists {
    ids: Vec<u8>,
    addrs: Vec<u8>,
    total: Vec<u8>,
    scheduling: Vec<u8>,
    probing: Vec<u8>,
}

impl Lists {
    fn route(&self) -> Route<'_> {
        Route {
            ids: Path::parse(&self.ids).unwrap_or(Path::EMPTY),
            addrs: Path::parse(&self.addrs).unwrap_or(Path::EMPTY),
            total: Some(&self.total),
            scheduling: Some(&self.scheduling),
            probing: Some(&self.probing),
        }
    }
}

/// Node-level refusals from a peer: the job never ran there, so it may run somewhere else.
fn is_refusal(reason: &[u8]) -> bool {
    !reason.starts_with(b"function_")
}

/// Statuses of a peer that is working but declined the job: full (429), its scheduler rejected it
/// (503), or the job's path loops through it (508).
fn is_capacity_status(status: u16) -> bool {
    matches!(status, 429 | 503 | 508)
}

/// The original's capacity reject (and ours under `compat.reject_status = 500`): status 500 with
/// error code 400 ("job cannot be scheduled") in the body.
fn is_originals_capacity_reject(answer: &JsonResponse, body: &[u8]) -> bool {
    answer.status_code == 500
        && serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|b| b["code"] == 400)
}

/// Why a forward did not produce the client's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardError {
    /// The peer answered that it would not take the job (a capacity or scheduling refusal): the
    /// cluster is busy, not broken.
    Refused(String),
    /// The peer is unknown, unreachable, unauthorised or answered garbage.
    Failed(String),
    /// The peer did not answer within the forward timeout (it may have run the job).
    TimedOut(String),
    /// The connection broke after the job was sent, or the peer's answer says the job may have run
    /// without answering it (a duplicate, a timeout further on): it may have run.
    Lost(String),
}

impl From<String> for ForwardError {
    fn from(detail: String) -> Self {
        Self::Failed(detail)
    }
}

/// Where a peer takes a job, before the function name.
const PEER_FUNCTION: &str = "/peer/function/";

/// Sends the job (`job_id`) to `peer` and, on an answer, writes the client's response into `resp`.
/// `Err` carries the reason when the peer did not answer it.
#[allow(
    clippy::too_many_arguments,
    reason = "the invocation's parts, borrowed"
)]
pub async fn forward(
    w: &Worker,
    inv: &Invocation<'_>,
    job_id: &str,
    function: &Function,
    id: PeerId,
    timing: Timing,
    resp: &mut Response,
    out: &mut Output,
) -> Result<(), ForwardError> {
    let snapshot = w.peers();
    let peer = snapshot
        .get(id)
        .ok_or_else(|| format!("peer {} is no longer known", id.0))?;
    let native = match w.node.config.peers.protocol {
        PeerProtocol::Native => true,
        PeerProtocol::Json => false,
        PeerProtocol::Auto => peer.speaks_native(),
    };
    let own = snapshot.own();
    let limit = w
        .node
        .config
        .peers
        .forward_timeout
        .min(inv.answer_by.saturating_duration_since(Instant::now()));
    let limits = codec::Limits {
        max_head_bytes: w.node.config.http.max_head_bytes,
        max_headers: codec::MAX_HEADERS,
        max_body_bytes: w.node.config.http.max_response_bytes,
    };
    out.reset();
    let sent = if native {
        // Everything borrowed or written into lent buffers: nothing allocated in steady state.
        let mut target = w.scratch();
        write_request_target(
            &mut target,
            PEER_FUNCTION,
            function.name(),
            inv.call.path,
            inv.call.query,
        );
        let target = std::str::from_utf8(&target).unwrap_or_default();
        let (mut ids, mut addrs) = (w.scratch(), w.scratch());
        inv.path_ids.append_into(own.json_id(), &mut ids);
        inv.path_addrs.append_into(own.json_addr(), &mut addrs);
        let (mut hops, mut task) = (itoa::Buffer::new(), itoa::Buffer::new());
        let signed = sign(w, target, inv.call.body);
        let mut extra = [("", &b""[..]); 10];
        extra[..7].copy_from_slice(&[
            (wire::header::PROTOCOL, wire::header::NATIVE.as_bytes()),
            (wire::header::METHOD, inv.call.method.as_bytes()),
            (wire::header::HOPS, hops.format(inv.hops + 1).as_bytes()),
            (wire::header::PEERS_ID, &ids),
            (wire::header::PEERS_ADDR, &addrs),
            (header::TASK_TYPE, task.format(inv.task_type).as_bytes()),
            (header::JOB_ID, job_id.as_bytes()),
        ]);
        let n = match &signed {
            Some(s) => {
                extra[7..].copy_from_slice(&signature_headers(s));
                10
            }
            None => 7,
        };
        let extra = &extra[..n];
        let req = ClientRequest {
            method: "POST",
            target: target.into(),
            headers: inv.call.headers,
            authorization: None,
            content_type: inv.call.content_type,
            body: inv.call.body,
            extra,
        };
        monoio::time::timeout(limit, w.pool.send(&peer.target, &req, out, &limits)).await
    } else {
        let body = json_request(inv, job_id, function, own);
        let target = format!("{PEER_FUNCTION}{}", function.name());
        let signed = sign(w, &target, &body);
        let mut extra: Vec<(&str, &[u8])> = vec![
            (wire::header::ACCEPTS, wire::header::NATIVE.as_bytes()),
            ("User-Agent", b"Machine"),
        ];
        add_signature(&mut extra, signed.as_ref());
        let req = ClientRequest {
            method: "POST",
            target: target.as_str().into(),
            headers: Headers::default(),
            authorization: None,
            content_type: Some(b"application/json"),
            body: &body,
            extra: &extra,
        };
        monoio::time::timeout(limit, w.pool.send(&peer.target, &req, out, &limits)).await
    };
    match sent {
        Err(_) => {
            return Err(ForwardError::TimedOut(format!(
                "peer {} did not answer within {limit:?}",
                peer.addr
            )));
        }
        Ok(Err(e)) => {
            PeerTable::report_failure(&peer.live);
            use crate::backend::reply::BackendError as E;
            return Err(match e {
                // No connection: the job was never sent.
                E::Unreachable(d) => ForwardError::Failed(format!("peer {}: {d}", peer.addr)),
                E::Failed(d) => ForwardError::Lost(format!("peer {}: {d}", peer.addr)),
                E::Timeout => ForwardError::TimedOut(format!("peer {}: timed out", peer.addr)),
            });
        }
        Ok(Ok(())) => {}
    }
    let found = Answer::of(&out.headers);
    if let Some(load) = wire::load_from_values(found.load, found.queue_length, found.maxload) {
        w.node.peers.report_load(&peer.live, load);
    }
    if found.protocol.is_some() {
        PeerTable::report_native(&peer.live);
    }
    let answer = if found.ids.is_some() || native {
        native_answer(out, &found, &peer.addr, resp).map(|()| None)
    } else {
        json_answer(out, &peer.addr, resp).map(Some)
    };
    let counter = if answer.is_ok() {
        PeerTable::count_forward(&peer.live);
        &w.metrics.forwarded
    } else {
        &w.metrics.forward_failed
    };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let lists = answer?;
    if lists.is_none() {
        std::mem::swap(&mut resp.body, &mut out.body);
    }
    let route = lists
        .as_ref()
        .map_or_else(|| Route::of(&found), Lists::route);
    write_route(w, resp, route, own, timing);
    inv.routed.set(true);
    Ok(())
}

/// Signs a POST of `body` to `target` with the cluster key, if one is configured.
pub(super) fn sign(w: &Worker, target: &str, body: &[u8]) -> Option<crate::auth::Signed> {
    // Without a key, no nonce and no clock read (every forward asks).
    if !w.node.auth.enabled() {
        return None;
    }
    let nonce = rand::RngCore::next_u64(&mut *w.rng.borrow_mut());
    w.node
        .auth
        .sign("POST", target, body, std::time::SystemTime::now(), nonce)
}

/// The signature headers of a signed request.
fn signature_headers(s: &crate::auth::Signed) -> [(&str, &[u8]); 3] {
    [
        (crate::auth::header::TIMESTAMP, s.timestamp.as_bytes()),
        (crate::auth::header::NONCE, s.nonce.as_bytes()),
        (crate::auth::header::SIGNATURE, s.signature.as_bytes()),
    ]
}

/// Adds the signature headers, if signed.
pub(super) fn add_signature<'a>(
    extra: &mut Vec<(&'a str, &'a [u8])>,
    signed: Option<&'a crate::auth::Signed>,
) {
    if let Some(s) = signed {
        extra.extend(signature_headers(s));
    }
}

/// The original's JSON body for `inv`.
fn json_request(inv: &Invocation<'_>, job_id: &str, function: &Function, own: &Own) -> Vec<u8> {
    let mut ids = inv.path_ids.to_strings();
    ids.push(own.id.clone());
    let mut addrs = inv.path_addrs.to_strings();
    addrs.push(own.addr.clone());
    let mut headers: std::collections::BTreeMap<String, String> = inv
        .call
        .headers
        .iter()
        .filter(|(n, _)| passes_through(n) && !n.eq_ignore_ascii_case("host"))
        .filter_map(|(n, v)| Some((n.to_owned(), std::str::from_utf8(v).ok()?.to_owned())))
        .collect();
    // What the native headers carry, under the same names, in a field of the original's own request
    // (it sent null there): an original node accepts the body as before.
    headers.insert(header::TASK_TYPE.to_owned(), inv.task_type.to_string());
    if let Some(deadline) = inv.deadline {
        headers.insert(
            header::DEADLINE_MS.to_owned(),
            (deadline.as_secs_f64() * 1e3).to_string(),
        );
    }
    let body = JsonRequest {
        service_id_request: 0,
        service_id_tracing: String::new(),
        function_name: function.name().to_owned(),
        hops: inv.hops + 1,
        peers_list: Some(
            ids.into_iter()
                .zip(addrs)
                .map(|(id, addr)| PathMember::new(id, addr, Timings::default()))
                .collect(),
        ),
        payload: wire::encode_body(inv.call.body),
        content_type: inv
            .call
            .content_type
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .unwrap_or_default(),
        headers: Some(headers),
        job_id: Some(job_id.to_owned()),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// A native answer: the function's status, headers and body as is, plus the path and timing lists.
/// A native answer: the function's status and headers as is (the caller takes its body), plus the
/// path and timing lists.
fn native_answer(
    out: &Output,
    found: &Answer<'_>,
    addr: &str,
    resp: &mut Response,
) -> Result<(), ForwardError> {
    if let Some(reason) = found.reject_reason
        && is_refusal(reason)
    {
        let detail = format!(
            "peer {addr} refused the job ({})",
            String::from_utf8_lossy(reason)
        );
        // An answer that is not the job's and says it may have run (a duplicate of a job that
        // ran, a timeout further on): the job must not run again.
        let executed = found.executed.map(Executed::parse);
        if executed.is_some_and(|e| e != Some(Executed::No)) {
            return Err(ForwardError::Lost(detail));
        }
        return Err(if is_capacity_status(out.status) {
            ForwardError::Refused(detail)
        } else {
            ForwardError::Failed(detail)
        });
    }
    resp.status = out.status;
    if !out.content_type.is_empty() {
        resp.header("Content-Type", &out.content_type);
    }
    for (name, value) in out.headers.iter() {
        let keep = if is_own(name) {
            [header::EXECUTION, header::QUEUE, REJECT_REASON]
                .iter()
                .any(|h| is_named(name, h))
        } else {
            passes_through(name)
        };
        if keep {
            resp.header(name, value);
        }
    }
    Ok(())
}

/// A JSON answer (the original's protocol): status and base64 body, path executor first.
fn json_answer(out: &Output, addr: &str, resp: &mut Response) -> Result<Lists, ForwardError> {
    let answer: JsonResponse = serde_json::from_slice(&out.body)
        .map_err(|e| format!("peer {addr} sent an unreadable answer: {e}"))?;
    let body = wire::decode_body(&answer.body).map_err(|e| format!("peer {addr}: {e}"))?;
    if is_capacity_status(answer.status_code) || is_originals_capacity_reject(&answer, &body) {
        return Err(ForwardError::Refused(format!(
            "peer {addr} refused the job ({})",
            answer.status_code
        )));
    }
    // The original answered status 0 when the function failed.
    resp.status = if answer.status_code == 0 {
        502
    } else {
        answer.status_code
    };
    if let Some(ct) = &answer.content_type {
        resp.header("Content-Type", ct.as_bytes());
    }
    resp.body = body;
    let members = answer.peers_list.iter().rev();
    let execution = answer
        .peers_list
        .first()
        .and_then(|m| m.timings.execution_time);
    if let Some(e) = execution {
        resp.header_fmt(header::EXECUTION, format_args!("{e:.6}"));
    }
    let numbers = |f: fn(&Timings) -> Option<f64>| {
        let all: Vec<f64> = members
            .clone()
            .map(|m| f(&m.timings).unwrap_or(0.0))
            .collect();
        serde_json::to_vec(&all).unwrap_or_default()
    };
    let mut lists = Lists {
        total: numbers(|t| t.total_time),
        scheduling: numbers(|t| t.scheduling_time),
        probing: numbers(|t| t.probing_time),
        ..Lists::default()
    };
    path::write_list(
        &mut lists.ids,
        members.clone().map(|m| m.machine_id.as_str()),
    );
    path::write_list(&mut lists.addrs, members.map(PathMember::addr));
    Ok(lists)
}

/// Prepends this node to the route and writes the forwarded-job headers of contract §1.5, in lent
/// buffers.
fn write_route(w: &Worker, resp: &mut Response, route: Route<'_>, own: &Own, t: Timing) {
    let mut list = w.scratch();
    resp.own_header(wire::header::EXTERNALLY_EXECUTED, b"True");
    let mut hops = itoa::Buffer::new();
    resp.own_header(wire::header::HOPS, hops.format(route.ids.len()).as_bytes());
    route.ids.prepend_into(own.json_id(), &mut list);
    resp.own_header(wire::header::PEERS_ID, &list);
    route
        .addrs
        .prepend_mapped(own.json_host(), wire::bare_host, &mut list);
    resp.own_header(wire::header::PEERS_IP, &list);
    route.addrs.prepend_into(own.json_addr(), &mut list);
    resp.own_header(wire::header::PEERS_ADDR, &list);
    // One entry per node in every list, origin first, 0.0 where a node reported none (a node that did
    // not probe writes no probing list): the original's client reads the lists column by column.
    let n = route.addrs.len();
    let secs = |d: Duration| d.as_secs_f64();
    path::prepend_number(&mut list, secs(t.arrived.elapsed()), route.total, n);
    resp.own_header(header::TOTAL, &list);
    let scheduling = secs(t.scheduled.saturating_duration_since(t.arrived));
    path::prepend_number(&mut list, scheduling, route.scheduling, n);
    resp.own_header(header::SCHEDULING, &list);
    path::prepend_number(&mut list, t.probing.map_or(0.0, secs), route.probing, n);
    resp.own_header(wire::header::PROBING, &list);
}

/// Path of the cancel route.
pub const CANCEL_PATH: &str = "/peer/cancel";

/// Asks `peer` to cancel job `job_id` (signed like every peer call), waiting at most the probe
/// timeout and never past `answer_by`: whether the job ran there, `Unknown` without a clear answer
/// (the cancel was lost, or the peer is an original node without the route).
pub async fn cancel(w: &Worker, peer: PeerId, job_id: &str, answer_by: Instant) -> Executed {
    let snapshot = w.peers();
    let Some(peer) = snapshot.get(peer) else {
        return Executed::Unknown;
    };
    let body = serde_json::json!({ "job_id": job_id }).to_string();
    let signed = sign(w, CANCEL_PATH, body.as_bytes());
    let mut extra: Vec<(&str, &[u8])> = Vec::new();
    add_signature(&mut extra, signed.as_ref());
    let req = ClientRequest {
        method: "POST",
        target: CANCEL_PATH.into(),
        headers: Headers::default(),
        authorization: None,
        content_type: Some(b"application/json"),
        body: body.as_bytes(),
        extra: &extra,
    };
    let limits = codec::Limits {
        max_head_bytes: 16 * 1024,
        max_headers: codec::MAX_HEADERS,
        max_body_bytes: 64 * 1024,
    };
    let limit = w
        .node
        .config
        .peers
        .probe_timeout
        .min(answer_by.saturating_duration_since(Instant::now()));
    let mut out = Output::default();
    let sent = monoio::time::timeout(limit, w.pool.send(&peer.target, &req, &mut out, &limits));
    match sent.await {
        Ok(Ok(())) if out.status == 200 => out
            .header(EXECUTED)
            .and_then(Executed::parse)
            .unwrap_or(Executed::Unknown),
        _ => Executed::Unknown,
    }
}
