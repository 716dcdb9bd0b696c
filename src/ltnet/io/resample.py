"""Resampling a volume onto another grid through an affine map, with torch's grid_sample."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def box_affine(
    spacing: float, shape: tuple[int, int, int], center_mm: tuple[float, float, float]
) -> np.ndarray:
    """A RAS-oriented grid of isotropic ``spacing`` whose centre voxel lies at ``center_mm``."""
    a = np.diag([spacing, spacing, spacing, 1.0])
    a[:3, 3] = np.asarray(center_mm) - spacing * (np.asarray(shape) - 1) / 2
    return a


def resample(
    data: np.ndarray,
    src_affine: np.ndarray,
    dst_affine: np.ndarray,
    dst_shape: tuple[int, int, int],
    world_to_src_world: np.ndarray | None = None,
    order: int = 1,
) -> np.ndarray:
    """Sample ``data`` (X, Y, Z) at the world points of a destination grid.

    A destination voxel v lies at ``dst_affine @ v``; ``world_to_src_world`` (4 x 4, default
    identity) maps that point into the source's world, where ``inv(src_affine)`` gives the source
    voxel. ``order`` 1 is trilinear (images), 0 nearest (label ids, kept exact). Outside: 0.
    """
    m = np.linalg.inv(src_affine) @ (world_to_src_world if world_to_src_world is not None else np.eye(4))
    m = m @ dst_affine  # destination voxel -> source voxel
    src = torch.from_numpy(np.ascontiguousarray(data))
    is_int = not torch.is_floating_point(src)
    vol = src.double() if is_int else src.float()
    idx = [torch.arange(n, dtype=torch.float64) for n in dst_shape]
    grid = torch.stack(torch.meshgrid(*idx, indexing="ij"), dim=-1)  # (X, Y, Z, 3) destination voxels
    pts = grid @ torch.from_numpy(m[:3, :3]).T + torch.from_numpy(m[:3, 3])
    # grid_sample with align_corners=True: -1 and 1 are the centres of the first and last voxels
    size = torch.tensor(data.shape, dtype=torch.float64)
    norm = (2 * pts / (size - 1) - 1).flip(-1)  # grid_sample wants (x, y, z) = (W, H, D) order
    out = F.grid_sample(
        vol[None, None],
        norm[None].to(vol.dtype),
        mode="nearest" if order == 0 else "bilinear",
        padding_mode="zeros",
        align_corners=True,
    )[0, 0]
    return out.round().to(src.dtype).numpy() if is_int else out.numpy().astype(np.float32)
