//! Three nodes on three "hosts": network namespaces with their own IPs on one bridge. The cluster forms
//! from configured peers, forwards across hosts, drops a host whose link goes down and takes it back when
//! the link heals; the discovery API lists the right machines throughout. Needs root and iproute2; prints
//! `skipped: …` otherwise.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{Driver, Node, temp_dir, toml_strings};

/// A bridge in the test's namespace and one namespace per node, each with a veth port on the bridge.
struct Hosts {
    bridge: String,
    names: Vec<String>,
    ports: Vec<String>,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

impl Hosts {
    /// `count` namespaces with addresses `10.{net}.0.{2+i}/24` on bridge `p2pbr{tag}` (host: `.1`).
    fn create(tag: u32, net: u32, count: usize) -> Option<Self> {
        let hosts = Self {
            bridge: format!("p2pbr{tag}"),
            names: (0..count).map(|i| format!("p2pc{tag}n{i}")).collect(),
            ports: (0..count).map(|i| format!("p2pc{tag}h{i}")).collect(),
        };
        let ok = ip(&["link", "add", &hosts.bridge, "type", "bridge"])
            && ip(&[
                "addr",
                "add",
                &format!("10.{net}.0.1/24"),
                "dev",
                &hosts.bridge,
            ])
            && ip(&["link", "set", &hosts.bridge, "up"]);
        if !ok {
            return None;
        }
        for (i, (name, port)) in hosts.names.iter().zip(&hosts.ports).enumerate() {
            let inner = format!("p2pc{tag}i{i}");
            let addr = format!("10.{net}.0.{}/24", 2 + i);
            let ok = ip(&["netns", "add", name])
                && ip(&["link", "add", port, "type", "veth", "peer", "name", &inner])
                && ip(&["link", "set", &inner, "netns", name])
                && ip(&["link", "set", port, "master", &hosts.bridge])
                && ip(&["link", "set", port, "up"])
                && ip(&["-n", name, "addr", "add", &addr, "dev", &inner])
                && ip(&["-n", name, "link", "set", &inner, "up"])
                && ip(&["-n", name, "link", "set", "lo", "up"]);
            if !ok {
                return None;
            }
        }
        Some(hosts)
    }

    /// Cuts (`false`) or restores (`true`) host `i`'s link.
    fn link(&self, i: usize, up: bool) {
        assert!(ip(&[
            "link",
            "set",
            &self.ports[i],
            if up { "up" } else { "down" }
        ]));
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for (name, port) in self.names.iter().zip(&self.ports) {
            let _ = Command::new("ip").args(["link", "del", port]).status();
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}

fn usable() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
        && Command::new("ip").arg("-V").output().is_ok()
}

fn config(id: &str, own: &str, peers: &[String]) -> String {
    let peers = toml_strings(peers);
    format!(
        r#"
[node]
listen = "{own}"
workers = 1
[scheduler]
name = "ForwardScheduler"
parameters = ["1"]
[discovery]
machine_id = "{id}"
init_servers = [{peers}]
[peers]
refresh_interval_ms = 300
probe_timeout_ms = 300
forward_timeout_ms = 2000
[functions.echo]
backend = "builtin"
builtin = "echo"
"#
    )
}

/// Names listed by `node`'s `/discovery/list`.
fn listed(node: &Node) -> Vec<String> {
    let mut names: Vec<String> = node
        .get("/discovery/list")
        .json()
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Waits up to `limit` for `node` to list exactly `want`.
fn until_listed(node: &Node, want: &[&str], limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let now = listed(node);
        if now == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "listed {now:?}, want {want:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_cluster_across_namespaces_survives_a_partition() {
    if !usable() {
        eprintln!("skipped: needs root and iproute2 to give each node its own network namespace");
        return;
    }
    let tag = std::process::id() % 10_000;
    let net = 100 + tag % 100;
    let Some(hosts) = Hosts::create(tag, net, 3) else {
        eprintln!("skipped: could not create a bridge and network namespaces");
        return;
    };
    let addrs: Vec<String> = (0..3)
        .map(|i| format!("10.{net}.0.{}:18080", 2 + i))
        .collect();
    let ids = ["a", "b", "c"];
    let nodes: Vec<Node> = (0..3)
        .map(|i| {
            let peers: Vec<String> = (0..3)
                .filter(|j| *j != i)
                .map(|j| addrs[j].clone())
                .collect();
            Node::spawn_wrapped(
                temp_dir("netns"),
                &["ip", "netns", "exec", &hosts.names[i]],
                Some(Driver::Epoll),
                &config(ids[i], &addrs[i], &peers),
                &[],
            )
            .unwrap_or_else(|e| panic!("node {} did not start: {e}", ids[i]))
        })
        .collect();
    until_listed(&nodes[0], &["b", "c"], Duration::from_secs(10));
    until_listed(&nodes[2], &["a", "b"], Duration::from_secs(10));

    // Jobs cross hosts, and the path names the executor's own address.
    let r = nodes[0].call("POST", "/function/echo", &[], b"across");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "across");
    let path: Vec<String> = r
        .header("X-P2pfaas-Peers-List-Addr")
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    assert_eq!(path.len(), 2, "{:?}", r.headers);
    assert_eq!(path[0], addrs[0]);
    assert!(path[1] == addrs[1] || path[1] == addrs[2], "{path:?}");

    // Partition: c's link goes down. a and b drop it; every call still gets an answer meanwhile.
    hosts.link(2, false);
    let dropped = until_listed(&nodes[0], &["b"], Duration::from_secs(8));
    until_listed(&nodes[1], &["a"], Duration::from_secs(8));
    eprintln!("c dropped by a after {dropped:?}");
    for _ in 0..5 {
        let r = nodes[0].call("POST", "/function/echo", &[], b"x");
        assert_eq!(r.status, 200);
        let path = r
            .header("X-P2pfaas-Peers-List-Addr")
            .unwrap_or_default()
            .to_owned();
        assert!(
            !path.contains(&addrs[2]),
            "no job goes to the cut host: {path}"
        );
    }

    // Heal: c comes back everywhere.
    hosts.link(2, true);
    let back = until_listed(&nodes[0], &["b", "c"], Duration::from_secs(8));
    until_listed(&nodes[2], &["a", "b"], Duration::from_secs(8));
    eprintln!("c listed again by a after {back:?}");
    drop(nodes);
}
