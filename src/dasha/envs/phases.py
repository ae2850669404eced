"""The exposure and lens phases: small bounded state machines every policy episode runs through.

The Gymnasium envs, the hierarchical episode, the bench and the live runtime all drive a camera through these two
phases (libcamera's AF is written the same way: an explicit state machine with a bounded number of steps):

* :class:`ExposurePhase` — ``start(shot)``, then ``act(action)`` until :attr:`~ExposurePhase.done`: each action is
  decoded to an exposure within the camera's limits (:mod:`dasha.envs.actions`) and costs one frame; our stop action
  (or ``exposure_horizon`` moves; one move in paper mode) ends it.
* :class:`LensPhase` — ``start(shot)`` at the hand-over frame (ours: it may already be over — the detector finds the
  object in focus — else a lens resting outside the agents' range is parked first, one move), then ``act(action)``
  until :attr:`~LensPhase.done`. It owns the horizon (``lens_horizon`` moves, the parking move included), the stop
  action, the early stop on detection (ours: a real detector finds the object on a frame that passes the focus test;
  paper: any detection), the best frame so far, the move count and the deployed safety nets
  (:mod:`dasha.envs.safety_nets`, one budget), which run when an ours-mode phase ends by stop or horizon.

Neither reads ground truth. Rewards are the envs' business: they read :attr:`shot` before and after ``act``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dasha.envs.actions import ExposureActions, LensActions
from dasha.envs.observations import exposure_observation, focus_observation
from dasha.envs.perception import Perception, Shot
from dasha.envs.safety_nets import safety_nets


def home_lens(perception: Perception) -> Shot | None:
    """Park a lens outside the range the ours-mode agents start from (``start_lens_range_v``) at its middle.

    A lens at rest (a Varioptic lens at 24 V, the paper domain's factory setting) is blurred beyond anything a
    relative-move controller (ours agents, ``dfd``) has seen; as a camera's AF parks its lens before a search,
    one move takes it home (within the lens's limits). Returns the new frame, or None when the lens was in range.
    """
    lens = perception.camera.lens
    lo, hi = perception.config.start_lens_range_v
    if lens is None or lens.unit != "V" or lo <= lens.voltage <= hi:  # the agents' range is in volts
        return None
    perception.move_lens(lens.limits.clip((lo + hi) / 2.0))
    return perception.capture()


class ExposurePhase:
    """The exposure agent's turn (see the module docstring).

    Attributes:
        shot: the current frame; ``prev``: the one before it in this phase (None at the start).
        moves: exposure commands so far; ``done``: the phase is over; ``stopped``: it ended by the stop action.
    """

    def __init__(self, perception: Perception) -> None:
        self.perception = perception
        self.actions = ExposureActions(perception.config.mode, perception.config.exposure_meter_actions)
        self.horizon = 1 if self.actions.paper_mode else perception.config.exposure_horizon
        self.shot: Shot | None = None
        self.prev: Shot | None = None
        self.moves = 0
        self.done = self.stopped = False

    def start(self, shot: Shot) -> None:
        """Begin at ``shot`` (the frame the camera shows now)."""
        self.shot, self.prev, self.moves = shot, None, 0
        self.done = self.stopped = False

    def observation(self) -> np.ndarray:
        """The exposure agent's observation now (:mod:`dasha.envs.observations`)."""
        assert self.shot is not None, "start() the phase first"
        return exposure_observation(self.perception, self.shot, self.prev, self.moves)

    def act(self, action: Any) -> bool:
        """Apply ``action``: True when it changed the exposure (one new frame, :attr:`shot`), False for the stop."""
        if self.done or self.shot is None:
            raise RuntimeError("the exposure phase is over (or not started)")
        camera = self.perception.camera
        with self.perception.compute:  # a metered jump meters the frame: the agent's compute
            exposure = self.actions.decode(action, camera, self.shot.frame.image)
        if exposure is None:
            self.done = self.stopped = True
            return False
        camera.exposure_us = exposure
        self.moves += 1
        self.prev, self.shot = self.shot, self.perception.capture()
        self.done = self.moves >= self.horizon
        return True


class LensPhase:
    """The lens agent's turn (see the module docstring).

    Args:
        perception: the episode's perception (its camera's lens is driven).
        early_stop: ours — end as soon as a real detector finds the object on a frame that passes the focus test
            (:meth:`~dasha.envs.perception.Perception.found`); off in the focus-only task. Paper mode always stops
            on a detection (its termination rule).
        home: ours — park a lens resting outside the agents' start range first (:func:`home_lens`).
        fallback_moves, bracket_frames: budgets of the deployed safety nets (0: off, as in training; default:
            the config's ``lens_fallback_moves`` and ``bracket_moves``, see :func:`~dasha.envs.safety_nets.deployed`).

    Attributes:
        shot, prev, best: the current frame, the one before it, the best-focused one (``best_by``).
        history: the phase's frames from the hand-over frame (or the parked one) to the current one.
        moved: the frame the last action's move produced (before any safety-net frames: what a reward scores).
        moves: lens commands so far, the parking move and the net's moves included; ``bracket``: frames the detection
            net took (exposure moves). ``done``; ``reason``: ``found``, ``stop`` or ``horizon``.
    """

    def __init__(self, perception: Perception, *, early_stop: bool, home: bool = True,
                 fallback_moves: int | None = None, bracket_frames: int | None = None) -> None:  # fmt: skip
        if perception.camera.lens is None:
            raise ValueError("a lens phase needs a camera with a lens")
        self.perception = perception
        self.actions = LensActions(perception.config.mode, perception.config.lens_fit_actions)
        self.horizon = perception.config.lens_horizon
        self.early_stop, self.home = early_stop, home
        cfg = perception.config
        self.fallback_moves = cfg.lens_fallback_moves if fallback_moves is None else fallback_moves
        self.bracket_frames = cfg.bracket_moves if bracket_frames is None else bracket_frames
        self.shot: Shot | None = None
        self.prev: Shot | None = None
        self.best: Shot | None = None
        self.history: list[Shot] = []
        self.moved: Shot | None = None
        self.moves = self.bracket = 0
        self.done, self.reason = False, ""

    @property
    def paper_mode(self) -> bool:
        """Paper mode (absolute actions, stop on detection, no nets)."""
        return self.actions.paper_mode

    @property
    def detected(self) -> bool:
        """The configured detector (or judge) finds the object on the current frame."""
        assert self.shot is not None
        return self.perception.detection(self.shot) is not None

    def _found(self, shot: Shot) -> bool:
        return self.early_stop and self.perception.found(shot)

    def start(self, shot: Shot) -> bool:
        """Begin at the hand-over frame ``shot``; True when the phase is already over (ours: found)."""
        self.shot, self.prev, self.moves, self.bracket = shot, None, 0, 0
        self.done, self.reason = False, ""
        self.history = [shot]
        if not self.paper_mode:
            if self._found(shot):
                return self._end("found")
            homed = home_lens(self.perception) if self.home else None
            if homed is not None:
                self.moves += 1
                self.shot = homed
                self.history = [homed]
                if self._found(homed):
                    return self._end("found")
        self.best = self.shot
        return False

    def observation(self) -> np.ndarray:
        """The lens agent's observation now (:mod:`dasha.envs.observations`)."""
        assert self.shot is not None, "start() the phase first"
        return focus_observation(self.perception, self.shot, self.prev, self.moves, self.best, self.history)

    def act(self, action: Any) -> bool:
        """Apply ``action``: True when it moved the lens (one new frame, :attr:`shot`), False for our stop action
        (which ends the phase, after the safety nets)."""
        if self.done or self.shot is None:
            raise RuntimeError("the lens phase is over (or not started)")
        lens = self.perception.camera.lens
        assert lens is not None
        fit = self.perception.focus_fit(self.history) if self.actions.is_jump(action) else None  # timed by the fit
        drive = self.actions.decode(action, lens, fit)
        if drive is None:
            self._finish("stop")
            return False
        self.perception.move_lens(drive)  # a volt lens: the decoder read its voltage
        self.moves += 1
        self.moved = self.perception.capture()
        self._advance(self.moved)
        if self.paper_mode:
            if self.detected:
                self._end("found")
            elif self.moves >= self.horizon:
                self._end("horizon")
        elif self._found(self.shot):  # type: ignore[arg-type]
            self._end("found")
        elif self.moves >= self.horizon:  # forced stop
            self._finish("horizon")
        return True

    def _advance(self, shot: Shot) -> None:
        self.prev, self.shot = self.shot, shot
        self.history.append(shot)
        if self.perception.better_focus(shot, self.best):  # the features it compares time themselves
            self.best = shot

    def _end(self, reason: str) -> bool:
        self.done, self.reason = True, reason
        return True

    def _finish(self, reason: str) -> None:
        """Ours: the phase ended by stop or horizon — the deployed safety nets when the frame fails their test."""
        self._end(reason)
        lens, bracket = safety_nets(self.perception, self.history, self.fallback_moves, self.bracket_frames)
        for extra in lens:
            self.moves += 1
            self._advance(extra)
        for extra in bracket:
            self.bracket += 1
            self._advance(extra)


__all__ = ["ExposurePhase", "LensPhase", "home_lens"]
