"""L_anat (anatomy cycle consistency) and L_diff (anatomy difference consistency).

Label maps are one-hot (B, L, D, H, W) with background in channel 0, warped trilinearly;
background is excluded from both losses.
"""

from __future__ import annotations

import torch
from monai.losses import DiceLoss

from ltnet.losses.charbonnier import residual_penalty

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


def anatomy_difference_loss(
    x_s: torch.Tensor, y_bar_s: torch.Tensor, x_bar_s: torch.Tensor, penalty: str = "charbonnier"
) -> torch.Tensor:
    """``mean rho(|x_s - y_bar_s| - |y_bar_s - x_bar_s|)`` over structure channels; floor ``rho(0)``.

    rho: the generalised Charbonnier, or the square with ``penalty="l2"`` (floor 0). At its floor
    whenever ``x_bar_s == x_s``: perturb the reconstruction to see it rise.
    """
    rho = residual_penalty(penalty)
    _check(x_s, y_bar_s, x_bar_s)
    # Most entries sit inside one structure in all three maps, where the argument is exactly 0:
    # they add rho(0) and no gradient (rho'(0) = 0), so rho is evaluated on the others only.
    # Channels last, the maps flatten without a copy (ltnet's warped maps are laid out so).
    a, b, c = (m.float().movedim(1, -1).reshape(-1) for m in (x_s, y_bar_s, x_bar_s))
    active = (a != b) | (b != c)
    active.view(-1, x_s.shape[1])[:, 0] = False  # background is left out
    at = active.nonzero().squeeze(1)
    b_at = b.index_select(0, at)
    z = (a.index_select(0, at) - b_at).abs() - (b_at - c.index_select(0, at)).abs()
    count = active.numel() // x_s.shape[1] * (x_s.shape[1] - 1)  # entries of the structure channels
    return (rho(z.float()).sum() + (count - z.numel()) * rho(z.new_zeros((), dtype=torch.float32))) / count
