"""Policies as plain NumPy: batch in, actions out, saved to and loaded from ``.npz`` files.

A policy is a callable from a batch of states (``float32[m, dims]``, the environment's observations)
to actions (``int64[m]``). :func:`load_policy` turns a saved file back into one, so a policy trained in
the simulator can be served elsewhere (``python/examples/serve_live.py``) without the training code.
"""

import numpy as np

#: Counts above ``cap`` share a row of a :class:`TabularPolicy`'s table.
DEFAULT_CAP = 4


class TabularPolicy:
    """Greedy in a table of action values ``q[row, action]``; a state's row is its values rounded
    down and capped at ``cap``, read as a base-``cap + 1`` number (the learning state is small and
    integer: task type, running and queued jobs per type, discretised features)."""

    kind = "tabular"

    def __init__(self, q, cap=DEFAULT_CAP):
        q = np.asarray(q, dtype=np.float32)
        if q.ndim != 2:
            raise ValueError(f"q: a 2-D table [rows, actions], not shape {q.shape}")
        self.q, self.cap = q, int(cap)
        dims = np.log(q.shape[0]) / np.log(self.cap + 1)
        self.dims = int(round(dims))
        if (self.cap + 1) ** self.dims != q.shape[0]:
            raise ValueError(f"q: {q.shape[0]} rows is not (cap + 1) ** dims for cap {self.cap}")
        self._weights = (self.cap + 1) ** np.arange(self.dims, dtype=np.int64)

    @classmethod
    def zeros(cls, dims, actions, cap=DEFAULT_CAP):
        """An all-zero table for states of ``dims`` values and ``actions`` actions."""
        return cls(np.zeros(((cap + 1) ** dims, actions), np.float32), cap)

    def rows(self, states):
        """The table row of each state."""
        states = np.asarray(states)
        if states.ndim != 2 or states.shape[1] != self.dims:
            raise ValueError(f"states: a batch [m, {self.dims}], not shape {states.shape}")
        capped = np.clip(states, 0, self.cap).astype(np.int64)
        return capped @ self._weights

    def __call__(self, states):
        return self.q[self.rows(states)].argmax(axis=1)

    def save(self, path):
        """Writes the policy to ``path`` (``.npz``); :func:`load_policy` reads it back."""
        np.savez(path, kind=np.array(self.kind), q=self.q, cap=np.array(self.cap))


def load_policy(path):
    """The policy saved at ``path`` by a policy's ``save``: a callable ``states[m, dims] -> actions[m]``."""
    with np.load(path, allow_pickle=False) as f:
        kind = str(f["kind"]) if "kind" in f else None
        if kind == TabularPolicy.kind:
            return TabularPolicy(f["q"], int(f["cap"]))
    raise ValueError(f"{path}: not a saved p2pfaas policy (kind {kind!r}; known: {TabularPolicy.kind!r})")
