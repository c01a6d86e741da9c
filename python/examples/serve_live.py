"""Serves a policy trained in the Gymnasium environment to a live 3-node cluster and compares it
with PowerOfN on the same load, from the live report (issue #19, docs/external-agent.md).

Usage: python python/examples/serve_live.py [--policy out/tabular_policy.npz] [--seconds 20]
                                             [--timeout-ms 2] [--train-decisions 100000]

1. The policy: ``python/examples/out/tabular_policy.npz`` (written by ``train_tabular.py``) loaded
   with ``p2pfaas.policies.load_policy`` when both exist; otherwise a tabular Q policy is trained
   here, in ``VecCluster`` on ``bench/specs/hetero-deadline.toml`` (the same algorithm and table as
   train_tabular.py), for ``--train-decisions`` decisions.
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
from pathlib import Path

import numpy as np

from p2pfaas import agent

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CAP = 4  # as train_tabular.py: counts above CAP share a row


def index(states, dims):
    """Row of each state: its values capped at CAP, as a base-(CAP+1) number (train_tabular.py)."""
    s = np.minimum(states.astype(np.int64), CAP)
    return s @ ((CAP + 1) ** np.arange(dims, dtype=np.int64))


def train_here(decisions):
    """Tabular Q-learning in the vectorised environment on hetero-deadline.toml (train_tabular.py's
    algorithm); returns the greedy policy."""
    from p2pfaas.env import VecCluster

    vec = VecCluster(str(ROOT / "bench/specs/hetero-deadline.toml"), 32, arrivals=20_000)
    rng = np.random.default_rng(0)
    q = np.zeros(((CAP + 1) ** vec.dims, vec.actions), np.float32)
    states, _ = vec.reset(1)
    rows, done, t0 = index(states, vec.dims), 0, time.perf_counter()
    while done < decisions:
        explore = rng.random(vec.n) < 0.1
        actions = np.where(explore, rng.integers(vec.actions, size=vec.n), q[rows].argmax(axis=1))
        states, _, rewards, dones = vec.step(actions)
        nxt = index(states, vec.dims)
        target = rewards[:, 0] + 0.9 * q[nxt].max(axis=1) * ~dones
        np.add.at(q, (rows, actions), 0.05 * (target - q[rows, actions]))
        rows, done = nxt, done + vec.n
    print(f"trained here: {done} decisions in {time.perf_counter() - t0:.1f} s "
          f"(state dims {vec.dims}, {vec.actions} actions)")
    dims = vec.dims
    return lambda s: q[index(s, dims)].argmax(axis=1)


def load_or_train(path, decisions):
    try:
        from p2pfaas.policies import load_policy
    except ImportError:
        load_policy = None
    if load_policy is not None and Path(path).exists():
        print(f"policy: {path} (p2pfaas.policies.load_policy)")
        return load_policy(path)
    why = "no p2pfaas.policies module" if load_policy is None else f"no {path}"
    print(f"policy: {why}; training one here")
    return train_here(decisions)


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


def live_spec(sock, seconds, timeout_ms):
    """hetero-deadline-live.toml on 3 nodes (n0 at half speed), PowerOfN then the served policy."""
    return f'''
name = "serve-live"
description = "3 nodes (n0 at half speed), M/M/1/10, sleep exp. 5 ms, types 60:30:15 with 16/33/700 ms deadlines"
[cluster]
nodes = 3
slots = 1
queue_len = 9
node_config = """
[learner]
reward_met = 1.0
reward_missed = 0.0
reward_rejected = 0.0
external = "unix:{sock}"
external_timeout_ms = {timeout_ms}
[learner.parameters]
actions_n = 3
"""
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
    ap.add_argument("--policy", default=str(HERE / "out/tabular_policy.npz"))
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--timeout-ms", type=int, default=2)
    ap.add_argument("--train-decisions", type=int, default=100_000)
    args = ap.parse_args()

    policy = load_or_train(args.policy, args.train_decisions)
    node_bin, bench_bin = binaries()
    served = {"transitions": 0, "reward": 0.0}

    def train(batch):
        served["transitions"] += len(batch["reward"])
        served["reward"] += float(batch["reward"].sum())

    with tempfile.TemporaryDirectory() as tmp:
        sock = f"{tmp}/agent.sock"
        server = agent.start(policy, f"unix:{sock}", train=train)
        (Path(tmp) / "spec.toml").write_text(live_spec(sock, args.seconds, args.timeout_ms))
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
