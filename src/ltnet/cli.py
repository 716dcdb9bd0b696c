"""The ``ltnet`` command line. Heavy modules (torch, MONAI) are imported inside each command, so
``ltnet --help`` is instant. Bad input ends with one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from ltnet import __version__
from ltnet.errors import LtnetError

EXAMPLES = """\
examples:
  ltnet demo                      # the whole job on the bundled demo brains, with an HTML report
  ltnet train --atlas atlas.nii.gz --atlas-labels atlas_seg.nii.gz --images scans/ --out run1 --steps 2000
  ltnet segment --model run1 --images scans/ --out labels/
  ltnet evaluate --pred labels/ --truth truth/ --out scores/
  ltnet select-atlas scans/*.nii.gz
  ltnet report run1 --labels labels/ --scores scores/
"""


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise LtnetError("--device cuda: no CUDA device is available (use --device cpu)")
    return torch.device(name)


def _prep(args: argparse.Namespace):
    from ltnet.prepare import PrepConfig

    return PrepConfig(spacing=args.spacing, box_mm=tuple(args.box), prealigned=args.prealigned)


def _cache(args: argparse.Namespace):
    from ltnet.cache import PrepCache, default_cache_dir

    return PrepCache(None if args.no_cache else (args.cache or default_cache_dir()))


# the recipe's ingredients as flags: (flag, TrainConfig field, what the variant must have)
RECIPE_FLAGS = (
    ("--lambda-gan", "lambda_gan"),
    ("--disc-augment", "disc_augment"),
    ("--r1-gamma", "r1_gamma"),
    ("--cycle-scale", "cycle_scale"),
    ("--cycle-penalty", "cycle_penalty"),
    ("--backward-sim", "backward_sim"),
    ("--warmup-steps", "warmup_steps"),
    ("--ramp-steps", "ramp_steps"),
    ("--ema-decay", "ema_decay"),
    ("--diag-every", "diag_every"),
)
MISSING = {
    "gan": "L_GAN",
    "backward": "a backward network",
    "scheduled": "L_GAN or cycle term: nothing to schedule",
}


def recipe_overrides(args: argparse.Namespace) -> dict:
    """The recipe flags given on the command line, as TrainConfig fields; a flag for a loss or
    path the variant does not have is refused rather than ignored."""
    from ltnet.config import DISC_FIELDS, RECIPE_FIELD_NEEDS, TrainConfig, acting_fields, get_variant

    variant = get_variant(args.variant)
    given = [(f, a) for f, a in RECIPE_FLAGS if getattr(args, a) is not None]
    out = {a: getattr(args, a) for _, a in given}
    given += [("--shared-generator", "shared_generator")] if args.shared_generator else []
    acting = acting_fields(variant, out.get("lambda_gan", TrainConfig.for_recipe(args.recipe).lambda_gan))
    for flag, attr in given:
        if attr in acting:
            continue
        if attr in DISC_FIELDS and variant.gan:
            raise LtnetError(
                f"{flag}: L_GAN's weight is 0 in this recipe, so there is no discriminator: add --lambda-gan"
            )
        what = MISSING[str(RECIPE_FIELD_NEEDS[attr])]
        raise LtnetError(f"{flag}: variant {variant.name!r} has no {what}, so this flag would do nothing")
    return out


def cmd_train(args: argparse.Namespace) -> int:
    if args.integration_steps < 0:
        raise LtnetError(f"--integration-steps {args.integration_steps}: expected 0 or more")
    from ltnet.atlas import Atlas
    from ltnet.config import NetConfig, TrainConfig
    from ltnet.distributed import broadcast, from_torchrun, shutdown
    from ltnet.io import expand_inputs
    from ltnet.train import load_train_data, read_log, train

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
    dist, device = from_torchrun(_device(args.device))
    try:
        images = expand_inputs(args.images)
        masks = expand_inputs(args.mask) if args.mask else None
        prep, cache = _prep(args), _cache(args)
        # rank 0 reads the atlas and prepares every image into the cache; the others receive the
        # atlas once and read the prepared images back from the cache
        data = None
        if dist.is_main:
            data = load_train_data(
                args.atlas, args.atlas_labels, images, prep, cache, masks, progress=not args.quiet
            )
        atlas_state = broadcast(data.atlas.to_state() if data is not None else None, dist)
        if data is None:
            atlas = Atlas.from_state(atlas_state)
            data = load_train_data(args.atlas, args.atlas_labels, images, prep, cache, masks, atlas=atlas)
        if dist.is_main:
            procs = f", {dist.world_size} processes" if dist.active else ""
            print(
                f"ltnet train: variant {cfg.variant}, recipe {cfg.recipe}, {len(data.images)} images on "
                f"grid {data.atlas.shape}, "
                f"{len(data.atlas.label_ids) - 1} atlas labels, device {device}{procs}",
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


def cmd_segment(args: argparse.Namespace) -> int:
    from ltnet.io import expand_inputs
    from ltnet.segment import load_trained, parse_shard, segment_files

    if args.workers < 0:
        raise LtnetError(f"--workers {args.workers}: expected 0 or more")
    if args.adapt_steps < 0:
        raise LtnetError(f"--adapt-steps {args.adapt_steps}: expected 0 or more")
    if args.adapt_lr is not None and not args.adapt_lr > 0:
        raise LtnetError(f"--adapt-lr {args.adapt_lr}: expected a positive learning rate")
    shard = parse_shard(args.shard)
    device = _device(args.device)
    if args.affine_only:
        from ltnet.atlas import load_atlas

        if not (args.atlas and args.atlas_labels):
            raise LtnetError("--affine-only needs --atlas and --atlas-labels")
        prep, model, amp = _prep(args), None, False
        atlas = load_atlas(args.atlas, args.atlas_labels, prep)
    else:
        if not args.model:
            raise LtnetError("give --model RUN_DIR (or --affine-only with --atlas and --atlas-labels)")
        trained = load_trained(args.model, device)
        atlas, prep, model, amp = trained.atlas, trained.prep, trained.model, trained.config.amp
    written = segment_files(
        atlas,
        prep,
        model,
        expand_inputs(args.images),
        args.out,
        save_field=args.save_field,
        save_warped=args.save_warped,
        interp=args.interp,
        cache=_cache(args),
        masks=expand_inputs(args.mask) if args.mask else None,
        amp=amp,
        progress=not args.quiet,
        overwrite=args.overwrite,
        workers=args.workers,
        shard=shard,
        adapt_steps=args.adapt_steps,
        adapt_mode=args.adapt,
        save_qc=args.save_qc,
        adapt_lr=args.adapt_lr,
    )
    for p in written:
        print(p)
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    import json

    import nibabel as nib
    import numpy as np

    from ltnet.io import Volume, expand_inputs, save_like, subject_names
    from ltnet.io.atomic import atomic_write_text, ensure_writable_dir
    from ltnet.io.image import label_dtype
    from ltnet.train import load_train_data

    prep = _prep(args)
    images = expand_inputs(args.images)
    masks = expand_inputs(args.mask) if args.mask else None
    data = load_train_data(
        args.atlas, args.atlas_labels, images, prep, _cache(args), masks, progress=not args.quiet
    )
    out = ensure_writable_dir(args.out)
    atlas = data.atlas
    # every output lies on the working grid, described by the atlas's affine
    grid = Volume(atlas.image, nib.Nifti1Image(atlas.image, atlas.affine), out / "atlas.nii.gz")
    save_like(atlas.image, grid, out / "atlas.nii.gz", dtype=np.float32)
    save_like(atlas.labels, grid, out / "atlas_labels.nii.gz", dtype=label_dtype(np.asarray(atlas.label_ids)))
    for name, image in zip(subject_names(images), data.images, strict=True):
        print(save_like(image, grid, out / f"{name}.nii.gz", dtype=np.float32))
    atomic_write_text(out / "prep.json", json.dumps(prep.to_dict(), indent=2) + "\n")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ltnet.evaluate import evaluate_files, write_evaluation
    from ltnet.io import expand_inputs
    from ltnet.labels import EVAL_LABELS

    result = evaluate_files(
        expand_inputs(args.pred, stem_suffix="_labels"),
        expand_inputs(args.truth),
        args.labels or EVAL_LABELS,
        hd95=not args.no_hd95,
    )
    files = write_evaluation(result, args.out)
    print(result.to_markdown())
    print("wrote " + ", ".join(str(f) for f in files), file=sys.stderr)
    return 0


def cmd_select_atlas(args: argparse.Namespace) -> int:
    from ltnet.atlas import select_atlas
    from ltnet.io import expand_inputs

    best, scores = select_atlas(expand_inputs(args.images), args.spacing, _cache(args), progress=True)
    for p, s in sorted(scores.items(), key=lambda kv: -kv[1]):
        print(f"{s:.4f}  {p}", file=sys.stderr)
    print(best)
    return 0


DEMO_STEPS = 60


def cmd_dataaug_train(args: argparse.Namespace) -> int:
    from ltnet.dataaug import DataAugConfig, train_dataaug
    from ltnet.io import expand_inputs
    from ltnet.train import load_train_data

    for flag in ("spatial_steps", "appearance_steps", "seg_steps"):
        if getattr(args, flag) < 1:
            raise LtnetError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected 1 or more")
    cfg = DataAugConfig(
        spatial_steps=args.spatial_steps,
        appearance_steps=args.appearance_steps,
        seg_steps=args.seg_steps,
        seg_dims=args.seg_dims,
        seed=args.seed,
        half_res=args.half_res,
        time_budget=args.time_budget,
    )
    if args.time_budget is not None and not args.time_budget > 0:
        raise LtnetError(f"--time-budget {args.time_budget}: expected a number of seconds above 0")
    data = load_train_data(
        args.atlas,
        args.atlas_labels,
        expand_inputs(args.images),
        _prep(args),
        _cache(args),
        expand_inputs(args.mask) if args.mask else None,
        progress=not args.quiet,
    )
    print(train_dataaug(cfg, data, args.out, device=_device(args.device), progress=not args.quiet))
    return 0


def cmd_dataaug_segment(args: argparse.Namespace) -> int:
    from ltnet.dataaug import load_dataaug, segment_dataaug
    from ltnet.io import expand_inputs

    model = load_dataaug(args.model, _device(args.device))
    written = segment_dataaug(
        model,
        expand_inputs(args.images),
        args.out,
        _cache(args),
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    for p in written:
        print(p)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ltnet.demo import run_demo

    if args.steps < 1:
        raise LtnetError(f"--steps {args.steps}: expected 1 or more")
    r = run_demo(
        args.out,
        args.steps,
        device=str(_device(args.device)),
        quiet=args.quiet,
        overwrite=args.overwrite,
        use_shipped=not args.from_scratch,
    )
    print(f"mean Dice over the held-out subjects: LT-Net {r.dice:.3f}, affine only {r.dice_affine:.3f}")
    if r.dice_shipped is not None:
        print(f"  the shipped model before this demo's training: {r.dice_shipped:.3f}")
    print(f"  LT-Net with test-time adaptation (segment --adapt-steps 50): {r.dice_adapted:.3f}")
    print(f"report: {r.report}  ({r.seconds:.0f} s in all)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ltnet.io import expand_inputs
    from ltnet.report import build_report

    scores = {}
    if args.scores:
        scores["this run"] = args.scores
    for item in args.compare or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise LtnetError(f"--compare {item!r}: expected NAME=SCORES_DIR")
        scores[name] = path
    truth = expand_inputs(args.truth) if args.truth else []
    print(build_report(args.run, args.out, labels_dir=args.labels, truth=truth, scores=scores))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from ltnet.config import VARIANTS

    p = argparse.ArgumentParser(
        prog="ltnet",
        description="One-shot segmentation of 3D scans by label transfer (LT-Net, CVPR 2020): learn dense "
        "correspondences from one labelled atlas to unlabelled scans, and carry the atlas labels along them.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"ltnet {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dev = {
        "choices": ["auto", "cpu", "cuda"],
        "default": "auto",
        "help": "where to run (default: cuda when available, else cpu)",
    }

    def prep_options(q: argparse.ArgumentParser, with_grid: bool = True) -> None:
        if with_grid:
            q.add_argument(
                "--spacing",
                type=float,
                default=1.0,
                help="working grid spacing in mm (default: 1; 2 for quick CPU work)",
            )
            q.add_argument(
                "--box",
                type=float,
                nargs=3,
                default=[160.0, 192.0, 160.0],
                metavar=("X", "Y", "Z"),
                help="working box in mm around the atlas's brain (default: 160 192 160)",
            )
            q.add_argument(
                "--prealigned",
                action="store_true",
                help="inputs are already on the atlas grid: skip alignment and resampling",
            )
        q.add_argument("--mask", nargs="+", help="brain masks for the images (paired by subject name)")
        q.add_argument("--cache", help="cache of prepared scans (default: ~/.cache/ltnet, or $LTNET_CACHE)")
        q.add_argument("--no-cache", action="store_true", help="prepare every scan anew, store nothing")

    t = sub.add_parser(
        "train",
        help="train LT-Net (or an ablation row) from one labelled atlas",
        description="Train the forward and backward registration networks from one labelled atlas "
        "and unlabelled images. Scans in any orientation and spacing are first aligned affinely to the "
        "atlas (ANTs) and resampled onto the working grid (cached). "
        "Writes RUN_DIR/checkpoint.pt, RUN_DIR/log.jsonl (every loss term, every step) and "
        "RUN_DIR/config.json.",
    )
    t.add_argument("--atlas", required=True, help="atlas image (NIfTI or MGZ)")
    t.add_argument("--atlas-labels", required=True, help="atlas label map, on the atlas image's grid")
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
        "(ltnet 0.01, paper 1)",
    )
    r.add_argument(
        "--cycle-penalty",
        choices=["charbonnier", "l2"],
        help="residual penalty of L_cyc, L_trans and L_diff: the paper's L1/Charbonnier or the square",
    )
    r.add_argument(
        "--warmup-steps",
        type=int,
        help="steps on L_sim and L_smooth alone before the adversarial and cycle weights "
        "(ltnet 200, paper 0)",
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
        "--diag-every",
        type=int,
        help="steps between gradient diagnostics in log.jsonl (default 50; 0: never)",
    )
    t.add_argument("--device", **dev)
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    prep_options(t)
    t.set_defaults(func=cmd_train)

    s = sub.add_parser(
        "segment",
        help="transfer the atlas labels to new images",
        description="Segment images with a trained run: predict the atlas-to-image field and "
        "carry the atlas labels along it, back onto each scan's own grid. Writes OUT/<subject>_labels.<ext> "
        "in each input's format, affine and header. Atlas, spacing and box come from the model.",
    )
    s.add_argument("--model", metavar="RUN_DIR", help="run folder written by 'ltnet train'")
    s.add_argument(
        "--affine-only",
        action="store_true",
        help="no model: carry labels through the affine alignment alone (needs --atlas, --atlas-labels)",
    )
    s.add_argument("--atlas", help="atlas image, with --affine-only")
    s.add_argument("--atlas-labels", help="atlas label map, with --affine-only")
    s.add_argument("--images", required=True, nargs="+", help="images to segment, or folders of them")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument(
        "--save-field",
        action="store_true",
        help="also write <subject>_field: per voxel, the RAS millimetres to its atlas point, (X, Y, Z, 3)",
    )
    s.add_argument("--save-warped", action="store_true", help="also write <subject>_warped: the warped atlas")
    s.add_argument(
        "--save-qc",
        action="store_true",
        help="also run G_B and write <subject>_qc: the cycle error |dpF(t) + dpB(t + dpF(t))| in mm per "
        "voxel, with its mean inside each transferred structure in <subject>_segment.json (a quality "
        "score: high where the two networks disagree)",
    )
    s.add_argument(
        "--adapt-steps",
        type=int,
        default=0,
        metavar="N",
        help="test-time adaptation: refine each field for N steps on its own (atlas, image) pair with "
        "the unsupervised L_sim + 3 L_smooth before transfer (no label of the image is read); 0: off. "
        "25 to 50 field steps is the measured sweet spot (bench/RESULTS.md: +0.10 Dice for 5 to 12 s a "
        "scan at 2 mm)",
    )
    s.add_argument(
        "--adapt",
        choices=["field", "weights"],
        default="field",
        help="what adaptation optimises: the displacement field itself (default; instance optimisation, "
        "cheap per step) or a copy of G_F's weights",
    )
    s.add_argument(
        "--adapt-lr",
        type=float,
        default=None,
        metavar="LR",
        help="Adam learning rate of the adaptation (default: 0.1 voxel per step for the field, 1e-4 for "
        "the weights)",
    )
    s.add_argument(
        "--interp",
        choices=["linear", "nearest"],
        default="linear",
        help="label warping: one-hot trilinear + argmax (default), or nearest neighbour",
    )
    s.add_argument(
        "--overwrite",
        action="store_true",
        help="rewrite finished outputs (default: skip subjects whose outputs exist: a stopped run resumes)",
    )
    s.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes that read and prepare the next scans while the network runs (default: 1; "
        "0 does everything in this process)",
    )
    s.add_argument(
        "--shard",
        default="0/1",
        metavar="I/N",
        help="take every N-th scan from the I-th, so that N processes or GPUs split one folder "
        "without doing any scan twice (default: 0/1, all scans)",
    )
    s.add_argument("--device", **dev)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    prep_options(s)
    s.set_defaults(func=cmd_segment)

    r = sub.add_parser(
        "prepare",
        help="align scans to the atlas and write them on the working grid",
        description="Affinely align each scan to the atlas (ANTs), resample it onto the working grid "
        "and rescale intensities, as train and segment do; write OUT/atlas.nii.gz, "
        "OUT/atlas_labels.nii.gz and OUT/<subject>.nii.gz. Results are cached.",
    )
    r.add_argument("--atlas", required=True, help="atlas image")
    r.add_argument("--atlas-labels", required=True, help="atlas label map")
    r.add_argument("--images", required=True, nargs="+", help="scans, or folders of them")
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    prep_options(r)
    r.set_defaults(func=cmd_prepare)

    e = sub.add_parser(
        "evaluate",
        help="Dice and HD95 of predicted label maps against the truth",
        description="Dice and 95th-percentile Hausdorff distance (mm) per structure and subject, the "
        "paper's summary (mean (std), min, max of the subjects' mean Dice) and the left/right-merged "
        "table; written as dice.csv, dice.json and dice.md in OUT and printed. Files pair by subject "
        "name. Where 'segment' left a <subject>_segment.json beside a prediction, its field's folding "
        "(% of voxels with Jacobian determinant <= 0, std of log det) and QC scores are included.",
    )
    e.add_argument(
        "--pred", required=True, nargs="+", help="predicted label maps (<subject>_labels.*) or folders"
    )
    e.add_argument("--truth", required=True, nargs="+", help="true label maps or folders")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--labels", type=int, nargs="+", help="label ids to score (default: the 28 of the SPEC)")
    e.add_argument(
        "--no-hd95",
        action="store_true",
        help="skip the 95th-percentile Hausdorff distance (mm, MONAI), computed beside Dice by default",
    )
    e.set_defaults(func=cmd_evaluate)

    a = sub.add_parser(
        "select-atlas",
        help="pick the image closest to the average of all",
        description="Print the image most similar (NCC) to the average of all the given images, "
        "aligned affinely to the first where they do not share one grid. Scores go to stderr.",
    )
    a.add_argument("images", nargs="+", help="candidate images, or folders of them")
    a.add_argument(
        "--spacing", type=float, default=2.0, help="grid spacing of the comparison (default: 2 mm)"
    )
    prep_options(a, with_grid=False)
    a.set_defaults(func=cmd_select_atlas)

    d = sub.add_parser(
        "demo",
        help="the main job on the bundled synthetic brains: train, segment, score, report",
        description="Run ltnet end to end on its bundled demo data (20 synthetic T1 brains with real "
        "anatomy on a 3 mm grid): pick the atlas, score affine-only transfer, fine-tune the shipped "
        "LT-Net on the unlabelled images, segment and score two held-out subjects (also with test-time "
        "adaptation), and write an HTML report. About 2-3 minutes on a 2-core CPU.",
    )
    d.add_argument("--out", default="ltnet-demo", help="output folder (default: ./ltnet-demo)")
    d.add_argument("--steps", type=int, default=DEMO_STEPS, help=f"training steps (default: {DEMO_STEPS})")
    d.add_argument(
        "--from-scratch", action="store_true", help="do not start from the shipped model: train anew"
    )
    d.add_argument("--overwrite", action="store_true", help="replace an earlier demo in --out")
    d.add_argument("--device", **dev)
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(func=cmd_demo)

    da = sub.add_parser(
        "dataaug",
        help="the paper's other one-shot baseline: DataAug (learned transformation augmentation)",
        description="DataAug (Zhao et al., CVPR 2019): spatial models atlas<->image (ltnet's voxelmorph "
        "variant and its mirror), an appearance model, labelled examples synthesised from independent "
        "spatial and appearance draws, and a U-Net segmenter trained on them. 'dataaug train' then "
        "'dataaug segment'.",
    )
    dsub = da.add_subparsers(dest="dataaug_command", required=True, metavar="{train,segment}")
    dt = dsub.add_parser(
        "train", help="train the DataAug models", description="Train DataAug; writes RUN_DIR/dataaug.pt."
    )
    dt.add_argument("--atlas", required=True, help="atlas image (NIfTI or MGZ)")
    dt.add_argument("--atlas-labels", required=True, help="atlas label map")
    dt.add_argument("--images", required=True, nargs="+", help="unlabelled images, or folders of them")
    dt.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder")
    dt.add_argument(
        "--spatial-steps", type=int, default=1000, help="steps of each spatial model (default: 1000)"
    )
    dt.add_argument(
        "--appearance-steps", type=int, default=1000, help="appearance model steps (default: 1000)"
    )
    dt.add_argument("--seg-steps", type=int, default=2000, help="segmenter steps (default: 2000)")
    dt.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="wall-clock seconds for the whole training; the segmenter stops early once they are "
        "spent (its steps run are saved in config.json). Default: no limit",
    )
    dt.add_argument(
        "--seg-dims",
        type=int,
        choices=[2, 3],
        default=2,
        help="2: U-Net over axial slices (default), 3: 3D U-Net",
    )
    dt.add_argument(
        "--half-res",
        action="store_true",
        help="the spatial models predict their fields at half resolution, as 'ltnet train --half-res'",
    )
    dt.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    dt.add_argument("--device", **dev)
    dt.add_argument("--quiet", action="store_true", help="no progress bars")
    prep_options(dt)
    dt.set_defaults(func=cmd_dataaug_train)
    dsg = dsub.add_parser(
        "segment",
        help="segment images with a DataAug model",
        description="Segment images with the DataAug segmenter; labels on each scan's own grid, as "
        "'ltnet segment'.",
    )
    dsg.add_argument(
        "--model", required=True, metavar="RUN_DIR", help="run folder written by 'ltnet dataaug train'"
    )
    dsg.add_argument("--images", required=True, nargs="+", help="images, or folders of them")
    dsg.add_argument("--out", required=True, help="output folder")
    dsg.add_argument("--overwrite", action="store_true", help="rewrite subjects already segmented")
    dsg.add_argument("--cache", help="cache of prepared scans (default: ~/.cache/ltnet, or $LTNET_CACHE)")
    dsg.add_argument("--no-cache", action="store_true", help="prepare every scan anew, store nothing")
    dsg.add_argument("--device", **dev)
    dsg.add_argument("--quiet", action="store_true", help="no progress bar")
    dsg.set_defaults(func=cmd_dataaug_segment)

    rp = sub.add_parser(
        "report",
        help="one self-contained HTML page for a run: losses, Dice, labels on slices",
        description="Write RUN_DIR/report.html (or --out): the training loss curves, and with "
        "--scores the Dice table and per-structure chart, and with --labels three orthogonal slices of "
        "every segmented subject with its labels in FreeSurfer colours (and, with --truth, where they "
        "disagree with the true labels). Images are embedded: the page opens offline.",
    )
    rp.add_argument("run", metavar="RUN_DIR", help="run folder written by 'ltnet train'")
    rp.add_argument("--labels", metavar="DIR", help="an 'ltnet segment' output folder to show")
    rp.add_argument("--truth", nargs="+", help="true label maps (paired with the subjects by name)")
    rp.add_argument("--scores", metavar="DIR", help="'ltnet evaluate' output for this run")
    rp.add_argument(
        "--compare",
        nargs="+",
        metavar="NAME=DIR",
        help="other 'ltnet evaluate' outputs to show beside it, e.g. affine=scores_affine/",
    )
    rp.add_argument("--out", help="the HTML file (default: RUN_DIR/report.html)")
    rp.set_defaults(func=cmd_report)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"ltnet {args.command}: warning: {message}", file=sys.stderr)

    warnings.showwarning = show_warning  # one line a warning, as for errors
    try:
        return args.func(args)
    except LtnetError as e:
        print(f"ltnet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ltnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
