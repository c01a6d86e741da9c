//! `POST /peer/function/<name>[/<path>]`: a job forwarded by a peer (contract §1.9), in the native
//! protocol or the original's JSON. The job is decided by this node's own scheduler (as in the original)
//! with its hop count and path, so MaxHops limits hold and a node already on the path is never chosen;
//! a job that reaches a node on its own path is refused as a loop (508).
//!
//! A job carries its id (`X-P2pfaas-Job-Id`, or the JSON body's `job_id`): a copy of an id already
//! received never runs (at most once), and `POST /peer/cancel` tells whether it ran and stops it if it
//! has not started.
//!
//! Every answer, errors included, states that this node speaks native and carries its load, so the
//! sender's cached view stays fresh without extra probes.

use std::cell::Cell;
use std::sync::Arc;

use super::Request;
use super::access::require_signed;
use super::invoke;
use super::job::{Invocation, header};
use super::respond::{self, Response};
use crate::backend::{Call, Headers, Output};
use crate::error::Error;
use crate::jobs;
use crate::peers::path::{self, Path};
use crate::peers::wire::{self, JsonRequest, JsonResponse, PathMember, Timings};
use crate::registry::Function;
use crate::worker::Worker;

/// Longest path a job may travel.
const MAX_PATH: usize = 64;

/// Serves a forwarded job. `function` is the one named in the path, if this node serves it.
pub async fn handle(
    w: &Worker,
    req: &Request<'_>,
    function: Option<Arc<Function>>,
    suffix: &str,
    resp: &mut Response,
    out: &mut Output,
) -> Result<(), Error> {
    let native = req
        .header(wire::header::PROTOCOL)
        .is_some_and(|v| v.starts_with(b"native"));
    // Before anything else, in both modes: an unsigned caller gets a plain 401 naming the reason, not
    // a JSON job answer and not this node's load.
    require_signed(w, req)?;
    write_identity(w, resp);
    w.metrics
        .peer_jobs
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if native {
        return native_job(w, req, function, suffix, resp, out).await;
    }
    let result = json_job(w, req, function, resp, out).await;
    if let Err(e) = &result {
        // An original node counts the original's status; a p2pfaas node in JSON mode reads both.
        respond::error(resp, e, w.node.config.compat.reject_status);
    }
    wrap_json(w, resp);
    Ok(())
}

/// This node's id, protocol and current load, on every peer answer.
fn write_identity(w: &Worker, resp: &mut Response) {
    let a = &w.node.admission;
    resp.own_header(wire::header::PROTOCOL, wire::header::NATIVE.as_bytes());
    resp.own_header(wire::header::MACHINE_ID, w.peers().own().id.as_bytes());
    resp.header_u64(wire::header::LOAD, a.running() as u64);
    resp.header_u64(wire::header::QUEUE_LENGTH, a.queued() as u64);
    resp.header_u64(wire::header::MAXLOAD, a.slots() as u64);
}

/// Refuses a path that already contains this node, or that is too long.
fn check_path(w: &Worker, ids: Path<'_>, addrs: Path<'_>) -> Result<(), Error> {
    let snapshot = w.peers();
    let own = snapshot.own();
    if ids.len() > MAX_PATH || ids.contains(&own.id) || addrs.contains(&own.addr) {
        return Err(Error::LoopDetected);
    }
    Ok(())
}

async fn native_job(
    w: &Worker,
    req: &Request<'_>,
    function: Option<Arc<Function>>,
    suffix: &str,
    resp: &mut Response,
    out: &mut Output,
) -> Result<(), Error> {
    let list = |name: &str| -> Result<Path<'_>, Error> {
        match req.header(name) {
            None => Ok(Path::EMPTY),
            Some(v) => Path::parse(v).ok_or_else(|| {
                Error::BadInput(format!("{name}: expected a JSON array of strings"))
            }),
        }
    };
    let (ids, addrs) = (
        list(wire::header::PEERS_ID)?,
        list(wire::header::PEERS_ADDR)?,
    );
    let hops = req
        .header(wire::header::HOPS)
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u32>().ok())
        .filter(|h| *h >= 1)
        .ok_or_else(|| {
            Error::BadInput(format!(
                "{}: expected a positive integer",
                wire::header::HOPS
            ))
        })?;
    check_path(w, ids, addrs)?;
    let function = function.ok_or(Error::UnknownFunction)?;
    let method = match req.header(wire::header::METHOD) {
        None => "POST",
        Some(m) => match m {
            b"GET" => "GET",
            b"POST" => "POST",
            b"PUT" => "PUT",
            b"PATCH" => "PATCH",
            b"DELETE" => "DELETE",
            _ => {
                return Err(Error::BadInput(format!(
                    "{}: expected GET, POST, PUT, PATCH or DELETE",
                    wire::header::METHOD
                )));
            }
        },
    };
    let inv = Invocation {
        call: Call {
            method,
            path: suffix,
            query: req.query(),
            content_type: req.header("content-type"),
            headers: Headers::new(req.head, req.head_buf),
            body: req.body,
            job_id: job_id(req.header(header::JOB_ID))?,
        },
        task_type: invoke::task_type(req.header(header::TASK_TYPE), w.node.task_types.len())?,
        // The client's deadline travels with the job; here it only rewards the double decision (the
        // origin's learner and metrics own the job's outcome).
        deadline: invoke::deadline(req.header(header::DEADLINE_MS), &function)?,
        hops,
        external: true,
        path_ids: ids,
        path_addrs: addrs,
        arrived: req.arrived,
        answer_by: req.deadline,
        routed: Cell::new(false),
    };
    invoke::execute(w, &inv, None, &function, resp, out).await?;
    if !inv.routed.get() {
        // Executed here: the path back starts (and ends) with this node.
        let snapshot = w.peers();
        let own = snapshot.own();
        let mut list = w.scratch();
        Path::EMPTY.append_into(own.json_id(), &mut list);
        resp.own_header(wire::header::PEERS_ID, &list);
        Path::EMPTY.append_into(own.json_addr(), &mut list);
        resp.own_header(wire::header::PEERS_ADDR, &list);
    }
    Ok(())
}

/// A job id from a peer, checked (see [`jobs::valid_id`]); absent from a peer that sends none.
fn job_id(raw: Option<&[u8]>) -> Result<Option<&str>, Error> {
    match raw {
        None => Ok(None),
        Some(id) if jobs::valid_id(id) => Ok(std::str::from_utf8(id).ok()),
        Some(_) => Err(Error::BadInput(format!(
            "{}: expected 1 to {} visible ASCII characters",
            header::JOB_ID,
            jobs::MAX_ID_LEN
        ))),
    }
}

/// `POST /peer/cancel` with `{"job_id": …}`: the origin gave up on a job it sent here. A job that has
/// not started never will; the answer (`X-P2pfaas-Executed` and the body) says whether it ran.
pub fn cancel(w: &Worker, req: &Request<'_>, resp: &mut Response) -> Result<(), Error> {
    require_signed(w, req)?;
    #[derive(serde::Deserialize)]
    struct Cancel {
        job_id: String,
    }
    let c: Cancel = serde_json::from_slice(req.body)
        .map_err(|e| Error::BadInput(format!("cancel: expected {{\"job_id\": \"…\"}}: {e}")))?;
    let id = job_id(Some(c.job_id.as_bytes()))?.unwrap_or_default();
    let executed = w.node.jobs.cancel(id);
    resp.header(respond::EXECUTED, executed.as_str().as_bytes());
    resp.json(
        200,
        &serde_json::json!({"job_id": id, "executed": executed.as_str()}),
    );
    Ok(())
}

async fn json_job(
    w: &Worker,
    req: &Request<'_>,
    function: Option<Arc<Function>>,
    resp: &mut Response,
    out: &mut Output,
) -> Result<(), Error> {
    let job: JsonRequest = serde_json::from_slice(req.body)
        .map_err(|e| Error::BadInput(format!("malformed peer request: {e}")))?;
    let body = wire::decode_body(&job.payload).map_err(Error::BadInput)?;
    let path = job.peers_list.unwrap_or_default();
    let (mut ids, mut addrs) = (Vec::new(), Vec::new());
    path::write_list(&mut ids, path.iter().map(|m| m.machine_id.as_str()));
    path::write_list(&mut addrs, path.iter().map(PathMember::addr));
    // Written just above as JSON arrays of strings.
    let (ids, addrs) = (
        Path::parse(&ids).unwrap_or(Path::EMPTY),
        Path::parse(&addrs).unwrap_or(Path::EMPTY),
    );
    check_path(w, ids, addrs)?;
    let function = function.ok_or(Error::UnknownFunction)?;
    // The job's task type and deadline travel in the body's `headers` (a field of the original's own
    // request, which it sent as null), parsed as the native headers are.
    let job_header = |name: &str| {
        job.headers
            .as_ref()
            .and_then(|h| h.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.as_bytes())
    };
    let content_type = (!job.content_type.is_empty()).then_some(job.content_type.as_bytes());
    let inv = Invocation {
        call: Call {
            method: "POST",
            path: "",
            query: None,
            content_type,
            headers: Headers::default(),
            body: &body,
            job_id: job_id(job.job_id.as_deref().map(str::as_bytes))?,
        },
        task_type: invoke::task_type(job_header(header::TASK_TYPE), w.node.task_types.len())?,
        // As in native mode: the double decision's features and reward.
        deadline: invoke::deadline(job_header(header::DEADLINE_MS), &function)?,
        // The original always sent 1; a missing value means one hop.
        hops: job.hops.max(1),
        external: true,
        path_ids: ids,
        path_addrs: addrs,
        arrived: req.arrived,
        answer_by: req.deadline,
        routed: Cell::new(false),
    };
    invoke::execute(w, &inv, None, &function, resp, out).await
}

/// Turns the response built for this job into the original's JSON answer: status, base64 body, and the
/// path with timings, executor first.
fn wrap_json(w: &Worker, resp: &mut Response) {
    let numbers = |name: &str| -> Vec<f64> {
        resp.header_value(name)
            .and_then(wire::parse_numbers)
            .unwrap_or_default()
    };
    let list = |name: &str| -> Vec<String> {
        resp.header_value(name)
            .and_then(wire::parse_list)
            .unwrap_or_default()
    };
    let (mut ids, mut addrs) = (list(wire::header::PEERS_ID), list(wire::header::PEERS_ADDR));
    if ids.is_empty() {
        let own = w.node.peers.own();
        ids.push(own.id.clone());
        addrs.push(own.addr.clone());
    }
    let (total, scheduling, probing) = (
        numbers(header::TOTAL),
        numbers(header::SCHEDULING),
        numbers(wire::header::PROBING),
    );
    let execution = resp
        .header_value(header::EXECUTION)
        .and_then(|v| std::str::from_utf8(v).ok()?.parse::<f64>().ok());
    let last = ids.len() - 1;
    let mut members: Vec<PathMember> = ids
        .into_iter()
        .zip(addrs)
        .enumerate()
        .map(|(i, (machine_id, addr))| {
            let timings = Timings {
                execution_time: (i == last).then_some(execution).flatten(),
                total_time: total.get(i).copied(),
                scheduling_time: scheduling.get(i).copied(),
                probing_time: probing.get(i).copied(),
            };
            PathMember::new(machine_id, addr, timings)
        })
        .collect();
    members.reverse();
    let content_type = resp
        .header_value("content-type")
        .map(|c| String::from_utf8_lossy(c).into_owned());
    let answer = JsonResponse {
        peers_list: members,
        body: wire::encode_body(&resp.body),
        status_code: resp.status,
        content_type,
    };
    let status = resp.status;
    resp.reset();
    write_identity(w, resp);
    resp.json(status, &answer);
}
