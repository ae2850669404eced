"""The paper's discrete exposure-time action table (148 values, µs).

The DASHA paper says 146 values; the authors' code holds 148 (their published code):

* 1 000 – 44 000 µs in steps of 1 000 µs (44 values),
* 50 000 – 495 000 µs in steps of 5 000 µs (90 values),
* 600 000 – 850 000 µs in steps of 50 000 µs (6 values),
* 1 000 000 – 4 500 000 µs in steps of 500 000 µs (8 values).
"""

from __future__ import annotations

import numpy as np

EXPOSURE_TABLE_US: tuple[int, ...] = (
    *range(1_000, 44_001, 1_000),
    *range(50_000, 495_001, 5_000),
    *range(600_000, 850_001, 50_000),
    *range(1_000_000, 4_500_001, 500_000),
)
"""The 148 exposure times of the paper's code, ascending, in µs."""


def exposure_index(exposure_us: float) -> int:
    """Index of the table entry nearest to ``exposure_us`` (µs), in log space."""
    table = np.asarray(EXPOSURE_TABLE_US, dtype=np.float64)
    if not np.isfinite(exposure_us) or exposure_us <= 0:
        raise ValueError(f"exposure must be a positive number of µs, got {exposure_us!r}")
    return int(np.argmin(np.abs(np.log(table) - np.log(exposure_us))))
