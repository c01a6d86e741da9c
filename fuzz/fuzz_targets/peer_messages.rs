//! Fuzzes what peers send: the original's JSON forwarding request and response, the native protocol's path
//! lists and load headers, and SWIM membership messages (`/peer/gossip` bodies). Nothing may panic; a
//! membership message that is refused must leave the state machine usable.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use p2pfaas_membership::{Config, Identity, Membership};
use p2pfaas_node::peers::path::{Path, Quoted, write_list};
use p2pfaas_node::peers::wire::{self, JsonRequest, JsonResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<JsonRequest>(data) {
        let _ = wire::decode_body(&req.payload);
    }
    if let Ok(resp) = serde_json::from_slice::<JsonResponse>(data) {
        let _ = wire::decode_body(&resp.body);
    }
    // Where both read a list, the byte path the peer path keeps agrees with the decoded one, and a
    // written list and this node appended read back as expected.
    if let (Some(list), Some(path)) = (wire::parse_list(data), Path::parse(data)) {
        assert_eq!(path.to_strings(), list);
        assert!(list.iter().all(|m| path.contains(m)));
        let mut written = Vec::new();
        write_list(&mut written, list.iter().map(String::as_str));
        assert_eq!(wire::parse_list(&written), Some(list.clone()));
        let mut appended = Vec::new();
        path.append_into(&Quoted::new("fuzz"), &mut appended);
        let mut longer = list;
        longer.push("fuzz".to_owned());
        assert_eq!(wire::parse_list(&appended), Some(longer));
    }
    let _ = wire::load_from_headers(|_| Some(data));

    let Ok(mut m) = Membership::try_new(Identity::new("fuzz", "127.0.0.1:1"), Config::default(), 1)
    else {
        return;
    };
    let _ = m.handle("127.0.0.1:2", data, Duration::from_millis(10));
    m.tick(Duration::from_secs(1));
    while m.poll_send().is_some() {}
    while m.poll_event().is_some() {}
    let _ = m.members();
});
