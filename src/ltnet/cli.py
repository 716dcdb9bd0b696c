"""The ``ltnet`` command line. Heavy modules (torch, MONAI) are imported inside each command, so
``ltnet --help`` is instant. Bad input ends with one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from ltnet import __version__
from ltnet.commands import COMMANDS
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


def build_parser() -> argparse.ArgumentParser:
    """The ``ltnet`` parser, one subcommand a module of :mod:`ltnet.commands`."""
    p = argparse.ArgumentParser(
        prog="ltnet",
        description="One-shot segmentation of 3D scans by label transfer (LT-Net, CVPR 2020): learn dense "
        "correspondences from one labelled atlas to unlabelled scans, and carry the atlas labels along them.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"ltnet {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``ltnet`` command; its exit code (2 on bad input, with one line on stderr)."""
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
