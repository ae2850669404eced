"""``dasha.camera.devices.list_devices``: pylon cameras (on pylon's emulation), V4L2 nodes and serial ports (on a
temporary /dev and /sys tree), and the notes left when an optional package is missing."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from dasha.camera.devices import list_devices, pylon_cameras, serial_ports, v4l2_devices
from tests.conftest import need


def _hide(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    """Make ``import package`` (and its already imported submodules) fail, as if it were not installed."""
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")] + [package]:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture
def fake_tree(tmp_path: Path) -> tuple[Path, Path]:
    dev, sys_root = tmp_path / "dev", tmp_path / "sys"
    dev.mkdir()
    for name in ("video10", "video0", "video1", "ttyUSB0", "ttyACM3", "ttyS0"):
        (dev / name).touch()
    for node, name in (("video0", "HD Pro Webcam C920"), ("video1", "HD Pro Webcam C920")):
        (sys_root / "class" / "video4linux" / node).mkdir(parents=True)
        (sys_root / "class" / "video4linux" / node / "name").write_text(name + "\n")
    return dev, sys_root


def test_v4l2_nodes_in_numeric_order_with_their_sysfs_names(fake_tree: tuple[Path, Path]) -> None:
    dev, sys_root = fake_tree
    found = v4l2_devices(dev, sys_root)
    assert [d["path"] for d in found] == [str(dev / n) for n in ("video0", "video1", "video10")]
    assert found[0] == {
        "kind": "camera",
        "backend": "v4l2",
        "path": str(dev / "video0"),
        "serial": None,
        "model": "HD Pro Webcam C920",
        "spec": f"opencv:{dev / 'video0'}",
    }
    assert found[2]["model"] is None  # no sysfs entry and no such device for linuxpy to open


def test_serial_ports_from_pyserial_or_from_dev(fake_tree: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    dev, _ = fake_tree
    with monkeypatch.context() as patch:
        _hide(patch, "serial")  # pyserial missing: glob ttyUSB* / ttyACM*
        assert [p["path"] for p in serial_ports(dev)] == [str(dev / "ttyACM3"), str(dev / "ttyUSB0")]
    list_ports = need("serial.tools.list_ports")
    port = SimpleNamespace(
        device="/dev/ttyUSB0",
        product="USB-M lens driver",
        description="x",
        serial_number="A1B2",
        vid=0x0403,
        pid=0x6001,
    )
    monkeypatch.setattr(list_ports, "comports", lambda: [port])
    assert serial_ports(dev) == [
        {
            "kind": "serial",
            "backend": "serial",
            "path": "/dev/ttyUSB0",
            "serial": "A1B2",
            "model": "USB-M lens driver [0403:6001]",
            "spec": "/dev/ttyUSB0",
        }
    ]


def test_pylon_cameras_on_the_emulation_and_a_note_without_pypylon(monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        _hide(patch, "pypylon")
        (note,) = pylon_cameras()
    assert note["kind"] == "note" and "dasha[basler]" in note["note"]
    need("pypylon")
    monkeypatch.setenv("PYLON_CAMEMU", "2")
    emulated = [d for d in pylon_cameras() if d["serial"].startswith("0815-")]
    assert [(d["kind"], d["model"], d["serial"], d["spec"]) for d in emulated] == [
        ("camera", "Emulation", "0815-0000", "basler:0815-0000"),
        ("camera", "Emulation", "0815-0001", "basler:0815-0001"),
    ]


def test_list_devices_has_every_kind(fake_tree: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    dev, sys_root = fake_tree
    _hide(monkeypatch, "pypylon")
    _hide(monkeypatch, "serial")
    found = list_devices(dev, sys_root)
    assert [d["kind"] for d in found] == ["note", "camera", "camera", "camera", "serial", "serial"]
    assert all({"kind", "backend", "path", "serial", "model", "spec"} <= d.keys() for d in found[1:])
