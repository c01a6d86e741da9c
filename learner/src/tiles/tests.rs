use proptest::prelude::*;

use super::*;
use crate::config::Dimension;

fn tiles(tilings: usize, table_size: usize) -> Tiles {
    let dims = [
        Dimension {
            low: 0.0,
            high: 10.0,
            width: 2.0,
        },
        Dimension {
            low: -5.0,
            high: 5.0,
            width: 1.0,
        },
    ];
    let config = TileConfig::try_new(tilings, &dims, table_size).expect("valid tiling");
    Tiles::try_new(&config, 3).expect("valid shape")
}

#[test]
fn update_moves_q_by_step() {
    let mut t = tiles(8, 4096);
    let s = [3.0, 1.0];
    t.update(&s, 1, 0.5);
    assert!((t.q(&s, 1) - 0.5).abs() < 1e-6, "q = {}", t.q(&s, 1));
    assert_eq!(t.q(&s, 0), 0.0);
}

#[test]
fn nearby_states_generalise_far_ones_do_not() {
    let mut t = tiles(8, 1 << 16);
    t.update(&[3.0, 1.0], 0, 1.0);
    let near = t.q(&[3.6, 1.0], 0);
    let far = t.q(&[9.0, -4.0], 0);
    // 2 of 8 tilings cross a tile edge between 3.0 and 3.6 (offsets 1/4, 3/8).
    assert!((near - 0.75).abs() < 1e-6, "near = {near}");
    assert_eq!(far, 0.0);
}

#[test]
fn q_all_matches_q() {
    let mut t = tiles(4, 256);
    let s = [7.0, -2.5];
    t.update(&s, 0, 1.0);
    t.update(&s, 2, -3.0);
    let mut out = [0.0; 3];
    t.q_all(&s, &mut out);
    for (a, &v) in out.iter().enumerate() {
        assert!((v - t.q(&s, a)).abs() < 1e-6);
    }
}

#[test]
fn tilings_are_offset() {
    // With 1-wide tiles and 4 tilings, moving by a quarter tile changes at
    // least one active tile: the offsets are not all equal.
    let t = tiles(4, 1 << 20);
    let (mut a, mut b) = ([0u32; 4], [0u32; 4]);
    t.active(&[4.0, 0.0], &mut a);
    t.active(&[4.0, 0.25], &mut b);
    assert_ne!(a, b);
    assert!(
        a.iter().zip(&b).any(|(x, y)| x == y),
        "some tilings share the tile"
    );
}

#[test]
fn zero_actions_rejected() {
    let dims = [Dimension {
        low: 0.0,
        high: 1.0,
        width: 0.5,
    }];
    let config = TileConfig::try_new(2, &dims, 16).expect("valid tiling");
    assert!(Tiles::try_new(&config, 0).is_err());
}

proptest! {
    #[test]
    fn indices_in_range_and_deterministic(
        x in -100.0f32..100.0,
        y in -100.0f32..100.0,
        tilings in 1usize..=16,
        log_size in 4u32..12,
    ) {
        let size = 1usize << log_size;
        let t = tiles(tilings, size);
        let mut a = [0u32; MAX_TILINGS];
        let mut b = [u32::MAX; MAX_TILINGS];
        t.active(&[x, y], &mut a);
        t.active(&[x, y], &mut b);
        prop_assert_eq!(&a[..tilings], &b[..tilings]);
        for &i in &a[..tilings] {
            prop_assert!((i as usize) < size);
        }
        // A second instance with the same config agrees (no per-instance seed).
        let mut c = [0u32; MAX_TILINGS];
        tiles(tilings, size).active(&[x, y], &mut c);
        prop_assert_eq!(&a[..tilings], &c[..tilings]);
    }
}

#[test]
fn dense_exactly_when_every_tile_fits() {
    // 6 digits in [0, 10] by 2 (5 tiles plus the offset one) × 11 in
    // [-5, 5] by 1 = 66 tiles per tiling.
    assert!(tiles(8, 1024).is_dense(), "8 × 66 = 528 slots fit 1024");
    assert!(tiles(8, 512).is_dense() == (8 * 66 <= 512));
    assert!(!tiles(8, 256).is_dense());
}

/// In a dense table two states share tiling `t`'s slot exactly when they
/// lie in the same tile of tiling `t`, computed here independently with a
/// float floor: no collisions, and the digits follow the offsets.
#[test]
fn dense_slots_are_tiles() {
    let t = tiles(8, 1024);
    assert!(t.is_dense());
    let tile = |x: f32, y: f32, tiling: usize| {
        let digit = |v: f32, low: f32, high: f32, width: f32, d: usize| {
            let scaled = (v.clamp(low, high) - low) * (1.0 / width);
            let offset = ((tiling * (2 * d + 1)) % 8) as f64 / 8.0;
            (f64::from(scaled) + offset).floor() as i64
        };
        (digit(x, 0.0, 10.0, 2.0, 0), digit(y, -5.0, 5.0, 1.0, 1))
    };
    let grid: Vec<(f32, f32)> = (0..=60)
        .flat_map(|i| (0..=60).map(move |j| (i as f32 * 0.2 - 0.5, j as f32 * 0.2 - 6.0)))
        .collect();
    let mut seen = std::collections::HashMap::new();
    for &(x, y) in &grid {
        let mut idx = [0u32; 8];
        t.active(&[x, y], &mut idx);
        for (tiling, &i) in idx.iter().enumerate() {
            let key = (tiling, tile(x, y, tiling));
            let prior = seen.insert(i, key);
            assert!(
                prior.is_none_or(|p| p == key),
                "slot {i} holds {prior:?} and {key:?}"
            );
        }
    }
    // Every tile of every tiling was visited: 8 × 66 slots.
    assert_eq!(seen.len(), 8 * 66);
}
