"""One exception tree for every camera and lens backend.

``CameraError`` is the root. Bad user input (a malformed camera SPEC, a command outside a device's limits)
also derives from :class:`ValueError`, so the CLI can map it to exit code 2; device and runtime failures
(time-outs, disconnects, corrupt frames) map to exit code 1.
"""

from __future__ import annotations


class CameraError(Exception):
    """Root of all camera and lens errors."""


class CameraTimeoutError(CameraError, TimeoutError):
    """A device did not answer (frame, reply) within its time-out."""


class CameraDisconnectedError(CameraError, ConnectionError):
    """The device went away, or was used after ``close()``."""


class InvalidFrameError(CameraError):
    """A frame came back with the wrong type, shape or content."""


class OutOfRangeError(CameraError, ValueError):
    """A command (exposure µs, lens V or diopters) lies outside the device's limits; nothing was sent."""


class SpecError(CameraError, ValueError):
    """A camera SPEC string (``sim:lux=100,...``) or a scene/config value is invalid."""


class DependencyMissingError(CameraError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""

    def __init__(self, package: str, extra: str, what: str = "") -> None:
        hint = f" ({what})" if what else ""
        super().__init__(f"{package} is required{hint}: pip install 'dasha[{extra}]'")
        self.package = package
        self.extra = extra
