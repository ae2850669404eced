"""Tune a live camera with a trained policy: single-shot, or continuous with re-triggering (``dasha run``).

Works on any :class:`~dasha.camera.Camera` with a lens (simulator, replay, hardware backends): the policy's
observations are built from the frames alone (no ground truth). Single-shot parks a lens that rests outside the
agents' training range at their home voltage, then runs the exposure agent until it hands over, then the lens agent
until it stops (both capped; a lens agent that never stops hands over to the safety net's short contrast search,
:mod:`dasha.envs.lens_fallback`; with a detector that has not found the object by then, a short exposure bracket
follows, :mod:`dasha.envs.exposure_bracket`). Continuous mode then watches the stream and re-runs the agents when
the scene changes (brightness or sharpness drift beyond a threshold for several frames), so it neither hunts nor
oscillates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dasha.agents.policy import Policy
from dasha.camera.base import Camera
from dasha.envs.exposure_bracket import EVAL_BRACKET_MOVES
from dasha.envs.lens_fallback import EVAL_FALLBACK_MOVES
from dasha.envs.safety_nets import safety_nets
from dasha.envs.task import CameraTask, Step, median_grey


@dataclass
class TuneResult:
    """Outcome of one tuning pass."""

    exposure_us: float
    lens_v: float | None
    exposure_moves: int
    lens_moves: int
    seconds: float
    step: Step
    found: bool | None = None
    """Whether the detector finds the object on the final frame (None without a detector)."""


class LiveTuner:
    """Drives a camera with a joint (or exposure / focus) policy.

    With ``detector`` (``haar-face``, ``aruco``, …), the lens phase ends as soon as the detector finds an
    object, as in the paper, and the safety net accepts the frames it finds one on; without, the lens agent
    decides itself when the frame is in focus.
    """

    def __init__(self, camera: Camera, policy: Policy, detector: str | None = None) -> None:
        if camera.lens is None and policy.task in ("joint", "focus"):
            raise ValueError(f"a {policy.task} policy needs a camera with a lens")
        self.camera = camera
        self.policy = policy
        self.task = CameraTask(policy.env_config(detector=detector or "estimated-focus"))
        self.task.camera = camera  # type: ignore[assignment]  # observations come from this camera's frames
        self.config = self.task.config

    def _exposure(self, step: Step) -> tuple[Step, int]:
        prev, moves, module = None, 0, "high_level" if self.policy.task == "joint" else "exposure"
        for _ in range(self.config.exposure_horizon):
            action = self.policy.act(module, self.task.exposure_observation(step, prev, moves))
            if not self.task.apply_exposure(action):
                break
            moves += 1
            prev, step = step, self.task.capture()
        return step, moves

    def found(self, step: Step) -> bool | None:
        """Whether the detector finds an object on ``step`` (None without a detector)."""
        if self.task.detector is None:
            return None
        return self.task.detection(step) is not None

    def _done(self, step: Step) -> bool:
        """With a detector: it finds the object on a frame that looks in focus (the lens phase is over)."""
        return self.task.detector is not None and self.task.accepted(step)

    def _focus(self, step: Step) -> tuple[Step, int, int]:
        """The lens phase, then the deployed safety nets; returns (final step, lens moves, bracket frames)."""
        prev, best, moves, history = None, step, 0, [step]
        module = "low_level" if self.policy.task == "joint" else "focus"
        if self._done(step):
            return step, 0, 0
        for _ in range(self.config.lens_horizon):
            action = self.policy.act(module, self.task.focus_observation(step, prev, moves, best, history))
            if not self.task.apply_lens(action):
                break
            moves += 1
            prev, step = step, self.task.capture()
            history.append(step)
            if self._done(step):
                return step, moves, 0
            if self.task.better_focus(step, best):
                best = step
        bracket = EVAL_BRACKET_MOVES if self.policy.task == "joint" else 0
        lens, exposure = safety_nets(self.task, history, EVAL_FALLBACK_MOVES, bracket)
        extra = lens + exposure
        return (extra[-1] if extra else step), moves + len(lens), len(exposure)

    def tune(self) -> TuneResult:
        """One single-shot pass: park the lens if it rests outside the agents' range, exposure agent, lens agent."""
        if self.config.mode != "ours":
            raise ValueError("live tuning needs an ours-mode policy (it decides itself when to stop)")
        t0 = time.monotonic()
        e_moves, l_moves = 0, 0
        homed = self.task.home_lens() if self.policy.task != "exposure" else None
        step = homed if homed is not None else self.task.capture()
        l_moves += homed is not None
        if self.policy.task in ("joint", "exposure"):
            step, e_moves = self._exposure(step)
        if self.policy.task in ("joint", "focus"):
            step, moves, bracket = self._focus(step)
            l_moves, e_moves = l_moves + moves, e_moves + bracket
        lens = self.camera.lens
        return TuneResult(self.camera.exposure_us, lens.voltage if lens else None, e_moves, l_moves,
                          time.monotonic() - t0, step, self.found(step))  # fmt: skip

    def continuous(
        self, frames: int, drift_stops: float = 0.5, drift_blur: float = 0.25, patience: int = 3,
        on_event: Callable[[str, Any], None] | None = None,
    ) -> Iterator[TuneResult]:  # fmt: skip
        """Tune, then watch ``frames`` frames; re-tune after ``patience`` drifted frames in a row.

        Drift: the median grey moved by more than ``drift_stops`` stops, or the object blur estimate rose by
        more than ``drift_blur`` (log units) from the tuned frame.
        """
        result = self.tune()
        yield result
        ref_grey = max(median_grey(result.step.frame.image), 1.0)
        ref_blur = self.task.blur_feature(result.step)
        drifted = 0
        for _ in range(frames):
            step = self.task.capture()
            grey = max(median_grey(step.frame.image), 1.0)
            moved = (
                abs(math.log2(grey / ref_grey)) > drift_stops or self.task.blur_feature(step) - ref_blur > drift_blur
            )
            drifted = drifted + 1 if moved else 0
            if drifted >= patience:
                if on_event is not None:
                    on_event("retrigger", step)
                result = self.tune()
                yield result
                ref_grey = max(median_grey(result.step.frame.image), 1.0)
                ref_blur = self.task.blur_feature(result.step)
                drifted = 0
