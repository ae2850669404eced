"""Reading a scene image file without trusting it: the size is checked from the header before anything is decoded.

Rules (every refusal a :class:`~dasha.camera.errors.SpecError`, one line):

* **size** — at most :data:`MAX_PIXELS` (40 Mpx) and :data:`MAX_SIDE` px a side, at least :data:`MIN_SIDE`; the
  dimensions are read from the file's header (Pillow's lazy open), so a small file that declares a huge image (a
  "decompression bomb") is refused without being decoded;
* **format** — anything Pillow can open (PNG, JPEG, TIFF, BMP, GIF, WebP, PPM, …); the first frame of a multi-frame
  file; a file that is not an image, or is truncated or corrupt, is refused (never a partly decoded image);
* **colour** — converted to grey by Rec.709 luma (0.2126 R + 0.7152 G + 0.0722 B); palette images through their
  colours; CMYK / YCbCr / LAB through RGB;
* **alpha** (RGBA, LA, palette transparency) — ignored: the colour channels are used as they are;
* **depth** — 1-bit images → 0 / 255; 8-bit as they are; 16-bit, 32-bit integer and float images are stretched from
  their own minimum–maximum onto 0–255 (their absolute scale means nothing to a reflectance texture);
* **NaN / inf** — a float image with any non-finite pixel is refused (the count says how many).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from dasha.camera.errors import SpecError

MAX_PIXELS = 40_000_000
"""Largest scene image accepted (width × height, px): 40 Mpx, e.g. 7 700 × 5 200."""
MAX_SIDE = 16_384
"""Longest side accepted (px)."""
MIN_SIDE = 8
"""Shortest side accepted (px)."""

LUMA = (0.2126, 0.7152, 0.0722)
"""Rec.709 luma weights of R, G, B."""


def read_grey_image(path: str | Path, what: str = "scene image") -> np.ndarray:
    """The image file ``path`` as a grey uint8 array ``H × W`` (see the module docstring for the rules)."""
    from PIL import Image, UnidentifiedImageError

    name = repr(str(path))
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our own cap below, from the header, with our own message
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:  # reads the header only
                w, h = im.size
                _check_size(w, h, name, what)
                im.seek(0)
                im.load()  # decodes; raises on a truncated or corrupt file
                return _to_grey(im, name, what)
    except SpecError:
        raise
    except UnidentifiedImageError:
        raise SpecError(
            f"cannot read {what} {name}: not an image file Pillow can decode (PNG, JPEG, TIFF, BMP, …)"
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # Pillow reports truncated / corrupt data so
        if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
            raise SpecError(f"cannot read {what} {name}: {exc.strerror}") from None
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise SpecError(f"cannot read {what} {name}: truncated or corrupt image data ({reason})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _check_size(w: int, h: int, name: str, what: str) -> None:
    if w * h > MAX_PIXELS or max(w, h) > MAX_SIDE:
        raise SpecError(f"{what} {name} declares {w} × {h} px; at most {MAX_PIXELS / 1e6:.0f} Mpx and "
                        f"{MAX_SIDE} px a side are accepted (downscale it)")  # fmt: skip
    if min(w, h) < MIN_SIDE:
        raise SpecError(f"{what} {name} is {w} × {h} px; at least {MIN_SIDE} px a side is needed")


def _to_grey(im: object, name: str, what: str) -> np.ndarray:
    """Pillow image → grey uint8 by the module's rules."""
    from PIL import Image

    assert isinstance(im, Image.Image)
    mode = im.mode
    if mode == "1":
        return np.asarray(im, bool).astype(np.uint8) * 255
    if mode == "P" or mode == "PA":
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in ("L", "LA"):
        arr = np.asarray(im)
        return np.ascontiguousarray(arr[..., 0] if arr.ndim == 3 else arr)
    if mode in ("RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "RGBa", "La"):
        rgb = np.asarray(im.convert("RGB"), np.float32)
        grey = rgb[..., 0] * LUMA[0] + rgb[..., 1] * LUMA[1] + rgb[..., 2] * LUMA[2]
        return np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    arr = np.asarray(im)  # I;16 (and its variants), I (32-bit), F (32-bit float)
    if arr.dtype.kind not in "iuf" or arr.ndim != 2:
        raise SpecError(f"{what} {name}: image mode {mode!r} is not supported (save it as 8-bit grey or RGB)")
    data = arr.astype(np.float64)
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise SpecError(f"{what} {name} has {bad} non-finite (NaN or inf) pixels of {data.size}")
    lo, hi = float(data.min()), float(data.max())
    if hi <= lo:
        return np.zeros(data.shape, np.uint8)  # flat: the caller refuses it with its own message
    return np.rint(255.0 * (data - lo) / (hi - lo)).astype(np.uint8)
