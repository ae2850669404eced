"""The soak benchmark (``benchmarks/soak.py``, not collected) runs: a 200-frame smoke run on the simulator."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"


def test_a_short_soak_on_the_simulator_survives_its_faults(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    out = tmp_path / "soak.json"
    doc = soak.main(["--frames", "200", "--camera", "sim", "--size", "64", "--method", "mean_luminance+brent+nets",
                     "--faults", "timeout=0.05,black=0.02,corrupt=0.02,stale=0.3,nack=0.05,stuck=0.05", "--json",
                     str(out)])  # fmt: skip
    run = json.loads(out.read_text())["runs"]["sim"]
    assert run == json.loads(json.dumps(doc["runs"]["sim"], default=str))
    assert run["frames"] >= 200 and run["crashes"] == 0 and run["out_of_limit_commands"] == 0
    assert run["faults_injected_total"] > 0 and run["faults_survived"] >= run["faults_injected_total"] - 2
    assert run["commands"]["lens"] > 0 and run["rss_mb"]["end"] > 0
