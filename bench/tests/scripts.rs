//! The shared shell set-up of the bench scripts (`bench/lib.sh`), run with bash.

use std::path::Path;
use std::process::Command;

/// Every node config `echo_node_toml` writes has a data dir of its own under `$work`, even for the
/// same name: successive runs of one driver in `overhead.sh` must not share persisted state.
#[test]
fn echo_node_configs_get_a_fresh_data_dir_each() {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("lib.sh");
    let script = r#"
        set -euo pipefail
        source "$1"
        work=$(mktemp -d)
        trap 'rm -rf "$work"' EXIT
        for run in 1 2; do
          echo_node_toml node-io-uring 18080
          dir=$(sed -n 's/^data_dir = "\(.*\)"$/\1/p' "$work/node-io-uring.toml")
          [ -d "$dir" ] || { echo "missing $dir"; exit 1; }
          case $dir in "$work"/*) echo "$dir" ;; *) echo "outside \$work: $dir"; exit 1 ;; esac
        done
    "#;
    let out = Command::new("bash")
        .args(["-c", script, "bash"])
        .arg(&lib)
        .output()
        .expect("bash runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dirs: Vec<&str> = text.lines().collect();
    assert_eq!(dirs.len(), 2, "{text}");
    assert_ne!(dirs[0], dirs[1], "two runs share a data dir");
}
