"""L_anat (anatomy cycle consistency) and L_diff (anatomy difference consistency).

Label maps are one-hot (B, L, D, H, W) with background in channel 0, warped trilinearly;
background is excluded from both losses.
"""

from __future__ import annotations

import torch
from monai.losses import DiceLoss

from ltnet.losses.charbonnier import charbonnier

# 1 - 2 sum(a b) / (sum a^2 + sum b^2), per structure channel, then averaged (paper eq. 9)
_dice = DiceLoss(include_background=False, squared_pred=True, reduction="mean")


def _check(*maps: torch.Tensor) -> None:
    shape = maps[0].shape
    if maps[0].ndim != 5 or shape[1] < 2 or any(m.shape != shape for m in maps):
        raise ValueError(
            "expected one-hot label maps (B, L, D, H, W) of one shape with L >= 2 (background first), got "
            + ", ".join(str(tuple(m.shape)) for m in maps)
        )


def anatomy_cycle_loss(x_s: torch.Tensor, x_bar_s: torch.Tensor) -> torch.Tensor:
    """Squared-denominator Dice loss between the atlas labels and their reconstruction; floor 0."""
    _check(x_s, x_bar_s)
    return _dice(x_bar_s.float(), x_s.float())


def anatomy_difference_loss(x_s: torch.Tensor, y_bar_s: torch.Tensor, x_bar_s: torch.Tensor) -> torch.Tensor:
    """``mean rho(|x_s - y_bar_s| - |y_bar_s - x_bar_s|)`` over structure channels; floor ``rho(0)``.

    At its floor whenever ``x_bar_s == x_s``: perturb the reconstruction to see it rise.
    """
    _check(x_s, y_bar_s, x_bar_s)
    x_s, y_bar_s, x_bar_s = x_s[:, 1:].float(), y_bar_s[:, 1:].float(), x_bar_s[:, 1:].float()
    # Most entries sit inside one structure in all three maps, where the argument is exactly 0:
    # they add rho(0) and no gradient (rho'(0) = 0), so rho is evaluated on the others only.
    active = (x_s != y_bar_s) | (y_bar_s != x_bar_s)
    b = y_bar_s[active]
    z = (x_s[active] - b).abs() - (b - x_bar_s[active]).abs()
    rest = active.numel() - z.numel()
    return (charbonnier(z).sum() + rest * charbonnier(z.new_zeros(()))) / active.numel()
