"""Gymnasium environments on the simulator: the agent makes the learning decisions of simulated nodes.

Observation: the node's learning state, the in-node agent's features (``[task type, running per
type..., queued per type..., features...]``). Action: the node's learning actions (0 reject, 1 run
here, 2 probe one peer and forward if less loaded, 3 + i forward to peer i, up to the spec's
``learner.parameters.actions_n``). Reward: the node's reward rule (``learner.reward_*``), delivered
when a job ends. Two views of it:

- the step's ``reward``: the sum of the rewards of the node's jobs that ended since its previous
  decision (mostly decisions taken before, not the one just taken);
- credited: each reward with the id of the decision it judges. Decisions are numbered 1, 2, ... per
  node and episode (the simulator's execution id); ``info["decision"]`` is the pending decision's id,
  ``info["credited"]`` the ``(decision id, reward)`` pairs that arrived during the step (for
  :class:`VecCluster`: :meth:`VecCluster.decisions` and :meth:`VecCluster.credits`). Every decision
  is credited exactly once by the end of its episode (the run ends when its jobs have), and per step
  the credited rewards sum to ``reward``.

Every other node runs the spec's (first) ``LearningScheduler`` with its own
in-node agent. One episode is one simulated run at one rho (the spec's first unless ``rho=`` is
given), ``traffic.warmup_s`` then ``arrivals`` arrivals.
"""

import json
from collections import namedtuple

import gymnasium as gym
import numpy as np

from . import _native
from .sim import spec_text

Credits = namedtuple("Credits", "offsets node decision reward")
Credits.__doc__ = """The last step's rewards by decision, flat: environment ``i``'s are at
``offsets[i]:offsets[i + 1]`` (``offsets`` uint32[n + 1]); ``node`` uint32, ``decision`` uint64 (the
id :meth:`VecCluster.decisions` gave it), ``reward`` float32, in delivery order."""


class VecCluster:
    """``n`` independent simulated clusters stepped together: one call answers ``n`` decisions.

    Arrays in and out, no Python object per decision. ``reset(seed)`` starts episodes with seeds
    ``seed, seed + 1, ...``; an episode that ends is replaced by the next seed's at once (its
    ``dones`` entry is true, its state is the new episode's first, and :meth:`report` has the ended
    one's report).

    Per-decision credit: :meth:`decisions` has the ids of the pending decisions, :meth:`credits` the
    rewards the last step delivered, each with the id of the decision it judges. Where an episode
    ended, that step's credits are the ended episode's and the pending id is the new episode's first
    (ids restart at 1 per episode).
    """

    def __init__(self, spec=None, n=1, *, nodes=None, rho=None, arrivals=None):
        self._native = _native.VecCluster(spec_text(spec), n, nodes, rho, arrivals)
        self.n = n
        self.dims = self._native.dims
        self.actions = self._native.actions
        self.cluster_nodes = self._native.cluster_nodes
        self.nodes = self._native.nodes

    def _states(self, raw):
        return np.frombuffer(raw, dtype=np.float32).reshape(self.n, self.dims)

    def reset(self, seed=0):
        """Returns ``(states float32[n, dims], deciding node uint32[n])``."""
        states, nodes = self._native.reset(int(seed) % 2**64)
        return self._states(states), np.frombuffer(nodes, dtype=np.uint32)

    def step(self, actions):
        """Answers the pending decisions; returns ``(states, nodes, rewards float32[n, cluster_nodes],
        dones bool[n])``. ``rewards[i, j]`` is what node ``j`` of environment ``i`` earned since the
        previous step (only driven nodes' rewards are counted)."""
        actions = np.ascontiguousarray(actions, dtype=np.uint32)
        states, nodes, rewards, dones = self._native.step(actions.tobytes())
        return (
            self._states(states),
            np.frombuffer(nodes, dtype=np.uint32),
            np.frombuffer(rewards, dtype=np.float32).reshape(self.n, self.cluster_nodes),
            np.frombuffer(dones, dtype=np.bool_),
        )

    def decisions(self):
        """The pending decisions' ids, ``uint64[n]`` (of the nodes ``reset``/``step`` returned)."""
        return np.frombuffer(self._native.decisions(), dtype=np.uint64)

    def credits(self):
        """The rewards the last ``step`` delivered, each with its decision: :class:`Credits`."""
        offsets, node, decision, reward = self._native.credits()
        return Credits(
            np.frombuffer(offsets, dtype=np.uint32),
            np.frombuffer(node, dtype=np.uint32),
            np.frombuffer(decision, dtype=np.uint64),
            np.frombuffer(reward, dtype=np.float32),
        )

    def report(self, i=0):
        """The report (dict) of environment ``i``'s last ended episode, or ``None``."""
        raw = self._native.report(i)
        return None if raw is None else json.loads(raw)


def _spaces(vec):
    return (
        gym.spaces.Box(low=0.0, high=np.inf, shape=(vec.dims,), dtype=np.float32),
        gym.spaces.Discrete(vec.actions),
    )


class ClusterEnv(gym.Env):
    """``p2pfaas/Cluster-v0``: the learning decisions of one node (``node=``, default 0) of ``spec``
    (default :data:`p2pfaas.sim.DEFAULT_SPEC`, the bench's ``hetero-deadline.toml``; node 0 is one of its
    half-speed nodes).

    ``info["decision"]`` (``reset`` and every step but the last) is the id of the observation's
    decision; ``info["credited"]`` (every step) lists the ``(decision id, reward)`` pairs that arrived
    during the step, whose rewards sum to the step's ``reward``."""

    metadata = {"render_modes": []}

    def __init__(self, spec=None, *, node=0, rho=None, arrivals=None):
        self._vec = VecCluster(spec, 1, nodes=[node], rho=rho, arrivals=arrivals)
        self.node = node
        self.observation_space, self.action_space = _spaces(self._vec)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        episode_seed = seed if seed is not None else int(self.np_random.integers(2**63))
        states, _ = self._vec.reset(episode_seed)
        return states[0].copy(), {"decision": int(self._vec.decisions()[0])}

    def step(self, action):
        states, _, rewards, dones = self._vec.step(np.array([action], dtype=np.uint32))
        terminated = bool(dones[0])
        credits = self._vec.credits()
        info = {"credited": list(zip(credits.decision.tolist(), credits.reward.tolist()))}
        if terminated:
            info["report"] = self._vec.report(0)
        else:
            info["decision"] = int(self._vec.decisions()[0])
        return states[0].copy(), float(rewards[0, self.node]), terminated, False, info


class ParallelCluster:
    """Every learning node of ``spec`` is an agent (PettingZoo ``ParallelEnv`` style, one agent per
    node, named ``node0``, ``node1``, ...).

    Decisions happen one at a time in simulated time, so each step's ``observations`` holds the one
    agent whose decision is pending and ``step`` takes its action; ``rewards`` holds every agent
    (what each earned since the previous step). ``infos`` holds every agent too: ``"credited"``, the
    ``(decision id, reward)`` pairs of its decisions that arrived during the step (ids count each
    agent's decisions, 1, 2, ...), and for the pending agent ``"decision"``, its decision's id. Use
    :func:`shared_policy` to drive all agents with one batch policy.
    """

    metadata = {"name": "p2pfaas_cluster_v0"}

    def __init__(self, spec=None, *, rho=None, arrivals=None):
        text = spec_text(spec)
        nodes = _native.VecCluster(text, 1).cluster_nodes
        self._vec = VecCluster(text, 1, nodes=list(range(nodes)), rho=rho, arrivals=arrivals)
        self.possible_agents = [f"node{i}" for i in range(nodes)]
        self.agents = list(self.possible_agents)
        self._obs, self._act = _spaces(self._vec)

    def observation_space(self, agent):
        return self._obs

    def action_space(self, agent):
        return self._act

    def _pending(self, states, nodes):
        return {f"node{int(nodes[0])}": states[0].copy()}

    def reset(self, seed=None, options=None):
        if seed is None:
            seed = int(np.random.default_rng().integers(2**63))
        states, nodes = self._vec.reset(seed)
        self.agents = list(self.possible_agents)
        obs = self._pending(states, nodes)
        return obs, {a: {"decision": int(self._vec.decisions()[0])} for a in obs}

    def step(self, actions):
        (action,) = actions.values()
        states, nodes, rewards, dones = self._vec.step(np.array([action], dtype=np.uint32))
        done = bool(dones[0])
        rew = {a: float(rewards[0, i]) for i, a in enumerate(self.possible_agents)}
        term = {a: done for a in self.possible_agents}
        trunc = {a: False for a in self.possible_agents}
        credits = self._vec.credits()
        infos = {a: {"credited": []} for a in self.possible_agents}
        pairs = zip(credits.node.tolist(), credits.decision.tolist(), credits.reward.tolist())
        for node, decision, reward in pairs:
            infos[self.possible_agents[node]]["credited"].append((decision, reward))
        if done:
            self.agents = []
            report = self._vec.report(0)
            for info in infos.values():
                info["report"] = report
            return {}, rew, term, trunc, infos
        obs = self._pending(states, nodes)
        for a in obs:
            infos[a]["decision"] = int(self._vec.decisions()[0])
        return obs, rew, term, trunc, infos


def shared_policy(policy):
    """One batch policy (``float32[m, dims] -> actions[m]``) for every agent: returns a function from
    an ``observations`` dict to an ``actions`` dict."""

    def act(observations):
        agents = list(observations)
        if not agents:
            return {}
        actions = np.asarray(policy(np.stack([observations[a] for a in agents])))
        return {a: int(x) for a, x in zip(agents, actions)}

    return act
