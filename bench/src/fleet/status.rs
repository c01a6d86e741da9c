//! `p2pfaas-bench fleet status`: one table of the fleet now — per node its version, scheduler, K/Q,
//! running/queued jobs, peers seen alive, load source, CPU utilisation and learner ε — read from each
//! node's own routes (in parallel). Unreachable nodes get a row saying why and are listed for the exit.

use serde_json::Value;

use super::client::{CallError, Client};
use super::file::Fleet;
use super::metrics::{self, Scrape};
use super::preflight::label;

/// One node's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `name (address)`: the fleet file's name, else the node's `machine_id`, else the address alone.
    pub node: String,
    /// The cells after the name, or why the node did not answer.
    pub state: Result<[String; 8], String>,
}

/// The fleet now, one row per node in fleet order.
pub fn read(fleet: &Fleet, clients: &[Client]) -> Vec<Row> {
    super::on_each(clients, cells, || {
        Err(CallError::Bad("the reading thread panicked"))
    })
    .into_iter()
    .zip(&fleet.nodes)
    .map(|(state, n)| match state {
        Ok((machine_id, cells)) if n.name.is_none() && !machine_id.is_empty() => Row {
            node: format!("{machine_id} ({})", n.address),
            state: Ok(cells),
        },
        Ok((_, cells)) => Row {
            node: label(n),
            state: Ok(cells),
        },
        Err(e) => Row {
            node: label(n),
            state: Err(e.to_string()),
        },
    })
    .collect()
}

/// The node's `machine_id` and its cells.
fn cells(c: &Client) -> Result<(String, [String; 8]), CallError> {
    let hello = c.get_json("/")?;
    let machine_id = c
        .get_json("/discovery/configuration")?
        .get("machine_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let queue = c.get_json("/configuration")?;
    let m = Scrape::parse(&c.get_text("/metrics")?);
    let num = |v: &Value, k: &str| v.get(k).map_or_else(|| "?".to_owned(), Value::to_string);
    let gauge = |name: &str| {
        m.gauge(name)
            .map_or_else(|| "–".to_owned(), |v| format!("{v}"))
    };
    let q = if queue.get("queue_enabled") == Some(&Value::Bool(false)) {
        "0 (off)".to_owned()
    } else {
        num(&queue, "queue_length_max")
    };
    let cells = [
        hello
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned(),
        metrics::scheduler(&m),
        format!("{}/{q}", num(&queue, "parallel_running_functions_max")),
        format!(
            "{}/{}",
            gauge("p2pfaas_jobs_running"),
            gauge("p2pfaas_jobs_queued")
        ),
        format!("{}", m.sum("p2pfaas_peers", "state=\"up\"")),
        m.label("p2pfaas_load_source_info", "source")
            .unwrap_or_else(|| "?".to_owned()),
        m.gauge("p2pfaas_load_cpu_utilisation")
            .map_or_else(|| "–".to_owned(), |u| format!("{:.0}%", u * 100.0)),
        m.gauge("p2pfaas_learner_epsilon")
            .map_or_else(|| "–".to_owned(), |e| format!("{e:.3}")),
    ];
    Ok((machine_id, cells))
}

/// The rows as a markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| node | version | scheduler | K/Q | running/queued | peers alive | load | CPU | ε |\n\
         |---|---|---|---|---|--:|---|--:|--:|\n",
    );
    for r in rows {
        match &r.state {
            Ok(c) => out.push_str(&format!("| {} | {} |\n", r.node, c.join(" | "))),
            Err(e) => out.push_str(&format!(
                "| {} | unreachable: {} | | | | | | | |\n",
                r.node,
                e.replace('|', "/")
            )),
        }
    }
    out
}

/// Names of the nodes that did not answer.
pub fn unreachable(rows: &[Row]) -> Vec<&str> {
    rows.iter()
        .filter(|r| r.state.is_err())
        .map(|r| r.node.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_marks_unreachable_nodes() {
        let rows = [
            Row {
                node: "a".into(),
                state: Ok(std::array::from_fn(|i| i.to_string())),
            },
            Row {
                node: "b (10.0.0.2:18080)".into(),
                state: Err("connection refused".into()),
            },
        ];
        let t = table(&rows);
        assert!(t.contains("| a | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 |"), "{t}");
        assert!(
            t.contains("| b (10.0.0.2:18080) | unreachable: connection refused |"),
            "{t}"
        );
        assert_eq!(unreachable(&rows), ["b (10.0.0.2:18080)"]);
    }
}
