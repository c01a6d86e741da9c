//! Proves the crate's rule "zero allocation after construction".
//!
//! A counting global allocator wraps `System`; everything is constructed
//! first, then the counter is armed and 10⁶ act + train steps run for the
//! Q-table and for tile coding. Counting is limited to the test's own thread
//! (a const thread-local flag, which itself never allocates) so the test
//! harness's threads cannot cause false failures.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    sync::atomic::{AtomicUsize, Ordering},
};

use p2pfaas_learner::{
    config::{Config, Dimension, Params, TileConfig},
    policy::EpsilonGreedy,
    qtable::QTable,
    td::{Td, Transition},
    tiles::Tiles,
    value::ValueFunction,
};
use rand::{Rng, SeedableRng, rngs::SmallRng};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if ARMED.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY-free: forwarding to `System` needs `unsafe impl`, which this test
// file allows itself; the crate under test stays `forbid(unsafe_code)`.
#[allow(unsafe_code, reason = "a GlobalAlloc impl is unsafe by definition")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const STEPS: usize = 1_000_000;
const ACTIONS: usize = 14;

/// A toy scheduling loop: state = (queue length, peer load), action 0 runs
/// locally, others forward. Returns a checksum so the work is not optimised
/// away.
fn run<V: ValueFunction>(v: &mut V, config: &Config, rng: &mut SmallRng, steps: usize) -> f32 {
    let mut policy = EpsilonGreedy::try_new(config, ACTIONS).expect("valid");
    let mut td = Td::try_new(config, ACTIONS).expect("valid");
    let mut state = [0.0f32, 0.0];
    let mut action = policy.act(v, &state, rng);
    let mut checksum = 0.0;

    ALLOCATIONS.store(0, Ordering::SeqCst);
    ARMED.with(|a| a.set(true));
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
    ARMED.with(|a| a.set(false));
    checksum
}

#[test]
fn act_and_train_never_allocate() {
    let config = Config::try_new(Params::default()).expect("valid");
    let mut rng = SmallRng::seed_from_u64(42);

    let mut table = QTable::try_new(2, ACTIONS, 10_000).expect("valid");
    let checksum = run(&mut table, &config, &mut rng, STEPS);
    let table_allocations = ALLOCATIONS.load(Ordering::SeqCst);
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
    let checksum = run(&mut tiles, &config, &mut rng, STEPS);
    let mut tile_allocations = ALLOCATIONS.load(Ordering::SeqCst);
    assert!(checksum.is_finite());
    // The hashed path (288 tiles in 64 slots) differs only in the index
    // step; a tenth of the steps keeps the debug run short.
    let tiling = TileConfig::try_new(8, &dims, 64).expect("valid");
    let mut tiles = Tiles::try_new(&tiling, ACTIONS).expect("valid");
    assert!(!tiles.is_dense());
    let checksum = run(&mut tiles, &config, &mut rng, STEPS / 10);
    tile_allocations += ALLOCATIONS.load(Ordering::SeqCst);
    assert!(checksum.is_finite());

    assert_eq!(table_allocations, 0, "Q-table act + train allocated");
    assert_eq!(tile_allocations, 0, "tile coding act + train allocated");

    // The EID window: pushes with shuffled pairs, duplicates and gaps, drained into training.
    let mut window = p2pfaas_learner::window::Window::new(256, 2, 8, 32).expect("valid");
    let mut trained = 0u64;
    ARMED.with(|a| a.set(true));
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
    ARMED.with(|a| a.set(false));
    let window_allocations = ALLOCATIONS.load(Ordering::SeqCst) - tile_allocations;
    assert!(trained > 0);
    assert_eq!(window_allocations, 0, "EID window push + drain allocated");

    // The counter must be able to fail: an allocation while armed is seen.
    // Checked in the same test because the counter is shared by all threads.
    ARMED.with(|a| a.set(true));
    let v = std::hint::black_box(vec![1u8; 16]);
    ARMED.with(|a| a.set(false));
    drop(v);
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst), tile_allocations + 1);
}
