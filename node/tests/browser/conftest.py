"""Fixtures of the dashboard's browser tests: live 3-node clusters (with and without a cluster key) under
open-loop load from `p2pfaas-bench load`, and a headless Debian chromium driven through chromium-driver.
run.sh sets P2PFAAS_NODE_BIN and P2PFAAS_BENCH_BIN."""

import json
import os
import random
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
IDS = ["alpha", "beta", "gamma"]
KEY = "browser-test-cluster-key-0123456789"
# Flags for chromium as root in a container: no sandbox, no GPU, nothing fetched from the network.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port():
    """A loopback port free now, below the kernel's ephemeral range: the open cluster's load and
    forwards keep making outgoing connections, whose ports come from that range and could take a
    port picked there before its node binds it."""
    low = 32768
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    while True:
        port = random.randrange(max(1024, low // 2), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def get_json(addr, path):
    with urllib.request.urlopen(f"http://{addr}{path}", timeout=5) as r:
        return json.loads(r.read())


class Cluster:
    """Three nodes on loopback that know each other, killed on close."""

    def __init__(self, tmp, key=None):
        self.tmp, self.procs, self.load = tmp, [], None
        # A node that exits at start (its port taken after all) is started again with new ports.
        for _ in range(3):
            why = self.start(key)
            if why is None:
                return
            self.close()
            self.procs = []
        raise RuntimeError(f"the 3 nodes did not see each other: {why}")

    def start(self, key):
        """Starts the nodes; None once each sees the other two up, else why not (with the logs)."""
        tmp = self.tmp
        ports = [free_port() for _ in IDS]
        self.addrs = [f"127.0.0.1:{p}" for p in ports]
        auth = ""
        if key:
            (tmp / "key").write_text(key + "\n")
            auth = f'[auth]\ncluster_key_file = "{tmp / "key"}"\n'
        for i, (mid, addr) in enumerate(zip(IDS, self.addrs)):
            peers = ", ".join(f'"{a}"' for a in self.addrs if a != addr)
            cfg = tmp / f"{mid}.toml"
            cfg.write_text(f"""
[node]
listen = "{addr}"
workers = 2
data_dir = "{tmp / mid}"
[queue]
slots = 2
queue_len = 2
[scheduler]
name = "PowerOfNScheduler"
parameters = ["1", "2", "true", "1"]
[discovery]
machine_id = "{mid}"
init_servers = [{peers}]
[functions.sleep]
backend = "builtin"
builtin = "sleep"
mean_ms = 20
distribution = "exponential"
{auth}""")
            log = open(tmp / f"{mid}.log", "w")
            self.procs.append(subprocess.Popen([os.environ["P2PFAAS_NODE_BIN"], "--config", str(cfg)],
                                               stdout=log, stderr=subprocess.STDOUT))
        deadline = time.time() + 20
        seen = {}
        while time.time() < deadline:
            if any(p.poll() is not None for p in self.procs):
                return "a node exited at start\n" + self.logs()
            try:
                seen = {mid: sum(p["up"] for p in get_json(a, "/events/snapshot")["peers"])
                        for mid, a in zip(IDS, self.addrs)}
                if all(n == 2 for n in seen.values()):
                    return None
            except OSError:
                pass
            time.sleep(0.2)
        return f"peers up after 20 s: {seen}\n" + self.logs()

    def logs(self):
        """Each node's exit status and the end of its log."""
        out = []
        for mid, p in zip(IDS, self.procs):
            text = (self.tmp / f"{mid}.log").read_text(errors="replace")
            out.append(f"--- {mid} (exit {p.poll()}):\n" + "\n".join(text.splitlines()[-15:]))
        return "\n".join(out)

    def start_load(self):
        """Poisson traffic on every node for at most a minute, unequal so that nodes forward."""
        args = [os.environ["P2PFAAS_BENCH_BIN"], "load", "--function", "sleep", "--duration", "60",
                "--count", "4000", "--connections", "4", "--deadline-ms", "100", "--quiet",
                "--out", str(self.tmp / "load.csv")]
        for addr, rate in zip(self.addrs, ["50", "15", "5"]):
            args += ["--target", addr, "--rate", rate]
        self.load = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def ui(self):
        return f"http://{self.addrs[0]}/ui"

    def close(self):
        for p in ([self.load] if self.load else []) + self.procs:
            p.terminate()
        for p in ([self.load] if self.load else []) + self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def open_cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("open"))
    c.start_load()
    yield c
    c.close()


@pytest.fixture(scope="module")
def keyed_cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("keyed"), key=KEY)
    c.start_load()
    yield c
    c.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    opts = Options()
    for flag in CHROMIUM_FLAGS + ["--window-size=1280,1400"]:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    opts.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()
