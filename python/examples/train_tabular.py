"""Trains a tabular Q-learning agent with NumPy in the vectorised environment, saves it, and compares it
with always running locally and always probing one peer.

Usage: python python/examples/train_tabular.py [spec.toml] [--decisions N] [--out PATH]

The agent makes node 0's decisions in the default environment (``p2pfaas/Cluster-v0``: the bench's
``hetero-deadline.toml``, where node 0 is one of the three half-speed nodes); the other nodes keep their
in-node agents. The trained policy is saved (default ``python/examples/out/tabular_policy.npz``) and
``p2pfaas.policies.load_policy(path)`` reads it back as ``states[m, dims] -> actions[m]``.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from p2pfaas.env import VecCluster
from p2pfaas.policies import TabularPolicy, load_policy

OUT = Path(__file__).resolve().parent / "out" / "tabular_policy.npz"


def run(vec, policy, decisions, seed):
    """Mean reward per decision of node 0 under ``policy(states) -> actions`` over ``decisions``."""
    states, _ = vec.reset(seed)
    total, n = 0.0, 0
    while n < decisions:
        states, _, rewards, _ = vec.step(policy(states))
        total += rewards[:, 0].sum()
        n += vec.n
    return total / n


def train(vec, decisions, seed=1):
    """Tabular Q-learning of node 0's decisions in ``vec`` for ``decisions`` decisions; the greedy
    :class:`TabularPolicy` it ends with."""
    rng = np.random.default_rng(0)
    agent = TabularPolicy.zeros(vec.dims, vec.actions)
    alpha, gamma, epsilon = 0.05, 0.9, 0.1
    q = agent.q
    # Optimistic start values (a reward of 1 at every step, discounted), so each action of a state is
    # tried before the table settles; from zeros the first action that paid at all stuck (+0.72 vs
    # +0.76 here at 400k decisions).
    q[:] = 1.0 / (1.0 - gamma)

    states, _ = vec.reset(seed)
    rows = agent.rows(states)
    t0, done_decisions = time.perf_counter(), 0
    while done_decisions < decisions:
        greedy = q[rows].argmax(axis=1)
        explore = rng.random(vec.n) < epsilon
        actions = np.where(explore, rng.integers(vec.actions, size=vec.n), greedy)
        states, _, rewards, dones = vec.step(actions)
        next_rows = agent.rows(states)
        # The reward of a step is what node 0's ended jobs earned since its previous decision.
        target = rewards[:, 0] + gamma * q[next_rows].max(axis=1) * ~dones
        np.add.at(q, (rows, actions), alpha * (target - q[rows, actions]))
        rows = next_rows
        done_decisions += vec.n
    elapsed = time.perf_counter() - t0
    print(f"trained on {done_decisions} decisions in {elapsed:.1f} s ({done_decisions / elapsed:.0f}/s)")
    return agent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec", nargs="?", default=None)
    ap.add_argument("--decisions", type=int, default=400_000)
    ap.add_argument("--envs", type=int, default=32)
    ap.add_argument("--arrivals", type=int, default=100_000, help="measured arrivals per episode")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    vec = VecCluster(args.spec, args.envs, arrivals=args.arrivals)
    agent = train(vec, args.decisions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    agent.save(args.out)
    print(f"saved to {args.out}")

    evaluation = 100_000
    learned = run(vec, load_policy(args.out), evaluation, 1000)
    local = run(vec, lambda s: np.ones(len(s), np.uint32), evaluation, 1000)
    probe = run(vec, lambda s: np.full(len(s), 2, np.uint32), evaluation, 1000)
    print(f"mean reward per decision of node 0 (same seeds, {evaluation} decisions):")
    print(f"  tabular Q (loaded from the file) {learned:+.4f}")
    print(f"  always run here                  {local:+.4f}")
    print(f"  always probe one peer            {probe:+.4f}")


if __name__ == "__main__":
    main()
