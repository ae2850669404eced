"""One exception tree for camera and lens devices, and one for bad configuration.

* :class:`CameraError` is the root of **device** errors: time-outs, disconnects, corrupt frames, a command outside
  a device's limits, a missing optional dependency. The CLI maps device and runtime failures to exit code 1; those
  that are also a :class:`ValueError` (a command outside the limits) to exit code 2.
* :class:`ConfigError` (a :class:`ValueError`, *not* a CameraError) is bad user configuration or usage: a camera or
  lens SPEC string, a TOML config, a policy file, a preset. The CLI maps it to exit code 2 with a one-line message.
  :class:`SpecError` is the ConfigError of SPEC strings and scene values.
"""

from __future__ import annotations


class CameraError(Exception):
    """Root of all camera and lens device errors."""


class CameraTimeoutError(CameraError, TimeoutError):
    """A device did not answer (frame, reply) within its time-out (s)."""


class CameraDisconnectedError(CameraError, ConnectionError):
    """The device went away, or was used after ``close()``."""


class InvalidFrameError(CameraError):
    """A frame came back with the wrong type, shape or content."""


class ProtocolError(CameraError):
    """A device answered with a malformed reply: bad checksum or CRC, a short reply, unexpected bytes.

    ``retryable`` says whether sending the same request again is safe and may help (line noise); drivers retry
    only idempotent requests (reads, absolute settings), a bounded number of times.
    """

    retryable: bool = True

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class CommandRejectedError(ProtocolError):
    """A device refused a request: a NACK, or an error reply (unknown command, not in this firmware, bad CRC)."""


class DeviceFaultError(CameraError):
    """A device reports a fault of its own (a lens driver's fault register or status bits: overload, thermal
    shutdown, driver not answering, focal power unreachable)."""


class OutOfRangeError(CameraError, ValueError):
    """A command (exposure µs, lens V / mA / dpt) lies outside the device's limits; nothing was sent."""


class LensUnitError(OutOfRangeError, TypeError):
    """A lens was commanded or read in a unit it is not driven in (``voltage`` on a lens driven in mA or dpt);
    nothing was sent. Use the unit-neutral ``Lens.setting`` / ``Lens.set_setting`` instead."""


class MissingCalibrationError(CameraError, AttributeError):
    """A lens has no drive → optical power calibration (``Lens.curve``); every lens must report one.

    Also an :class:`AttributeError`, so ``getattr(lens, "curve", None)`` is None for such a lens.
    """


class ConfigError(ValueError):
    """Bad user configuration or usage: a policy file, a TOML config, a preset, a SPEC string (exit code 2)."""


class SpecError(ConfigError):
    """A camera or lens SPEC string (``sim:lux=100,...``) or a scene/config value is invalid."""


class DependencyMissingError(CameraError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""

    def __init__(self, package: str, extra: str, what: str = "") -> None:
        hint = f" ({what})" if what else ""
        super().__init__(f"{package} is required{hint}: pip install 'dasha[{extra}]'")
        self.package = package
        self.extra = extra
