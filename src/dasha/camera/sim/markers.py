"""Printable ArUco fiducial markers as scene textures (``cv2.aruco``), for the simulator and the detector.

Robots and machine-vision cells often focus on a fiducial rather than a face: ``load_texture("aruco:7")`` (or the
camera spec ``sim:scene=aruco:7``) puts marker 7 of :data:`DEFAULT_DICTIONARY` in front of the background.
"""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_DICTIONARY = "DICT_4X4_50"


def aruco_dictionary(dictionary: str | int) -> cv2.aruco.Dictionary:
    """A predefined ``cv2.aruco`` dictionary by name (``"DICT_4X4_50"`` or ``"4X4_50"``) or constant.

    Raises:
        ValueError: unknown dictionary name.
    """
    if isinstance(dictionary, str):
        key = dictionary if dictionary.startswith("DICT_") else f"DICT_{dictionary}"
        value = getattr(cv2.aruco, key.upper(), None)
        if not isinstance(value, int):
            names = sorted(n for n in dir(cv2.aruco) if n.startswith("DICT_"))
            raise ValueError(f"unknown ArUco dictionary {dictionary!r}; valid: {', '.join(names)}")
        dictionary = value
    return cv2.aruco.getPredefinedDictionary(int(dictionary))


def aruco_marker_texture(
    marker_id: int = 0,
    size_px: int = 400,
    border_frac: float = 0.25,
    dictionary: str | int = DEFAULT_DICTIONARY,
) -> np.ndarray:
    """A printable ArUco marker with a white quiet zone, for simulator scenes and tests.

    Args:
        marker_id: marker id within the dictionary.
        size_px: side of the returned square texture (px), quiet zone included.
        border_frac: width of the white quiet zone on each side, as a fraction of the marker side.
        dictionary: ``cv2.aruco`` dictionary name (``"DICT_4X4_50"``) or constant.

    Returns:
        uint8 ``size_px`` × ``size_px`` image: black marker on white (255).

    Example:
        >>> from dasha.camera.sim import Scene, load_texture
        >>> tex = aruco_marker_texture(7).astype("float32") / 255
        >>> scene = Scene(name="aruco-7", object_texture=tex, background_texture=load_texture("brick"))
    """
    if not 0 <= border_frac <= 2:
        raise ValueError(f"border_frac must be in [0, 2], got {border_frac!r}")
    d = aruco_dictionary(dictionary)
    n_markers = d.bytesList.shape[0]
    if not 0 <= int(marker_id) < n_markers:
        raise ValueError(f"marker_id must be in [0, {n_markers}) for this dictionary, got {marker_id!r}")
    marker_px = round(size_px / (1 + 2 * border_frac))
    if marker_px < d.markerSize + 2:
        raise ValueError(f"size_px={size_px} is too small for a {d.markerSize}×{d.markerSize} marker with border")
    marker = cv2.aruco.generateImageMarker(d, int(marker_id), marker_px)
    pad = size_px - marker_px
    lo = pad // 2
    return cv2.copyMakeBorder(marker, lo, pad - lo, lo, pad - lo, cv2.BORDER_CONSTANT, value=255)
