//! The original discovery service's API (contract §3.1), served from the node's own peer table: under
//! `/discovery/…` on the main port.
//!
//! Differences, all on the side of safety: `/list` shows only peers this node has reached itself (the
//! original listed whatever a caller claimed in its headers); a caller's `User-Agent: Machine`
//! registration only adds its claimed address to be probed, and it appears once it answers; changes
//! (`POST /configuration`, `/reset`) are admin routes; the `P2pfaas-Machine-Name` header carries the name
//! (the original put the IP there).

use serde::Serialize;
use serde_json::Value;

use super::Request;
use super::admin::{json_object, require_admin, require_signed};
use super::invoke::VERSION;
use super::respond::Response;
use crate::config::check_peer_addr;
use crate::error::Error;
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

/// The original's machine object.
#[derive(Debug, Serialize)]
struct Machine<'a> {
    #[serde(rename = "_id")]
    id: u32,
    ip: &'a str,
    name: &'a str,
    group_name: &'a str,
    ping: f64,
    last_update: u64,
    alive: bool,
    dead_polls: u32,
}

/// Serves a discovery route.
pub fn handle(
    w: &Worker,
    req: &Request<'_>,
    route: DiscoveryRoute,
    resp: &mut Response,
) -> Result<(), Error> {
    let table = &w.node.peers;
    let (own_id, own_addr) = table.own();
    let group = &w.node.config.discovery.group_name;
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
                    .filter(|a| check_peer_addr(a).is_ok())
            {
                // Probed by the refresher; listed and used only once it answers.
                let _ = table.add(claimed);
            }
            resp.header("P2pfaas-Machine-Ip", own_addr.as_bytes());
            resp.header("P2pfaas-Machine-Name", own_id.as_bytes());
            resp.header("P2pfaas-Machine-Group-Name", group.as_bytes());
            let snapshot = w.peers();
            let start = table.unix_at_start();
            let mut machines: Vec<Machine<'_>> = snapshot
                .peers()
                .iter()
                .filter(|p| p.is_up() && p.has_answered() && !p.alias)
                .map(|p| Machine {
                    id: p.id.0 + 1,
                    ip: &p.addr,
                    name: p.machine_id.as_deref().unwrap_or(&p.addr),
                    group_name: "",
                    ping: 0.0,
                    last_update: start + p.reported_ms() / 1000,
                    alive: true,
                    dead_polls: p.failures(),
                })
                .collect();
            machines.sort_by(|a, b| a.name.cmp(b.name));
            resp.json(200, &machines);
        }
        DiscoveryRoute::GetConfiguration => resp.json(
            200,
            &serde_json::json!({
                "machine_ip": own_addr,
                "machine_id": own_id,
                "machine_group_name": group,
                "init_servers": w.node.config.discovery.init_servers,
            }),
        ),
        DiscoveryRoute::SetConfiguration => {
            require_admin(w, req)?;
            let mut servers = Vec::new();
            for (key, value) in json_object(req.body)? {
                match (key.as_str(), value) {
                    ("init_servers", Value::Array(list)) => {
                        for (i, v) in list.iter().enumerate() {
                            let addr = v.as_str().filter(|a| check_peer_addr(a).is_ok());
                            servers.push(addr.map(str::to_owned).ok_or_else(|| {
                                Error::BadInput(format!(
                                    "init_servers[{i}]: expected host:port, got {v}"
                                ))
                            })?);
                        }
                    }
                    ("machine_ip" | "machine_id" | "machine_group_name", _) => {
                        return Err(Error::BadInput(format!(
                            "{key}: set in the [discovery] section of the node's config file"
                        )));
                    }
                    (other, _) => {
                        return Err(Error::BadInput(format!("{other}: unknown field")));
                    }
                }
            }
            for s in &servers {
                let _ = table.add(s);
            }
            resp.json(200, &serde_json::json!({"added": servers}));
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
