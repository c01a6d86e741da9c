//! The run-time function registry: list, register, replace, delete while a call runs, restore after a
//! restart, and 400s naming the field for malformed registrations.

use std::time::{Duration, Instant};

use crate::harness::{BASE_CONFIG, Conn, Node, temp_dir};
use crate::nodetest;

fn names(list: &serde_json::Value) -> Vec<&str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["name"].as_str())
        .collect()
}

nodetest!(register_replace_delete_and_restore, |driver| {
    let node = Node::start_in(temp_dir("registry"), driver, BASE_CONFIG, &[]);
    let list = node.get("/system/functions").json();
    assert_eq!(names(&list), ["echo", "short", "sleep"]);
    assert_eq!(list[0]["backend"], "builtin");
    assert_eq!(list[0]["source"], "config");

    // Register and invoke.
    let r = node.post(
        "/system/functions",
        br#"{"name":"greet","backend":"builtin","builtin":"echo"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["source"], "api");
    assert_eq!(node.post("/function/greet", b"hi").text(), "hi");

    // Replace: the same name now sleeps 300 ms.
    let r = node.post(
        "/system/functions",
        br#"{"name":"greet","backend":"builtin","builtin":"sleep","mean_ms":300,"distribution":"fixed"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let t0 = Instant::now();
    assert_eq!(node.post("/function/greet", b"slow").status, 200);
    assert!(
        t0.elapsed() >= Duration::from_millis(280),
        "{:?}",
        t0.elapsed()
    );

    // Per-function body limit.
    let r = node.post(
        "/system/functions",
        br#"{"name":"tiny","backend":"builtin","builtin":"echo","max_body_bytes":100}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(node.post("/function/tiny", &[b'a'; 200]).status, 413);
    assert_eq!(node.post("/function/tiny", &[b'a'; 50]).status, 200);

    // Delete while a call is running: the call completes, the DELETE answers after it, new calls get 404.
    let addr = node.addr;
    let running = std::thread::spawn(move || {
        let mut c = Conn::open(addr);
        c.send("POST", "/function/sleep", &[], b"in flight");
        c.read_reply()
    });
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    let r = node.call("DELETE", "/system/functions/sleep", &[], b"");
    // The 1 s call had about 0.8 s left: the DELETE waits for it (its reply may reach its own client a
    // moment later, so compare with the execution time, not with client-side arrival).
    let waited = sent.elapsed();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["drained"], true);
    assert!(
        waited >= Duration::from_millis(500),
        "DELETE answered after {waited:?}, before the call finished"
    );
    let call = running.join().expect("client");
    assert_eq!(call.status, 200);
    assert_eq!(call.text(), "in flight");
    assert_eq!(node.post("/function/sleep", b"x").status, 404);
    assert_eq!(
        node.call("DELETE", "/system/functions/sleep", &[], b"")
            .status,
        404
    );

    // Restart: the registry is restored from the data directory.
    let dir = node.stop_keep_dir();
    let node = Node::start_in(dir, driver, BASE_CONFIG, &[]);
    let list = node.get("/system/functions").json();
    assert_eq!(names(&list), ["echo", "greet", "short", "tiny"]);
    assert_eq!(
        node.get("/system/functions/greet").json()["config"]["mean_ms"],
        300.0
    );
});

nodetest!(malformed_registrations_are_400_naming_the_field, |driver| {
    let node = Node::start(driver, BASE_CONFIG, &[]);
    let cases: [(&[u8], &str); 6] = [
        (
            br#"{"name":"x","backend":"builtin","builtin":"sleep"}"#,
            "functions.x.mean_ms",
        ),
        (
            br#"{"name":"x","backend":"builtin","builtin":"echo","colour":"red"}"#,
            "colour",
        ),
        (
            br#"{"name":"x","backend":"http","url":"ftp://h"}"#,
            "functions.x.url",
        ),
        (
            br#"{"name":"x","backend":"process"}"#,
            "functions.x.command",
        ),
        (
            br#"{"name":"a/b","backend":"builtin","builtin":"echo"}"#,
            "name",
        ),
        (
            br#"{"backend":"builtin","builtin":"echo"}"#,
            "name: required",
        ),
    ];
    for (body, field) in cases {
        let r = node.post("/system/functions", body);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(r.json()["code"], 4);
        let msg = r.json()["message"].as_str().unwrap_or_default().to_owned();
        assert!(msg.contains(field), "{msg} should name {field}");
    }
    assert_eq!(
        node.get("/system/functions")
            .json()
            .as_array()
            .map(Vec::len),
        Some(3)
    );
});
