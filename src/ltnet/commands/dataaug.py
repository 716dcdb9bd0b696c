"""``ltnet dataaug train`` and ``ltnet dataaug segment``: the paper's other one-shot baseline."""

from __future__ import annotations

import argparse

from ltnet.commands.options import DEVICE, pick_device, prep_cache, prep_config, prep_options
from ltnet.errors import LtnetError


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    dt.add_argument("--device", **DEVICE)
    dt.add_argument("--quiet", action="store_true", help="no progress bars")
    prep_options(dt)
    dt.set_defaults(func=run_train)
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
    dsg.add_argument("--device", **DEVICE)
    dsg.add_argument("--quiet", action="store_true", help="no progress bar")
    dsg.set_defaults(func=run_segment)


def run_train(args: argparse.Namespace) -> int:
    from ltnet.config import DataAugConfig
    from ltnet.dataaug import train_dataaug
    from ltnet.io import expand_inputs
    from ltnet.trainset import load_train_data

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
        prep_config(args),
        prep_cache(args),
        expand_inputs(args.mask) if args.mask else None,
        progress=not args.quiet,
    )
    print(train_dataaug(cfg, data, args.out, device=pick_device(args.device), progress=not args.quiet))
    return 0


def run_segment(args: argparse.Namespace) -> int:
    from ltnet.dataaug import load_dataaug, segment_dataaug
    from ltnet.io import expand_inputs

    model = load_dataaug(args.model, pick_device(args.device))
    written = segment_dataaug(
        model,
        expand_inputs(args.images),
        args.out,
        prep_cache(args),
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    for p in written:
        print(p)
    return 0
