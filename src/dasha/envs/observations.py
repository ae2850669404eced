"""The agents' observations (float32 vectors), built from :class:`~dasha.envs.perception.Perception`'s features.

``D`` = encoder dim. The paper's layouts are its eqs. (9)–(10); ours are history summaries (see the tables).

Paper exposure (the paper's ``o_H``, eq. 10):

| Num | feature | range |
|---|---|---|
| 0 … D−1 | encoder latent of the frame | encoder's |
| D … D+9 | 10-bin histogram counts (``obs_hist_fractions``: / pixel count) | 0 … pixels (0 … 1) |
| D+10 … D+20 | the 11 histogram bin edges, grey levels (``obs_hist_fractions``: / 255) | 0 … 255 (0 … 1) |

Paper focus (the paper's ``o_L``, eq. 9): the encoder latent only (``D`` values; no lens position, no history).

Ours exposure (23 values, 25 with ``obs_peak``, then the latent if ``obs_latent``):

| Num | feature | range |
|---|---|---|
| 0 … 4 | grey-level percentiles 1, 10, 50, 90, 99 of this frame / 255 | 0 … 1 |
| 5, 6 | mean / 255, standard deviation / 128 | 0 … 1, 0 … 1 |
| 7, 8 | fraction of pixels ≤ 2 and ≥ 253 (clipped) | 0 … 1 |
| 9 … 17 | the same nine for the previous frame (this frame's on the first step) | 0 … 1 |
| 18, 19 | log exposure of this and of the previous frame: log2(µs / 1000) / 12 | −0.45 … 1.01 (24 µs … 4.5 s) |
| 20 | their difference (this − previous) | −1.46 … 1.46 |
| 21 | moves so far / ``exposure_horizon`` | 0 … 1 |
| 22 | 1 once a previous frame exists, else 0 | 0, 1 |
| 23, 24 | ``obs_peak``: the paper's histogram peak P / 255; 1 if P ∈ [50, 150] (well exposed) | 0 … 1, 0 / 1 |
| next D | encoder latent (``obs_latent``) | encoder's |

Ours focus (20 values, then the latent if ``obs_latent``). Blur = the object's estimated blur, log(1 + px)/3, and
side = 2·P(front focus) − 1, both from :func:`dasha.vision.blur_estimator.defocus_estimate`; sharpness = log10 of the
AF window's Tenengrad/mean²; "best" = the best frame of the lens phase so far (``best_by``); the fit = the focus fit
of the phase's frames (:mod:`dasha.envs.focus_fit`); voltages in V:

| Num | feature | range |
|---|---|---|
| 0, 1, 2 | blur of this frame, of the previous frame, their difference | 0 … ≈2, −2 … 2 |
| 3 | blur of the best frame | 0 … ≈2 |
| 4 | the encoder's whole-frame blur estimate (0 for other encoders) | 0 … ≈2 |
| 5 | sharpness / 4 | ≈ −1.5 … 0.5 |
| 6, 7 | sharpness − previous sharpness, best frame's sharpness − this | ≈ −3 … 3 |
| 8, 9 | (V − 49.5) / 3.5 of this and of the previous frame | −7.3 … 5.9 (24 … 70 V) |
| 10, 11 | (V − V_prev) / 2, (V_best − V) / 2 | −23 … 23 |
| 12 | moves so far / ``lens_horizon`` | 0 … 1 |
| 13 | 1 once a previous frame exists, else 0 | 0, 1 |
| 14, 15 | side of this and of the previous frame (+1: lower the voltage) | −1 … 1 |
| 16, 17 | (V_fit − V) / 2, (V_other − V) / 2 (best fit on the other side of V) | −23 … 23 |
| 18, 19 | RMS log errors of the two fits | 0 … 2 |
| 20 … 20+D−1 | encoder latent (``obs_latent``) | encoder's |
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import gymnasium as gym
import numpy as np

from dasha.envs.perception import Perception, Shot

FOCUS_SUMMARY_DIM = 20
EXPOSURE_SUMMARY_DIM = 2 * 9 + 5
PEAK_DIM = 2
"""Values ``obs_peak`` adds to the ours-mode exposure observation (P / 255, well exposed)."""
LENS_CENTER_V, LENS_HALF_SPAN_V = 49.5, 3.5


def log_exposure(exposure_us: float) -> float:
    """Normalised log exposure: log2(µs / 1000) / 12 (0 at 1 ms, ≈1 at 4 s)."""
    return math.log2(max(exposure_us, 1.0) / 1000.0) / 12.0


def exposure_observation_space(perception: Perception) -> gym.spaces.Box:
    """Box of the exposure observations (see the module docstring)."""
    cfg, d = perception.config, perception.encoder.dim
    ours = EXPOSURE_SUMMARY_DIM + (PEAK_DIM if cfg.obs_peak else 0) + (d if cfg.obs_latent else 0)
    n = d + 10 + 11 if cfg.mode == "paper" else ours
    return gym.spaces.Box(-np.inf, np.inf, (n,), np.float32)


def focus_observation_space(perception: Perception) -> gym.spaces.Box:
    """Box of the lens observations (see the module docstring)."""
    cfg, d = perception.config, perception.encoder.dim
    n = d if cfg.mode == "paper" else FOCUS_SUMMARY_DIM + (d if cfg.obs_latent else 0)
    return gym.spaces.Box(-np.inf, np.inf, (n,), np.float32)


def exposure_observation(perception: Perception, shot: Shot, prev: Shot | None, t: int) -> np.ndarray:
    """High-level / exposure observation of ``shot`` after ``t`` moves (``prev``: the frame before, if any); its
    compute counts on ``perception.compute``."""
    with perception.compute:
        cfg = perception.config
        if cfg.mode == "paper":
            counts, edges = shot.counts, shot.edges
            if cfg.obs_hist_fractions:  # observation normalisation (EnvConfig.obs_hist_fractions)
                counts, edges = counts / max(float(counts.sum()), 1.0), edges / 255.0
            return np.concatenate([shot.features, counts, edges]).astype(np.float32)
        p = prev or shot
        e, e_prev = log_exposure(shot.frame.exposure_us), log_exposure(p.frame.exposure_us)
        parts = [
            shot.exposure_stats,
            p.exposure_stats,
            np.asarray([e, e_prev, e - e_prev, t / cfg.exposure_horizon, float(prev is not None)], np.float32),
        ]
        if cfg.obs_peak:
            parts.append(np.asarray([shot.peak / 255.0, float(shot.well_exposed)], np.float32))
        if cfg.obs_latent:
            parts.append(shot.features)
        return np.concatenate(parts).astype(np.float32)


def focus_observation(
    perception: Perception, shot: Shot, prev: Shot | None, t: int, best: Shot | None = None,
    history: Sequence[Shot] = (),
) -> np.ndarray:  # fmt: skip
    """Low-level / focus observation of ``shot`` after ``t`` moves; ``history``: the lens phase's frames so far,
    ending with ``shot`` (default: ``prev`` and ``shot``); its compute counts on ``perception.compute``."""
    with perception.compute:
        cfg = perception.config
        if cfg.mode == "paper":
            return shot.features.astype(np.float32)
        p, b = prev or shot, best or shot
        fit = perception.focus_fit(history or ([prev, shot] if prev is not None else [shot]))
        v, v_prev, v_best = (s.frame.lens_v or 0.0 for s in (shot, p, b))
        blur, blur_prev, blur_best = (perception.blur_feature(s) for s in (shot, p, b))
        sharp, sharp_prev, sharp_best = (perception.sharpness_feature(s) for s in (shot, p, b))
        summary = [
            blur, blur_prev, blur - blur_prev, blur_best, perception.frame_blur_feature(shot),
            sharp / 4.0, sharp - sharp_prev, sharp_best - sharp,
            (v - LENS_CENTER_V) / LENS_HALF_SPAN_V, (v_prev - LENS_CENTER_V) / LENS_HALF_SPAN_V,
            (v - v_prev) / 2.0, (v_best - v) / 2.0,
            t / cfg.lens_horizon, float(prev is not None),
            perception.side_feature(shot), perception.side_feature(p),
            (fit.best_v - v) / 2.0, (fit.other_v - v) / 2.0, fit.best_rms, fit.other_rms,
        ]  # fmt: skip
        parts = [np.asarray(summary, np.float32)]
        if cfg.obs_latent:
            parts.append(shot.features)
        return np.concatenate(parts).astype(np.float32)


FOCUS_FEATURES: tuple[str, ...] = (
    "blur", "blur prev", "Δblur", "blur best", "frame blur", "sharpness/4", "Δsharpness", "best − sharpness",
    "V", "V prev", "ΔV", "V best − V", "moves", "has prev", "side", "side prev", "V fit − V", "V other − V",
    "fit rms", "other rms",
)  # fmt: skip
"""Names of the ours-mode focus observation's summary (the table above)."""
EXPOSURE_FEATURES: tuple[str, ...] = (
    *(f"{s}" for s in ("p1", "p10", "p50", "p90", "p99", "mean", "std", "dark", "bright")),
    *(f"{s} prev" for s in ("p1", "p10", "p50", "p90", "p99", "mean", "std", "dark", "bright")),
    "log e",
    "log e prev",
    "Δlog e",
    "moves",
    "has prev",
)
"""Names of the ours-mode exposure observation's summary (the table above)."""
PEAK_FEATURES: tuple[str, ...] = ("P", "well exposed")
"""Names of the ``obs_peak`` values that follow it."""


def feature_names(module: str, dim: int, mode: str = "ours", peak: bool = False) -> list[str]:
    """A name for every entry of ``module``'s ``dim``-long observation in ``mode`` (the tables above; ``peak``: the
    exposure observation has the ``obs_peak`` values)."""
    focus = module in ("low_level", "focus")
    if mode == "paper":
        if focus:
            return [f"latent {k}" for k in range(dim)]
        latent = [f"latent {k}" for k in range(dim - 21)]
        return [*latent, *(f"hist {k}" for k in range(10)), *(f"edge {k}" for k in range(11))]
    named = FOCUS_FEATURES if focus else EXPOSURE_FEATURES + (PEAK_FEATURES if peak else ())
    return [*named, *(f"latent {k}" for k in range(dim - len(named)))][:dim]


__all__ = [
    "EXPOSURE_FEATURES",
    "FOCUS_FEATURES",
    "PEAK_FEATURES",
    "exposure_observation",
    "exposure_observation_space",
    "feature_names",
    "focus_observation",
    "focus_observation_space",
    "log_exposure",
]
