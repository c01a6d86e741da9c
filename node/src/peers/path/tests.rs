use super::*;

#[test]
fn parses_only_arrays_of_strings() {
    for ok in [
        &b"[]"[..],
        b" [ ] ",
        b"[\"a\"]",
        b"[\"a\", \"b\" ]",
        b"[\"a\\\"b\",\"\\u00e9\"]",
    ] {
        assert!(Path::parse(ok).is_some(), "{}", String::from_utf8_lossy(ok));
    }
    for bad in [
        &b""[..],
        b"[",
        b"[\"a\",]",
        b"[1]",
        b"[\"a\" \"b\"]",
        b"[\"a\"]x",
        b"[\"\\x\"]",
        b"[\"a]",
        b"{}",
    ] {
        assert!(
            Path::parse(bad).is_none(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn agrees_with_serde_json() {
    let raw = br#"["p2pfaas-127.0.0.1:1", "b\"q", "c"]"#;
    let path = Path::parse(raw).expect("valid");
    let decoded: Vec<String> = serde_json::from_slice(raw).expect("json");
    assert_eq!(path.to_strings(), decoded);
    assert_eq!(path.len(), 3);
    assert!(path.contains("b\"q") && path.contains("c") && !path.contains("b"));
    assert!(Path::EMPTY.is_empty() && !Path::EMPTY.contains(""));
}

#[test]
fn appends_and_prepends_in_place() {
    let mut out = Vec::new();
    Path::EMPTY.append_into("a", &mut out);
    assert_eq!(out, br#"["a"]"#);
    let path = Path::parse(br#"["a","b"]"#).expect("valid");
    path.append_into("c\"", &mut out);
    let list: Vec<String> = serde_json::from_slice(&out).expect("json");
    assert_eq!(list, ["a", "b", "c\""]);
    path.prepend_into("o", &mut out);
    assert_eq!(out, br#"["o","a","b"]"#);
    write_list(&mut out, ["x", "y"]);
    assert_eq!(out, br#"["x","y"]"#);
}

#[test]
fn timing_lists_prepend_and_pad() {
    let mut out = Vec::new();
    prepend_number(&mut out, 0.5, Some(b"[0.25, 1e-6]"), 3);
    assert_eq!(out, b"[0.5,0.25,1e-6,0.0]");
    prepend_number(&mut out, 1.0, None, 1);
    assert_eq!(out, b"[1.0,0.0]");
    prepend_number(&mut out, 1.0, Some(b"garbage"), 0);
    assert_eq!(out, b"[1.0]");
}
