"""The atlas (image, label map, grid) and the choice of atlas among candidate images (SPEC)."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ltnet.cache import PrepCache
from ltnet.config import DEFAULT_BOX_MM, PrepConfig
from ltnet.errors import LtnetError
from ltnet.io import Volume, load_image, load_labels
from ltnet.io.resample import covering_region, resample, resample_labels
from ltnet.prepare import (
    normalize_intensity,
    prepare_atlas_arrays,
    prepare_scan,
    signal_ml,
    to_working_grid,
    working_grid,
)
from ltnet.trilinear import LabelGrid


def _grid_state(image: np.ndarray, labels: np.ndarray, affine: np.ndarray) -> dict[str, torch.Tensor]:
    """An image, id map and affine as plain tensors, for a ``weights_only`` checkpoint; ids in
    int16 where they fit (half the space: the full-resolution source is the checkpoint's largest)."""
    small = labels.size and labels.min() >= 0 and labels.max() < 2**15
    return {
        "image": torch.from_numpy(image),
        "labels": torch.from_numpy(labels.astype(np.int16) if small else labels),
        "affine": torch.from_numpy(affine),
    }


def _grid_arrays(state: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image float32, ids int32, affine float64) back from :func:`_grid_state`."""
    return (
        state["image"].numpy().astype(np.float32),
        state["labels"].numpy().astype(np.int32),
        state["affine"].numpy().astype(np.float64),
    )


@dataclass(frozen=True)
class AtlasSource:
    """The atlas image and label map at their own resolution, cropped to the working box with a
    margin: what finer grids are resampled from (:meth:`Atlas.on_finer_grid`).

    image: float32 (X, Y, Z); labels: int32 (X, Y, Z); affine: (4, 4) voxel -> world mm."""

    image: np.ndarray
    labels: np.ndarray
    affine: np.ndarray

    @classmethod
    def crop(
        cls,
        image: Volume,
        labels: Volume,
        box: np.ndarray,
        box_shape: Sequence[int],
        to_box_world: np.ndarray | None = None,
    ) -> AtlasSource:
        """The part of ``image`` and ``labels`` (one grid) that covers the RAS grid (``box``,
        ``box_shape``), with two voxels to spare. ``to_box_world``: the map from the image's world
        to the box's (an extra atlas's inverse preparation transform); identity by default. The
        source's affine maps its voxels into the box's world."""
        affine = image.affine if to_box_world is None else to_box_world @ image.affine
        region = covering_region(np.linalg.inv(box) @ affine, box_shape, image.shape)
        if region is None:
            raise LtnetError(f"{image.path}: the atlas does not cover its working box")
        region = tuple(
            slice(max(r.start - 2, 0), min(r.stop + 2, n)) for r, n in zip(region, image.shape, strict=True)
        )
        lo = np.array([r.start for r in region], float)
        corner = np.eye(4)
        corner[:3, 3] = lo
        return cls(
            np.asarray(image.data[region], np.float32),
            np.asarray(labels.data[region], np.int32),
            affine @ corner,
        )

    def to_state(self) -> dict[str, Any]:
        return _grid_state(self.image, self.labels, self.affine)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AtlasSource:
        return cls(*_grid_arrays(state))


@dataclass(frozen=True)
class Atlas:
    """The labelled atlas on the working grid.

    image: float32 (X, Y, Z) in [0, 1]; labels: int32 (X, Y, Z); affine: (4, 4) voxel -> world mm;
    label_ids: the ids present, sorted, background (0) first: channel c of :meth:`one_hot` is
    label ``label_ids[c]``. name: the atlas's subject name (from its file), for records.
    """

    image: np.ndarray
    labels: np.ndarray
    affine: np.ndarray
    label_ids: tuple[int, ...]
    brain_ml: float = math.nan  # labelled volume, and signal volume over it: for the skull check
    signal_ratio: float = math.nan
    source: AtlasSource | None = None  # the full-resolution atlas, for refinement on finer grids
    name: str = ""

    @classmethod
    def from_arrays(
        cls,
        image: np.ndarray,
        labels: np.ndarray,
        affine: np.ndarray,
        brain_ml: float = math.nan,
        signal_ratio: float = math.nan,
        name: str = "",
    ) -> Atlas:
        if image.shape != labels.shape:
            raise ValueError(f"atlas image {image.shape} and labels {labels.shape} differ in shape")
        ids = tuple(int(i) for i in np.unique(np.concatenate([[0], np.unique(labels)])))
        arrays = (np.asarray(image, np.float32), np.asarray(labels, np.int32), np.asarray(affine, np.float64))
        return cls(*arrays, ids, float(brain_ml), float(signal_ratio), name=name)

    @property
    def skull(self) -> tuple[float, float] | None:
        """(brain mL, signal ratio) for :func:`ltnet.prepare.to_working_grid`, when known."""
        return (self.brain_ml, self.signal_ratio) if math.isfinite(self.brain_ml) else None

    @functools.cached_property
    def label_grid(self) -> LabelGrid:
        """The label map as label transfer reads it, built once (on the CPU)."""
        return LabelGrid.of(torch.from_numpy(self.labels))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.image.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> float:
        return float(np.linalg.norm(self.affine[:3, 0]))

    def with_source(self, source: AtlasSource | None) -> Atlas:
        return dataclasses.replace(self, source=source)

    def on_finer_grid(self, spacing: float) -> Atlas:
        """This atlas on a grid of ``spacing`` over the same box, resampled from its source (image
        trilinearly, labels by one-hot interpolation and argmax), without a source of its own."""
        from ltnet.prepare import normalize_intensity
        from ltnet.refine import finer_grid

        if self.source is None:
            raise LtnetError("the atlas holds no full-resolution source: it cannot go onto a finer grid")
        affine, shape = finer_grid(self.affine, self.shape, spacing)
        src = self.source
        image = normalize_intensity(resample(src.image, src.affine, affine, shape))
        labels = resample_labels(src.labels, src.affine, affine, shape)
        return Atlas.from_arrays(image, labels, affine, self.brain_ml, self.signal_ratio, self.name)

    def image_tensor(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """(1, 1, D, H, W) float32."""
        return torch.from_numpy(self.image)[None, None].to(device)

    def one_hot(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """(1, L, D, H, W) float32, background in channel 0."""
        return label_one_hot(torch.from_numpy(self.labels).to(device), self.label_ids)[None]

    def to_state(self) -> dict[str, Any]:
        """Plain tensors and lists, for a ``weights_only`` checkpoint."""
        return {
            **_grid_state(self.image, self.labels, self.affine),
            "label_ids": list(self.label_ids),
            "brain_ml": self.brain_ml,
            "signal_ratio": self.signal_ratio,
            **({"source": self.source.to_state()} if self.source is not None else {}),
            "name": self.name,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Atlas:
        return cls(
            *_grid_arrays(state),
            tuple(int(i) for i in state["label_ids"]),
            float(state.get("brain_ml", math.nan)),
            float(state.get("signal_ratio", math.nan)),
            AtlasSource.from_state(state["source"]) if "source" in state else None,
            str(state.get("name", "")),
        )


def label_one_hot(labels: torch.Tensor, label_ids: Sequence[int]) -> torch.Tensor:
    """(D, H, W) integer ids -> (L, D, H, W) float32 one-hot over ``label_ids`` (0 first).

    Ids not in ``label_ids`` count as background.
    """
    ids = torch.as_tensor(list(label_ids), device=labels.device)
    lut_size = int(max(int(ids.max()), int(labels.max()))) + 1
    lut = torch.zeros(lut_size, dtype=torch.long, device=labels.device)
    lut[ids] = torch.arange(len(ids), device=labels.device)
    index = lut[labels.long().clamp(min=0)]
    out = torch.zeros((len(ids), *labels.shape), dtype=torch.float32, device=labels.device)
    out.scatter_(0, index[None], 1.0)
    return out


def read_atlas_files(image_path: str | os.PathLike, labels_path: str | os.PathLike) -> tuple[Volume, Volume]:
    """An atlas image and its label map, checked: one grid, and some labels."""
    img = load_image(image_path)
    seg = load_labels(labels_path)
    if seg.shape != img.shape:
        raise LtnetError(
            f"{labels_path}: label map grid {seg.shape} differs from the atlas image {img.shape}"
        )
    if not np.allclose(seg.affine, img.affine, atol=1e-3):
        raise LtnetError(f"{labels_path}: label map affine differs from the atlas image's ({image_path})")
    if not (seg.data > 0).any():
        raise LtnetError(f"{labels_path}: label map holds no labels (all background)")
    return img, seg


def load_atlas(
    image_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    prep: PrepConfig | None = None,
    name: str | None = None,
) -> Atlas:
    """Read an atlas image and its label map (one grid) and bring them onto the working grid.
    ``name``: the atlas's subject name (default: from its file)."""
    from ltnet.io import subject_names

    img, seg = read_atlas_files(image_path, labels_path)
    return _atlas_of(img, seg, prep or PrepConfig(prealigned=True), name or subject_names([image_path])[0])


def _brain_ml(seg: Volume) -> float:
    return float((seg.data > 0).sum()) * float(np.prod(seg.spacing)) / 1000.0


def _atlas_of(img: Volume, seg: Volume, prep: PrepConfig, name: str) -> Atlas:
    """:func:`load_atlas` on files already read."""
    brain_ml = _brain_ml(seg)
    image, labels, affine = prepare_atlas_arrays(img, seg, prep)
    atlas = Atlas.from_arrays(image, labels, affine, brain_ml, signal_ml(img) / brain_ml, name)
    if prep.prealigned:  # the atlas's own grid is the working grid: nothing finer to keep
        return atlas
    return atlas.with_source(AtlasSource.crop(img, seg, affine, labels.shape))


def load_atlas_onto(
    reference: Atlas,
    image_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    prep: PrepConfig,
    cache: PrepCache | None = None,
    name: str | None = None,
) -> Atlas:
    """Another labelled scan as an atlas on ``reference``'s working grid: its image aligned to the
    reference like any scan (ANTs affine, through ``cache``; with ``prep.prealigned`` it must lie
    on the grid already), its labels carried by the same map (one-hot interpolation), and its
    full-resolution source kept in the working grid's world for finer grids."""
    from ltnet.io import subject_names

    img, seg = read_atlas_files(image_path, labels_path)
    return _atlas_onto(reference, img, seg, prep, cache, name or subject_names([image_path])[0])


def _atlas_onto(
    reference: Atlas, img: Volume, seg: Volume, prep: PrepConfig, cache: PrepCache | None, name: str
) -> Atlas:
    """:func:`load_atlas_onto` on files already read."""
    prepared = to_working_grid(img, reference.image, reference.labels, reference.affine, prep, cache)
    labels = resample_labels(seg.data, seg.affine, reference.affine, reference.shape, prepared.transform)
    atlas = Atlas.from_arrays(prepared.image, labels, reference.affine, _brain_ml(seg), math.nan, name)
    if not (atlas.labels > 0).any():
        raise LtnetError(f"{seg.path}: no label of this atlas lands in the working box")
    if prep.prealigned:
        return atlas
    back = np.linalg.inv(prepared.transform)  # the scan's world -> the working grid's
    return atlas.with_source(AtlasSource.crop(img, seg, reference.affine, reference.shape, back))


def load_atlases(
    image_paths: Sequence[str | os.PathLike],
    labels_paths: Sequence[str | os.PathLike],
    prep: PrepConfig,
    cache: PrepCache | None = None,
    reference: Atlas | None = None,
    progress: bool = False,
) -> tuple[Atlas, ...]:
    """Several atlases on one working grid, labels paired with images by subject name.

    The grid is ``reference``'s (a trained model's atlas) or else the first atlas's own. An atlas
    whose label map on the grid equals the reference's is the reference itself (kept, with its
    source taken from the files when it has none). The others are aligned onto it
    (:func:`load_atlas_onto`). Each file is read once."""
    items = pair_atlas_files(image_paths, labels_paths)
    if progress and len(items) > 1 and not prep.prealigned:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="atlases", unit="atlas", dynamic_ncols=True)
    out: list[Atlas] = []
    for name, img_path, lab_path in items:
        img, seg = read_atlas_files(img_path, lab_path)
        if reference is None:
            reference = _atlas_of(img, seg, prep, name)
            out.append(reference)
            continue
        _, own_labels, own_affine = prepare_atlas_arrays(img, seg, prep)  # its own grid, no source
        if own_labels.shape == reference.shape and np.array_equal(own_labels, reference.labels):
            if reference.source is None and not prep.prealigned:
                reference = reference.with_source(AtlasSource.crop(img, seg, own_affine, own_labels.shape))
            out.append(dataclasses.replace(reference, name=name))
        else:
            out.append(_atlas_onto(reference, img, seg, prep, cache, name))
    return tuple(out)


def pair_atlas_files(
    image_paths: Sequence[str | os.PathLike], labels_paths: Sequence[str | os.PathLike]
) -> list[tuple[str, Path, Path]]:
    """(subject name, image, label map) for each atlas, in the images' order: paired by subject
    name (like images and masks); one image and one label map pair as they are."""
    from ltnet.io import subject_names

    images, labels = [Path(p) for p in image_paths], [Path(p) for p in labels_paths]
    if not images:
        raise LtnetError("--atlas: no atlas image given")
    names = subject_names(images)
    if len(images) == 1 and len(labels) == 1:
        return [(names[0], images[0], labels[0])]
    by_name = dict(zip(subject_names(labels), labels, strict=True))
    for name, img in zip(names, images, strict=True):
        if name not in by_name:
            raise LtnetError(f"{img}: no label map with the subject name {name!r} among --atlas-labels")
    extra = sorted(set(by_name) - set(names))
    if extra:
        raise LtnetError(f"{by_name[extra[0]]}: a label map without an atlas image among --atlas")
    return [(n, img, by_name[n]) for n, img in zip(names, images, strict=True)]


def with_source_from_files(
    atlas: Atlas, image_path: str | os.PathLike, labels_path: str | os.PathLike, prep: PrepConfig
) -> Atlas:
    """A model's atlas given its full-resolution source from the atlas files, for a model trained
    before checkpoints kept it; refused when the atlas has one, or the files are not this atlas
    (their label map on the working grid differs)."""
    if atlas.source is not None:
        raise LtnetError(
            "--atlas: the model holds its atlas at full resolution; it acts only with --affine-only"
        )
    full = load_atlas(image_path, labels_path, prep)
    if full.shape != atlas.shape or not np.array_equal(full.labels, atlas.labels):
        raise LtnetError(f"{image_path}: not the model's atlas (its label map on the working grid differs)")
    return atlas.with_source(full.source)


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Global normalised cross-correlation of two arrays of one shape."""
    a = a.astype(np.float64).ravel() - a.mean()
    b = b.astype(np.float64).ravel() - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def select_atlas(
    paths: Sequence[str | os.PathLike],
    spacing: float = 2.0,
    cache: PrepCache | None = None,
    progress: bool = False,
) -> tuple[Path, dict[Path, float]]:
    """The image most similar (global NCC) to the average of all of them (SPEC, 'Atlas choice').

    Images on one grid are compared as they are; otherwise each is aligned affinely to the first
    (on a RAS box of ``spacing`` around its head) before the average is taken. Returns the chosen
    path and every image's NCC.
    """
    if len(paths) < 2:
        raise LtnetError("select-atlas needs at least two images")
    vols = [load_image(p) for p in paths]
    ref = vols[0]
    same_grid = all(v.shape == ref.shape and np.allclose(v.affine, ref.affine, atol=1e-2) for v in vols)
    if same_grid:
        images = [normalize_intensity(v.data) for v in vols]
    else:
        head = Volume((normalize_intensity(ref.data) > 0.1).astype(np.int32), ref.image, ref.path)
        affine, shape = working_grid(head, spacing, DEFAULT_BOX_MM)
        fixed = normalize_intensity(resample(ref.data, ref.affine, affine, shape))
        fg = resample(head.data, ref.affine, affine, shape, order=0) > 0
        it = vols
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(vols, desc="align", unit="scan", dynamic_ncols=True)
        images = [prepare_scan(v, fixed, fg, affine, cache=cache).image for v in it]
    mean = np.mean(images, axis=0)
    scores = {Path(p): ncc(im, mean) for p, im in zip(paths, images, strict=True)}
    best = max(scores, key=scores.__getitem__)
    return best, scores
