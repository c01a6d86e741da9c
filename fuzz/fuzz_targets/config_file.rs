//! Fuzzes the config pipeline: arbitrary TOML text is parsed and validated; it must never panic, and a
//! rejection must always name a field or the parse position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p2pfaas_node::config::{Config, ConfigError, Raw};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Raw::from_toml(text).and_then(Config::from_raw) {
        Ok(config) => {
            assert!(config.queue.slots >= 1);
            assert!(config.node.workers.get() >= 1);
        }
        Err(ConfigError::Field { field, .. }) => assert!(!field.is_empty()),
        Err(_) => {}
    }
});
