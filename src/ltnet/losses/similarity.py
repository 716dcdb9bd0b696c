"""L_sim: ``-LNCC(y, y_bar)``, MONAI's squared local normalised cross-correlation, window 9."""

from __future__ import annotations

import functools

import torch
from monai.losses import LocalNormalizedCrossCorrelationLoss


@functools.lru_cache(maxsize=8)
def _lncc(kernel_size: int) -> LocalNormalizedCrossCorrelationLoss:
    return LocalNormalizedCrossCorrelationLoss(
        spatial_dims=3, kernel_size=kernel_size, kernel_type="rectangular"
    )


def lncc_loss(a: torch.Tensor, b: torch.Tensor, kernel_size: int = 9) -> torch.Tensor:
    """Negative mean squared LNCC of two images (B, 1, D, H, W) with a cubic window.

    Floor -1, at identical images with texture in every window. Computed in float32 with autocast
    off: the window sums of x^2 minus the squared mean cancel, and in bf16 the variance of a flat
    window (the background) comes out a little below zero, so the ratio blows up to -1e7 (seen on
    CUDA, where training then chased it).
    """
    if a.shape != b.shape or a.ndim != 5:
        raise ValueError(
            f"expected two images (B, C, D, H, W) of one shape, got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    with torch.autocast(device_type=a.device.type, enabled=False):
        return _lncc(kernel_size)(a.float(), b.float())
