"""L_cyc (image cycle) and L_trans (transformation consistency)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ltnet.losses.charbonnier import charbonnier

Warp = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def image_cycle_loss(x_bar: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``mean |x_bar - x|`` over (B, 1, D, H, W); floor 0."""
    if x_bar.shape != x.shape:
        raise ValueError(f"expected two images of one shape, got {tuple(x_bar.shape)}, {tuple(x.shape)}")
    return (x_bar.float() - x.float()).abs().mean()


def compose(dp_f: torch.Tensor, dp_b: torch.Tensor, warp: Warp) -> torch.Tensor:
    """``dp_f(t) + dp_b(t + dp_f(t))``: where t lands after the forward then the backward map,
    minus t. Zero for mutually inverse maps. Fields (B, 3, D, H, W) in voxels."""
    return dp_f + warp(dp_b, dp_f)


def transformation_consistency_loss(dp_f: torch.Tensor, dp_b: torch.Tensor, warp: Warp) -> torch.Tensor:
    """``mean rho(dp_f(t) + dp_b(t + dp_f(t)))``, per component; floor ``rho(0)``."""
    return charbonnier(compose(dp_f, dp_b, warp)).mean()
