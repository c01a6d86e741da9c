"""Run a spec on the simulator: the same TOML and the same report as ``p2pfaas-bench simulate``."""

import json
import os
from pathlib import Path

from . import _native

#: The spec ``p2pfaas/Cluster-v0`` uses by default, as TOML text: the repository's
#: ``bench/specs/hetero-deadline.toml``, built into the extension (so it is the bench study's spec, not a
#: copy): 12 nodes of which n0-n2 serve at half speed, M/M/1/10, exponential 5 ms jobs of three types
#: (60 : 30 : 15) with 16 / 33 / 700 ms deadlines, 4 ms probe delay, its learner settings and actions.
DEFAULT_SPEC = _native.DEFAULT_SPEC


def spec_text(spec):
    """The TOML text of ``spec``: a path (``str`` or ``os.PathLike``), or TOML text itself."""
    if spec is None:
        spec = DEFAULT_SPEC
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and "\n" not in spec):
        return Path(spec).read_text()
    if isinstance(spec, str):
        return spec
    raise TypeError(f"spec: a path or TOML text, not {type(spec).__name__}")


def run(spec, *, seed=None, arrivals=None):
    """Simulates every (scheduler, seed, rho) point of ``spec`` and returns the report as a dict.

    ``seed`` replaces ``traffic.seeds`` by one seed; ``arrivals`` is ``simulate --arrivals``. The rows
    equal the CLI's for the same spec and options (only ``date`` differs).
    """
    return json.loads(_native.simulate(spec_text(spec), seed, arrivals))
