"""Warping by a displacement field: ``(m o dp)(t) = m(t + dp(t))`` (SPEC, 'Notation').

A thin wrapper over MONAI's ``Warp`` (displacements in voxels, channel i along spatial axis i,
``align_corners=True``), which caches its identity grid.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
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


def slab_warp(image: torch.Tensor, dp: torch.Tensor, slabs: int | None = None) -> torch.Tensor:
    """:class:`SpatialTransformer`'s trilinear warp (border padding) of one image (1, C, D, H, W) by
    dp (1, 3, D, H, W), with the output cut into ``slabs`` along D and sampled as a batch: torch's
    3D grid_sample on the CPU parallelises over the batch only, so one large volume runs on one
    core. Default ``slabs``: torch's CPU threads, 1 on other devices. 2.5 times faster forward and
    backward at 160 x 192 x 160 on 2 cores, measured side by side."""
    if image.ndim != 5 or dp.ndim != 5 or image.shape[0] != 1 or dp.shape[:2] != (1, 3):
        raise ValueError(
            f"expected image (1, C, D, H, W) and dp (1, 3, D, H, W), got {tuple(image.shape)}, "
            f"{tuple(dp.shape)}"
        )
    if dp.shape[2:] != image.shape[2:]:
        raise ValueError(f"image {tuple(image.shape)} and field {tuple(dp.shape)} are not on one grid")
    if slabs is None:
        slabs = torch.get_num_threads() if dp.device.type == "cpu" else 1
    slabs = max(1, min(slabs, dp.shape[2]))
    while dp.shape[2] % slabs:  # equal slabs, to stack them as a batch
        slabs -= 1
    size = dp.shape[2:]
    ramps = [torch.arange(n, dtype=dp.dtype, device=dp.device) * (2 / max(n - 1, 1)) - 1 for n in size]
    scale = torch.tensor([2 / max(n - 1, 1) for n in size], dtype=dp.dtype, device=dp.device)
    ident = torch.stack(torch.meshgrid(*ramps, indexing="ij"), -1)  # (D, H, W, 3), align_corners
    grid = (ident + dp[0].movedim(0, -1) * scale).flip(-1)[None]  # grid_sample wants (x, y, z) = (W, H, D)
    parts = torch.cat(grid.chunk(slabs, dim=1), 0)
    out = F.grid_sample(
        image.to(dp.dtype).expand(parts.shape[0], -1, -1, -1, -1),
        parts,
        mode="bilinear",
        padding_mode="border",
        align_corners=True,
    )
    return torch.cat(out.chunk(parts.shape[0], 0), 2)
