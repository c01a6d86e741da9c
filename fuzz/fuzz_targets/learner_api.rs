//! Fuzzes the learner API's body parsers: `/train_batch` entries and `/learner/parameters` changes.
//! Neither may panic; every rejection names where it failed (`[index].field`, or the parameter key), and
//! every accepted batch is well-formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p2pfaas_node::error::Error;
use p2pfaas_node::http::learner::parse_batch;
use p2pfaas_node::learning::{Parameters, WINDOW_CAPACITY};

fuzz_target!(|data: &[u8]| {
    match parse_batch(data) {
        Ok(entries) => {
            assert!(!entries.is_empty());
            for e in &entries {
                assert!(!e.state.is_empty());
                assert!(e.reward.is_finite());
                assert!(e.state.iter().all(|v| v.is_finite()));
            }
        }
        Err(Error::BadInput(message)) => assert!(!message.is_empty()),
        Err(other) => panic!("unexpected error kind: {other}"),
    }
    if let Ok(serde_json::Value::Object(patch)) = serde_json::from_slice(data) {
        let mut p = Parameters::default();
        match p.merge(&patch) {
            Ok(epsilon) => {
                // The current ε the original's `epsilon` key asks for is within [0, 1].
                assert!(
                    epsilon.is_none_or(|e| (0.0..=1.0).contains(&e)),
                    "{epsilon:?}"
                );
                if let Err(message) = p.validate(WINDOW_CAPACITY) {
                    assert!(message.contains(':'), "{message}");
                }
            }
            Err(message) => {
                // Keys may themselves contain ':', so match the prefix against each key.
                assert!(
                    patch.keys().any(|k| message.starts_with(&format!("{k}: "))),
                    "{message}"
                );
            }
        }
    }
});
