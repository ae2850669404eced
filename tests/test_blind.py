"""Blind test: no method's decision reads ground truth — stripping it from every frame leaves every command the
same (the oracle, an upper bound that may read it, excepted)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dasha.agents.export import random_policy
from dasha.baselines.paper_rl import PhaseShiftFocusEnv, TenFocusEnv
from dasha.bench.suites import POLICY_DIRS, BenchOptions, Job, method_names, run_job, suite_config
from dasha.camera.sim import SimCamera
from dasha.envs import EnvConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init policy in every policy directory the bench looks for (ours and paper modes, both RB baselines)."""
    root = tmp_path_factory.mktemp("policies")
    task_of = {"focus": "focus", "focus_paper": "focus", "exposure": "exposure", "exposure_paper": "exposure",
               "joint": "joint", "joint_paper": "joint", "phase_shift_rl": "focus", "ten_rl": "focus"}  # fmt: skip
    classes = {"phase_shift_rl": PhaseShiftFocusEnv, "ten_rl": TenFocusEnv}
    for sub, task in task_of.items():
        mode = "paper" if sub.endswith("_paper") else "ours"
        random_policy(task, EnvConfig(mode=mode, detector="in-focus"), root / sub, env_class=classes.get(sub))
    assert {d for suite in POLICY_DIRS.values() for d in suite.values()} <= set(task_of)
    return root


def _commands(monkeypatch: pytest.MonkeyPatch, job: Job, blind: bool) -> list[tuple[float, float | None]]:
    """Every capture's (exposure µs, lens V) while ``job`` runs, with ground truth stripped from frames if ``blind``."""
    log: list[tuple[float, float | None]] = []
    original = SimCamera._do_capture

    def capture(self: SimCamera, timeout_s: float | None = None):  # type: ignore[no-untyped-def]
        frame = original(self, timeout_s)
        log.append((frame.exposure_us, frame.lens_v))
        return dataclasses.replace(frame, truth=None) if blind else frame

    with monkeypatch.context() as m:
        m.setattr(SimCamera, "_do_capture", capture)
        run_job(job)
    return log


@pytest.mark.parametrize("suite", ["af", "ae", "joint"])
def test_no_method_reads_ground_truth(suite: str, policies: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = suite_config(suite, BenchOptions())
    for name in method_names(suite):
        if name == "oracle":
            continue
        job = Job(suite, name, cfg, 2, 5, policies)
        seen, blind = _commands(monkeypatch, job, False), _commands(monkeypatch, job, True)
        assert len(seen) > 2 and seen == blind, name


def test_the_blind_test_catches_a_method_that_peeks(policies: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: make dfd's blur estimate read the ground truth, and the blind run no longer matches."""
    from dasha.envs.perception import Perception

    real = Perception.blur_feature

    def peeking(self: Perception, step):  # type: ignore[no-untyped-def]
        truth = step.frame.truth
        return real(self, step) if truth is None else float(__import__("math").log1p(truth.blur_px) / 3.0)

    monkeypatch.setattr(Perception, "blur_feature", peeking)
    job = Job("af", "dfd", suite_config("af", BenchOptions()), 2, 5, policies)
    assert _commands(monkeypatch, job, False) != _commands(monkeypatch, job, True)
