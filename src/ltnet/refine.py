"""Refinement at a finer grid (issue 31): the field, carried from the working grid to a finer grid
over the same box and optimised there on its (atlas, scan) pair before the labels are transferred.

The atlas on the finer grid is resampled from its full-resolution source (:class:`AtlasSource`,
kept in the checkpoint), the scan from its own file through its preparation's affine; the field
is carried up by trilinear interpolation and scaled to the finer voxels. Adam then minimises
``L_sim + lambda_reg L_smooth`` over the field (instance optimisation, as :mod:`ltnet.adapt` does
on the working grid); :func:`optimise_field` says how its steps are made fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ltnet import losses
from ltnet.io.resample import box_affine, grid_coords, sample_at
from ltnet.nn import slab_warp


def finer_grid(
    affine: np.ndarray, shape: Sequence[int], spacing: float
) -> tuple[np.ndarray, tuple[int, ...]]:
    """(affine, shape) of a RAS grid of isotropic ``spacing`` over the box of the RAS grid
    (``affine``, ``shape``): the same centre and extent, rounded to whole voxels."""
    old = float(np.linalg.norm(affine[:3, 0]))
    if not spacing > 0:
        raise ValueError(f"spacing must be positive, got {spacing}")
    new_shape = tuple(max(1, round(int(n) * old / spacing)) for n in shape)
    centre = affine @ np.r_[(np.asarray(shape, float) - 1) / 2, 1.0]
    return box_affine(spacing, new_shape, centre[:3]), new_shape  # type: ignore[arg-type]


def carry_field(
    dp: torch.Tensor, src_affine: np.ndarray, dst_affine: np.ndarray, dst_shape: Sequence[int]
) -> torch.Tensor:
    """A displacement field (1, 3, D, H, W) in voxels of a RAS grid, on another RAS grid of the same
    orientation: sampled trilinearly at the destination voxels (edge values beyond the source) and
    rescaled to the destination's voxel size; (1, 3, *dst_shape)."""
    scale = float(np.linalg.norm(src_affine[:3, 0]) / np.linalg.norm(dst_affine[:3, 0]))
    coords = grid_coords(dst_affine, dst_shape, src_affine).to(dp.device)
    return sample_at(dp.float(), coords, padding="border") * scale


@dataclass(frozen=True)
class FieldFit:
    """An optimised field (1, 3, D, H, W), detached, and the pair loss before and after."""

    dp: torch.Tensor
    loss_before: float
    loss_after: float


def optimise_field(
    x: torch.Tensor,
    y: torch.Tensor,
    dp0: torch.Tensor,
    steps: int,
    lr: float,
    lncc_kernel: int = 9,
    lambda_reg: float = 3.0,
) -> FieldFit:
    """Adam on the field itself: ``L_sim(y, x o dp) + lambda_reg L_smooth(dp)`` for ``steps`` steps
    from ``dp0``. x (atlas), y (scan): (1, 1, D, H, W); dp0 (1, 3, D, H, W) voxels.

    L_sim is MONAI's LNCC computed with the scan's window sums kept from step to step
    (:class:`ltnet.losses.FixedImageLNCC`), the warp :func:`ltnet.nn.slab_warp`: the same values
    as :func:`ltnet.losses.lncc_loss` and :class:`ltnet.nn.SpatialTransformer` to float rounding,
    at about 1.6 times the speed of a step on a 1 mm grid on 2 cores."""
    if steps < 0:
        raise ValueError(f"steps must be 0 or more, got {steps}")
    if not lr > 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    if x.shape != y.shape or dp0.shape[2:] != x.shape[2:]:
        raise ValueError(
            f"expected x, y (1, 1, D, H, W) and dp0 (1, 3, D, H, W) on one grid, got "
            f"{tuple(x.shape)}, {tuple(y.shape)}, {tuple(dp0.shape)}"
        )
    similarity = losses.FixedImageLNCC(y, lncc_kernel)

    def loss(dp: torch.Tensor) -> torch.Tensor:
        return similarity(slab_warp(x, dp)) + lambda_reg * losses.gradient_loss(dp)

    with torch.no_grad():
        dp0 = dp0.float().clone()  # a clone: an inference-mode tensor cannot start an autograd graph
        before = float(loss(dp0))
    if steps == 0:
        return FieldFit(dp0, before, before)
    with torch.enable_grad():
        dp = torch.nn.Parameter(dp0)
        opt = torch.optim.Adam([dp], lr=lr)
        for _ in range(steps):
            value = loss(dp)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
    with torch.no_grad():
        return FieldFit(dp.detach(), before, float(loss(dp)))
