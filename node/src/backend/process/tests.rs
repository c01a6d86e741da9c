use std::time::{Duration, Instant};

use super::child::{self, Failure, Group, Job, keep_tail};
use super::*;
use crate::backend::Headers;

fn call<'a>(body: &'a [u8]) -> Call<'a> {
    Call {
        method: "POST",
        path: "",
        query: Some("a=1&b=2"),
        content_type: Some(b"application/json"),
        headers: Headers::default(),
        body,
        job_id: Some("n0/7"),
    }
}

fn get<'v>(vars: &'v [(String, Vec<u8>)], name: &str) -> Option<&'v [u8]> {
    vars.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
}

#[test]
fn header_names_follow_the_classic_watchdog() {
    assert_eq!(header_var("x-custom"), "Http_X_Custom");
    assert_eq!(header_var("X-CUSTOM-ID"), "Http_X_Custom_Id");
    assert_eq!(header_var("content-type"), "Http_Content_Type");
    assert_eq!(header_var("accept"), "Http_Accept");
}

#[test]
fn environment_has_metadata_headers_and_config() {
    let headers: [(&str, &[u8]); 6] = [
        ("X-Custom", b"one"),
        ("x-custom", b"second value ignored"),
        ("Connection", b"keep-alive"),
        ("Host", b"example"),
        ("Http-Method", b"forged"),
        ("Bad", b"nul\0inside"),
    ];
    let configured = vec![("GREETING".to_owned(), "hi".to_owned())];
    let vars = environment(&call(b"12345"), headers, &configured);
    assert_eq!(get(&vars, "Http_X_Custom"), Some(&b"one"[..]));
    assert_eq!(get(&vars, "Http_Method"), Some(&b"POST"[..]));
    assert_eq!(get(&vars, "Http_X_P2pfaas_Job_Id"), Some(&b"n0/7"[..]));
    assert_eq!(get(&vars, "Http_Path"), Some(&b"/"[..]));
    assert_eq!(get(&vars, "Http_Query"), Some(&b"a=1&b=2"[..]));
    assert_eq!(
        get(&vars, "Http_Content_Type"),
        Some(&b"application/json"[..])
    );
    assert_eq!(get(&vars, "Http_Content_Length"), Some(&b"5"[..]));
    assert_eq!(get(&vars, "GREETING"), Some(&b"hi"[..]));
    // Hop-by-hop, Host and values with NUL are not passed.
    assert_eq!(get(&vars, "Http_Connection"), None);
    assert_eq!(get(&vars, "Http_Host"), None);
    assert_eq!(get(&vars, "Http_Bad"), None);
    // Every name appears once.
    let mut names: Vec<_> = vars.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), vars.len());
}

#[test]
fn environment_without_query_or_type_omits_them() {
    let c = Call {
        path: "/sub/path",
        query: None,
        content_type: None,
        ..call(b"")
    };
    let vars = environment(&c, [], &[]);
    assert_eq!(get(&vars, "Http_Path"), Some(&b"/sub/path"[..]));
    assert_eq!(get(&vars, "Http_Query"), None);
    assert_eq!(get(&vars, "Http_Content_Type"), None);
}

#[test]
fn stderr_tail_keeps_the_end() {
    let mut tail = Vec::new();
    keep_tail(&mut tail, b"abcdef", 4);
    assert_eq!(tail, b"cdef");
    keep_tail(&mut tail, b"gh", 4);
    assert_eq!(tail, b"efgh");
    keep_tail(&mut tail, b"i", 4);
    assert_eq!(tail, b"fghi");
    let mut small = Vec::new();
    keep_tail(&mut small, b"ab", 4);
    assert_eq!(small, b"ab");
}

#[test]
fn failure_detail_names_the_status_and_stderr() {
    use std::os::unix::process::ExitStatusExt;
    let exited = std::process::ExitStatus::from_raw(3 << 8);
    assert_eq!(failure_detail(exited, b"oops\n"), "exit status 3: oops");
    assert_eq!(failure_detail(exited, b""), "exit status 3");
    let killed = std::process::ExitStatus::from_raw(9);
    assert_eq!(failure_detail(killed, b""), "killed by signal 9");
}

fn job(command: &[&str], body: &[u8]) -> Job {
    Job {
        config: Arc::new(ProcessConfig {
            command: command.iter().map(|s| (*s).to_owned()).collect(),
            env: Vec::new(),
            workdir: None,
        }),
        env: Vec::new(),
        body: body.to_vec(),
    }
}

#[test]
fn large_body_and_large_output_do_not_deadlock() {
    let body: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
    let done = child::run(&job(&["cat"], &body), &Group::default()).expect("cat runs");
    assert!(done.status.success());
    assert_eq!(done.stdout, body);
}

#[test]
fn output_over_the_limit_fails() {
    let cmd = ["sh", "-c", "head -c 17000000 /dev/zero"];
    let result = child::run(&job(&cmd, b""), &Group::default());
    assert!(matches!(result, Err(Failure::TooLarge)), "{result:?}");
}

#[test]
fn cancel_before_start_runs_nothing() {
    let group = Group::default();
    group.cancel();
    let result = child::run(&job(&["sleep", "30"], b""), &group);
    assert!(matches!(result, Err(Failure::Cancelled)), "{result:?}");
}

#[test]
fn cancel_kills_a_child_that_closed_stdout_and_reaps_it() {
    let group = Arc::new(Group::default());
    let canceller = {
        let group = Arc::clone(&group);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            group.cancel();
        })
    };
    let t0 = Instant::now();
    let cmd = ["sh", "-c", "exec >&- 2>&-; sleep 30 & sleep 30"];
    let done = child::run(&job(&cmd, b""), &group).expect("reaped");
    canceller.join().expect("canceller");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert!(!done.status.success());
    // A normal end afterwards is a no-op for the guard.
    group.cancel();
}

#[test]
fn missing_program_is_a_spawn_failure() {
    let result = child::run(
        &job(&["/nonexistent/p2pfaas-no-such-program"], b""),
        &Group::default(),
    );
    assert!(matches!(result, Err(Failure::Spawn(_))), "{result:?}");
}
