"""The training set: the atlas and the unlabelled images on the working grid.

:func:`load_train_data` reads and prepares them (through the cache), leaving out any image that
is the atlas; :func:`load_train_data_distributed` does it once per torchrun group (rank 0 prepares,
the others receive the atlas and read the prepared images back from the cache);
:func:`save_prepared` writes them out as NIfTI files on the working grid (``ltnet prepare``).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ltnet.atlas import Atlas, load_atlases
from ltnet.cache import PrepCache, array_digest
from ltnet.config import PrepConfig
from ltnet.distributed import Dist, broadcast
from ltnet.errors import LtnetError
from ltnet.io import load_image, load_mask, pair_masks
from ltnet.prepare import to_working_grid


@dataclass(frozen=True)
class TrainData:
    """The atlas (which fixes the working grid), any further atlases, and the unlabelled images,
    all on the working grid. images: (N, X, Y, Z) float32."""

    atlas: Atlas
    images: np.ndarray
    prep: PrepConfig = field(default_factory=lambda: PrepConfig(prealigned=True))
    image_paths: tuple[str, ...] = ()
    extra_atlases: tuple[Atlas, ...] = ()

    @property
    def atlases(self) -> tuple[Atlas, ...]:
        """Every atlas, the one that fixes the grid first."""
        return (self.atlas, *self.extra_atlases)


PathOrPaths = str | os.PathLike | Sequence[str | os.PathLike]


def _paths(p: PathOrPaths) -> list[str | os.PathLike]:
    return [p] if isinstance(p, str | os.PathLike) else list(p)


def load_train_data(
    atlas_path: PathOrPaths,
    atlas_labels: PathOrPaths,
    image_paths: Sequence[str | os.PathLike],
    prep: PrepConfig | None = None,
    cache: PrepCache | None = None,
    masks: Sequence[str | os.PathLike] | None = None,
    progress: bool = False,
    atlases: Sequence[Atlas] | None = None,
) -> TrainData:
    """Read the atlas(es) and the images and bring them onto the working grid (prepared and cached),
    or, with ``prep.prealigned``, check that they are on the atlas grid already. Several atlases
    (paths in sequences, labels paired by subject name): the first fixes the working grid, the
    others are aligned onto it (:func:`ltnet.atlas.load_atlases`). ``atlases``: already read
    (another rank's), instead of reading them from the paths. An image that is one of the atlases
    is left out of the unlabelled images."""
    prep = prep or PrepConfig(prealigned=True)
    if not image_paths:
        raise LtnetError("no training images given")
    atlases = tuple(atlases or load_atlases(_paths(atlas_path), _paths(atlas_labels), prep, cache))
    atlas = atlases[0]
    atlas_voxels = {array_digest(load_image(p).data) for p in _paths(atlas_path)}
    mask_paths = pair_masks([Path(p) for p in image_paths], [Path(m) for m in masks] if masks else None)
    items = list(zip(image_paths, mask_paths, strict=True))
    if progress and not prep.prealigned:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="prepare", unit="scan", dynamic_ncols=True)
    images, kept = [], []
    for p, m in items:
        v = load_image(p)
        if array_digest(v.data) in atlas_voxels:
            # the atlas (or a copy of it) among the unlabelled images: the discriminator would learn
            # that the atlas is real, and teach G_F that the identity warp is best
            warnings.warn(f"{p}: holds the atlas's voxels: left out of the unlabelled images", stacklevel=2)
            continue
        mask = load_mask(m, v) if m else None
        prepared = to_working_grid(v, atlas.image, atlas.labels, atlas.affine, prep, cache, mask, atlas.skull)
        images.append(prepared.image)
        kept.append(str(p))
    if not images:
        raise LtnetError("no training images other than the atlas")
    return TrainData(atlas, np.stack(images), prep, tuple(kept), atlases[1:])


def without_atlas(data: TrainData) -> TrainData:
    """``data`` less any image equal to the atlas on the working grid (a prealigned copy, say).

    The discriminator's real images are the pool's: the atlas among them would make the identity
    warp produce a real image exactly. :func:`load_train_data` already drops files holding the
    atlas's voxels; this catches a :class:`TrainData` built by hand."""
    same = [any(np.array_equal(im, a.image) for a in data.atlases) for im in data.images]
    if not any(same):
        return data
    if all(same):
        raise LtnetError("no training images other than the atlas")
    warnings.warn(f"{sum(same)} training image(s) equal to the atlas left out of the pool", stacklevel=2)
    keep = [i for i, s in enumerate(same) if not s]
    paths = (
        tuple(data.image_paths[i] for i in keep) if len(data.image_paths) == len(same) else data.image_paths
    )
    return TrainData(data.atlas, data.images[keep], data.prep, paths, data.extra_atlases)


def load_train_data_distributed(
    atlas_path: PathOrPaths,
    atlas_labels: PathOrPaths,
    image_paths: Sequence[str | os.PathLike],
    prep: PrepConfig,
    cache: PrepCache | None,
    masks: Sequence[str | os.PathLike] | None,
    dist: Dist,
    progress: bool = False,
) -> TrainData:
    """:func:`load_train_data` once per process group: rank 0 reads the atlas and prepares every
    image into the cache; the others receive the atlas once and read the prepared images back from
    the cache. A plain run (a group of one) is :func:`load_train_data`."""
    data = None
    if dist.is_main:
        data = load_train_data(atlas_path, atlas_labels, image_paths, prep, cache, masks, progress=progress)
    states = broadcast([a.to_state() for a in data.atlases] if data is not None else None, dist)
    if data is None:
        atlases = [Atlas.from_state(s) for s in states]
        data = load_train_data(atlas_path, atlas_labels, image_paths, prep, cache, masks, atlases=atlases)
    return data


def save_prepared(data: TrainData, names: Sequence[str], out: str | os.PathLike) -> list[Path]:
    """Write the working grid's atlas (``atlas.nii.gz``, ``atlas_labels.nii.gz``), each image as
    ``<name>.nii.gz`` and the preparation settings (``prep.json``) into ``out``. Every file carries
    the atlas's affine (voxel -> world mm). Returns the images' paths, in ``names``' order."""
    import nibabel as nib

    from ltnet.io import Volume, atomic_write_text, save_like
    from ltnet.io.atomic import ensure_writable_dir
    from ltnet.io.image import label_dtype

    if len(names) != len(data.images):
        raise ValueError(f"expected one name per image ({len(data.images)}), got {len(names)}")
    folder = ensure_writable_dir(out)
    atlas = data.atlas
    grid = Volume(atlas.image, nib.Nifti1Image(atlas.image, atlas.affine), folder / "atlas.nii.gz")
    save_like(atlas.image, grid, folder / "atlas.nii.gz", dtype=np.float32)
    labels_dtype = label_dtype(np.asarray(atlas.label_ids))
    save_like(atlas.labels, grid, folder / "atlas_labels.nii.gz", dtype=labels_dtype)
    written = [
        save_like(image, grid, folder / f"{name}.nii.gz", dtype=np.float32)
        for name, image in zip(names, data.images, strict=True)
    ]
    atomic_write_text(folder / "prep.json", json.dumps(data.prep.to_dict(), indent=2) + "\n")
    return written
