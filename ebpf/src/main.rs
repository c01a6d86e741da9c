//! The p2pfaas kernel programs: raw scheduler tracepoints (`raw_tp`, which need no BTF, so they load on
//! kernels without it such as Raspberry Pi OS's) that keep per-CPU busy time, context switches,
//! wake-ups, a wake-to-run latency histogram and the CPU time of the node's function processes and,
//! apart, of its own threads. They use the tracepoints' arguments as values only (task addresses as
//! keys of direct-mapped arrays, `slot.rs`) and take the current task's ids from helpers. Where the
//! kernel has BTF, the loader prefers the `tp_btf` twins of the same programs (`btf.rs`): same maps,
//! thread ids read from the tasks, time from the run queue's clock instead of a helper, and the
//! wake-to-run delay read from the kernel's own enqueue stamp instead of a program on every wake-up.
//! Both kinds read a clock only when the CPU's accounting period changes (`switch.rs`;
//! ebpf/README.md has the costs).
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
mod slot;
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
