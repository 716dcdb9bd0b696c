"""The seven losses of the SPEC, as pure functions over (B, C, D, H, W) tensors."""

from ltnet.losses.anatomy import anatomy_cycle_loss, anatomy_difference_loss
from ltnet.losses.charbonnier import charbonnier
from ltnet.losses.consistency import compose, image_cycle_loss, transformation_consistency_loss
from ltnet.losses.gan import lsgan_discriminator_loss, lsgan_generator_loss, r1_penalty
from ltnet.losses.similarity import FixedImageLNCC, lncc_loss
from ltnet.losses.smoothness import gradient_loss

__all__ = [
    "FixedImageLNCC",
    "anatomy_cycle_loss",
    "anatomy_difference_loss",
    "charbonnier",
    "compose",
    "gradient_loss",
    "image_cycle_loss",
    "lncc_loss",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "r1_penalty",
    "transformation_consistency_loss",
]
