"""L_cyc (image cycle) and L_trans (transformation consistency)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ltnet.losses.charbonnier import residual_penalty

Warp = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def image_cycle_loss(x_bar: torch.Tensor, x: torch.Tensor, penalty: str = "charbonnier") -> torch.Tensor:
    """``mean |x_bar - x|`` over (B, 1, D, H, W) (the paper's L1); ``penalty="l2"``: the mean square.

    Floor 0."""
    if x_bar.shape != x.shape:
        raise ValueError(f"expected two images of one shape, got {tuple(x_bar.shape)}, {tuple(x.shape)}")
    r = x_bar.float() - x.float()
    # the paper's L_cyc is L1; the same switch that squares L_trans squares it
    return r.square().mean() if residual_penalty(penalty) is torch.square else r.abs().mean()


def compose(dp_f: torch.Tensor, dp_b: torch.Tensor, warp: Warp) -> torch.Tensor:
    """``dp_f(t) + dp_b(t + dp_f(t))``: where t lands after the forward then the backward map,
    minus t. Zero for mutually inverse maps. Fields (B, 3, D, H, W) in voxels."""
    return dp_f + warp(dp_b, dp_f)


def transformation_consistency_loss(
    dp_f: torch.Tensor, dp_b: torch.Tensor, warp: Warp, penalty: str = "charbonnier"
) -> torch.Tensor:
    """``mean rho(dp_f(t) + dp_b(t + dp_f(t)))``, per component, in voxels; floor ``rho(0)``.

    rho is the generalised Charbonnier (the paper's), or with ``penalty="l2"`` the square (floor 0),
    whose pull vanishes on small residuals instead of growing like an L1 norm's."""
    return residual_penalty(penalty)(compose(dp_f, dp_b, warp).float()).mean()
