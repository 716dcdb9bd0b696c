"""L_GAN: least-squares GAN (SPEC: standard LSGAN, as in CycleGAN). Means over patches."""

from __future__ import annotations

import torch


def lsgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """``mean (D(y_bar) - 1)^2``; floor 0 when the discriminator scores every fake patch 1."""
    return ((fake_scores.float() - 1.0) ** 2).mean()


def lsgan_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``mean (D(y) - 1)^2 + mean D(y_bar)^2``; floor 0 for a perfect discriminator."""
    return ((real_scores.float() - 1.0) ** 2).mean() + (fake_scores.float() ** 2).mean()


def r1_penalty(real_scores: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): ``mean over the batch of |d D(y) / d y|^2``; floor 0.

    D(y) is a sample's mean patch score (the loss averages over patches; a sum would scale the
    penalty with the number of patches squared). ``real_images`` (B, C, D, H, W) must require grad
    and ``real_scores`` (B, 1, d, h, w) be computed from them. The graph is kept, so the penalty
    trains the discriminator; weigh it by gamma / 2.
    """
    if not real_images.requires_grad:
        raise ValueError("real_images must require grad (the penalty is D's gradient with respect to them)")
    per_sample = real_scores.float().flatten(1).mean(1)
    (grad,) = torch.autograd.grad(per_sample.sum(), real_images, create_graph=True)
    return grad.float().square().flatten(1).sum(1).mean()
