"""Tune a live camera — with a trained policy or a classical method — single-shot or continuously (``dasha run``).

Works on any :class:`~dasha.camera.Camera` (simulator, replay, hardware backends; with a lens for focus): the
tuners are perception (:class:`~dasha.envs.perception.Perception`, reading the calibration the camera reports) plus
the episode engine's phases plus a controller, and nothing of the simulated world.

* :class:`LiveTuner` (a trained policy) runs exactly the episode the environments and the bench run: the exposure
  phase until the agent hands over, then the lens phase (a lens resting outside the agents' range is parked first;
  with a detector the search ends when it finds the object in focus), then, as deployed, the safety nets — the lens
  net's short contrast search and, for the joint task with a detector, the exposure bracket
  (:mod:`dasha.envs.safety_nets`). For the same camera state it plays the same commands as the env's episode.
* :class:`ClassicalTuner` (``--method``) runs an AE baseline, an AF baseline or ``dfd``, or ``AE+AF``, through the
  same loops as the bench (:mod:`dasha.baselines.loops`), optionally followed by the same nets (``NAME+nets``).

Continuous mode then watches the stream and re-runs the tuner when the scene changes (brightness or sharpness drift
beyond a threshold for several frames), so it neither hunts nor oscillates. Its memory is bounded however long it
runs: ``perception.shots`` holds the current tuning pass's frames only, the watched frames go to a ring of the last
:data:`WATCH_RING` (:attr:`Tuner.watched`).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dasha.agents.policy import Policy
from dasha.baselines.loops import EXPOSURE_METHODS, FOCUS_METHODS, classical_nets, exposure_method, focus_method
from dasha.camera.base import Camera
from dasha.camera.errors import SpecError
from dasha.envs.config import EnvConfig
from dasha.envs.hierarchical import HIGH_MODULE, LOW_MODULE
from dasha.envs.perception import Perception, Shot
from dasha.envs.phases import ExposurePhase, LensPhase
from dasha.envs.safety_nets import deployed
from dasha.jsonio import to_jsonable
from dasha.vision.metering import median_grey

NETS = "+nets"
"""Suffix of a classical method run with the deployed safety nets (as in the bench)."""
WATCH_RING = 8
"""Watched frames continuous mode keeps (the latest), beside the current tuning pass's."""


@dataclass
class TuneResult:
    """Outcome of one tuning pass (what ``dasha run`` prints and ``--json`` writes)."""

    exposure_us: float
    lens_v: float | None
    exposure_moves: int
    lens_moves: int
    seconds: float
    shot: Shot
    found: bool | None = None
    """Whether the detector finds the object on the final frame (None without a detector)."""
    lens_setting: float | None = None
    """The lens drive found, in :attr:`lens_unit` (None without a lens)."""
    lens_unit: str | None = None
    """``V``, ``mA`` or ``dpt``."""

    @property
    def step(self) -> Shot:
        """The final frame (old name of :attr:`shot`)."""
        return self.shot

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: exposure (µs), lens setting and unit, moves, found, seconds, and the simulator's ``truth``
        of the final frame (e.g. ``blur_px``) when the camera has it."""
        truth = self.shot.frame.truth
        return to_jsonable({
            "exposure_us": self.exposure_us, "lens_setting": self.lens_setting, "lens_unit": self.lens_unit,
            "lens_v": self.lens_v, "exposure_moves": self.exposure_moves, "lens_moves": self.lens_moves,
            "moves": self.exposure_moves + self.lens_moves, "found": self.found, "seconds": self.seconds,
            "truth": truth.as_dict() if truth is not None else None,
        })  # fmt: skip


def _lens_reading(camera: Camera) -> tuple[float | None, str | None, float | None]:
    """``(setting, unit, volts or None)`` of the camera's lens now."""
    lens = camera.lens
    if lens is None:
        return None, None, None
    setting, unit = float(lens.setting), lens.unit
    return setting, unit, setting if unit == "V" else None


class Tuner(ABC):
    """Single-shot :meth:`tune` on a camera, and :meth:`continuous` re-tuning on drift."""

    camera: Camera
    perception: Perception
    watched: deque[Shot]
    """The last :data:`WATCH_RING` frames continuous mode watched (kept apart from ``perception.shots``)."""

    @abstractmethod
    def _run(self, start: Shot) -> tuple[int, int]:
        """Tune from the frame ``start``; returns (exposure moves, lens moves)."""

    def tune(self, start: Shot | None = None) -> TuneResult:
        """One single-shot pass from ``start`` (default: a new frame; a new episode of perception)."""
        t0 = time.monotonic()
        if start is None:
            self.perception.start_episode()
            start = self.perception.capture()
        e_moves, l_moves = self._run(start)
        final = self.perception.shots[-1]
        setting, unit, volts = _lens_reading(self.camera)
        return TuneResult(self.camera.exposure_us, volts, e_moves, l_moves, time.monotonic() - t0, final,
                          self.found(final), setting, unit)  # fmt: skip

    def found(self, shot: Shot) -> bool | None:
        """Whether the detector finds an object on ``shot`` (None without a detector)."""
        if self.perception.detector is None:
            return None
        return self.perception.detection(shot) is not None

    def continuous(
        self, frames: int, drift_stops: float = 0.5, drift_blur: float = 0.25, patience: int = 3,
        on_event: Callable[[str, Any], None] | None = None,
    ) -> Iterator[TuneResult]:  # fmt: skip
        """Tune, then watch ``frames`` frames; re-tune after ``patience`` drifted frames in a row.

        Drift: the median grey moved by more than ``drift_stops`` stops, or the object blur estimate rose by
        more than ``drift_blur`` (log units) from the tuned frame (an estimate that is not finite is no drift).
        Memory is bounded: ``perception.shots`` holds one tuning pass's frames, :attr:`watched` the last
        :data:`WATCH_RING` watched ones.

        Raises:
            CameraError: an unrecovered device fault (transient ones are retried by perception).
        """
        self.watched = deque(maxlen=WATCH_RING)
        result = self.tune()
        yield result
        ref_grey = max(median_grey(result.shot.frame.image), 1.0)
        ref_blur = self.perception.blur_feature(result.shot)
        drifted = 0
        for _ in range(frames):
            shot = self.perception.capture(keep=False)
            self.watched.append(shot)
            grey = max(median_grey(shot.frame.image), 1.0)
            moved = (
                abs(math.log2(grey / ref_grey)) > drift_stops
                or self.perception.blur_feature(shot) - ref_blur > drift_blur
            )
            drifted = drifted + 1 if moved else 0
            if drifted >= patience:
                if on_event is not None:
                    on_event("retrigger", shot)
                result = self.tune()
                yield result
                ref_grey = max(median_grey(result.shot.frame.image), 1.0)
                ref_blur = self.perception.blur_feature(result.shot)
                drifted = 0


class LiveTuner(Tuner):
    """Drives a camera with a joint (or exposure / focus) policy, as deployed (see the module docstring).

    With ``detector`` (``haar-face``, ``aruco``, …) the lens phase ends as soon as the detector finds the object on a
    frame that passes the focus test, and the nets accept only such frames; without, the lens agent decides itself
    when the frame is in focus (and the net accepts on the blur estimate alone).
    """

    def __init__(self, camera: Camera, policy: Policy, detector: str | None = None) -> None:
        if camera.lens is None and policy.task in ("joint", "focus"):
            raise SpecError(f"a {policy.task} policy needs a camera with a lens")
        if policy.env_config().mode != "ours":
            raise SpecError("live tuning needs an ours-mode policy (it decides itself when to stop)")
        self.camera = camera
        self.policy = policy
        config = deployed(policy.env_config(detector=detector or "estimated-focus"), policy.task)
        self.perception = Perception(config, camera)
        self.config: EnvConfig = config

    def _run(self, start: Shot) -> tuple[int, int]:
        task, shot, e_moves, l_moves = self.policy.task, start, 0, 0
        if task in ("joint", "exposure"):
            high = ExposurePhase(self.perception)
            high.start(shot)
            module = HIGH_MODULE if task == "joint" else "exposure"
            while not high.done and high.act(self.policy.act(module, high.observation())):
                pass
            shot, e_moves = high.shot, high.moves  # type: ignore[assignment]
        if task in ("joint", "focus"):
            low = LensPhase(self.perception, early_stop=True)
            module = LOW_MODULE if task == "joint" else "focus"
            if not low.start(shot):
                while not low.done:
                    low.act(self.policy.act(module, low.observation()))
            l_moves, e_moves = low.moves, e_moves + low.bracket
        return e_moves, l_moves


class ClassicalTuner(Tuner):
    """Drives a camera with a classical method by name (see the module docstring): an AE baseline
    (``mean_luminance``, …), an AF baseline (``brent``, …) or ``dfd``, or ``AE+AF``; a ``+nets`` suffix adds the
    deployed safety nets after the lens phase. With ``detector`` the lens search ends when it finds the object in
    focus, as in the bench's joint pipelines."""

    def __init__(self, camera: Camera, method: str, detector: str | None = None,
                 config: EnvConfig | None = None) -> None:  # fmt: skip
        name, nets = (method[: -len(NETS)], True) if method.endswith(NETS) else (method, False)
        if "+" in name:
            ae, _, af = name.partition("+")
        else:
            ae, af = (name, "") if name in EXPOSURE_METHODS else ("", name)
        if (ae and ae not in EXPOSURE_METHODS) or (af and af not in FOCUS_METHODS) or not (ae or af):
            raise SpecError(f"unknown method {method!r}: an AE method ({', '.join(EXPOSURE_METHODS)}), an AF method "
                            f"({', '.join(FOCUS_METHODS)}), AE+AF, each optionally with {NETS}")  # fmt: skip
        if af and camera.lens is None:
            raise SpecError(f"method {af!r} needs a camera with a lens")
        self.camera, self.method, self.ae, self.af, self.nets = camera, method, ae, af, nets
        base = (config or EnvConfig()).replace(detector=detector or "estimated-focus")
        self.config = deployed(base, "joint" if ae and af else "focus")
        self.perception = Perception(self.config, camera)

    def _run(self, start: Shot) -> tuple[int, int]:
        perception, e_moves, l_moves = self.perception, 0, 0
        shot = start
        if self.ae:
            shots = exposure_method(perception, self.ae, shot)
            e_moves, shot = len(shots), perception.shots[-1]
        if self.af:
            done = perception.found if perception.detector is not None else None
            shots = focus_method(perception, self.af, shot, done)
            l_moves = len(shots)
            if self.nets:
                lens, bracket = classical_nets(perception, [shot, *shots], done, self.config.bracket_moves)
                l_moves += len(lens)
                e_moves += len(bracket)  # the bracket's return to the metered exposure is an exposure move too
        return e_moves, l_moves


def make_tuner(camera: Camera, policy: Policy | None = None, method: str | None = None,
               detector: str | None = None) -> Tuner:  # fmt: skip
    """A :class:`LiveTuner` for ``policy`` or a :class:`ClassicalTuner` for ``method`` (exactly one of them)."""
    if (policy is None) == (method is None):
        raise SpecError("give a policy or a method, not both")
    if method is not None:
        return ClassicalTuner(camera, method, detector)
    assert policy is not None
    return LiveTuner(camera, policy, detector)


__all__ = ["NETS", "ClassicalTuner", "LiveTuner", "TuneResult", "Tuner", "make_tuner"]
