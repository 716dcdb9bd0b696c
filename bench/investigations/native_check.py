"""Issue 3's real-data checks, each one command, through the ``ltnet`` command line.

``freesurfer``: atlas sub-01 (brainmask + aseg); the other five FreeSurfer subjects and bert are
segmented straight from their native .mgz files and scored against their own aseg in native
space: affine-only beside LT-Net (trained at --spacing on all seven images, labels unread).

``candi``: atlas sub-01's T1.mgz (with skull) and aseg; both raw CANDI scans (skull, 0.94 x 0.94 x
1.5 mm, int16) are segmented; under the transferred labels, T1 contrast demands mean intensity
white matter > cortex > lateral ventricle in each hemisphere; volumes (mL) beside the atlas's.

    python -m bench.investigations.native_check freesurfer --steps 200 --spacing 2
    python -m bench.investigations.native_check candi --steps 200 --spacing 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("LTNET_DATA", REPO.parent / "shared" / "data"))
BRAINS = DATA / "brains"
FS_SUBJECTS = ["sub-01", "sub-02", "sub-03", "sub-04", "sub-05", "sub-06"]
VOLUME_LABELS = {
    2: "L-WM",
    41: "R-WM",
    3: "L-cortex",
    42: "R-cortex",
    4: "L-lat-vent",
    43: "R-lat-vent",
    17: "L-hippocampus",
    53: "R-hippocampus",
    16: "brain-stem",
    10: "L-thalamus",
    49: "R-thalamus",
}


def ltnet(*args: str) -> float:
    """Run one ltnet command; return its wall seconds."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "ltnet", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"ltnet {' '.join(args)} failed:\n{r.stderr[-3000:]}")
    if r.stderr.strip():
        print("\n".join(ln for ln in r.stderr.splitlines() if "warn" in ln.lower())[-2000:], file=sys.stderr)
    return time.perf_counter() - t0


def summary(eval_dir: Path) -> dict:
    js = json.loads((eval_dir / "dice.json").read_text())
    return {"summary": js["summary"], "subjects": {k: v["mean"] for k, v in js["subjects"].items()}}


def transfer(atlas: Path, atlas_seg: Path, pool: list[Path], tests: list[Path], out: Path, args) -> dict:
    """Affine-only labels into out/affine, then train LT-Net on ``pool`` (resuming a run that was
    stopped) and segment into out/ltnet; return the seconds of each."""
    common = ["--cache", str(args.cache), "--quiet"]
    grid = ["--spacing", str(args.spacing)]
    atlas_args = ["--atlas", str(atlas), "--atlas-labels", str(atlas_seg)]
    secs = {}
    secs["affine_segment_s"] = ltnet(
        "segment",
        "--affine-only",
        *atlas_args,
        *grid,
        "--images",
        *map(str, tests),
        "--out",
        str(out / "affine"),
        *common,
    )
    run = out / "run"
    resume = ["--resume"] if (run / "checkpoint.pt").exists() else []
    secs["train_s"] = ltnet(
        "train",
        *atlas_args,
        *grid,
        "--images",
        *map(str, pool),
        "--out",
        str(run),
        "--steps",
        str(args.steps),
        "--variant",
        args.variant,
        "--checkpoint-every",
        "25",
        *(["--half-res"] if args.half_res else []),
        *resume,
        *common,
    )
    secs["ltnet_segment_s"] = ltnet(
        "segment", "--model", str(run), "--images", *map(str, tests), "--out", str(out / "ltnet"), *common
    )
    return secs


def freesurfer(args: argparse.Namespace, out: Path) -> dict:
    atlas, atlas_seg = BRAINS / "sub-01" / "brainmask.mgz", BRAINS / "sub-01" / "aseg.mgz"
    tests = [BRAINS / s / "brainmask.mgz" for s in FS_SUBJECTS[1:]] + [BRAINS / "bert" / "brain.mgz"]
    truths = [BRAINS / s / "aseg.mgz" for s in [*FS_SUBJECTS[1:], "bert"]]
    res: dict = {
        "atlas": "sub-01",
        "spacing_mm": args.spacing,
        "steps": args.steps,
        "variant": args.variant,
        "half_res": args.half_res,
    }
    res.update(transfer(atlas, atlas_seg, [atlas, *tests], tests, out, args))
    for method in ("affine", "ltnet"):
        ltnet(
            "evaluate",
            "--pred",
            str(out / method),
            "--truth",
            *map(str, truths),
            "--out",
            str(out / f"{method}_eval"),
        )
        res[method] = summary(out / f"{method}_eval")
    return res


def volumes_and_means(labels_path: Path, image_path: Path) -> dict:
    lab = nib.load(labels_path)
    seg = np.asanyarray(lab.dataobj)
    img = np.asanyarray(nib.load(image_path).dataobj).astype(np.float64)
    voxel_ml = float(np.prod(lab.header.get_zooms()[:3])) / 1000
    return {
        name: {
            "ml": float((seg == k).sum() * voxel_ml),
            "mean_intensity": float(img[seg == k].mean()) if (seg == k).any() else None,
        }
        for k, name in VOLUME_LABELS.items()
    }


def candi(args: argparse.Namespace, out: Path) -> dict:
    atlas, atlas_seg = BRAINS / "sub-01" / "T1.mgz", BRAINS / "sub-01" / "aseg.mgz"
    scans = sorted((DATA / "candi").glob("*.nii.gz"))
    pool = [BRAINS / s / "T1.mgz" for s in FS_SUBJECTS] + scans
    res: dict = {
        "atlas": "sub-01 T1.mgz (with skull)",
        "spacing_mm": args.spacing,
        "steps": args.steps,
        "variant": args.variant,
        "atlas_volumes": volumes_and_means(atlas_seg, atlas),
    }
    res.update(transfer(atlas, atlas_seg, pool, scans, out, args))
    for method in ("affine", "ltnet"):
        for scan in scans:
            name = scan.name.split(".")[0]
            stats = volumes_and_means(out / method / f"{name}_labels.nii.gz", scan)
            m = {k: v["mean_intensity"] for k, v in stats.items()}
            order = {
                side: m[f"{side}-WM"] > m[f"{side}-cortex"] > m[f"{side}-lat-vent"] for side in ("L", "R")
            }
            res.setdefault(method, {})[name] = {"wm>cortex>ventricle": order, "structures": stats}
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("check", choices=["freesurfer", "candi"])
    ap.add_argument("--spacing", type=float, default=2.0)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--variant", default="full")
    ap.add_argument("--half-res", action="store_true", help="train with the half-resolution field head")
    ap.add_argument("--cache", type=Path, default=REPO / "bench" / "out" / "cache")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "native_check")
    args = ap.parse_args()
    if not BRAINS.exists():
        sys.exit(f"no data at {DATA}: set LTNET_DATA")
    out = args.out / args.check
    out.mkdir(parents=True, exist_ok=True)
    res = (freesurfer if args.check == "freesurfer" else candi)(args, out)
    (out / "report.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
