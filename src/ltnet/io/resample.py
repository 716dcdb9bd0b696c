"""Resampling between grids through affine maps, with torch's grid_sample.

Everything is expressed as *source voxel coordinates* for each destination voxel, (3, X, Y, Z):
images are sampled there trilinearly, label maps by one-hot trilinear interpolation and argmax
(which cannot blur ids), or by nearest neighbour.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ltnet.trilinear import LabelGrid, trilinear_argmax


def box_affine(spacing: float, shape: tuple[int, int, int], center_mm: Sequence[float]) -> np.ndarray:
    """A RAS-oriented grid of isotropic ``spacing`` whose centre lies at ``center_mm``."""
    a = np.diag([spacing, spacing, spacing, 1.0])
    a[:3, 3] = np.asarray(center_mm, float) - spacing * (np.asarray(shape) - 1) / 2
    return a


def native_order(a: np.ndarray) -> np.ndarray:
    """``a`` in the machine's byte order (MGZ files are big-endian; torch takes native order only)."""
    a = np.asarray(a)
    return np.ascontiguousarray(a.astype(a.dtype.newbyteorder("="), copy=False))


def apply_affine(m: np.ndarray, points: torch.Tensor) -> torch.Tensor:
    """A 4 x 4 map applied to points (3, ...); returns (3, ...) in ``points``' dtype and device."""
    mat = torch.as_tensor(m, dtype=points.dtype, device=points.device)
    return torch.einsum("rc,c...->r...", mat[:3, :3], points) + mat[:3, 3].view(3, *[1] * (points.ndim - 1))


def grid_coords(
    dst_affine: np.ndarray,
    dst_shape: Sequence[int],
    src_affine: np.ndarray,
    world_to_src_world: np.ndarray | None = None,
) -> torch.Tensor:
    """Source voxel coordinates (3, X, Y, Z) float32 of every destination voxel.

    Destination voxel v lies at world point ``dst_affine @ v``; ``world_to_src_world`` (default
    identity) carries it into the source's world, where ``inv(src_affine)`` gives the voxel.
    """
    w2s = np.eye(4) if world_to_src_world is None else world_to_src_world
    m = np.linalg.inv(src_affine) @ w2s @ dst_affine
    # an affine map of a regular grid is a sum of three 1D ramps: no meshgrid of every voxel needed
    ramps = [torch.arange(int(n), dtype=torch.float64) for n in dst_shape]
    out = torch.empty((3, *(int(n) for n in dst_shape)), dtype=torch.float32)
    for r in range(3):
        out[r] = (
            (m[r, 0] * ramps[0] + m[r, 3])[:, None, None]
            + (m[r, 1] * ramps[1])[None, :, None]
            + (m[r, 2] * ramps[2])[None, None, :]
        )
    return out


def sample_at(volume: torch.Tensor, coords: torch.Tensor, mode: str = "bilinear", padding: str = "zeros"):
    """Sample ``volume`` (1, C, X, Y, Z) at voxel ``coords`` (3, *out): returns (1, C, *out)."""
    size = torch.tensor(volume.shape[2:], dtype=coords.dtype, device=coords.device)
    norm = coords.movedim(0, -1) * (2 / (size - 1).clamp(min=1)) - 1
    # grid_sample wants (x, y, z) = (W, H, D) order, with -1 and 1 at the first and last voxel centres
    grid = norm.flip(-1)[None].to(volume.dtype)
    threads = torch.get_num_threads()
    points = grid[0, ..., 0].numel()
    if volume.device.type != "cpu" or threads < 2 or grid.shape[1] < 2 * threads or points < 1 << 20:
        return F.grid_sample(volume, grid, mode=mode, padding_mode=padding, align_corners=True)
    # torch's 3D grid_sample runs one batch item per thread, so one big volume uses one core:
    # split the points along the first output axis and sample the slabs side by side
    from concurrent.futures import ThreadPoolExecutor

    slabs = grid.chunk(threads, dim=1)
    with ThreadPoolExecutor(threads) as pool:
        parts = pool.map(
            lambda g: F.grid_sample(volume, g, mode=mode, padding_mode=padding, align_corners=True), slabs
        )
        return torch.cat(list(parts), dim=2)


def sample_labels(
    labels: torch.Tensor,
    label_ids: Sequence[int],
    coords: torch.Tensor,
    interp: str = "linear",
    chunk: int = 1 << 21,
    grid: LabelGrid | None = None,
) -> torch.Tensor:
    """Label ids (*out) of ``labels`` (X, Y, Z) read at voxel ``coords`` (3, *out).

    ``linear``: the label whose one-hot channel interpolates highest, i.e. the label with the
    largest summed trilinear weight over the 8 corners (see :mod:`ltnet.trilinear`), ``chunk``
    points at a time. ``nearest``: the id map is read at the nearest voxel. Outside: background (0).
    Ids not in ``label_ids`` read as background. ``grid``: ``LabelGrid.of(labels)`` built
    beforehand, when ``labels`` holds ``label_ids`` only (an atlas reused scan after scan).
    """
    if interp not in ("linear", "nearest"):
        raise ValueError(f"unknown interpolation {interp!r}: expected 'linear' or 'nearest'")
    labels = labels.to(coords.device)
    if grid is None:
        known = torch.as_tensor(list(label_ids), dtype=labels.dtype, device=labels.device)
        labels = torch.where(torch.isin(labels, known), labels, torch.zeros_like(labels))
    if interp == "nearest":
        # float64 keeps every int32 id exact
        out = sample_at(labels[None, None].double(), coords.double(), mode="nearest")
        return out[0, 0].round().to(torch.int64)
    points = coords.reshape(3, -1)
    grid = LabelGrid.of(labels) if grid is None else grid.to(coords.device)
    out = torch.empty(points.shape[1], dtype=torch.int64, device=coords.device)
    for start in range(0, points.shape[1], chunk):
        out[start : start + chunk] = trilinear_argmax(grid, points[:, start : start + chunk])
    return out.view(coords.shape[1:])


def resample(
    data: np.ndarray,
    src_affine: np.ndarray,
    dst_affine: np.ndarray,
    dst_shape: Sequence[int],
    world_to_src_world: np.ndarray | None = None,
    order: int = 1,
) -> np.ndarray:
    """Resample ``data`` (X, Y, Z) onto a destination grid (see :func:`grid_coords`).

    ``order`` 1: trilinear for images (float32 out); 0: nearest neighbour, which keeps integer
    ids exact (their dtype out). Outside the source: 0.
    """
    coords = grid_coords(dst_affine, dst_shape, src_affine, world_to_src_world)
    src = torch.from_numpy(native_order(data))
    mode = "nearest" if order == 0 else "bilinear"
    if torch.is_floating_point(src):
        return sample_at(src[None, None].float(), coords, mode=mode)[0, 0].numpy()
    # float64 keeps every int32 id exact
    out = sample_at(src[None, None].double(), coords.double(), mode=mode)
    return out[0, 0].round().numpy().astype(data.dtype)


def resample_labels(
    labels: np.ndarray,
    src_affine: np.ndarray,
    dst_affine: np.ndarray,
    dst_shape: Sequence[int],
    world_to_src_world: np.ndarray | None = None,
) -> np.ndarray:
    """Resample an id map (X, Y, Z) by one-hot trilinear interpolation and argmax (int32 out)."""
    coords = grid_coords(dst_affine, dst_shape, src_affine, world_to_src_world)
    lab = torch.from_numpy(native_order(labels).astype(np.int32))
    ids = [0, *(int(i) for i in np.unique(labels) if i != 0)]
    return sample_labels(lab, ids, coords).numpy().astype(np.int32)


def covering_region(
    native_to_working: np.ndarray, working_shape: Sequence[int], native_shape: Sequence[int]
) -> tuple[slice, slice, slice] | None:
    """The voxels of a grid of ``native_shape`` whose coordinates on a working grid of
    ``working_shape`` (through ``native_to_working``, a 4 x 4 voxel map) may lie within (-1, n):
    the bounding box of the working box's corners mapped back, clipped; None if empty."""
    corners = np.array(
        [
            [x, y, z, 1.0]
            for x in (-1, working_shape[0])
            for y in (-1, working_shape[1])
            for z in (-1, working_shape[2])
        ]
    )
    back = (np.linalg.inv(native_to_working) @ corners.T)[:3]
    lo = np.maximum(np.floor(back.min(1)).astype(int), 0)
    hi = np.minimum(np.ceil(back.max(1)).astype(int) + 1, np.asarray(native_shape))
    if (hi <= lo).any():
        return None
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
