"""``ltnet train``: train LT-Net (or a row of the ablation ladder) from one labelled atlas."""

from __future__ import annotations

import argparse
import sys

from ltnet.commands.options import DEVICE, pick_device, prep_cache, prep_config, prep_options
from ltnet.errors import LtnetError

RECIPE_FLAGS = (
    ("--lambda-gan", "lambda_gan"),
    ("--disc-augment", "disc_augment"),
    ("--r1-gamma", "r1_gamma"),
    ("--cycle-scale", "cycle_scale"),
    ("--cycle-penalty", "cycle_penalty"),
    ("--backward-sim", "backward_sim"),
    ("--symmetric-sim", "symmetric_sim"),
    ("--warmup-steps", "warmup_steps"),
    ("--ramp-steps", "ramp_steps"),
    ("--ema-decay", "ema_decay"),
    ("--diag-every", "diag_every"),
    ("--anneal-steps", "anneal_steps"),
)
MISSING = {
    "gan": "L_GAN",
    "backward": "backward network",
    "scheduled": "L_GAN or cycle term: nothing to schedule",
}
# why a flag is refused when the variant has its term but the recipe weighs that term 0
IDLE = {
    "gan": "L_GAN's weight is 0 in this recipe, so there is no discriminator: add --lambda-gan",
    "backward": "the cycle family's weight is 0 in this recipe, so there is no cycle term: add --cycle-scale",
    "scheduled": "L_GAN's and the cycle family's weights are 0 in this recipe, so there is nothing to "
    "schedule: add --lambda-gan or --cycle-scale",
}


def recipe_overrides(args: argparse.Namespace) -> dict:
    """The recipe flags given on the command line, as TrainConfig fields; a flag for a loss or
    path the variant does not have is refused rather than ignored."""
    from ltnet.config import RECIPE_FIELD_NEEDS, TrainConfig, acting_fields, get_variant

    variant = get_variant(args.variant)
    given = [(f, a) for f, a in RECIPE_FLAGS if getattr(args, a) is not None]
    out = {a: getattr(args, a) for _, a in given}
    given += [("--shared-generator", "shared_generator")] if args.shared_generator else []
    base = TrainConfig.for_recipe(args.recipe)
    weights = out.get("lambda_gan", base.lambda_gan), out.get("cycle_scale", base.cycle_scale)
    acting = acting_fields(variant, *weights)
    for flag, attr in given:
        if attr in acting:
            continue
        need = str(RECIPE_FIELD_NEEDS[attr])
        if getattr(variant, need):  # the variant has the term, but this recipe weighs it 0
            raise LtnetError(f"{flag}: {IDLE[need]}")
        raise LtnetError(
            f"{flag}: variant {variant.name!r} has no {MISSING[need]}, so this flag would do nothing"
        )
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ltnet.config import VARIANTS

    t = sub.add_parser(
        "train",
        help="train LT-Net (or an ablation row) from one labelled atlas, or several",
        description="Train the forward and backward registration networks from one labelled atlas "
        "(or several: each step draws an (atlas, image) pair, one pair of networks serves them all, "
        "and 'ltnet segment' fuses their labels) and unlabelled images. Scans in any orientation and "
        "spacing are first aligned affinely to the (first) atlas (ANTs) and resampled onto the working "
        "grid (cached). "
        "Writes RUN_DIR/checkpoint.pt, RUN_DIR/log.jsonl (every loss term, every step) and "
        "RUN_DIR/config.json.",
    )
    t.add_argument(
        "--atlas",
        required=True,
        nargs="+",
        metavar="IMAGE",
        help="atlas image(s) (NIfTI or MGZ); the first fixes the working grid, the others are aligned "
        "onto it; an image among --images that is an atlas is left out of them",
    )
    t.add_argument(
        "--atlas-labels",
        required=True,
        nargs="+",
        metavar="LABELS",
        help="each atlas's label map, on its image's grid, paired with --atlas by subject name",
    )
    t.add_argument("--images", required=True, nargs="+", help="unlabelled images, or folders of them")
    t.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder (checkpoint, log, config)")
    t.add_argument(
        "--variant",
        default="full",
        choices=list(VARIANTS),
        help="row of the paper's ablation ladder (default: full LT-Net)",
    )
    t.add_argument("--steps", type=int, default=1000, help="total generator updates (default: 1000)")
    t.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="(atlas, image) pairs per step and per process (default: 1); under torchrun the "
        "effective batch is this times the number of processes",
    )
    t.add_argument("--seed", type=int, default=0, help="seed for weights and data order (default: 0)")
    t.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate (default: 2e-4)")
    t.add_argument(
        "--checkpoint-every", type=int, default=100, help="steps between checkpoints (default: 100)"
    )
    t.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its checkpoint")
    t.add_argument(
        "--init",
        metavar="MODEL",
        help="start from the weights of this run folder or checkpoint file (fine-tuning; fresh "
        "optimiser and step count). Same network options; the variant may differ: the networks "
        "both runs have are copied (a voxelmorph run's G_F can start a full run), the others start "
        "from scratch",
    )
    t.add_argument("--no-amp", action="store_true", help="no bf16 mixed precision on CUDA")
    t.add_argument(
        "--save-memory",
        action="store_true",
        help="recompute the finest activations in the backward pass instead of storing them "
        "(gradient checkpointing): less memory at the 1 mm box, some more time (bench/SPEED.md)",
    )
    t.add_argument(
        "--half-res",
        action="store_true",
        help="predict the field at half resolution and upsample it: several times faster, "
        "measured against the SPEC layout in bench/SPEED.md",
    )
    t.add_argument(
        "--integration-steps",
        type=int,
        default=0,
        metavar="K",
        help="diffeomorphic option: the networks predict a stationary velocity field, integrated by "
        "scaling and squaring in K steps (MONAI's DVF2DDF; VoxelMorph uses 7); 0 (default): plain "
        "displacements, as in the paper",
    )
    r = t.add_argument_group(
        "recipe",
        "How the losses are weighed and scheduled. '--recipe ltnet' (default) is the measured winner; "
        "'--recipe paper' is eq. 11 as printed (bench/RESULTS.md compares them). The flags below "
        "override single ingredients of the chosen recipe.",
    )
    r.add_argument(
        "--recipe", choices=["ltnet", "paper"], default="ltnet", help="base recipe (default: ltnet)"
    )
    r.add_argument("--lambda-gan", type=float, help="weight of L_GAN (ltnet 0: no discriminator; paper 1)")
    r.add_argument(
        "--cycle-scale",
        type=float,
        help="factor on the cycle family's weights: lambda1 L_cyc, lambda2 (L_trans, L_anat, L_diff) "
        "(ltnet 0: the cycle path is not run, as it did not help on the benchmark; paper 1)",
    )
    r.add_argument(
        "--cycle-penalty",
        choices=["charbonnier", "l2"],
        help="residual penalty of L_cyc, L_trans and L_diff: the paper's L1/Charbonnier or the square "
        "(needs --cycle-scale above 0)",
    )
    r.add_argument(
        "--warmup-steps",
        type=int,
        help="steps on L_sim and L_smooth alone before the adversarial and cycle weights "
        "(ltnet 200, paper 0; needs --lambda-gan or --cycle-scale above 0)",
    )
    r.add_argument(
        "--ramp-steps", type=int, help="then steps over which those weights rise to full (ltnet 200, paper 0)"
    )
    r.add_argument(
        "--backward-sim",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="G_B also registers each real image to the atlas with its own L_sim (ltnet: on)",
    )
    r.add_argument(
        "--symmetric-sim",
        type=float,
        metavar="W",
        help="weight of an L_sim on the field segment uses, the mean of G_F's field and the inverse of "
        "G_B's, which trains both networks through it (needs --backward-sim; default 0: off)",
    )
    r.add_argument(
        "--shared-generator",
        action="store_true",
        help="one network for G_F and G_B (registering both ways) instead of two",
    )
    r.add_argument(
        "--disc-augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="DiffAugment: random gain, flips and shifts on every image D sees, real and fake (ltnet: on)",
    )
    r.add_argument("--r1-gamma", type=float, help="R1 penalty on D's real images (ltnet 1, paper 0: off)")
    r.add_argument(
        "--ema-decay",
        type=float,
        help="decay of a moving average of the generators' weights, which segment then uses "
        "(e.g. 0.99; default 0: off)",
    )
    r.add_argument(
        "--anneal-steps",
        type=int,
        metavar="N",
        help="run the last N steps at a quarter of --lr (default 0: a constant learning rate)",
    )
    r.add_argument(
        "--diag-every",
        type=int,
        help="steps between gradient diagnostics in log.jsonl (default 50; 0: never)",
    )
    t.add_argument("--device", **DEVICE)
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    prep_options(t)
    t.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.integration_steps < 0:
        raise LtnetError(f"--integration-steps {args.integration_steps}: expected 0 or more")
    from ltnet.config import NetConfig, TrainConfig
    from ltnet.distributed import from_torchrun, shutdown
    from ltnet.io import expand_inputs
    from ltnet.runtime import read_log
    from ltnet.train import train
    from ltnet.trainset import load_train_data_distributed

    cfg = TrainConfig.for_recipe(
        args.recipe,
        variant=args.variant,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        lr=args.lr,
        amp=not args.no_amp,
        net=NetConfig(
            half_res=args.half_res,
            integration_steps=args.integration_steps,
            shared_generator=bool(args.shared_generator),
        ),
        save_memory=args.save_memory,
        **recipe_overrides(args),
    )
    # under torchrun: one process per device, joined here (a plain run is a group of one)
    dist, device = from_torchrun(pick_device(args.device))
    try:
        images = expand_inputs(args.images)
        masks = expand_inputs(args.mask) if args.mask else None
        prep, cache = prep_config(args), prep_cache(args)
        data = load_train_data_distributed(
            args.atlas, args.atlas_labels, images, prep, cache, masks, dist, progress=not args.quiet
        )
        if dist.is_main:
            procs = f", {dist.world_size} processes" if dist.active else ""
            print(
                f"ltnet train: variant {cfg.variant}, recipe {cfg.recipe}, {len(data.images)} images on "
                f"grid {data.atlas.shape}, "
                f"{len(data.atlases)} atlas(es), {len(data.atlas.label_ids) - 1} labels in the first, "
                f"device {device}{procs}",
                file=sys.stderr,
            )
        ckpt = train(
            cfg,
            data,
            args.out,
            device=device,
            resume=args.resume,
            progress=not args.quiet,
            dist=dist,
            init=args.init,
        )
    finally:
        shutdown(dist)
    if dist.is_main:
        last = read_log(args.out)[-1]
        print(
            "final losses: "
            + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k not in ("step", "seconds")),
            file=sys.stderr,
        )
        print(ckpt)
    return 0
