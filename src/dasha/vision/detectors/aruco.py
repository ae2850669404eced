"""ArUco fiducial markers (``cv2.aruco``): a detector with an exact answer (marker textures for scenes live in
:mod:`dasha.camera.sim.markers`).

A marker decodes only when its black/white cells are resolved, so detection fails once the blur circle
approaches the cell size: a clean focus target for the joint task. Boxes are the markers' axis-aligned
bounding boxes, labelled ``aruco-<id>``, score 1.0.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from dasha.camera.sim.markers import DEFAULT_DICTIONARY, aruco_dictionary, aruco_marker_texture
from dasha.vision.detectors.base import Box, Detector, iou

__all__ = ["DEFAULT_DICTIONARY", "ArucoDetector", "aruco_marker_texture"]

#: OpenCV's default ``minMarkerDistanceRate`` (0.125) discards a large, sharp marker: the adaptive threshold
#: turns its black border into a band whose inner and outer contours both become candidates, and the
#: "too close" filter can drop the true one. 0.05 decodes every sharp marker of 10–90 % frame width in the
#: simulator (tests); duplicates of one marker are merged afterwards.
DEFAULT_PARAMS: dict[str, Any] = {"minMarkerDistanceRate": 0.05}


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
        self._detector = cv2.aruco.ArucoDetector(aruco_dictionary(dictionary), p)

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
