"""Invariants as property tests (hypothesis): whatever they observe — random observations, NaN / ±inf focus scores,
injected device faults — no controller ever commands a value outside the device limits or a NaN.

The controllers: random-init policies (ours and paper mode), the AF and AE baselines, ``dfd``, the safety nets, and
the live tuners in continuous mode. Device-level commands are spied on at the hooks (``_do_set_setting``,
``_do_set_exposure``): the public layer raises OutOfRangeError before a bad value reaches a hook, so a test also
fails on any such error. Non-finite observations make a policy raise; non-integer actions are refused by the envs.
Frames are small (64 px) to keep this fast.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dasha.agents.evaluate import run_episode
from dasha.agents.export import random_policy
from dasha.agents.policy import Policy
from dasha.baselines.autoexposure import AUTOEXPOSURE_METHODS, AeParams, Measurement, make_autoexposure
from dasha.baselines.autofocus import AUTOFOCUS_METHODS, AfParams, make_autofocus
from dasha.baselines.dfd import DepthFromDefocus, DfdParams
from dasha.camera.base import Limits
from dasha.camera.calibration import Optics, VariopticCurve
from dasha.camera.faults import FaultPlan, FaultyCamera
from dasha.camera.resilient import DEVICE_FAULTS, RetryPolicy
from dasha.camera.sim import Scene, SimCamera
from dasha.envs import EnvConfig
from dasha.envs.actions import ExposureActions, LensActions
from dasha.envs.focus import FocusEnv
from dasha.envs.hierarchical import HierarchicalCameraEpisode
from dasha.envs.lens_fallback import next_probe
from dasha.envs.perception import Perception
from dasha.envs.safety_nets import safety_nets
from dasha.runtime.live import ClassicalTuner, LiveTuner

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEVICE = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NARROW = Limits(47.0, 51.0, "V", 0.001)
"""Narrower than the agents' start range and than the 24–70 V every action space assumes."""
SMALL = {"size": 64, "scenes": ("astronaut",), "backgrounds": ("grass",), "lux": (50.0, 200.0),
         "distance_m": (0.5, 3.0), "detector": "estimated-focus"}  # fmt: skip

weird = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e6, 1e6), st.just(math.nan))
"""Any float, NaN and ±inf often."""


class Spy:
    """Records every lens setting and exposure that reaches a camera's hooks; ``check`` asserts them finite and
    inside the limits."""

    def __init__(self, sim: SimCamera) -> None:
        self.lens: list[float] = []
        self.exposure: list[float] = []
        self.sim = sim
        lens_hook, exposure_hook = sim.lens._do_set_setting, sim._do_set_exposure

        def lens(value: float) -> None:
            self.lens.append(value)
            lens_hook(value)

        def exposure(value: float) -> None:
            self.exposure.append(value)
            exposure_hook(value)

        sim.lens._do_set_setting = lens  # type: ignore[method-assign]
        sim._do_set_exposure = exposure  # type: ignore[method-assign]

    def check(self) -> None:
        lim, elim = self.sim.lens.limits, self.sim.exposure_limits
        assert all(math.isfinite(v) and lim.low <= v <= lim.high for v in self.lens), self.lens
        assert all(math.isfinite(e) and elim.low <= e <= elim.high for e in self.exposure), self.exposure


def narrow_sim(seed: int = 0) -> SimCamera:
    sim = SimCamera(Scene.from_names("astronaut", "grass", object_distance_m=1.0), size=64, lens_limits=NARROW,
                    exposure_us=20_000, seed=seed)  # fmt: skip
    sim.lens.snap(49.0)
    return sim


KINDS = ("timeout", "disconnect", "black", "saturated", "corrupt", "shape", "stale", "nack", "noreply", "stuck")
fault_plans = st.builds(
    lambda rates, seed: FaultPlan({k: r for k, r in rates.items() if r > 0}, seed=seed),
    st.fixed_dictionaries({k: st.sampled_from([0.0, 0.01, 0.05, 0.15]) for k in KINDS}),
    st.integers(0, 2**16),
)


# -- pure controllers ----------------------------------------------------------------------------------------------
@FAST
@given(method=st.sampled_from(sorted(AUTOFOCUS_METHODS)), lo=st.floats(24.0, 60.0), span=st.floats(0.3, 10.0),
       start=st.floats(0.0, 1.0), scores=st.lists(weird, min_size=1, max_size=60))  # fmt: skip
def test_af_baselines_command_finite_voltages_inside_their_range(method: str, lo: float, span: float, start: float,
                                                                 scores: list[float]) -> None:  # fmt: skip
    hi = min(lo + span, 70.0)
    m = make_autofocus(method, AfParams(lo_v=lo, hi_v=hi, tol_v=0.12, volts_per_diopter=1.0))
    command = m.start(lo + start * (hi - lo), scores[0])
    for k in range(200):
        if command.lens_v is not None:
            assert math.isfinite(command.lens_v) and lo <= command.lens_v <= hi, command
        if command.done:
            break
        command = m.step(scores[(k + 1) % len(scores)])
    assert command.done  # bounded


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # a 1e6 log-blur squared in the fit: expected
@FAST
@given(lo=st.floats(24.0, 60.0), span=st.floats(0.5, 10.0), start=st.floats(0.0, 1.0),
       blur=st.lists(st.one_of(weird, st.floats(0.0, 5.0)), min_size=1, max_size=20))  # fmt: skip
def test_dfd_commands_finite_voltages_inside_the_limits(lo: float, span: float, start: float,
                                                        blur: list[float]) -> None:  # fmt: skip
    hi = min(lo + span, 70.0)
    m = DepthFromDefocus(Optics(), VariopticCurve(), DfdParams(lo_v=lo, hi_v=hi))
    v = lo + start * (hi - lo)
    command = m.start(v, blur[0])
    for k in range(30):
        if command.lens_v is not None:
            assert math.isfinite(command.lens_v) and lo <= command.lens_v <= hi, command
            v = command.lens_v
        if command.done:
            break
        command = m.step(v, blur[(k + 1) % len(blur)])
    assert command.done


@FAST
@given(method=st.sampled_from(sorted(AUTOEXPOSURE_METHODS)), start=st.floats(24.0, 4_500_000.0),
       means=st.lists(st.one_of(weird, st.floats(0.0, 255.0)), min_size=1, max_size=40),
       fractions=st.lists(st.one_of(st.floats(0.0, 1.0), st.just(math.nan)), min_size=2, max_size=2))  # fmt: skip
def test_ae_baselines_command_finite_exposures_inside_their_range(method: str, start: float, means: list[float],
                                                                  fractions: list[float]) -> None:  # fmt: skip
    params = AeParams(min_us=24.0, max_us=4_500_000.0)
    m = make_autoexposure(method, params)
    command = m.start(start, Measurement(means[0], *fractions))
    for k in range(60):
        if command.exposure_us is not None:
            assert math.isfinite(command.exposure_us) and 24.0 <= command.exposure_us <= 4_500_000.0
        if command.done:
            break
        command = m.step(Measurement(means[(k + 1) % len(means)], *fractions))
    assert command.done


@FAST
@given(samples=st.dictionaries(st.floats(47.0, 51.0), weird, min_size=1, max_size=8),
       toward=st.sampled_from([-1.0, 1.0]))  # fmt: skip
def test_the_lens_net_probe_is_none_or_finite_inside_the_limits(samples: dict[float, float], toward: float) -> None:
    u = next_probe(samples, 47.0, 51.0, toward)
    assert u is None or (math.isfinite(u) and 47.0 <= u <= 51.0)


# -- policies ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Policy]:
    root = tmp_path_factory.mktemp("policies")
    out = {}
    for mode in ("ours", "paper"):
        cfg = EnvConfig(mode=mode, **SMALL)  # type: ignore[arg-type]
        out[mode] = Policy.load(random_policy("joint", cfg, root / mode))
    return out


@FAST
@given(data=st.data())
def test_random_init_policies_decode_inside_the_device_limits(policies: dict[str, Policy], data: Any) -> None:
    sim = narrow_sim()
    for mode, policy in policies.items():
        for module, meta in policy.meta["modules"].items():
            obs = data.draw(arrays(np.float32, int(meta["obs_dim"]), elements=st.floats(-1e4, 1e4, width=32)))
            action = policy.act(module, obs)
            if module == "high_level":
                e = ExposureActions(mode).decode(action, sim)
                assert e is None or (math.isfinite(e) and sim.exposure_limits.low <= e <= sim.exposure_limits.high)
            else:
                v = LensActions(mode).decode(action, sim.lens)
                assert v is None or (math.isfinite(v) and NARROW.low <= v <= NARROW.high)
            bad = obs.copy()
            bad[data.draw(st.integers(0, len(obs) - 1))] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
            with pytest.raises(ValueError, match="not finite"):
                policy.act(module, bad)


@pytest.mark.parametrize("activation", ["tanh", "relu", "silu"])
def test_numpy_actor_picks_the_torch_nets_action(activation: str) -> None:
    """Policy.act runs the actor in numpy: the same argmax as the torch net on random nets and observations."""
    import torch

    from dasha.agents.nets import ActorCritic, NumpyActor

    torch.manual_seed(0)
    net = ActorCritic(20, [5, 7, 41], (64, 32), activation)
    for p in net.parameters():  # larger than the init's near-uniform head, so the argmax is decided
        torch.nn.init.normal_(p, std=0.5)
    obs = np.random.default_rng(0).normal(0.0, 3.0, (256, 20)).astype(np.float32)
    with torch.inference_mode():
        want = net.greedy(torch.as_tensor(obs)).numpy()
        logits = net.logits(torch.as_tensor(obs)).numpy()
    actor = NumpyActor(net)
    np.testing.assert_allclose(actor.logits(obs), logits, rtol=1e-4, atol=1e-4)
    assert (actor.greedy(obs) == want).mean() > 0.99  # ties within float32 rounding may differ


@pytest.mark.parametrize("bad", [3.7, np.float64(2.5), math.nan, True, "3", [1.5]])
def test_envs_refuse_non_integer_actions(bad: Any) -> None:
    env = FocusEnv(EnvConfig(**SMALL))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"not an integer|invalid action"):
        env.step(bad)
    env.step(np.float64(1.0))  # an integral float is the integer it spells
    joint = HierarchicalCameraEpisode(EnvConfig(**SMALL))
    joint.reset(seed=0)
    with pytest.raises(ValueError, match=r"'high'.*(not an integer|invalid action)"):
        joint.step({"high": bad})


@DEVICE
@given(plan=fault_plans, seed=st.integers(0, 1000))
def test_policies_through_the_envs_under_faults_stay_inside_the_limits(policies: dict[str, Policy], plan: FaultPlan,
                                                                       seed: int) -> None:  # fmt: skip
    for mode, policy in policies.items():
        sim = narrow_sim(seed)
        spy = Spy(sim)
        cfg = EnvConfig(mode=mode, lens_fallback_moves=6, bracket_moves=3, **SMALL)  # type: ignore[arg-type]
        env = HierarchicalCameraEpisode(cfg, camera=sim)
        env.world.camera = env.perception.camera = FaultyCamera(sim, plan)  # type: ignore[assignment]
        env.perception.retry = RetryPolicy(backoff_s=0.0)
        result = run_episode(policy, env, seed, 0)
        assert result.fault is None or "gave up after" in result.fault, result.fault
        spy.check()


# -- safety nets and the live tuners -------------------------------------------------------------------------------
class Hostile(Perception):
    """Perception whose focus estimates come from a list of drawn values (NaN and ±inf among them)."""

    values: list[float] = [math.nan]  # noqa: RUF012 - set per example
    k = 0

    def _next(self) -> float:
        self.k += 1
        return self.values[self.k % len(self.values)]

    def sharpness_feature(self, shot: Any) -> float:
        return self._next()

    def blur_feature(self, shot: Any) -> float:
        return self._next()

    def side_feature(self, shot: Any) -> float:
        return self._next()


@DEVICE
@given(values=st.lists(weird, min_size=1, max_size=20), starts=st.lists(st.floats(47.0, 51.0), min_size=1,
                                                                         max_size=4))  # fmt: skip
def test_the_safety_nets_stay_inside_the_limits_on_broken_estimates(values: list[float], starts: list[float]) -> None:
    sim = narrow_sim()
    spy = Spy(sim)
    p = Hostile(SMALL, sim)
    p.values = values
    history = []
    for v in starts:
        p.move_lens(v)
        history.append(p.capture())
    safety_nets(p, history, 6, 3)
    spy.check()


@DEVICE
@given(plan=fault_plans, method=st.sampled_from(["mean_luminance+brent+nets", "agc+cdaf", "dfd+nets", "sweep"]),
       nan_scores=st.booleans())  # fmt: skip
def test_the_live_tuners_in_continuous_mode_stay_inside_the_limits_under_faults(policies: dict[str, Policy],
                                                                                plan: FaultPlan, method: str,
                                                                                nan_scores: bool) -> None:  # fmt: skip
    sim = narrow_sim(plan.seed)
    spy = Spy(sim)
    cam = FaultyCamera(sim, plan)
    tuners = [ClassicalTuner(cam, method), LiveTuner(cam, policies["ours"])]
    nan = mock.patch("dasha.baselines.loops.focus_score", return_value=math.nan)
    with nan if nan_scores else contextlib.nullcontext():
        for tuner in tuners:
            tuner.perception.retry = RetryPolicy(backoff_s=0.0)
            try:
                for _ in tuner.continuous(frames=12, drift_stops=0.0, drift_blur=0.0, patience=2):
                    pass
            except DEVICE_FAULTS:  # an unrecovered fault ends the run with a clear error: allowed
                pass
            assert len(tuner.perception.shots) < 200
    spy.check()
