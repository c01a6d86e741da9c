"""Serve a Python policy to live nodes: the external agent of ``learner.external``.

A node whose scheduler is ``LearningScheduler`` and whose config says
``learner.external = "unix:/path.sock"`` (or ``"tcp:host:port"``) opens one connection per worker
thread to this server and, for every client job, sends the learning state and waits at most
``learner.external_timeout_ms`` for the action (after that it decides with its fallback scheduler).
Finished decisions come back with the node-computed reward as transitions, in batches. The wire
format is ``docs/external-agent.md``.

``serve(policy, address, train=None, hello=None)`` answers every connected node from one thread:
the decides that arrive together — from all connections — go to ``policy`` as one 2-D ``float32``
array (one state per row, the task type in column 0; one call per state dimension) and the actions
it returns go back at once. ``train`` receives each batch of transitions as a dict of NumPy arrays
(``eid``, ``task_type``, ``action``, ``reward``, ``state``) plus ``node`` and ``worker``. ``hello``
receives a dict (``node``, ``worker``, ``dims``, ``actions``) at each connection's hello, and again
when a node announces another state dimension on a live connection (its scheduler changed to
another N at run time).

Pure Python (``selectors``, ``struct``, NumPy); no compiled part.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import struct
import threading
from typing import Callable, Optional

import numpy as np

VERSION = 1
HELLO, DECIDE, TRANSITIONS, ACTION = 1, 2, 3, 0x81

_LEN = struct.Struct("<I")
_DECIDE_HEAD = struct.Struct("<QH")  # eid, task type
_ACTION = struct.Struct("<IBQH")  # len, kind, eid, action
_HELLO = struct.Struct("<BHHHH")  # version, dims, actions, worker, node id length

log = logging.getLogger("p2pfaas.agent")

Policy = Callable[[np.ndarray], "np.ndarray | list[int]"]
Train = Callable[[dict], None]
Hello = Callable[[dict], None]


def transition_dtype(dims: int) -> np.dtype:
    """The NumPy record of one transition with ``dims`` state values (little-endian, packed)."""
    return np.dtype([("eid", "<u8"), ("task_type", "<u2"), ("action", "<u2"), ("reward", "<f4"),
                     ("state", "<f4", (dims,))])


def _listen(address: str) -> socket.socket:
    if address.startswith("unix:"):
        path = address[len("unix:"):]
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
    elif address.startswith("tcp:"):
        host, _, port = address[len("tcp:"):].rpartition(":")
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), int(port)))
    else:
        raise ValueError(f"address must be unix:/path.sock or tcp:host:port, got {address!r}")
    sock.listen(64)
    sock.setblocking(False)
    return sock


class _Conn:
    """One node worker's connection: what its hello said and the bytes not yet parsed or sent."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.writing = False  # registered for EVENT_WRITE (only while output waits)
        self.dims: Optional[int] = None
        self.actions = 0
        self.worker = 0
        self.node = ""


class Server:
    """The agent server; :func:`serve` runs one until :meth:`close` (or Ctrl-C)."""

    def __init__(self, policy: Policy, address: str, train: Optional[Train] = None,
                 hello: Optional[Hello] = None):
        self.policy = policy
        self.train = train
        self.hello = hello
        self.address = address
        self._listener = _listen(address)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        # A self-pipe, so close() from another thread wakes the loop.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._closing = threading.Event()
        self.decisions = 0
        self.transitions = 0

    @property
    def port(self) -> Optional[int]:
        """The TCP port bound (useful with ``tcp:127.0.0.1:0``)."""
        name = self._listener.getsockname()
        return name[1] if isinstance(name, tuple) else None

    def close(self) -> None:
        """Stops :meth:`serve_forever` (from any thread)."""
        self._closing.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def serve_forever(self) -> None:
        try:
            while not self._closing.is_set():
                decides: list = []  # (conn, eid, state bytes, dims), across connections
                for key, mask in self._sel.select(timeout=0.5):
                    if key.data is None:
                        self._accept()
                    elif key.data == "wake":
                        self._wake_r.recv(64)
                    else:
                        conn = key.data
                        if mask & selectors.EVENT_WRITE:
                            self._flush(conn)
                        if mask & selectors.EVENT_READ:
                            self._read(conn, decides)
                if decides:
                    self._answer(decides)
        finally:
            for key in list(self._sel.get_map().values()):
                key.fileobj.close()
            self._sel.close()
            self._wake_w.close()
            if self.address.startswith("unix:"):
                try:
                    os.unlink(self.address[len("unix:"):])
                except OSError:
                    pass

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sel.register(sock, selectors.EVENT_READ, _Conn(sock))

    def _drop(self, conn: _Conn, why: str) -> None:
        log.info("node %s worker %d: connection closed (%s)", conn.node, conn.worker, why)
        try:
            self._sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        conn.dims = None

    def _read(self, conn: _Conn, decides: list) -> None:
        try:
            data = conn.sock.recv(1 << 18)
        except BlockingIOError:
            return
        except OSError as e:
            return self._drop(conn, str(e))
        if not data:
            return self._drop(conn, "closed by the node")
        conn.inbuf += data
        buf, off = conn.inbuf, 0
        view = memoryview(buf)
        try:
            while len(buf) - off >= 5:
                (length,) = _LEN.unpack_from(buf, off)
                if len(buf) - off - 4 < length:
                    break
                kind, body = buf[off + 4], off + 5
                end = off + 4 + length
                if kind == DECIDE and conn.dims is not None:
                    eid, _task = _DECIDE_HEAD.unpack_from(buf, body)
                    # The dimension now: a later hello in the same read may change the connection's.
                    decides.append((conn, eid, bytes(view[body + 10:end]), conn.dims))
                elif kind == TRANSITIONS and conn.dims is not None:
                    self._transitions(conn, view[body:end])
                elif kind == HELLO:
                    version, dims, actions, worker, nlen = _HELLO.unpack_from(buf, body)
                    if version != VERSION:
                        view.release()
                        return self._drop(conn, f"protocol version {version}, this agent speaks {VERSION}")
                    conn.dims, conn.actions, conn.worker = dims, actions, worker
                    conn.node = bytes(view[body + 9:body + 9 + nlen]).decode(errors="replace")
                    log.info("node %s worker %d: %d state values, %d actions", conn.node, worker, dims,
                             actions)
                    self._hello(conn)
                else:
                    view.release()
                    return self._drop(conn, f"unexpected frame kind {kind}")
                off = end
        finally:
            view.release()
        del buf[:off]

    def _hello(self, conn: _Conn) -> None:
        if self.hello is None:
            return
        try:
            self.hello({"node": conn.node, "worker": conn.worker, "dims": conn.dims,
                        "actions": conn.actions})
        except Exception:  # noqa: BLE001 — a callback bug must not stop serving
            log.exception("hello callback raised")

    def _transitions(self, conn: _Conn, body: memoryview) -> None:
        (count,) = _LEN.unpack_from(body, 0)
        records = np.frombuffer(body[4:], dtype=transition_dtype(conn.dims), count=count).copy()
        self.transitions += count
        if self.train is None:
            return
        batch = {name: records[name] for name in records.dtype.names}
        batch["node"], batch["worker"] = conn.node, conn.worker
        try:
            self.train(batch)
        except Exception:  # noqa: BLE001 — a training bug must not stop serving
            log.exception("train raised; batch dropped")

    def _answer(self, decides: list) -> None:
        # One policy call per state dimension (nodes may count different task types, and a node
        # may change its N at run time).
        by_dims: dict = {}
        for d in decides:
            by_dims.setdefault(d[3], []).append(d)
        touched = set()
        for dims, group in by_dims.items():
            states = np.frombuffer(b"".join(g[2] for g in group), dtype="<f4").reshape(len(group), dims)
            try:
                actions = np.asarray(self.policy(states)).reshape(-1)
            except Exception:  # noqa: BLE001 — the nodes fall back on their own; keep serving
                log.exception("policy raised; %d decisions left unanswered", len(group))
                continue
            if len(actions) != len(group):
                log.error("policy returned %d actions for %d states", len(actions), len(group))
                continue
            for (conn, eid, _, _), action in zip(group, actions.tolist()):
                conn.outbuf += _ACTION.pack(11, ACTION, eid, int(action) & 0xFFFF)
                touched.add(conn)
            self.decisions += len(group)
        for conn in touched:
            self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        if conn.dims is None:
            return
        try:
            sent = conn.sock.send(conn.outbuf) if conn.outbuf else 0
        except BlockingIOError:
            sent = 0
        except OSError as e:
            return self._drop(conn, str(e))
        del conn.outbuf[:sent]
        # Re-register only when write interest changes: one syscall less per answer.
        if bool(conn.outbuf) != conn.writing:
            conn.writing = bool(conn.outbuf)
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.writing else 0)
            self._sel.modify(conn.sock, events, conn)


def serve(policy: Policy, address: str, train: Optional[Train] = None,
          hello: Optional[Hello] = None) -> None:
    """Serves ``policy`` to every node that connects to ``address`` (``unix:/path.sock`` or
    ``tcp:host:port``) until interrupted; ``train`` gets the transitions, ``hello`` each connection's
    shape (again when it changes). See the module docs."""
    server = Server(policy, address, train, hello)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def start(policy: Policy, address: str, train: Optional[Train] = None,
          hello: Optional[Hello] = None) -> Server:
    """Like :func:`serve`, in a daemon thread; returns the server (``close()`` stops it)."""
    server = Server(policy, address, train, hello)
    threading.Thread(target=server.serve_forever, name="p2pfaas-agent", daemon=True).start()
    return server
