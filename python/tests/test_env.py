import sys
import tomllib

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import p2pfaas  # noqa: F401  (registers p2pfaas/Cluster-v0)
from p2pfaas import sim
from p2pfaas.env import ClusterEnv, ParallelCluster, VecCluster, shared_policy
from conftest import ROOT

DEADLINE = ROOT / "bench" / "specs" / "learning-deadline.toml"
HETERO = ROOT / "bench" / "specs" / "hetero-deadline.toml"


def test_registered_env_with_defaults_is_the_bench_study_and_passes_the_checker():
    # The default spec is the bench's hetero-deadline.toml as this checkout has it (the package was
    # built from it): its learner's features and actions, whatever they are today.
    assert sim.DEFAULT_SPEC == HETERO.read_text()
    spec = tomllib.loads(HETERO.read_text())
    learner = tomllib.loads(spec["cluster"]["node_config"])["learner"]
    # The environment drives the spec's first LearningScheduler (the single decision).
    learning = next(s for s in spec["scheduler"] if s["name"] == "LearningScheduler")
    task_types = int(learning["parameters"][0])
    assert task_types == len(spec["mix"]) == 3
    dims = 1 + 2 * task_types + len(learner.get("state_features", []))
    env = gym.make("p2pfaas/Cluster-v0", arrivals=2000)
    assert env.observation_space.shape == (dims,)
    assert env.action_space.n == learner["parameters"]["actions_n"]
    assert env.unwrapped._vec.cluster_nodes == spec["cluster"]["nodes"] == 12
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    env.close()


def episode(env, seed, steps):
    """``steps`` decisions with a state-dependent rule; everything seen."""
    obs, _ = env.reset(seed=seed)
    seen = [obs]
    for t in range(steps):
        action = int(obs[1] + obs[3] + t) % 3
        obs, reward, terminated, truncated, info = env.step(action)
        seen.append(np.append(obs, [reward, terminated]))
        if terminated:
            assert info["report"]["rows"][0]["scheduler"] == "LearningScheduler(2)"
            obs, _ = env.reset(seed=seed + 1)
    return np.concatenate(seen)


def test_same_seed_same_episode():
    env = ClusterEnv(DEADLINE, arrivals=300)
    a = episode(env, 11, 1500)
    assert np.array_equal(a, episode(env, 11, 1500))
    assert not np.array_equal(a, episode(env, 12, 1500))


def test_spec_path_selects_another_cluster_and_rewards_follow_the_rule():
    env = gym.make("p2pfaas/Cluster-v0", spec=str(DEADLINE), arrivals=300)
    env.reset(seed=1)
    rewards = []
    terminated = False
    while not terminated:
        _, r, terminated, _, info = env.step(1)
        rewards.append(r)
    rewards = np.array(rewards)
    # +1 met, -1 missed, 0 rejected; several jobs may end between two decisions.
    assert np.all(rewards == np.round(rewards)) and rewards.sum() != 0
    report = info["report"]
    assert report["spec"]["cluster"]["nodes"] == 3


def test_vectorised_steps_roll_episodes_over():
    vec = VecCluster(DEADLINE, 16, arrivals=200)
    states, nodes = vec.reset(5)
    assert states.shape == (16, vec.dims) and states.dtype == np.float32
    assert np.all(nodes == 0)
    done_seen = np.zeros(16, bool)
    for _ in range(2000):
        states, nodes, rewards, dones = vec.step(np.ones(16, np.uint32))
        assert rewards.shape == (16, 3) and np.all(rewards[:, 1:] == 0), "only node 0 is driven"
        done_seen |= dones
    assert done_seen.all()
    assert vec.report(0)["mode"] == "simulated"
    with pytest.raises(ValueError, match="action 7"):
        vec.step(np.full(16, 7))
    with pytest.raises(ValueError, match="bytes"):
        vec.step(np.ones(3))


def test_bad_spec_names_the_problem():
    with pytest.raises(ValueError, match="LearningScheduler"):
        VecCluster(DEADLINE.read_text().replace('"LearningScheduler"', '"NoScheduler"'), 1)
    with pytest.raises(ValueError, match="nodes: 5"):
        ClusterEnv(DEADLINE, node=5)


def test_every_node_an_agent_with_a_shared_policy():
    env = ParallelCluster(DEADLINE, arrivals=200)
    assert env.possible_agents == ["node0", "node1", "node2"]
    act = shared_policy(lambda obs: np.where(obs[:, 1] + obs[:, 2] >= 2, 2, 1))
    obs, _ = env.reset(seed=2)
    deciders, totals = set(), dict.fromkeys(env.possible_agents, 0.0)
    while env.agents:
        deciders.update(obs)
        obs, rewards, terms, _, infos = env.step(act(obs))
        for a, r in rewards.items():
            totals[a] += r
    assert deciders == set(env.possible_agents), "every node decides"
    assert all(v != 0 for v in totals.values()), totals
    assert infos["node0"]["report"]["rows"]


def credited_episode(env, seed, rule):
    """One episode of ``env`` (a :class:`ClusterEnv`) under ``rule(decision id) -> action``: the
    actions by decision id, the step rewards and the credited pairs."""
    _, info = env.reset(seed=seed)
    actions, rewards, credited = {}, [], []
    terminated = False
    while not terminated:
        decision = info["decision"]
        assert decision not in actions, "a fresh id per decision"
        actions[decision] = rule(decision)
        _, reward, terminated, _, info = env.step(actions[decision])
        rewards.append(reward)
        credited.append(info["credited"])
        # Per step: the credited rewards are the step's reward, split by decision.
        assert sum(r for _, r in info["credited"]) == reward
    return actions, rewards, credited


def test_every_decision_is_credited_once_and_credits_sum_to_the_rewards():
    env = ClusterEnv(DEADLINE, arrivals=300)
    actions, rewards, credited = credited_episode(env, 4, lambda d: (d * 7 // 3) % 3)
    assert sorted(actions) == list(range(1, len(actions) + 1)), "ids 1, 2, ... in decision order"
    ids = [d for step in credited for d, _ in step]
    assert sorted(ids) == sorted(actions), "every decision credited exactly once"
    assert sum(r for step in credited for _, r in step) == sum(rewards) != 0
    # Credit is per decision, the step reward is not: many steps carry others' rewards.
    assert sum(len(step) != 1 for step in credited) > len(credited) / 10


def test_credit_goes_to_the_decision_it_judges():
    # Three distinct verdicts, so a reward names its outcome.
    text = DEADLINE.read_text().replace("reward_missed = 0.0", "reward_missed = -1.0")
    text = text.replace("reward_rejected = 0.0", "reward_rejected = -5.0")
    env = ClusterEnv(text, arrivals=300)
    # Reject every third decision (its reward is reward_rejected), run or probe the others.
    actions, _, credited = credited_episode(env, 9, lambda d: 0 if d % 3 == 0 else 1 + d % 2)
    outcome = dict(pair for step in credited for pair in step)
    assert len(outcome) == len(actions) > 300
    for decision, action in actions.items():
        expected = {-5.0} if action == 0 else {1.0, -1.0}
        assert outcome[decision] in expected, (decision, action, outcome[decision])
    assert {outcome[d] for d, a in actions.items() if a != 0} == {1.0, -1.0}


def test_vectorised_credits_are_flat_arrays_per_environment():
    vec = VecCluster(DEADLINE, 4, arrivals=200)
    _, nodes = vec.reset(1)
    assert vec.decisions().tolist() == [1, 1, 1, 1]
    credits = vec.credits()
    assert credits.offsets.tolist() == [0] * 5 and credits.decision.size == 0
    seen = [set() for _ in range(4)]
    for _ in range(600):
        pending = vec.decisions().copy()
        for i in range(4):
            seen[i].add(int(pending[i]))
        _, nodes, rewards, dones = vec.step(np.ones(4, np.uint32))
        credits = vec.credits()
        assert credits.decision.dtype == np.uint64 and credits.reward.dtype == np.float32
        for i in range(4):
            part = slice(credits.offsets[i], credits.offsets[i + 1])
            assert np.all(credits.node[part] == 0)
            assert credits.reward[part].sum() == rewards[i, 0]
            assert set(credits.decision[part].tolist()) <= seen[i]
            if dones[i]:
                seen[i].clear()
    assert dones.dtype == np.bool_


def test_every_agent_gets_its_own_credits():
    env = ParallelCluster(DEADLINE, arrivals=200)
    obs, infos = env.reset(seed=3)
    made = {a: set() for a in env.possible_agents}
    credited = {a: [] for a in env.possible_agents}
    while env.agents:
        (agent,) = obs
        made[agent].add(infos[agent]["decision"])
        obs, rewards, _, _, infos = env.step({agent: 1})
        for a, info in infos.items():
            credited[a] += [d for d, _ in info["credited"]]
            assert sum(r for _, r in info["credited"]) == rewards[a]
    for a in env.possible_agents:
        assert sorted(credited[a]) == sorted(made[a]) and made[a], a


def test_the_tabular_example_learns_from_credited_rewards():
    # The example's delayed-reward bookkeeping across episode ends (its own assertions check the ids).
    sys.path.insert(0, str(ROOT / "python" / "examples"))
    try:
        from train_tabular import train
    finally:
        sys.path.pop(0)
    vec = VecCluster(DEADLINE, 4, arrivals=200)
    agent = train(vec, 6000, reward="credited")
    assert np.any(agent.q != agent.q.max()), "updated from its start values"
