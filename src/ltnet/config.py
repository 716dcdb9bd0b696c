"""Configuration as frozen dataclasses. Every checkpoint carries its config as a plain dict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ltnet.errors import LtnetError


@dataclass(frozen=True)
class Variant:
    """One row of the SPEC's ablation ladder: which paths and losses are switched on."""

    name: str
    gan: bool = False
    backward: bool = False  # G_B, x_bar and L_cyc
    trans: bool = False
    anat: bool = False
    diff: bool = False

    @property
    def needs_labels(self) -> bool:
        """Whether training warps the atlas labels (only the anatomy losses read them)."""
        return self.anat or self.diff


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("voxelmorph"),
        Variant("gan", gan=True),
        Variant("cycle", gan=True, backward=True),
        Variant("trans", gan=True, backward=True, trans=True),
        Variant("anat", gan=True, backward=True, anat=True),
        Variant("trans-anat", gan=True, backward=True, trans=True, anat=True),
        Variant("full", gan=True, backward=True, trans=True, anat=True, diff=True),
    )
}


def get_variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise LtnetError(f"unknown variant {name!r}: expected one of {', '.join(VARIANTS)}")
    return VARIANTS[name]


@dataclass(frozen=True)
class NetConfig:
    """The generator (VoxelMorph U-Net) and discriminator (3D PatchGAN) widths of the SPEC."""

    enc: tuple[int, ...] = (16, 32, 32, 32)
    dec: tuple[int, ...] = (32, 32, 32, 32, 32, 16, 16)
    disc: tuple[int, ...] = (16, 32, 64, 64)
    half_res: bool = False  # predict the field at 1/2 resolution and upsample it (an option)
    # > 0: the network predicts a stationary velocity field, integrated by scaling and squaring in
    # this many steps (MONAI's DVF2DDF) into a diffeomorphic displacement (an option)
    integration_steps: int = 0


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run. Saved in every checkpoint."""

    variant: str = "full"
    steps: int = 1000
    batch_size: int = 1
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    seed: int = 0
    checkpoint_every: int = 100
    lncc_kernel: int = 9
    lambda_cyc: float = 10.0  # lambda1 of eq. 11
    lambda_reg: float = 3.0  # lambda2 of eq. 11
    amp: bool = True  # bf16 autocast, used on CUDA only
    save_memory: bool = False  # recompute the finest activations in the backward pass
    net: NetConfig = field(default_factory=NetConfig)

    def __post_init__(self) -> None:
        get_variant(self.variant)
        for name in ("steps", "batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise LtnetError(f"{name} must be at least 1, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise LtnetError(f"config has unknown fields {sorted(unknown)}: written by a newer ltnet?")
        d = dict(d)
        net = NetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.pop("net", {}).items()})
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        return cls(net=net, **d)
