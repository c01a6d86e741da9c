"""Decisions per second through VecCluster with a linear NumPy policy (argmax(states @ W)).

Usage: taskset -c 0 python python/examples/bench_vec.py [--envs 16] [--seconds 5] [--all-nodes] [--credits]
                                                        [spec.toml]

--all-nodes: the policy decides for every node (the multi-agent case); otherwise for node 0 only, while
the other nodes' in-node agents decide inside the simulator. Prints decisions per second of wall time
and per second of the process's CPU time (all its threads): on a shared machine the second is what one
core of its own would do. --credits: also reads the decision ids and the credited rewards every step.
"""

import argparse
import time

import numpy as np

from p2pfaas.env import VecCluster

ap = argparse.ArgumentParser()
ap.add_argument("spec", nargs="?", default=None)
ap.add_argument("--envs", type=int, default=16)
ap.add_argument("--seconds", type=float, default=5.0)
ap.add_argument("--all-nodes", action="store_true")
ap.add_argument("--credits", action="store_true")
args = ap.parse_args()

probe = VecCluster(args.spec, 1)
nodes = list(range(probe.cluster_nodes)) if args.all_nodes else [0]
vec = VecCluster(args.spec, args.envs, nodes=nodes)
states, _ = vec.reset(0)
w = np.random.default_rng(0).normal(size=(vec.dims, vec.actions)).astype(np.float32)
t0, c0, decisions = time.perf_counter(), time.process_time(), 0
while time.perf_counter() - t0 < args.seconds:
    states, _, rewards, dones = vec.step(np.argmax(states @ w, axis=1))
    if args.credits:
        vec.decisions(), vec.credits()
    decisions += vec.n
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(
    f"{vec.n} envs, policy decides for {len(nodes)} of {vec.cluster_nodes} nodes: "
    f"{decisions / wall:,.0f} decisions/s ({decisions / cpu:,.0f} per CPU second, CPU {cpu / wall:.0%} of wall)"
)
