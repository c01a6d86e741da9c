//! Cost of one `LearningScheduler` decision in the node, as a request pays it.
//!
//! * `decide`: build the `1 + 2N` state from the view (N = 2), lock the shared agent, choose an action
//!   with ε-greedy over the Q-table, take an EID and record the decision for pairing with its reward.
//! * `decide+reward`: the same plus the reward of the decision when its job ends (one TD update).
//! * `view+decide`: also reads the per-type atomic counters into the view, as `Worker::decide` does.
//!
//! The table is pre-filled with every state the benchmark visits (states up to 10 jobs per type), so
//! lookups hit. Run with:
//! `cargo bench -p p2pfaas-node --bench learning -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use criterion::{Criterion, criterion_group, criterion_main};
use p2pfaas_node::learning::{Agent, Parameters, dims_for};
use p2pfaas_node::scheduler::{JobMeta, LearningScheduler, NodeView, Note, Scheduler, TypeLoad};
use rand::SeedableRng;
use rand::rngs::SmallRng;

const TYPES: usize = 2;

fn setup() -> (LearningScheduler, Arc<Agent>) {
    let agent = Arc::new(
        Agent::new(
            dims_for(TYPES, 0),
            Parameters {
                epsilon_start: 0.05,
                epsilon_min: 0.05,
                ..Parameters::default()
            },
        )
        .expect("valid parameters"),
    );
    (
        LearningScheduler::new(TYPES, &[], Arc::clone(&agent), 1.0),
        agent,
    )
}

fn bench(c: &mut Criterion) {
    let (mut sched, agent) = setup();
    let mut rng = SmallRng::seed_from_u64(1);
    let job = JobMeta {
        task_type: 1,
        external: false,
        hops: 0,
        deadline: None,
    };
    let mut loads = [TypeLoad::default(); TYPES];
    let mut i = 0u32;
    let mut next_view = |loads: &mut [TypeLoad; TYPES]| {
        i = i.wrapping_add(1);
        loads[0].running = i % 7;
        loads[1].queued = (i / 7) % 5;
    };
    // Visit (and train) every state the loop produces, so the timed lookups hit.
    for _ in 0..10_000 {
        next_view(&mut loads);
        let view = NodeView {
            per_type: &loads,
            ..NodeView::default()
        };
        let mut note = Note::default();
        sched.decide(&job, &view, &mut rng, &mut note);
        if let Some(l) = note.learning {
            agent.reward(l.eid, 1.0);
        }
    }
    assert!(agent.stats().states >= 35, "{:?}", agent.stats());
    let mut g = c.benchmark_group("learning_scheduler");
    g.bench_function("decide", |b| {
        b.iter(|| {
            next_view(&mut loads);
            let view = NodeView {
                per_type: &loads,
                ..NodeView::default()
            };
            let mut note = Note::default();
            black_box(sched.decide(&job, &view, &mut rng, &mut note));
            black_box(note);
        });
    });
    g.bench_function("decide+reward", |b| {
        b.iter(|| {
            next_view(&mut loads);
            let view = NodeView {
                per_type: &loads,
                ..NodeView::default()
            };
            let mut note = Note::default();
            black_box(sched.decide(&job, &view, &mut rng, &mut note));
            if let Some(l) = note.learning {
                agent.reward(l.eid, 1.0);
            }
        });
    });
    let counters: Vec<(AtomicUsize, AtomicUsize)> = (0..8)
        .map(|t| (AtomicUsize::new(t % 3), AtomicUsize::new(0)))
        .collect();
    g.bench_function("view+decide", |b| {
        b.iter(|| {
            for (load, (running, queued)) in loads.iter_mut().zip(&counters) {
                load.running = u32::try_from(running.load(Relaxed)).unwrap_or(u32::MAX);
                load.queued = u32::try_from(queued.load(Relaxed)).unwrap_or(u32::MAX);
            }
            let view = NodeView {
                per_type: &loads,
                ..NodeView::default()
            };
            let mut note = Note::default();
            black_box(sched.decide(&job, &view, &mut rng, &mut note));
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
