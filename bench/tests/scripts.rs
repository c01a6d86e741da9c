//! The shared shell set-up of the bench scripts (`bench/lib.sh`), run with bash.

use std::path::Path;
use std::process::Command;

/// Runs `script` in bash with `bench/lib.sh`'s path as `$1`; its stdout, after checking it succeeded.
fn run_with_lib(script: &str) -> String {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("lib.sh");
    let out = Command::new("bash")
        .args(["-c", script, "bash"])
        .arg(&lib)
        .output()
        .expect("bash runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Every node config `echo_node_toml` writes has a data dir of its own under `$work`, even for the
/// same name: successive runs of one driver in `overhead.sh` must not share persisted state.
#[test]
fn echo_node_configs_get_a_fresh_data_dir_each() {
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
    let text = run_with_lib(script);
    let dirs: Vec<&str> = text.lines().collect();
    assert_eq!(dirs.len(), 2, "{text}");
    assert_ne!(dirs[0], dirs[1], "two runs share a data dir");
}

/// `hop_summary` reports the median of the per-round differences (the mean of the middle two for an
/// even count), their range and count, for latency and CPU alike.
#[test]
fn hop_summary_gives_the_median_and_range_of_the_per_round_differences() {
    let script = r#"
        set -euo pipefail
        source "$1"
        declare -A hop_p50=([hop]="5 -3 10 7 " [odd]="9 1 4 ")
        declare -A hop_cpu=([hop]="1.0 4.0 2.0 3.0 " [odd]="0.5 0.5 0.5 ")
        hop_summary hop; echo
        hop_summary odd; echo
    "#;
    let text = run_with_lib(script);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "+6 µs (range -3…+10 over 4 round(s)); CPU +2.5 µs per request (range +1.0…+4.0)",
            "+4 µs (range +1…+9 over 3 round(s)); CPU +0.5 µs per request (range +0.5…+0.5)",
        ],
        "{text}"
    );
}
