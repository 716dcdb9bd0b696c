"""LT-Net: the forward/backward cycle and its objective (SPEC, paper eq. 11). Read top to bottom.

dpF   = G_F(x, y)              forward field, on y's grid, to the atlas
y_bar = x o dpF                synthetic image;   y_bar_s = x_s o dpF
dpB   = G_B(y_bar, x)          backward field, on the atlas grid
x_bar = y_bar o dpB            reconstructed atlas; x_bar_s = y_bar_s o dpB

[ltnet recipe, TrainConfig.backward_sim] G_B also registers the real image to the atlas, as in
CycleMorph, with its own similarity loss: dpR = G_B(y, x), y_hat = y o dpR. Trained on the cycle
alone, G_B sees only synthetic images and lags G_F; a non-zero forward field then pays for G_B's
error in every cycle term, and the identity does not.

[ltnet] x_bar is computed as x o dpC with dpC(t) = dpB(t) + dpF(t + dpB(t)), the two maps composed
and x resampled once: the same image in the continuum. Resampling y_bar a second time blurs it, and
the L1 cycle term would charge that blur, which grows linearly with |dpF| from zero (a 0.05-voxel
field already costs 10 * 0.0037 on the demo atlas), and pulls the forward field back to the identity.

L = L_GAN + L_sim + 10 L_cyc + 3 (L_anat + L_smooth + L_trans + L_diff)      (the paper's recipe)

[ltnet, TrainConfig.symmetric_sim] segment uses dpS = (dpF + inverse(dpR)) / 2 for a model with
both networks (exp((vF - vR) / 2) for a diffeomorphic one: :meth:`LTNet.mean_field`); this term
trains both networks through that field: L_sim(y, x o dpS).

ltnet's recipe weighs L_GAN by w_gan and the cycle family (L_cyc, L_trans, L_anat, L_diff) by w_cyc,
both ramped in after a warm-up (:class:`Weights`, from :meth:`TrainConfig.ramp`), and adds
G_B's own L_sim(x, y_hat) + 3 L_smooth(dpR), and symmetric_sim L_sim(y, x o dpS). Its defaults weigh
both at 0, which the benchmark found best (bench/RESULTS.md): the cycle path is then not run, G_F
trains exactly as VoxelMorph's, G_B registers the real images to the atlas on its own L_sim, and the
two directions meet only where segment averages their fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

import torch
import torch.nn as nn

from ltnet import losses
from ltnet.config import NetConfig, TrainConfig, Variant, get_variant
from ltnet.deformation import inverse_field
from ltnet.nn import PatchDiscriminator3D, SpatialTransformer, VxmUNet
from ltnet.trilinear import SoftLabels

# fixed-point iterations of G_B's inverse inside training (segment runs 20): the fields are smooth and
# under a few voxels, so the iteration has settled by then, and each one costs a warp and its gradient
TRAIN_INVERSE_ITERATIONS = 6


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
    dp_r: torch.Tensor | None = None  # G_B(y, x): the real image registered to the atlas
    y_hat: torch.Tensor | None = None  # y o dp_r, on the atlas grid
    dp_sym: torch.Tensor | None = None  # (dp_f + inverse of dp_r) / 2: the field segment uses
    y_sym: torch.Tensor | None = None  # x o dp_sym


@dataclass
class LossTerms:
    """The generator's loss terms for one batch (None where the variant leaves a term out)."""

    total: torch.Tensor
    sim: torch.Tensor
    smooth: torch.Tensor
    gan: torch.Tensor | None = None
    sim_b: torch.Tensor | None = None  # G_B's own -LNCC(x, y_hat)
    sim_sym: torch.Tensor | None = None  # -LNCC(y, y_sym): both networks through the mean field
    cyc: torch.Tensor | None = None
    trans: torch.Tensor | None = None
    anat: torch.Tensor | None = None
    diff: torch.Tensor | None = None

    # each term times the weight it enters ``total`` with (for the gradient diagnostics)
    weighted: dict[str, torch.Tensor] = field(default_factory=dict)

    def as_floats(self) -> dict[str, float]:
        """The computed terms as Python floats, for logs."""
        return {
            f.name: float(v.detach())
            for f in fields(self)
            if f.name != "weighted" and (v := getattr(self, f.name)) is not None
        }


@dataclass(frozen=True)
class Weights:
    """The loss weights of one step. ``gan`` on L_GAN; ``cyc`` on the cycle family (times
    lambda_cyc on L_cyc and lambda_reg on L_trans, L_anat and L_diff). The paper: both 1."""

    gan: float = 1.0
    cyc: float = 1.0

    @classmethod
    def at(cls, cfg: TrainConfig, step: int) -> Weights:
        """The recipe's weights at ``step`` (from 0): warm-up, then a linear ramp."""
        r = cfg.ramp(step)
        return cls(gan=cfg.lambda_gan * r, cyc=cfg.cycle_scale * r)


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
        if not variant.backward:
            self.g_b = None
        else:
            self.g_b = self.g_f if net.shared_generator else VxmUNet(net.enc, net.dec, **kw)
        self.warp = SpatialTransformer("bilinear")

    def mean_field(self, v_f: torch.Tensor, v_r: torch.Tensor, iterations: int = 20) -> torch.Tensor:
        """The two directions as one atlas-to-image displacement (B, 3, D, H, W) from the raw outputs
        of ``G_F(x, y)`` and ``G_B(y, x)``: the mean of G_F's field and the inverse of G_B's
        (``iterations`` of fixed-point inversion); for a diffeomorphic model the mean of the
        velocities, ``exp((vF - vR) / 2)``, since ``exp(-vR)`` inverts ``exp(vR)`` exactly and the
        result stays a diffeomorphism, which the mean of two displacements need not be."""
        if self.g_f.integrate is not None:
            return self.g_f.displacement(0.5 * (v_f.float() - v_r.float()))
        return 0.5 * (v_f + inverse_field(v_r, self.warp, iterations))

    def forward(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        x_s: torch.Tensor | None = None,
        backward_sim: bool = False,
        symmetric: bool = False,
        cycle: bool = True,
    ) -> CycleOutputs:
        """x: atlas (B, 1, D, H, W); y: image (B, 1, D, H, W); x_s: atlas hard one-hot (B, L, D, H, W)
        or None. ``backward_sim``: also register y to the atlas with G_B (dp_r, y_hat); with
        ``symmetric`` too, the mean field segment uses and the atlas warped by it (dp_sym, y_sym).
        ``cycle=False`` leaves out the cycle path (dp_b, x_bar, x_bar_s): a run whose cycle family
        weighs 0 throughout (TrainConfig.runs_cycle) neither needs nor pays for it."""
        v_f = self.g_f.velocity(x, y)
        dp_f = self.g_f.displacement(v_f)
        out = CycleOutputs(dp_f=dp_f, y_bar=self.warp(x, dp_f))
        # labels travel as sparse trilinear weights: exact, and cheaper than warping L channels
        atlas_s = SoftLabels.from_one_hot(x_s) if x_s is not None else None
        if atlas_s is not None:
            out.y_bar_s = atlas_s.warp_one_hot(dp_f)
        if self.g_b is None:
            return out
        if cycle:
            out.dp_b = self.g_b(out.y_bar, x)
            out.dp_cyc = losses.compose(out.dp_b, dp_f, self.warp)  # one resampling of x: see the top
            out.x_bar = self.warp(x, out.dp_cyc)
            if atlas_s is not None:
                out.x_bar_s = atlas_s.warp_one_hot(out.dp_cyc)
        if backward_sim:
            v_r = self.g_b.velocity(y, x)
            out.dp_r = self.g_b.displacement(v_r)
            out.y_hat = self.warp(y, out.dp_r)
            if symmetric:
                out.dp_sym = self.mean_field(v_f, v_r, TRAIN_INVERSE_ITERATIONS)
                out.y_sym = self.warp(x, out.dp_sym)
        return out


def generator_objective(
    model: LTNet,
    out: CycleOutputs,
    x: torch.Tensor,
    y: torch.Tensor,
    x_s: torch.Tensor | None,
    disc: nn.Module | None,
    cfg: TrainConfig,
    weights: Weights | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> LossTerms:
    """Eq. 11 restricted to the variant's terms, weighed by ``weights`` (default: the paper's).

    ``disc`` is needed when the variant has L_GAN with ``cfg.lambda_gan`` above 0; ``augment``
    (DiffAugment) is applied to y_bar before D scores it. A term whose weight is 0 is still
    computed, for the log, but L_GAN only where there is a discriminator and the cycle family only
    where ``out`` has the cycle path (``LTNet.forward(cycle=...)``).
    """
    v = model.variant
    w = weights or Weights()
    pen = cfg.cycle_penalty
    sim = losses.lncc_loss(y, out.y_bar, cfg.lncc_kernel)
    smooth = losses.gradient_loss(out.dp_f)
    for dp in (out.dp_b, out.dp_r):
        if dp is not None:
            smooth = smooth + losses.gradient_loss(dp)
    terms = LossTerms(total=sim, sim=sim, smooth=smooth)
    parts = {"sim": sim, "smooth": cfg.lambda_reg * smooth}
    if v.gan and disc is None and cfg.lambda_gan > 0:
        raise ValueError(f"variant {v.name!r} has L_GAN and needs a discriminator")
    if v.gan and disc is not None:
        fake = augment(out.y_bar) if augment is not None else out.y_bar
        terms.gan = losses.lsgan_generator_loss(disc(fake))
        parts["gan"] = w.gan * terms.gan
    if out.dp_r is not None and out.y_hat is not None:
        terms.sim_b = losses.lncc_loss(x, out.y_hat, cfg.lncc_kernel)
        parts["sim_b"] = terms.sim_b
    if out.y_sym is not None:
        terms.sim_sym = losses.lncc_loss(y, out.y_sym, cfg.lncc_kernel)
        parts["sim_sym"] = cfg.symmetric_sim * terms.sim_sym
    if v.backward and out.x_bar is not None:
        assert out.dp_b is not None
        terms.cyc = losses.image_cycle_loss(out.x_bar, x, pen)
        parts["cyc"] = w.cyc * cfg.lambda_cyc * terms.cyc
        if v.trans:
            terms.trans = losses.transformation_consistency_loss(out.dp_f, out.dp_b, model.warp, pen)
        if v.anat or v.diff:
            if x_s is None or out.x_bar_s is None or out.y_bar_s is None:
                raise ValueError(f"variant {v.name!r} needs the atlas labels")
        if v.anat:
            terms.anat = losses.anatomy_cycle_loss(x_s, out.x_bar_s)
        if v.diff:
            terms.diff = losses.anatomy_difference_loss(x_s, out.y_bar_s, out.x_bar_s, pen)
    for name in ("trans", "anat", "diff"):  # lambda2's share of the cycle family
        if (t := getattr(terms, name)) is not None:
            parts[name] = cfg.lambda_reg * w.cyc * t
    terms.weighted = parts
    terms.total = sum(parts.values())
    return terms


def build_models(
    cfg: TrainConfig, device: torch.device | str = "cpu"
) -> tuple[LTNet, PatchDiscriminator3D | None]:
    """The generators, and the discriminator when the variant has L_GAN with a weight above 0, on
    ``device``."""
    variant = get_variant(cfg.variant)
    model = LTNet(variant, cfg.net, cfg.save_memory).to(device)
    disc = PatchDiscriminator3D(cfg.net.disc).to(device) if variant.gan and cfg.lambda_gan > 0 else None
    return model, disc
