"""Configuration as frozen dataclasses, all in this module: the networks (``NetConfig``), training
(``TrainConfig`` and its recipes), preparation (``PrepConfig``), segmenting (``SegmentConfig``) and
DataAug (``DataAugConfig``). Every checkpoint carries its configs as plain dicts."""

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

    @property
    def scheduled(self) -> bool:
        """Whether the warm-up and ramp have a weight to act on (L_GAN's or the cycle family's)."""
        return self.gan or self.backward


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
    """The ladder row called ``name``; an unknown name is an LtnetError listing the known ones."""
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
    # G_B is G_F: one network registers in both directions (an option; the paper has two)
    shared_generator: bool = False


RECIPES = ("ltnet", "paper")
# the learning rate's factor over a run's last ``anneal_steps``: 200 more steps at lr/4 lifted both a
# VoxelMorph model and LT-Net's G_F by 0.008 Dice, 6/6 subjects (bench/RESULTS.md, warm-start screens)
ANNEAL_FACTOR = 0.25
CYCLE_PENALTIES = ("charbonnier", "l2")

# the Variant switch each recipe field needs in order to change training (None: every variant);
# ``shared_generator`` is NetConfig's
RECIPE_FIELD_NEEDS: dict[str, str | None] = {
    "lambda_gan": "gan",
    "disc_augment": "gan",
    "r1_gamma": "gan",
    "cycle_scale": "backward",
    "cycle_penalty": "backward",
    "backward_sim": "backward",
    "symmetric_sim": "backward",
    "shared_generator": "backward",
    "warmup_steps": "scheduled",
    "ramp_steps": "scheduled",
    "ema_decay": None,
    "diag_every": None,
    "lr": None,
    "anneal_steps": None,
}
DISC_FIELDS = ("disc_augment", "r1_gamma")  # act only while L_GAN's weight is above 0
CYCLE_FIELDS = ("cycle_penalty",)  # acts only while the cycle family's weight is above 0
SCHEDULE_FIELDS = ("warmup_steps", "ramp_steps")  # act only while one of those two weights is


def acting_fields(variant: Variant, lambda_gan: float, cycle_scale: float) -> set[str]:
    """The recipe fields that change the training of ``variant`` when L_GAN weighs ``lambda_gan``
    and the cycle family ``cycle_scale``: a flag for any other would do nothing, so ``ltnet train``
    refuses it."""
    acts = {f for f, need in RECIPE_FIELD_NEEDS.items() if need is None or getattr(variant, need)}
    if lambda_gan == 0:
        acts -= set(DISC_FIELDS)
    if cycle_scale == 0:
        acts -= set(CYCLE_FIELDS)
    if (lambda_gan == 0 or not variant.gan) and (cycle_scale == 0 or not variant.backward):
        acts -= set(SCHEDULE_FIELDS)
    return acts


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run. Saved in every checkpoint.

    The defaults are ltnet's recipe (``recipe="ltnet"``); :meth:`for_recipe` gives the paper's, whose
    weights are eq. 11's and whose schedule is none. Loss weights at step t (see :func:`ramp`):
    ``lambda_gan * r(t)`` on L_GAN and ``cycle_scale * r(t)`` on the cycle family (``lambda_cyc``
    L_cyc, ``lambda_reg`` (L_trans + L_anat + L_diff)), where r(t) is 0 during ``warmup_steps``, then
    rises linearly to 1 over ``ramp_steps``.
    """

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
    # -- the recipe: ltnet's defaults; the paper's values in PAPER_RECIPE ----------------------
    recipe: str = "ltnet"
    # weight of L_GAN (paper: 1). 0 (ltnet's default): no discriminator is built or trained; at 300
    # steps on the benchmark's brains L_GAN at 0.01 cost 0.011 Dice (bench/RESULTS.md, recipe screens)
    lambda_gan: float = 0.0
    # multiplies lambda_cyc and lambda_reg on the cycle family (paper: 1). 0 (ltnet's default): the
    # cycle path is not run; on the benchmark's brains x0.01 scored 0.005 and 0.006 Dice below it on
    # the two seeds, 12/12 subjects, at 2.6x the seconds a step (bench/RESULTS.md)
    cycle_scale: float = 0.0
    cycle_penalty: str = "charbonnier"  # residual penalty of L_cyc, L_trans, L_diff: or "l2"
    warmup_steps: int = 200  # generators on their own L_sim and L_smooth only
    ramp_steps: int = 200  # then the adversarial and cycle weights rise linearly to full
    backward_sim: bool = True  # G_B also registers each real image to the atlas (its own L_sim)
    # weight of L_sim on the field ``ltnet segment`` uses: the mean of G_F's field and the inverse of
    # G_B's image-to-atlas field (needs backward_sim); 0: each network trains on its own L_sim only
    symmetric_sim: float = 0.0
    disc_augment: bool = True  # DiffAugment: the same random shifts, flips, gain on D's real and fake
    r1_gamma: float = 1.0  # R1 penalty gamma/2 |grad D(real)|^2 on the discriminator (0: off)
    # exponential moving average of the generators' weights, which segment then uses (0: off; off by
    # default: 0.99 cost 0.010 Dice at 300 steps on the benchmark's brains, bench/RESULTS.md)
    ema_decay: float = 0.0
    diag_every: int = 50  # steps between logged gradient diagnostics (0: never)
    # the last this many steps run at lr * ANNEAL_FACTOR (0: a constant learning rate, as the paper)
    anneal_steps: int = 0

    def __post_init__(self) -> None:
        get_variant(self.variant)
        for name in ("steps", "batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise LtnetError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.recipe not in RECIPES:
            raise LtnetError(f"unknown recipe {self.recipe!r}: expected one of {', '.join(RECIPES)}")
        if self.cycle_penalty not in CYCLE_PENALTIES:
            raise LtnetError(
                f"unknown cycle penalty {self.cycle_penalty!r}: expected one of {', '.join(CYCLE_PENALTIES)}"
            )
        if self.symmetric_sim > 0 and not self.backward_sim:
            raise LtnetError("symmetric_sim needs backward_sim: G_B's image-to-atlas field is half of it")
        for name in (
            "lambda_gan",
            "cycle_scale",
            "symmetric_sim",
            "r1_gamma",
            "warmup_steps",
            "ramp_steps",
            "diag_every",
            "anneal_steps",
        ):
            if getattr(self, name) < 0:
                raise LtnetError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if get_variant(self.variant).backward and self.cycle_scale == 0 and not self.backward_sim:
            raise LtnetError(
                "cycle_scale 0 with backward_sim off leaves G_B untrained: it learns only from the cycle "
                "family or from its own L_sim"
            )
        if self.anneal_steps > self.steps:
            raise LtnetError(f"anneal_steps ({self.anneal_steps}) must be at most steps ({self.steps})")
        if not 0 <= self.ema_decay < 1:
            raise LtnetError(f"ema_decay must be in [0, 1), got {self.ema_decay}")

    @classmethod
    def for_recipe(cls, recipe: str, **overrides: Any) -> TrainConfig:
        """The config of a named recipe (``ltnet``: the defaults; ``paper``: eq. 11 as printed), with
        ``overrides`` on top."""
        if recipe not in RECIPES:
            raise LtnetError(f"unknown recipe {recipe!r}: expected one of {', '.join(RECIPES)}")
        base = PAPER_RECIPE if recipe == "paper" else {}
        return cls(**{**base, "recipe": recipe, **overrides})

    def ramp(self, step: int) -> float:
        """The schedule's factor r(step) in [0, 1] on the adversarial and cycle weights (step from 0)."""
        if step < self.warmup_steps:
            return 0.0
        if self.ramp_steps == 0:
            return 1.0
        return min(1.0, (step - self.warmup_steps + 1) / self.ramp_steps)

    @property
    def runs_cycle(self) -> bool:
        """Whether training runs the cycle path (G_B on y_bar, x_bar, the label warps): only for a
        variant with a backward network whose cycle family weighs more than 0."""
        return get_variant(self.variant).backward and self.cycle_scale > 0

    def lr_at(self, step: int) -> float:
        """The learning rate of step ``step`` (from 0): ``lr``, times ANNEAL_FACTOR over the last
        ``anneal_steps`` steps."""
        return self.lr * (ANNEAL_FACTOR if step >= self.steps - self.anneal_steps else 1.0)

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
        if "recipe" not in d:  # written before recipes existed: the paper's training
            d = {**PAPER_RECIPE, "recipe": "paper", "diag_every": 0, **d}
        return cls(net=net, **d)


# The paper's training (eq. 11, no schedule, no augmentation): ltnet's training before recipes.
PAPER_RECIPE: dict[str, Any] = {
    "lambda_gan": 1.0,
    "cycle_scale": 1.0,
    "cycle_penalty": "charbonnier",
    "warmup_steps": 0,
    "ramp_steps": 0,
    "backward_sim": False,
    "symmetric_sim": 0.0,
    "disc_augment": False,
    "r1_gamma": 0.0,
    "ema_decay": 0.0,
    "anneal_steps": 0,
}


INTERP_MODES = ("linear", "nearest")
ADAPT_MODES = ("field", "weights")


# segment's default optimisation of each field (bench/RESULTS.md, 'Refinement settings'): field
# adaptation steps on the working grid, then steps on the 1 mm grid at REFINE_LR voxel per step
DEFAULT_ADAPT_STEPS = 25
DEFAULT_REFINE_STEPS = 5
DEFAULT_REFINE_LR = 0.3


FUSION_RULES = ("local", "vote")  # ltnet.fusion


@dataclass(frozen=True)
class SegmentConfig:
    """How ``segment`` carries the atlas to each scan; saved in every ``<subject>_segment.json``."""

    interp: str = "linear"  # label warping: one-hot trilinear + argmax, or nearest neighbour
    save_field: bool = False  # also write <subject>_field: RAS mm from each voxel to its atlas point
    save_warped: bool = False  # also write <subject>_warped: the atlas image on the scan's grid
    save_qc: bool = False  # also run G_B and write <subject>_qc: the cycle error in mm
    # test-time adaptation steps on each (atlas, scan) pair on the working grid; 0: off. Like the
    # refinement, it acts only where there is a model's field (not for the affine alone)
    adapt_steps: int = DEFAULT_ADAPT_STEPS
    adapt_mode: str = "field"  # what adaptation optimises: the field, or a copy of G_F's weights
    adapt_lr: float | None = None  # None: the mode's default
    # models with a backward network: average G_F's field with the inverse of G_B's image-to-atlas
    # field (the default recipe's benchmark models: +0.004 and -0.001 Dice on two seeds, 7/12 subjects;
    # +0.006 on both with the cycle family at x0.01; bench/RESULTS.md)
    symmetric: bool = True
    # the finer grid (ltnet.refine) the labels are transferred from: the coarser of refine_spacing
    # and the atlas's own voxels, when that is finer than the working grid; None: the working grid.
    # refine_steps Adam steps optimise the field there first
    refine_spacing: float | None = 1.0
    refine_steps: int = DEFAULT_REFINE_STEPS
    refine_lr: float = DEFAULT_REFINE_LR  # voxels of the finer grid per step
    # several atlases (ltnet.fusion): how many of the most similar to use (None: all), the rule
    # that fuses their labels, and whether to write the winning label's fused probability
    atlases: int | None = None
    fusion: str = "local"
    save_prob: bool = False

    def __post_init__(self) -> None:
        if self.atlases is not None and self.atlases < 1:
            raise LtnetError(f"atlases must be 1 or more, got {self.atlases}")
        if self.fusion not in FUSION_RULES:
            raise LtnetError(
                f"unknown fusion rule {self.fusion!r}: expected one of {', '.join(FUSION_RULES)}"
            )
        if self.refine_steps < 0:
            raise LtnetError(f"refine_steps must be 0 or more, got {self.refine_steps}")
        if self.refine_spacing is not None and not self.refine_spacing > 0:
            raise LtnetError(f"refine_spacing must be positive, got {self.refine_spacing}")
        if not self.refine_lr > 0:
            raise LtnetError(f"refine_lr must be positive, got {self.refine_lr}")
        if self.interp not in INTERP_MODES:
            expected = ", ".join(INTERP_MODES)
            raise LtnetError(f"unknown interpolation {self.interp!r}: expected one of {expected}")
        if self.adapt_mode not in ADAPT_MODES:
            expected = ", ".join(ADAPT_MODES)
            raise LtnetError(f"unknown adaptation {self.adapt_mode!r}: expected one of {expected}")
        if self.adapt_steps < 0:
            raise LtnetError(f"adapt_steps must be 0 or more, got {self.adapt_steps}")
        if self.adapt_lr is not None and not self.adapt_lr > 0:
            raise LtnetError(f"adapt_lr must be positive, got {self.adapt_lr}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_BOX_MM = (160.0, 192.0, 160.0)


@dataclass(frozen=True)
class PrepConfig:
    """How inputs reach the working grid. Saved in every checkpoint; ``segment`` reuses it."""

    spacing: float = 1.0
    box_mm: tuple[float, float, float] = DEFAULT_BOX_MM
    prealigned: bool = False  # inputs already on the atlas grid: no registration, no resampling

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PrepConfig:
        return cls(float(d["spacing"]), tuple(float(v) for v in d["box_mm"]), bool(d["prealigned"]))


@dataclass(frozen=True)
class DataAugConfig:
    """Everything that decides a DataAug run. Saved in its checkpoint."""

    spatial_steps: int = 1000  # each of G_F and G_B
    appearance_steps: int = 1000
    seg_steps: int = 2000
    seg_dims: int = 2  # 2: U-Net over axial slices (brainstorm's default); 3: a 3D U-Net
    slices_per_step: int = 8  # 2D: slices of one synthesised volume per step
    lr: float = 2e-4
    seg_lr: float = 1e-3
    lambda_appearance: float = 0.02  # smoothness of the appearance change
    atlas_fraction: float = 0.1  # share of segmenter steps that see the atlas itself, unchanged
    seed: int = 0
    half_res: bool = False  # the spatial models predict their fields at 1/2 resolution (train --half-res)
    # wall-clock seconds for the whole training: the segmenter stops early once they are spent,
    # so that DataAug can be given the same budget as another method; None: run every step
    time_budget: float | None = None

    @classmethod
    def from_dict(cls, d: dict) -> DataAugConfig:
        return cls(**d)
