//! Proves the crate's rule "zero allocation after construction".
//!
//! The workspace's counting allocator (`p2pfaas-alloc-count`) wraps `System`; everything is
//! constructed first, then 10⁶ act + train steps are counted for the Q-table and for tile coding.
//! Only the test's own thread is counted, so the harness's threads cannot cause false failures.

use p2pfaas_alloc_count::count;

use p2pfaas_learner::{
    config::{Config, Dimension, Params, TileConfig},
    policy::EpsilonGreedy,
    qtable::QTable,
    td::{Td, Transition},
    tiles::Tiles,
    value::ValueFunction,
};
use rand::{Rng, SeedableRng, rngs::SmallRng};

#[global_allocator]
static GLOBAL: p2pfaas_alloc_count::Counting = p2pfaas_alloc_count::Counting;

const STEPS: usize = 1_000_000;
const ACTIONS: usize = 14;

/// A toy scheduling loop: state = (queue length, peer load), action 0 runs
/// locally, others forward. Returns a checksum so the work is not optimised
/// away, and the allocations the steps made.
fn run<V: ValueFunction>(
    v: &mut V,
    config: &Config,
    rng: &mut SmallRng,
    steps: usize,
) -> (f32, usize) {
    let mut policy = EpsilonGreedy::try_new(config, ACTIONS).expect("valid");
    let mut td = Td::try_new(config, ACTIONS).expect("valid");
    let mut state = [0.0f32, 0.0];
    let mut action = policy.act(v, &state, rng);
    count(|| {
        let mut checksum = 0.0;
        for _ in 0..steps {
            let reward = if action == 0 && state[0] < 5.0 {
                1.0
            } else {
                0.0
            };
            let next = [
                f32::from(rng.gen_range(0u8..11)),
                f32::from(rng.gen_range(0u8..21)),
            ];
            let next_action = policy.act(v, &next, rng);
            checksum += td.differential_sarsa(
                v,
                &Transition {
                    state: &state,
                    action,
                    reward,
                    next_state: &next,
                    next_action,
                },
            );
            state = next;
            action = next_action;
        }
        checksum
    })
}

#[test]
fn act_and_train_never_allocate() {
    let config = Config::try_new(Params::default()).expect("valid");
    let mut rng = SmallRng::seed_from_u64(42);

    let mut table = QTable::try_new(2, ACTIONS, 10_000).expect("valid");
    let (checksum, table_allocations) = run(&mut table, &config, &mut rng, STEPS);
    assert!(checksum.is_finite());
    assert_eq!(table.len(), 11 * 21, "every visited state is stored");

    let dims = [
        Dimension {
            low: 0.0,
            high: 10.0,
            width: 2.0,
        },
        Dimension {
            low: 0.0,
            high: 20.0,
            width: 4.0,
        },
    ];
    let tiling = TileConfig::try_new(8, &dims, 4096).expect("valid");
    let mut tiles = Tiles::try_new(&tiling, ACTIONS).expect("valid");
    assert!(tiles.is_dense());
    let (checksum, mut tile_allocations) = run(&mut tiles, &config, &mut rng, STEPS);
    assert!(checksum.is_finite());
    // The hashed path (288 tiles in 64 slots) differs only in the index
    // step; a tenth of the steps keeps the debug run short.
    let tiling = TileConfig::try_new(8, &dims, 64).expect("valid");
    let mut tiles = Tiles::try_new(&tiling, ACTIONS).expect("valid");
    assert!(!tiles.is_dense());
    let (checksum, hashed_allocations) = run(&mut tiles, &config, &mut rng, STEPS / 10);
    tile_allocations += hashed_allocations;
    assert!(checksum.is_finite());

    assert_eq!(table_allocations, 0, "Q-table act + train allocated");
    assert_eq!(tile_allocations, 0, "tile coding act + train allocated");

    // The EID window: pushes with shuffled pairs, duplicates and gaps, drained into training.
    let mut window = p2pfaas_learner::window::Window::new(256, 2, 8, 32).expect("valid");
    let mut trained = 0u64;
    let ((), window_allocations) = count(|| {
        for eid in 0..100_000u64 {
            // Swap neighbours, drop every 97th entry and repeat every 89th.
            let e = eid ^ 1;
            if e % 97 != 0 {
                let state = [(e % 11) as f32, (e % 21) as f32];
                let _ = window.push(e, &state, (e % 14) as u32, 1.0);
                if e % 89 == 0 {
                    let _ = window.push(e, &state, (e % 14) as u32, 1.0);
                }
            }
            window.drain(|t| trained += u64::from(t.action) + 1);
        }
    });
    assert!(trained > 0);
    assert_eq!(window_allocations, 0, "EID window push + drain allocated");

    // The counter must be able to fail: an allocation while counting is seen.
    let (v, seen) = count(|| std::hint::black_box(vec![1u8; 16]));
    drop(v);
    assert_eq!(seen, 1);
}
