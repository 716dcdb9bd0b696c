"""Warping by a displacement field: ``(m o dp)(t) = m(t + dp(t))`` (SPEC, 'Notation').

A thin wrapper over MONAI's ``Warp`` (displacements in voxels, channel i along spatial axis i,
``align_corners=True``), which caches its identity grid.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn as nn
from monai.networks.blocks import Warp


class SpatialTransformer(nn.Module):
    """``forward(image, dp)``: image (B, C, D, H, W) sampled at ``t + dp(t)``, dp (B, 3, D, H, W).

    ``mode`` is ``"bilinear"`` (trilinear in 3D) or ``"nearest"``; outside the volume the border
    value is repeated.
    """

    def __init__(self, mode: str = "bilinear") -> None:
        super().__init__()
        with warnings.catch_warnings():
            # MONAI warns that it falls back to torch's grid_sample, which is what we want
            warnings.simplefilter("ignore")
            self.warp = Warp(mode=mode, padding_mode="border")

    def forward(self, image: torch.Tensor, dp: torch.Tensor) -> torch.Tensor:
        if (
            dp.ndim != 5
            or dp.shape[1] != 3
            or dp.shape[0] != image.shape[0]
            or dp.shape[2:] != image.shape[2:]
        ):
            raise ValueError(
                f"expected image (B, C, D, H, W) and field (B, 3, D, H, W) on one grid, got "
                f"{tuple(image.shape)} and {tuple(dp.shape)}"
            )
        if image.dtype != dp.dtype:  # autocast can leave them apart; grid_sample wants one dtype
            image, dp = image.float(), dp.float()
        # MONAI caches the identity grid per shape but not per device
        grid = self.warp.ref_grid
        if grid is not None and grid.device != dp.device:
            self.warp.ref_grid = None
        return self.warp(image, dp)
