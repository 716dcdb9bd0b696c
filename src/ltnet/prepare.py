"""Intensity preparation shared by training, segmentation and atlas selection."""

from __future__ import annotations

import numpy as np


def normalize_intensity(data: np.ndarray, lower: float = 0.5, upper: float = 99.5) -> np.ndarray:
    """Robust rescaling to [0, 1]: the ``lower`` percentile of all voxels goes to 0 and the
    ``upper`` percentile of the non-zero voxels to 1, then clip. Zero background stays zero.

    (X, Y, Z) float -> float32 of the same shape.
    """
    data = np.asarray(data, dtype=np.float32)
    lo = float(np.percentile(data, lower))
    fg = data[data > lo]
    hi = float(np.percentile(fg, upper)) if fg.size else lo
    if hi <= lo:
        hi = float(data.max())
    if hi <= lo:
        return np.zeros_like(data)
    return np.clip((data - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
