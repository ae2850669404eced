"""The camera task shared by every environment: episode sampling, actions, observations, success tests.

:class:`CameraTask` owns one simulated camera, the encoder and the detector. The exposure, focus and
hierarchical environments are thin state machines over it, so the physics, the domain randomisation and the
observation layout exist once.

Actions
-------
========================  ====================================================================================
paper exposure            ``Discrete(148)``: index into the paper's exposure table (µs)
paper lens                ``MultiDiscrete([47, 100])``: (coarse, fine) → ``min(24 + coarse + fine/100, 70)`` V
ours exposure             ``Discrete(33)``: 0 = stop (hand over); k = 1…32 multiplies the exposure by 2^s,
                          s ∈ ±{⅓, ⅔, …, 3, 4, 5, …, 10} stops, clipped to 24 µs–4.5 s
ours lens                 ``Discrete(41)``: 0 = stop; k = 1…40 moves the lens by ±δ, δ ∈ 20 geometric steps
                          0.04–12 V, clipped to 24–70 V
========================  ====================================================================================

Observations (float32 vectors; ``D`` = encoder dim)
----------------------------------------------------
========================  ====================================================================================
paper exposure            ``[latent (D), histogram counts (10), histogram edges (11)]`` — the paper's eq. (10);
                          with ``obs_hist_fractions`` counts / pixel count and edges / 255
paper focus               ``[latent (D)]`` — eq. (9)
ours exposure             history summary ``[brightness statistics (9: percentiles, mean, std, clipped
                          fractions), the same of the previous frame, log2 exposure/12, previous, difference,
                          step/horizon, has-previous]``, then the current latent (``obs_latent``)
ours focus                history summary ``[blur, previous blur, Δblur, best frame's blur, whole-frame blur,
                          sharpness/4, Δsharpness, best − current sharpness, (V − 49.5)/3.5,
                          (V_prev − 49.5)/3.5, ΔV/2, (V_best − V)/2, step/horizon, has-previous, side,
                          previous side]`` (best frame so far by ``best_by``: lowest blur or highest
                          sharpness; blur and side = the object's defocus estimate of
                          :func:`dasha.vision.blur_estimator.defocus_estimate`, log(1 + px)/3 and
                          2·P(front focus) − 1, which it reads from how the background is blurred;
                          then the focus fit of the lens phase's frames (:mod:`dasha.envs.focus_fit`):
                          (V_fit − V)/2, (V_other − V)/2 (best fit on the other side), their RMS errors;
                          sharpness = log10 of the AF window's Tenengrad/mean², whose changes between frames do
                          not depend on the scene), then the current latent (``obs_latent``)
========================  ====================================================================================
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import gymnasium as gym
import numpy as np

from dasha.camera import EXPOSURE_TABLE_US
from dasha.camera.base import Frame, LensCurve
from dasha.camera.calibration import Optics, believed_curve
from dasha.camera.errors import SpecError
from dasha.camera.sim import Scene, SimCamera, load_texture, vergence_range_d
from dasha.camera.sim.scene import MIN_DISTANCE_M
from dasha.envs.config import EnvConfig
from dasha.envs.focus_fit import FocusFit, fit_focus
from dasha.envs.rewards import focus_error, histogram_suitable, in_focus, well_exposed
from dasha.vision.blur_estimator import FRAME_PX, defocus_estimate
from dasha.vision.descriptor import DESCRIPTOR_DIM
from dasha.vision.encoders import make_encoder
from dasha.vision.focus_measures import af_window, tenengrad
from dasha.vision.histogram import paper_histogram

EXPOSURE_TABLE = np.asarray(EXPOSURE_TABLE_US, dtype=np.float64)
_FINE_STOPS = np.arange(1, 10) / 3.0  # ⅓ … 3 stops
_COARSE_STOPS = np.arange(4.0, 11.0)  # 4 … 10 stops
EXPOSURE_STOPS = np.concatenate([-np.concatenate([_FINE_STOPS, _COARSE_STOPS])[::-1], _FINE_STOPS, _COARSE_STOPS])
"""Our relative exposure moves (stops; ×2^s): ⅓-stop steps up to ±3 stops, whole stops from ±4 to ±10, so one
move can cross the whole exposure range once the frame is not clipped."""
LENS_STEPS_V = np.geomspace(0.04, 12.0, 20)
"""Magnitudes of our relative lens moves (V)."""
LENS_MOVES_V = np.concatenate([-LENS_STEPS_V[::-1], LENS_STEPS_V])
"""Our signed relative lens moves (V), action k = 1…40 ↦ LENS_MOVES_V[k − 1]."""
LENS_V_RANGE = (24.0, 70.0)
OURS_EXPOSURE_RANGE_US = (24.0, 4_500_000.0)
"""Our exposure moves span the camera's range (CMV2000: from 24 µs), not only the paper's table (from 1 ms)."""
PAPER_LENS_NVEC = (47, 100)
STOP = 0
TARGET_GREY = 100.0
"""Grey level the oracle exposure aims the frame's median at (Mono8)."""
WINDOW_GOOD_GREY = (55.0, 100.0)
"""AF-window medians (Mono8) centre-weighted metering accepts: faces and bright objects keep their detail (on the
astronaut photo, haar-face detection stays ≥ 95 % for window medians 50–100, while a frame median of 120 already
loses it). Inside this range there is nothing to gain from another exposure move."""
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
FOCUS_SUMMARY_DIM = 20
EXPOSURE_SUMMARY_DIM = 2 * 9 + 5
LENS_CENTER_V, LENS_HALF_SPAN_V = 49.5, 3.5


def paper_lens_voltage(action: Any) -> float:
    """The paper's absolute lens action (coarse, fine) → voltage (V), clipped to 70 V."""
    coarse, fine = (int(x) for x in np.asarray(action).ravel()[:2])
    return min(LENS_V_RANGE[0] + coarse + fine / 100.0, LENS_V_RANGE[1])


def log_exposure(exposure_us: float) -> float:
    """Normalised log exposure: log2(µs / 1000) / 12 (0 at 1 ms, ≈1 at 4 s)."""
    return math.log2(max(exposure_us, 1.0) / 1000.0) / 12.0


def on_object(box: Sequence[float], object_box: Sequence[float]) -> bool:
    """Whether at least :data:`ON_OBJECT` of ``box``'s area (x0, y0, x1, y1, px) lies inside ``object_box``."""
    x0, y0, x1, y1 = (float(c) for c in box[:4])
    ox0, oy0, ox1, oy1 = (float(c) for c in object_box[:4])
    area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    inter = max(min(x1, ox1) - max(x0, ox0), 0.0) * max(min(y1, oy1) - max(y0, oy0), 0.0)
    return area > 0 and inter >= ON_OBJECT * area


def median_grey(image: np.ndarray) -> float:
    """Median grey level of a Mono8 frame (0–255)."""
    counts = np.bincount(image.ravel(), minlength=256)
    return float(np.searchsorted(np.cumsum(counts), image.size / 2))


def exposure_stats(image: np.ndarray) -> np.ndarray:
    """Nine brightness statistics of a Mono8 frame: percentiles 1/10/50/90/99 and mean (/255), std (/128),
    fractions of pixels ≤ 2 and ≥ 253."""
    counts = np.bincount(image.ravel(), minlength=256)
    cdf = np.cumsum(counts) / image.size
    pct = np.searchsorted(cdf, [0.01, 0.10, 0.50, 0.90, 0.99]) / 255.0
    levels = np.arange(256.0)
    mean = float(counts @ levels) / image.size
    std = math.sqrt(max(float(counts @ (levels - mean) ** 2) / image.size, 0.0))
    return np.asarray([*pct, mean / 255.0, std / 128.0, cdf[2], 1.0 - cdf[252]], np.float32)


def exposure_error_stops(image: np.ndarray, centre_weighted: bool = False) -> float:
    """How far the frame is from a good exposure, in stops (clipped frames count 8).

    Whole frame: |log2(median / :data:`TARGET_GREY`)|. ``centre_weighted`` meters the AF window (the object)
    instead: how far its median lies outside :data:`WINDOW_GOOD_GREY` (0 inside) — detectors need the object,
    not the background, exposed.
    """
    m = median_grey(af_window(image) if centre_weighted else image)
    if m <= 1 or m >= 254:
        return 8.0
    if centre_weighted:
        lo, hi = WINDOW_GOOD_GREY
        return max(math.log2(lo / m), math.log2(m / hi), 0.0)
    return abs(math.log2(m / TARGET_GREY))


class Step:
    """One captured frame and what perception has computed from it so far (each feature on first use, timed).

    Features, the paper histogram, the defocus estimate, the AF-window sharpness and the detection are computed by
    the task the first time something asks for them and cached here; a method that never asks pays nothing.
    """

    __slots__ = ("_features", "_histogram", "defocus", "detected", "frame", "task", "window_sharpness")

    def __init__(self, frame: Frame, task: CameraTask) -> None:
        self.frame = frame
        self.task = task
        self._features: np.ndarray | None = None
        self._histogram: tuple[np.ndarray, np.ndarray, float] | None = None
        self.defocus: tuple[float, float] | None = None
        """Object defocus estimate ``(log(1 + blur px) / 3, P(front focus))``, computed on first use."""
        self.window_sharpness: float | None = None
        """log10 of the AF window's exposure-normalised Tenengrad, computed on first use."""
        self.detected: tuple[tuple[float, float, float, float] | None] | None = None
        """Cached :meth:`CameraTask.detection` result (a 1-tuple once computed)."""

    def __repr__(self) -> str:
        return f"Step(exposure_us={self.frame.exposure_us:g}, lens_v={self.frame.lens_v})"

    @property
    def features(self) -> np.ndarray:
        """The encoder's latent of the frame (float32 ``[dim]``)."""
        if self._features is None:
            t0 = time.perf_counter()
            self._features = self.task.encoder.encode(self.frame.image)[0]
            self.task.perception_s += time.perf_counter() - t0
        return self._features

    def _hist(self) -> tuple[np.ndarray, np.ndarray, float]:
        if self._histogram is None:
            t0 = time.perf_counter()
            self._histogram = paper_histogram(self.frame.image)
            self.task.perception_s += time.perf_counter() - t0
        return self._histogram

    @property
    def counts(self) -> np.ndarray:
        """The paper histogram's 10 counts."""
        return self._hist()[0]

    @property
    def edges(self) -> np.ndarray:
        """The paper histogram's 11 bin edges."""
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


class CameraTask:
    """One simulated camera plus everything the environments observe and score (see module docstring)."""

    def __init__(self, config: EnvConfig | dict[str, Any] | None = None) -> None:
        self.config = EnvConfig.from_dict(config)
        weights = self.config.encoder_weights
        try:
            self.encoder = make_encoder(self.config.encoder, **({"weights": weights} if weights is not None else {}))
        except FileNotFoundError as exc:
            raise SpecError(f"encoder {self.config.encoder!r}: {exc}") from None
        self._has_blur = self.encoder.dim > BLUR_FEATURE and self.config.encoder == "default"
        self._textures: dict[str, np.ndarray] = {}
        self._background = self.config.backgrounds[0]
        self.camera = SimCamera(
            self._scene(self.config.scenes[0], self.config.backgrounds[0], 1.0), size=self.config.size
        )
        self.reference_boxes: list[tuple[float, float, float, float]] = []
        self.episode: dict[str, Any] = {}
        self.perception_s = 0.0
        """Seconds spent on perception (features, histogram, focus estimates) since the episode started."""
        self.detector_s = 0.0
        """Seconds spent in the detector since the episode started."""
        self.steps: list[Step] = []
        """Frames captured in the current episode, with their perception (the first is the free start frame)."""

    @property
    def frames(self) -> list[Frame]:
        """The frames of :attr:`steps`."""
        return [s.frame for s in self.steps]

    # -- calibration ---------------------------------------------------------------------------------
    @property
    def optics(self) -> Optics:
        """The driven camera's optics (focal length, f-number, pixel pitch), read at every use: it follows changes."""
        optics = getattr(self.camera, "optics", None)
        if optics is None:
            raise SpecError(f"camera {getattr(self.camera, 'spec', '')!r} reports no optics calibration")
        return optics

    @property
    def lens_curve(self) -> LensCurve:
        """The driven lens's drive → dpt curve as the controllers believe it (``config.calibration_error``)."""
        lens = self.camera.lens
        if lens is None or lens.curve is None:
            raise SpecError(f"camera {getattr(self.camera, 'spec', '')!r} has no lens with a calibration curve")
        return believed_curve(lens.curve, *self.config.calibration_error)

    # -- spaces --------------------------------------------------------------------------------------
    @property
    def paper(self) -> bool:
        """True in paper mode."""
        return self.config.mode == "paper"

    @cached_property
    def exposure_action_space(self) -> gym.spaces.Space:
        """Exposure actions (see module docstring)."""
        return gym.spaces.Discrete(len(EXPOSURE_TABLE) if self.paper else 1 + len(EXPOSURE_STOPS))

    @cached_property
    def lens_action_space(self) -> gym.spaces.Space:
        """Lens actions (see module docstring)."""
        if self.paper:
            return gym.spaces.MultiDiscrete(PAPER_LENS_NVEC)
        return gym.spaces.Discrete(1 + len(LENS_MOVES_V))

    @cached_property
    def exposure_observation_space(self) -> gym.spaces.Box:
        """Exposure observations (see module docstring)."""
        d = self.encoder.dim
        n = d + 10 + 11 if self.paper else EXPOSURE_SUMMARY_DIM + (d if self.config.obs_latent else 0)
        return gym.spaces.Box(-np.inf, np.inf, (n,), np.float32)

    @cached_property
    def focus_observation_space(self) -> gym.spaces.Box:
        """Lens observations (see module docstring)."""
        d = self.encoder.dim
        n = d if self.paper else FOCUS_SUMMARY_DIM + (d if self.config.obs_latent else 0)
        return gym.spaces.Box(-np.inf, np.inf, (n,), np.float32)

    # -- episodes ------------------------------------------------------------------------------------
    def _texture(self, name: str) -> np.ndarray:
        if name not in self._textures:
            self._textures[name] = load_texture(name)
        return self._textures[name]

    def _scene(self, obj: str, bg: str, distance_m: float, **kwargs: Any) -> Scene:
        return Scene(
            name=str(obj), object_texture=self._texture(obj), background_texture=self._texture(bg),
            object_distance_m=distance_m, **kwargs,
        )  # fmt: skip

    def sample_scene(self, rng: np.random.Generator) -> Scene:
        """A random scene: texture, background, distance (uniform in dpt), framing, background depth."""
        cfg = self.config
        near = cfg.distance_m[0]
        vergence = float(rng.uniform(*vergence_range_d(cfg.distance_m)))
        distance = math.inf if vergence < 1e-4 else max(1.0 / vergence, near)
        bg_vergence = vergence * float(rng.uniform(0.0, 0.7))  # the background is always farther
        obj = cfg.scenes[int(rng.integers(len(cfg.scenes)))]
        self._background = cfg.backgrounds[int(rng.integers(len(cfg.backgrounds)))]
        return self._scene(
            obj,
            self._background,
            distance,
            background_distance_m=math.inf if bg_vergence < 1e-4 else max(1.0 / bg_vergence, distance),
            object_fraction=float(rng.uniform(*cfg.object_fraction)),
            object_center=(float(rng.uniform(0.4, 0.6)), float(rng.uniform(0.4, 0.6))),
        )

    def reset(self, rng: np.random.Generator, needs_detection: bool = False, oracle_exposure: bool = False) -> Step:
        """Start an episode: random scene, light, aperture, start settings; returns the free first frame.

        With ``needs_detection`` the scene is redrawn (≤ 30 times) until the detector finds the object on the
        sharp, well-exposed render; its boxes become the reference for :meth:`detection`. With
        ``oracle_exposure`` the episode starts well exposed (the focus-only task).
        """
        cfg, cam = self.config, self.camera
        for _ in range(30):
            cam.set_scene(self.sample_scene(rng))
            cam.set_lux(self.sample_lux(rng))
            cam.set_f_number(float(rng.uniform(*cfg.f_number)))
            if not needs_detection or self._find_reference_boxes():
                break
        else:
            raise SpecError(
                f"detector {cfg.detector!r} finds nothing on 30 sharp renders of scenes {list(cfg.scenes)}; "
                "choose scenes it can detect (e.g. astronaut for haar-face)"
            )
        seed = int(rng.integers(2**31))
        if oracle_exposure:
            exposure = self.oracle_exposure_us()
        elif cfg.start_exposure_us is not None:
            exposure = cfg.start_exposure_us
        else:
            lo_e, hi_e = math.log(EXPOSURE_TABLE[0]), math.log(EXPOSURE_TABLE[-1])
            exposure = float(EXPOSURE_TABLE[np.argmin(np.abs(np.log(EXPOSURE_TABLE) - rng.uniform(lo_e, hi_e)))])
        start_v = cfg.start_lens_v if cfg.start_lens_v is not None else float(rng.uniform(*cfg.start_lens_range_v))
        cam.restart(seed, exposure, start_v)
        self.perception_s = self.detector_s = 0.0
        self.steps = []
        self.episode = {"scene": cam.scene.name, "background": self._background,
                        "distance_m": cam.scene.object_distance_m, "lux": cam.light.lux_at(0)}  # fmt: skip
        return self.capture()

    def sample_lux(self, rng: np.random.Generator) -> float:
        """An episode's illuminance (lx): log-uniform over ``config.lux``, or one of the paper's ramp levels."""
        lo, hi = self.config.lux
        if self.config.lux_schedule == "paper-ramp":
            levels = [*np.arange(lo, hi, 10.0), hi]  # 13, 23, …, 293, 300 lx: the ramp's levels, equal time each
            return float(levels[int(rng.integers(len(levels)))])
        return float(min(max(math.exp(rng.uniform(math.log(lo), math.log(hi))), lo), hi))  # exp(log x) may pass x

    def capture(self) -> Step:
        """Capture a frame; its features are computed when first asked for (their cost goes to ``perception_s``)."""
        step = Step(self.camera.capture(), self)
        self.steps.append(step)
        return step

    def home_lens(self) -> Step | None:
        """Park a lens outside the range the ours-mode agents start from (``start_lens_range_v``) at its middle.

        A lens at rest (a Varioptic lens at 24 V, the paper domain's factory setting) is blurred beyond anything a
        relative-move controller (ours agents, ``dfd``) has seen; as a camera's AF parks its lens before a search,
        one move takes it home. Returns the new frame, or None when the lens was already in range.
        """
        lens = self.camera.lens
        lo, hi = self.config.start_lens_range_v
        if lens is None or lo <= lens.voltage <= hi:
            return None
        lens.set_voltage(lens.limits.clip((lo + hi) / 2.0))
        return self.capture()

    def oracle_exposure_us(self) -> float:
        """Exposure (µs) that puts the median grey of the sharp, noise-free render at 100 (focus-only task)."""
        cam = self.camera
        saved = cam.exposure_us
        v = cam.in_focus_voltage()
        power = float(cam.lens.curve.power(v if math.isfinite(v) else cam.lens.voltage))
        lo, hi = cam.exposure_limits.low, min(cam.exposure_limits.high, float(EXPOSURE_TABLE[-1]))
        e = 10_000.0
        for _ in range(6):  # converges in 2–3 iterations unless it starts saturated (÷ 8 per iteration)
            cam.exposure_us = min(max(e, lo), hi)
            m = median_grey(cam.render(lens_power_d=power, noise=False).image)
            e = cam.exposure_us * TARGET_GREY / max(m, 1.0) if m < 250 else cam.exposure_us / 8
        e = min(max(e, lo), hi)
        cam.exposure_us = saved
        return e

    # -- detection -----------------------------------------------------------------------------------
    @cached_property
    def detector(self) -> Any:
        """The configured detector (None for the ``in-focus`` and ``estimated-focus`` judges)."""
        if self.config.detector in ("in-focus", "estimated-focus"):
            return None
        from dasha.vision.detectors import make_detector

        return make_detector(self.config.detector)

    def _find_reference_boxes(self) -> bool:
        """Detect on the sharp, well-exposed, noise-free render; keep the boxes that lie on the object (at least
        :data:`ON_OBJECT` of their area inside its ground-truth box) as the reference. Where even the longest exposure
        cannot expose the scene (below ≈ 0.1 lx), the reference render is made at 100 lx: it only says where the
        object is."""
        if self.detector is None:
            return True
        frame = self._reference_render()
        if frame is not None and median_grey(frame.image) < 25:  # too dark to expose at all: where is the object?
            saved = self.camera.light
            self.camera.set_lux(100.0)
            frame = self._reference_render()
            self.camera.light = saved
        boxes = [b.as_tuple() for b in self.detector.detect(frame.image)] if frame else []
        truth = frame.truth if frame is not None else None
        self.reference_boxes = [b for b in boxes if truth is None or on_object(b, truth.object_box)]
        return bool(self.reference_boxes)

    def _reference_render(self) -> Frame | None:
        """The noise-free render at the oracle exposure and the in-focus voltage (None if focus is out of reach)."""
        cam = self.camera
        saved_e = cam.exposure_us
        cam.exposure_us = self.oracle_exposure_us()
        v = cam.in_focus_voltage()
        frame = cam.render(lens_power_d=cam.lens.curve.power(v), noise=False) if math.isfinite(v) else None
        cam.exposure_us = saved_e
        return frame

    def detection(self, step: Step) -> tuple[float, float, float, float] | None:
        """The detected box with IoU ≥ 0.5 with a reference box on the object (any box when there is no reference,
        e.g. on a live camera), or None; cached on the step; the detector's time goes to ``detector_s``.

        Judges: ``in-focus`` (simulator only) — the object box when the object is in focus and the histogram is
        suitable; ``estimated-focus`` — the object box (or the AF window) when the estimated object blur is
        ≤ :data:`ACCEPT_BLUR_PX` and the histogram is suitable (no ground truth).
        """
        if step.detected is None:
            t0 = time.perf_counter()
            step.detected = (self._detect(step),)
            if self.detector is not None:
                self.detector_s += time.perf_counter() - t0
        return step.detected[0]

    def _detect(self, step: Step) -> tuple[float, float, float, float] | None:
        if self.detector is None:
            truth = step.frame.truth
            if self.config.detector == "estimated-focus":
                if not (self.estimated_blur_px(step) <= ACCEPT_BLUR_PX and step.suitable):
                    return None
                h, w = step.frame.image.shape
                return (w / 4, h / 4, 3 * w / 4, 3 * h / 4)  # the AF window: where the estimate looked
            ok = truth is not None and in_focus(truth.blur_px, self.config.goal_blur_px) and step.suitable
            return tuple(float(c) for c in truth.object_box) if ok else None  # type: ignore[union-attr,return-value]
        from dasha.vision.detectors import iou

        for box in self.detector.detect(step.frame.image):
            if not self.reference_boxes or any(iou(box, ref) >= IOU_THRESHOLD for ref in self.reference_boxes):
                return box.as_tuple()
        return None

    def accepted(self, step: Step) -> bool:
        """The no-reference acceptance test of the joint task's early stop and of the safety nets: the detector (if
        there is one) finds the object **and** the estimated object blur is ≤ :data:`ACCEPT_BLUR_PX` — success means
        detected and in focus, and a detector also fires on a blurred object. No ground truth."""
        if self.estimated_blur_px(step) > ACCEPT_BLUR_PX:
            return False
        return self.detector is None or self.detection(step) is not None

    def brisque(self, step: Step, box: tuple[float, float, float, float] | None = None) -> float:
        """BRISQUE of the frame (or of ``box``, when at least 32×32 px)."""
        from dasha.vision.brisque import brisque_score

        img = step.frame.image
        if box is not None:
            x0, y0, x1, y1 = (round(c) for c in box)
            crop = img[max(y0, 0) : y1, max(x0, 0) : x1]
            if crop.shape[0] >= 32 and crop.shape[1] >= 32:
                img = crop
        return float(brisque_score(img, model=self.config.brisque_model))

    # -- actions -------------------------------------------------------------------------------------
    def apply_exposure(self, action: Any) -> bool:
        """Apply an exposure action; returns False for our stop action (nothing changes)."""
        a = int(np.asarray(action).ravel()[0])
        cam = self.camera
        if self.paper:
            cam.exposure_us = float(EXPOSURE_TABLE[a])
            return True
        if a == STOP:
            return False
        e = cam.exposure_us * 2.0 ** EXPOSURE_STOPS[a - 1]
        lo = max(OURS_EXPOSURE_RANGE_US[0], cam.exposure_limits.low)
        hi = min(OURS_EXPOSURE_RANGE_US[1], cam.exposure_limits.high)
        cam.exposure_us = float(min(max(e, lo), hi))
        return True

    def apply_lens(self, action: Any) -> bool:
        """Apply a lens action (waits for the lens to settle); returns False for our stop action."""
        lens = self.camera.lens
        if self.paper:
            lens.set_voltage(lens.limits.clip(paper_lens_voltage(action)))
            return True
        a = int(np.asarray(action).ravel()[0])
        if a == STOP:
            return False
        lens.set_voltage(lens.limits.clip(lens.voltage + float(LENS_MOVES_V[a - 1])))
        return True

    # -- observations --------------------------------------------------------------------------------
    def exposure_observation(self, step: Step, prev: Step | None, t: int) -> np.ndarray:
        """High-level / exposure observation (see module docstring)."""
        if self.paper:
            counts, edges = step.counts, step.edges
            if self.config.obs_hist_fractions:  # observation normalisation (EnvConfig.obs_hist_fractions)
                counts, edges = counts / max(float(counts.sum()), 1.0), edges / 255.0
            return np.concatenate([step.features, counts, edges]).astype(np.float32)
        p = prev or step
        e, e_prev = log_exposure(step.frame.exposure_us), log_exposure(p.frame.exposure_us)
        parts = [
            exposure_stats(step.frame.image),
            exposure_stats(p.frame.image),
            np.asarray([e, e_prev, e - e_prev, t / self.config.exposure_horizon, float(prev is not None)], np.float32),
        ]
        if self.config.obs_latent:
            parts.append(step.features)
        return np.concatenate(parts).astype(np.float32)

    def _defocus(self, step: Step) -> tuple[float, float]:
        if step.defocus is None:
            t0 = time.perf_counter()
            shared = self.config.encoder == "default" and step.frame.image.shape == (FRAME_PX, FRAME_PX)
            step.defocus = defocus_estimate(step.frame.image, step.features[:DESCRIPTOR_DIM] if shared else None)
            self.perception_s += time.perf_counter() - t0
        return step.defocus

    def blur_feature(self, step: Step) -> float:
        """Estimated object blur, log(1 + px) / 3 (:func:`~dasha.vision.blur_estimator.defocus_estimate`; cached)."""
        return self._defocus(step)[0]

    def estimated_blur_px(self, step: Step) -> float:
        """Estimated object blur (px) of a frame (the inverse of :meth:`blur_feature`)."""
        return math.expm1(3.0 * self.blur_feature(step))

    def side_feature(self, step: Step) -> float:
        """Estimated side of focus from the frame alone: 2·P(front focus) − 1 ∈ [−1, 1] (+1: lower the voltage)."""
        return 2.0 * self._defocus(step)[1] - 1.0

    def sharpness_feature(self, step: Step) -> float:
        """log10 of the AF window's Tenengrad / mean² (scene-dependent; differences between frames are not)."""
        if step.window_sharpness is None:
            t0 = time.perf_counter()
            ten = float(tenengrad(af_window(step.frame.image), normalize=True))
            step.window_sharpness = math.log10(ten + 1e-6)
            self.perception_s += time.perf_counter() - t0
        return step.window_sharpness

    def better_focus(self, step: Step, best: Step | None) -> bool:
        """Whether ``step`` beats ``best`` as the episode's best-focused frame (``config.best_by``)."""
        if best is None:
            return True
        if self.config.best_by == "sharpness":
            return self.sharpness_feature(step) > self.sharpness_feature(best)
        return self.blur_feature(step) < self.blur_feature(best)

    def frame_blur_feature(self, step: Step) -> float:
        """The encoder's whole-frame blur estimate, log(1 + px) / 3 (0 for encoders without one)."""
        return float(step.features[BLUR_FEATURE]) if self._has_blur else 0.0

    def focus_fit(self, history: Sequence[Step]) -> FocusFit:
        """Least-squares focus position from the blur estimates of ``history`` (:mod:`dasha.envs.focus_fit`), with the
        driven camera's optics and its lens curve as the controllers believe it (:attr:`optics`, :attr:`lens_curve`);
        the prior is every distance the lens can focus (:data:`FOCUS_RANGE_M`), whatever the episode domain."""
        volts = [s.frame.lens_v or 0.0 for s in history]
        log_blur = [3.0 * self.blur_feature(s) for s in history]
        return fit_focus(volts, log_blur, self.optics, self.lens_curve, vergence_range_d(FOCUS_RANGE_M))

    def focus_observation(
        self, step: Step, prev: Step | None, t: int, best: Step | None = None, history: Sequence[Step] = ()
    ) -> np.ndarray:
        """Low-level / focus observation (see module docstring); ``history``: the lens phase's frames so far,
        ending with ``step`` (default: ``prev`` and ``step``)."""
        if self.paper:
            return step.features.astype(np.float32)
        p, b = prev or step, best or step
        fit = self.focus_fit(history or ([prev, step] if prev is not None else [step]))
        v, v_prev, v_best = (s.frame.lens_v or 0.0 for s in (step, p, b))
        blur, blur_prev, blur_best = (self.blur_feature(s) for s in (step, p, b))
        sharp, sharp_prev, sharp_best = (self.sharpness_feature(s) for s in (step, p, b))
        summary = [
            blur, blur_prev, blur - blur_prev, blur_best, self.frame_blur_feature(step),
            sharp / 4.0, sharp - sharp_prev, sharp_best - sharp,
            (v - LENS_CENTER_V) / LENS_HALF_SPAN_V, (v_prev - LENS_CENTER_V) / LENS_HALF_SPAN_V,
            (v - v_prev) / 2.0, (v_best - v) / 2.0,
            t / self.config.lens_horizon, float(prev is not None),
            self.side_feature(step), self.side_feature(p),
            (fit.best_v - v) / 2.0, (fit.other_v - v) / 2.0, fit.best_rms, fit.other_rms,
        ]  # fmt: skip
        parts = [np.asarray(summary, np.float32)]
        if self.config.obs_latent:
            parts.append(step.features)
        return np.concatenate(parts).astype(np.float32)

    def focus_error(self, step: Step) -> float:
        """Our shaped lens error of a frame, log(1 + |defocus| / 0.12 dpt); training signal only."""
        return focus_error(self.defocus_d(step))

    def defocus_d(self, step: Step) -> float:
        """Ground-truth |defocus| (dpt) of the object; training signal only."""
        return abs(step.frame.truth.defocus_d) if step.frame.truth is not None else 0.0
