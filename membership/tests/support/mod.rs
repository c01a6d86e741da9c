//! A deterministic simulated network for membership cores.
//!
//! N [`Membership`] cores share a virtual clock advanced in fixed steps.
//! Each message gets a seeded latency (base + uniform jitter + per-node
//! extra delay) and may be lost; crashed nodes neither send nor receive,
//! and a partition drops messages between groups. Everything — including
//! every core's RNG — derives from one seed, so a failing run replays
//! exactly.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::{cmp::Reverse, collections::BinaryHeap, collections::HashMap, time::Duration};

use p2pfaas_membership::{Config, Event, Identity, Load, Membership, State};
use rand::{Rng, SeedableRng, rngs::SmallRng};

/// One simulated node.
pub struct Node {
    pub core: Membership,
    /// False once crashed: its queue is frozen, nothing in or out.
    pub up: bool,
    /// Extra one-way delay on everything this node sends or receives.
    pub delay: Duration,
    /// Partition group; messages cross only within a group.
    pub group: u8,
}

/// A message in flight.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Flight {
    at: Duration,
    seq: u64,
    from: usize,
    to: usize,
    bytes: Vec<u8>,
}

pub struct Sim {
    pub now: Duration,
    pub step: Duration,
    pub nodes: Vec<Node>,
    pub latency: Duration,
    pub jitter: Duration,
    pub loss: f64,
    /// Bytes sent per node (message bodies only).
    pub sent_bytes: Vec<u64>,
    /// Every event, with when and where it happened.
    pub events: Vec<(Duration, usize, Event)>,
    /// Every message ever sent, kept when `record` is set (for replays).
    pub record: bool,
    pub recorded: Vec<(usize, Vec<u8>)>,
    flights: BinaryHeap<Reverse<Flight>>,
    by_addr: HashMap<String, usize>,
    seq: u64,
    rng: SmallRng,
}

pub fn addr(i: usize) -> String {
    format!("127.0.0.1:{}", 20_000 + i)
}

pub fn id(i: usize) -> String {
    format!("node-{i:02}")
}

impl Sim {
    /// `n` nodes with `config`, nothing joined yet.
    pub fn new(n: usize, seed: u64, config: &Config) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let nodes = (0..n)
            .map(|i| {
                let core =
                    Membership::try_new(Identity::new(id(i), addr(i)), config.clone(), rng.r#gen())
                        .expect("valid config");
                Node {
                    core,
                    up: true,
                    delay: Duration::ZERO,
                    group: 0,
                }
            })
            .collect();
        Self {
            now: Duration::from_secs(1),
            step: Duration::from_millis(5),
            nodes,
            latency: Duration::from_millis(2),
            jitter: Duration::from_millis(3),
            loss: 0.0,
            sent_bytes: vec![0; n],
            events: Vec::new(),
            record: false,
            recorded: Vec::new(),
            flights: BinaryHeap::new(),
            by_addr: (0..n).map(|i| (addr(i), i)).collect(),
            seq: 0,
            rng,
        }
    }

    /// Every node but 0 joins through node 0 now.
    pub fn join_all(&mut self) {
        for i in 1..self.nodes.len() {
            self.join(i);
        }
    }

    pub fn join(&mut self, i: usize) {
        let now = self.now;
        self.nodes[i].core.join(&[addr(0)], now);
    }

    /// Advances the clock by one step: deliver what is due, tick, collect.
    pub fn step(&mut self) {
        self.now += self.step;
        while self
            .flights
            .peek()
            .is_some_and(|Reverse(f)| f.at <= self.now)
        {
            let Some(Reverse(f)) = self.flights.pop() else {
                break;
            };
            if !self.deliverable(f.from, f.to) {
                continue;
            }
            let now = self.now;
            let node = &mut self.nodes[f.to];
            node.core
                .handle(&addr(f.from), &f.bytes, now)
                .expect("cores only send valid messages");
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].up {
                let now = self.now;
                self.nodes[i].core.tick(now);
            }
            self.collect(i);
        }
    }

    fn deliverable(&self, from: usize, to: usize) -> bool {
        let (a, b) = (&self.nodes[from], &self.nodes[to]);
        a.up && b.up && a.group == b.group
    }

    fn collect(&mut self, i: usize) {
        while let Some(e) = self.nodes[i].core.poll_event() {
            self.events.push((self.now, i, e));
        }
        while let Some(out) = self.nodes[i].core.poll_send() {
            if !self.nodes[i].up {
                continue;
            }
            self.sent_bytes[i] += out.bytes.len() as u64;
            if self.record {
                self.recorded.push((i, out.bytes.clone()));
            }
            let Some(&to) = self.by_addr.get(&out.to) else {
                continue;
            };
            if self.loss > 0.0 && self.rng.gen_bool(self.loss) {
                continue;
            }
            let jitter = self.jitter.mul_f64(self.rng.r#gen::<f64>());
            let at = self.now + self.latency + jitter + self.nodes[i].delay + self.nodes[to].delay;
            self.seq += 1;
            self.flights.push(Reverse(Flight {
                at,
                seq: self.seq,
                from: i,
                to,
                bytes: out.bytes,
            }));
        }
    }

    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step();
        }
    }

    /// Runs until `done` holds (checked every step) or `max` elapses;
    /// returns how long it took.
    pub fn run_until(
        &mut self,
        max: Duration,
        mut done: impl FnMut(&Sim) -> bool,
    ) -> Option<Duration> {
        let start = self.now;
        while self.now - start <= max {
            if done(self) {
                return Some(self.now - start);
            }
            self.step();
        }
        None
    }

    pub fn live(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].up)
    }

    /// Every live node sees every other live node alive, and nothing else active.
    pub fn converged(&self) -> bool {
        let live: Vec<usize> = self.live().collect();
        live.iter().all(|&i| {
            let members = self.nodes[i].core.members();
            members.len() == live.len() - 1
                && members.iter().all(|m| m.state == State::Alive)
                && live
                    .iter()
                    .filter(|&&j| j != i)
                    .all(|&j| members.iter().any(|m| m.identity.id == id(j)))
        })
    }

    /// What node `i` holds for node `j` (`None`: not in its table).
    pub fn state_of(&self, i: usize, j: usize) -> Option<State> {
        self.nodes[i].core.get(&id(j)).map(|m| m.state)
    }

    /// Every live node other than `j` no longer holds `j` as active.
    pub fn all_see_inactive(&self, j: usize) -> bool {
        self.live()
            .filter(|&i| i != j)
            .all(|i| !self.state_of(i, j).is_some_and(State::is_active))
    }

    /// Adds a node (its address must be `addr(len)`).
    pub fn add_node(&mut self, core: Membership) {
        let i = self.nodes.len();
        assert_eq!(core.local().identity.addr, addr(i));
        self.nodes.push(Node {
            core,
            up: true,
            delay: Duration::ZERO,
            group: 0,
        });
        self.sent_bytes.push(0);
        self.by_addr.insert(addr(i), i);
    }

    pub fn crash(&mut self, i: usize) {
        self.nodes[i].up = false;
    }

    pub fn set_load(&mut self, i: usize, running: u32) {
        let load = Load {
            running,
            queued: 0,
            slots: 4,
            queue_len: 16,
            functions: vec!["echo".into(), "fib".into()],
            utilisation: 0.5,
            group: "g".into(),
        };
        self.nodes[i].core.set_local_load(load).expect("valid load");
    }

    /// Events of kind `f` about node `j`, seen by anyone.
    pub fn count_events(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|(_, _, e)| f(e)).count()
    }

    /// Delivers `bytes` as if sent by `from` to every live node now.
    pub fn inject_to_all(&mut self, from: usize, bytes: &[u8]) {
        let now = self.now;
        for i in 0..self.nodes.len() {
            if i != from && self.nodes[i].up {
                let _ = self.nodes[i].core.handle(&addr(from), bytes, now);
            }
        }
    }
}

/// A cluster of `n` that joined through node 0 and converged.
pub fn converged(n: usize, seed: u64) -> Sim {
    let mut sim = Sim::new(n, seed, &Config::default());
    sim.join_all();
    sim.run_until(Duration::from_secs(10), Sim::converged)
        .expect("cluster converges");
    sim
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
