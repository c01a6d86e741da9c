#!/usr/bin/env python3
"""Membership figures from real node processes on loopback (issue: peers).

Starts N p2pfaas-node processes (one worker each, default membership settings, all seeded with node 0),
then, per round:
  join  - starts one more node (seeded with node 0) and times until every other node lists it;
  crash - SIGKILLs that node and times until no survivor lists it any more.
Prints the median and range over the rounds, and the gossip bytes sent per node per second while the
cluster is idle (from p2pfaas_gossip_bytes_sent_total).

Usage: bench/membership.py [nodes=12] [rounds=5]     (builds the release node first)
"""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
        return r.read()


def listed(port):
    try:
        return {m["name"] for m in json.loads(get(port, "/discovery/list"))}
    except OSError:
        return None


def gossip_bytes(port):
    for line in get(port, "/metrics").decode().splitlines():
        if line.startswith("p2pfaas_gossip_bytes_sent_total "):
            return int(line.split()[1])
    return 0


class Cluster:
    def __init__(self, binary, work):
        self.binary, self.work, self.nodes = binary, work, {}

    def start(self, name, seeds):
        port = free_port()
        conf = os.path.join(self.work, f"{name}.toml")
        with open(conf, "w") as f:
            f.write(
                f'[node]\nlisten = "127.0.0.1:{port}"\nworkers = 1\nblocking_threads = 1\n'
                f'[log]\nlevel = "warn"\n[discovery]\nmachine_id = "{name}"\n'
                f"init_servers = {json.dumps(seeds)}\n"
                '[functions.echo]\nbackend = "builtin"\nbuiltin = "echo"\n'
            )
        p = subprocess.Popen(
            [self.binary, "--config", conf, "--data-dir", os.path.join(self.work, name)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        line = p.stdout.readline().decode()
        assert line.startswith("listening"), line
        self.nodes[name] = (p, port)
        return port

    def kill(self, name):
        p, _ = self.nodes.pop(name)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop(self):
        for p, _ in self.nodes.values():
            p.kill()
            p.wait()


def until(pred, limit=30.0):
    start = time.monotonic()
    while not pred():
        if time.monotonic() - start > limit:
            raise TimeoutError
        time.sleep(0.02)
    return time.monotonic() - start


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "p2pfaas-node"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.path.join(target, "release", "p2pfaas-node")
    with tempfile.TemporaryDirectory() as work:
        c = Cluster(binary, work)
        try:
            seed = c.start("n0", [])
            for i in range(1, n - 1):
                c.start(f"n{i}", [f"127.0.0.1:{seed}"])
            names = set(c.nodes)
            until(lambda: all(listed(port) == names - {nm} for nm, (_, port) in c.nodes.items()), 60)
            joins, crashes = [], []
            for r in range(rounds):
                name = f"x{r}"
                c.start(name, [f"127.0.0.1:{seed}"])
                others = [port for nm, (_, port) in c.nodes.items() if nm != name]
                joins.append(until(lambda: all(name in (listed(p) or ()) for p in others)))
                time.sleep(2)
                c.kill(name)
                crashes.append(until(lambda: all(name not in (listed(p) or ()) for p in others)))
                time.sleep(1)
            ports = [port for _, port in c.nodes.values()]
            before = sum(gossip_bytes(p) for p in ports)
            time.sleep(10)
            after = sum(gossip_bytes(p) for p in ports)
        finally:
            c.stop()
    rate = (after - before) / 10 / len(ports)
    fmt = lambda xs: f"median {statistics.median(xs):.2f} s (range {min(xs):.2f}-{max(xs):.2f}) over {len(xs)}"
    print(f"{n} nodes on loopback, default membership settings")
    print(f"join known by all:        {fmt(joins)}")
    print(f"crash dropped by all:     {fmt(crashes)}")
    print(f"gossip bytes/node/s idle: {rate:.0f}")


if __name__ == "__main__":
    main()
