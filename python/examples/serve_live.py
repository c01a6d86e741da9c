"""Serves a policy trained in the Gymnasium environment to a live 3-node cluster and compares it
with PowerOfN on the same load, from the live report (issue #19, docs/external-agent.md).

Usage: python python/examples/serve_live.py [--policy out/tabular_policy.npz] [--seconds 20]
                                             [--timeout-ms 2] [--train-decisions 100000]

1. The policy: ``--policy PATH``, by default ``python/examples/out/tabular_policy.npz`` (what
   ``train_tabular.py`` writes after training in the Gymnasium environment on
   ``bench/specs/hetero-deadline.toml``), loaded with ``load_policy``; without that file a tabular Q
   policy is trained here by ``train_tabular.train`` in ``VecCluster`` on the live cluster's own spec,
   simulated, for ``--train-decisions`` decisions. Either way the states and actions are the ones the
   live nodes send: the live spec's learner section is read from ``hetero-deadline.toml``.
2. A live cluster shaped like ``bench/specs/hetero-deadline-live.toml`` but with 3 nodes (n0 at half
   speed) is run by ``p2pfaas-bench run`` with release binaries, twice on the same seeded load:
   ``PowerOfNScheduler(1, 3, false, 1)``, then ``LearningScheduler(3)`` whose every node asks this
   process (``learner.external = "unix:…"``): ``p2pfaas.agent`` serves the policy to all of them.
3. Prints the two rows of the live report side by side, and what the agent served and was sent.

Binaries: ``$P2PFAAS_NODE_BIN`` / ``$P2PFAAS_BENCH_BIN`` when set, else built with
``cargo build --release``. Bounded: 2 × (5 s warm-up + --seconds) of load plus start-up, < 2 min.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np

from p2pfaas import agent
from p2pfaas.env import VecCluster
from p2pfaas.policies import load_policy

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from train_tabular import train  # noqa: E402  (the sibling example's trainer, not a copy of it)


def policy_for(path, spec_file, decisions):
    """The saved policy at ``path`` or, without that file, a table trained on ``spec_file`` simulated."""
    if Path(path).exists():
        print(f"policy: {path} (p2pfaas.policies.load_policy)")
        return load_policy(path)
    print(f"policy: no {path}; trained here on the live spec, simulated ({decisions} decisions)")
    return train(VecCluster(str(spec_file), 32, arrivals=20_000), decisions)


def binaries():
    node, bench = os.environ.get("P2PFAAS_NODE_BIN"), os.environ.get("P2PFAAS_BENCH_BIN")
    if node and bench:
        return node, bench
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "p2pfaas-node", "-p", "p2pfaas-bench"],
                   cwd=ROOT, check=True)
    meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                                     cwd=ROOT, check=True, capture_output=True).stdout)
    release = Path(meta["target_directory"]) / "release"
    return node or str(release / "p2pfaas-node"), bench or str(release / "p2pfaas-bench")


def live_spec(seconds, sock=None, timeout_ms=2):
    """hetero-deadline-live.toml on 3 nodes (n0 at half speed), PowerOfN then the learning scheduler,
    with hetero-deadline.toml's learner section; with ``sock`` every node asks the agent there."""
    learner = tomllib.loads((ROOT / "bench/specs/hetero-deadline.toml").read_text())["cluster"]["node_config"]
    if sock is not None:
        learner = learner.replace("[learner]\n", f'[learner]\nexternal = "unix:{sock}"\n'
                                  f"external_timeout_ms = {timeout_ms}\n", 1)
    return f'''
name = "serve-live"
description = "3 nodes (n0 at half speed), M/M/1/10, sleep exp. 5 ms, types 60:30:15 with 16/33/700 ms deadlines"
[cluster]
nodes = 3
slots = 1
queue_len = 9
node_config = """{learner}"""
[function]
builtin = "sleep"
mean_ms = 5
distribution = "exponential"
[traffic]
rho = [0.5]
weights = [1.0, 1.5, 1.0]
duration_s = {seconds}
warmup_s = 5
[simulation]
arrivals = 100000
[[node]]
speed = 0.5
[[mix]]
weight = 60
task_type = 0
deadline_ms = 16
payload = "t0"
[[mix]]
weight = 30
task_type = 1
deadline_ms = 33
payload = "t1"
[[mix]]
weight = 15
task_type = 2
deadline_ms = 700
payload = "t2"
[[scheduler]]
name = "PowerOfNScheduler"
parameters = ["1", "3", "false", "1"]
[[scheduler]]
name = "LearningScheduler"
parameters = ["3"]
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default=str(HERE / "out/tabular_policy.npz"),
                    help="a saved policy (default: train_tabular.py's); trained here when missing")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--timeout-ms", type=int, default=2)
    ap.add_argument("--train-decisions", type=int, default=100_000)
    args = ap.parse_args()

    node_bin, bench_bin = binaries()
    served = {"transitions": 0, "reward": 0.0}

    def record(batch):
        served["transitions"] += len(batch["reward"])
        served["reward"] += float(batch["reward"].sum())

    with tempfile.TemporaryDirectory() as tmp:
        sock = f"{tmp}/agent.sock"
        (Path(tmp) / "train.toml").write_text(live_spec(args.seconds))
        policy = policy_for(args.policy, Path(tmp) / "train.toml", args.train_decisions)
        server = agent.start(policy, f"unix:{sock}", train=record)
        (Path(tmp) / "spec.toml").write_text(live_spec(args.seconds, sock, args.timeout_ms))
        out = Path(tmp) / "results"
        t0 = time.perf_counter()
        with open(Path(tmp) / "bench.log", "w") as log:
            run = subprocess.run([bench_bin, "run", str(Path(tmp) / "spec.toml"), "--node-bin", node_bin,
                                  "--out", str(out), "--quiet"], stdout=log, stderr=subprocess.STDOUT,
                                 timeout=240)
        if run.returncode != 0:
            sys.exit(f"p2pfaas-bench run failed:\n{(Path(tmp) / 'bench.log').read_text()}")
        server.close()
        report = json.loads((out / "report.json").read_text())
    print(f"live run: {time.perf_counter() - t0:.0f} s, 3 nodes, release node binary")
    print()
    print("| scheduler | deadline met | reject rate | p50 ms | p99 ms | forwarded | fallbacks |")
    print("|---|---|---|---|---|---|---|")
    for row in report["rows"]:
        met = row.get("deadline_met")
        falls = ", ".join(f"{k} {v}" for k, v in sorted(row.get("fallbacks", {}).items())) or "-"
        print(f"| {row['scheduler']} | {met:.3f} | {row['reject_rate']:.3f} | {row['p50_ms']:.1f} | "
              f"{row['p99_ms']:.1f} | {row['forwarded']:.3f} | {falls} |")
    print()
    mean = served["reward"] / max(served["transitions"], 1)
    print(f"agent: {server.decisions} decisions served, {served['transitions']} transitions received "
          f"(mean node-computed reward {mean:.3f})")


if __name__ == "__main__":
    sys.exit(main())
