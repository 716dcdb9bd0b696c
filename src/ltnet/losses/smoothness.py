"""L_smooth: mean squared forward differences of a displacement field (paper eq. 14)."""

from __future__ import annotations

import torch


def gradient_loss(dp: torch.Tensor) -> torch.Tensor:
    """Mean over the 3 axes of the mean squared forward difference of ``dp`` (B, 3, D, H, W).

    Floor 0, at a constant field. In (voxels)^2.
    """
    if dp.ndim != 5:
        raise ValueError(f"expected a field (B, 3, D, H, W), got {tuple(dp.shape)}")
    dp = dp.float()
    dz = dp[:, :, 1:] - dp[:, :, :-1]
    dy = dp[:, :, :, 1:] - dp[:, :, :, :-1]
    dx = dp[..., 1:] - dp[..., :-1]
    return ((dz**2).mean() + (dy**2).mean() + (dx**2).mean()) / 3.0
