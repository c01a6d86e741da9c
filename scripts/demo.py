#!/usr/bin/env python3
"""The README's demo: a 3-node p2pfaas cluster on loopback under uneven open-loop Poisson traffic, once per
scheduler, with a results table.

Node a gets most of the traffic (it alone would be saturated), b and c get little. Each scheduler is set on
all three nodes through the compatible /configuration/scheduler route, then every node receives Poisson
arrivals (the generator never waits for an answer before sending the next request) for a few seconds.
The table shows, per scheduler: calls, answered 200, refused 429, forwarded share, latency percentiles.

Usage: scripts/demo.py [seconds-per-scheduler=6]    (needs python3; builds the release node)
"""

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATES = {"a": 60.0, "b": 8.0, "c": 8.0}  # calls per second per node
SLOTS, QUEUE, SERVICE_MS = 2, 2, 40  # K, Q, mean service time: node a alone is at rho = 1.2
SCHEDULERS = [
    ("NoScheduler", ["true"]),
    ("PowerOfNScheduler", ["1", "1", "true", "1"]),
    ("LeastLoadedCached", ["2", "1"]),
    ("JSQ", ["2"]),
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(binary, work, name, port, peers):
    conf = os.path.join(work, f"{name}.toml")
    with open(conf, "w") as f:
        f.write(
            f'[node]\nlisten = "127.0.0.1:{port}"\nworkers = 1\n[log]\nlevel = "warn"\n'
            f"[queue]\nslots = {SLOTS}\nqueue_len = {QUEUE}\n"
            f'[discovery]\nmachine_id = "{name}"\ninit_servers = {json.dumps(peers)}\n'
            f'[functions.work]\nbackend = "builtin"\nbuiltin = "sleep"\nmean_ms = {SERVICE_MS}\n'
            'distribution = "exponential"\n'
        )
    p = subprocess.Popen(
        [binary, "--config", conf, "--data-dir", os.path.join(work, name)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    line = p.stdout.readline().decode()
    if not line.startswith("listening"):
        sys.exit(f"node {name} did not start")
    return p


def call(port, path, body=b"", method="POST", timeout=10):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
    except OSError:
        return 0, {}, b""


def drive(port, rate, seconds, rng, out, lock):
    """Open-loop Poisson arrivals: each call runs in its own thread, sends are never delayed by answers."""
    threads, t, start = [], 0.0, time.monotonic()
    while True:
        t += rng.expovariate(rate)
        if t > seconds:
            break
        delay = start + t - time.monotonic()
        if delay > 0:
            time.sleep(delay)

        def one():
            sent = time.monotonic()
            status, headers, _ = call(port, "/function/work", b"x")
            latency = time.monotonic() - sent
            forwarded = headers.get("X-P2pfaas-Externally-Executed") == "True"
            with lock:
                out.append((status, latency, forwarded))

        th = threading.Thread(target=one)
        th.start()
        threads.append(th)
    for th in threads:
        th.join()


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 6.0
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "p2pfaas-node"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.path.join(target, "release", "p2pfaas-node")
    ports = {n: free_port() for n in RATES}
    with tempfile.TemporaryDirectory() as work:
        procs = []
        try:
            for n, port in ports.items():
                peers = [f"127.0.0.1:{p}" for m, p in ports.items() if m != n]
                procs.append(start(binary, work, n, port, peers))
            deadline = time.time() + 10
            while time.time() < deadline:
                lists = [json.loads(call(p, "/discovery/list", method="GET")[2] or b"[]") for p in ports.values()]
                if all(len(x) == 2 for x in lists):
                    break
                time.sleep(0.1)
            print(f"3 nodes on loopback, K={SLOTS} Q={QUEUE}, function: sleep, exponential mean {SERVICE_MS} ms")
            print(f"Poisson arrivals per node: {RATES} (node a alone: rho = "
                  f"{RATES['a'] * SERVICE_MS / 1000 / SLOTS:.1f}); {seconds:.0f} s per scheduler\n")
            print(f"| scheduler | calls | 200 | 429 | forwarded | p50 ms | p95 ms | p99 ms |")
            print(f"|---|---|---|---|---|---|---|---|")
            for seed, (name, params) in enumerate(SCHEDULERS):
                desc = json.dumps({"name": name, "parameters": params}).encode()
                for p in ports.values():
                    call(p, "/configuration/scheduler", desc)
                time.sleep(0.5)
                out, lock = [], threading.Lock()
                drivers = [
                    threading.Thread(
                        target=drive,
                        args=(ports[n], RATES[n], seconds, random.Random(seed * 10 + i), out, lock),
                    )
                    for i, n in enumerate(RATES)
                ]
                for d in drivers:
                    d.start()
                for d in drivers:
                    d.join()
                ok = [lat for s, lat, _ in out if s == 200]
                refused = sum(1 for s, _, _ in out if s == 429)
                fwd = sum(1 for s, _, f in out if s == 200 and f)
                print(
                    f"| {name}({', '.join(params)}) | {len(out)} | {len(ok)} | {refused} | "
                    f"{100 * fwd / max(1, len(ok)):.0f}% | {1000 * percentile(ok, 0.5):.0f} | "
                    f"{1000 * percentile(ok, 0.95):.0f} | {1000 * percentile(ok, 0.99):.0f} |"
                )
        finally:
            for p in procs:
                p.terminate()
                p.wait()


if __name__ == "__main__":
    main()
