"""Where a UVC camera's images come from: :class:`FrameSource`, and :class:`OpenCvFrames` over
``cv2.VideoCapture`` (read on a worker thread, so a stalled device times out instead of blocking), with
:func:`to_mono8` for OpenCV's layouts. :class:`~dasha.camera.uvc.UvcCamera` uses them; tests substitute a fake
:class:`FrameSource`.

Units: time-outs in s.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import time
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from dasha.camera.errors import CameraDisconnectedError, CameraTimeoutError

__all__ = ["FrameSource", "OpenCvFrames", "to_mono8"]


class FrameSource(ABC):
    """Where a UVC camera's images come from: ``read(timeout_s)`` → one image (any OpenCV layout)."""

    @abstractmethod
    def read(self, timeout_s: float) -> np.ndarray:
        """The next image; CameraTimeoutError after ``timeout_s`` s, CameraDisconnectedError if the stream ended."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the stream."""


def to_mono8(image: np.ndarray) -> np.ndarray:
    """An OpenCV image (BGR, BGRA, grey; 8 or 16 bit) as a Mono8 H×W array."""
    import cv2

    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    return np.ascontiguousarray(image, dtype=np.uint8)


class OpenCvFrames(FrameSource):
    """Frames from ``cv2.VideoCapture`` (the V4L2 backend for ``/dev/video*`` and indices), read on a worker
    thread so that a stalled device raises CameraTimeoutError instead of blocking the caller.

    Args:
        source: a camera index, a device file, or any file or URL OpenCV opens.
    """

    def __init__(self, source: int | str) -> None:
        import cv2

        v4l2 = isinstance(source, int) or str(source).startswith("/dev/video")
        self._capture = cv2.VideoCapture(source, cv2.CAP_V4L2 if v4l2 else cv2.CAP_ANY)
        if not self._capture.isOpened():
            raise CameraDisconnectedError(f"OpenCV cannot open {source!r} (unplugged, or in use by another program?)")
        self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.source = source
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dasha-uvc")
        self._pending: concurrent.futures.Future[tuple[bool, Any]] | None = None

    def read(self, timeout_s: float) -> np.ndarray:
        deadline = time.monotonic() + timeout_s
        if self._pending is None:
            self._pending = self._pool.submit(self._capture.read)
        try:
            ok, image = self._pending.result(timeout=max(deadline - time.monotonic(), 0.0))
        except concurrent.futures.TimeoutError:
            raise CameraTimeoutError(f"no frame from {self.source!r} within {timeout_s:g} s") from None
        self._pending = None
        if not ok or image is None:
            raise CameraDisconnectedError(f"the stream from {self.source!r} ended (unplugged?)")
        return image

    def close(self) -> None:
        if self._pending is not None:
            with contextlib.suppress(Exception):
                self._pending.result(timeout=1.0)
        self._capture.release()
        self._pool.shutdown(wait=False)
