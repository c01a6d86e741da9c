//! CPU cost of the membership core at 12 members.
//!
//! - `handle/gossip`: decode and apply one real `Gossip` message (envelope,
//!   piggybacked updates and relayed loads) into a converged 12-member core;
//! - `tick/idle`: one `tick` with no deadline due (the common case when the
//!   driver ticks every 10 ms);
//! - `tick+drain/probe-period`: one second of ticks at 10 ms plus draining
//!   what they produce (a probe and its indirect round, gossip rounds): the
//!   per-second CPU a node spends on membership besides handling input.
//!
//! Run: `cargo bench -p p2pfaas-membership -- --warm-up-time 1 --measurement-time 3`
//!
//! Results (2 shared cores, VM, 2026-11-27, branch `membership` after 57b7970):
//!
//! | bench                   | time    |
//! |-------------------------|---------|
//! | handle/gossip (524 B)   | 1.08 µs |
//! | tick/idle               | 94 ns   |
//! | tick+drain/probe-period | 26.4 µs |

use std::{hint::black_box, time::Duration};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use p2pfaas_membership::{Config, Identity, Load, Membership, Outgoing};

const N: usize = 12;

fn addr(i: usize) -> String {
    format!("127.0.0.1:{}", 20_000 + i)
}

/// A converged cluster with instant delivery, loads changing, and one
/// captured message from node 1 to node 0 with loads piggybacked.
fn cluster() -> (Vec<Membership>, Duration, Vec<u8>) {
    let mut nodes: Vec<Membership> = (0..N)
        .map(|i| {
            Membership::try_new(
                Identity::new(format!("n{i}"), addr(i)),
                Config::default(),
                i as u64,
            )
            .expect("valid")
        })
        .collect();
    let mut now = Duration::from_secs(1);
    for node in nodes.iter_mut().skip(1) {
        node.join(&[addr(0)], now);
    }
    let mut captured = None;
    for step in 0..1000u32 {
        now += Duration::from_millis(10);
        if step % 25 == 0 {
            for node in &mut nodes {
                let load = Load {
                    running: step,
                    slots: 4,
                    queue_len: 16,
                    functions: vec!["echo".into(), "fib".into()],
                    ..Load::default()
                };
                node.set_local_load(load).expect("valid");
            }
        }
        let mut flights: Vec<(usize, Outgoing)> = Vec::new();
        for (i, node) in nodes.iter_mut().enumerate() {
            node.tick(now);
            while let Some(out) = node.poll_send() {
                flights.push((i, out));
            }
        }
        for (from, out) in flights {
            let to = (0..N).find(|&j| addr(j) == out.to).expect("known");
            if from == 1 && to == 0 && step > 500 && out.bytes.len() > 300 {
                captured.get_or_insert_with(|| out.bytes.clone());
            }
            nodes[to]
                .handle(&addr(from), &out.bytes, now)
                .expect("valid");
        }
    }
    (
        nodes,
        now,
        captured.expect("a gossip message from node 1 to node 0"),
    )
}

fn bench(c: &mut Criterion) {
    let (mut nodes, now, bytes) = cluster();
    println!("captured gossip message: {} bytes", bytes.len());
    let n0 = &mut nodes[0];
    c.bench_function("handle/gossip", |b| {
        b.iter(|| {
            n0.handle("127.0.0.1:20001", black_box(&bytes), now)
                .expect("valid");
            while n0.poll_send().is_some() {}
            while n0.poll_event().is_some() {}
        });
    });
    c.bench_function("tick/idle", |b| b.iter(|| n0.tick(black_box(now))));
    // Each iteration starts from the same converged state (cloned outside
    // the timing): a second of ticks at 10 ms, whose probe and gossip rounds
    // go unanswered, so nobody is suspected within the second.
    c.bench_function("tick+drain/probe-period", |b| {
        b.iter_batched(
            || n0.clone(),
            |mut m| {
                let mut t = now;
                for _ in 0..100 {
                    t += Duration::from_millis(10);
                    m.tick(t);
                    while let Some(out) = m.poll_send() {
                        black_box(out);
                    }
                }
                m
            },
            BatchSize::SmallInput,
        );
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
