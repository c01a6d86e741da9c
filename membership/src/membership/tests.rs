//! Scripted unit tests of the core: one or two instances, hand-fed messages.

use std::time::Duration;

use super::*;
use crate::message::{Message, Update};

fn node(id: &str, port: u16) -> Membership {
    Membership::try_new(
        Identity::new(id, format!("127.0.0.1:{port}")),
        Config::default(),
        7,
    )
    .expect("valid config")
}

fn msg_from(sender: &Identity, incarnation: u32, body: Body, updates: Vec<Update>) -> Vec<u8> {
    let m = Message {
        sender: sender.clone(),
        to: None,
        incarnation,
        load_version: 1,
        load: Load::default(),
        body,
        updates,
        loads: Vec::new(),
    };
    let mut out = Vec::new();
    codec::encode(&m, &mut out);
    out
}

fn drain_events(m: &mut Membership) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

#[test]
fn ping_is_acked_to_the_advertised_address() {
    let mut a = node("a", 1);
    let b = Identity::new("b", "127.0.0.1:2");
    let bytes = msg_from(&b, 0, Body::Ping { seq: 5 }, vec![]);
    a.handle("10.9.9.9:5555", &bytes, Duration::ZERO)
        .expect("valid");
    let out = a.poll_send().expect("ack");
    assert_eq!(out.to, "127.0.0.1:2");
    let ack = codec::decode(&out.bytes).expect("decodes");
    assert_eq!(ack.body, Body::Ack { seq: 5 });
    assert_eq!(drain_events(&mut a), vec![Event::Up(b)]);
}

#[test]
fn suspicion_about_self_is_refuted_with_a_higher_incarnation() {
    let mut a = node("a", 1);
    let b = Identity::new("b", "127.0.0.1:2");
    let claim = Update {
        identity: a.identity.clone(),
        incarnation: 0,
        state: State::Suspect,
    };
    let bytes = msg_from(&b, 0, Body::Gossip, vec![claim]);
    a.handle("x", &bytes, Duration::ZERO).expect("valid");
    assert_eq!(a.local().incarnation, 1);
    assert!(drain_events(&mut a).contains(&Event::Refuted { incarnation: 1 }));
    // The refutation goes straight back to the accuser.
    let reply = a.poll_send().expect("reply");
    assert_eq!(reply.to, "127.0.0.1:2");
    assert_eq!(codec::decode(&reply.bytes).expect("decodes").incarnation, 1);
}

#[test]
fn dead_member_is_not_resurrected_by_stale_alive() {
    let mut a = node("a", 1);
    let b = Identity::new("b", "127.0.0.1:2");
    let c = Identity::new("c", "127.0.0.1:3");
    let dead = Update {
        identity: b.clone(),
        incarnation: 3,
        state: State::Dead,
    };
    let alive = |inc| Update {
        identity: b.clone(),
        incarnation: inc,
        state: State::Alive,
    };
    a.handle(
        "x",
        &msg_from(&c, 0, Body::Gossip, vec![alive(3), dead]),
        Duration::ZERO,
    )
    .expect("valid");
    assert_eq!(a.get("b").map(|m| m.state), Some(State::Dead));
    a.handle(
        "x",
        &msg_from(&c, 0, Body::Gossip, vec![alive(3)]),
        Duration::ZERO,
    )
    .expect("valid");
    assert_eq!(a.get("b").map(|m| m.state), Some(State::Dead));
    a.handle(
        "x",
        &msg_from(&c, 0, Body::Gossip, vec![alive(4)]),
        Duration::ZERO,
    )
    .expect("valid");
    assert_eq!(a.get("b").map(|m| m.state), Some(State::Alive));
}

#[test]
fn removed_ids_are_remembered() {
    let mut a = node("a", 1);
    let b = Identity::new("b", "127.0.0.1:2");
    let c = Identity::new("c", "127.0.0.1:3");
    let upd = |inc, state| Update {
        identity: b.clone(),
        incarnation: inc,
        state,
    };
    let now = Duration::from_secs(1);
    a.handle(
        "x",
        &msg_from(&c, 0, Body::Gossip, vec![upd(2, State::Alive)]),
        now,
    )
    .expect("valid");
    a.handle(
        "x",
        &msg_from(&c, 0, Body::Gossip, vec![upd(2, State::Left)]),
        now,
    )
    .expect("valid");
    let later = now + a.config.remove_after;
    a.tick(later);
    assert!(a.get("b").is_none());
    assert!(drain_events(&mut a).contains(&Event::Removed(b.clone())));
    a.handle(
        "x",
        &msg_from(&c, 0, Body::Gossip, vec![upd(2, State::Alive)]),
        later,
    )
    .expect("valid");
    assert!(a.get("b").is_none(), "stale alive after removal");
    a.handle(
        "x",
        &msg_from(&c, 0, Body::Gossip, vec![upd(3, State::Alive)]),
        later,
    )
    .expect("valid");
    assert_eq!(a.get("b").map(|m| m.state), Some(State::Alive), "rejoin");
}

#[test]
fn conflicting_claims_keep_the_higher_incarnation() {
    let mut a = node("a", 1);
    let c = Identity::new("c", "127.0.0.1:3");
    let b1 = Identity::new("b", "127.0.0.1:2");
    let b2 = Identity::new("b", "127.0.0.1:9");
    let up = |id: &Identity, inc| Update {
        identity: id.clone(),
        incarnation: inc,
        state: State::Alive,
    };
    a.handle(
        "x",
        &msg_from(&c, 0, Body::Gossip, vec![up(&b1, 1)]),
        Duration::ZERO,
    )
    .expect("valid");
    a.handle(
        "x",
        &msg_from(&c, 0, Body::Gossip, vec![up(&b2, 1)]),
        Duration::ZERO,
    )
    .expect("valid");
    assert_eq!(a.get("b").map(|m| m.identity.addr), Some(b1.addr.clone()));
    a.handle(
        "x",
        &msg_from(&c, 0, Body::Gossip, vec![up(&b2, 2)]),
        Duration::ZERO,
    )
    .expect("valid");
    assert_eq!(a.get("b").map(|m| m.identity.addr), Some(b2.addr.clone()));
    assert!(
        drain_events(&mut a)
            .iter()
            .any(|e| matches!(e, Event::IdentityConflict { .. }))
    );
}

#[test]
fn own_messages_and_oversized_input_are_rejected() {
    let mut a = node("a", 1);
    let me = a.identity.clone();
    let bytes = msg_from(&me, 0, Body::Gossip, vec![]);
    assert_eq!(
        a.handle("x", &bytes, Duration::ZERO),
        Err(DecodeError::FromSelf)
    );
    let big = vec![0; a.config.max_message_bytes + 1];
    assert!(matches!(
        a.handle("x", &big, Duration::ZERO),
        Err(DecodeError::TooLarge { .. })
    ));
    assert!(a.poll_send().is_none());
}

#[test]
fn invalid_local_loads_are_refused() {
    let mut a = node("a", 1);
    let load = Load {
        functions: vec![String::new()],
        ..Load::default()
    };
    assert_eq!(a.set_local_load(load), Err(Error::InvalidLoad));
    let load = Load {
        functions: (0..300).map(|i| format!("f{i}")).collect(),
        ..Load::default()
    };
    assert_eq!(a.set_local_load(load), Err(Error::InvalidLoad));
    let load = Load {
        group: "g".repeat(256),
        ..Load::default()
    };
    assert_eq!(a.set_local_load(load), Err(Error::InvalidLoad));
}

#[test]
fn misaddressed_messages_are_dropped() {
    // The address now belongs to "a"; a ping meant for its previous owner
    // must go unanswered, or that id would never be detected as gone.
    let mut a = node("a", 1);
    let b = Identity::new("b", "127.0.0.1:2");
    let m = Message {
        sender: b,
        to: Some("old".into()),
        incarnation: 0,
        load_version: 0,
        load: Load::default(),
        body: Body::Ping { seq: 1 },
        updates: Vec::new(),
        loads: Vec::new(),
    };
    let mut bytes = Vec::new();
    codec::encode(&m, &mut bytes);
    a.handle("x", &bytes, Duration::ZERO).expect("valid");
    assert!(a.poll_send().is_none());
    assert!(a.members().is_empty());
}

#[test]
fn indirect_probes_only_target_known_members() {
    let mut a = node("a", 1);
    let b = Identity::new("b", "127.0.0.1:2");
    let req = |target: &str| {
        msg_from(
            &b,
            0,
            Body::PingReq {
                seq: 3,
                target: target.into(),
            },
            vec![],
        )
    };
    a.handle("x", &req("203.0.113.9:80"), Duration::ZERO)
        .expect("valid");
    assert!(a.poll_send().is_none(), "unknown target: no traffic");
    let c = Update {
        identity: Identity::new("c", "127.0.0.1:3"),
        incarnation: 0,
        state: State::Alive,
    };
    a.handle("x", &msg_from(&b, 0, Body::Gossip, vec![c]), Duration::ZERO)
        .expect("valid");
    a.handle("x", &req("127.0.0.1:3"), Duration::ZERO)
        .expect("valid");
    let out = a.poll_send().expect("indirect ping");
    assert_eq!(out.to, "127.0.0.1:3");
    let m = codec::decode(&out.bytes).expect("decodes");
    assert_eq!(
        m.body,
        Body::IndirectPing {
            seq: 3,
            origin: "127.0.0.1:2".into()
        }
    );
    assert_eq!(m.to.as_deref(), Some("c"));
}

#[test]
fn observed_loads_update_the_view_and_are_relayed() {
    let mut a = node("a", 1);
    let b = Identity::new("b", "127.0.0.1:2");
    a.handle("x", &msg_from(&b, 0, Body::Gossip, vec![]), Duration::ZERO)
        .expect("valid");
    let load = Load {
        running: 3,
        ..Load::default()
    };
    a.observe_load("b", 9, load, Duration::from_secs(2));
    let sample = a.get("b").and_then(|m| m.load).expect("load");
    assert_eq!((sample.load.running, sample.version), (3, 9));
    assert_eq!(sample.at, Duration::from_secs(2));
    assert!(a.load_bcast.contains_key("b"));
    a.observe_load("nobody", 1, Load::default(), Duration::ZERO);
    assert!(a.get("nobody").is_none());
}

mod never_resurrect {
    use proptest::prelude::*;

    use super::*;

    fn arb_update() -> impl Strategy<Value = (u8, u32, u8)> {
        // (member 0..4, incarnation 0..6, state 0..4 or 4 = "31 s pass")
        (0u8..4, 0u32..6, 0u8..5)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever order gossip arrives in, a member ends up alive at
        /// incarnation i only if no death or leave at ≥ i was ever heard,
        /// and incarnations held never go down.
        #[test]
        fn alive_only_above_every_death(seq in proptest::collection::vec(arb_update(), 1..60)) {
            // Tombstones outlive the test, so every removal stays remembered.
            let config = Config { tombstone_for: Duration::from_secs(24 * 3600), ..Config::default() };
            let mut a = Membership::try_new(Identity::new("a", "127.0.0.1:1"), config, 3).expect("valid");
            let mut now = Duration::ZERO;
            let relay = Identity::new("relay", "127.0.0.1:99");
            let mut worst_death = [None::<u32>; 4];
            let mut held = [0u32; 4];
            for (who, inc, st) in seq {
                now += Duration::from_millis(1);
                if st == 4 {
                    now += Duration::from_secs(31);
                    a.tick(now);
                    continue;
                }
                let state = [State::Alive, State::Suspect, State::Dead, State::Left][usize::from(st)];
                if matches!(state, State::Dead | State::Left) {
                    let w = &mut worst_death[usize::from(who)];
                    *w = Some(w.map_or(inc, |d| d.max(inc)));
                }
                let u = Update {
                    identity: Identity::new(format!("m{who}"), format!("127.0.0.1:{}", 10 + who)),
                    incarnation: inc,
                    state,
                };
                a.handle("x", &msg_from(&relay, 0, Body::Gossip, vec![u]), now).expect("valid");
                for m in 0..4u8 {
                    if let Some(member) = a.get(&format!("m{m}")) {
                        let i = usize::from(m);
                        prop_assert!(member.incarnation >= held[i]);
                        held[i] = member.incarnation;
                        if member.state == State::Alive
                            && let Some(d) = worst_death[i]
                        {
                            prop_assert!(member.incarnation > d, "m{m} alive at {} after death at {d}", member.incarnation);
                        }
                    }
                }
            }
        }
    }
}
