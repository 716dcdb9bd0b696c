"""FreeSurfer's linear transform files (``talairach.xfm``), for cross-checks only: ltnet's own
pipeline never needs one."""

from __future__ import annotations

import os

import numpy as np

from ltnet.errors import LtnetError


def read_xfm(path: str | os.PathLike) -> np.ndarray:
    """The 4 x 4 RAS-to-RAS matrix of an MNI ``.xfm`` file (``Linear_Transform =`` block)."""
    lines = open(path).read().splitlines()
    for i, ln in enumerate(lines):
        if ln.strip().startswith("Linear_Transform"):
            rows = " ".join(lines[i + 1 : i + 4]).replace(";", " ").split()
            try:
                m = np.array([float(v) for v in rows[:12]]).reshape(3, 4)
            except ValueError:
                break
            return np.vstack([m, [0, 0, 0, 1]])
    raise LtnetError(f"{path}: no Linear_Transform block in this .xfm file")
