//! Fuzzes what peers send: the original's JSON forwarding request and response, the native protocol's path
//! lists and load headers, and SWIM membership messages (`/peer/gossip` bodies). Nothing may panic; a
//! membership message that is refused must leave the state machine usable.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use p2pfaas_membership::{Config, Identity, Membership};
use p2pfaas_node::peers::wire::{self, JsonRequest, JsonResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<JsonRequest>(data) {
        let _ = wire::decode_body(&req.payload);
    }
    if let Ok(resp) = serde_json::from_slice::<JsonResponse>(data) {
        let _ = wire::decode_body(&resp.body);
    }
    if let Some(list) = wire::parse_list(data) {
        assert_eq!(
            wire::parse_list(wire::format_list(&list).as_bytes()),
            Some(list)
        );
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
