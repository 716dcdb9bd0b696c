"""Train and segment real brains through the ``ltnet`` command line, and time it.

Brings FreeSurfer subjects of ../shared/data/brains onto one grid (MNI305 through each subject's
``talairach.xfm``: a cross-check shortcut until ltnet's own affine preparation lands), then runs
``ltnet train``, ``ltnet segment`` and ``ltnet evaluate`` as a user would, and reports the first
and last value of every loss term, seconds per training step (median), seconds per segment call,
and each command's peak resident memory.

    python -m bench.investigations.train_check --spacing 2 --steps 30            # 80 x 96 x 80 box
    python -m bench.investigations.train_check --spacing 1 --steps 2 \
        --subjects sub-01 sub-02                                              # 160 x 192 x 160
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from ltnet.io.freesurfer import read_xfm
from ltnet.io.resample import box_affine, resample

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("LTNET_DATA", REPO.parent / "shared" / "data"))
CENTER_MM = (0.0, -18.0, 15.0)  # roughly the middle of the brain in MNI305


def to_mni(subject: str, spacing: float, out: Path) -> tuple[Path, Path, int]:
    """Write the subject's brainmask and aseg on the MNI305 box; return the paths and the number of
    labelled voxels on the box's faces (0: the whole brain fits)."""
    src = DATA / "brains" / subject
    shape = tuple(round(n / spacing) for n in (160, 192, 160))
    dst = box_affine(spacing, shape, CENTER_MM)
    mni_to_scanner = np.linalg.inv(read_xfm(src / "talairach.xfm"))
    img, seg = nib.load(src / "brainmask.mgz"), nib.load(src / "aseg.mgz")
    paths = []
    for vol, kind, order, dtype in ((img, "images", 1, np.float32), (seg, "labels", 0, np.int16)):
        data = np.asanyarray(vol.dataobj)
        data = data.astype(np.int32) if order == 0 else data.astype(np.float32)
        res = resample(data, vol.affine, dst, shape, world_to_src_world=mni_to_scanner, order=order)
        p = out / kind / f"{subject}.nii.gz"
        p.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(res.astype(dtype), dst), p)
        paths.append(p)
        if order == 0:
            fg = res > 0
            on_faces = int(sum(fg.take(i, axis=a).sum() for a in range(3) for i in (0, -1)))
    return paths[0], paths[1], on_faces


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GB) of one command, measured by a parent process."""
    code = (
        "import os,resource,subprocess,sys,time,json;t=time.perf_counter();"
        "r=subprocess.run(sys.argv[1:]);"
        "print(json.dumps([time.perf_counter()-t,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1e6,"
        "r.returncode]))"
    )
    p = subprocess.run([sys.executable, "-c", code, *cmd], stdout=subprocess.PIPE, text=True)
    wall, rss, rc = json.loads(p.stdout.strip().splitlines()[-1])
    if rc != 0:
        sys.exit(f"{' '.join(cmd)} failed with exit code {rc}")
    return wall, rss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spacing", type=float, default=2.0)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--variant", default="full")
    ap.add_argument(
        "--subjects",
        nargs="+",
        default=["sub-01", "sub-02", "sub-03"],
        help="the first is the atlas; all are the unlabelled pool",
    )
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "train_check")
    args = ap.parse_args()
    if not (DATA / "brains").exists():
        sys.exit(f"no data at {DATA}: set LTNET_DATA")
    work = args.out / f"{args.spacing:g}mm"
    for d in ("run", "seg", "eval"):
        subprocess.run(["rm", "-rf", str(work / d)], check=True)
    prepared = [to_mni(s, args.spacing, work) for s in args.subjects]
    images = [str(p[0]) for p in prepared]
    labels = [str(p[1]) for p in prepared]
    shape = nib.load(images[0]).shape
    ltnet = [sys.executable, "-m", "ltnet"]
    train_wall, train_rss = run_measured(
        [
            *ltnet,
            "train",
            "--atlas",
            images[0],
            "--atlas-labels",
            labels[0],
            "--images",
            *images,
            "--out",
            str(work / "run"),
            "--steps",
            str(args.steps),
            "--variant",
            args.variant,
            "--quiet",
            "--device",
            "cpu",
        ]
    )
    log = [json.loads(ln) for ln in (work / "run" / "log.jsonl").read_text().splitlines()]
    seg_wall, seg_rss = run_measured(
        [
            *ltnet,
            "segment",
            "--model",
            str(work / "run"),
            "--images",
            images[1],
            "--out",
            str(work / "seg"),
            "--quiet",
            "--device",
            "cpu",
        ]
    )
    dice = None
    if len(images) > 1:
        run_measured(
            [
                *ltnet,
                "evaluate",
                "--pred",
                str(work / "seg"),
                "--truth",
                labels[1],
                "--out",
                str(work / "eval"),
            ]
        )
        dice = json.loads((work / "eval" / "dice.json").read_text())["summary"]["mean"]
    import torch

    terms = [k for k in log[0] if k not in ("step", "seconds")]
    step_s = [r["seconds"] for r in log[1:]] or [log[0]["seconds"]]  # the first step warms up
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "spacing_mm": args.spacing,
        "box": list(shape),
        "subjects": args.subjects,
        "variant": args.variant,
        "steps": args.steps,
        "labelled_voxels_on_box_faces": [p[2] for p in prepared],
        "first": {k: log[0][k] for k in terms},
        "last": {k: log[-1][k] for k in terms},
        "train_step_s_median": statistics.median(step_s),
        "train_wall_s": train_wall,
        "train_peak_rss_gb": train_rss,
        "segment_call_s": seg_wall,
        "segment_peak_rss_gb": seg_rss,
        "dice_after_training": dice,
    }
    (work / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
