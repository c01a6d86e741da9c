"""p2pfaas.agent driving live nodes: decisions served, rewards streamed back, a stalled agent, an
agent restart, a change of N at run time, and the original-style HTTP learner (`learner.external`,
docs/external-agent.md)."""

import json
import re
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from p2pfaas import agent
from conftest import free_port, start_node, stop_node

# Generous against the 2 ms default: the node here is a debug build on a shared machine.
TIMEOUT_MS = 100


def learning_node(tmp, external, timeout_ms=TIMEOUT_MS, task_types=1):
    """A 2-worker node counting ``task_types`` task types whose LearningScheduler(1) asks
    ``external``; returns (process, log, address)."""
    addr = f"127.0.0.1:{free_port()}"
    proc, log = start_node(tmp, f"""
[node]
listen = "{addr}"
workers = 2
data_dir = "{tmp / "data"}"
seed = 3
[queue]
slots = 4
task_types = {task_types}
[scheduler]
name = "LearningScheduler"
parameters = ["1"]
[learner]
external = "{external}"
external_timeout_ms = {timeout_ms}
reward_met = 1.0
reward_missed = -1.0
[learner.parameters]
actions_n = 3
[discovery]
machine_id = "py-agent"
[functions.echo]
backend = "builtin"
builtin = "echo"
""")
    return proc, log, addr


def call(addr, deadline_ms=1000):
    req = urllib.request.Request(f"http://{addr}/function/echo", data=b"hi", method="POST",
                                 headers={"X-P2pfaas-Deadline-Ms": str(deadline_ms)})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, headers = r.status, r.headers
    except urllib.error.HTTPError as e:
        status, headers = e.code, e.headers
    return status, headers, time.monotonic() - started


def metric(addr, name, labels=""):
    text = urllib.request.urlopen(f"http://{addr}/metrics", timeout=5).read().decode()
    m = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def wait_for(cond, seconds=10.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


class Policy:
    """A policy whose answer a test changes: a constant action, or a stall; it expects states of
    ``dims`` values (1 + 2·N for LearningScheduler(N))."""

    def __init__(self):
        self.action = 1
        self.stall = 0.0
        self.dims = 3
        self.batches = []

    def __call__(self, states):
        assert states.dtype == np.float32 and states.ndim == 2 and states.shape[1] == self.dims
        if self.stall:
            time.sleep(self.stall)
        return np.full(len(states), self.action)

    def train(self, batch):
        self.batches.append(batch)


@pytest.fixture
def live(tmp_path):
    sock = f"unix:{tmp_path / 'agent.sock'}"
    policy = Policy()
    server = agent.start(policy, sock, train=policy.train)
    proc, log, addr = learning_node(tmp_path, sock)
    assert wait_for(lambda: (metric(addr, "p2pfaas_agent_connects_total") or 0) >= 2), \
        "both workers connect"
    yield policy, server, addr, sock
    server.close()
    stop_node(proc, log)


def test_agent_decides_for_a_live_node_and_gets_the_rewards(live):
    policy, server, addr, _ = live
    for _ in range(40):
        status, headers, _ = call(addr)
        assert status == 200
        assert headers["X-P2pfaas-Scheduler-Learning-Action"] == "1.000000"
        assert headers["X-P2pfaas-Scheduler-Fallback"] is None
    policy.action = 0
    status, headers, _ = call(addr)
    assert status == 503 and headers["X-P2pfaas-Reject-Reason"] == "learner_reject"
    assert metric(addr, "p2pfaas_agent_decisions_total") == 41
    # Rewards come back in batches (a partial batch after ~20 ms of quiet).
    assert wait_for(lambda: server.transitions >= 41), server.transitions
    got = {k: np.concatenate([b[k] for b in policy.batches]) for k in ("eid", "action", "reward", "state")}
    assert len(set(got["eid"].tolist())) == 41
    assert sorted(got["reward"].tolist()) == [0.0] + [1.0] * 40, "met → 1, rejected → 0"
    assert got["state"].shape == (41, 3)
    assert policy.batches[0]["node"] and set(b["worker"] for b in policy.batches) <= {0, 1}


def test_bad_answers_and_a_stalled_agent_fall_back_within_the_timeout(live):
    policy, _, addr, _ = live
    policy.action = 7  # outside 0..3
    status, headers, _ = call(addr)
    assert status == 200 and headers["X-P2pfaas-Scheduler-Fallback"] == "agent_bad_answer"
    policy.action, policy.stall = 1, 0.5
    status, headers, took = call(addr)
    assert status == 200
    assert headers["X-P2pfaas-Scheduler-Fallback"] == "agent_timeout"
    assert headers["X-P2pfaas-Scheduler"] == "LearningScheduler(1)"
    # Waited about TIMEOUT_MS, not the agent's 500 ms (10× slack for a loaded machine's HTTP).
    assert took < 0.45, took
    assert metric(addr, "p2pfaas_agent_fallbacks_total", '{reason="timeout"}') == 1
    assert metric(addr, "p2pfaas_agent_fallbacks_total", '{reason="bad_answer"}') == 1
    policy.stall = 0.0


def test_agent_restart_is_reconnected(live, tmp_path):
    policy, server, addr, sock = live
    server.close()
    assert wait_for(lambda: call(addr)[1]["X-P2pfaas-Scheduler-Fallback"] == "agent_disconnected")
    assert metric(addr, "p2pfaas_agent_fallbacks_total", '{reason="disconnected"}') >= 1
    connects = metric(addr, "p2pfaas_agent_connects_total")
    again = agent.start(policy, sock, train=policy.train)
    try:
        assert wait_for(lambda: metric(addr, "p2pfaas_agent_connects_total") >= connects + 2), \
            "both workers reconnect within the backoff"
        status, headers, _ = call(addr)
        assert status == 200 and headers["X-P2pfaas-Scheduler-Fallback"] is None
        assert headers["X-P2pfaas-Scheduler-Learning-Action"] == "1.000000"
    finally:
        again.close()


def test_a_new_n_at_run_time_is_announced_and_decided_by_the_agent(tmp_path):
    sock = f"unix:{tmp_path / 'agent.sock'}"
    policy, hellos = Policy(), []
    server = agent.start(policy, sock, train=policy.train, hello=hellos.append)
    proc, log, addr = learning_node(tmp_path, sock, timeout_ms=1000, task_types=2)
    try:
        assert wait_for(lambda: (metric(addr, "p2pfaas_agent_connects_total") or 0) >= 2)
        for _ in range(5):
            status, headers, _ = call(addr)
            assert status == 200 and headers["X-P2pfaas-Scheduler-Fallback"] is None
        policy.dims = 5  # 1 + 2·2
        body = json.dumps({"name": "LearningScheduler", "parameters": ["2"]}).encode()
        req = urllib.request.Request(f"http://{addr}/configuration/scheduler", data=body, method="POST")
        assert urllib.request.urlopen(req, timeout=5).status == 200
        for _ in range(20):
            status, headers, _ = call(addr)
            assert status == 200 and headers["X-P2pfaas-Scheduler-Fallback"] is None, dict(headers)
            assert headers["X-P2pfaas-Scheduler-Learning-Action"] == "1.000000"
            assert headers["X-P2pfaas-Scheduler-Learning-State"].count(",") == 4
        for reason in ("shape_mismatch", "disconnected", "timeout", "bad_answer", "busy"):
            assert metric(addr, "p2pfaas_agent_fallbacks_total", f'{{reason="{reason}"}}') == 0, reason
        assert metric(addr, "p2pfaas_agent_decisions_total") == 25
        assert metric(addr, "p2pfaas_agent_connects_total") == 2, "announced on the same connections"
        # Both workers said 3 at the start; those that decided after the change said 5 since.
        assert sorted(h["dims"] for h in hellos[:2]) == [3, 3]
        assert hellos[2:] and all(h["dims"] == 5 for h in hellos[2:]), hellos
        assert all(h["actions"] == 3 and h["node"] for h in hellos)
        # Transitions after the change are read with the new shape.
        assert wait_for(lambda: server.transitions >= 25), server.transitions
        assert policy.batches[-1]["state"].shape[1] == 5
    finally:
        server.close()
        stop_node(proc, log)


def test_decides_around_a_new_hello_in_one_read_go_to_the_policy_with_their_own_shape(tmp_path):
    # A node's decides of the old shape, the new hello and a decide of the new shape can arrive in
    # one read; each decide must be read with the shape in force when it was sent.
    shapes, hellos = [], []
    server = agent.start(lambda s: shapes.append(s.shape) or [1] * len(s), f"unix:{tmp_path / 'a.sock'}",
                         hello=hellos.append)

    def frame(kind, body):
        return struct.pack("<IB", len(body) + 1, kind) + body

    def hello(dims):
        return frame(agent.HELLO, struct.pack("<BHHHH", agent.VERSION, dims, 3, 0, 2) + b"n0")

    def decide(eid, dims):
        return frame(agent.DECIDE, struct.pack("<QH", eid, 0) + np.arange(dims, dtype="<f4").tobytes())

    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(tmp_path / "a.sock"))
        s.sendall(hello(3) + decide(1, 3) + hello(5) + decide(2, 5))
        answers = b""
        while len(answers) < 30:
            chunk = s.recv(64)
            assert chunk, f"the agent closed the connection after {len(answers)} bytes of answers"
            answers += chunk
    server.close()
    eids = sorted(struct.unpack_from("<IBQH", answers, off)[2] for off in (0, 15))
    assert eids == [1, 2]
    assert sorted(shapes) == [(1, 3), (1, 5)]
    assert [h["dims"] for h in hellos] == [3, 5]


def test_agent_over_tcp(tmp_path):
    policy = Policy()
    server = agent.start(policy, "tcp:127.0.0.1:0", train=policy.train)
    proc, log, addr = learning_node(tmp_path, f"tcp:127.0.0.1:{server.port}")
    try:
        assert wait_for(lambda: (metric(addr, "p2pfaas_agent_connects_total") or 0) >= 2)
        for _ in range(5):
            status, headers, _ = call(addr)
            assert status == 200 and headers["X-P2pfaas-Scheduler-Fallback"] is None
        assert wait_for(lambda: server.transitions >= 5)
    finally:
        server.close()
        stop_node(proc, log)


class StandIn(BaseHTTPRequestHandler):
    """The original learner's two routes as its Flask app answers them (contract §2)."""

    states: list = []
    batches: list = []

    def do_GET(self):
        if self.path != "/act" or "X-P2pfaas-Learning-State" not in self.headers:
            self.send_response(500)
            self.end_headers()
            return
        self.states.append([float(v) for v in self.headers["X-P2pfaas-Learning-State"].split(",")])
        body = b"1"
        self.send_response(200)
        self.send_header("X-P2pfaas-Eps", "0.9")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = self.path == "/train_batch" and self.headers["Content-Type"] == "application/json"
        if ok:
            self.batches.append(json.loads(body))
        self.send_response(200 if ok else 500)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_original_style_http_learner_as_the_agent(tmp_path):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    proc, log, addr = learning_node(tmp_path, f"http://127.0.0.1:{httpd.server_port}", timeout_ms=1000)
    try:
        for _ in range(10):
            status, headers, _ = call(addr)
            assert status == 200 and headers["X-P2pfaas-Scheduler-Fallback"] is None
            assert headers["X-P2pfaas-Scheduler-Learning-Action"] == "1.000000"
        assert headers["X-P2pfaas-Scheduler-Learning-Eps"] == "0.900000", "the learner's ε"
        assert len(StandIn.states) == 10 and all(len(s) == 3 for s in StandIn.states)
        assert wait_for(lambda: sum(len(b) for b in StandIn.batches) >= 10)
        entry = StandIn.batches[0][0]
        assert set(entry) == {"eid", "state", "action", "reward"}
        assert entry["action"] == 1 and entry["reward"] == 1.0 and entry["state"].count(",") == 2
    finally:
        httpd.shutdown()
        stop_node(proc, log)
