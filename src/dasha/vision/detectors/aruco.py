"""ArUco fiducial markers (``cv2.aruco``): a detector with an exact answer, and marker textures for scenes.

A marker decodes only when its black/white cells are resolved, so detection fails once the blur circle
approaches the cell size: a clean focus target for the joint task. Boxes are the markers' axis-aligned
bounding boxes, labelled ``aruco-<id>``, score 1.0.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from dasha.vision.detectors.base import Box, Detector, iou

DEFAULT_DICTIONARY = "DICT_4X4_50"

#: OpenCV's default ``minMarkerDistanceRate`` (0.125) discards a large, sharp marker: the adaptive threshold
#: turns its black border into a band whose inner and outer contours both become candidates, and the
#: "too close" filter can drop the true one. 0.05 decodes every sharp marker of 10–90 % frame width in the
#: simulator (tests); duplicates of one marker are merged afterwards.
DEFAULT_PARAMS: dict[str, Any] = {"minMarkerDistanceRate": 0.05}


def _dictionary(dictionary: str | int) -> cv2.aruco.Dictionary:
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
    d = _dictionary(dictionary)
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


class ArucoDetector(Detector):
    """ArUco marker detector (``cv2.aruco.ArucoDetector``).

    Args:
        dictionary: marker dictionary name or ``cv2.aruco`` constant (default ``DICT_4X4_50``).
        ids: keep only these marker ids (None = all).
        params: ``cv2.aruco.DetectorParameters`` attributes to override, on top of :data:`DEFAULT_PARAMS`.
    """

    name = "aruco"

    def __init__(
        self,
        dictionary: str | int = DEFAULT_DICTIONARY,
        *,
        ids: list[int] | tuple[int, ...] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.dictionary = dictionary
        self.ids = None if ids is None else frozenset(int(i) for i in ids)
        p = cv2.aruco.DetectorParameters()
        for key, value in {**DEFAULT_PARAMS, **(params or {})}.items():
            if not hasattr(p, key):
                raise ValueError(f"unknown ArUco detector parameter {key!r}")
            setattr(p, key, value)
        self._detector = cv2.aruco.ArucoDetector(_dictionary(dictionary), p)

    def _detect(self, image: np.ndarray) -> list[Box]:
        corners, ids, _rejected = self._detector.detectMarkers(image)
        if ids is None:
            return []
        boxes: list[Box] = []
        for quad, marker_id in zip(corners, np.ravel(ids), strict=True):
            if self.ids is not None and int(marker_id) not in self.ids:
                continue
            pts = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
            box = Box(
                float(pts[:, 0].min()),
                float(pts[:, 1].min()),
                float(pts[:, 0].max()),
                float(pts[:, 1].max()),
                1.0,
                f"aruco-{int(marker_id)}",
            )
            # the permissive distance filter may decode one marker twice (outer and inner border contour):
            # keep the larger, outer one
            twin = next((i for i, b in enumerate(boxes) if b.label == box.label and iou(b, box) > 0.5), None)
            if twin is None:
                boxes.append(box)
            elif box.area > boxes[twin].area:
                boxes[twin] = box
        return boxes

    def __repr__(self) -> str:
        return f"ArucoDetector(dictionary={self.dictionary!r}, ids={sorted(self.ids) if self.ids else None})"
