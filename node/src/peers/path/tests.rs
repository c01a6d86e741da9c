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
    assert_eq!(path.members().count(), 3);
    assert_eq!(Path::parse(b" [ ] ").map(|p| p.len()), Some(0));
    assert_eq!(Path::EMPTY.len(), 0);
    assert!(path.contains("b\"q") && path.contains("c") && !path.contains("b"));
    assert!(Path::EMPTY.is_empty() && !Path::EMPTY.contains(""));
}

#[test]
fn appends_and_prepends_in_place() {
    let mut out = Vec::new();
    Path::EMPTY.append_into(&Quoted::new("a"), &mut out);
    assert_eq!(out, br#"["a"]"#);
    let path = Path::parse(br#"["a","b"]"#).expect("valid");
    path.append_into(&Quoted::new("c\""), &mut out);
    let list: Vec<String> = serde_json::from_slice(&out).expect("json");
    assert_eq!(list, ["a", "b", "c\""]);
    path.prepend_into(&Quoted::new("o"), &mut out);
    assert_eq!(out, br#"["o","a","b"]"#);
    write_list(&mut out, ["x", "y"]);
    assert_eq!(out, br#"["x","y"]"#);
}

#[test]
fn quoted_members_are_written_as_serde_json_writes_them() {
    for s in [
        "",
        "a",
        "b\"q",
        "back\\slash",
        "tab\t",
        "\u{1}",
        "é",
        "\u{7f}",
    ] {
        assert_eq!(
            Quoted::new(s).as_bytes(),
            serde_json::to_vec(s).expect("json"),
            "{s:?}"
        );
    }
}

#[test]
fn mapped_lists_decode_escaped_members_only() {
    // As if each member were decoded, mapped and written with serde_json.
    fn first(s: &str) -> &str {
        s.split_once(':').map_or(s, |(h, _)| h)
    }
    let mut out = Vec::new();
    let raw = br#"[ "h1:80", "h\u0032:81" , "q\"x:82", "\u00e9:1", "plain"]"#;
    let path = Path::parse(raw).expect("valid");
    path.prepend_mapped(&Quoted::new("o"), first, &mut out);
    let mut expected = vec!["o".to_owned()];
    expected.extend(path.members().map(|m| first(&m).to_owned()));
    assert_eq!(out, serde_json::to_vec(&expected).expect("json"));
    assert_eq!(
        String::from_utf8_lossy(&out),
        r#"["o","h1","h2","q\"x","é","plain"]"#
    );
    Path::EMPTY.prepend_mapped(&Quoted::new("o"), first, &mut out);
    assert_eq!(out, br#"["o"]"#);
}

#[test]
fn members_match_with_or_without_escapes() {
    let path = Path::parse(br#"["a\u0062", "c", "d\"", "\u00e9"]"#).expect("valid");
    for (member, on) in [
        ("ab", true),
        ("a\\u0062", false),
        ("c", true),
        ("d\"", true),
        ("é", true),
        ("d", false),
    ] {
        assert_eq!(path.contains(member), on, "{member:?}");
    }
    assert_eq!(path.len(), 4);
    // Invalid UTF-8 anywhere is refused, inside a member or not.
    assert!(Path::parse(b"[\"\xff\"]").is_none());
    assert!(Path::parse(b"[\"a\"]\xff").is_none());
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
    // Copied whole or member by member, the same list.
    for (rest, list) in [
        (&b"[0.25,1e-6]"[..], &b"[1.0,0.25,1e-6]"[..]),
        (b"[0.25]", b"[1.0,0.25]"),
        (b"[]", b"[1.0]"),
        (b"[ ]", b"[1.0]"),
        (b"[1,,2]", b"[1.0,1,2]"),
        (b"[,1]", b"[1.0,1]"),
        (b"[1,]", b"[1.0,1]"),
        (b"[,]", b"[1.0]"),
        (b" [1 2, 3] ", b"[1.0,1 2,3]"),
        (b"[1,x]", b"[1.0]"),
    ] {
        prepend_number(&mut out, 1.0, Some(rest), 0);
        assert_eq!(out, list, "{}", String::from_utf8_lossy(rest));
    }
    prepend_number(&mut out, 1.0, Some(b"[2,3]"), 3);
    assert_eq!(out, b"[1.0,2,3,0.0]");
}
