use std::path::PathBuf;

use super::*;
use crate::config::{Dimension, TileConfig};

/// A fresh path in the target's temp dir, unique per test name.
fn path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("p2pfaas-learner-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

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
    let p = path("q.bin");
    save_qtable(&t, &p).expect("save");
    let mut u = QTable::try_new(2, 3, 8).expect("valid");
    u.update(&[5.0, 5.0], 1, 9.0);
    load_qtable(&mut u, &p).expect("load");
    assert_eq!(u.len(), 2);
    assert!(!u.contains(&[5.0, 5.0]), "load replaces the contents");
    assert_eq!(u.q(&[1.0, 21.0], 2), 1.5);
    assert_eq!(u.q(&[12.0, 1.0], 0), -0.25);
}

#[test]
fn tiles_round_trip() {
    let mut t = tiles(1.0);
    t.update(&[3.3], 1, 2.0);
    let p = path("tiles.bin");
    save_tiles(&t, &p).expect("save");
    let mut u = tiles(1.0);
    load_tiles(&mut u, &p).expect("load");
    assert_eq!(u.q(&[3.3], 1), t.q(&[3.3], 1));
    assert!(u.weights().eq(t.weights()));
}

#[test]
fn mismatches_are_named_and_leave_state_unchanged() {
    let t = QTable::try_new(2, 3, 8).expect("valid");
    let p = path("mismatch.bin");
    save_qtable(&t, &p).expect("save");

    let mut other = QTable::try_new(2, 4, 8).expect("valid");
    other.update(&[0.0, 0.0], 0, 1.0);
    match load_qtable(&mut other, &p) {
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
        load_tiles(&mut wrong_kind, &p),
        Err(Error::Mismatch { field: "kind", .. })
    ));

    let tp = path("layout.bin");
    save_tiles(&tiles(1.0), &tp).expect("save");
    let mut other_width = tiles(2.0);
    assert!(matches!(
        load_tiles(&mut other_width, &tp),
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
    let p = path("corrupt.bin");
    save_qtable(&t, &p).expect("save");
    let good = fs::read(&p).expect("read");

    fs::write(&p, &good[..good.len() - 1]).expect("write");
    assert!(matches!(
        load_qtable(&mut t, &p),
        Err(Error::Truncated { .. })
    ));

    let mut bad = good.clone();
    bad[0] = b'X';
    fs::write(&p, &bad).expect("write");
    assert!(matches!(load_qtable(&mut t, &p), Err(Error::BadMagic)));

    let mut bad = good;
    bad[8] = 9;
    fs::write(&p, &bad).expect("write");
    assert!(matches!(
        load_qtable(&mut t, &p),
        Err(Error::UnsupportedVersion {
            found: 9,
            supported: VERSION
        })
    ));

    assert!(matches!(
        load_qtable(&mut t, &path("missing.bin")),
        Err(Error::Io(_))
    ));
}

/// Version 1 numbered tiles differently: its tile weights are refused, while
/// its Q-table files (same layout) still load.
#[test]
fn version_1_tiles_refused_qtables_accepted() {
    let p = path("v1-tiles.bin");
    save_tiles(&tiles(1.0), &p).expect("save");
    let mut bytes = fs::read(&p).expect("read");
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    fs::write(&p, &bytes).expect("write");
    assert!(matches!(
        load_tiles(&mut tiles(1.0), &p),
        Err(Error::UnsupportedVersion {
            found: 1,
            supported: VERSION
        })
    ));

    let mut t = QTable::try_new(2, 3, 8).expect("valid");
    t.update(&[1.0, 21.0], 2, 1.5);
    let p = path("v1-q.bin");
    save_qtable(&t, &p).expect("save");
    let mut bytes = fs::read(&p).expect("read");
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    fs::write(&p, &bytes).expect("write");
    let mut u = QTable::try_new(2, 3, 8).expect("valid");
    load_qtable(&mut u, &p).expect("version-1 Q-table loads");
    assert_eq!(u.q(&[1.0, 21.0], 2), 1.5);
}
