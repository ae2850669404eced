"""Fault injection: a camera (and its lens) that misbehaves on purpose, around any other camera.

SPEC grammar (:func:`~dasha.camera.spec.make_camera`): ``faults(KEY=VALUE,…):SPEC`` wraps the camera of any SPEC —
``sim``, ``twin``, ``replay:FILE``, ``basler``, ``opencv`` — e.g. ``faults(timeout=0.05,black=0.02,seed=1):sim``.
Each fault key is a probability (0–1) per opportunity: per capture for the camera faults, per command for the lens
faults, per byte for ``drop``. Every fault injected is counted in :attr:`FaultyCamera.injected` (by kind) and, when
the camera has a :attr:`~dasha.camera.base.Device.command_log`, logged as a ``fault`` event.

==============  ====================================================================================================
``timeout``     capture: no frame — :class:`~dasha.camera.errors.CameraTimeoutError`
``disconnect``  capture: :class:`~dasha.camera.errors.CameraDisconnectedError`, and the device stays away for the
                next ``outage`` − 1 captures (``outage``: default 2), then it is back (a link glitch)
``black``       capture: an all-zero frame (a valid Mono8 image: a measurement, not an error)
``saturated``   capture: an all-255 frame (likewise)
``corrupt``     capture: not a Mono8 image — float32 pixels, a 3-D array or bytes in turn (the public layer raises
                :class:`~dasha.camera.errors.InvalidFrameError`)
``shape``       capture: a truncated frame, the top half of the rows (an incomplete transfer)
``stale``       the first capture after a lens or exposure command: the frame from before the command, again
``nack``        lens command: refused (:class:`~dasha.camera.errors.CommandRejectedError`), nothing applied
``noreply``     lens command: no reply (:class:`~dasha.camera.errors.CameraTimeoutError`); applied half the time
``stuck``       lens command: acknowledged and ignored — the lens stays where it was
``slow``        lens command: the reply comes ``slow_s`` seconds late (default 0.01 s of wall time)
``drop``        ``twin`` only: each byte the simulated USB-M board receives is lost (serial line loss)
==============  ====================================================================================================

Other keys: ``seed`` (int, default 0: the same seed gives the same faults for the same calls), ``outage``
(captures, 1–1000), ``slow_s`` (s, 0–10). How the episode engine copes with each fault —
bounded retry, re-sending the absolute setting, or a clear error — is :mod:`dasha.camera.resilient`.

The wrapper delegates everything else to the wrapped camera (``restart``, ``scene``, ``render``, … of a simulator), so
the simulated world drives a faulty simulator as it drives a plain one (``EnvConfig.camera = "faults(…):sim"``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dasha.camera.base import Camera, Frame, Lens, LensCurve, Limits
from dasha.camera.errors import CameraDisconnectedError, CameraTimeoutError, CommandRejectedError, SpecError
from dasha.camera.wrapper import CameraWrapper

CAMERA_FAULTS = ("timeout", "disconnect", "black", "saturated", "corrupt", "shape", "stale")
LENS_FAULTS = ("nack", "noreply", "stuck", "slow")
SERIAL_FAULTS = ("drop",)
FAULTS: tuple[str, ...] = (*CAMERA_FAULTS, *LENS_FAULTS, *SERIAL_FAULTS)
"""Every fault kind (the rate keys of a ``faults(…)`` SPEC)."""
PREFIX = "faults("


@dataclass(frozen=True)
class FaultPlan:
    """What to inject: a probability per fault kind (0–1), the seed, the outage length (captures), the lag (s)."""

    rates: dict[str, float] = dataclasses.field(default_factory=dict)
    seed: int = 0
    outage: int = 2
    slow_s: float = 0.01

    def __post_init__(self) -> None:
        for kind, rate in self.rates.items():
            if kind not in FAULTS:
                raise SpecError(f"unknown fault {kind!r} (known: {', '.join(FAULTS)})")
            if not (isinstance(rate, int | float) and math.isfinite(rate) and 0.0 <= rate <= 1.0):
                raise SpecError(f"fault rate {kind}={rate!r} must be a probability in [0, 1]")
        if not 1 <= self.outage <= 1000:
            raise SpecError(f"fault outage={self.outage!r} must be 1–1000 captures")
        if not (math.isfinite(self.slow_s) and 0.0 <= self.slow_s <= 10.0):
            raise SpecError(f"fault slow_s={self.slow_s!r} must be in [0, 10] s")

    def rate(self, kind: str) -> float:
        """The probability of ``kind`` (0 when not given)."""
        return float(self.rates.get(kind, 0.0))


def parse_faults(spec: str) -> tuple[FaultPlan, str]:
    """Split ``faults(KEY=VALUE,…):INNER`` into its :class:`FaultPlan` and the inner SPEC; SpecError if malformed."""
    text = spec.strip()
    if not text.lower().startswith(PREFIX):
        raise SpecError(f"spec {spec!r} does not start with {PREFIX!r}")
    close = text.find(")")
    if close < 0:
        raise SpecError(f"spec {spec!r}: faults( … ) is not closed")
    body, rest = text[len(PREFIX) : close], text[close + 1 :].strip()
    if not rest.startswith(":") or not rest[1:].strip():
        raise SpecError(f"spec {spec!r}: faults(…) must be followed by ':' and a camera SPEC, "
                        "e.g. faults(timeout=0.05):sim")  # fmt: skip
    rates: dict[str, float] = {}
    extra: dict[str, Any] = {}
    converters: dict[str, Callable[[str], Any]] = {"seed": int, "outage": int, "slow_s": float}
    for item in filter(None, (s.strip() for s in body.split(","))):
        key, eq, raw = item.partition("=")
        key, raw = key.strip().lower(), raw.strip()
        if not eq or not key or not raw:
            raise SpecError(f"spec {spec!r}: expected key=value inside faults(…), got {item!r}")
        if key in rates or key in extra:
            raise SpecError(f"spec {spec!r}: fault key {key!r} given twice")
        if key not in FAULTS and key not in converters:
            raise SpecError(f"spec {spec!r}: unknown fault key {key!r} (known: {', '.join((*FAULTS, *converters))})")
        try:
            value = converters.get(key, float)(raw)
        except ValueError:
            raise SpecError(f"spec {spec!r}: {key}={raw!r} is not a number") from None
        (extra if key in converters else rates)[key] = value
    return FaultPlan(rates, **extra), rest[1:].strip()


def split_faults(spec: str) -> tuple[FaultPlan | None, str]:
    """``(plan, inner SPEC)`` of a ``faults(…):`` SPEC, or ``(None, spec)`` for any other."""
    if isinstance(spec, str) and spec.strip().lower().startswith(PREFIX):
        return parse_faults(spec)
    return None, spec


class _Dice:
    """The plan's seeded draws, and the count of what was injected."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.rng = np.random.default_rng(plan.seed)
        self.injected: Counter[str] = Counter()
        self.scheduled: Counter[str] = Counter()

    def roll(self, kind: str) -> bool:
        if self.scheduled[kind] > 0:
            self.scheduled[kind] -= 1
        else:
            rate = self.plan.rate(kind)
            if rate <= 0.0 or self.rng.random() >= rate:
                return False
        self.injected[kind] += 1
        return True


class FaultyLens(Lens):
    """The wrapped camera's lens with the plan's lens faults (see the module docstring)."""

    def __init__(self, lens: Lens, dice: _Dice, owner: FaultyCamera) -> None:
        self._lens, self._dice, self._owner = lens, dice, owner
        self.settle_time_s = lens.settle_time_s
        self._name = lens.spec or type(lens).__name__
        self.spec = self._name

    @property
    def inner(self) -> Lens:
        """The wrapped lens."""
        return self._lens

    @property
    def limits(self) -> Limits:  # type: ignore[override]
        """The wrapped lens's drive limits (its unit)."""
        return self._lens.limits

    @property
    def curve(self) -> LensCurve:
        """The wrapped lens's calibration curve (a calibration given to this wrapper goes to the wrapped lens)."""
        return self._lens.curve

    @curve.setter
    def curve(self, value: LensCurve) -> None:
        self._lens.curve = value

    def log_command(self, event: str, **fields: Any) -> None:
        if event == "fault":  # the wrapped lens logs the commands themselves
            super().log_command(event, **fields)

    def _do_set_setting(self, value: float) -> None:
        dice = self._dice
        self._owner._commanded = True
        if dice.roll("slow"):
            self.log_command("fault", kind="slow", setting=value)
            time.sleep(dice.plan.slow_s)
        if dice.roll("nack"):
            self.log_command("fault", kind="nack", setting=value)
            raise CommandRejectedError(f"lens {self._name!r} refused {value:g} {self.unit} (injected NACK)")
        if dice.roll("noreply"):
            self.log_command("fault", kind="noreply", setting=value)
            if dice.rng.random() < 0.5:  # the command arrived; its reply was lost
                self._lens.set_setting(value, wait=False)
            raise CameraTimeoutError(f"lens {self._name!r} did not answer {value:g} {self.unit} (injected)")
        if dice.roll("stuck"):
            self.log_command("fault", kind="stuck", setting=value)
            return  # acknowledged, ignored
        self._lens.set_setting(value, wait=False)

    def _do_get_setting(self) -> float:
        return self._lens.setting

    def _do_wait_settled(self) -> None:
        self._lens._do_wait_settled()


class FaultyCamera(CameraWrapper):
    """``camera`` with the faults of ``plan`` (see the module docstring); everything else is the wrapped camera's.

    Args:
        camera: any open camera (a simulator, the twin, a replay, a hardware backend).
        plan: what to inject.
        spec: the SPEC this camera was made from.
    """

    def __init__(self, camera: Camera, plan: FaultPlan, spec: str = "") -> None:
        if not isinstance(camera, Camera):
            raise TypeError(f"FaultyCamera wraps a Camera, got {type(camera).__name__}")
        super().__init__(camera)
        self._dice = _Dice(plan)
        self.spec = spec or f"faults(…):{camera.spec}"
        inner_lens = camera.lens
        self._lens = FaultyLens(inner_lens, self._dice, self) if inner_lens is not None else None
        self._last: Frame | None = None
        self._commanded = False
        self._outage = 0
        self._corrupt_turn = 0
        self._board = None
        if plan.rate("drop") > 0:
            board = getattr(camera, "board", None)
            if board is None or not hasattr(board, "drop_rate"):
                raise SpecError(f"camera spec {self.spec!r}: drop (serial bytes lost) needs a serial fake: twin")
            board.drop_rate, board.drop_seed = plan.rate("drop"), plan.seed
            self._board = board

    # -- what the wrapper is --------------------------------------------------------------------------
    @property
    def plan(self) -> FaultPlan:
        """The faults injected."""
        return self._dice.plan

    def schedule(self, kind: str, times: int = 1) -> None:
        """Inject ``kind`` at its next ``times`` opportunities, whatever the plan's rates (deterministic tests)."""
        if kind not in (*CAMERA_FAULTS, *LENS_FAULTS):
            raise SpecError(f"cannot schedule fault {kind!r} (known: {', '.join((*CAMERA_FAULTS, *LENS_FAULTS))})")
        self._dice.scheduled[kind] += int(times)

    @property
    def injected(self) -> Counter[str]:
        """Faults injected so far, by kind (``drop``: bytes lost on the serial line)."""
        out = Counter(self._dice.injected)
        if self._board is not None and self._board.dropped:
            out["drop"] = int(self._board.dropped)
        return out

    @property
    def lens(self) -> FaultyLens | None:
        """The wrapped camera's lens, with the plan's lens faults (None without a lens)."""
        return self._lens

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._camera, name)  # a simulator's scene, restart, render, set_lux, …; the twin's board

    def restart(self, seed: int, exposure_us: float, lens_v: float) -> None:
        """A simulator's episode start (:meth:`~dasha.camera.sim.SimCamera.restart`): nothing stale survives it."""
        self._last, self._commanded = None, False
        self._camera.restart(seed, exposure_us, lens_v)  # type: ignore[attr-defined]

    def log_command(self, event: str, **fields: Any) -> None:
        if event == "fault":  # the wrapped camera logs the commands themselves
            super().log_command(event, **fields)

    # -- Camera hooks ---------------------------------------------------------------------------------
    def _do_set_exposure(self, exposure_us: float) -> None:
        self._commanded = True
        super()._do_set_exposure(exposure_us)

    def _fail(self, kind: str, error: type[Exception], what: str) -> None:
        self.log_command("fault", kind=kind)
        raise error(f"camera {self._camera.spec!r}: {what} (injected {kind})")

    def _do_capture(self, timeout_s: float | None = None) -> Frame:
        dice, commanded = self._dice, self._commanded
        self._commanded = False
        if self._outage > 0:
            self._outage -= 1
            self._fail("disconnect", CameraDisconnectedError, "the device is gone")
        if dice.roll("disconnect"):
            self._outage = dice.plan.outage - 1
            self._fail("disconnect", CameraDisconnectedError, "the device went away")
        if dice.roll("timeout"):
            self._fail("timeout", CameraTimeoutError, f"no frame within {timeout_s:g} s" if timeout_s else "no frame")
        if commanded and self._last is not None and dice.roll("stale"):
            self.log_command("fault", kind="stale")
            return self._last  # the frame from before the command, again
        frame = self._spoil(self._camera.capture(timeout_s))
        self._last = frame
        return frame

    def _spoil(self, frame: Frame) -> Frame:
        """``frame`` with at most one of the image faults."""
        dice, image = self._dice, frame.image
        spoilt: Any = None
        if dice.roll("black"):
            spoilt, kind = np.zeros_like(image), "black"
        elif dice.roll("saturated"):
            spoilt, kind = np.full_like(image, 255), "saturated"
        elif dice.roll("corrupt"):
            self._corrupt_turn += 1
            turn = self._corrupt_turn % 3
            spoilt = image.astype(np.float32) if turn == 0 else (image[..., None] if turn == 1 else image.tobytes())
            kind = "corrupt"
        elif dice.roll("shape"):
            spoilt, kind = image[: max(image.shape[0] // 2, 8)].copy(), "shape"
        if spoilt is None:
            return frame
        self.log_command("fault", kind=kind)
        return dataclasses.replace(frame, image=spoilt)


def faults_from_spec(spec: str, make: Callable[[str], Camera]) -> FaultyCamera:
    """Open ``faults(…):INNER``: the camera ``make(INNER)`` wrapped with the plan (see the module docstring)."""
    plan, inner_spec = parse_faults(spec)
    camera = make(inner_spec)
    try:
        return FaultyCamera(camera, plan, spec=spec)
    except BaseException:
        camera.close()
        raise


__all__ = ["FAULTS", "FaultPlan", "FaultyCamera", "FaultyLens", "faults_from_spec", "parse_faults", "split_faults"]
