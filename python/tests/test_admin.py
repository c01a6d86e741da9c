import urllib.error
import urllib.request

import pytest

from p2pfaas import admin
from conftest import free_port, start_node, stop_node

KEY = b"python-admin-test-key-0123456789"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("node")
    (tmp / "key").write_bytes(KEY + b"\n")
    addr = f"127.0.0.1:{free_port()}"
    proc, log = start_node(tmp, f"""
[node]
listen = "{addr}"
workers = 1
data_dir = "{tmp / "data"}"
[scheduler]
name = "NoScheduler"
parameters = ["false"]
[discovery]
machine_id = "py-admin"
[auth]
cluster_key_file = "{tmp / "key"}"
[functions.echo]
backend = "builtin"
builtin = "echo"
""")
    yield addr
    stop_node(proc, log)


def test_signed_admin_calls_are_accepted_and_others_refused(node):
    # Reads are open; changes need the signature (docs/security.md).
    signed = admin.Node(node, KEY)
    assert signed.get("/configuration/scheduler")["parameters"] == ["false"]
    # A signed change with a body: the body's digest is part of the signature.
    change = {"name": "NoScheduler", "parameters": ["true"]}
    signed.post("/configuration/scheduler", change)
    assert admin.Node(node).get("/configuration/scheduler")["parameters"] == ["true"]
    for stranger in (admin.Node(node), admin.Node(node, b"another-key-of-enough-length-000")):
        with pytest.raises(admin.NodeError) as refused:
            stranger.post("/configuration/scheduler", change)
        assert refused.value.status == 401
    # A signature is good once.
    body = b'{"name": "NoScheduler", "parameters": ["false"]}'
    headers = admin.sign(KEY, "POST", "/configuration/scheduler", body, nonce=42)
    req = lambda: urllib.request.urlopen(  # noqa: E731
        urllib.request.Request(f"http://{node}/configuration/scheduler", data=body, method="POST",
                               headers={**headers, "Content-Type": "application/json"}), timeout=5)
    req().read()
    with pytest.raises(urllib.error.HTTPError) as replay:
        req()
    assert replay.value.code == 401
    assert signed.get("/configuration/scheduler")["parameters"] == ["false"]


def test_signature_is_the_documented_hmac():
    h = admin.sign(b"k" * 16, "POST", "/x", b"{}", now_ms=1000, nonce=1)
    assert h["X-P2pfaas-Auth-Timestamp"] == "1000"
    assert h["X-P2pfaas-Auth-Nonce"] == "0000000000000001"
    assert len(h["X-P2pfaas-Auth-Signature"]) == 64
    assert h != admin.sign(b"k" * 16, "POST", "/x", b"{ }", now_ms=1000, nonce=1)
