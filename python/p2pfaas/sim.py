"""Run a spec on the simulator: the same TOML and the same report as ``p2pfaas-bench simulate``."""

import json
import os
from pathlib import Path

from . import _native

#: The spec ``p2pfaas/Cluster-v0`` uses by default (12 nodes, 3 at half speed, two deadlines).
DEFAULT_SPEC = Path(__file__).parent / "specs" / "cluster-v0.toml"


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
