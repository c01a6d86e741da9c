//! Publication of the latest [`LoadSample`]: one writer (the sampler thread), any number of readers
//! (workers, `/metrics`, gossip), no lock.
//!
//! A seqlock over atomic words: the writer makes the sequence odd, stores the words, makes it even again;
//! a reader retries while the sequence is odd or changed under it. Readers never block the writer and a
//! read costs a dozen relaxed loads, so schedulers can read it on every decision. Every word is an atomic,
//! so a torn read is detected and retried rather than being undefined behaviour. The source information
//! (set once at start) sits in a `OnceLock`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering, fence};

use super::{LoadSample, Source, SourceInfo};

const WORDS: usize = 12;

/// The shared slot; `Node` holds one and the sampler writes it.
#[derive(Debug)]
pub struct Shared {
    seq: AtomicU64,
    words: [AtomicU64; WORDS],
    info: OnceLock<SourceInfo>,
}

impl Default for Shared {
    fn default() -> Self {
        Self::new()
    }
}

impl Shared {
    /// A slot holding [`LoadSample::EMPTY`].
    pub fn new() -> Self {
        let shared = Self {
            seq: AtomicU64::new(0),
            words: std::array::from_fn(|_| AtomicU64::new(0)),
            info: OnceLock::new(),
        };
        shared.store(&LoadSample::EMPTY);
        shared
    }

    /// The latest sample. Wait-free for the writer; a reader retries only while a store is in progress.
    pub fn load(&self) -> LoadSample {
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let words: [u64; WORDS] =
                std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return decode(&words);
            }
        }
    }

    /// Publishes a sample. Only one thread may call this (the sampler); concurrent stores would be
    /// detected by readers as torn forever.
    pub fn store(&self, sample: &LoadSample) {
        let words = encode(sample);
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        for (slot, w) in self.words.iter().zip(words) {
            slot.store(w, Ordering::Relaxed);
        }
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// Records the source chosen at start (first call wins).
    pub fn set_info(&self, info: SourceInfo) {
        let _first = self.info.set(info);
    }

    /// The source chosen at start, once the sampler has started.
    pub fn info(&self) -> Option<&SourceInfo> {
        self.info.get()
    }
}

/// `None` travels as a NaN payload that no measurement produces.
const NONE_BITS: u64 = 0x7ff8_dead_0000_0001;

fn opt(v: Option<f64>) -> u64 {
    v.map_or(NONE_BITS, f64::to_bits)
}

fn unopt(bits: u64) -> Option<f64> {
    (bits != NONE_BITS).then(|| f64::from_bits(bits))
}

fn source_code(s: Source) -> u64 {
    match s {
        Source::None => 0,
        Source::Ebpf => 1,
        Source::Psi => 2,
        Source::Procfs => 3,
    }
}

fn source_from_code(code: u64) -> Source {
    match code {
        1 => Source::Ebpf,
        2 => Source::Psi,
        3 => Source::Procfs,
        _ => Source::None,
    }
}

fn encode(s: &LoadSample) -> [u64; WORDS] {
    [
        source_code(s.source),
        s.utilisation.to_bits(),
        s.utilisation_max_cpu.to_bits(),
        opt(s.runq_latency_p50_us),
        opt(s.runq_latency_p99_us),
        s.function_cpu_share.to_bits(),
        s.context_switches_per_sec.to_bits(),
        opt(s.cpu_pressure),
        s.load_avg_1m.to_bits(),
        u64::from(s.cpus),
        s.interval_ms.to_bits(),
        s.timestamp_ms,
    ]
}

fn decode(w: &[u64; WORDS]) -> LoadSample {
    LoadSample {
        source: source_from_code(w[0]),
        utilisation: f64::from_bits(w[1]),
        utilisation_max_cpu: f64::from_bits(w[2]),
        runq_latency_p50_us: unopt(w[3]),
        runq_latency_p99_us: unopt(w[4]),
        function_cpu_share: f64::from_bits(w[5]),
        context_switches_per_sec: f64::from_bits(w[6]),
        cpu_pressure: unopt(w[7]),
        load_avg_1m: f64::from_bits(w[8]),
        cpus: u32::try_from(w[9]).unwrap_or(u32::MAX),
        interval_ms: f64::from_bits(w[10]),
        timestamp_ms: w[11],
    }
}
