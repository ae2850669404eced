"""Nothing from a file runs code, and every bad training input is one line (issue 15 items 2 and 4) — without Ray.

A run directory is made the way ``dasha train`` makes one (``run.json`` + a pickle-free checkpoint, the checkpoint's
tensors drawn at random instead of trained), then every file in it, and in a policy directory, is replaced by a
payload: a pickle whose ``__reduce__`` calls ``os.system`` to create a sentinel file, a ``.pt`` that pickles such an
object, JSON naming ``os:system`` as the env class. No payload runs (the sentinel never appears) and every command
that reads the file refuses it: exit 2, one line on stderr.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dasha.agents import checkpoint
from dasha.agents.checkpoint import Checkpoint
from dasha.agents.export import random_policy
from dasha.agents.policy import Policy
from dasha.agents.rundir import create_run, module_shapes, open_run, write_record
from dasha.agents.train import TrainOptions, prepare
from dasha.camera.errors import ConfigError
from dasha.cli import main
from dasha.envs import EnvConfig

TINY = "[ppo]\ntrain_batch_size = 100\nminibatch_size = 50\nnum_epochs = 1\nhiddens = [16]\n[env]\nsize = 64\n"


class Payload:
    """Unpickling this runs ``touch SENTINEL``."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.sentinel}",))


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """Exit code and the non-empty stderr lines of ``dasha ARGS``."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    return code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def fake_checkpoint(spec: Any, iteration: int, seed: int = 0) -> Checkpoint:
    """A checkpoint as :func:`dasha.agents.checkpoint.capture` makes one, with random tensors."""
    rng = np.random.default_rng(seed)
    shapes = module_shapes(spec)
    weights = {m: {k: rng.standard_normal(s).astype(np.float32) for k, s in p.items()} for m, p in shapes.items()}
    optimizer = {f"{m}_default_optimizer": {"module_id": m, "state": {
        i: {"step": np.array(3.0, np.float32), "exp_avg": np.zeros(s, np.float32), "exp_avg_sq": np.ones(s, np.float32)}
        for i, s in enumerate(p.values())}} for m, p in shapes.items()}  # fmt: skip
    history = [{"iteration": i, "env_steps": 100 * i, "success_rate": 0.5, "wall_s": 1.0 * i}
               for i in range(1, iteration + 1)]  # fmt: skip
    counters = {"env_runners--num_env_steps_sampled_lifetime": {"is_root": True, "is_leaf": False,
                "latest_merged": 100.0, "lifetime_sum": 100.0 * iteration, "track_throughputs": True}}  # fmt: skip
    return Checkpoint(iteration, 100 * iteration, float(iteration), weights, optimizer,
                      dict.fromkeys(shapes, 0.2), counters, history)  # fmt: skip


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A focus run directory with checkpoints at iterations 1 and 2 (as ``dasha train`` leaves one)."""
    (tmp_path / "tiny.toml").write_text(TINY)
    run = create_run(TrainOptions("focus", out=tmp_path / "run", config=tmp_path / "tiny.toml"), None, None)
    write_record(run)
    for it in (1, 2):
        checkpoint.save(fake_checkpoint(run.spec, it, seed=it), run.run_dir, keep=2)
    rows = fake_checkpoint(run.spec, 2).history
    (run.run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run.run_dir / "tb").mkdir()
    (run.run_dir / "tb" / "events.out.tfevents.1.host.0").write_bytes(b"\x00" * 16)
    (run.run_dir / "cluster.json").write_text("{}")
    return run.run_dir


def test_a_resumed_run_is_verified_before_ray_and_restores_what_was_saved(run_dir: Path) -> None:
    run = open_run(TrainOptions("focus", resume=run_dir))
    saved = fake_checkpoint(run.spec, 2, seed=2)
    assert run.resumed is not None and run.resumed.iteration == 2 and run.resumed.env_steps == 200
    for mid, params in saved.weights.items():
        for k, v in params.items():
            assert np.array_equal(run.resumed.weights[mid][k], v)
    assert run.resumed.optimizer["default_policy_default_optimizer"]["state"][0]["exp_avg_sq"].shape == (16, 20)
    assert run.resumed.counters == saved.counters and run.resumed.kl_coeffs == {"default_policy": 0.2}
    assert [r["iteration"] for r in run.resumed.history] == [1, 2]


def _plant(path: Path, sentinel: Path) -> None:
    path.write_bytes(pickle.dumps(Payload(sentinel)))


def _crafted_pt(path: Path, sentinel: Path, manifest: Path | None) -> None:
    """A .pt that pickles a payload object next to a tensor; ``manifest``: its state.json is updated to match (an
    attacker who knows the format), so only ``weights_only`` loading stands in the way."""
    import torch

    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2), "x": Payload(sentinel)}, buffer)
    path.write_bytes(buffer.getvalue())
    if manifest is not None:
        state = json.loads(manifest.read_text())
        state["files"][path.name] = {"bytes": path.stat().st_size, "sha256": checkpoint.sha256(path)}
        manifest.write_text(json.dumps(state))


def _every_file(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_no_file_of_a_run_directory_runs_code(run_dir: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """A pickle payload in each file in turn: refused (exit 2, one line) where dasha reads the file, ignored where
    it does not (TensorBoard events, cluster.json, the run's metrics.jsonl and checkpoints/latest: rewritten or
    never read on resume); the payload never runs."""
    import shutil

    sentinel, live = tmp_path / "PWNED", tmp_path / "LIVE"
    pickle.loads(pickle.dumps(Payload(live)))  # the payload is live: unpickling it does create its sentinel
    assert live.exists()
    pristine = tmp_path / "pristine"
    shutil.copytree(run_dir, pristine)
    never_read = {"cluster.json", "metrics.jsonl", "checkpoints/latest", "tb/events.out.tfevents.1.host.0"}
    for file in _every_file(pristine):
        shutil.rmtree(run_dir)
        shutil.copytree(pristine, run_dir)
        name = file.relative_to(pristine).as_posix()
        _plant(run_dir / name, sentinel)
        if name in never_read or name.startswith("checkpoints/iter_000001/"):  # the older one is not resumed
            prepare(TrainOptions("focus", resume=run_dir))
        else:
            code, err = cli(["train", "focus", "--resume", run_dir], capsys)
            assert code == 2 and len(err) == 1 and err[0].startswith("dasha: error:"), (file, code, err)
        assert not sentinel.exists(), file
    for name in ("weights.pt", "optimizer.pt"):  # crafted .pt files whose sha256 state.json agrees with
        shutil.rmtree(run_dir)
        shutil.copytree(pristine, run_dir)
        ckpt = run_dir / "checkpoints" / "iter_000002"
        _crafted_pt(ckpt / name, sentinel, ckpt / "state.json")
        code, err = cli(["train", "focus", "--resume", run_dir], capsys)
        assert code == 2 and len(err) == 1 and "tensors-only" in err[0], err
        assert not sentinel.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [({"env_class": "os:system"}, "not one dasha ships"), ({"env_class": "dasha.agents.train:train"}, "not one dasha"),
     ({"task": ["focus"]}, "'task' must be str"), ({"seed": -1}, "seed"), ({"overrides": {"ppo": {"lr": "abc"}}}, "lr"),
     ({"overrides": {"ppo": 3}}, r"\[ppo\] must be a table"), ({"surprise": 1}, "unknown key"),
     ({"variant": "../../x"}, "variant")],
)  # fmt: skip
def test_a_bad_run_json_is_refused(run_dir: Path, change: dict[str, Any], message: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    record = {**json.loads((run_dir / "run.json").read_text()), **change}
    (run_dir / "run.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError, match=message):
        prepare(TrainOptions("focus", resume=run_dir))
    code, err = cli(["train", "focus", "--resume", run_dir], capsys)
    assert code == 2 and len(err) == 1, err


@pytest.mark.parametrize("text", [b"[1, 2]", b"\xff\xfe{}", b'{"task": "focus"', b""])
def test_a_corrupt_run_json_is_refused(run_dir: Path, text: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    (run_dir / "run.json").write_bytes(text)
    code, err = cli(["train", "focus", "--resume", run_dir], capsys)
    assert code == 2 and len(err) == 1 and "run file" in err[0], err


def test_rllib_checkpoints_and_stray_files_are_refused_not_loaded(run_dir: Path, tmp_path: Path) -> None:
    """An RLlib-style checkpoint (pickles, no state.json) as the newest, or RLlib's files inside a dasha one."""
    sentinel = tmp_path / "PWNED"
    rllib = run_dir / "checkpoints" / "iter_000003"
    (rllib / "learner_group" / "learner").mkdir(parents=True)
    for name in ("algorithm_state.pkl", "class_and_ctor_args.pkl", "learner_group/learner/state.pkl"):
        _plant(rllib / name, sentinel)
    (rllib / "rllib_checkpoint.json").write_text('{"type": "Algorithm"}')
    with pytest.raises(ConfigError, match=r"no state\.json.*never loaded"):
        prepare(TrainOptions("focus", resume=run_dir))
    import shutil

    shutil.rmtree(rllib)
    _plant(run_dir / "checkpoints" / "iter_000002" / "algorithm_state.pkl", sentinel)
    with pytest.raises(ConfigError, match="did not write"):
        prepare(TrainOptions("focus", resume=run_dir))
    assert not sentinel.exists()


def test_state_json_is_checked_field_by_field(run_dir: Path) -> None:
    path = run_dir / "checkpoints" / "iter_000002" / "state.json"
    good = json.loads(path.read_text())
    bad_values = [("format", "rllib"), ("iteration", 7), ("counters", {"x": {"lifetime_sum": "os.system"}}),
                  ("counters", {"env_runners--episode_return_mean": {}}),
                  ("kl_coeffs", {"default_policy": "nan"}), ("optimizers", {"evil": "default_policy"}),
                  ("files", {})]  # fmt: skip
    for key, value in bad_values:
        path.write_text(json.dumps({**good, key: value}))
        with pytest.raises(ConfigError):
            prepare(TrainOptions("focus", resume=run_dir))
    path.write_text(json.dumps(good))
    weights = run_dir / "checkpoints" / "iter_000002" / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:-10])  # a truncated checkpoint
    with pytest.raises(ConfigError, match="truncated or changed"):
        prepare(TrainOptions("focus", resume=run_dir))


def test_a_checkpoint_of_another_network_is_refused(run_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "wide.toml").write_text(TINY.replace("[16]", "[32]"))
    other = create_run(TrainOptions("focus", out=tmp_path / "other", config=tmp_path / "wide.toml"), None, None)
    write_record(other)
    narrow = create_run(TrainOptions("focus", out=tmp_path / "x", config=run_dir.parent / "tiny.toml"), None, None)
    checkpoint.save(fake_checkpoint(narrow.spec, 1), other.run_dir, 2)  # a checkpoint of the [16] network
    with pytest.raises(ConfigError, match="does not match this run's network"):
        prepare(TrainOptions("focus", resume=other.run_dir))


def test_a_kill_inside_a_checkpoint_save_keeps_the_previous_one(run_dir: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A save cut short at any file (a kill mid-save) leaves the previous checkpoint the one resumed, and the
    resumed history has no iteration twice; a kill inside the first save resumes from iteration 0."""
    spec = open_run(TrainOptions("focus", resume=run_dir)).spec
    real = checkpoint.write_atomic
    for cut in range(5):  # weights.pt, optimizer.pt, metrics.jsonl, state.json, latest
        calls = [0]

        def dying(path: Path, data: Any, cut: int = cut, calls: list[int] = calls) -> Path:
            if calls[0] == cut:
                raise KeyboardInterrupt("killed")
            calls[0] += 1
            return real(path, data)

        monkeypatch.setattr(checkpoint, "write_atomic", dying)
        with pytest.raises(KeyboardInterrupt):
            checkpoint.save(fake_checkpoint(spec, 3), run_dir, keep=2)
        monkeypatch.setattr(checkpoint, "write_atomic", real)
        resumed = open_run(TrainOptions("focus", resume=run_dir)).resumed
        want = 3 if cut == 4 else 2  # only the pointer was left to write: the renamed checkpoint is whole
        assert resumed is not None and resumed.iteration == want, cut
        assert [r["iteration"] for r in resumed.history] == list(range(1, want + 1))
        assert not list((run_dir / "checkpoints").glob(".tmp_*"))
        if want == 3:
            checkpoint._discard(run_dir / "checkpoints" / "iter_000003")
    import shutil

    shutil.rmtree(run_dir / "checkpoints")
    monkeypatch.setattr(checkpoint, "write_atomic", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(fake_checkpoint(spec, 1), run_dir, keep=2)
    assert open_run(TrainOptions("focus", resume=run_dir)).resumed is None


def test_no_file_of_a_policy_directory_runs_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """policy.json as a pickle, a list, not UTF-8, with missing keys or wrong types, naming ``os:system`` or any
    other class off the allow-list as its env class, or a module file outside the directory; a .pt pickling an
    object: ``dasha eval`` exits 2 with one line, ``Policy.load`` raises ConfigError, nothing runs."""
    sentinel = tmp_path / "PWNED"
    root = random_policy("focus", EnvConfig(detector="in-focus", size=64), tmp_path / "policy", hiddens=(8,))
    good = json.loads((root / "policy.json").read_text())
    cases: list[bytes] = [pickle.dumps(Payload(sentinel)), b"[1, 2, 3]", b"\xff\xfe\x00{", b'{"format": 1}']
    for change in ({"env_class": "os:system"}, {"env_class": "dasha.cli:main"}, {"env_class": 42},
                   {"task": "focus; rm -rf /"}, {"mode": None}, {"env": []},
                   {"modules": {"focus": {**good["modules"]["focus"], "file": "../../../etc/passwd"}}},
                   {"modules": {"focus": {**good["modules"]["focus"], "obs_dim": "20"}}},
                   {"modules": {"focus": {**good["modules"]["focus"], "hiddens": [10**9]}}},
                   {"modules": {"evil": good["modules"]["focus"]}},
                   {"env": {**good["env"], "size": "huge"}}):  # fmt: skip
        cases.append(json.dumps({**good, **change}).encode())
    for raw in cases:
        (root / "policy.json").write_bytes(raw)
        with pytest.raises(ConfigError):
            Policy.load(root)
        code, err = cli(["eval", root, "--episodes", "1"], capsys)
        assert code == 2 and len(err) == 1 and err[0].startswith("dasha: error:"), (raw[:80], code, err)
        assert not sentinel.exists()
    (root / "policy.json").write_text(json.dumps(good))
    _crafted_pt(root / "focus.pt", sentinel, None)
    code, err = cli(["eval", root, "--episodes", "1"], capsys)
    assert code == 2 and len(err) == 1 and "tensors-only" in err[0], err
    random_policy("focus", EnvConfig(detector="in-focus", size=64), root, hiddens=(8,))
    _plant(root / "training_metrics.jsonl", sentinel)  # never read by Policy.load
    Policy.load(root)
    assert not sentinel.exists()


def test_the_make_env_of_a_policy_names_only_allowed_classes() -> None:
    from dasha.agents.evaluate import make_env

    with pytest.raises(ConfigError, match="not one dasha ships"):
        make_env("focus", EnvConfig(), "os:system")
    with pytest.raises(ConfigError, match="not one dasha ships"):
        make_env("focus", EnvConfig(), "dasha.camera.spec:make_camera")
    assert type(make_env("focus", EnvConfig(size=64), "dasha.baselines.paper_rl:TenFocusEnv")).__name__ == "TenFocusEnv"


@pytest.mark.parametrize(
    ("toml", "message"),
    [('[ppo]\nlr = "abc"\n', "lr must be a number"), ("ppo = 3\n", "must be a .ppo. table"),
     ("[ppo]\nnum_epochs = -1\n", "num_epochs must be in"), ("[ppo]\nentropy_coeff = nan\n", "entropy_coeff"),
     ("[ppo]\nhiddens = [64, 0]\n", "hiddens"), ("[ppo]\nhiddens = 64\n", "hiddens must be a list"),
     ("[ppo]\nuse_kl_loss = 1\n", "use_kl_loss must be true or false"), ("[ppo]\nminibatch_size = 5000\n", "≤"),
     ("[ppo]\nactivation = 'gelu'\n", "activation"), ("[ppo]\ntrain_batch_size = 1.5\n", "an integer"),
     ("[env]\nlux = ['a', 3]\n", "lux"), ("[env]\nsize = 'big'\n", "size"),
     ("[env]\nobs_latent = 'yes'\n", "obs_latent"),
     ("[env]\nmode = 'fast'\n", "mode"), ("[ppo\n", "not valid TOML"), ("[other]\nx = 1\n", "unknown config section")],
)  # fmt: skip
def test_every_toml_key_is_typed_and_ranged(tmp_path: Path, toml: str, message: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    (tmp_path / "c.toml").write_text(toml)
    code, err = cli(["train", "focus", "--config", tmp_path / "c.toml", "--out", tmp_path / "run"], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("dasha: error:"), err
    with pytest.raises(ConfigError, match=message):
        prepare(TrainOptions("focus", config=tmp_path / "c.toml", out=tmp_path / "run"))
    assert not (tmp_path / "run").exists()  # nothing written for a refused run


def test_bad_command_line_values_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe[ppo]")
    for args in (["--config", tmp_path], ["--config", tmp_path / "bin.toml"], ["--config", tmp_path / "missing.toml"],
                 ["--seed", "-1"], ["--seed", str(2**32)], ["--num-env-runners", str((os.cpu_count() or 1) + 1)],
                 ["--address", "nonsense"], ["--address", "host:99999"], ["--resume", tmp_path / "nothing"],
                 ["--resume", tmp_path]):  # fmt: skip
        code, err = cli(["train", "focus", "--out", tmp_path / "run", "--timesteps", "100", *args], capsys)
        assert code == 2 and len(err) == 1 and err[0].startswith("dasha: error:"), (args, err)
    assert not (tmp_path / "run").exists()


def test_an_unreachable_ray_head_is_a_one_line_runtime_error(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, err = cli(["train", "focus", "--out", tmp_path / "run", "--timesteps", "100", "--address",
                     f"127.0.0.1:{port}"], capsys)  # fmt: skip
    assert code == 1 and len(err) == 1 and "cannot reach the Ray head" in err[0], err


@pytest.mark.slow
@pytest.mark.ray
def test_a_port_that_is_not_a_ray_head_times_out_with_one_line(tmp_path: Path) -> None:
    """Something answers on the port but it is not Ray (a proxy, another service): ``ray.init`` would retry for
    minutes; dasha gives up after RAY_CONNECT_TIMEOUT_S with one line, exit 1."""
    import subprocess
    import sys
    import threading
    import time

    from dasha.agents.raycluster import RAY_CONNECT_TIMEOUT_S

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()

    def answer_nonsense() -> None:
        server.settimeout(0.5)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\n\r\n")

    thread = threading.Thread(target=answer_nonsense, daemon=True)
    thread.start()
    try:
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "dasha.cli", "train", "focus", "--timesteps", "100", "--out",
                               str(tmp_path / "run"), "--address", f"127.0.0.1:{server.getsockname()[1]}"],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        took = time.monotonic() - t0
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and "Ray cluster at 127.0.0.1" in lines[0], proc.stderr[-2000:]
    assert took < RAY_CONNECT_TIMEOUT_S + 30  # the deadline, plus importing dasha and Ray
    assert not (tmp_path / "run").exists()
