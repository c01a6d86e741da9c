"""Trains a tabular Q-learning agent with NumPy in the vectorised environment, saves it, and compares it
with always running locally and always probing one peer.

Usage: python python/examples/train_tabular.py [spec.toml] [--decisions N] [--reward step|credited]
                                               [--seed S] [--gamma G] [--out PATH]

``--reward step`` (the default) learns from the step's reward, what the node's jobs that ended since its
previous decision earned; ``--reward credited`` learns each decision from its own job's reward
(``VecCluster.credits``, a delayed-reward update: see ``_credited``). Same table, start values, α, γ, ε.

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


ALPHA, EPSILON = 0.05, 0.1
# Decisions remembered per environment until their reward arrives (a job ends within far fewer of its
# node's decisions; `train` checks it).
WINDOW = 4096


def _table(vec, gamma):
    agent = TabularPolicy.zeros(vec.dims, vec.actions)
    # Optimistic start values (a reward of 1 at every step, discounted), so each action of a state is
    # tried before the table settles; from zeros the first action that paid at all stuck (+0.72 vs
    # +0.76 here at 400k decisions, step rewards, 3 actions).
    agent.q[:] = 1.0 / (1.0 - gamma)
    return agent


def _epsilon_greedy(rng, q, rows, actions_n):
    explore = rng.random(len(rows)) < EPSILON
    return np.where(explore, rng.integers(actions_n, size=len(rows)), q[rows].argmax(axis=1))


def train(vec, decisions, seed=1, reward="step", gamma=0.9):
    """Tabular Q-learning of node 0's decisions in ``vec`` for ``decisions`` decisions, from the
    ``"credited"`` or the ``"step"`` rewards, discount ``gamma`` per decision of the node; the greedy
    :class:`TabularPolicy` it ends with."""
    learn = {"credited": _credited, "step": _stepped}[reward]
    rng = np.random.default_rng(0)
    agent = _table(vec, gamma)
    t0 = time.perf_counter()
    done_decisions = learn(vec, agent, rng, decisions, seed, gamma)
    elapsed = time.perf_counter() - t0
    rate = done_decisions / elapsed
    print(f"trained on {done_decisions} decisions ({reward} rewards) in {elapsed:.1f} s ({rate:.0f}/s)")
    return agent


def _stepped(vec, agent, rng, decisions, seed, gamma):
    """Q-learning on the step reward: what node 0's ended jobs earned since its previous decision,
    taken as the outcome of the decision just made."""
    q = agent.q
    states, _ = vec.reset(seed)
    rows = agent.rows(states)
    done_decisions = 0
    while done_decisions < decisions:
        actions = _epsilon_greedy(rng, q, rows, vec.actions)
        states, _, rewards, dones = vec.step(actions)
        next_rows = agent.rows(states)
        target = rewards[:, 0] + gamma * q[next_rows].max(axis=1) * ~dones
        np.add.at(q, (rows, actions), ALPHA * (target - q[rows, actions]))
        rows = next_rows
        done_decisions += vec.n
    return done_decisions


def _credited(vec, agent, rng, decisions, seed, gamma):
    """Q-learning with delayed rewards: each decision's (state, action) is remembered under its id;
    when its job's reward arrives, Q(s, a) moves towards r + γ max Q(s', ·), s' the state of the
    node's next decision (always seen by then: a reward arrives after its decision's step)."""
    q, n = agent.q, vec.n
    env = np.arange(n)
    # Per environment, by decision id mod WINDOW: the id, its state's row and the action taken.
    id_of = np.zeros((n, WINDOW), np.int64)
    row_of = np.zeros((n, WINDOW), np.int64)
    action_of = np.zeros((n, WINDOW), np.int64)

    def remember(where, ids, rows):
        id_of[where, ids % WINDOW] = ids
        row_of[where, ids % WINDOW] = rows

    states, _ = vec.reset(seed)
    ids = vec.decisions().astype(np.int64)
    remember(env, ids, agent.rows(states))
    done_decisions = 0
    while done_decisions < decisions:
        actions = _epsilon_greedy(rng, q, row_of[env, ids % WINDOW], vec.actions)
        action_of[env, ids % WINDOW] = actions
        last = ids
        states, _, _, dones = vec.step(actions)
        ids = vec.decisions().astype(np.int64)
        rows = agent.rows(states)
        # The continuing episodes' new decisions are successors of credited ones: remember them first.
        # An ended episode's credits are its own, and its last decision has no successor; the next
        # episode's first decision (id 1 again) is remembered after them.
        going = ~dones
        remember(env[going], ids[going], rows[going])
        credits = vec.credits()
        owner = np.repeat(env, np.diff(credits.offsets))
        judged = credits.decision.astype(np.int64)
        slot = judged % WINDOW
        assert np.all(id_of[owner, slot] == judged), "a reward outlived WINDOW decisions"
        s, a = row_of[owner, slot], action_of[owner, slot]
        final = dones[owner] & (judged == last[owner])
        future = q[row_of[owner, (judged + 1) % WINDOW]].max(axis=1) * ~final
        target = credits.reward + gamma * future
        np.add.at(q, (s, a), ALPHA * (target - q[s, a]))
        remember(env[dones], ids[dones], rows[dones])
        done_decisions += n
    return done_decisions


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec", nargs="?", default=None)
    ap.add_argument("--decisions", type=int, default=400_000)
    ap.add_argument("--envs", type=int, default=32)
    ap.add_argument("--arrivals", type=int, default=100_000, help="measured arrivals per episode")
    ap.add_argument(
        "--reward", choices=["step", "credited"], default="step", help="the rewards the table learns from"
    )
    ap.add_argument("--seed", type=int, default=1, help="training episodes' first seed")
    ap.add_argument("--gamma", type=float, default=0.9, help="discount per decision (0: each decision alone)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    vec = VecCluster(args.spec, args.envs, arrivals=args.arrivals)
    agent = train(vec, args.decisions, args.seed, args.reward, args.gamma)
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
