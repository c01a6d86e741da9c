//! The p2pfaas kernel programs: classic scheduler tracepoints (stable tracefs record layout, so they
//! load on kernels without BTF) that keep per-CPU busy time, context switches, wake-ups, a wake-to-run
//! latency histogram and the CPU time of the node's function processes and, apart, of its own threads.
//! Record offsets come from globals the loader fills in from `/sys/kernel/tracing/events/sched/*/format`.
//! Where the kernel has BTF, the loader prefers the `tp_btf` twins of the same programs (`btf.rs`): same
//! maps, no perf record to build and no probe-read helper calls, and the wake-to-run delay read from the
//! kernel's own enqueue stamp instead of a hash map written on every wake-up: ≈ 0.07–0.09 µs per context
//! switch against ≈ 0.3 µs (ebpf/README.md).
//!
//! On the host this crate compiles to an empty program so `cargo build --workspace` works; the real
//! object is built for `bpfel-unknown-none` by the node's build.rs (aya-build).
#![cfg_attr(target_arch = "bpf", no_std, no_main)]
#![cfg_attr(
    target_arch = "bpf",
    allow(
        clippy::needless_pass_by_value,
        reason = "the #[tracepoint] and #[btf_tracepoint] macros hand each program its context by value"
    )
)]

#[cfg(target_arch = "bpf")]
mod btf;
#[cfg(target_arch = "bpf")]
mod exec;
#[cfg(target_arch = "bpf")]
mod exit;
#[cfg(target_arch = "bpf")]
mod maps;
#[cfg(target_arch = "bpf")]
mod switch;
#[cfg(target_arch = "bpf")]
mod wakeup;

#[cfg(not(target_arch = "bpf"))]
fn main() {}

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    // The verifier rejects any path that could reach this; it exists only to satisfy `no_std`.
    loop {}
}

/// The kernel requires a GPL-compatible licence for the tracing helpers.
#[cfg(target_arch = "bpf")]
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
