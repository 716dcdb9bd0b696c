"""Refinement settings for issue 31: the cpu benchmark's full model (``ladder-full-s0``), segmented
by ``ltnet.segment.segment_files`` with field adaptation on the 2 mm working grid and refinement on
a finer grid, each setting scored in native space on the 28 structures.

    python -m bench.investigations.fine_refinement a0-r0 a200-r0 a50-r20@1 a100-r30@1.5 ...

A setting ``a<N>-r<M>[@<mm>][-lr<LR>]``: N adaptation steps at 2 mm, then M refinement steps at
``mm`` (default 1; ``work``: none, labels from the working grid) with learning rate LR (default
0.1). The benchmark's atlas (sub-03), its pinned
preparation (the cache of bench/out/accuracy), the six test subjects. Writes
``bench/results/cpu/screen/refine/<setting>.json``: mean Dice, per subject, seconds per subject
(the segment record's, preparation excluded: it comes from the cache).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "bench" / "out" / "accuracy" / "cpu" / "runs" / "ladder-full-s0"
SPEC = re.compile(r"a(\d+)-r(\d+)(?:@([\d.]+|work))?(?:-lr([\d.e-]+))?$")


def parse(spec: str) -> dict:
    m = SPEC.match(spec)
    if not m:
        raise SystemExit(f"{spec}: expected a<N>-r<M>[@<mm>][-lr<LR>]")
    a, r, mm, lr = m.groups()
    return {
        "adapt_steps": int(a),
        "refine_steps": int(r),
        "refine_spacing": None if mm == "work" else float(mm or 1.0),
        "refine_lr": float(lr or 0.1),
    }


def main() -> int:
    from bench.accuracy import DATA
    from ltnet.atlas import with_source_from_files
    from ltnet.cache import PrepCache
    from ltnet.config import SegmentConfig
    from ltnet.evaluate import evaluate_files
    from ltnet.segment import load_trained, segment_files

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("settings", nargs="+")
    ap.add_argument(
        "--subjects", nargs="*", default=["bert", "sub-01", "sub-02", "sub-04", "sub-05", "sub-06"]
    )
    ap.add_argument("--run", type=Path, default=RUN)
    args = ap.parse_args()
    pins = json.loads((REPO / "bench" / "results" / "prep-2mm.json").read_text())
    brains = DATA / "brains"
    atlas_dir = brains / pins["atlas"]
    trained = load_trained(args.run)
    atlas = trained.atlas
    if atlas.source is None:  # a model trained before checkpoints kept the full-resolution atlas
        atlas = with_source_from_files(
            atlas, atlas_dir / "brainmask.mgz", atlas_dir / "aseg.mgz", trained.prep
        )
    links = REPO / "bench" / "out" / "accuracy" / "cpu" / "data"  # named by subject (bench.accuracy)
    images = [links / "images" / f"{n}.mgz" for n in args.subjects]
    truths = [links / "labels" / f"{n}.mgz" for n in args.subjects]
    cache = PrepCache(REPO / "bench" / "out" / "accuracy" / "cache")
    dest = REPO / "bench" / "results" / "cpu" / "screen" / "refine"
    dest.mkdir(parents=True, exist_ok=True)
    for spec in args.settings:
        cfg = SegmentConfig(**parse(spec))
        out = REPO / "bench" / "out" / "screen" / "refine" / spec
        t0 = time.perf_counter()
        segment_files(
            atlas, trained.prep, trained.model, images, out, cfg, cache, progress=False, overwrite=True
        )
        wall = time.perf_counter() - t0
        ev = evaluate_files([out / f"{n}_labels.mgz" for n in args.subjects], truths, hd95=False)
        per = {n: float(np.nanmean(ev.dice[n])) for n in args.subjects}
        secs = [json.loads(r.read_text())["seconds"] for r in out.glob("*_segment.json")]
        row = {
            "setting": spec,
            "config": cfg.to_dict(),
            "mean_dice": float(np.mean(list(per.values()))),
            "per_subject": per,
            "seconds_per_subject": float(np.median(secs)),
            "wall_seconds": wall,
        }
        (dest / f"{spec}.json").write_text(json.dumps(row, indent=1) + "\n")
        print(f"{spec}: Dice {row['mean_dice']:.4f}  {row['seconds_per_subject']:.1f} s/subject", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
