"""``ltnet segment``: carry the atlas labels to new images, with a trained run or the affine alone."""

from __future__ import annotations

import argparse

from ltnet.commands.options import DEVICE, pick_device, prep_cache, prep_config, prep_options
from ltnet.config import DEFAULT_ADAPT_STEPS, DEFAULT_REFINE_LR, DEFAULT_REFINE_STEPS
from ltnet.errors import LtnetError


def _refuse_idle_segment_flags(args: argparse.Namespace) -> None:
    """ltnet segment: a flag that the chosen mode would not read is refused, not ignored."""
    if args.affine_only and args.model:
        raise LtnetError("--model: --affine-only uses no model; give one or the other")
    if args.atlases is not None and args.atlases < 1:
        raise LtnetError(f"--atlases {args.atlases}: expected 1 or more")
    if args.atlas_labels and not args.atlas:
        raise LtnetError("--atlas-labels: give the atlas images with --atlas")
    if args.affine_only and args.forward_only:
        raise LtnetError("--forward-only: --affine-only uses no network")
    optimisation = {
        "--refine-steps": args.refine_steps is not None,
        "--refine-spacing": args.refine_spacing is not None,
        "--refine-lr": args.refine_lr is not None,
        "--adapt-steps": args.adapt_steps is not None,
        "--adapt": args.adapt is not None,
        "--adapt-lr": args.adapt_lr is not None,
        "--fast": args.fast,
    }
    if args.affine_only:
        for flag, on in optimisation.items():
            if on:
                raise LtnetError(f"{flag}: --affine-only has no field to adapt or refine")
    if args.fast:
        for flag in ("--refine-steps", "--refine-lr", "--adapt-steps", "--adapt", "--adapt-lr"):
            if optimisation[flag]:
                raise LtnetError(f"{flag}: --fast is the network's field alone, without optimisation steps")
    if args.refine_steps == 0 and args.refine_lr is not None:
        raise LtnetError("--refine-lr: acts only with refinement steps (--refine-steps N, N > 0)")
    if args.refine_spacing is OFF and (args.refine_steps or args.refine_lr is not None):
        raise LtnetError("--refine-steps/--refine-lr: --refine-spacing off leaves no finer grid to refine on")
    if not args.affine_only:  # the model's run fixes the atlas and the working grid
        given = {
            "--spacing": args.spacing is not None,
            "--box": args.box is not None,
            "--prealigned": args.prealigned,
        }
        for flag, on in given.items():
            if on:
                raise LtnetError(
                    f"{flag}: the model's run fixes the atlas and the grid; it acts only with --affine-only"
                )
    if args.adapt_steps == 0:
        for flag, on in (("--adapt", args.adapt is not None), ("--adapt-lr", args.adapt_lr is not None)):
            if on:
                raise LtnetError(f"{flag}: acts only with adaptation steps (--adapt-steps N, N > 0)")


OFF = "off"


def _or(value, default):
    """A flag's value, or the default where it was not given (None; 0 is a value)."""
    return default if value is None else value


def _refine_spacing(text: str) -> float | str:
    if text == OFF:
        return OFF
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected millimetres or 'off', got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected positive millimetres, got {text}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    s.add_argument(
        "--atlas",
        nargs="+",
        metavar="IMAGE",
        help="atlas image(s): with --affine-only, the atlas (the first fixes the working grid); with "
        "--model, the atlases to transfer from instead of the model's own, aligned onto its working "
        "grid (the model's own atlas among them is recognised; a model trained before models kept "
        "the full-resolution atlas takes it from here for the finer grid)",
    )
    s.add_argument(
        "--atlas-labels",
        nargs="+",
        metavar="LABELS",
        help="the atlases' label maps, paired with --atlas by subject name (one each)",
    )
    s.add_argument(
        "--atlases",
        type=int,
        default=None,
        metavar="K",
        help="with several atlases: use the K most similar to each scan (global NCC after the affine "
        "alignment; default: all of them)",
    )
    s.add_argument(
        "--fusion",
        choices=["local", "vote"],
        default=None,
        help="with several atlases, how their labels are fused: 'local' (default) weights each atlas "
        "per voxel by its local intensity agreement with the scan, (mean squared difference over a "
        "5^3 window)^-2; 'vote': equal weights (majority voting)",
    )
    s.add_argument(
        "--save-prob",
        action="store_true",
        help="also write <subject>_prob: the winning label's probability per voxel (the fused vote "
        "fraction with several atlases), an uncertainty map",
    )
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
        default=None,
        metavar="N",
        help="test-time adaptation on the working grid: optimise each field for N steps on its own "
        "(atlas, image) pair with the unsupervised L_sim + 3 L_smooth (no label of the image is read), "
        f"before the refinement on the finer grid (default: {DEFAULT_ADAPT_STEPS}; 0: off; at 2 mm the "
        "gain stops growing after about 25 field steps, bench/RESULTS.md)",
    )
    s.add_argument(
        "--adapt",
        choices=["field", "weights"],
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
        "--forward-only",
        action="store_true",
        help="G_F's field alone, as the paper segments. Default, for models with a backward network: "
        "the mean of G_F's field and the inverse of G_B's image-to-atlas field (both directions as "
        "an ensemble; +0.009 Dice on the benchmark's screen, see bench/RESULTS.md); for a "
        "diffeomorphic model (train --integration-steps), the mean of the two velocities, which "
        "stays fold-free",
    )
    s.add_argument(
        "--refine-steps",
        type=int,
        default=None,
        metavar="N",
        help="Adam steps that optimise each field on its (atlas, image) pair on the finer grid (L_sim + "
        f"3 L_smooth, no label of the image read) before transfer (default: {DEFAULT_REFINE_STEPS}; 0: none)",
    )
    s.add_argument(
        "--refine-spacing",
        type=_refine_spacing,
        default=None,
        metavar="MM",
        help="the finer grid over the working box that the field is carried to, refined on and the labels "
        "transferred from (default: 1 mm, or the atlas's own voxels if coarser; with several atlases, "
        "off); 'off': the working grid",
    )
    s.add_argument(
        "--refine-lr",
        type=float,
        default=None,
        metavar="LR",
        help=f"Adam rate of the refinement, in voxels of the finer grid a step (default {DEFAULT_REFINE_LR})",
    )
    s.add_argument(
        "--fast",
        action="store_true",
        help="the network's field alone, for when seconds matter more than Dice: no adaptation or "
        "refinement steps (labels still come from the finer grid unless --refine-spacing off)",
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
    s.add_argument("--device", **DEVICE)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    prep_options(s)
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ltnet.cohort import parse_shard
    from ltnet.config import SegmentConfig
    from ltnet.io import expand_inputs
    from ltnet.segment import load_trained, segment_files

    if args.workers < 0:
        raise LtnetError(f"--workers {args.workers}: expected 0 or more")
    if args.adapt_steps is not None and args.adapt_steps < 0:
        raise LtnetError(f"--adapt-steps {args.adapt_steps}: expected 0 or more")
    if args.adapt_lr is not None and not args.adapt_lr > 0:
        raise LtnetError(f"--adapt-lr {args.adapt_lr}: expected a positive learning rate")
    if args.refine_steps is not None and args.refine_steps < 0:
        raise LtnetError(f"--refine-steps {args.refine_steps}: expected 0 or more")
    if args.refine_lr is not None and not args.refine_lr > 0:
        raise LtnetError(f"--refine-lr {args.refine_lr}: expected a positive learning rate")
    _refuse_idle_segment_flags(args)
    shard = parse_shard(args.shard)
    device = pick_device(args.device)
    from ltnet.atlas import load_atlases

    if args.atlas and not args.atlas_labels:
        raise LtnetError("--atlas: give each atlas's label map with --atlas-labels")
    cache = prep_cache(args)
    if args.affine_only:
        if not args.atlas:
            raise LtnetError("--affine-only needs --atlas and --atlas-labels")
        prep, model, amp = prep_config(args), None, False
        atlases = load_atlases(args.atlas, args.atlas_labels, prep, cache, progress=not args.quiet)
        atlas = atlases[0]
    else:
        if not args.model:
            raise LtnetError("give --model RUN_DIR (or --affine-only with --atlas and --atlas-labels)")
        trained = load_trained(args.model, device)
        atlas, prep, model, amp = trained.atlas, trained.prep, trained.model, trained.config.amp
        atlases = trained.atlases
        if args.atlas:
            atlases = load_atlases(args.atlas, args.atlas_labels, prep, cache, atlas, not args.quiet)
        if args.forward_only and model.g_b is None:
            raise LtnetError(
                f"--forward-only: the model ({trained.config.variant}) has no backward network, so it "
                "segments with G_F's field alone anyway"
            )
    several = min(len(atlases), args.atlases or len(atlases)) > 1
    if several and args.refine_spacing is None and (args.refine_steps or args.refine_lr is not None):
        raise LtnetError(
            "--refine-steps/--refine-lr: several atlases are fused on the working grid unless "
            "--refine-spacing MM asks for a finer one"
        )
    if args.fusion and not several:
        raise LtnetError(
            "--fusion: acts only with several atlases (--atlas A1 A2 ..., or a model trained with them)"
        )
    written = segment_files(
        atlas,
        prep,
        model,
        expand_inputs(args.images),
        args.out,
        SegmentConfig(
            interp=args.interp,
            save_field=args.save_field,
            save_warped=args.save_warped,
            save_qc=args.save_qc,
            adapt_steps=0 if args.fast or args.affine_only else _or(args.adapt_steps, DEFAULT_ADAPT_STEPS),
            adapt_mode=args.adapt or "field",
            adapt_lr=args.adapt_lr,
            symmetric=not args.forward_only,
            # several atlases: fused on the working grid unless asked (each finer transfer costs
            # about 10 s an atlas on 2 cores; bench/RESULTS.md)
            refine_spacing=None
            if args.refine_spacing is OFF
            else _or(args.refine_spacing, None if several else 1.0),
            refine_steps=0 if args.fast or args.affine_only else _or(args.refine_steps, DEFAULT_REFINE_STEPS),
            refine_lr=_or(args.refine_lr, DEFAULT_REFINE_LR),
            atlases=args.atlases,
            fusion=args.fusion or "local",
            save_prob=args.save_prob,
        ),
        cache=cache,
        masks=expand_inputs(args.mask) if args.mask else None,
        amp=amp,
        progress=not args.quiet,
        overwrite=args.overwrite,
        workers=args.workers,
        shard=shard,
        atlases=atlases,
    )
    for p in written:
        print(p)
    return 0
