import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def binary(var, name):
    """A binary of the workspace: ``$var`` (python/test.sh sets it after building), else skip."""
    path = os.environ.get(var)
    if not path or not Path(path).exists():
        pytest.skip(f"${var} does not name a built {name} (python/test.sh builds it)")
    return path


def free_port():
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(tmp, config):
    """Starts the node binary with ``config`` (TOML) written to ``tmp/node.toml``, logging to
    ``tmp/node.log``; waits until ``/metrics`` answers at ``[node] listen`` (20 s at most).
    Returns ``(process, log file)``; :func:`stop_node` ends both."""
    exe = binary("P2PFAAS_NODE_BIN", "p2pfaas-node")
    addr = re.search(r'^listen = "([^"]+)"', config, re.M).group(1)
    (tmp / "node.toml").write_text(config)
    log = open(tmp / "node.log", "w")
    proc = subprocess.Popen([exe, "--config", str(tmp / "node.toml")], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://{addr}/metrics", timeout=1).read()
            return proc, log
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                log.close()
                raise RuntimeError(f"the node did not start: {(tmp / 'node.log').read_text()}")
            time.sleep(0.1)


def stop_node(proc, log):
    proc.terminate()
    proc.wait(timeout=10)
    log.close()
