//! Garbage, mutated and oversized input: `handle` never panics, rejects
//! what it cannot read, and a rejected message changes nothing.
//!
//! `cargo test -p p2pfaas-membership --test decode`

mod support;

use std::{sync::OnceLock, time::Duration};

use p2pfaas_membership::{Config, DecodeError, Identity, Membership};
use proptest::prelude::*;
use support::{Sim, converged};

/// Real messages from a converged 4-node cluster under load changes.
fn corpus() -> &'static [Vec<u8>] {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut sim: Sim = converged(4, 11);
        sim.record = true;
        for step in 0..400u32 {
            if step % 50 == 0 {
                for i in 0..4 {
                    sim.set_load(i, step);
                }
            }
            sim.step();
        }
        sim.recorded.into_iter().map(|(_, b)| b).collect()
    })
}

fn fresh() -> Membership {
    Membership::try_new(Identity::new("target", "127.0.0.1:1"), Config::default(), 5)
        .expect("valid")
}

/// Handles `bytes` and checks the "rejected means unchanged" contract.
fn check(bytes: &[u8]) {
    let mut m = fresh();
    let now = Duration::from_secs(3);
    match m.handle("127.0.0.1:9", bytes, now) {
        Ok(()) => {}
        Err(_) => {
            assert!(m.members().is_empty());
            assert!(m.poll_send().is_none());
            assert!(m.poll_event().is_none());
        }
    }
    // Still fully functional afterwards.
    m.tick(now + Duration::from_secs(1));
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes);
    }

    #[test]
    fn valid_header_then_garbage(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = b"PM\x01".to_vec();
        bytes.extend_from_slice(&tail);
        check(&bytes);
    }

    #[test]
    fn mutated_real_messages_never_panic(
        pick in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let corpus = corpus();
        let mut bytes = corpus[pick.index(corpus.len())].clone();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        check(&bytes);
    }
}

#[test]
fn every_real_message_decodes() {
    for bytes in corpus() {
        let mut m = fresh();
        m.handle("x", bytes, Duration::ZERO).expect("real message");
    }
}

#[test]
fn oversized_input_is_rejected_unread() {
    let mut m = fresh();
    let max = m.config().max_message_bytes;
    let big = vec![b'P'; max + 1];
    assert_eq!(
        m.handle("x", &big, Duration::ZERO),
        Err(DecodeError::TooLarge { len: max + 1, max })
    );
    assert!(m.poll_send().is_none());
}

#[test]
fn wrong_magic_and_version_are_named() {
    let mut m = fresh();
    assert_eq!(
        m.handle("x", b"XX\x01\x01", Duration::ZERO),
        Err(DecodeError::BadMagic)
    );
    assert_eq!(
        m.handle("x", b"PM\x09\x01", Duration::ZERO),
        Err(DecodeError::UnsupportedVersion(9))
    );
}
