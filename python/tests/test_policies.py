import numpy as np
import pytest

from p2pfaas.env import VecCluster
from p2pfaas.policies import TabularPolicy, load_policy


def test_saved_policy_loads_and_acts_the_same(tmp_path):
    vec = VecCluster(None, 8, arrivals=2000)
    rng = np.random.default_rng(3)
    policy = TabularPolicy.zeros(vec.dims, vec.actions)
    policy.q[:] = rng.normal(size=policy.q.shape)
    path = tmp_path / "p.npz"
    policy.save(path)
    loaded = load_policy(path)
    states, _ = vec.reset(4)
    seen = 0
    for _ in range(200):
        actions = loaded(states)
        assert actions.shape == (8,) and actions.dtype.kind == "i"
        assert np.array_equal(actions, policy(states))
        seen |= np.bitwise_or.reduce(1 << actions)
        states, _, _, _ = vec.step(actions)
    assert seen == (1 << vec.actions) - 1, "the table's random values pick every action somewhere"


def test_rows_cap_counts_and_bad_input_is_named(tmp_path):
    policy = TabularPolicy.zeros(2, 3, cap=4)
    assert policy.rows(np.array([[0, 0], [1, 0], [0, 1], [9, 9]], np.float32)).tolist() == [0, 1, 5, 24]
    with pytest.raises(ValueError, match=r"states: a batch \[m, 2\]"):
        policy(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="rows"):
        TabularPolicy(np.zeros((7, 3)))
    other = tmp_path / "other.npz"
    np.savez(other, w=np.zeros(3))
    with pytest.raises(ValueError, match="not a saved p2pfaas policy"):
        load_policy(other)
