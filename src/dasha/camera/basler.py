"""Basler / GenICam cameras over pypylon (``pip install 'dasha[basler]'``): SPEC ``basler[:SERIAL][,…]``.

:class:`BaslerCamera` opens the camera with a given serial number (or the first one pylon finds), grabs Mono8 frames
with a time-out, and drives ``ExposureTime`` in µs inside the limits the device reports (``Min``/``Max``/``Inc``
read from its node map). While dasha controls the camera its own auto functions (``ExposureAuto``, ``GainAuto``) are
``Off``; ``close()`` puts back the values they had when the camera was opened. A region of interest, a pylon feature
file (``.pfs``, what the pylon Viewer saves) and single feature overrides are applied at open, in that order.

Every pylon call runs inside a translation of pypylon's errors: a grab time-out is a
:class:`~dasha.camera.errors.CameraTimeoutError`, a removed or unresponsive device a
:class:`~dasha.camera.errors.CameraDisconnectedError` (never a hang: every grab has a time-out), any other GenICam
error a :class:`~dasha.camera.errors.CameraError`. Nodes are fetched fresh for each call, never cached: a node kept
past ``DestroyDevice`` dangles (reading it crashes the process), a fresh lookup raises.

Frame timestamps are the host's monotonic clock (s) when the grab result arrived (cameras count device ticks at
model-specific rates, and pylon's camera emulation reports 0). pypylon is imported on first use; pylon's camera
emulation appears with ``PYLON_CAMEMU=1`` (it is read when devices are enumerated, so setting it after import works).

SPEC (:func:`basler_from_spec`): ``basler[:SERIAL][,roi=X:Y:W:H][,pfs=FILE][,Feature=value…]`` — ``roi`` in px,
``pfs`` a pylon feature file, any other ``key=value`` a GenICam feature (name as in the pylon Viewer, e.g.
``Gain=3.0``, ``BlackLevel=4``), set after the file and the ROI.

Units: exposure in µs, time-outs in s, ROI in px.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dasha.camera.base import Camera, Frame, Limits
from dasha.camera.basler_spec import check_roi, exposure_limits_from_nodes, parse_basler_args
from dasha.camera.errors import (
    CameraDisconnectedError,
    CameraError,
    CameraTimeoutError,
    DependencyMissingError,
    SpecError,
)

__all__ = ["DEFAULT_TIMEOUT_S", "BaslerCamera", "basler_from_spec", "check_roi", "exposure_limits_from_nodes"]

#: Grab time-out (s) on top of the exposure when ``capture()`` is given none.
DEFAULT_TIMEOUT_S = 5.0

#: The camera's auto functions dasha switches off while it controls exposure, restored on close.
AUTO_FEATURES = ("ExposureAuto", "GainAuto")

#: Features dasha owns while it drives the camera: a feature override may not change them.
_OWNED = {"PixelFormat": "Mono8", "ExposureAuto": "Off", "GainAuto": "Off"}


def _import_pylon() -> tuple[Any, Any]:
    """``(pylon, genicam)`` from pypylon, or a one-line DependencyMissingError naming the ``basler`` extra."""
    try:
        from pypylon import genicam, pylon
    except ImportError:
        raise DependencyMissingError("pypylon", "basler", "the Basler camera backend") from None
    return pylon, genicam


def _short(exc: BaseException) -> str:
    """The first clause of a GenICam message (drops `` : RuntimeException thrown (file …, line …)``)."""
    text = " ".join(str(exc).split())
    return text.split(" : ")[0].rstrip(". ") or type(exc).__name__


def _as_feature_text(value: object) -> str:
    """A feature value as GenICam ``FromString`` expects it (``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class BaslerCamera(Camera):
    """A Basler (GenICam) camera through pylon: Mono8 frames, exposure in µs, grabs with a time-out.

    Args:
        serial: serial number of the camera to open; None opens the first camera pylon finds.
        roi: region of interest ``(x, y, w, h)`` in px, on the device's Width/Height/Offset increments
            (SpecError otherwise); None keeps the camera's (or the feature file's) ROI.
        pfs: a pylon feature file (``.pfs``, pylon Viewer → Save Features) loaded at open.
        features: single feature overrides ``{"Gain": 3.0, …}``, set after the file and the ROI; dasha's own
            (PixelFormat other than Mono8, ExposureAuto / GainAuto other than Off) are refused.
        timeout_s: grab time-out (s) added to the exposure when ``capture()`` is given none.
        optics: the camera's optics calibration (:class:`~dasha.camera.calibration.Optics`), or None.
        instant_camera: an already created ``pylon.InstantCamera`` to drive instead of opening one; it stays the
            caller's: ``close()`` restores the auto functions and leaves it open.
        spec: the SPEC string this camera was made from.

    Raises:
        DependencyMissingError: pypylon is not installed.
        CameraDisconnectedError: no such camera, or it cannot be opened.
        SpecError: a bad ROI, feature file or feature override.
    """

    def __init__(
        self,
        serial: str | None = None,
        *,
        roi: tuple[int, int, int, int] | None = None,
        pfs: str | Path | None = None,
        features: Mapping[str, object] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        optics: Any = None,
        instant_camera: Any = None,
        spec: str = "",
    ) -> None:
        self._pylon, self._genicam = _import_pylon()
        if not (isinstance(timeout_s, int | float) and math.isfinite(timeout_s) and timeout_s > 0):
            raise SpecError(f"Basler grab time-out must be a positive number of s, got {timeout_s!r}")
        self.timeout_s = float(timeout_s)
        self.optics = optics
        self.spec = spec or "basler" + (f":{serial}" if serial else "")
        self._owns_device = instant_camera is None
        self._saved_auto: dict[str, str] = {}
        self._camera: Any = instant_camera if instant_camera is not None else self._open(serial)
        self.name = f"{self._camera.GetDeviceInfo().GetModelName()} ({self._camera.GetDeviceInfo().GetSerialNumber()})"
        try:
            with self._translate("open"):
                if not self._camera.IsOpen():
                    self._camera.Open()
            self._configure(roi, pfs, features)
        except BaseException:
            with contextlib.suppress(Exception):
                self.close()
            raise

    # -- opening ------------------------------------------------------------------------------------
    def _open(self, serial: str | None) -> Any:
        pylon, genicam = self._pylon, self._genicam
        try:
            factory = pylon.TlFactory.GetInstance()
            found = list(factory.EnumerateDevices())
        except genicam.GenericException as exc:
            raise CameraDisconnectedError(f"pylon cannot list cameras: {_short(exc)}") from None
        if serial is not None:
            chosen = [d for d in found if d.GetSerialNumber() == str(serial)]
            if not chosen:
                seen = ", ".join(f"{d.GetModelName()} {d.GetSerialNumber()}" for d in found) or "none"
                raise CameraDisconnectedError(f"no Basler camera with serial {serial!r} (pylon sees: {seen})")
            found = chosen
        if not found:
            raise CameraDisconnectedError(
                "no Basler camera found: pylon sees none (check cable and power; PYLON_CAMEMU=1 adds pylon's emulation)"
            )
        info = found[0]
        try:
            camera = pylon.InstantCamera(factory.CreateDevice(info))
            camera.Open()
        except genicam.GenericException as exc:
            raise CameraDisconnectedError(
                f"cannot open Basler camera {info.GetModelName()} {info.GetSerialNumber()}: {_short(exc)} "
                "(in use by another program?)"
            ) from None
        return camera

    def _configure(
        self, roi: tuple[int, int, int, int] | None, pfs: str | Path | None, features: Mapping[str, object] | None
    ) -> None:
        with self._translate("configuration"):
            if self._camera.IsGrabbing():
                self._camera.StopGrabbing()
            for name in AUTO_FEATURES:
                node = self._node(name, required=False)
                if node is not None and node.IsReadable():
                    self._saved_auto[name] = str(node.GetValue())
        if pfs is not None:
            self._load_pfs(Path(pfs))
        if roi is not None:
            self._apply_roi(roi)
        for name, value in (features or {}).items():
            self.set_feature(name, value)
        with self._translate("configuration"):
            pixel = self._node("PixelFormat")
            if "Mono8" not in pixel.GetSymbolics():
                raise CameraError(f"Basler {self.name} has no Mono8 pixel format (has {', '.join(pixel.Symbolics)})")
            pixel.SetValue("Mono8")
            for name in self._saved_auto:
                self._node(name).SetValue("Off")
            self.exposure_limits = self._read_exposure_limits()

    def _load_pfs(self, path: Path) -> None:
        if not path.is_file():
            raise SpecError(f"pylon feature file {str(path)!r} does not exist")
        try:
            with self._translate("loading a feature file"):
                self._pylon.FeaturePersistence.Load(str(path), self._nodemap(), True)
        except CameraDisconnectedError:
            if self._removed():
                raise
            raise SpecError(f"pylon feature file {str(path)!r} was not loaded: not a pylon .pfs file?") from None
        except CameraError as exc:
            raise SpecError(f"pylon feature file {str(path)!r}: {exc}") from None

    def _apply_roi(self, roi: tuple[int, int, int, int]) -> None:
        with self._translate("setting the ROI"):
            nodes = {n: self._node(n) for n in ("Width", "Height", "OffsetX", "OffsetY")}
            nodes["OffsetX"].SetValue(nodes["OffsetX"].GetMin())  # free the full sensor before sizing
            nodes["OffsetY"].SetValue(nodes["OffsetY"].GetMin())
            x, y, w, h = check_roi(
                roi,
                (nodes["Width"].GetMin(), nodes["Width"].GetMax(), nodes["Width"].GetInc()),
                (nodes["Height"].GetMin(), nodes["Height"].GetMax(), nodes["Height"].GetInc()),
                (nodes["OffsetX"].GetInc(), nodes["OffsetY"].GetInc()),
            )
            nodes["Width"].SetValue(w)
            nodes["Height"].SetValue(h)
            nodes["OffsetX"].SetValue(x)
            nodes["OffsetY"].SetValue(y)

    def _read_exposure_limits(self) -> Limits:
        exposure = self._exposure_node()
        raw, base = self._node("ExposureTimeRaw", required=False), self._node("ExposureTimeBaseAbs", required=False)
        if raw is None or base is None:
            return exposure_limits_from_nodes(exposure)
        return exposure_limits_from_nodes(exposure, raw, base)

    # -- features -------------------------------------------------------------------------------------
    def get_feature(self, name: str) -> str:
        """The current value of GenICam feature ``name`` as text (e.g. ``"Off"``, ``"3.000"``)."""
        self._check_open()
        with self._translate(f"reading {name}"):
            node = self._node(name, required=False)
            if node is None or not node.IsReadable():
                raise SpecError(f"Basler {self.name} has no readable feature {name!r}")
            return str(node.ToString())

    def set_feature(self, name: str, value: object) -> None:
        """Set GenICam feature ``name`` (its text form: ``3.0``, ``Off``, ``true``); SpecError if it is unknown,
        not writable, refused by the camera, or one dasha owns (PixelFormat, ExposureAuto, GainAuto)."""
        self._check_open()
        text = _as_feature_text(value)
        if name in _OWNED and text != _OWNED[name]:
            raise SpecError(f"feature {name}={text!r}: dasha keeps {name} = {_OWNED[name]} while it drives the camera")
        with self._translate(f"setting {name}"):
            node = self._node(name, required=False)
            if node is None:
                raise SpecError(f"Basler {self.name} has no feature {name!r}")
            if not node.IsWritable():
                raise SpecError(f"feature {name!r} of Basler {self.name} is not writable now")
            try:
                node.FromString(text)
            except (self._genicam.InvalidArgumentException, self._genicam.OutOfRangeException) as exc:
                raise SpecError(f"feature {name}={text!r}: {_short(exc)}") from None
        if name in ("ExposureTime", "ExposureTimeAbs", "Width", "Height", "ExposureTimeBaseAbs"):
            with self._translate("reading the exposure limits"):
                self.exposure_limits = self._read_exposure_limits()

    # -- hooks ------------------------------------------------------------------------------------------
    def _do_get_exposure(self) -> float:
        with self._translate("reading the exposure"):
            return float(self._exposure_node().GetValue())

    def _do_set_exposure(self, exposure_us: float) -> None:
        with self._translate("setting the exposure"):
            self._exposure_node().SetValue(float(exposure_us))

    def _do_capture(self, timeout_s: float | None = None) -> Frame:
        pylon = self._pylon
        with self._translate("grab"):
            exposure_us = float(self._exposure_node().GetValue())
            wait_s = self.timeout_s + exposure_us * 1e-6 if timeout_s is None else timeout_s
            camera = self._camera
            if camera.IsGrabbing():
                camera.StopGrabbing()
            camera.StartGrabbingMax(1, pylon.GrabStrategy_OneByOne)
            try:
                result = camera.RetrieveResult(max(1, math.ceil(wait_s * 1000)), pylon.TimeoutHandling_Return)
                stamp = time.monotonic()
                if result is None or not result.IsValid():
                    raise CameraTimeoutError(
                        f"Basler {self.name}: no frame within {wait_s:g} s (waiting for a trigger?)"
                    )
                try:
                    if not result.GrabSucceeded():
                        raise CameraError(
                            f"Basler {self.name}: grab failed: {result.GetErrorDescription()} "
                            f"(error {result.GetErrorCode():#x})"
                        )
                    image = np.array(result.Array, dtype=np.uint8, copy=True)
                finally:
                    result.Release()
            finally:
                with contextlib.suppress(self._genicam.GenericException):
                    camera.StopGrabbing()
        return Frame(image, exposure_us, None, stamp)

    def _do_close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is None:
            return
        failed: list[str] = []
        try:
            if self._attached(camera) and camera.IsOpen():
                with contextlib.suppress(self._genicam.GenericException):
                    camera.StopGrabbing()
                nodemap = camera.GetNodeMap()
                for name, value in self._saved_auto.items():
                    try:
                        nodemap.GetNode(name).SetValue(value)
                    except self._genicam.GenericException as exc:
                        failed.append(f"{name}={value}: {_short(exc)}")
        finally:
            if self._owns_device:
                with contextlib.suppress(self._genicam.GenericException):
                    camera.Close()
                with contextlib.suppress(self._genicam.GenericException):
                    camera.DestroyDevice()
        if failed:
            raise CameraError(f"Basler {self.name}: could not restore {'; '.join(failed)}")

    # -- pylon plumbing -----------------------------------------------------------------------------------
    def _attached(self, camera: Any) -> bool:
        try:
            return bool(camera.IsPylonDeviceAttached()) and not camera.IsCameraDeviceRemoved()
        except self._genicam.GenericException:
            return False

    def _removed(self) -> bool:
        return self._camera is None or not self._attached(self._camera)

    def _nodemap(self) -> Any:
        if self._removed() or not self._camera.IsOpen():
            raise CameraDisconnectedError(f"Basler {self.name} was removed or closed behind dasha's back")
        return self._camera.GetNodeMap()

    def _node(self, name: str, required: bool = True) -> Any:
        """The live node ``name`` (looked up now: see the module docstring); None if absent and not required."""
        node = self._nodemap().GetNode(name)
        if node is None or not self._genicam.IsAvailable(node):
            if required:
                raise CameraError(f"Basler {self.name} has no {name} feature")
            return None
        return node

    def _exposure_node(self) -> Any:
        node = self._node("ExposureTime", required=False)  # SFNC 2 (USB3, ace 2); SFNC 1 GigE: ExposureTimeAbs
        if node is None or not node.IsWritable():
            node = self._node("ExposureTimeAbs")
        return node

    @contextlib.contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        """pypylon's errors as CameraErrors: time-out, removal (or any RuntimeException), anything else."""
        genicam = self._genicam
        try:
            yield
        except genicam.TimeoutException as exc:
            raise CameraTimeoutError(f"Basler {self.name}: {what} timed out: {_short(exc)}") from None
        except genicam.GenericException as exc:
            if self._removed() or isinstance(exc, genicam.RuntimeException):
                raise CameraDisconnectedError(
                    f"Basler {self.name} was removed or stopped answering ({what}): {_short(exc)}"
                ) from None
            raise CameraError(f"Basler {self.name}: {what} failed: {_short(exc)}") from None


def basler_from_spec(spec: str, args: str) -> BaslerCamera:
    """A :class:`BaslerCamera` from the ``ARGS`` of ``basler:ARGS``: ``[SERIAL][,roi=X:Y:W:H][,pfs=FILE][,F=v…]``."""
    serial, kwargs = parse_basler_args(spec, args)
    return BaslerCamera(serial, spec=spec, **kwargs)
