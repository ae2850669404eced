"""The one JSON converter (``dasha.jsonio``) and the one matplotlib setup (``dasha.plotting``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dasha.jsonio import dumps, to_jsonable, write_json
from dasha.plotting import DPI, pyplot, save_figure


def test_to_jsonable_writes_standard_json_that_float_reads_back() -> None:
    doc = {"range": (0.2, math.inf), "low": -math.inf, "missing": math.nan, "n": np.int64(3), "x": np.float32(0.5),
           "ok": np.bool_(True), "grid": np.arange(4).reshape(2, 2), "nested": [{"v": np.float64("inf")}],
           np.int64(7): "numpy key", "path": Path("runs/bench"), "none": None, "text": "inf"}  # fmt: skip
    out = to_jsonable(doc)
    assert out == {"range": [0.2, "inf"], "low": "-inf", "missing": "nan", "n": 3, "x": 0.5, "ok": True,
                   "grid": [[0, 1], [2, 3]], "nested": [{"v": "inf"}], 7: "numpy key", "path": "runs/bench",
                   "none": None, "text": "inf"}  # fmt: skip
    assert type(out["n"]) is int and type(out["ok"]) is bool and type(out["x"]) is float
    text = dumps(doc)
    assert "Infinity" not in text and "NaN" not in text
    back = json.loads(text)
    assert (
        float(back["range"][1]) == math.inf and float(back["low"]) == -math.inf and math.isnan(float(back["missing"]))
    )


def test_to_jsonable_leaves_what_has_no_json_form_to_json_to_refuse() -> None:
    with pytest.raises(TypeError):
        dumps({"a": {1, 2}})


def test_write_json_creates_the_directory(tmp_path: Path) -> None:
    path = write_json(tmp_path / "a" / "b.json", {"x": (1, math.inf)})
    assert json.loads(path.read_text()) == {"x": [1, "inf"]}
    assert path.read_text() == json.dumps({"x": [1, "inf"]}, indent=2)


def test_save_figure_writes_a_png_at_the_shared_resolution_and_closes_it(tmp_path: Path) -> None:
    plt = pyplot()
    import matplotlib

    assert matplotlib.get_backend().lower() == "agg"
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    path = save_figure(fig, tmp_path / "deep" / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not plt.fignum_exists(fig.number)
    from PIL import Image

    assert Image.open(path).size == (2 * DPI, 1 * DPI)
