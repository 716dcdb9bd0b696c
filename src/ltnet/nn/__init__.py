"""Networks: the VoxelMorph U-Net generator, the 3D PatchGAN discriminator, the warp layer."""

from ltnet.nn.diffaug import diff_augment
from ltnet.nn.discriminator import PatchDiscriminator3D
from ltnet.nn.padding import crop_to, pad_to_multiple
from ltnet.nn.unet import VxmUNet
from ltnet.nn.warp import SpatialTransformer, slab_warp

__all__ = [
    "PatchDiscriminator3D",
    "SpatialTransformer",
    "VxmUNet",
    "crop_to",
    "diff_augment",
    "pad_to_multiple",
    "slab_warp",
]
