use proptest::prelude::*;

use super::*;

fn table(dims: usize, actions: usize, capacity: usize) -> QTable {
    QTable::try_new(dims, actions, capacity).expect("valid shape")
}

#[test]
fn concatenation_collision_is_gone() {
    // The original keyed "1"+"21" and "12"+"1" to the same string "121".
    let mut t = table(2, 3, 16);
    t.update(&[1.0, 21.0], 0, 5.0);
    assert_eq!(t.q(&[1.0, 21.0], 0), 5.0);
    assert_eq!(t.q(&[12.0, 1.0], 0), 0.0);
    t.update(&[12.0, 1.0], 0, -2.0);
    assert_eq!(t.len(), 2);
    assert_eq!(t.q(&[1.0, 21.0], 0), 5.0);
    assert_eq!(t.q(&[12.0, 1.0], 0), -2.0);
}

#[test]
fn reads_do_not_insert() {
    let t = table(1, 2, 4);
    let mut out = [9.0; 2];
    t.q_all(&[3.0], &mut out);
    assert_eq!(out, [0.0, 0.0]);
    assert!(t.is_empty());
}

#[test]
fn full_table_rejects_and_counts() {
    let mut t = table(1, 2, 2);
    t.update(&[0.0], 1, 1.0);
    t.update(&[1.0], 1, 1.0);
    t.update(&[2.0], 1, 1.0);
    assert_eq!(t.len(), 2);
    assert_eq!(t.rejected(), 1);
    assert_eq!(t.q(&[2.0], 1), 0.0);
    // Stored states still update when full.
    t.update(&[0.0], 1, 1.0);
    assert_eq!(t.q(&[0.0], 1), 2.0);
    assert_eq!(t.rejected(), 1);
}

#[test]
fn q_all_matches_q() {
    let mut t = table(3, 4, 8);
    let s = [1.0, 2.0, 3.0];
    for a in 0..4 {
        t.update(&s, a, a as f32);
    }
    let mut out = [0.0; 4];
    t.q_all(&s, &mut out);
    assert_eq!(out, [0.0, 1.0, 2.0, 3.0]);
}

#[test]
fn clear_forgets_every_state_and_count_whether_empty_or_not() {
    let mut t = table(1, 2, 2);
    t.clear();
    assert!(t.is_empty());
    assert!(t.set(&[1.0], &[3.0, 4.0]) && t.set(&[2.0], &[5.0, 6.0]));
    assert!(!t.set(&[3.0], &[7.0, 8.0]), "full");
    t.clear();
    assert!(t.is_empty() && t.rejected() == 0);
    assert!(!t.contains(&[1.0]) && t.q(&[1.0], 0) == 0.0);
    assert_eq!(t.iter().count(), 0);
    // Every slot is free again: it takes its full capacity anew.
    assert!(t.set(&[3.0], &[7.0, 8.0]) && t.set(&[4.0], &[1.0, 1.0]));
    assert_eq!(t.len(), 2);
    t.update(&[3.0], 1, 1.0);
    assert_eq!(t.q(&[3.0], 1), 9.0);
}

#[test]
fn zero_shapes_are_rejected() {
    assert!(QTable::try_new(0, 1, 1).is_err());
    assert!(QTable::try_new(1, 0, 1).is_err());
    assert!(QTable::try_new(1, 1, 0).is_err());
    assert!(QTable::try_new(1, 1, usize::MAX).is_err());
}

proptest! {
    /// Until the table is full, every stored state keeps its value.
    #[test]
    fn never_loses_a_state_until_full(
        states in proptest::collection::vec(proptest::collection::vec(0u8..30, 2), 1..200),
        capacity in 1usize..100,
    ) {
        let mut t = table(2, 1, capacity);
        let mut expected: Vec<(Vec<f32>, f32)> = Vec::new();
        for (i, s) in states.iter().enumerate() {
            let s: Vec<f32> = s.iter().map(|&x| f32::from(x)).collect();
            let step = i as f32 + 1.0;
            let known = expected.iter().position(|(k, _)| *k == s);
            t.update(&s, 0, step);
            match known {
                Some(p) => expected[p].1 += step,
                None if expected.len() < capacity => expected.push((s, step)),
                None => {}
            }
            prop_assert_eq!(t.len(), expected.len());
            for (k, v) in &expected {
                prop_assert!(t.contains(k));
                prop_assert_eq!(t.q(k, 0), *v);
            }
        }
    }
}
