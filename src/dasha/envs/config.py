"""Environment configuration: mode, observations, domain randomisation, detector, horizons.

One :class:`EnvConfig` drives the exposure, focus and hierarchical environments. It can be built from a plain
dict (RLlib ``env_config``, a TOML ``[env]`` table); unknown keys and out-of-range values raise
:class:`~dasha.camera.errors.SpecError` with the key's name.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from dasha.camera.errors import SpecError
from dasha.camera.faults import split_faults
from dasha.camera.sim.conditions import CONDITIONS
from dasha.camera.sim.scene import BACKGROUND_TEXTURES, MIN_DISTANCE_M, OBJECT_TEXTURES
from dasha.envs.rewards import IN_FOCUS_PX
from dasha.vision.detectors import DETECTORS, is_detector_name

#: Object photos held out of every training (policies, paper baselines, blur/defocus estimators); evaluation draws
#: from these.
EVAL_SCENES: tuple[str, ...] = ("astronaut", "coffee", "moon", "coins")
#: Background photos held out of every training, for evaluation (:data:`dasha.camera.sim.EXTRA_TEXTURES`).
EVAL_BACKGROUNDS: tuple[str, ...] = ("motorcycle", "jacksboro")
#: Textures used for training (domain randomisation): every other photo, plus the background textures as objects.
TRAIN_SCENES: tuple[str, ...] = tuple(s for s in OBJECT_TEXTURES if s not in EVAL_SCENES) + BACKGROUND_TEXTURES
#: Backgrounds used for training.
TRAIN_BACKGROUNDS: tuple[str, ...] = BACKGROUND_TEXTURES
#: A training photo with a frontal face (haar-face finds it), for training with a real face detector.
TRAIN_FACE_SCENES: tuple[str, ...] = ("grace_hopper",)

#: Success judges that are not detectors: ``in-focus`` — ground truth, object blur ≤ 2 px (simulator only; a
#: training signal and the af suite's judge); ``estimated-focus`` — no reference, dasha's estimated object blur
#: ≤ 1.5 px (:data:`dasha.envs.lens_fallback.ACCEPT_BLUR_PX`): the stop rule of a paper-mode lens agent where no
#: detector can see the object.
JUDGES: tuple[str, ...] = ("in-focus", "estimated-focus")


def joint_training_scenes(detector: str) -> tuple[str, ...]:
    """The joint task's training objects when none are given: photos a real detector can find
    (:data:`TRAIN_FACE_SCENES` for ``haar-face`` and the other detectors), every training photo for a judge."""
    return TRAIN_SCENES if detector in JUDGES else TRAIN_FACE_SCENES


Mode = Literal["paper", "ours"]
Domain = Literal["wide", "paper"]

#: EnvConfig fields that define a policy's observations, actions and horizons (not the world it acts in).
AGENT_FIELDS: tuple[str, ...] = (
    "mode", "encoder", "encoder_weights", "size", "obs_latent", "obs_peak", "obs_hist_fractions", "best_by",
    "lens_horizon",
    "exposure_horizon", "max_high_level_steps", "lens_fit_actions", "exposure_meter_actions",
)  # fmt: skip

#: Paper domain: "factory" start settings — the camera's default exposure (µs) and the lens at rest (its lowest
#: drive, V), from which the paper's Fig. 6 starts (dark, blurred frames).
FACTORY_EXPOSURE_US = 10_000.0
FACTORY_LENS_V = 24.0
#: The worlds episodes are drawn from (``--domain``): ``wide`` — dasha's benchmark, object 0.2 m–∞, 5–1 000 lx
#: log-uniform, random start settings; ``paper`` — the paper's experiments (§IV): object 1.4–2.0 m, the 13–300 lx
#: ramp in 10 lx steps (each level equally likely), the factory start settings.
DOMAINS: dict[str, dict[str, Any]] = {
    "wide": {"distance_m": (MIN_DISTANCE_M, math.inf), "lux": (5.0, 1000.0), "lux_schedule": "log-uniform",
             "start_exposure_us": None, "start_lens_v": None},
    "paper": {"distance_m": (1.4, 2.0), "lux": (13.0, 300.0), "lux_schedule": "paper-ramp",
              "start_exposure_us": FACTORY_EXPOSURE_US, "start_lens_v": FACTORY_LENS_V},
}  # fmt: skip
DOMAIN_LABELS = {"wide": "0.2 m–∞, 5–1000 lx", "paper": "paper domain: 1.4–2.0 m, 13–300 lx ramp, factory start"}


def domain_changes(domain: str) -> dict[str, Any]:
    """EnvConfig fields of a domain (:data:`DOMAINS`); SpecError for an unknown name."""
    if domain not in DOMAINS:
        raise SpecError(f"unknown domain {domain!r} (choose from: {', '.join(DOMAINS)})")
    return dict(DOMAINS[domain])


@dataclass(frozen=True)
class EnvConfig:
    """Configuration shared by all dasha environments.

    Attributes:
        mode: ``"paper"`` — the paper's observations, actions and rewards; ``"ours"`` — relative actions with a
            learned stop, history in the observation, shaped rewards (see :mod:`dasha.envs.rewards`).
        encoder: image encoder name (``default``, ``cnn``, ``resnet152``).
        encoder_weights: weights of a learned encoder (``cnn``, ``resnet152``): a local ``state_dict`` file, or
            ``"random"`` for a random-init network (the same compute); None: the encoder's default (for
            ``resnet152`` torchvision's cache — nothing is downloaded).
        size: simulated frame size (px, square).
        scenes: object textures (skimage photo names or image paths), drawn uniformly per episode.
        backgrounds: background textures.
        distance_m: object distance range (m); drawn uniformly in diopters (``inf`` allowed as far end).
        lux: illuminance range (lx); drawn log-uniformly (``lux_schedule="log-uniform"``) or as one of the paper's
            ramp levels lo, lo + 10, …, hi (``"paper-ramp"``: 13, 23, …, 293, 300 lx).
        lux_schedule: how the episode's illuminance is drawn from ``lux``.
        f_number: f-number range; drawn uniformly.
        detector: detector that defines success of the joint task (``haar-face`` default), or ``in-focus``
            (ground-truth judge: blur ≤ 2 px; simulator only).
        brisque_model: BRISQUE model for the paper's rewards (``live`` or ``paper``).
        lens_horizon: low-level moves per high-level step (paper: 10).
        exposure_horizon: exposure moves before a forced hand-over (ours) .
        max_high_level_steps: high-level steps per hierarchical episode (the paper has no cap; truncation).
        start_exposure_us: initial exposure (µs); None = log-uniform over the paper's table.
        start_lens_v: initial lens voltage (V); None = uniform over ``start_lens_range_v``.
        obs_latent: ours mode: append the current frame's latent to the history summaries (off: the summaries
            alone learn faster and generalise as well).
        obs_peak: ours mode: the exposure observation also carries the paper's histogram peak P of the frame (/ 255)
            and whether the paper's rule holds (P ∈ [50, 150]: 1, else 0) — what the exposure task's goal is judged
            on, computed from the frame alone.
        obs_hist_fractions: paper mode: the exposure / high-level observation's histogram as fractions — counts /
            pixel count and bin edges / 255 — instead of the paper's raw counts (up to 65 536 for a 256×256 frame,
            which saturate the first layer and drown the latent) and grey levels: observation normalisation, the
            same information. On in the ``paper`` training preset.
        start_lens_range_v: range of the random initial lens voltage (V): by default the focus range of
            0.2 m – ∞ with 1 V margin (46–53 V); ``(24, 70)`` starts anywhere the lens can go.
        object_fraction: range of the object's width as a fraction of the frame width.
        gamma_high: high-level discount (paper 0.99). Used by our shaping terms.
        gamma_low: low-level discount of our shaping term — the γ PPO trains the lens agent with (0.99, as
            ``PPOSettings.gamma_low``; the paper's γ_L = 0 is what ``--preset paper`` passes, and its rewards
            have no shaping term).
        step_cost: ours mode: reward cost of every exposure or lens move (the paper has none).
        goal_blur_px: blur-circle diameter (px) the ``in-focus`` judge accepts. Success is always reported at
            2 px (``dasha eval`` and ``dasha bench`` reset it); training may ask for less to leave a margin
            for textures whose blur is hard to read (e.g. the low-detail ``moon``).
        best_by: ours mode: which frame of the episode is the "best so far" the focus observation reports —
            ``blur`` (lowest estimated blur) or ``sharpness`` (highest AF-window Tenengrad; within one scene it
            ranks frames reliably even where the learned blur estimate misreads a texture, e.g. ``coins``).
        lens_fit_actions: ours mode: the lens agent's actions add two jumps — to the focus fit's best voltage and to
            its best voltage on the other side of the lens (the ``V fit`` and ``V other`` it observes,
            :mod:`dasha.envs.focus_fit`) — beside the relative moves: a jump lands anywhere, where a relative move
            lands within its step grid (±17 %). Off in the policies trained before it.
        exposure_meter_actions: ours mode: the exposure agent's actions add two metered jumps — to the exposure that
            brings the frame's median to 100 grey and the AF window's to ≈ 74 grey on a linear sensor (×/÷ 8 when
            that median is clipped, :func:`dasha.vision.metering.metered_jump_ratio`) — beside the relative moves.
            Off in the policies trained before it.
        lens_fallback_moves: ours mode: move budget of the lens agent's safety net, a short contrast search
            that runs when the agent used its whole ``lens_horizon`` without stopping
            (:mod:`dasha.envs.lens_fallback`). 0 (off) in training, so the agent learns to finish by itself;
            evaluation and deployment turn it on.
        calibration_error: what the controllers *believe* about the driven lens, as an error of its curve:
            ``(offset dpt, relative slope error)``; the world stays true (the ``calibration`` bench suite).
        calibration_errors: training: each episode's believed calibration error drawn uniformly from these
            ``(offset dpt, slope error)`` pairs (repeat a pair to weight it), so that a policy learns to correct a
            lens model that is off; empty (default): ``calibration_error`` in every episode. A small set of pairs
            keeps the focus fit's grid cached (one per believed curve).
        condition: an extreme condition on the optical image — ``rain``, ``dust``, ``glare``, ``motion`` (blur) or
            ``none`` (:mod:`dasha.camera.sim.conditions`); ``condition_strength`` 0 … 1 scales it.
        camera: the simulated camera the world drives — ``sim`` (the simulator) or ``twin`` (the same simulator
            behind the real Basler backend on pylon's camera emulation and the Varioptic driver on a
            pseudo-terminal: :mod:`dasha.camera.twin`), either with faults injected: ``faults(KEY=P,…):sim``
            (:mod:`dasha.camera.faults`).
        bracket_moves: ours mode, joint task with a real detector: frames of the detection safety net, an
            exposure bracket at the final lens position when the lens phase ends without a detection
            (:mod:`dasha.envs.exposure_bracket`; it has 3 exposures to try, more budget changes nothing). 0 (off)
            in training; evaluation and deployment turn it on.
    """

    mode: Mode = "ours"
    encoder: str = "default"
    encoder_weights: str | None = None
    size: int = 256
    scenes: tuple[str, ...] = TRAIN_SCENES
    backgrounds: tuple[str, ...] = BACKGROUND_TEXTURES
    distance_m: tuple[float, float] = (MIN_DISTANCE_M, math.inf)
    lux: tuple[float, float] = (5.0, 1000.0)
    f_number: tuple[float, float] = (2.8, 2.8)
    lux_schedule: Literal["log-uniform", "paper-ramp"] = "log-uniform"
    detector: str = "haar-face"
    brisque_model: str = "live"
    lens_horizon: int = 10
    exposure_horizon: int = 5
    max_high_level_steps: int = 5
    start_exposure_us: float | None = None
    start_lens_v: float | None = None
    obs_latent: bool = False
    obs_peak: bool = False
    obs_hist_fractions: bool = False
    start_lens_range_v: tuple[float, float] = (46.0, 53.0)
    object_fraction: tuple[float, float] = (0.45, 0.75)
    gamma_high: float = 0.99
    gamma_low: float = 0.99
    step_cost: float = 0.1
    goal_blur_px: float = IN_FOCUS_PX
    best_by: Literal["blur", "sharpness"] = "blur"
    lens_fit_actions: bool = False
    exposure_meter_actions: bool = False
    lens_fallback_moves: int = 0
    bracket_moves: int = 0
    calibration_error: tuple[float, float] = (0.0, 0.0)
    calibration_errors: tuple[tuple[float, float], ...] = ()
    camera: str = "sim"
    condition: str = "none"
    condition_strength: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in ("paper", "ours"):
            raise SpecError(f"env mode must be 'paper' or 'ours', got {self.mode!r}")
        if not 64 <= self.size <= 2048:
            raise SpecError(f"env size must be 64–2048 px (the AF window is a quarter of it), got {self.size!r}")
        if not self.scenes:
            raise SpecError("env scenes must not be empty")
        if self.encoder_weights is not None and self.encoder == "default":
            raise SpecError("env encoder_weights applies to the learned encoders (cnn, resnet152), not 'default'")
        near, far = self.distance_m
        if not (near >= MIN_DISTANCE_M and (far >= near or math.isinf(far))):
            raise SpecError(f"env distance_m must satisfy 0.2 ≤ near ≤ far (far may be inf), got {self.distance_m}")
        lo, hi = self.lux
        if not (0 < lo <= hi <= 1e5):
            raise SpecError(f"env lux must satisfy 0 < lo ≤ hi ≤ 100000, got {self.lux}")
        n_lo, n_hi = self.f_number
        if not (1.4 <= n_lo <= n_hi <= 22):
            raise SpecError(f"env f_number must satisfy 1.4 ≤ lo ≤ hi ≤ 22, got {self.f_number}")
        self._check_task_settings()

    def _check_task_settings(self) -> None:
        """Start state, success test and agent settings (the world is checked in __post_init__)."""
        v_lo, v_hi = self.start_lens_range_v
        if not 24.0 <= v_lo <= v_hi <= 70.0:
            raise SpecError(f"env start_lens_range_v must satisfy 24 ≤ lo ≤ hi ≤ 70 V, got {self.start_lens_range_v}")
        f_lo, f_hi = self.object_fraction
        if not 0.1 <= f_lo <= f_hi <= 1.0:
            raise SpecError(f"env object_fraction must satisfy 0.1 ≤ lo ≤ hi ≤ 1, got {self.object_fraction}")
        if self.detector not in JUDGES and not is_detector_name(self.detector):
            raise SpecError(
                f"unknown detector {self.detector!r} (choose from: {', '.join((*JUDGES, *DETECTORS))}, "
                "NAME:WEIGHTS or module:callable)"
            )
        if self.lux_schedule not in ("log-uniform", "paper-ramp"):
            raise SpecError(f"env lux_schedule must be 'log-uniform' or 'paper-ramp', got {self.lux_schedule!r}")
        self._check_calibration()
        if self.condition not in CONDITIONS or not 0.0 <= self.condition_strength <= 1.0:
            raise SpecError(
                f"env condition must be one of {', '.join(CONDITIONS)} at a strength in [0, 1], got "
                f"{self.condition!r} at {self.condition_strength!r}"
            )
        _, base = split_faults(self.camera) if isinstance(self.camera, str) else (None, self.camera)
        if base not in ("sim", "twin"):
            raise SpecError(f"env camera must be 'sim', 'twin' or 'faults(…):sim|twin', got {self.camera!r}")
        if self.best_by not in ("blur", "sharpness"):
            raise SpecError(f"env best_by must be 'blur' or 'sharpness', got {self.best_by!r}")
        if not 0.5 <= self.goal_blur_px <= 20.0:
            raise SpecError(f"env goal_blur_px must be in [0.5, 20] px, got {self.goal_blur_px!r}")
        if not 0.0 <= self.step_cost <= 1.0:
            raise SpecError(f"env step_cost must be in [0, 1], got {self.step_cost!r}")
        if not 0 <= self.lens_fallback_moves <= 20:
            raise SpecError(f"env lens_fallback_moves must be 0–20, got {self.lens_fallback_moves!r}")
        if not 0 <= self.bracket_moves <= 10:
            raise SpecError(f"env bracket_moves must be 0–10, got {self.bracket_moves!r}")
        for name in ("lens_horizon", "exposure_horizon", "max_high_level_steps"):
            if not 1 <= getattr(self, name) <= 100:
                raise SpecError(f"env {name} must be 1–100, got {getattr(self, name)!r}")

    def _check_calibration(self) -> None:
        for offset, slope in (self.calibration_error, *self.calibration_errors):
            if not (abs(offset) <= 3.0 and abs(slope) <= 0.5):
                raise SpecError(
                    f"env calibration_error(s) must be (|offset| ≤ 3 dpt, |slope| ≤ 0.5), got {(offset, slope)}"
                )
        if len(self.calibration_errors) > 16:
            raise SpecError(f"env calibration_errors: at most 16 pairs, got {len(self.calibration_errors)}")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | EnvConfig | None) -> EnvConfig:
        """Build from a dict (e.g. RLlib ``env_config``); lists become tuples; unknown keys → SpecError."""
        if isinstance(data, EnvConfig):
            return data
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names - ({"obs_detection"} if data.get("obs_detection") is False else set()))
        if data.get("obs_detection") is False:  # policies exported before obs_detection was removed (always off)
            data.pop("obs_detection")
        if "obs_detection" in unknown:
            raise SpecError(
                "env obs_detection was removed (a detection ends the joint episode, so it was always 0 "
                "when observed); retrain the policy without it"
            )
        if unknown:
            raise SpecError(f"unknown env config key(s) {unknown} (known: {sorted(names)})")
        ranges = ("distance_m", "lux", "f_number", "start_lens_range_v", "object_fraction", "calibration_error")
        for key in ("scenes", "backgrounds", *ranges):
            if key in data:
                value = data[key]
                if isinstance(value, str | int | float):
                    value = [value, value] if key in ranges else [value]
                data[key] = tuple(float(v) if key in ranges else v for v in value)
        if "calibration_errors" in data:
            try:
                data["calibration_errors"] = tuple((float(o), float(s)) for o, s in data["calibration_errors"])
            except (TypeError, ValueError):
                pairs = data["calibration_errors"]
                raise SpecError(f"env calibration_errors must be (offset dpt, slope) pairs, got {pairs!r}") from None
        try:
            return cls(**data)
        except TypeError as exc:
            raise SpecError(f"bad env config: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-safe apart from ``inf``)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> EnvConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def with_agent_fields(self, agent: EnvConfig) -> EnvConfig:
        """This world (scenes, light, distances, detector) as ``agent``'s policy perceives and acts in it.

        A trained policy only works with the observation and action layout it was trained on: these fields
        (:data:`AGENT_FIELDS`) come from the policy's own configuration; everything else from ``self``.
        """
        return self.replace(**{name: getattr(agent, name) for name in AGENT_FIELDS})
