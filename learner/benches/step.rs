//! Act and train cost of one learner step.
//!
//! Measures, for a Q-table holding 10⁴ states × 14 actions and for tile
//! coding with 8 tilings × 14 actions (3,168 tiles: dense in 2¹⁴ slots as
//! `tiles`, hashed into 2¹¹ as `tiles-hashed`):
//! - `act`: one ε-greedy choice (ε = 0.1) over 14 actions;
//! - `train`: one differential-Sarsa update (two `q` reads, one `update`).
//!
//! States cycle through a pre-generated array so lookups miss the cache the
//! way a real stream of states would. Targets (design.md §5): act ≤ 100 ns,
//! train ≤ 1 µs.
//!
//! Run: `cargo bench -p p2pfaas-learner -- --warm-up-time 1 --measurement-time 3`
//!
//! Results (2 shared cores, VM, 2026-11-27), earlier rounds one at a time:
//!
//! | bench        | 69a84d6 | + truncation instead of `floor()`, per-tiling seeds | + rows padded to 8 lanes |
//! |--------------|---------|------|------|
//! | qtable/act   | 67.5 ns | 67.2 ns | 69.1 ns |
//! | qtable/train | 52.8 ns | 50.9 ns | 52.6 ns |
//! | tiles/act    | 184 ns  | 117.7 ns | 110.1 ns (still over the 100 ns target) |
//! | tiles/train  | 405 ns  | 205.4 ns | 208.2 ns |
//!
//! Then 5ae1366 against e688c00 (mixed-radix tile numbers, fixed-point
//! digits, register accumulators, branch-free ε-greedy argmax), the two bench
//! binaries alternating five times in one session with the machine under
//! load (load average ≈ 5 on 2 cores, so both columns run slow), median:
//!
//! | bench              | 5ae1366  | e688c00  | ratio |
//! |--------------------|----------|----------|-------|
//! | qtable/act         | 104.5 ns | 72.7 ns  | 0.70  |
//! | qtable/train       | 83.3 ns  | 82.1 ns  | 0.98  |
//! | tiles/act          | 176.6 ns | 74.7 ns  | 0.42  |
//! | tiles/train        | 332.8 ns | 143.0 ns | 0.43  |
//! | tiles-hashed/act   | —        | 86.3 ns  |       |
//! | tiles-hashed/train | —        | 166.0 ns |       |
//!
//! At load ≈ 3, interleaved pairs of intermediate builds gave tiles/act
//! 118 → 58 ns and tiles/train 232 → 98 ns before the `q_all` change
//! (f37c31c), and tiles/act 56 → 50 ns for that change (fd5f500).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use p2pfaas_learner::{
    config::{Config, Dimension, Params, TileConfig},
    policy::EpsilonGreedy,
    qtable::QTable,
    td::{Td, Transition},
    tiles::Tiles,
    value::ValueFunction,
};
use rand::{Rng, SeedableRng, rngs::SmallRng};

const ACTIONS: usize = 14;
const STATES: usize = 10_000;

/// 10⁴ distinct integer-valued states of 3 components.
fn states() -> Vec<[f32; 3]> {
    (0..STATES)
        .map(|i| {
            let i = u16::try_from(i).expect("fits");
            [
                f32::from(i % 10),
                f32::from((i / 10) % 100),
                f32::from(i / 1000),
            ]
        })
        .collect()
}

fn bench<V: ValueFunction>(c: &mut Criterion, name: &str, mut v: V) {
    let config = Config::try_new(Params::default()).expect("valid params");
    let mut policy = EpsilonGreedy::try_new(&config, ACTIONS).expect("valid");
    let mut td = Td::try_new(&config, ACTIONS).expect("valid");
    let mut rng = SmallRng::seed_from_u64(1);
    let states = states();
    for s in &states {
        for a in 0..ACTIONS {
            v.update(s, a, rng.gen_range(-1.0..1.0));
        }
    }

    let mut i = 0;
    c.bench_function(&format!("{name}/act"), |b| {
        b.iter(|| {
            i = (i + 1) % STATES;
            black_box(policy.act(&v, black_box(&states[i]), &mut rng))
        });
    });
    c.bench_function(&format!("{name}/train"), |b| {
        b.iter(|| {
            i = (i + 1) % STATES;
            let j = (i * 7919) % STATES;
            let t = Transition {
                state: &states[i],
                action: i % ACTIONS,
                reward: 1.0,
                next_state: &states[j],
                next_action: j % ACTIONS,
            };
            black_box(td.differential_sarsa(&mut v, black_box(&t)))
        });
    });
}

fn step(c: &mut Criterion) {
    let table = QTable::try_new(3, ACTIONS, STATES).expect("valid shape");
    bench(c, "qtable", table);

    let dims = [
        Dimension {
            low: 0.0,
            high: 10.0,
            width: 2.0,
        },
        Dimension {
            low: 0.0,
            high: 100.0,
            width: 10.0,
        },
        Dimension {
            low: 0.0,
            high: 10.0,
            width: 2.0,
        },
    ];
    // 8 × 6 × 11 × 6 = 3,168 tiles: dense in 2¹⁴ slots, hashed in 2¹¹.
    let tiling = TileConfig::try_new(8, &dims, 1 << 14).expect("valid tiling");
    let tiles = Tiles::try_new(&tiling, ACTIONS).expect("valid shape");
    assert!(tiles.is_dense());
    bench(c, "tiles", tiles);
    let tiling = TileConfig::try_new(8, &dims, 1 << 11).expect("valid tiling");
    let tiles = Tiles::try_new(&tiling, ACTIONS).expect("valid shape");
    assert!(!tiles.is_dense());
    bench(c, "tiles-hashed", tiles);
}

criterion_group!(benches, step);
criterion_main!(benches);
