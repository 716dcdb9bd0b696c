"""``ltnet report``: one self-contained HTML page for a run."""

from __future__ import annotations

import argparse

from ltnet.errors import LtnetError


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    rp.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
