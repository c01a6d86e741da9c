import json
import subprocess

import pytest

from p2pfaas import sim
from conftest import ROOT, binary

SPEC = ROOT / "bench" / "specs" / "learning-deadline.toml"


def test_report_equals_the_cli_for_the_same_spec_and_seed(tmp_path):
    bench = binary("P2PFAAS_BENCH_BIN", "p2pfaas-bench")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.read_text())
    out = tmp_path / "out"
    subprocess.run([bench, "simulate", str(spec), "--out", str(out), "--arrivals", "3000", "--quiet"],
                   check=True, capture_output=True, timeout=300)
    cli = json.loads((out / "report.json").read_text())
    py = sim.run(spec, arrivals=3000)
    assert py["mode"] == cli["mode"] == "simulated"
    # One row per (scheduler, ρ) of the spec, every scheduler present.
    schedulers = SPEC.read_text().count("[[scheduler]]")
    assert len(py["rows"]) == schedulers * 2  # rho = [0.5, 0.7]
    assert len({r["scheduler"] for r in py["rows"]}) == schedulers
    for key in ("schema", "commit", "spec", "rows"):
        assert py[key] == cli[key], key
    # Another seed, other rows.
    assert sim.run(str(spec), seed=9, arrivals=3000)["rows"] != py["rows"]


def test_spec_text_and_errors():
    text = SPEC.read_text()
    assert sim.run(text, arrivals=300)["rows"][0]["scheduler"] == "NoScheduler(false)"
    with pytest.raises(ValueError, match="simulation.speed"):
        sim.run(text + "\n[simulation]\nspeed = [1, 2]\n", arrivals=300)
