"""``ltnet select-atlas``: the image closest to the average of all."""

from __future__ import annotations

import argparse
import sys

from ltnet.commands.options import prep_cache, prep_options


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    prep_options(a, with_grid=False, with_mask=False)  # NCC of whole images: no mask is read
    a.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ltnet.atlas import select_atlas
    from ltnet.io import expand_inputs

    best, scores = select_atlas(expand_inputs(args.images), args.spacing, prep_cache(args), progress=True)
    for p, s in sorted(scores.items(), key=lambda kv: -kv[1]):
        print(f"{s:.4f}  {p}", file=sys.stderr)
    print(best)
    return 0
