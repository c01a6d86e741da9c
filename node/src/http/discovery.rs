//! The original discovery service's API (contract §3.1), served from the node's own peer table: under
//! `/discovery/…` on the main port.
//!
//! Differences, all on the side of safety: `/list` shows only peers this node has reached itself (the
//! original listed whatever a caller claimed in its headers); a caller's `User-Agent: Machine`
//! registration only adds its claimed address to be probed, and it appears once it answers; changes
//! (`POST /configuration`, `/reset`) are admin routes; the `P2pfaas-Machine-Name` header carries the name
//! (the original put the IP there). `/list` gives each machine's bare `ip` as the original did, plus its
//! `port` (many nodes may share an IP); `ping` is the round trip of the last probe or gossip exchange.
//!
//! `POST /configuration` applies the original's four fields at run time and persists them atomically:
//! a bare IP (the original's form) means this node's own port, for `machine_ip` and `init_servers`
//! alike; a new id or address re-joins the membership under the new identity (`Node::set_discovery`).

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::Request;
use super::access::{require_admin, require_signed};
use super::change::{blocking, json_object};
use super::invoke::VERSION;
use super::respond::Response;
use crate::config::check_peer_addr;
use crate::error::Error;
use crate::node::DiscoveryChange;
use crate::peers::wire::bare_host;
use crate::worker::Worker;

/// The discovery routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryRoute {
    /// `GET /`.
    Hello,
    /// `GET /list`.
    List,
    /// `GET /configuration`.
    GetConfiguration,
    /// `POST /configuration`.
    SetConfiguration,
    /// `GET /reset`.
    Reset,
}

/// The original's machine object, plus `port`.
#[derive(Debug, Serialize)]
struct Machine<'a> {
    #[serde(rename = "_id")]
    id: u32,
    ip: &'a str,
    port: Option<u16>,
    name: &'a str,
    group_name: String,
    ping: f64,
    last_update: u64,
    alive: bool,
    dead_polls: u32,
}

/// `host:port`, or a bare host (the original's form) on `port`; `None` when neither.
fn with_port(text: &str, port: &str) -> Option<String> {
    let addr = match text.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        Ok(std::net::IpAddr::V4(ip)) => format!("{ip}:{port}"),
        Err(_) if check_peer_addr(text).is_ok() => text.to_owned(),
        Err(_) => format!("{text}:{port}"),
    };
    check_peer_addr(&addr).is_ok().then_some(addr)
}

/// Parses a `POST /configuration` body; unknown keys and bad values name the field.
fn parse_change(body: &[u8], own_port: &str) -> Result<DiscoveryChange, Error> {
    let mut change = DiscoveryChange::default();
    let address = |field: String, v: &Value| -> Result<String, Error> {
        v.as_str()
            .and_then(|a| with_port(a, own_port))
            .ok_or_else(|| {
                Error::BadInput(format!(
                    "{field}: expected an IP or host:port such as 10.0.0.2:18080, got {v}"
                ))
            })
    };
    for (key, value) in json_object(body)? {
        match (key.as_str(), &value) {
            ("init_servers", Value::Array(list)) => {
                let servers = list
                    .iter()
                    .enumerate()
                    .map(|(i, v)| address(format!("init_servers[{i}]"), v))
                    .collect::<Result<Vec<_>, _>>()?;
                change.init_servers = Some(servers);
            }
            ("machine_ip", v) => change.machine_ip = Some(address(key.clone(), v)?),
            ("machine_id", Value::String(id)) => change.machine_id = Some(id.clone()),
            ("machine_group_name", Value::String(g)) => {
                change.machine_group_name = Some(g.clone());
            }
            ("init_servers" | "machine_id" | "machine_group_name", v) => {
                let want = if key == "init_servers" {
                    "a list of addresses"
                } else {
                    "a string"
                };
                return Err(Error::BadInput(format!("{key}: expected {want}, got {v}")));
            }
            (other, _) => {
                return Err(Error::BadInput(format!("{other}: unknown field")));
            }
        }
    }
    Ok(change)
}

/// Serves a discovery route.
pub async fn handle(
    w: &Worker,
    req: &Request<'_>,
    route: DiscoveryRoute,
    resp: &mut Response,
) -> Result<(), Error> {
    let table = &w.node.peers;
    let own = table.own();
    let (own_id, own_addr) = (&own.id, &own.addr);
    let own_port = own_addr
        .rsplit_once(':')
        .map_or("18080", |(_, p)| p)
        .to_owned();
    match route {
        DiscoveryRoute::Hello => {
            resp.header("Content-Type", b"text/plain; charset=utf-8");
            resp.body.extend_from_slice(
                format!("Welcome to the p2p-fog discovery service (p2pfaas-node {VERSION})!")
                    .as_bytes(),
            );
        }
        DiscoveryRoute::List => {
            if req
                .header("user-agent")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"Machine"))
                && (!w.node.auth.enabled() || require_signed(w, req).is_ok())
                && let Some(claimed) = req
                    .header("p2pfaas-machine-ip")
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|a| with_port(a, &own_port))
            {
                // Probed by the refresher; listed and used only once it answers.
                let _ = table.add(&claimed);
            }
            resp.header("P2pfaas-Machine-Ip", bare_host(own_addr).as_bytes());
            resp.header("P2pfaas-Machine-Name", own_id.as_bytes());
            resp.header("P2pfaas-Machine-Group-Name", w.node.group().as_bytes());
            let snapshot = w.peers();
            let start = table.unix_at_start();
            let mut machines: Vec<Machine<'_>> = snapshot
                .peers()
                .iter()
                .filter(|p| p.is_up() && p.has_answered() && !p.alias)
                .map(|p| Machine {
                    id: p.id.0 + 1,
                    ip: bare_host(&p.addr),
                    port: p
                        .addr
                        .rsplit_once(':')
                        .and_then(|(_, port)| port.parse().ok()),
                    name: p.machine_id.as_deref().unwrap_or(&p.addr),
                    group_name: p.group(),
                    ping: p.rtt().map_or(0.0, |d| d.as_secs_f64()),
                    last_update: start + p.reported_ms() / 1000,
                    alive: true,
                    dead_polls: p.failures(),
                })
                .collect();
            machines.sort_by(|a, b| a.name.cmp(b.name));
            resp.json(200, &machines);
        }
        DiscoveryRoute::GetConfiguration => resp.json(200, &w.node.discovery_settings()),
        DiscoveryRoute::SetConfiguration => {
            require_admin(w, req)?;
            let change = parse_change(req.body, &own_port)?;
            let node = Arc::clone(&w.node);
            let applied = blocking(move || node.set_discovery(change)).await?;
            tracing::info!(?applied, "discovery configuration changed");
            resp.json(200, &applied);
        }
        DiscoveryRoute::Reset => {
            require_admin(w, req)?;
            table.remove_all();
            resp.json(200, &serde_json::json!({"reset": true}));
        }
    }
    Ok(())
}

/// `/discovery/<rest>`.
pub fn route(method: &str, rest: &str) -> Result<DiscoveryRoute, Error> {
    let get = |r| {
        if method == "GET" {
            Ok(r)
        } else {
            Err(Error::MethodNotAllowed { allow: "GET" })
        }
    };
    match rest {
        "" => get(DiscoveryRoute::Hello),
        "list" => get(DiscoveryRoute::List),
        "reset" => get(DiscoveryRoute::Reset),
        "configuration" => match method {
            "GET" => Ok(DiscoveryRoute::GetConfiguration),
            "POST" => Ok(DiscoveryRoute::SetConfiguration),
            _ => Err(Error::MethodNotAllowed { allow: "GET, POST" }),
        },
        _ => Err(Error::NoRoute),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_originals_body_parses_with_bare_ips_on_this_port() {
        let body = br#"{"machine_ip": "192.0.2.1", "machine_id": "rpic00n00",
            "machine_group_name": "cluster00", "init_servers": ["192.0.2.9", "192.0.2.8:19000"]}"#;
        let c = parse_change(body, "18080").unwrap_or_default();
        assert_eq!(c.machine_ip.as_deref(), Some("192.0.2.1:18080"));
        assert_eq!(c.machine_id.as_deref(), Some("rpic00n00"));
        assert_eq!(c.machine_group_name.as_deref(), Some("cluster00"));
        assert_eq!(
            c.init_servers,
            Some(vec![
                "192.0.2.9:18080".to_owned(),
                "192.0.2.8:19000".to_owned()
            ])
        );
        assert_eq!(
            with_port("2001:db8::1", "80").as_deref(),
            Some("[2001:db8::1]:80")
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let err = |body: &[u8]| match parse_change(body, "1") {
            Err(Error::BadInput(m)) => m,
            other => format!("{other:?}"),
        };
        assert!(err(br#"{"init_servers": ["a b"]}"#).starts_with("init_servers[0]:"));
        assert!(err(br#"{"machine_id": 3}"#).starts_with("machine_id:"));
        assert!(err(br#"{"machine_fog_net_id": "x"}"#).starts_with("machine_fog_net_id: unknown"));
        assert!(err(br#"{"machine_ip": "not an ip!"}"#).starts_with("machine_ip:"));
    }
}
