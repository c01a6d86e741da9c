//! `[discovery]`: who this node is to its peers (id, advertised address, group), where to find them
//! at start, and the membership timings; their validation, and the check of a peer's `host:port`.

use std::net::SocketAddr;

use super::raw::RawDiscovery;
use super::{ConfigError, field_err, millis, optional_addr, parse_http_url};

/// `[discovery]`.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    /// Also serve the original discovery service's paths on this address (the original's port 19000).
    pub listen: Option<SocketAddr>,
    /// This node's id (`machine_id`); default `p2pfaas-<advertise>`.
    pub machine_id: Option<String>,
    /// `host:port` peers use to reach this node; default the listen address (with `127.0.0.1` for an
    /// unspecified IP, and the bound port when listening on port 0).
    pub advertise: Option<String>,
    /// Peers to contact at start, `host:port` each (the original took bare IPs on a fixed port).
    pub init_servers: Vec<String>,
    /// The original's `machine_group_name`.
    pub group_name: String,
    /// Membership (SWIM) timings.
    pub membership: p2pfaas_membership::Config,
}

/// Validates `[discovery]`.
pub(super) fn validate(raw: RawDiscovery) -> Result<DiscoveryConfig, ConfigError> {
    if let Some(id) = &raw.machine_id
        && (id.is_empty()
            || id.len() > 128
            || id.bytes().any(|b| b.is_ascii_control() || b == b'"'))
    {
        return Err(field_err(
            "discovery.machine_id",
            "1-128 printable characters without quotes",
        ));
    }
    if let Some(a) = &raw.advertise {
        check_peer_addr(a).map_err(|e| field_err("discovery.advertise", e))?;
    }
    let init_servers = raw.init_servers.unwrap_or_default();
    for (i, s) in init_servers.iter().enumerate() {
        check_peer_addr(s).map_err(|e| field_err(format!("discovery.init_servers[{i}]"), e))?;
    }
    // Faster than the crate's defaults (1 s, 2 s): a dead node leaves every view within about 3 s on
    // real processes, for about 1.3 KB/s of gossip per node in a quiet 12-node cluster.
    let probe_period = millis(
        "discovery.probe_period_ms",
        raw.probe_period_ms.unwrap_or(500),
    )?;
    let membership = p2pfaas_membership::Config {
        probe_period,
        // An ack on loopback or a LAN comes back in well under a tenth of the period.
        probe_timeout: (probe_period / 2).min(std::time::Duration::from_millis(300)),
        suspicion_min: millis(
            "discovery.suspicion_min_ms",
            raw.suspicion_min_ms.unwrap_or(1500),
        )?,
        ..p2pfaas_membership::Config::default()
    };
    membership
        .validate()
        .map_err(|e| field_err("discovery", e.to_string()))?;
    Ok(DiscoveryConfig {
        membership,
        listen: optional_addr("discovery.listen", raw.listen.as_deref(), "0.0.0.0:19000")?,
        machine_id: raw.machine_id,
        advertise: raw.advertise,
        init_servers,
        group_name: raw.group_name.unwrap_or_default(),
    })
}

/// Checks a `host:port` peer address; the message says what is wrong.
pub fn check_peer_addr(addr: &str) -> Result<(), String> {
    match parse_http_url(&format!("http://{addr}")) {
        Ok(t) if t.base_path.is_empty() && addr.rsplit_once(':').is_some() => Ok(()),
        _ => Err(format!(
            "expected host:port such as 10.0.0.2:18080, got {addr:?}"
        )),
    }
}
