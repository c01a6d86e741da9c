//! `[[node]]`: per-node settings of a heterogeneous cluster. The i-th table configures node `n<i>`;
//! nodes without one, and keys a table leaves out, take the cluster's defaults. Every key is checked
//! here so an error names `node[i].key`.

use serde::{Deserialize, Serialize};

use super::{Network, SpecError};

/// One node's overrides of the cluster defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// K of this node (`cluster.slots` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<usize>,
    /// Q of this node (`cluster.queue_len` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_len: Option<usize>,
    /// Service-time divisor for `sleep` and `cpu-loop`: 0.5 takes twice as long (the node's
    /// `node.speed`; simulated, the service time is divided by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// This node's share of the traffic, replacing its entry of `traffic.weights`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Extra TOML appended to this node's config after `cluster.node_config` (it may not repeat a
    /// table that one has).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_config: String,
    /// `netns` only: the cgroup v2 `cpu.max` of this node's processes (`"50000 100000"`: half a CPU),
    /// so a CPU-bound function really runs slower.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_max: Option<String>,
}

const KEYS: [&str; 6] = [
    "slots",
    "queue_len",
    "speed",
    "weight",
    "node_config",
    "cpu_max",
];

fn bad(i: usize, key: &str, message: impl Into<String>) -> SpecError {
    SpecError::Node {
        field: format!("node[{i}].{key}"),
        message: message.into(),
    }
}

/// Checks the raw `[[node]]` tables of a spec on `network` (their count is the caller's check).
pub fn parse(tables: &[toml::Value], network: Network) -> Result<Vec<NodeSpec>, SpecError> {
    tables
        .iter()
        .enumerate()
        .map(|(i, t)| one(i, t, network))
        .collect()
}

fn one(i: usize, value: &toml::Value, network: Network) -> Result<NodeSpec, SpecError> {
    let table = value.as_table().ok_or_else(|| SpecError::Node {
        field: format!("node[{i}]"),
        message: "must be a table".into(),
    })?;
    let mut n = NodeSpec::default();
    for (key, v) in table {
        let count = |max: i64| match v.as_integer() {
            Some(x) if (0..=max).contains(&x) => Ok(x as usize),
            _ => Err(bad(
                i,
                key,
                format!("an integer from 0 to {max}, got {}", show(v)),
            )),
        };
        let number = || match v.as_float().or_else(|| v.as_integer().map(|x| x as f64)) {
            Some(x) if x.is_finite() => Ok(x),
            _ => Err(bad(i, key, format!("a number, got {}", show(v)))),
        };
        let text = || {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad(i, key, format!("a string, got {}", show(v))))
        };
        match key.as_str() {
            "slots" => match count(1 << 20)? {
                0 => return Err(bad(i, key, "must be ≥ 1")),
                k => n.slots = Some(k),
            },
            "queue_len" => n.queue_len = Some(count(1 << 20)?),
            "speed" => match number()? {
                s if (0.001..=1000.0).contains(&s) => n.speed = Some(s),
                s => return Err(bad(i, key, format!("from 0.001 to 1000, got {s}"))),
            },
            "weight" => match number()? {
                w if w >= 0.0 => n.weight = Some(w),
                w => return Err(bad(i, key, format!("must be ≥ 0, got {w}"))),
            },
            "node_config" => {
                let t = text()?;
                if let Err(e) = t.parse::<toml::Table>() {
                    return Err(bad(i, key, format!("not TOML: {}", e.message())));
                }
                n.node_config = t;
            }
            "cpu_max" => {
                if network != Network::Netns {
                    return Err(bad(i, key, "needs cluster.network = \"netns\""));
                }
                n.cpu_max = Some(cpu_max(&text()?).map_err(|m| bad(i, key, m))?);
            }
            _ => {
                return Err(bad(
                    i,
                    key,
                    format!("unknown key (expected one of {})", KEYS.join(", ")),
                ));
            }
        }
    }
    Ok(n)
}

/// A TOML value as an error message shows it.
fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(x) => x.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => format!("a {}", other.type_str()),
    }
}

/// A cgroup v2 `cpu.max` value: `"QUOTA PERIOD"` or `"max PERIOD"`, in µs.
fn cpu_max(v: &str) -> Result<String, String> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    let ok = match parts.as_slice() {
        [quota, period] => {
            let period = period.parse::<u64>().ok();
            let quota_ok = *quota == "max" || quota.parse::<u64>().is_ok_and(|q| q >= 1000);
            quota_ok && period.is_some_and(|p| (1000..=1_000_000).contains(&p))
        }
        _ => false,
    };
    if ok {
        Ok(parts.join(" "))
    } else {
        Err(format!(
            "\"QUOTA PERIOD\" in µs (quota ≥ 1000 or max, period 1000–1000000), got {v:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one(text: &str, network: Network) -> Result<NodeSpec, SpecError> {
        let v: toml::Table = text.parse().expect("toml");
        one(2, &toml::Value::Table(v), network)
    }

    #[test]
    fn keys_parse_and_errors_name_node_and_key() {
        let n = parse_one(
            "slots = 3\nqueue_len = 0\nspeed = 0.5\nweight = 2\nnode_config = \"[x]\\ny = 1\"\n\
             cpu_max = \"50000 100000\"\n",
            Network::Netns,
        )
        .expect("valid");
        assert_eq!(
            (n.slots, n.queue_len, n.speed, n.weight),
            (Some(3), Some(0), Some(0.5), Some(2.0))
        );
        assert_eq!(n.cpu_max.as_deref(), Some("50000 100000"));
        for (text, want) in [
            ("slotz = 3", "node[2].slotz: unknown key"),
            ("slots = 0", "node[2].slots: must be ≥ 1"),
            ("slots = \"4\"", "node[2].slots: an integer"),
            ("queue_len = -1", "node[2].queue_len: an integer"),
            ("speed = 0", "node[2].speed: from 0.001"),
            ("weight = -1", "node[2].weight: must be ≥ 0"),
            ("node_config = \"[x\"", "node[2].node_config: not TOML"),
            ("cpu_max = \"half\"", "node[2].cpu_max: \"QUOTA PERIOD\""),
        ] {
            let err = parse_one(text, Network::Netns).expect_err(text).to_string();
            assert!(err.starts_with(want), "{text}: {err}");
        }
        let err = parse_one("cpu_max = \"50000 100000\"", Network::Loopback)
            .expect_err("loopback")
            .to_string();
        assert!(err.starts_with("node[2].cpu_max: needs"), "{err}");
    }
}
