"""One segmenting function over a cohort of scans, as ``ltnet segment`` and ``ltnet dataaug segment``
run it: output names, skipping finished subjects (a stopped run resumes), sharding a folder over
processes, reading and preparing the next scans in worker processes while this one is segmented,
and each subject's JSON record, written last and atomically."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ltnet.atlas import Atlas
from ltnet.cache import PrepCache
from ltnet.config import PrepConfig
from ltnet.errors import LtnetError
from ltnet.io import Volume, load_image, load_mask, pair_masks, subject_names
from ltnet.io.atomic import atomic_write_text, ensure_writable_dir
from ltnet.io.naming import split_ext
from ltnet.prepare import to_working_grid


@dataclass(frozen=True)
class PreparedScan:
    """One scan read and brought onto the working grid (in a DataLoader worker).

    image: (X, Y, Z) float32 on the working grid; transform: (4, 4) working world -> scan world."""

    index: int
    volume: Volume
    image: np.ndarray
    transform: np.ndarray
    mask: Volume | None = None


class _ScanDataset(torch.utils.data.Dataset):
    """Reading and preparation of each scan: the part that overlaps with the network."""

    def __init__(self, items: list[tuple[int, Path, Path | None]], atlas: Atlas, prep: PrepConfig, cache):
        self.items, self.atlas, self.prep, self.cache = items, atlas, prep, cache

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> PreparedScan | LtnetError:
        index, path, mask_path = self.items[i]
        a = self.atlas
        try:
            vol = load_image(path)
            mask = load_mask(mask_path, vol) if mask_path else None
            p = to_working_grid(vol, a.image, a.labels, a.affine, self.prep, self.cache, mask, a.skull)
        except LtnetError as e:  # handed back as a value: a worker's raise would carry its traceback
            return e
        return PreparedScan(index, vol, p.image, p.transform, mask)


def _as_is(x):  # DataLoader would turn arrays into tensors; the network wants them as they are
    return x


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (0 <= i < n) -> (i, n): this process's share of a folder."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise LtnetError(f"--shard {text!r}: expected i/n, for example 0/4") from None
    if not 0 <= i < n:
        raise LtnetError(f"--shard {text!r}: expected 0 <= i < n")
    return i, n


# process(scan, outputs) writes outputs[kind] for every kind and returns the record's own fields
Process = Callable[[PreparedScan, dict[str, Path]], dict[str, Any]]


def for_each_scan(
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    kinds: Sequence[str],
    atlas: Atlas,
    prep: PrepConfig,
    process: Process,
    cache: PrepCache | None = None,
    masks: Sequence[str | os.PathLike] | None = None,
    overwrite: bool = False,
    workers: int = 0,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
) -> list[Path]:
    """Run ``process`` on every input scan, prepared onto ``atlas``'s working grid with ``prep``.

    Each subject's outputs are ``out_dir/<subject>_<kind><ext>`` for ``kind`` in ``kinds`` (the
    input's extension) and ``out_dir/<subject>_segment.json``: the subject, its image and mask, its
    outputs, the fields ``process`` returns and the seconds it took (after preparation). A subject
    whose outputs all exist is skipped unless ``overwrite``; outputs are written atomically, so an
    existing file is complete. ``workers`` DataLoader processes read and prepare the next scans
    while ``process`` runs; ``shard`` (i, n) takes every n-th scan from the i-th. Returns every
    output path, those of skipped subjects included.
    """
    paths = [Path(p) for p in inputs]
    names = subject_names(paths)
    mask_paths = pair_masks(paths, [Path(m) for m in masks] if masks else None)
    out_dir = ensure_writable_dir(out_dir)
    i, n = shard

    def outputs(k: int) -> dict[str, Path]:
        ext = split_ext(paths[k])[1]
        files = {kind: out_dir / f"{names[k]}_{kind}{ext}" for kind in kinds}
        return {**files, "record": out_dir / f"{names[k]}_segment.json"}

    mine = range(i, len(paths), n)
    done = [k for k in mine if not overwrite and all(p.exists() for p in outputs(k).values())]
    written = [p for k in done for p in outputs(k).values()]
    todo = [(k, paths[k], mask_paths[k]) for k in mine if k not in done]
    loader = torch.utils.data.DataLoader(
        _ScanDataset(todo, atlas, prep, cache),
        batch_size=None,
        num_workers=workers,
        collate_fn=_as_is,
        prefetch_factor=2 if workers else None,
    )
    items = loader
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(loader, desc="segment", unit="scan", dynamic_ncols=True, total=len(todo))
    for item in items:
        if isinstance(item, LtnetError):
            raise item
        out = outputs(item.index)
        t0 = time.perf_counter()
        fields = process(item, out)
        k = item.index
        record = {
            "subject": names[k],
            "image": str(paths[k].resolve()),
            "mask": str(Path(mask_paths[k]).resolve()) if mask_paths[k] else None,
            "outputs": {kind: out[kind].name for kind in kinds},
            "seconds": round(time.perf_counter() - t0, 3),
            **fields,
        }
        written += [out[kind] for kind in kinds]
        atomic_write_text(out["record"], json.dumps(record, indent=2) + "\n")
        written.append(out["record"])
    return written
