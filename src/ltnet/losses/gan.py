"""L_GAN: least-squares GAN (SPEC: standard LSGAN, as in CycleGAN). Means over patches."""

from __future__ import annotations

import torch


def lsgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """``mean (D(y_bar) - 1)^2``; floor 0 when the discriminator scores every fake patch 1."""
    return ((fake_scores.float() - 1.0) ** 2).mean()


def lsgan_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``mean (D(y) - 1)^2 + mean D(y_bar)^2``; floor 0 for a perfect discriminator."""
    return ((real_scores.float() - 1.0) ** 2).mean() + (fake_scores.float() ** 2).mean()
