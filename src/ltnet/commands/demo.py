"""``ltnet demo``: the whole job on the bundled demo brains."""

from __future__ import annotations

import argparse

from ltnet.commands.options import DEVICE, pick_device
from ltnet.errors import LtnetError

DEMO_STEPS = 60


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser(
        "demo",
        help="the main job on the bundled synthetic brains: train, segment, score, report",
        description="Run ltnet end to end on its bundled demo data (20 synthetic T1 brains with real "
        "anatomy on a 3 mm grid): pick the atlas, score affine-only transfer, fine-tune the shipped "
        "LT-Net on two new scans as unlabelled images (the transductive setting), segment and "
        "score them (also with test-time adaptation), and write an HTML report. About 2-3 minutes on "
        "a 2-core CPU.",
    )
    d.add_argument("--out", default="ltnet-demo", help="output folder (default: ./ltnet-demo)")
    d.add_argument("--steps", type=int, default=DEMO_STEPS, help=f"training steps (default: {DEMO_STEPS})")
    d.add_argument(
        "--from-scratch", action="store_true", help="do not start from the shipped model: train anew"
    )
    d.add_argument("--overwrite", action="store_true", help="replace an earlier demo in --out")
    d.add_argument("--device", **DEVICE)
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ltnet.demo import run_demo

    if args.steps < 1:
        raise LtnetError(f"--steps {args.steps}: expected 1 or more")
    r = run_demo(
        args.out,
        args.steps,
        device=str(pick_device(args.device)),
        quiet=args.quiet,
        overwrite=args.overwrite,
        use_shipped=not args.from_scratch,
    )
    print(f"mean Dice over the two test subjects: LT-Net {r.dice:.3f}, affine only {r.dice_affine:.3f}")
    if r.dice_shipped is not None:
        print(f"  the shipped model before this demo's training: {r.dice_shipped:.3f}")
    print(f"  LT-Net with test-time adaptation (segment --adapt-steps 50): {r.dice_adapted:.3f}")
    print(f"report: {r.report}  ({r.seconds:.0f} s in all)")
    return 0
