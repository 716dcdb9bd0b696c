"""Atomic writes: write to a temporary name in the same folder, then rename over the target."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from ltnet.errors import LtnetError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` that keeps its file name (and so its extension).

    On success the temporary file replaces ``path`` in one rename; on any error it is removed,
    so a reader never sees a half-written file.
    """
    path = Path(path)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to a temporary name beside ``path``, then rename it: never half-written."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def ensure_writable_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and check that files can be created in it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LtnetError(f"{path}: cannot create output folder ({e.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise LtnetError(f"{path}: output folder is not writable")
    return path
