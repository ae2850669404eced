"""dasha installs like a library: the wheel carries the shipped policies and the licence, and an installed copy finds
its policies from any working directory (not only from the checkout)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (whl,) = out.glob("dasha-*.whl")
    return whl


def test_wheel_carries_every_shipped_policy_and_the_licence(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = sorted(p.parent.name for p in (ROOT / "policies").glob("*/policy.json"))
    assert {"joint", "focus", "exposure", "focus_paper"} <= set(shipped)
    for name in shipped:
        for file in (ROOT / "policies" / name).iterdir():
            assert f"dasha/policies/{name}/{file.name}" in names, (name, file.name)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: MIT" in zipfile.ZipFile(wheel).read(meta).decode()


def test_an_installed_copy_loads_its_shipped_policy_from_anywhere(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)  # fmt: skip
    code = (
        "import dasha; from dasha.agents.policy import Policy, policies_root; "
        "p = Policy.shipped('joint'); print(dasha.__file__); print(policies_root()); print(p.task)"
    )
    env = {k: v for k, v in os.environ.items() if k != "DASHA_POLICIES"} | {"PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path,
                         env=env).stdout.split()  # fmt: skip
    assert out[0].startswith(str(target)) and out[1].startswith(str(target)) and out[2] == "joint"


def test_cli_version_matches_the_package_metadata() -> None:
    from importlib.metadata import version

    import dasha
    from dasha.cli import main

    assert main(["--version"]) == 0
    assert version("dasha") == dasha.__version__ != "0.0.0+unknown"


def test_the_readme_python_snippet_runs_outside_the_checkout(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert "Policy.shipped" in snippet
    out = subprocess.run([sys.executable, "-c", snippet], check=True, capture_output=True, text=True, cwd=tmp_path)
    exposure_us, lens_setting, unit, found = out.stdout.split()[-4:]
    assert float(exposure_us) > 0 and 24.0 <= float(lens_setting) <= 70.0 and unit == "V"
    assert found in ("True", "False") and "'lens_unit': 'V'" in out.stdout


@pytest.mark.parametrize(
    "package", ["dasha", "dasha.camera", "dasha.camera.sim", "dasha.vision", "dasha.envs", "dasha.bench.suites"]
)
def test_every_exported_name_exists(package: str) -> None:
    import importlib

    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not have: {missing}"
