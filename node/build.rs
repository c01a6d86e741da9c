//! Records the git commit for `GET /` (`version_commit`); "unknown" outside a git checkout.
//! With the `ebpf` feature, also builds the kernel programs (`ebpf/`) for the BPF target with
//! aya-build and the pinned nightly, into `$OUT_DIR/p2pfaas`, which `load::ebpf` embeds.
fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=P2PFAAS_COMMIT={commit}");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs/heads");
    #[cfg(feature = "ebpf")]
    if let Err(e) = ebpf::build() {
        // A build with the feature must embed real programs: fail loudly rather than ship a node that
        // silently falls back.
        eprintln!("error: building the eBPF programs failed (run ebpf/setup.sh): {e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "ebpf")]
mod ebpf {
    /// The dated nightly the kernel crate is built with (design §6; keep in step with ebpf/setup.sh).
    const TOOLCHAIN: &str = "nightly-2026-05-19";
    /// Overrides [`TOOLCHAIN`], e.g. to try a newer nightly.
    const TOOLCHAIN_ENV: &str = "P2PFAAS_EBPF_TOOLCHAIN";

    pub(crate) fn build() -> Result<(), String> {
        println!("cargo:rerun-if-env-changed={TOOLCHAIN_ENV}");
        let toolchain = std::env::var(TOOLCHAIN_ENV).unwrap_or_else(|_| TOOLCHAIN.to_owned());
        let manifest = std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?;
        let root = std::path::Path::new(&manifest).join("../ebpf");
        let root = root.to_str().ok_or("the ebpf/ path is not UTF-8")?;
        // bpf-linker is found on PATH by the nested cargo; a missing one fails there with its name.
        aya_build::build_ebpf(
            [aya_build::Package {
                name: "p2pfaas-ebpf",
                root_dir: root,
                ..Default::default()
            }],
            aya_build::Toolchain::Custom(&toolchain),
        )
        .map_err(|e| format!("{e:#}"))
    }
}
