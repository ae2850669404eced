"""Starting or joining Ray for training, with every wait bounded and every refusal one line.

``dasha train --address HOST:PORT`` joins a cluster: the head's port must accept a TCP connection within 5 s and a
throw-away process must join it within :data:`RAY_CONNECT_TIMEOUT_S`, otherwise :class:`RayConnectError` (a runtime
failure: exit code 1, one line). Env runners need one CPU each; asking for more than Ray can give is refused before
training (:func:`check_cpus`, a ConfigError: exit code 2) instead of waiting forever at 0 steps.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from dasha.camera.errors import ConfigError

#: How long joining a Ray cluster (``--address``) may take before training gives up (s): importing Ray and joining.
RAY_CONNECT_TIMEOUT_S = 20.0


class RayConnectError(ConnectionError):
    """The Ray cluster named by ``--address`` did not answer in time (a runtime failure: exit code 1)."""


def init_ray(address: str | None = None, num_cpus: int | None = None, timeout_s: float = RAY_CONNECT_TIMEOUT_S) -> None:
    """Start (or join, with ``address``) Ray quietly; idempotent. Env runners must import ``dasha``.

    Joining a cluster is bounded: the head's port must accept a TCP connection within 5 s, and a throw-away process
    must join within ``timeout_s`` (``ray.init`` can block inside Ray's C++ core for minutes when something that is
    not a Ray head answers on the port; a child process can be killed, a blocked call cannot); then this process
    joins, under the same deadline. Otherwise :class:`RayConnectError`. A malformed address is a ConfigError."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    if address and address != "local":
        if address != "auto":
            host, port = ray_host_port(address)
            _probe_tcp(host, port, min(5.0, timeout_s), address)
        _probe_join(address, timeout_s)
        with _core_log_aside(), _deadline(timeout_s, address):
            try:
                ray.init(address=address, **kwargs)
            except (ConnectionError, RuntimeError) as exc:
                first = " ".join(str(exc).split())[:200]
                raise RayConnectError(f"cannot join the Ray cluster at {address}: {first}") from None
    else:  # "local": always a fresh private instance, never a stale cluster left in /tmp/ray
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 2, **kwargs)


def ray_host_port(address: str) -> tuple[str, int]:
    """``(host, port)`` of a Ray address ``HOST:PORT`` or ``ray://HOST:PORT`` (``[v6]:PORT`` too); ConfigError for
    anything else."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in host):
        raise ConfigError(f"--address {address!r} is not a Ray address (HOST:PORT, e.g. 10.0.0.5:6379, or auto)")
    return host, int(port)


def _probe_tcp(host: str, port: int, timeout_s: float, address: str) -> None:
    import socket

    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except TimeoutError:
        raise RayConnectError(
            f"cannot reach the Ray head at {address}: no answer within {timeout_s:g} s "
            "(is `ray start --head` running there, and the port open?)"
        ) from None
    except OSError as exc:
        raise RayConnectError(
            f"cannot reach the Ray head at {address}: {exc.strerror or exc} (is `ray start --head` running there?)"
        ) from None


#: What the throw-away process of :func:`_probe_join` runs.
_JOIN = ("import sys, ray; ray.init(address=sys.argv[1], include_dashboard=False, log_to_driver=False, "
         "logging_level='ERROR'); ray.shutdown()")  # fmt: skip


def _probe_join(address: str, timeout_s: float) -> None:
    import subprocess
    import sys

    try:
        proc = subprocess.run([sys.executable, "-c", _JOIN, address], capture_output=True, text=True,
                              timeout=timeout_s, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})  # fmt: skip
    except subprocess.TimeoutExpired:
        raise RayConnectError(f"the Ray cluster at {address} did not let us join within {timeout_s:g} s (is a "
                              "Ray head of this Ray version listening there?)") from None  # fmt: skip
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if "Error" in line or "error" in line]
        why = lines[-1][:200] if lines else f"exit code {proc.returncode}"
        raise RayConnectError(f"cannot join the Ray cluster at {address}: {why}")


@contextlib.contextmanager
def _core_log_aside() -> Iterator[None]:
    """While joining a cluster, Ray's C++ core logs a warning a second to file descriptor 2 for as long as the head
    does not answer; keep them aside (shown with ``DASHA_DEBUG=1`` if joining fails) so a failure is one line."""
    import sys
    import tempfile

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (a test runner's capture): leave it alone
        yield
        return
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            if os.environ.get("DASHA_DEBUG"):
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@contextlib.contextmanager
def _deadline(timeout_s: float, address: str) -> Iterator[None]:
    """Raise RayConnectError in the main thread if the block runs longer than ``timeout_s`` (SIGALRM; elsewhere no
    limit)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise RayConnectError(f"the Ray cluster at {address} did not let us join within {timeout_s:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous or signal.SIG_DFL)


def check_cpus(num_env_runners: int) -> None:
    """ConfigError when the env runners need more CPUs (one each) than Ray can give — they would wait for them
    forever and training would sit at 0 steps. Before Ray starts, the CPUs of this machine (what :func:`init_ray`
    gives a local Ray); after, the cluster's."""
    if num_env_runners <= 0:
        return
    import ray

    total = ray.cluster_resources().get("CPU", 0.0) if ray.is_initialized() else float(os.cpu_count() or 1)
    where = "the Ray cluster has" if ray.is_initialized() else "this machine has"
    if num_env_runners > total:
        raise ConfigError(f"--num-env-runners {num_env_runners} needs {num_env_runners} CPUs (one per env runner), "
                          f"but {where} {total:g}; use --num-env-runners {int(total)} or fewer")  # fmt: skip
