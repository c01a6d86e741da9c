//! Admin routes without a cluster key: a caller on another host (a network namespace joined to this one by
//! a veth pair) may read but not change the node; loopback callers may. Needs root and `ip`; prints
//! `skipped: …` otherwise.

use std::process::Command;

use crate::harness::{BASE_CONFIG, Driver, Node};

/// A network namespace with one veth link to the test's namespace; removed on drop.
struct Netns {
    name: String,
    host_if: String,
}

impl Netns {
    fn create(tag: u32, host_ip: &str, ns_ip: &str) -> Option<Self> {
        let name = format!("p2pt{tag}");
        let host_if = format!("p2ph{tag}");
        let ns_if = format!("p2pn{tag}");
        let ns = Self {
            name: name.clone(),
            host_if: host_if.clone(),
        };
        let steps: [&[&str]; 7] = [
            &["netns", "add", &name],
            &[
                "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
            ],
            &["link", "set", &ns_if, "netns", &name],
            &["addr", "add", &format!("{host_ip}/30"), "dev", &host_if],
            &["link", "set", &host_if, "up"],
            &[
                "-n",
                &name,
                "addr",
                "add",
                &format!("{ns_ip}/30"),
                "dev",
                &ns_if,
            ],
            &["-n", &name, "link", "set", &ns_if, "up"],
        ];
        for args in steps {
            let ok = Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("ip {args:?} failed");
                return None;
            }
        }
        Some(ns)
    }

    /// Runs curl inside the namespace; returns the HTTP status.
    fn curl(&self, args: &[&str]) -> Option<u16> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.name,
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "5",
            ])
            .args(args)
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn usable() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let tools = ["ip", "curl"]
        .iter()
        .all(|t| Command::new(t).arg("-V").output().is_ok());
    root && tools
}

/// A web page of another origin open in a browser on the node's host reaches loopback too: its calls carry
/// an `Origin` that does not match `Host`, and are refused; tools (no `Origin`) and the node's own
/// dashboard (its own origin) are not.
#[test]
fn pages_of_another_origin_cannot_change_the_node() {
    let node = Node::start(Driver::Epoll, BASE_CONFIG, &[]);
    let body = br#"{"queue_length_max": 1}"#;
    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        let reply = node.call("POST", "/configuration", &[("Origin", origin)], body);
        assert_eq!(reply.status, 403, "Origin {origin}");
        assert!(reply.text().contains("another origin"), "{}", reply.text());
    }
    assert_eq!(node.get("/configuration").json()["queue_length_max"], 4);
    // The harness sends `Host: test`.
    let reply = node.call("POST", "/configuration", &[("Origin", "http://test")], body);
    assert_eq!(reply.status, 200, "the dashboard's own origin");
    assert_eq!(
        node.post("/configuration", body).status,
        200,
        "no Origin: a tool"
    );
}

#[test]
fn remote_callers_may_read_but_not_change_the_node() {
    if !usable() {
        eprintln!(
            "skipped: needs root, iproute2 and curl to put a client in its own network namespace"
        );
        return;
    }
    // A /30 private to this test run (10.215: the bench claims 10.213, the eBPF tests use 10.214);
    // nothing but the two ends of the veth pair lives there.
    let tag = std::process::id() % 50_000;
    let third = tag % 250;
    let (host_ip, ns_ip) = (format!("10.215.{third}.1"), format!("10.215.{third}.2"));
    let Some(ns) = Netns::create(tag, &host_ip, &ns_ip) else {
        eprintln!("skipped: could not create a network namespace with a veth pair");
        return;
    };
    let config = BASE_CONFIG.replace("listen = \"127.0.0.1:0\"", "listen = \"0.0.0.0:0\"");
    let node = Node::start(Driver::Epoll, &config, &[]);
    let base = format!("http://{host_ip}:{}", node.addr.port());

    assert_eq!(ns.curl(&[&format!("{base}/configuration")]), Some(200));
    assert_eq!(
        ns.curl(&[
            "-X",
            "POST",
            "--data",
            "hi",
            &format!("{base}/function/echo")
        ]),
        Some(200)
    );
    let forbidden: [&[&str]; 3] = [
        &[
            "-X",
            "POST",
            "--data",
            r#"{"queue_length_max": 1}"#,
            "/configuration",
        ],
        &[
            "-X",
            "POST",
            "--data",
            r#"{"name":"NoScheduler","parameters":["true"]}"#,
            "/configuration/scheduler",
        ],
        &["-X", "DELETE", "/system/functions/echo"],
    ];
    for args in forbidden {
        let (path, flags) = args.split_last().map_or(("", &[][..]), |(p, f)| (*p, f));
        let url = format!("{base}{path}");
        let mut all: Vec<&str> = flags.to_vec();
        all.push(&url);
        assert_eq!(
            ns.curl(&all),
            Some(403),
            "{args:?} from another host must be refused"
        );
    }
    // Nothing changed, and loopback callers still may change it.
    assert_eq!(node.get("/configuration").json()["queue_length_max"], 4);
    assert_eq!(
        node.post("/configuration", br#"{"queue_length_max": 1}"#)
            .status,
        200
    );
}
