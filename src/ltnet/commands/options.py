"""Options and plumbing shared by the commands: device, working-grid preparation, cache."""

from __future__ import annotations

import argparse

from ltnet.errors import LtnetError

DEVICE = {
    "choices": ["auto", "cpu", "cuda"],
    "default": "auto",
    "help": "where to run (default: cuda when available, else cpu)",
}


def pick_device(name: str):
    """The torch device for --device NAME (auto: cuda when available); cuda without one is refused."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise LtnetError("--device cuda: no CUDA device is available (use --device cpu)")
    return torch.device(name)


def prep_config(args: argparse.Namespace):
    """The PrepConfig of --spacing, --box and --prealigned (defaults where not given)."""
    from ltnet.config import PrepConfig

    # not given (None): PrepConfig's defaults; segment --model refuses them given
    grid = {"spacing": args.spacing, "box_mm": None if args.box is None else tuple(args.box)}
    return PrepConfig(prealigned=args.prealigned, **{k: v for k, v in grid.items() if v is not None})


def prep_cache(args: argparse.Namespace):
    """The cache of prepared scans of --cache / --no-cache."""
    from ltnet.cache import PrepCache, default_cache_dir

    return PrepCache(None if args.no_cache else (args.cache or default_cache_dir()))


def prep_options(q: argparse.ArgumentParser, with_grid: bool = True, with_mask: bool = True) -> None:
    """The preparation options: working grid (``with_grid``), brain masks (``with_mask``), cache."""
    if with_grid:
        q.add_argument(
            "--spacing",
            type=float,
            help="working grid spacing in mm (default: 1; 2 for quick CPU work)",
        )
        q.add_argument(
            "--box",
            type=float,
            nargs=3,
            metavar=("X", "Y", "Z"),
            help="working box in mm around the atlas's brain (default: 160 192 160)",
        )
        q.add_argument(
            "--prealigned",
            action="store_true",
            help="inputs are already on the atlas grid: skip alignment and resampling",
        )
    if with_mask:
        q.add_argument("--mask", nargs="+", help="brain masks for the images (paired by subject name)")
    q.add_argument("--cache", help="cache of prepared scans (default: ~/.cache/ltnet, or $LTNET_CACHE)")
    q.add_argument("--no-cache", action="store_true", help="prepare every scan anew, store nothing")
