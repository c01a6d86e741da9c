//! The original discovery service's run-time configuration, as its setup script uses it: the four fields
//! posted after boot apply without a restart and persist, the group name and a measured ping reach the
//! peers' `/discovery/list` (bare `ip` plus `port`), and a new id or address re-joins the membership.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::harness::{Node, toml_strings};
use crate::nodetest;

fn config(id: &str, peers: &[SocketAddr]) -> String {
    format!(
        r#"
[node]
listen = "127.0.0.1:0"
workers = 2
[scheduler]
name = "ForwardScheduler"
parameters = ["1"]
[discovery]
machine_id = "{id}"
init_servers = [{}]
[peers]
refresh_interval_ms = 200
[functions.echo]
backend = "builtin"
builtin = "echo"
"#,
        toml_strings(peers)
    )
}

/// Polls `node`'s `/discovery/list` until `ok` holds for it (10 s at most); returns the last list.
fn list_until(node: &Node, ok: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let list = node
            .get("/discovery/list")
            .json()
            .as_array()
            .cloned()
            .unwrap_or_default();
        if ok(&list) || Instant::now() > end {
            return list;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

nodetest!(the_originals_setup_body_applies_at_run_time, |driver| {
    let a = Node::start(driver, &config("a", &[]), &[]);
    let b = Node::start(driver, &config("b", &[a.addr]), &[]);
    let listed = list_until(&a, |l| l.len() == 1 && l[0]["name"] == "b");
    assert_eq!(listed.len(), 1, "{listed:?}");

    // configure_discovery.py's body for b: a bare IP (this node's port is implied), a new id, the
    // group, and the first host as the only seed (b's own address for the first host: ignored).
    let r = b.post(
        "/discovery/configuration",
        br#"{"machine_ip": "127.0.0.1", "machine_id": "rpic00n01",
             "machine_group_name": "cluster00", "init_servers": ["127.0.0.1"]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let conf = b.get("/discovery/configuration").json();
    assert_eq!(conf["machine_id"], "rpic00n01");
    assert_eq!(conf["machine_ip"], b.addr.to_string());
    assert_eq!(conf["machine_group_name"], "cluster00");
    assert_eq!(
        conf["init_servers"],
        serde_json::json!([b.addr.to_string()])
    );

    // a sees b under its new identity (the old one left), with its group, bare IP, port and a ping.
    let listed = list_until(&a, |l| {
        l.len() == 1
            && l[0]["name"] == "rpic00n01"
            && l[0]["group_name"] == "cluster00"
            && l[0]["ping"].as_f64().is_some_and(|p| p > 0.0)
    });
    assert_eq!(listed.len(), 1, "{listed:?}");
    let m = &listed[0];
    assert_eq!(m["name"], "rpic00n01", "{m}");
    assert_eq!(m["group_name"], "cluster00", "{m}");
    assert_eq!(m["ip"], "127.0.0.1", "{m}");
    assert_eq!(m["port"], b.addr.port(), "{m}");
    assert!(
        m["ping"].as_f64().is_some_and(|p| p > 0.0 && p < 1.0),
        "{m}"
    );
    let r = b.get("/discovery/list");
    assert_eq!(r.header("P2pfaas-Machine-Name"), Some("rpic00n01"));
    assert_eq!(r.header("P2pfaas-Machine-Group-Name"), Some("cluster00"));

    // Jobs reach b under its new id.
    let r = a.call("POST", "/function/echo", &[], b"hi");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("X-P2pfaas-Peers-List-Id"),
        Some(r#"["a","rpic00n01"]"#)
    );

    // An address change (the same listener under another name) re-joins too: a lists b once, there.
    let moved = format!("localhost:{}", b.addr.port());
    let r = b.post(
        "/discovery/configuration",
        format!(r#"{{"machine_ip": "{moved}"}}"#).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = list_until(&a, |l| l.len() == 1 && l[0]["ip"] == "localhost");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["name"], "rpic00n01");
    let r = a.call("POST", "/function/echo", &[], b"again");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("X-P2pfaas-Peers-List-Addr"),
        Some(format!(r#"["{}","{moved}"]"#, a.addr).as_str())
    );

    // Persisted atomically under the original's file name, and restored at start.
    let file =
        std::fs::read_to_string(b.dir.join("data/p2p_faas-discovery.json")).unwrap_or_default();
    let saved: serde_json::Value = serde_json::from_str(&file).unwrap_or_default();
    assert_eq!(saved["machine_id"], "rpic00n01", "{file}");
    assert_eq!(saved["machine_ip"], moved, "{file}");
    let dir = b.stop_keep_dir();
    let b = Node::start_in(dir, driver, &config("b", &[a.addr]), &[]);
    let conf = b.get("/discovery/configuration").json();
    assert_eq!(conf["machine_id"], "rpic00n01");
    assert_eq!(conf["machine_group_name"], "cluster00");

    // Bad values name the field; nothing changes.
    let r = b.post(
        "/discovery/configuration",
        br#"{"machine_id": "x", "machine_fog_net_id": 1}"#,
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("machine_fog_net_id"), "{}", r.text());
    let r = b.post(
        "/discovery/configuration",
        br#"{"init_servers": ["not an address!"]}"#,
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("init_servers[0]"), "{}", r.text());
    assert_eq!(
        b.get("/discovery/configuration").json()["machine_id"],
        "rpic00n01"
    );
});
