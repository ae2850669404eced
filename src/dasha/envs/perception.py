"""Perception on any camera: capture → a :class:`Shot` with its features, the detector's verdict, the focus tests.

:class:`Perception` drives nothing; it captures from the camera it is given (the simulator, a replay, a hardware
backend) and reads the focus model from **that camera's calibration** at every use — ``camera.optics`` (focal length,
f-number, pixel pitch: it follows an f-number change) and ``camera.lens.curve`` (drive → dpt), as the controllers
believe it (``EnvConfig.calibration_error``). It never reads ground truth, except the ``in-focus`` judge (simulator
only), which says so. Features are computed when first asked for, so a method that never asks pays nothing; what a
method computes is counted once on :attr:`Perception.compute` (a :class:`~dasha.envs.clock.ComputeClock`: features,
observations, decisions and the detector, however they nest), the detector's part also on ``detector_s``. The
observation layouts built from these features are in :mod:`dasha.envs.observations`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from dasha.camera import resilient
from dasha.camera.base import Camera, Frame, LensCurve
from dasha.camera.calibration import MIN_DISTANCE_M, Optics, believed_curve, vergence_range_d
from dasha.camera.errors import SpecError
from dasha.envs.clock import ComputeClock
from dasha.envs.config import EnvConfig
from dasha.envs.focus_fit import FocusFit, fit_focus
from dasha.envs.rewards import histogram_suitable, in_focus, well_exposed
from dasha.vision.blur_estimator import FRAME_PX, defocus_estimate
from dasha.vision.descriptor import DESCRIPTOR_DIM
from dasha.vision.encoders import make_encoder
from dasha.vision.focus_measures import af_window, tenengrad
from dasha.vision.histogram import grey_levels, paper_histogram_of_levels
from dasha.vision.metering import exposure_stats_of_levels

IOU_THRESHOLD = 0.5
ON_OBJECT = 0.5
"""A detector's box counts as the object's when at least this fraction of its area lies on the ground-truth object
(a face box on the astronaut photo does; a box on the background does not)."""
ACCEPT_BLUR_PX = 1.5
"""Estimated object blur (px) below which a frame passes the no-reference focus test (``estimated-focus``, the
safety net, ``dfd``): stricter than the 2 px criterion because the estimate errs by ≈ 0.4 px near focus."""
FOCUS_RANGE_M = (MIN_DISTANCE_M, math.inf)
"""Object distances the lens can focus (m): the prior of the depth-from-defocus fit, whatever the domain."""
BLUR_FEATURE = 64
"""Index of the blur-size estimate in the ``default`` encoder's output."""

Box = tuple[float, float, float, float]


def on_object(box: Sequence[float], object_box: Sequence[float]) -> bool:
    """Whether at least :data:`ON_OBJECT` of ``box``'s area (x0, y0, x1, y1, px) lies inside ``object_box``."""
    x0, y0, x1, y1 = (float(c) for c in box[:4])
    ox0, oy0, ox1, oy1 = (float(c) for c in object_box[:4])
    area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    inter = max(min(x1, ox1) - max(x0, ox0), 0.0) * max(min(y1, oy1) - max(y0, oy0), 0.0)
    return area > 0 and inter >= ON_OBJECT * area


class Shot:
    """One captured frame and what perception has computed from it so far (each feature on first use, cached)."""

    __slots__ = ("_features", "_histogram", "_levels", "_stats", "defocus", "detected", "frame", "perception",
                 "window_sharpness")  # fmt: skip

    def __init__(self, frame: Frame, perception: Perception) -> None:
        self.frame = frame
        self.perception = perception
        self._features: np.ndarray | None = None
        self._histogram: tuple[np.ndarray, np.ndarray, float] | None = None
        self._levels: np.ndarray | None = None
        self._stats: np.ndarray | None = None
        self.defocus: tuple[float, float] | None = None
        """Object defocus estimate ``(log(1 + blur px) / 3, P(front focus))``, computed on first use."""
        self.window_sharpness: float | None = None
        """log10 of the AF window's exposure-normalised Tenengrad, computed on first use."""
        self.detected: tuple[Box | None] | None = None
        """Cached :meth:`Perception.detection` result (a 1-tuple once computed)."""

    def __repr__(self) -> str:
        return f"Shot(exposure_us={self.frame.exposure_us:g}, lens_v={self.frame.lens_v})"

    @property
    def features(self) -> np.ndarray:
        """The encoder's latent of the frame (float32 ``[dim]``)."""
        if self._features is None:
            with self.perception.compute:
                self._features = self.perception.encoder.encode(self.frame.image)[0]
        return self._features

    @property
    def levels(self) -> np.ndarray:
        """The frame's 256 grey-level counts (:func:`~dasha.vision.histogram.grey_levels`; Mono8 frames), counted
        once for the paper histogram and the exposure statistics."""
        if self._levels is None:
            with self.perception.compute:
                self._levels = grey_levels(self.frame.image)
        return self._levels

    @property
    def exposure_stats(self) -> np.ndarray:
        """The nine brightness statistics of :func:`~dasha.vision.metering.exposure_stats` (float32)."""
        if self._stats is None:
            with self.perception.compute:
                self._stats = exposure_stats_of_levels(self.levels)
        return self._stats

    def _hist(self) -> tuple[np.ndarray, np.ndarray, float]:
        if self._histogram is None:
            with self.perception.compute:  # frames are Mono8 (Camera.capture validates them)
                self._histogram = paper_histogram_of_levels(self.levels)
        return self._histogram

    @property
    def counts(self) -> np.ndarray:
        """The paper histogram's 10 counts."""
        return self._hist()[0]

    @property
    def edges(self) -> np.ndarray:
        """The paper histogram's 11 bin edges (grey levels)."""
        return self._hist()[1]

    @property
    def peak(self) -> float:
        """The paper's histogram peak P (left edge of the fullest bin, grey levels)."""
        return self._hist()[2]

    @property
    def well_exposed(self) -> bool:
        """Histogram peak P ∈ [50, 150]."""
        return well_exposed(self.peak)

    @property
    def suitable(self) -> bool:
        """Histogram peak P ∈ [25, 175] (hand-over test)."""
        return histogram_suitable(self.peak)

    @property
    def in_focus(self) -> bool:
        """Ground truth: object blur ≤ 2 px (simulator only)."""
        return self.frame.truth is not None and in_focus(self.frame.truth.blur_px)


class Perception:
    """The encoder, the detector and the focus estimates over one camera's frames (see the module docstring).

    Attributes:
        camera: the camera frames come from (the simulated world swaps its own in; a live camera stays).
        shots: the current episode's frames with their perception (the first is the free start frame).
        reference_boxes: the boxes a detection must overlap (IoU ≥ 0.5) to count — the simulated world sets them
            from the sharp render; empty on a live camera (any box counts).
        compute: the :class:`~dasha.envs.clock.ComputeClock` of everything computed for the method since the episode
            started (features, observations, decisions, the detector); ``detector_s``: the detector's part of it.
    """

    def __init__(self, config: EnvConfig | dict[str, Any] | None, camera: Camera) -> None:
        self.config = EnvConfig.from_dict(config)
        weights = self.config.encoder_weights
        try:
            self.encoder = make_encoder(self.config.encoder, **({"weights": weights} if weights is not None else {}))
        except FileNotFoundError as exc:
            raise SpecError(f"encoder {self.config.encoder!r}: {exc}") from None
        self._has_blur = self.encoder.dim > BLUR_FEATURE and self.config.encoder == "default"
        self.camera = camera
        self.shots: list[Shot] = []
        self.reference_boxes: list[Box] = []
        self.compute = ComputeClock()
        self.calibration_error: tuple[float, float] = self.config.calibration_error
        """The believed lens model's error ``(offset dpt, slope error)`` (the config's; a world that randomises it
        sets it per episode)."""
        self.detector_s = 0.0
        self.retry: resilient.RetryPolicy = resilient.DEFAULT_RETRY
        """How captures and lens commands are retried on a device fault."""
        self.recovery = resilient.Recovery()
        """What the retries did so far (all episodes)."""
        self._previous: Frame | None = None
        self._shape: tuple[Camera | None, tuple[int, ...] | None] = (None, None)
        self._fit: tuple[tuple[Any, ...], FocusFit] | None = None
        """The last focus fit and what it was fitted to (the frames, the optics and the believed curve)."""

    def start_episode(self) -> None:
        """Forget the previous episode's frames and timings (the frame size learnt from the camera is kept)."""
        self.shots = []
        self._previous = None
        self.compute.reset()
        self.detector_s = 0.0

    @property
    def frames(self) -> list[Frame]:
        """The frames of :attr:`shots`."""
        return [s.frame for s in self.shots]

    def capture(self, keep: bool = True) -> Shot:
        """Capture a frame from the camera, retried on a transient device fault (:func:`dasha.camera.resilient.capture`:
        a time-out, a disconnect, an invalid, truncated or stale frame); its features are computed when first asked
        for. ``keep``: append it to :attr:`shots` (False: a watched frame of continuous mode, kept by the caller).

        Raises:
            CameraError: an unrecovered device fault (:data:`~dasha.camera.resilient.DEVICE_FAULTS`).
        """
        camera = self.camera
        if self._shape[0] is not camera:  # a new camera: its frame size is learnt again
            self._shape = (camera, None)
        frame = resilient.capture(camera, self._previous, shape=self._shape[1], policy=self.retry,
                                  recovery=self.recovery)  # fmt: skip
        self._previous, self._shape = frame, (camera, frame.image.shape)
        shot = Shot(frame, self)
        if keep:
            self.shots.append(shot)
        return shot

    def move_lens(self, setting: float) -> float:
        """Command the camera's lens to ``setting`` (its unit) and check it reads back; re-sent on a NACK, no reply or
        a stuck lens (:func:`dasha.camera.resilient.set_lens`). Returns the setting commanded (quantised).

        Raises:
            OutOfRangeError: outside the lens limits (nothing sent).
            CameraError: an unrecovered device fault.
        """
        lens = self.camera.lens
        if lens is None:
            raise ValueError(f"camera {getattr(self.camera, 'spec', '')!r} has no lens to move")
        return resilient.set_lens(lens, setting, policy=self.retry, recovery=self.recovery)

    # -- calibration ---------------------------------------------------------------------------------
    @property
    def optics(self) -> Optics:
        """The driven camera's optics (focal length, f-number, pixel pitch), read at every use: it follows changes."""
        optics = getattr(self.camera, "optics", None)
        if optics is None:
            raise SpecError(
                f"camera {getattr(self.camera, 'spec', '')!r} reports no optics (focal length, f-number, pixel pitch): "
                "state them in its SPEC, e.g. basler:…,focal_mm=16,fnumber=2.8,pitch_um=5.5"
            )
        return optics

    @property
    def lens_curve(self) -> LensCurve:
        """The driven lens's drive → dpt curve as the controllers believe it (:attr:`calibration_error`)."""
        lens = self.camera.lens
        if lens is None or lens.curve is None:
            raise SpecError(f"camera {getattr(self.camera, 'spec', '')!r} has no lens with a calibration curve")
        return believed_curve(lens.curve, *self.calibration_error)

    # -- detection -----------------------------------------------------------------------------------
    @cached_property
    def detector(self) -> Any:
        """The configured detector (None for the ``in-focus`` and ``estimated-focus`` judges)."""
        if self.config.detector in ("in-focus", "estimated-focus"):
            return None
        from dasha.vision.detectors import make_detector

        return make_detector(self.config.detector)

    def detection(self, shot: Shot) -> Box | None:
        """The detected box with IoU ≥ 0.5 with a reference box on the object (any box when there is no reference,
        e.g. on a live camera), or None; cached on the shot; the detector's time goes to ``detector_s``.

        Judges: ``in-focus`` (simulator only) — the object box when the object is in focus and the histogram is
        suitable; ``estimated-focus`` — the object box (or the AF window) when the estimated object blur is
        ≤ :data:`ACCEPT_BLUR_PX` and the histogram is suitable (no ground truth).
        """
        if shot.detected is None:
            with self.compute:
                t0 = time.perf_counter()
                shot.detected = (self._detect(shot),)
                if self.detector is not None:
                    self.detector_s += time.perf_counter() - t0
        return shot.detected[0]

    def _detect(self, shot: Shot) -> Box | None:
        if self.detector is None:
            truth = shot.frame.truth
            if self.config.detector == "estimated-focus":
                if not (self.estimated_blur_px(shot) <= ACCEPT_BLUR_PX and shot.suitable):
                    return None
                h, w = shot.frame.image.shape
                return (w / 4, h / 4, 3 * w / 4, 3 * h / 4)  # the AF window: where the estimate looked
            ok = truth is not None and in_focus(truth.blur_px, self.config.goal_blur_px) and shot.suitable
            return tuple(float(c) for c in truth.object_box) if ok else None  # type: ignore[union-attr,return-value]
        from dasha.vision.detectors import iou

        for box in self.detector.detect(shot.frame.image):
            if not self.reference_boxes or any(iou(box, ref) >= IOU_THRESHOLD for ref in self.reference_boxes):
                return box.as_tuple()
        return None

    def found(self, shot: Shot) -> bool:
        """With a real detector: the search is over — it finds the object on a frame that passes the focus test."""
        return self.detector is not None and self.accepted(shot)

    def accepted(self, shot: Shot) -> bool:
        """The no-reference acceptance test of the joint task's early stop and of the safety nets: the detector (if
        there is one) finds the object **and** the estimated object blur is ≤ :data:`ACCEPT_BLUR_PX` — success means
        detected and in focus, and a detector also fires on a blurred object. No ground truth; an estimate that is not
        finite fails."""
        if not self.estimated_blur_px(shot) <= ACCEPT_BLUR_PX:
            return False
        return self.detector is None or self.detection(shot) is not None

    def brisque(self, shot: Shot, box: Box | None = None) -> float:
        """BRISQUE of the frame (or of ``box``, when at least 32×32 px)."""
        from dasha.vision.brisque import brisque_score

        img = shot.frame.image
        if box is not None:
            x0, y0, x1, y1 = (round(c) for c in box)
            crop = img[max(y0, 0) : y1, max(x0, 0) : x1]
            if crop.shape[0] >= 32 and crop.shape[1] >= 32:
                img = crop
        return float(brisque_score(img, model=self.config.brisque_model))

    # -- focus estimates -----------------------------------------------------------------------------
    def _defocus(self, shot: Shot) -> tuple[float, float]:
        if shot.defocus is None:
            with self.compute:
                shared = self.config.encoder == "default" and shot.frame.image.shape == (FRAME_PX, FRAME_PX)
                shot.defocus = defocus_estimate(shot.frame.image, shot.features[:DESCRIPTOR_DIM] if shared else None)
        return shot.defocus

    def blur_feature(self, shot: Shot) -> float:
        """Estimated object blur, log(1 + px) / 3 (:func:`~dasha.vision.blur_estimator.defocus_estimate`; cached)."""
        return self._defocus(shot)[0]

    def estimated_blur_px(self, shot: Shot) -> float:
        """Estimated object blur (px) of a frame (the inverse of :meth:`blur_feature`)."""
        return math.expm1(min(3.0 * self.blur_feature(shot), 700.0))  # no overflow on a broken estimate

    def side_feature(self, shot: Shot) -> float:
        """Estimated side of focus from the frame alone: 2·P(front focus) − 1 ∈ [−1, 1] (+1: lower the voltage)."""
        return 2.0 * self._defocus(shot)[1] - 1.0

    def sharpness_feature(self, shot: Shot) -> float:
        """log10 of the AF window's Tenengrad / mean² (scene-dependent; differences between frames are not)."""
        if shot.window_sharpness is None:
            with self.compute:
                ten = float(tenengrad(af_window(shot.frame.image), normalize=True))
                shot.window_sharpness = math.log10(ten + 1e-6)
        return shot.window_sharpness

    def better_focus(self, shot: Shot, best: Shot | None) -> bool:
        """Whether ``shot`` beats ``best`` as the episode's best-focused frame (``config.best_by``)."""
        if best is None:
            return True
        if self.config.best_by == "sharpness":
            return self.sharpness_feature(shot) > self.sharpness_feature(best)
        return self.blur_feature(shot) < self.blur_feature(best)

    def frame_blur_feature(self, shot: Shot) -> float:
        """The encoder's whole-frame blur estimate, log(1 + px) / 3 (0 for encoders without one)."""
        return float(shot.features[BLUR_FEATURE]) if self._has_blur else 0.0

    def focus_fit(self, history: Sequence[Shot]) -> FocusFit:
        """Least-squares focus position from the blur estimates of ``history`` (:mod:`dasha.envs.focus_fit`), with the
        driven camera's optics and its lens curve as the controllers believe it (:attr:`optics`, :attr:`lens_curve`);
        the prior is every distance the lens can focus (:data:`FOCUS_RANGE_M`), whatever the episode domain. The
        last fit is kept: the lens phase's observation and its fit jump on the same frames fit once."""
        optics, curve = self.optics, self.lens_curve
        key = (tuple(history), optics, curve)  # shots compare by identity
        if self._fit is not None and self._fit[0] == key:
            return self._fit[1]
        with self.compute:
            volts = [s.frame.lens_setting or 0.0 for s in history]  # the lens's drive unit: the curve's
            log_blur = [3.0 * self.blur_feature(s) for s in history]
            fit = fit_focus(volts, log_blur, optics, curve, vergence_range_d(FOCUS_RANGE_M))
        self._fit = (key, fit)
        return fit


__all__ = ["ACCEPT_BLUR_PX", "FOCUS_RANGE_M", "IOU_THRESHOLD", "Perception", "Shot", "on_object"]
