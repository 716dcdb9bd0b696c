"""Segmenting a cohort: one process against shards, and memory against the number of scans (issue 10).

Makes a cohort of N scans from the skull-stripped real brains of ../shared/data (the FreeSurfer
subjects and bert but the atlas, repeated under new subject names until there are N), a model at the 2 mm
working grid (atlas sub-01; untrained weights: the speed does not depend on them), fills the
preparation cache once, then times ``ltnet segment`` as a user runs it:

- one process over N scans, and two processes with ``--shard 0/2`` and ``--shard 1/2`` at once;
- the peak resident memory of one process over 5 scans and over N.

    python -m bench.investigations.segment_scale --scans 20

Writes ``bench/out/segment_scale/report.json`` and prints a table. Preparation (ANTs) is taken
from the cache in the timed runs, so the figures are reading, network, label transfer, writing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("LTNET_DATA", REPO.parent / "shared" / "data"))

MEASURE = (
    "import resource,subprocess,sys,json,time;t=time.perf_counter();r=subprocess.run(sys.argv[1:]);"
    "print(json.dumps([time.perf_counter()-t,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1e6,"
    "r.returncode]))"
)


def start(cmd: list[str]) -> subprocess.Popen:
    """A command run under a parent that reports its wall seconds and peak memory (GB)."""
    return subprocess.Popen([sys.executable, "-c", MEASURE, *cmd], stdout=subprocess.PIPE, text=True)


def finish(p: subprocess.Popen) -> tuple[float, float]:
    out, _ = p.communicate()
    wall, rss, rc = json.loads(out.strip().splitlines()[-1])
    if rc != 0:
        sys.exit(f"a segment run failed with exit code {rc}")
    return wall, rss


def cohort(n: int, root: Path) -> list[Path]:
    sources = [s for s in sorted(DATA.glob("brains/*/brainmask.mgz")) if s.parent.name != "sub-01"]
    sources += sorted(DATA.glob("brains/bert/brain.mgz"))
    if not sources:
        sys.exit(f"no scans under {DATA} (set LTNET_DATA)")
    paths = []
    for i in range(n):
        src = sources[i % len(sources)]
        dst = root / f"scan-{i:03d}" / "brainmask.mgz"  # one file name: subjects take the folder's
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            shutil.copyfile(src, dst)  # a copy: ltnet names a linked file by its target's folder
        paths.append(dst)
    return paths


def make_model(run: Path) -> None:
    import torch

    from ltnet.atlas import load_atlas
    from ltnet.checkpoint import save_checkpoint
    from ltnet.config import PrepConfig, TrainConfig
    from ltnet.model import build_models

    prep = PrepConfig(spacing=2.0)
    atlas = load_atlas(DATA / "brains/sub-01/brainmask.mgz", DATA / "brains/sub-01/aseg.mgz", prep)
    cfg = TrainConfig(variant="full")
    torch.manual_seed(0)
    model, _ = build_models(cfg)
    state = {"config": cfg.to_dict(), "step": 0, "model": model.state_dict(), "atlas": atlas.to_state()}
    save_checkpoint(run / "checkpoint.pt", {**state, "prep": prep.to_dict(), "image_paths": []})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scans", type=int, default=20)
    ap.add_argument("--out", default=str(REPO / "bench" / "out" / "segment_scale"))
    args = ap.parse_args()
    out = Path(args.out)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    cache, run = work / "cache", work / "run"
    run.mkdir(exist_ok=True)
    make_model(run)
    scans = cohort(args.scans, work / "cohort")
    ltnet = [sys.executable, "-m", "ltnet", "segment", "--model", str(run), "--cache", str(cache), "--quiet"]

    def seg(paths: list[Path], dst: str, *extra: str) -> list[str]:
        shutil.rmtree(work / dst, ignore_errors=True)
        return [*ltnet, "--images", *map(str, paths), "--out", str(work / dst), *extra]

    print("filling the preparation cache", flush=True)
    finish(start(seg(scans, "warm")))
    report: dict = {"scans": args.scans, "date": time.strftime("%Y-%m-%d")}
    wall, rss = finish(start(seg(scans, "one")))
    report["one_process"] = {"seconds": wall, "peak_gb": rss}
    procs = [start(seg(scans, f"shard{i}", "--shard", f"{i}/2")) for i in range(2)]
    t = time.perf_counter()
    shards = [finish(p) for p in procs]
    report["two_shards"] = {
        "seconds": time.perf_counter() - t,
        "per_shard": [{"seconds": w, "peak_gb": r} for w, r in shards],
        "threads_each": "torch default (2)",
    }
    done = sorted(p.name for i in range(2) for p in (work / f"shard{i}").iterdir())
    report["two_shards"]["outputs"] = len(done)
    report["two_shards"]["no_scan_twice"] = len(done) == len(set(done)) == args.scans
    wall5, rss5 = finish(start(seg(scans[:5], "five")))
    report["five_scans"] = {"seconds": wall5, "peak_gb": rss5}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    n = args.scans
    print(f"one process, {n} scans: {wall:.1f} s, peak {rss:.2f} GB")
    print(
        f"two shards at once, {n} scans: {report['two_shards']['seconds']:.1f} s "
        f"(peaks {shards[0][1]:.2f} and {shards[1][1]:.2f} GB), {len(done)} outputs, none twice: "
        f"{report['two_shards']['no_scan_twice']}"
    )
    print(f"one process, 5 scans: {wall5:.1f} s, peak {rss5:.2f} GB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
