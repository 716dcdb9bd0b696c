"""LT-Net: the forward/backward cycle and its objective (SPEC, paper eq. 11). Read top to bottom.

dpF   = G_F(x, y)              forward field, on y's grid, to the atlas
y_bar = x o dpF                synthetic image;   y_bar_s = x_s o dpF
dpB   = G_B(y_bar, x)          backward field, on the atlas grid
x_bar = y_bar o dpB            reconstructed atlas; x_bar_s = y_bar_s o dpB

[ltnet] x_bar is computed as x o dpC with dpC(t) = dpB(t) + dpF(t + dpB(t)), the two maps composed
and x resampled once: the same image in the continuum. Resampling y_bar a second time blurs it, and
the L1 cycle term would charge that blur, which grows linearly with |dpF| from zero (a 0.05-voxel
field already costs 10 * 0.0037 on the demo atlas), and pulls the forward field back to the identity.

L = L_GAN + L_sim + 10 L_cyc + 3 (L_anat + L_smooth + L_trans + L_diff)
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn as nn

from ltnet import losses
from ltnet.config import NetConfig, TrainConfig, Variant, get_variant
from ltnet.nn import PatchDiscriminator3D, SpatialTransformer, VxmUNet
from ltnet.trilinear import SoftLabels


@dataclass
class CycleOutputs:
    """Every intermediate tensor of one pass. Fields a variant does not compute are None.

    Images (B, 1, D, H, W); fields (B, 3, D, H, W) in voxels; labels one-hot (B, L, D, H, W).
    """

    dp_f: torch.Tensor
    y_bar: torch.Tensor
    y_bar_s: torch.Tensor | None = None
    dp_b: torch.Tensor | None = None
    dp_cyc: torch.Tensor | None = None
    x_bar: torch.Tensor | None = None
    x_bar_s: torch.Tensor | None = None


@dataclass
class LossTerms:
    """The generator's loss terms for one batch (None where the variant leaves a term out)."""

    total: torch.Tensor
    sim: torch.Tensor
    smooth: torch.Tensor
    gan: torch.Tensor | None = None
    cyc: torch.Tensor | None = None
    trans: torch.Tensor | None = None
    anat: torch.Tensor | None = None
    diff: torch.Tensor | None = None

    def as_floats(self) -> dict[str, float]:
        """The computed terms as Python floats, for logs."""
        return {f.name: float(v.detach()) for f in fields(self) if (v := getattr(self, f.name)) is not None}


class LTNet(nn.Module):
    """The two generators and the warp. The discriminator is separate: it has its own optimiser."""

    def __init__(self, variant: Variant, net: NetConfig | None = None, save_memory: bool = False) -> None:
        super().__init__()
        net = net or NetConfig()
        self.variant = variant
        self.save_memory = save_memory
        kw = {
            "half_res": net.half_res,
            "save_memory": save_memory,
            "integration_steps": net.integration_steps,
        }
        self.g_f = VxmUNet(net.enc, net.dec, **kw)
        self.g_b = VxmUNet(net.enc, net.dec, **kw) if variant.backward else None
        self.warp = SpatialTransformer("bilinear")

    def forward(self, x: torch.Tensor, y: torch.Tensor, x_s: torch.Tensor | None = None) -> CycleOutputs:
        """x: atlas (B, 1, D, H, W); y: image (B, 1, D, H, W); x_s: atlas hard one-hot (B, L, D, H, W)
        or None."""
        dp_f = self.g_f(x, y)
        out = CycleOutputs(dp_f=dp_f, y_bar=self.warp(x, dp_f))
        # labels travel as sparse trilinear weights: exact, and cheaper than warping L channels
        atlas_s = SoftLabels.from_one_hot(x_s) if x_s is not None else None
        if atlas_s is not None:
            out.y_bar_s = atlas_s.warp_one_hot(dp_f)
        if self.g_b is None:
            return out
        out.dp_b = self.g_b(out.y_bar, x)
        out.dp_cyc = losses.compose(out.dp_b, dp_f, self.warp)  # one resampling of x: see the top
        out.x_bar = self.warp(x, out.dp_cyc)
        if atlas_s is not None:
            out.x_bar_s = atlas_s.warp_one_hot(out.dp_cyc)
        return out


def generator_objective(
    model: LTNet,
    out: CycleOutputs,
    x: torch.Tensor,
    y: torch.Tensor,
    x_s: torch.Tensor | None,
    disc: nn.Module | None,
    cfg: TrainConfig,
) -> LossTerms:
    """Eq. 11 restricted to the variant's terms. ``disc`` is needed when the variant has L_GAN."""
    v = model.variant
    sim = losses.lncc_loss(y, out.y_bar, cfg.lncc_kernel)
    smooth = losses.gradient_loss(out.dp_f)
    if out.dp_b is not None:
        smooth = smooth + losses.gradient_loss(out.dp_b)
    terms = LossTerms(total=sim, sim=sim, smooth=smooth)
    reg = smooth
    if v.gan:
        if disc is None:
            raise ValueError(f"variant {v.name!r} has L_GAN and needs a discriminator")
        terms.gan = losses.lsgan_generator_loss(disc(out.y_bar))
        terms.total = terms.total + terms.gan
    if v.backward:
        assert out.x_bar is not None and out.dp_b is not None
        terms.cyc = losses.image_cycle_loss(out.x_bar, x)
        terms.total = terms.total + cfg.lambda_cyc * terms.cyc
    if v.trans:
        terms.trans = losses.transformation_consistency_loss(out.dp_f, out.dp_b, model.warp)
        reg = reg + terms.trans
    if v.anat or v.diff:
        if x_s is None or out.x_bar_s is None or out.y_bar_s is None:
            raise ValueError(f"variant {v.name!r} needs the atlas labels")
    if v.anat:
        terms.anat = losses.anatomy_cycle_loss(x_s, out.x_bar_s)
        reg = reg + terms.anat
    if v.diff:
        terms.diff = losses.anatomy_difference_loss(x_s, out.y_bar_s, out.x_bar_s)
        reg = reg + terms.diff
    terms.total = terms.total + cfg.lambda_reg * reg
    return terms


def build_models(
    cfg: TrainConfig, device: torch.device | str = "cpu"
) -> tuple[LTNet, PatchDiscriminator3D | None]:
    """The generators (and the discriminator when the variant has L_GAN), on ``device``."""
    variant = get_variant(cfg.variant)
    model = LTNet(variant, cfg.net, cfg.save_memory).to(device)
    disc = PatchDiscriminator3D(cfg.net.disc).to(device) if variant.gan else None
    return model, disc
