"""``ltnet evaluate``: Dice and HD95 of label maps against the truth."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    e.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
