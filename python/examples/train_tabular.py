"""Trains a tabular Q-learning agent with NumPy in the vectorised environment and compares it with
always running locally and with the spec's in-node agent (``LearningScheduler`` in every node).

Usage: python python/examples/train_tabular.py [spec.toml] [--decisions N] [--out q.npy]

The state (task type, running and queued jobs per type) is small and integer, so a table indexed by
the state's values (capped) is enough. Serving the trained table to live nodes needs the node-side
external agent (``learner.external``), which is not built yet; this example stops at the simulator.
"""

import argparse
import time

import numpy as np

from p2pfaas.env import VecCluster

CAP = 4  # counts above CAP share a row


def index(states, dims):
    """Row of each state in the table: its values capped at CAP, as a base-(CAP+1) number."""
    s = np.minimum(states.astype(np.int64), CAP)
    weights = (CAP + 1) ** np.arange(dims, dtype=np.int64)
    return s @ weights


def run(vec, policy, decisions, seed):
    """Mean reward per decision of node 0 under ``policy(states) -> actions`` over ``decisions``."""
    states, _ = vec.reset(seed)
    total, n = 0.0, 0
    while n < decisions:
        states, _, rewards, _ = vec.step(policy(states))
        total += rewards[:, 0].sum()
        n += vec.n
    return total / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec", nargs="?", default=None)
    ap.add_argument("--decisions", type=int, default=400_000)
    ap.add_argument("--envs", type=int, default=32)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    vec = VecCluster(args.spec, args.envs, arrivals=20_000)
    rng = np.random.default_rng(0)
    q = np.zeros(((CAP + 1) ** vec.dims, vec.actions), np.float32)
    alpha, gamma, epsilon = 0.05, 0.9, 0.1

    states, _ = vec.reset(1)
    rows = index(states, vec.dims)
    t0, done_decisions = time.perf_counter(), 0
    while done_decisions < args.decisions:
        greedy = q[rows].argmax(axis=1)
        explore = rng.random(vec.n) < epsilon
        actions = np.where(explore, rng.integers(vec.actions, size=vec.n), greedy)
        states, _, rewards, dones = vec.step(actions)
        next_rows = index(states, vec.dims)
        # The reward of a step is what node 0's ended jobs earned since its previous decision.
        target = rewards[:, 0] + gamma * q[next_rows].max(axis=1) * ~dones
        np.add.at(q, (rows, actions), alpha * (target - q[rows, actions]))
        rows = next_rows
        done_decisions += vec.n
    elapsed = time.perf_counter() - t0
    print(f"trained on {done_decisions} decisions in {elapsed:.1f} s ({done_decisions / elapsed:.0f}/s)")
    if args.out:
        np.save(args.out, q)

    evaluation = 100_000
    learned = run(vec, lambda s: q[index(s, vec.dims)].argmax(axis=1), evaluation, 1000)
    local = run(vec, lambda s: np.ones(len(s), np.uint32), evaluation, 1000)
    probe = run(vec, lambda s: np.full(len(s), 2, np.uint32), evaluation, 1000)
    print(f"mean reward per decision of node 0 (same seeds, {evaluation} decisions):")
    print(f"  tabular Q (trained here) {learned:+.4f}")
    print(f"  always run here          {local:+.4f}")
    print(f"  always probe one peer    {probe:+.4f}")


if __name__ == "__main__":
    main()
