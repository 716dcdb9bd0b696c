"""A content-keyed cache of prepared volumes, shared by every run (``--cache DIR``).

Entries are ``.npz`` files named by a SHA-256 of everything that decides them (the input file's
bytes, the atlas, the working grid, the preparation code's version), written atomically.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ltnet.io.atomic import atomic_path


def default_cache_dir() -> Path:
    """``$LTNET_CACHE``, else ``$XDG_CACHE_HOME/ltnet``, else ``~/.cache/ltnet``."""
    if os.environ.get("LTNET_CACHE"):
        return Path(os.environ["LTNET_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ltnet"


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def array_digest(*arrays: np.ndarray) -> str:
    """SHA-256 (hex) of arrays' dtypes, shapes and values: equal for equal voxels, whatever the file."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


class PrepCache:
    """``get``/``put`` of dicts of arrays under a key; ``root=None`` caches nothing."""

    def __init__(self, root: str | os.PathLike | None) -> None:
        self.root = Path(root) if root is not None else None

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        if self.root is None or not self._path(key).exists():
            return None
        try:
            with np.load(self._path(key), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError):
            return None  # a damaged entry is recomputed

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        if self.root is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp, open(tmp, "wb") as f:
                np.savez(f, **arrays)
        except OSError:
            pass  # a cache that cannot be written only costs time
