import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def binary(var, name):
    """A binary of the workspace: ``$var`` (python/test.sh sets it after building), else skip."""
    path = os.environ.get(var)
    if not path or not Path(path).exists():
        pytest.skip(f"${var} does not name a built {name} (python/test.sh builds it)")
    return path
