//! Before anything changes on a fleet: every node answers, says its version and its clock, serves the
//! spec's functions (the `work` function as the spec describes it), lists every other node of the fleet
//! as a live member and accepts our admin calls (an empty, signed change), and the fleet has the spec's
//! node count. Every failure names the node; all of them are reported at once. The nodes' settings
//! are untouched until the preflight passes; their settings and learned weights are read here, to be
//! put back after the run.

use std::time::Instant;

use serde_json::Value;

use super::client::{CallError, Client, unix_ms};
use super::file;
use super::settings::{self, Settings};
use crate::experiment::spec::Spec;

/// Clock offsets above this are warned about (timestamps in the nodes' logs and metrics stop lining up
/// with the client's; signatures still work, the client signs in the node's time).
pub const CLOCK_WARN_MS: i64 = 50;

/// What the preflight learnt about one node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its name (the fleet file's, else its `machine_id`).
    pub name: String,
    /// Its `machine_id`.
    pub machine_id: String,
    /// Its client, with the measured clock offset.
    pub client: Client,
    /// `version (commit)`.
    pub version: String,
    /// Node clock − client clock, ms, and the half round trip it is good to; `None` when the node
    /// does not report its clock.
    pub offset_ms: Option<(i64, i64)>,
    /// Settings before the run (restored after it).
    pub original: Settings,
    /// The learner's weight file before the run (put back after it).
    pub weights: Vec<u8>,
    /// `machine_id`s it lists in `/discovery/list`.
    pub members: Vec<String>,
    /// The functions it serves: name and the config it reports.
    pub functions: Vec<(String, Value)>,
}

/// The preflight's verdict.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every node, in fleet order.
    pub nodes: Vec<Node>,
    /// Problems that do not stop the run.
    pub warnings: Vec<String>,
}

/// One node's label before its `machine_id` is known: its name or its address.
pub fn label(node: &file::Node) -> String {
    match &node.name {
        Some(n) => format!("{n} ({})", node.address),
        None => node.address.clone(),
    }
}

/// Reads every node (in parallel) and checks the fleet against `spec` and the `functions` it needs.
pub fn run(
    spec: &Spec,
    fleet: &file::Fleet,
    clients: &[Client],
    functions: &[String],
) -> Result<Report, Vec<String>> {
    let pairs: Vec<(&file::Node, &Client)> = fleet.nodes.iter().zip(clients).collect();
    let reads = super::on_each(
        &pairs,
        |(n, c)| inspect(n, (*c).clone()),
        || Err("a node's check panicked".to_owned()),
    );
    let mut errors = Vec::new();
    let mut nodes = Vec::new();
    for r in reads {
        match r {
            Ok(n) => nodes.push(n),
            Err(e) => errors.push(e),
        }
    }
    if fleet.nodes.len() != spec.cluster.nodes {
        errors.push(format!(
            "the fleet has {} nodes and the spec's cluster.nodes is {}",
            fleet.nodes.len(),
            spec.cluster.nodes
        ));
    }
    let mut warnings = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if let Some(m) = nodes[..i].iter().find(|m| m.machine_id == n.machine_id) {
            errors.push(format!(
                "{}: machine_id {:?} is also {}'s",
                n.name, n.machine_id, m.name
            ));
        }
        let missing: Vec<&str> = nodes
            .iter()
            .filter(|m| m.machine_id != n.machine_id && !n.members.contains(&m.machine_id))
            .map(|m| m.name.as_str())
            .collect();
        if !missing.is_empty() {
            errors.push(format!(
                "{}: membership incomplete, /discovery/list lacks {}",
                n.name,
                missing.join(", ")
            ));
        }
        for f in functions {
            match n.functions.iter().find(|(name, _)| name == f) {
                None => errors.push(format!("{}: does not serve function {f:?}", n.name)),
                Some((_, config)) if f == "work" => {
                    check_work(spec, &n.name, config, &mut errors, &mut warnings);
                }
                Some(_) => {}
            }
        }
        match n.offset_ms {
            Some((offset, error)) if offset.abs() > CLOCK_WARN_MS => warnings.push(format!(
                "{}: clock off by {offset} ms (± {error} ms) from this machine's",
                n.name
            )),
            None => warnings.push(format!(
                "{}: does not report its clock (version {}); offset unknown",
                n.name, n.version
            )),
            Some(_) => {}
        }
        if nodes.first().is_some_and(|f| f.version != n.version) {
            warnings.push(format!(
                "{}: version {} differs from {}'s {}",
                n.name, n.version, nodes[0].name, nodes[0].version
            ));
        }
    }
    if errors.is_empty() {
        Ok(Report { nodes, warnings })
    } else {
        Err(errors)
    }
}

/// Reads one node; the error names it.
fn inspect(entry: &file::Node, mut client: Client) -> Result<Node, String> {
    let label = label(entry);
    let fail = |what: &str| {
        let label = label.clone();
        let what = what.to_owned();
        move |e: CallError| format!("{label}: {what}: {e}")
    };
    let sent = Instant::now();
    let before = unix_ms();
    let hello = client.get_json("/").map_err(fail("unreachable"))?;
    let rtt = i64::try_from(sent.elapsed().as_millis()).unwrap_or(i64::MAX);
    let offset_ms = hello
        .get("unix_ms")
        .and_then(Value::as_i64)
        .map(|t| (t - (before + rtt / 2), rtt / 2 + 1));
    client.offset_ms = offset_ms.map_or(0, |(o, _)| o);
    let version = format!(
        "{} ({})",
        hello.get("version").and_then(Value::as_str).unwrap_or("?"),
        hello
            .get("version_commit")
            .and_then(Value::as_str)
            .unwrap_or("?")
    );
    let config = client
        .get_json("/discovery/configuration")
        .map_err(fail("/discovery/configuration"))?;
    let machine_id = config
        .get("machine_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let name = entry.name.clone().unwrap_or_else(|| machine_id.clone());
    let members = client
        .get_json("/discovery/list")
        .map_err(fail("/discovery/list"))?
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.get("name")?.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let functions = client
        .get_json("/system/functions")
        .map_err(fail("/system/functions"))?
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| {
                    let name = f.get("name")?.as_str()?.to_owned();
                    Some((name, f.get("config").cloned().unwrap_or(Value::Null)))
                })
                .collect()
        })
        .unwrap_or_default();
    let original = settings::read(&client).map_err(fail("reading its settings"))?;
    // An empty change: the node checks the signature (or, without a key, that we are on loopback)
    // and keeps every setting, so a wrong or missing key shows up here, before anything changes.
    client
        .admin("POST", "/configuration", &serde_json::json!({}))
        .map_err(|e| match e {
            CallError::Status {
                status: 401 | 403, ..
            } => format!(
                "{label}: refuses our admin calls ({e}); the fleet file's cluster_key_file must \
                 hold the nodes' key"
            ),
            e => format!("{label}: admin API: {e}"),
        })?;
    let weights = settings::read_weights(&client).map_err(fail("reading its learner weights"))?;
    Ok(Node {
        name,
        machine_id,
        client,
        version,
        offset_ms,
        original,
        weights,
        members,
        functions,
    })
}

/// The node's `work` against `[function]`: a built-in with other figures would make every λ wrong.
fn check_work(
    spec: &Spec,
    node: &str,
    config: &Value,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let f = &spec.function;
    let text = |k: &str| config.get(k).and_then(Value::as_str);
    if text("backend") != Some("builtin") {
        warnings.push(format!(
            "{node}: work is a {} function; λ assumes function.mean_ms = {} ms",
            text("backend").unwrap_or("?"),
            f.mean_ms
        ));
        return;
    }
    if text("builtin") != Some(f.builtin.as_str()) {
        errors.push(format!(
            "{node}: work is the built-in {:?}, function.builtin is {:?}",
            text("builtin").unwrap_or("?"),
            f.builtin
        ));
    }
    let mean = config.get("mean_ms").and_then(Value::as_f64);
    if mean.is_none_or(|m| (m - f.mean_ms).abs() > 1e-9 * f.mean_ms) {
        errors.push(format!(
            "{node}: work has mean_ms {}, function.mean_ms is {}",
            mean.map_or_else(|| "unset".to_owned(), |m| m.to_string()),
            f.mean_ms
        ));
    }
    let distribution = text("distribution").unwrap_or("exponential");
    if distribution != f.distribution {
        errors.push(format!(
            "{node}: work has distribution {distribution:?}, function.distribution is {:?}",
            f.distribution
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_work_function_must_match_the_spec() {
        let spec = crate::fleet::tests::tiny_spec(20.0);
        let check = |config: Value| {
            let (mut errors, mut warnings) = (Vec::new(), Vec::new());
            check_work(&spec, "pi-01", &config, &mut errors, &mut warnings);
            (errors, warnings)
        };
        let same = serde_json::json!({"backend": "builtin", "builtin": "sleep", "mean_ms": 20});
        assert_eq!(check(same), (vec![], vec![]));
        let (errors, _) = check(serde_json::json!({
            "backend": "builtin", "builtin": "cpu-loop", "mean_ms": 40, "distribution": "fixed"
        }));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors.iter().all(|e| e.starts_with("pi-01: work ")),
            "{errors:?}"
        );
        assert!(errors[1].contains("function.mean_ms is 20"), "{errors:?}");
        let (errors, warnings) = check(serde_json::json!({"backend": "process"}));
        assert!(errors.is_empty());
        assert!(
            warnings[0].contains("work is a process function"),
            "{warnings:?}"
        );
    }
}
