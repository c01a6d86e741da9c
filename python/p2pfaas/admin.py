"""Signed calls to a node's admin API, and reading reports — for notebooks and scripts.

A node with ``auth.cluster_key_file`` requires an HMAC-SHA256 signature on admin, peer and gossip
routes (``node/src/auth.rs``): over ``"p2pfaas-v1\\n{METHOD}\\n{target}\\n{unix ms}\\n{nonce as 16
hex}\\n{hex SHA-256 of the body}"`` with the key (the key file's bytes without surrounding
whitespace), sent in ``X-P2pfaas-Auth-Timestamp``, ``-Nonce`` and ``-Signature``. Each signature is
valid once, within the node's replay window.
"""

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path


def read_key(path):
    """The cluster key in ``path``, as the node reads it."""
    return Path(path).read_bytes().strip()


def sign(key, method, target, body=b"", *, now_ms=None, nonce=None):
    """The three signature headers (a dict) of one call."""
    ts = int(time.time() * 1000) if now_ms is None else int(now_ms)
    nonce = secrets.randbits(64) if nonce is None else int(nonce)
    text = f"p2pfaas-v1\n{method}\n{target}\n{ts}\n{nonce:016x}\n{hashlib.sha256(body).hexdigest()}"
    signature = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
    return {
        "X-P2pfaas-Auth-Timestamp": str(ts),
        "X-P2pfaas-Auth-Nonce": f"{nonce:016x}",
        "X-P2pfaas-Auth-Signature": signature,
    }


class NodeError(Exception):
    """A node answered with an error status; ``status`` and ``body`` (parsed JSON when it is)."""

    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


class Node:
    """A node's admin API at ``address`` (``host:port``), signing with ``key`` (bytes) when given."""

    def __init__(self, address, key=None, *, timeout=10.0):
        self.address, self.key, self.timeout = address, key, timeout

    def call(self, method, target, body=None):
        """Sends one call; ``body`` is JSON-encoded unless it is bytes. Returns the parsed JSON answer
        (or text when it is not JSON); raises :class:`NodeError` on a 4xx/5xx."""
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.key is not None:
            headers.update(sign(self.key, method, target, data or b""))
        req = urllib.request.Request(f"http://{self.address}{target}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return _parse(r.read())
        except urllib.error.HTTPError as e:
            raise NodeError(e.code, _parse(e.read())) from None

    def get(self, target):
        return self.call("GET", target)

    def post(self, target, body):
        return self.call("POST", target, body)


def _parse(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def load_report(path):
    """A ``p2pfaas-bench run``/``simulate`` report: ``report.json`` in a results folder, or the file."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    return json.loads(path.read_text())
