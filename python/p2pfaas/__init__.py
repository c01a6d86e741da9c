"""p2pfaas for Python: the node's simulator, a Gymnasium environment on it, and admin helpers.

- :mod:`p2pfaas.sim` — run a ``p2pfaas-bench simulate`` spec and get its report as dicts.
- :mod:`p2pfaas.env` — ``p2pfaas/Cluster-v0`` (one node), :class:`~p2pfaas.env.VecCluster`
  (many decisions per call, NumPy in and out) and :class:`~p2pfaas.env.ParallelCluster`
  (one agent per node, PettingZoo ``ParallelEnv`` style).
- :mod:`p2pfaas.admin` — signed calls to a node's admin API.
- :mod:`p2pfaas.agent` — serve a Python policy to live nodes (``learner.external``).
"""

from . import sim  # noqa: F401

try:
    import gymnasium as _gym
except ImportError:  # the simulator works without Gymnasium; the environments need it
    _gym = None

if _gym is not None and "p2pfaas/Cluster-v0" not in _gym.registry:
    _gym.register(id="p2pfaas/Cluster-v0", entry_point="p2pfaas.env:ClusterEnv")
