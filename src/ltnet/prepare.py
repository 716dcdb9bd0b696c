"""Preparation (SPEC: 'ltnet's choice' after VoxelMorph): each scan is affinely aligned to the
atlas and resampled onto the working grid; results are mapped back to each scan's own grid.

The working grid is RAS-oriented, of isotropic ``spacing``, a box of ``box_mm`` centred on the
atlas's labelled brain. A scan's preparation is a 4 x 4 world map T (working world -> the scan's
world, from ANTs) and the scan resampled through it, with intensities rescaled to [0, 1].
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ltnet.cache import PrepCache, array_digest, file_digest
from ltnet.config import PrepConfig
from ltnet.io.image import Volume
from ltnet.io.resample import box_affine, resample, resample_labels

PREP_VERSION = "1"
REGISTRATION_SPACING = 2.0  # affine registration never runs finer than this: it is the slow part


def normalize_intensity(data: np.ndarray, lower: float = 0.5, upper: float = 99.5) -> np.ndarray:
    """Robust rescaling to [0, 1]: the ``lower`` percentile of all voxels goes to 0 and the
    ``upper`` percentile of the voxels above it to 1, then clip. Zero background stays zero.

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


def working_grid(
    labels: Volume, spacing: float, box_mm: Sequence[float]
) -> tuple[np.ndarray, tuple[int, ...]]:
    """(affine, shape) of the RAS box of ``box_mm`` at ``spacing``, centred on the labelled voxels."""
    idx = np.argwhere(labels.data > 0)
    centre_vox = (idx.min(0) + idx.max(0)) / 2
    centre = labels.affine[:3, :3] @ centre_vox + labels.affine[:3, 3]
    shape = tuple(max(16, round(float(b) / spacing)) for b in box_mm)
    return box_affine(spacing, shape, centre), shape


def prepare_atlas_arrays(
    image: Volume, labels: Volume, cfg: PrepConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The atlas on its working grid: (image in [0, 1], label ids, affine)."""
    if cfg.prealigned:
        return normalize_intensity(image.data), labels.data, image.affine
    affine, shape = working_grid(labels, cfg.spacing, cfg.box_mm)
    img = resample(image.data, image.affine, affine, shape)
    lab = resample_labels(labels.data, labels.affine, affine, shape)
    return normalize_intensity(img), lab, affine


@dataclass(frozen=True)
class Prepared:
    """A scan on the working grid. image: (X, Y, Z) float32 in [0, 1]; transform: 4 x 4, working
    world -> the scan's world (mm, RAS)."""

    image: np.ndarray
    transform: np.ndarray


def scan_on_grid(
    data: np.ndarray, scan_affine: np.ndarray, transform: np.ndarray, affine: np.ndarray, shape: Sequence[int]
) -> np.ndarray:
    """A scan's voxels (X, Y, Z) resampled onto a grid of the atlas's world through its preparation
    ``transform`` (atlas world -> scan world) and rescaled to [0, 1], as the preparation does."""
    return normalize_intensity(resample(data, scan_affine, affine, shape, transform))


# Volume with signal over the atlas's labelled brain volume, measured on real scans (native space):
# skull-stripped 1.22-1.27 (FreeSurfer brainmask, bert), with skull 1.87-2.16 (T1.mgz, raw CANDI).
SKULL_RATIO = 1.6


def signal_ml(vol: Volume) -> float:
    """Millilitres of a scan holding signal (above 5 % of its 99th percentile), on its own grid.

    Measured before any registration, which would scale a stripped brain to fill a head.
    """
    d = vol.data
    positive = d[d > 0]
    if positive.size == 0:
        return 0.0
    threshold = 0.05 * float(np.percentile(positive, 99))
    return float((d > threshold).sum()) * float(np.prod(vol.spacing)) / 1000.0


def prepare_scan(
    vol: Volume,
    atlas_image: np.ndarray,
    atlas_labels: np.ndarray,
    atlas_affine: np.ndarray,
    cache: PrepCache | None = None,
    mask: Volume | None = None,
    seed: int = 0,
    transform: np.ndarray | None = None,
) -> Prepared:
    """Align a native scan to the atlas (ANTs affine) and resample it onto the working grid.

    ``transform`` (4 x 4, RAS mm, as a ``Prepared.transform`` from an earlier call) skips the
    registration and is cached under the same key, so that later calls reuse it: ANTs' affine
    differs slightly from run to run, and this pins a preparation that results are compared on."""
    from ltnet.registration import affine_register

    if transform is not None:
        transform = np.asarray(transform, np.float64)
        if transform.shape != (4, 4) or not np.isfinite(transform).all():
            raise ValueError(f"transform: expected a finite 4 x 4 matrix, got shape {transform.shape}")
    cache = cache or PrepCache(None)
    key = PrepCache.key(
        "scan",
        PREP_VERSION,
        file_digest(vol.path),
        array_digest(atlas_image, atlas_affine),
        file_digest(mask.path) if mask is not None else "-",
        str(seed),
    )
    hit = cache.get(key)
    if hit is not None and (transform is None or np.array_equal(hit["transform"], transform)):
        return Prepared(hit["image"], hit["transform"])
    data = vol.data
    if mask is not None:
        data = np.where(mask.data > 0, data, 0).astype(np.float32)
    # register on a grid no finer than REGISTRATION_SPACING: same box, fewer voxels
    spacing = float(np.linalg.norm(atlas_affine[:3, 0]))
    if spacing < REGISTRATION_SPACING:
        factor = REGISTRATION_SPACING / spacing
        shape = tuple(max(16, round(n / factor)) for n in atlas_image.shape)
        centre = atlas_affine @ np.r_[(np.asarray(atlas_image.shape) - 1) / 2, 1.0]
        reg_affine = box_affine(REGISTRATION_SPACING, shape, centre[:3])
        fixed = resample(atlas_image, atlas_affine, reg_affine, shape)
    else:
        fixed, reg_affine = atlas_image, atlas_affine
    if transform is None:
        transform = affine_register(fixed, reg_affine, normalize_intensity(data), vol.affine, seed=seed)
    image = scan_on_grid(data, vol.affine, transform, atlas_affine, atlas_image.shape)
    cache.put(key, {"image": image, "transform": transform})
    return Prepared(image, transform)


def warn_if_skull_differs(path: object, scan_ratio: float, atlas_ratio: float) -> None:
    """Warn when the atlas is skull-stripped and the scan clearly is not, or the reverse.

    Ratios are :func:`signal_ml` over the atlas's labelled brain volume.
    """
    if not (np.isfinite(scan_ratio) and np.isfinite(atlas_ratio)):
        return
    if atlas_ratio < SKULL_RATIO <= scan_ratio:
        warnings.warn(
            f"{path}: looks like it has skull (signal over {scan_ratio:.1f} x the atlas's brain volume) "
            "while the atlas is skull-stripped; labels will be poor: pass brain masks (--mask) or use "
            "an atlas with skull",
            stacklevel=2,
        )
    elif scan_ratio < SKULL_RATIO <= atlas_ratio:
        warnings.warn(
            f"{path}: looks skull-stripped (signal over {scan_ratio:.1f} x the atlas's brain volume) "
            "while the atlas has skull; use a skull-stripped atlas",
            stacklevel=2,
        )


def to_working_grid(
    vol: Volume,
    atlas_image: np.ndarray,
    atlas_labels: np.ndarray,
    atlas_affine: np.ndarray,
    prep: PrepConfig,
    cache: PrepCache | None = None,
    mask: Volume | None = None,
    skull: tuple[float, float] | None = None,
) -> Prepared:
    """One scan on the working grid, as ``train`` and ``segment`` both need it: prepared (aligned,
    resampled, cached), or with ``prep.prealigned`` checked to lie on the atlas grid already.

    ``skull`` is the atlas's (brain millilitres, signal ratio): with it, a warning fires when the
    scan and the atlas differ in skull stripping."""
    from ltnet.errors import LtnetError

    if prep.prealigned:
        if vol.shape != atlas_image.shape or not np.allclose(vol.affine, atlas_affine, atol=1e-2):
            raise LtnetError(
                f"{vol.path}: grid {vol.shape} differs from the atlas grid {atlas_image.shape}: prealigned "
                "inputs must lie on the atlas's grid (drop --prealigned to align them)"
            )
        data = vol.data if mask is None else np.where(mask.data > 0, vol.data, 0)
        out = Prepared(normalize_intensity(data), np.eye(4))
    else:
        out = prepare_scan(vol, atlas_image, atlas_labels, atlas_affine, cache=cache, mask=mask)
    if skull is not None and mask is None:
        brain_ml, atlas_ratio = skull
        warn_if_skull_differs(vol.path, signal_ml(vol) / brain_ml, atlas_ratio)
    return out
