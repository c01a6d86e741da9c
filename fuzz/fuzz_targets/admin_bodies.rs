//! Fuzzes the admin routes' body parsers: `POST /configuration`, `POST /configuration/scheduler` (then the
//! descriptor's parameters, as the node checks them) and `POST /system/functions` (then the function's config,
//! as the registry builds it). Nothing may panic; every refusal is a 400-kind error with a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p2pfaas_node::config;
use p2pfaas_node::error::Error;
use p2pfaas_node::http::admin::{parse_descriptor, parse_registration, parse_settings_patch};
use p2pfaas_node::scheduler;

fn refused_clearly(e: Error) {
    match e {
        Error::BadInput(message) => assert!(!message.is_empty()),
        other => panic!("unexpected error kind: {other}"),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Err(e) = parse_settings_patch(data) {
        refused_clearly(e);
    }
    match parse_descriptor(data) {
        Ok(desc) => {
            if let Err(e) = scheduler::parse(&desc, 8) {
                assert!(!e.to_string().is_empty());
            }
        }
        Err(e) => refused_clearly(e),
    }
    match parse_registration(data) {
        Ok((name, raw)) => {
            assert!(config::is_valid_function_name(&name), "{name:?}");
            if let Err(e) = config::function(&name, &raw, 1 << 20) {
                assert!(!e.to_string().is_empty());
            }
        }
        Err(e) => refused_clearly(e),
    }
});
