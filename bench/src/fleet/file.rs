//! The fleet file (`FLEET.toml`): the deployed nodes to run on and, optionally, the cluster key that
//! signs admin calls. Errors name the field (`node[2].address: …`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::sign::MIN_KEY_BYTES;

/// A parsed fleet file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// The cluster key file (the nodes' `auth.cluster_key_file`); relative paths are from the fleet
    /// file's directory. Without it admin calls go unsigned, which nodes with a key refuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_key_file: Option<PathBuf>,
    /// The nodes, in the order of the spec's per-node settings (`traffic.weights`).
    #[serde(rename = "node")]
    pub nodes: Vec<Node>,
}

/// One deployed node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// `host:port` of its main port (18080 by default).
    pub address: String,
    /// Its name in tables; default: its `machine_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Why a fleet file was refused.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// Reading a file.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, or an unknown or mistyped field (the message names it).
    #[error("{0}")]
    Parse(#[from] toml::de::Error),
    /// A field with a bad value.
    #[error("{field}: {message}")]
    Invalid {
        /// Which field.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl Fleet {
    /// Parses and checks a fleet file's text.
    pub fn parse(text: &str) -> Result<Self, FleetError> {
        let fleet: Self = toml::from_str(text)?;
        if fleet.nodes.is_empty() {
            return Err(invalid("node", "at least one [[node]]"));
        }
        for (i, n) in fleet.nodes.iter().enumerate() {
            if n.address
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err() || p == "0")
            {
                return Err(invalid(
                    format!("node[{i}].address"),
                    format!(
                        "expected host:port such as 192.0.2.10:18080, got {:?}",
                        n.address
                    ),
                ));
            }
            if n.name.as_deref().is_some_and(str::is_empty) {
                return Err(invalid(format!("node[{i}].name"), "empty"));
            }
            if let Some(j) = fleet.nodes[..i].iter().position(|m| m.address == n.address) {
                return Err(invalid(
                    format!("node[{i}].address"),
                    format!("{} is also node[{j}]", n.address),
                ));
            }
        }
        Ok(fleet)
    }

    /// Reads and parses `path`; a relative `cluster_key_file` becomes relative to its directory.
    pub fn read(path: &Path) -> Result<Self, FleetError> {
        let text = std::fs::read_to_string(path).map_err(|source| FleetError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut fleet = Self::parse(&text)?;
        if let (Some(key), Some(dir)) = (&fleet.cluster_key_file, path.parent())
            && key.is_relative()
        {
            fleet.cluster_key_file = Some(dir.join(key));
        }
        Ok(fleet)
    }

    /// The cluster key's bytes (trimmed, as the node reads it), if the file names one.
    pub fn key(&self) -> Result<Option<Vec<u8>>, FleetError> {
        let Some(path) = &self.cluster_key_file else {
            return Ok(None);
        };
        let bytes = std::fs::read(path).map_err(|source| FleetError::Read {
            path: path.clone(),
            source,
        })?;
        let key = bytes.trim_ascii().to_vec();
        if key.len() < MIN_KEY_BYTES {
            return Err(invalid(
                "cluster_key_file",
                format!(
                    "{} holds {} bytes; a cluster key has at least {MIN_KEY_BYTES}",
                    path.display(),
                    key.len()
                ),
            ));
        }
        Ok(Some(key))
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> FleetError {
    FleetError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let f = Fleet::parse(
            r#"
            cluster_key_file = "/etc/p2pfaas/cluster.key"
            [[node]]
            address = "192.0.2.10:18080"
            name = "pi-01"
            [[node]]
            address = "pi-02.local:18080"
            "#,
        )
        .expect("valid");
        assert_eq!(f.nodes.len(), 2);
        assert_eq!(f.nodes[0].name.as_deref(), Some("pi-01"));
        assert_eq!(f.nodes[1].name, None);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("", "missing field `node`"),
            ("node = []", "node: at least one"),
            (
                "[[node]]\naddress = \"10.0.0.1\"",
                "node[0].address: expected host:port",
            ),
            (
                "[[node]]\naddress = \"a:1\"\n[[node]]\naddress = \"a:1\"",
                "node[1].address: a:1 is also node[0]",
            ),
            (
                "[[node]]\naddress = \"a:1\"\nname = \"\"",
                "node[0].name: empty",
            ),
            (
                "[[node]]\naddress = \"a:1\"\nport = 3",
                "unknown field `port`",
            ),
        ];
        for (text, want) in cases {
            let err = Fleet::parse(text).expect_err(text).to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn short_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("fleet-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("short.key"), "too short\n").expect("write");
        std::fs::write(dir.join("good.key"), "0123456789abcdef-cluster\n").expect("write");
        std::fs::write(
            dir.join("fleet.toml"),
            "cluster_key_file = \"short.key\"\n[[node]]\naddress = \"a:1\"",
        )
        .expect("write");
        let f = Fleet::read(&dir.join("fleet.toml")).expect("relative path");
        let err = f.key().expect_err("short").to_string();
        assert!(err.starts_with("cluster_key_file:"), "{err}");
        let good = Fleet {
            cluster_key_file: Some(dir.join("good.key")),
            ..f
        };
        assert_eq!(
            good.key().expect("key").as_deref(),
            Some(&b"0123456789abcdef-cluster"[..])
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
