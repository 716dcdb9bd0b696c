"""The paper's figures 3 and 4 from the accuracy benchmark's outputs (PNG files for RESULTS.md).

    python -m bench.figures --profile cpu

Figure 3: for three test subjects, a coronal and an axial slice of the real image ``y`` beside the
synthetic images ``y_bar`` (the atlas warped to it, in the subject's native space) of the learned
rows that have been run (VoxelMorph and the full LT-Net, seed 0). Figure 4: for the test subject
whose affine Dice is the median, one coronal slice with the true labels and the labels of each
method that has been run (affine, ANTs SyN, the best label fusion, VoxelMorph, LT-Net, DataAug,
the U-Net), in FreeSurfer's colours, each titled with its mean Dice for that subject. Rows not yet
run are left out. Writes ``bench/figures/fig3-synthetic.png`` and ``bench/figures/fig4-labels.png``,
and ``bench/figures/multi_atlas.png``: mean Dice against seconds of ``jlf-k`` and ``ltnet-mas-k``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "figures"


def label_dirs(root: Path, steps: int) -> dict[str, Path]:
    """Row name -> folder of ``<subject>_labels.*`` for the rows figure 4 can show."""
    dirs = {"affine": root / "affine" / "labels", "syn": root / "syn-labels"}
    dirs |= {f"jlf-{k}": root / f"jlf{k}-labels" for k in (2, 3, 4, 5)}
    dirs |= {v: root / "seg" / f"ladder-{v}-s0-{steps}" for v in ("voxelmorph", "full")}
    dirs |= {"dataaug": root / "seg" / "dataaug", "unet": root / "unet-labels"}
    return {k: v for k, v in dirs.items() if v.is_dir()}


ROW_ROWS = {"voxelmorph": "ladder-voxelmorph-s0", "full": "ladder-full-s0"}
TITLES = {
    "affine": "affine",
    "syn": "ANTs SyN",
    "voxelmorph": "VoxelMorph",
    "full": "LT-Net",
    "dataaug": "DataAug",
    "unet": "U-Net (supervised)",
}


def find(folder: Path, subject: str, kind: str) -> Path | None:
    hits = sorted(folder.glob(f"{subject}_{kind}.*"))
    return hits[0] if hits else None


def canonical(path: Path) -> np.ndarray:
    """The volume in RAS order (the report's reader, without its voxel sizes)."""
    from ltnet.report import canonical_volume

    return np.asarray(canonical_volume(path)[0])


def subject_dice(rows: Path, row: str) -> dict[str, float]:
    f = rows / f"{row}.json"
    if not f.exists():
        return {}
    return {k: v["mean"] for k, v in json.loads(f.read_text())["dice"]["subjects"].items()}


def coronal(vol: np.ndarray, j: int) -> np.ndarray:
    return vol[:, j, :].T  # RAS: x across, z up


def axial(vol: np.ndarray, k: int) -> np.ndarray:
    return vol[:, :, k].T


def bbox(mask: np.ndarray, margin: int = 6) -> tuple[slice, slice]:
    """The 2D box around a slice's non-zero voxels, so the panels show the brain, not the air."""
    idx = np.argwhere(mask)
    if not idx.size:
        return slice(None), slice(None)
    lo, hi = np.maximum(idx.min(0) - margin, 0), idx.max(0) + margin + 1
    return slice(int(lo[0]), int(hi[0])), slice(int(lo[1]), int(hi[1]))


def figure3(root: Path, steps: int, subjects: list[str], images: Path, truth: Path) -> Path | None:
    from ltnet.report import pyplot

    cols = [("y (real)", None)] + [
        (f"y_bar, {TITLES[v]}", root / "seg" / f"ladder-{v}-s0-{steps}") for v in ("voxelmorph", "full")
    ]
    cols = [(t, d) for t, d in cols if d is None or d.is_dir()]
    if len(cols) < 2:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(2 * len(subjects), len(cols), figsize=(3 * len(cols), 5.6 * len(subjects)))
    axes = np.atleast_2d(axes)
    for s, name in enumerate(subjects):
        img = canonical(images / f"{name}.mgz").astype(np.float32)
        lab = canonical(truth / f"{name}.mgz")
        centre = np.argwhere(lab > 0).mean(0).round().astype(int)
        vmax = float(np.percentile(img, 99.5)) or 1.0
        for c, (title, folder) in enumerate(cols):
            vol = img if folder is None else canonical(find(folder, name, "warped")).astype(np.float32)
            v = vmax if folder is None else float(np.percentile(vol, 99.5)) or 1.0
            for r, (view, cut) in enumerate((("coronal", coronal), ("axial", axial))):
                ax = axes[2 * s + r, c]
                at = centre[1] if view == "coronal" else centre[2]
                box = bbox(cut(img, at) > 0)
                ax.imshow(
                    cut(vol, at)[box],
                    cmap="gray",
                    vmin=0,
                    vmax=v,
                    origin="lower",
                )
                ax.set_xticks([])
                ax.set_yticks([])
                if s == 0 and r == 0:
                    ax.set_title(title, fontsize=10)
                if c == 0:
                    ax.set_ylabel(f"{name}, {view}", fontsize=9)
    fig.tight_layout()
    out = OUT / "fig3-synthetic.png"
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def figure4(root: Path, rows: Path, steps: int, subject: str, truth: Path) -> Path:
    from ltnet.report import label_overlay, pyplot

    dirs = label_dirs(root, steps)
    jlf = [k for k in dirs if k.startswith("jlf-")]
    if jlf:  # only the best label fusion row
        best = max(jlf, key=lambda k: np.mean(list(subject_dice(rows, k).values()) or [0]))
        dirs = {k: v for k, v in dirs.items() if not k.startswith("jlf-") or k == best}
    tru = canonical(truth / f"{subject}.mgz")
    j = int(np.argwhere(tru > 0).mean(0).round()[1])
    panels = [("truth", tru)]
    for k, folder in dirs.items():
        f = find(folder, subject, "labels")
        if f is None:
            continue
        d = subject_dice(rows, ROW_ROWS.get(k, k)).get(subject)
        title = TITLES.get(k, k.replace("jlf-", "ANTs JLF, ") + (" atlases" if k.startswith("jlf") else ""))
        panels.append((title + (f"\nDice {d:.3f}" if d is not None else ""), canonical(f)))
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 3.2))
    box = bbox(coronal(tru, j) > 0)
    for ax, (title, lab) in zip(np.atleast_1d(axes), panels, strict=True):
        ax.imshow(np.zeros(coronal(lab, j)[box].shape), cmap="gray", origin="lower")
        ax.imshow(label_overlay(coronal(lab, j)[box], alpha=1.0), origin="lower")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    out = OUT / "fig4-labels.png"
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def figure_multi_atlas(rows: Path) -> Path | None:
    """Mean Dice against seconds per subject for jlf-k and ltnet-mas-k, k = 2..5 (issue 32); ltnet's
    seconds with the scan's ANTs affine (the affine row's preparation figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def load(name: str) -> dict | None:
        f = rows / f"{name}.json"
        return json.loads(f.read_text()) if f.exists() else None

    affine = load("affine") or {}
    prep = affine.get("prep_seconds_per_subject") or 0.0
    fig, ax = plt.subplots(figsize=(6, 5))
    drawn = False
    for prefix, label, extra, style in (
        ("jlf", "ANTs SyN + joint label fusion", 0.0, "s--"),
        ("ltnet-mas", "ltnet, several atlases (model trained with one)", prep, "o-"),
        ("ltnet-mas-trained", "ltnet, several atlases (model trained with several)", prep, "^-"),
    ):
        pts = [(k, load(f"{prefix}-{k}")) for k in (2, 3, 4, 5)]
        pts = [(k, r) for k, r in pts if r and "dice" in r]
        if not pts:
            continue
        xs = [r["seconds_per_subject"] + extra for _, r in pts]
        ys = [r["dice"]["summary"]["mean"] for _, r in pts]
        ax.plot(xs, ys, style, label=label)
        for (k, _), x, y in zip(pts, xs, ys, strict=True):
            ax.annotate(f"k={k}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=8)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("seconds per subject (2 CPU cores)")
    ax.set_ylabel("mean Dice, 28 structures, 6 subjects")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize=8)  # below: the points stay clear
    fig.tight_layout()
    out = OUT / "multi_atlas.png"
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    args = ap.parse_args()
    from bench import accuracy

    root = REPO / "bench" / "out" / "accuracy" / args.profile  # label maps and warped images
    rows = REPO / "bench" / "results" / args.profile / "rows"  # the row records, kept in git
    steps = accuracy.PROFILES[args.profile].steps
    images, truth = root / "data" / "images", root / "data" / "labels"
    affine = subject_dice(rows, "affine")
    if not affine:
        raise SystemExit("run the affine row first: python -m bench.accuracy --only affine")
    order = sorted(affine, key=affine.get)
    OUT.mkdir(parents=True, exist_ok=True)
    print(figure_multi_atlas(rows) or "multi-atlas figure: no jlf-k or ltnet-mas-k row yet")
    print(figure4(root, rows, steps, order[len(order) // 2], truth))
    print(
        figure3(root, steps, [order[0], order[len(order) // 2], order[-1]], images, truth)
        or "figure 3: no learned row with --save-warped outputs yet"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
