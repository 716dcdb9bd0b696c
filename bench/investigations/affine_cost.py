"""What the preparation's ANTs affine costs, and what a cheaper one would cost in accuracy (issue 31).

    python -m bench.investigations.affine_cost

For each of the benchmark's six test subjects: the seconds of ``ltnet.registration.affine_register``
with ANTs' "Affine" (the preparation's) and "AffineFast" (its two finest levels skipped), each
registering the scan to the atlas on the 2 mm registration grid as ``prepare_scan`` does, and how
far each result moves the atlas's labelled voxels from where the benchmark's pinned transform puts
them (RMS and maximum, mm). Writes ``bench/results/cpu/screen/affine/affine_cost.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
NAMES = ("bert", "sub-01", "sub-02", "sub-04", "sub-05", "sub-06")


def main() -> int:
    from bench.accuracy import DATA
    from ltnet.atlas import load_atlas
    from ltnet.config import PrepConfig
    from ltnet.io import load_image
    from ltnet.prepare import normalize_intensity
    from ltnet.registration import affine_register

    pins = json.loads((REPO / "bench" / "results" / "prep-2mm.json").read_text())
    a_dir = DATA / "brains" / pins["atlas"]
    atlas = load_atlas(a_dir / "brainmask.mgz", a_dir / "aseg.mgz", PrepConfig(spacing=2.0))
    idx = np.argwhere(atlas.labels > 0)
    pts = (atlas.affine @ np.c_[idx, np.ones(len(idx))].T).T  # labelled voxels, world mm
    links = REPO / "bench" / "out" / "accuracy" / "cpu" / "data" / "images"
    out: dict = {"kinds": {}}
    for kind in ("Affine", "AffineFast"):
        rows = {}
        for n in NAMES:
            vol = load_image(links / f"{n}.mgz")
            t0 = time.perf_counter()
            t = affine_register(
                atlas.image, atlas.affine, normalize_intensity(vol.data), vol.affine, kind=kind
            )
            sec = time.perf_counter() - t0
            pinned = np.asarray(pins["transforms"][n])
            d = np.linalg.norm(((t - pinned) @ pts.T).T[:, :3], axis=1)
            rows[n] = {"seconds": sec, "rms_mm": float(np.sqrt((d**2).mean())), "max_mm": float(d.max())}
            print(kind, n, {k: round(v, 2) for k, v in rows[n].items()}, flush=True)
        out["kinds"][kind] = {
            "subjects": rows,
            "median_seconds": float(np.median([r["seconds"] for r in rows.values()])),
            "median_rms_mm": float(np.median([r["rms_mm"] for r in rows.values()])),
        }
    dest = REPO / "bench" / "results" / "cpu" / "screen" / "affine" / "affine_cost.json"
    dest.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
