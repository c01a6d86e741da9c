//! The per-node view of a point: what each node was offered, what became of the requests called
//! there, and the work it ran for others — so a heterogeneous run shows where the jobs went.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::Row;
use crate::load::record::Record;

/// One node's figures in one point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeRow {
    /// Intended λ of the requests called at this node, per second.
    pub lambda: f64,
    /// Counted requests called at this node.
    pub sent: u64,
    /// Of those, answered with 2xx (wherever they ran).
    pub ok: u64,
    /// Of those, refused.
    pub rejected: u64,
    /// Of those, 2xx answers that ran on another node.
    pub forwarded_out: u64,
    /// 2xx answers this node ran for requests called at another node.
    pub forwarded_in: u64,
    /// All 2xx answers this node ran (its own and the forwarded ones).
    pub executed: u64,
    /// Share of the requests called here with a deadline that met it; `None` without deadlines.
    pub deadline_met: Option<f64>,
    /// Mean execution time of the jobs this node ran, ms (as the executor reports it).
    pub execution_ms: Option<f64>,
}

/// Counters behind a [`NodeRow`].
#[derive(Debug, Clone, Default)]
pub(super) struct NodeAcc {
    row: NodeRow,
    with_deadline: u64,
    met: u64,
    execution_ns: f64,
}

/// The executor of an answered request: the node index of its `n<i>` name (the runner's machine
/// ids), else the called node when the answer did not hop.
pub(super) fn executor(r: &Record) -> Option<usize> {
    r.executor
        .strip_prefix('n')
        .and_then(|i| i.parse().ok())
        .or_else(|| (r.hops.unwrap_or(0) == 0).then_some(usize::from(r.target)))
}

fn at(nodes: &mut Vec<NodeAcc>, i: usize) -> &mut NodeAcc {
    if nodes.len() <= i {
        nodes.resize_with(i + 1, NodeAcc::default);
    }
    &mut nodes[i]
}

/// Adds one counted request: `ok`/`rejected` its outcome, `met` its deadline judgement, `ran_on`
/// the node that ran it.
pub(super) fn add(
    nodes: &mut Vec<NodeAcc>,
    r: &Record,
    ok: bool,
    met: Option<bool>,
    ran_on: Option<usize>,
) {
    let origin = usize::from(r.target);
    let n = at(nodes, origin);
    n.row.sent += 1;
    if let Some(met) = met {
        n.with_deadline += 1;
        n.met += u64::from(met);
    }
    if ok {
        n.row.ok += 1;
        if r.hops.unwrap_or(0) > 0 {
            n.row.forwarded_out += 1;
        }
    } else if r.is_rejected() {
        n.row.rejected += 1;
    }
    if let (true, Some(e)) = (ok, ran_on) {
        let x = at(nodes, e);
        x.row.executed += 1;
        if e != origin {
            x.row.forwarded_in += 1;
        }
        if let Some(t) = r.execution {
            x.execution_ns += t.as_nanos() as f64;
        }
    }
}

/// The rows, one per node of `lambda` (and any further node seen).
pub(super) fn finish(mut nodes: Vec<NodeAcc>, lambda: &[f64]) -> Vec<NodeRow> {
    if nodes.len() < lambda.len() {
        nodes.resize_with(lambda.len(), NodeAcc::default);
    }
    nodes
        .into_iter()
        .enumerate()
        .map(|(i, n)| NodeRow {
            lambda: lambda.get(i).copied().unwrap_or(0.0),
            deadline_met: (n.with_deadline > 0).then(|| n.met as f64 / n.with_deadline as f64),
            execution_ms: (n.row.executed > 0)
                .then(|| n.execution_ns / n.row.executed as f64 / 1e6),
            ..n.row
        })
        .collect()
}

/// The per-node markdown table of every row with more than one node.
pub(super) fn markdown(rows: &[Row], out: &mut String) {
    if !rows.iter().any(|r| r.nodes.len() > 1) {
        return;
    }
    out.push_str(
        "\n## Per node\n\nλ offered and what became of the requests called at each node; \
         forwarded in and ran: 2xx answers the node ran; execution: its mean run time.\n\n\
         | scheduler | ρ | seed | node | λ/s | sent | ok | rejected | forwarded out | forwarded in | \
         ran | deadline met | execution ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let opt = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
    };
    for r in rows.iter().filter(|r| r.nodes.len() > 1) {
        for (i, n) in r.nodes.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | n{i} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.scheduler,
                r.rho,
                r.seed,
                n.lambda,
                n.sent,
                n.ok,
                n.rejected,
                n.forwarded_out,
                n.forwarded_in,
                n.executed,
                opt(n.deadline_met, 3),
                opt(n.execution_ms, 2),
            );
        }
    }
}
