"""What devices this machine can see, for ``dasha devices``: pylon cameras, V4L2 video devices and serial ports.

:func:`list_devices` returns one dict per device, each with ``kind`` (``"camera"`` or ``"serial"``), ``backend``
(``"pylon"``, ``"v4l2"``, ``"serial"``), ``path`` (a device file, or None for a pylon camera), ``serial`` (the
serial number, or None), ``model`` (what the device calls itself) and ``spec`` (a SPEC that opens it: ``basler:…``,
``opencv:/dev/videoN``, or the port for a lens SPEC such as ``varioptic:PORT``). A kind whose optional package is
missing (pypylon) or that cannot be listed is skipped with a ``{"kind": "note", "note": …}`` entry instead.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["list_devices", "pylon_cameras", "serial_ports", "v4l2_devices"]


def _note(text: str) -> dict[str, Any]:
    return {"kind": "note", "note": text}


def pylon_cameras() -> list[dict[str, Any]]:
    """The cameras pylon enumerates (``PYLON_CAMEMU=N`` adds N emulated ones); a note if pypylon is missing."""
    try:
        from pypylon import genicam, pylon
    except ImportError:
        return [_note("pylon cameras not listed: pypylon is not installed (pip install 'dasha[basler]')")]
    try:
        found = list(pylon.TlFactory.GetInstance().EnumerateDevices())
    except genicam.GenericException as exc:
        return [_note(f"pylon cameras not listed: {' '.join(str(exc).split())}")]
    return [
        {
            "kind": "camera",
            "backend": "pylon",
            "path": None,
            "serial": d.GetSerialNumber(),
            "model": d.GetModelName(),
            "spec": f"basler:{d.GetSerialNumber()}",
        }
        for d in found
    ]


def _video_number(path: str) -> int:
    match = re.search(r"(\d+)$", path)
    return int(match.group(1)) if match else -1


def _v4l2_name(node: str, sys_root: Path) -> str | None:
    """The driver's name of ``/dev/videoN``: sysfs first, linuxpy (opening the device) when sysfs has none."""
    name_file = sys_root / "class" / "video4linux" / node / "name"
    try:
        return name_file.read_text().strip() or None
    except OSError:
        pass
    try:
        from linuxpy.video.device import Device
    except ImportError:
        return None
    try:
        with Device(f"/dev/{node}") as dev:
            return str(dev.info.card)
    except Exception:  # any failure to open just leaves the name unknown
        return None


def v4l2_devices(dev_root: str | Path = "/dev", sys_root: str | Path = "/sys") -> list[dict[str, Any]]:
    """``/dev/video*`` with the driver's name (a UVC camera often has a second, metadata-only node)."""
    paths = sorted(glob.glob(os.path.join(str(dev_root), "video[0-9]*")), key=_video_number)
    out = []
    for path in paths:
        node = os.path.basename(path)
        out.append(
            {
                "kind": "camera",
                "backend": "v4l2",
                "path": path,
                "serial": None,
                "model": _v4l2_name(node, Path(sys_root)),
                "spec": f"opencv:{path}",
            }
        )
    return out


def serial_ports(dev_root: str | Path = "/dev") -> list[dict[str, Any]]:
    """Serial ports from pyserial's ``list_ports`` when installed, else ``/dev/ttyUSB*`` and ``/dev/ttyACM*``."""
    try:
        from serial.tools import list_ports
    except ImportError:
        paths = [
            p for pattern in ("ttyUSB[0-9]*", "ttyACM[0-9]*") for p in glob.glob(os.path.join(str(dev_root), pattern))
        ]
        return [
            {"kind": "serial", "backend": "serial", "path": p, "serial": None, "model": None, "spec": p}
            for p in sorted(paths)
        ]
    out = []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        model = port.product or (port.description if port.description not in (None, "", "n/a") else None)
        if port.vid is not None and port.pid is not None:
            model = f"{model or 'USB device'} [{port.vid:04x}:{port.pid:04x}]"
        out.append(
            {
                "kind": "serial",
                "backend": "serial",
                "path": port.device,
                "serial": port.serial_number,
                "model": model,
                "spec": port.device,
            }
        )
    return out


def list_devices(dev_root: str | Path = "/dev", sys_root: str | Path = "/sys") -> list[dict[str, Any]]:
    """Every camera (pylon, V4L2) and serial port this machine can see (see the module docstring for the keys).

    ``dev_root`` / ``sys_root`` locate ``/dev`` and ``/sys`` (tests point them at a temporary tree).
    """
    return [*pylon_cameras(), *v4l2_devices(dev_root, sys_root), *serial_ports(dev_root)]
