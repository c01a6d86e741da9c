//! Network namespaces of two bench processes running at once: each claims its own subnet and names
//! (root; `skipped:` otherwise).

use std::io::Read as _;
use std::net::{IpAddr, TcpListener};
use std::process::Command;
use std::time::Duration;

use p2pfaas_bench::experiment::cluster::Netns;

/// The slot both processes try first, as two processes whose ids pick the same one would.
const FIRST: &str = "P2PFAAS_TEST_NETNS_FIRST";

/// Whether every namespace of `netns` reaches the host at the bridge's address.
fn reaches_the_host(netns: &Netns, count: usize) -> Result<(), String> {
    let listener = TcpListener::bind((netns.bridge_ip(), 0)).map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    for i in 0..count {
        let send = format!("echo n{i} > /dev/tcp/{}/{port}", netns.bridge_ip());
        let status = Command::new("timeout")
            .args([
                "5",
                "ip",
                "netns",
                "exec",
                &netns.ns(i),
                "bash",
                "-c",
                &send,
            ])
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("{} cannot reach the host: {status}", netns.ns(i)));
        }
        let (mut conn, _) = listener.accept().map_err(|e| e.to_string())?;
        let mut got = String::new();
        conn.read_to_string(&mut got).map_err(|e| e.to_string())?;
        if got.trim() != format!("n{i}") {
            return Err(format!("the host got {got:?} for {}", netns.ns(i)));
        }
    }
    Ok(())
}

/// One of the two processes: namespaces from the slot in `$P2PFAAS_TEST_NETNS_FIRST`, held for a
/// second so that both processes' namespaces exist at once, then checked; prints its bridge address.
#[test]
#[ignore = "run by two_processes_get_disjoint_subnets_and_both_work, in two processes"]
fn netns_of_one_process() {
    let first = std::env::var(FIRST)
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("the first slot to try");
    let netns = Netns::create_from(2, first).expect("namespaces");
    std::thread::sleep(Duration::from_secs(1));
    reaches_the_host(&netns, 2).expect("working namespaces");
    println!("bridge {}", netns.bridge_ip());
}

#[test]
fn two_processes_get_disjoint_subnets_and_both_work() {
    if !p2pfaas_bench::chaos::fault::is_root() {
        eprintln!("skipped: network namespaces need root");
        return;
    }
    let me = std::env::current_exe().expect("this test binary");
    // Both started before either is waited for: their namespaces exist at once.
    let spawned: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&me)
                .args([
                    "--exact",
                    "netns_of_one_process",
                    "--ignored",
                    "--nocapture",
                ])
                .env(FIRST, "17")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut bridges: Vec<IpAddr> = Vec::new();
    for child in spawned {
        let out = child.wait_with_output().expect("wait");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bridge = text
            .lines()
            .find_map(|l| l.strip_prefix("bridge ")?.parse().ok())
            .expect("a bridge address");
        bridges.push(bridge);
    }
    assert_ne!(bridges[0], bridges[1], "one subnet for both");
}
