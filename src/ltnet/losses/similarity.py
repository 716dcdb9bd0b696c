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

    Floor -1, at identical images with texture in every window. Computed in float32.
    """
    if a.shape != b.shape or a.ndim != 5:
        raise ValueError(
            f"expected two images (B, C, D, H, W) of one shape, got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    return _lncc(kernel_size)(a.float(), b.float())
