use super::*;
use crate::config::{Dimension, TileConfig};

fn tiles(width: f32) -> Tiles {
    let dims = [Dimension {
        low: 0.0,
        high: 10.0,
        width,
    }];
    Tiles::try_new(&TileConfig::try_new(4, &dims, 64).expect("valid"), 2).expect("valid")
}

#[test]
fn qtable_round_trip() {
    let mut t = QTable::try_new(2, 3, 8).expect("valid");
    t.update(&[1.0, 21.0], 2, 1.5);
    t.update(&[12.0, 1.0], 0, -0.25);
    let bytes = encode_qtable(&t);
    let mut u = QTable::try_new(2, 3, 8).expect("valid");
    u.update(&[5.0, 5.0], 1, 9.0);
    decode_qtable(&mut u, &bytes).expect("load");
    assert_eq!(u.len(), 2);
    assert!(!u.contains(&[5.0, 5.0]), "load replaces the contents");
    assert_eq!(u.q(&[1.0, 21.0], 2), 1.5);
    assert_eq!(u.q(&[12.0, 1.0], 0), -0.25);
}

#[test]
fn tiles_round_trip() {
    let mut t = tiles(1.0);
    t.update(&[3.3], 1, 2.0);
    let bytes = encode_tiles(&t);
    let mut u = tiles(1.0);
    decode_tiles(&mut u, &bytes).expect("load");
    assert_eq!(u.q(&[3.3], 1), t.q(&[3.3], 1));
    assert!(u.weights().eq(t.weights()));
}

#[test]
fn mismatches_are_named_and_leave_state_unchanged() {
    let t = QTable::try_new(2, 3, 8).expect("valid");
    let p = encode_qtable(&t);

    let mut other = QTable::try_new(2, 4, 8).expect("valid");
    other.update(&[0.0, 0.0], 0, 1.0);
    match decode_qtable(&mut other, &p) {
        Err(Error::Mismatch {
            field: "actions",
            found: 3,
            expected: 4,
        }) => {}
        r => panic!("unexpected {r:?}"),
    }
    assert_eq!(other.q(&[0.0, 0.0], 0), 1.0);

    let mut wrong_kind = tiles(1.0);
    assert!(matches!(
        decode_tiles(&mut wrong_kind, &p),
        Err(Error::Mismatch { field: "kind", .. })
    ));

    let tp = encode_tiles(&tiles(1.0));
    let mut other_width = tiles(2.0);
    assert!(matches!(
        decode_tiles(&mut other_width, &tp),
        Err(Error::Mismatch {
            field: "layout",
            ..
        })
    ));
}

#[test]
fn corrupt_files_are_rejected() {
    let mut t = QTable::try_new(1, 1, 4).expect("valid");
    t.update(&[1.0], 0, 1.0);
    let good = encode_qtable(&t);

    assert!(matches!(
        decode_qtable(&mut t, &good[..good.len() - 1]),
        Err(Error::Truncated { .. })
    ));

    let mut bad = good.clone();
    bad[0] = b'X';
    assert!(matches!(decode_qtable(&mut t, &bad), Err(Error::BadMagic)));

    let mut bad = good;
    bad[8] = 9;
    assert!(matches!(
        decode_qtable(&mut t, &bad),
        Err(Error::UnsupportedVersion {
            found: 9,
            supported: VERSION
        })
    ));
    assert_eq!(t.q(&[1.0], 0), 1.0, "nothing changed");
}

/// Version 1 numbered tiles differently: its tile weights are refused, while
/// its Q-table files (same layout) still load.
#[test]
fn version_1_tiles_refused_qtables_accepted() {
    let mut bytes = encode_tiles(&tiles(1.0));
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    assert!(matches!(
        decode_tiles(&mut tiles(1.0), &bytes),
        Err(Error::UnsupportedVersion {
            found: 1,
            supported: VERSION
        })
    ));

    let mut t = QTable::try_new(2, 3, 8).expect("valid");
    t.update(&[1.0, 21.0], 2, 1.5);
    let mut bytes = encode_qtable(&t);
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    let mut u = QTable::try_new(2, 3, 8).expect("valid");
    decode_qtable(&mut u, &bytes).expect("version-1 Q-table loads");
    assert_eq!(u.q(&[1.0, 21.0], 2), 1.5);
}
