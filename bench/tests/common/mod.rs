//! What the bench's process tests share.

use std::path::PathBuf;

/// `p2pfaas-node` from the same target directory as the bench binary (`cargo test --workspace` builds
/// it); `None` after printing `skipped: …` when it is missing.
pub fn node_binary() -> Option<PathBuf> {
    let node = PathBuf::from(env!("CARGO_BIN_EXE_p2pfaas-bench")).with_file_name("p2pfaas-node");
    if node.is_file() {
        Some(node)
    } else {
        eprintln!(
            "skipped: {} is missing; build it with `cargo build -p p2pfaas-node` (cargo test --workspace does)",
            node.display()
        );
        None
    }
}
