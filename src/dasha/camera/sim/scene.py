"""Scenes for the simulator: a planar textured object in front of a textured background plane.

Textures are grey-level images: any image file, or a real photo shipped by ``skimage.data`` (offline).
The object keeps its aspect ratio and spans ``object_fraction`` of the frame width: the region of interest
is framed on the object (its physical width is implied, ``W = w_px·pitch·(d − f)/f``), while defocus blur is
physical in native pixels. Reflectance maps texture grey 0–255 linearly onto ``[r_lo, r_hi]``.

:func:`vergence_range_d` (m → dpt) and :data:`MIN_DISTANCE_M` (0.2 m) live in :mod:`dasha.camera.calibration` and are
re-exported here, so ``from dasha.camera.sim.scene import MIN_DISTANCE_M`` keeps working.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from dasha.camera.calibration import MIN_DISTANCE_M, vergence_range_d  # re-exported (old import path)
from dasha.camera.errors import SpecError
from dasha.camera.sim.image_file import read_grey_image
from dasha.camera.sim.markers import aruco_marker_texture

#: Real photos from ``skimage.data`` usable as objects (all ship with scikit-image; no download).
OBJECT_TEXTURES: tuple[str, ...] = (
    "astronaut",
    "camera",
    "coffee",
    "chelsea",
    "rocket",
    "text",
    "page",
    "moon",
    "clock",
    "coins",
    "hubble_deep_field",
    "immunohistochemistry",
    "cell",
    "retina",
    "horse",
    "checkerboard",
    "logo",
    "colorwheel",
    "microaneurysms",
    "shepp_logan_phantom",
)
#: Texture photos from ``skimage.data`` used as backgrounds in training.
BACKGROUND_TEXTURES: tuple[str, ...] = ("brick", "grass", "gravel")
#: Further offline photos, shipped by installed packages, that no shipped policy or estimator was trained on
#: unless a list says so: ``motorcycle`` (skimage's stereo pair, left view: a cluttered workshop), ``jacksboro``
#: (matplotlib's Jacksboro fault elevation map, a relief texture), ``grace_hopper`` (matplotlib's portrait: a
#: frontal face that is not an evaluation photo, for training with a face detector).
EXTRA_TEXTURES: dict[str, tuple[str, str]] = {
    "motorcycle": ("skimage", "motorcycle_left.png"),
    "jacksboro": ("matplotlib", "jacksboro_fault_dem.npz"),
    "grace_hopper": ("matplotlib", "grace_hopper.jpg"),
}


def load_texture(name_or_path: str | Path) -> np.ndarray:
    """Load a grey texture as float32 in [0, 1].

    Args:
        name_or_path: a ``skimage.data`` photo name (``"astronaut"``), ``"aruco:ID"`` (a printed ArUco marker of
            ``DICT_4X4_50``, :mod:`dasha.camera.sim.markers`) or an image file path (read by
            :func:`~dasha.camera.sim.image_file.read_grey_image`: at most 40 Mpx, checked before decoding; colour →
            Rec.709 luma, alpha ignored, 16-bit and float stretched min–max onto 0–255, NaN refused).

    Raises:
        SpecError: unknown name, missing, unreadable, truncated, too large or non-finite file, or a flat image.
    """
    key = str(name_or_path)
    if key in OBJECT_TEXTURES or key in BACKGROUND_TEXTURES:
        img = _skimage_photo(key)
    elif key in EXTRA_TEXTURES:
        img = _extra_photo(key)
    elif key.startswith("aruco:"):
        img = _marker(key)
    else:
        path = Path(key).expanduser()
        if not path.is_file():
            names = ", ".join((*OBJECT_TEXTURES, *BACKGROUND_TEXTURES, *EXTRA_TEXTURES))
            raise SpecError(f"scene image {key!r} not found (give an image file or one of: {names})")
        img = read_grey_image(path)  # size checked from the header before decoding; rules in image_file
    out = img.astype(np.float32) / 255.0
    if float(out.max() - out.min()) < 1e-3:
        raise SpecError(f"scene image {key!r} is flat (no texture to focus on)")
    return out


@lru_cache(maxsize=8)
def _marker(key: str) -> np.ndarray:
    try:
        return aruco_marker_texture(int(key.partition(":")[2]))
    except ValueError as exc:
        raise SpecError(f"scene {key!r}: {exc} (write aruco:ID, ID a DICT_4X4_50 marker id 0–49)") from None


@lru_cache(maxsize=32)
def _skimage_photo(name: str) -> np.ndarray:
    import skimage.data

    img = _to_grey_u8(np.asarray(getattr(skimage.data, name)()))
    img.flags.writeable = False
    return img


@lru_cache(maxsize=8)
def _extra_photo(name: str) -> np.ndarray:
    """A photo of :data:`EXTRA_TEXTURES` from the data files skimage or matplotlib install (offline)."""
    package, filename = EXTRA_TEXTURES[name]
    if package == "skimage":
        import skimage.data

        path = Path(skimage.data.__file__).parent / filename
    else:
        import matplotlib.cbook

        path = Path(matplotlib.cbook.get_sample_data(filename, asfileobj=False))
    if path.suffix == ".npz":  # an elevation map: stretch its range onto 0–255
        with np.load(path) as data:
            elevation = np.asarray(data["elevation"], np.float64)
        lo, hi = np.percentile(elevation, [0.5, 99.5])
        img = np.rint(255 * np.clip((elevation - lo) / max(hi - lo, 1e-9), 0, 1)).astype(np.uint8)
    else:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise SpecError(f"texture {name!r}: cannot read {path}")
        img = _to_grey_u8(img[..., ::-1] if img.ndim == 3 else img)  # OpenCV reads BGR
    img.flags.writeable = False
    return img


def _to_grey_u8(img: np.ndarray) -> np.ndarray:
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = cv2.normalize(img.astype(np.float32), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 3:
        if img.shape[2] == 4:
            img = img[:, :, :3]
        # Rec.709 luma on RGB (skimage photos are RGB; OpenCV-read files are BGR, close enough for texture)
        img = np.rint(img[..., 0] * 0.2126 + img[..., 1] * 0.7152 + img[..., 2] * 0.0722).astype(np.uint8)
    return img


@dataclass(frozen=True)
class Layers:
    """Scene reflectance layers rendered at one frame size, before optics (float32, 0–1)."""

    object_premultiplied: np.ndarray
    """Object reflectance × coverage."""
    alpha: np.ndarray
    """Object coverage (1 inside the object, anti-aliased edges)."""
    background: np.ndarray
    """Background reflectance (full frame)."""
    object_box: tuple[int, int, int, int]
    """Object box ``(x0, y0, x1, y1)`` in frame pixels (exclusive ends)."""


@dataclass(frozen=True)
class Scene:
    """A planar object at ``object_distance_m`` in front of a background at ``background_distance_m``.

    Attributes:
        name: label (texture name or file stem).
        object_texture: grey texture of the object, float32 0–1.
        background_texture: grey texture of the background plane, float32 0–1.
        object_distance_m: object distance (m), 0.2 … inf.
        background_distance_m: background distance (m); None = twice the object distance.
        object_fraction: object width as a fraction of the frame width (0.1–1).
        object_center: object centre, fractions of frame width and height.
        object_reflectance: reflectance range ``(lo, hi)`` the object texture maps onto.
        background_reflectance: reflectance range of the background texture.
    """

    name: str
    object_texture: np.ndarray = field(repr=False)
    background_texture: np.ndarray = field(repr=False)
    object_distance_m: float = 1.7
    background_distance_m: float | None = None
    object_fraction: float = 0.6
    object_center: tuple[float, float] = (0.5, 0.5)
    object_reflectance: tuple[float, float] = (0.03, 0.9)
    background_reflectance: tuple[float, float] = (0.05, 0.5)

    def __post_init__(self) -> None:
        d = self.object_distance_m
        if not (isinstance(d, int | float) and (d >= MIN_DISTANCE_M or math.isinf(d)) and d > 0):
            raise SpecError(f"object distance must be ≥ {MIN_DISTANCE_M} m (or inf), got {d!r}")
        b = self.background_distance_m
        if b is not None and not (b >= d or math.isinf(b)):
            raise SpecError(f"background distance {b!r} m must be ≥ the object distance {d!r} m")
        if not 0.1 <= self.object_fraction <= 1.0:
            raise SpecError(f"object_fraction must be in [0.1, 1], got {self.object_fraction!r}")

    @classmethod
    def from_names(cls, obj: str | Path = "astronaut", background: str | Path = "brick", **kwargs: object) -> Scene:
        """Build a scene from texture names or image paths (see :func:`load_texture`)."""
        return cls(
            name=Path(str(obj)).stem,
            object_texture=load_texture(obj),
            background_texture=load_texture(background),
            **kwargs,  # type: ignore[arg-type]
        )

    @property
    def object_vergence_d(self) -> float:
        """Object vergence 1/d (dpt); 0 at infinity."""
        return 0.0 if math.isinf(self.object_distance_m) else 1.0 / self.object_distance_m

    @property
    def background_vergence_d(self) -> float:
        """Background vergence (dpt)."""
        if self.background_distance_m is None:
            return 0.5 * self.object_vergence_d
        return 0.0 if math.isinf(self.background_distance_m) else 1.0 / self.background_distance_m

    def layers(self, height: int, width: int) -> Layers:
        """Render the un-blurred reflectance layers at ``height`` × ``width`` px."""
        th, tw = self.object_texture.shape
        ow = max(4, round(self.object_fraction * width))
        oh = max(4, round(ow * th / tw))
        if oh > 0.95 * height:  # tall textures: fit the height instead
            oh = max(4, round(0.95 * height))
            ow = max(4, round(oh * tw / th))
        cx, cy = self.object_center
        x0 = int(np.clip(round(cx * width - ow / 2), 0, width - ow))
        y0 = int(np.clip(round(cy * height - oh / 2), 0, height - oh))
        lo, hi = self.object_reflectance
        obj = cv2.resize(self.object_texture, (ow, oh), interpolation=cv2.INTER_AREA)
        alpha = np.zeros((height, width), np.float32)
        alpha[y0 : y0 + oh, x0 : x0 + ow] = 1.0
        premult = np.zeros((height, width), np.float32)
        premult[y0 : y0 + oh, x0 : x0 + ow] = lo + (hi - lo) * obj
        blo, bhi = self.background_reflectance
        bg = _cover(self.background_texture, height, width)
        background = (blo + (bhi - blo) * bg).astype(np.float32)
        return Layers(premult, alpha, background, (x0, y0, x0 + ow, y0 + oh))


def _cover(texture: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``texture`` to cover ``height`` × ``width`` (keep aspect, centre crop)."""
    th, tw = texture.shape
    s = max(height / th, width / tw)
    nh, nw = max(height, math.ceil(th * s)), max(width, math.ceil(tw * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    big = cv2.resize(texture, (nw, nh), interpolation=interp)
    y0, x0 = (nh - height) // 2, (nw - width) // 2
    return big[y0 : y0 + height, x0 : x0 + width]


def random_scene(
    rng: np.random.Generator,
    objects: tuple[str, ...] | list[str] = OBJECT_TEXTURES,
    backgrounds: tuple[str, ...] | list[str] = BACKGROUND_TEXTURES,
    distance_range_m: tuple[float, float] = (MIN_DISTANCE_M, math.inf),
) -> Scene:
    """A scene with a random object texture, background and distance (uniform in vergence 1/d).

    Distances are drawn uniformly in diopters between the range's ends, so ``(0.2, inf)`` samples
    0–5 dpt uniformly, as focus difficulty scales with diopters, not metres.
    """
    vergence = float(rng.uniform(*vergence_range_d(distance_range_m)))
    distance = math.inf if vergence < 1e-6 else max(1.0 / vergence, MIN_DISTANCE_M)
    obj = objects[int(rng.integers(len(objects)))]
    bg = backgrounds[int(rng.integers(len(backgrounds)))]
    return Scene.from_names(
        obj,
        bg,
        object_distance_m=distance,
        object_fraction=float(rng.uniform(0.45, 0.75)),
        object_center=(float(rng.uniform(0.4, 0.6)), float(rng.uniform(0.4, 0.6))),
    )
