"""``ltnet report``: one self-contained HTML page for a run, to open offline or send to a colleague.

The page holds the training loss curves (one panel per term), the Dice summary and a bar chart
per structure for every set of scores given (for example LT-Net beside affine-only), and for each
segmented subject three orthogonal slices: the image, the transferred labels over it in
FreeSurfer's colours, and where a true label map is given, the voxels where the two disagree.
Figures are drawn with matplotlib and embedded as base64 PNG, so the page is one file.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ltnet.errors import LtnetError
from ltnet.io.atomic import atomic_write_text
from ltnet.labels import MERGED_STRUCTURES, label_colour, label_name

DISAGREE_RGB = (1.0, 0.1, 0.1)
# log.jsonl's keys and the SPEC's names for them
TERMS = {
    "total": "generator objective (eq. 11)",
    "sim": "L_sim (LNCC)",
    "smooth": "L_smooth",
    "gan": "L_GAN (generators)",
    "cyc": "L_cyc",
    "trans": "L_trans",
    "anat": "L_anat",
    "diff": "L_diff",
    "disc": "discriminator",
    "sim_b": "G_B's own L_sim",
    "sim_sym": "L_sim of the mean field",
    "r1": "R1 penalty (D)",
}
# per-step keys that are not loss terms: drawn by diagnostics_figure
FIELD_KEYS = ("dpF_abs", "dpB_abs", "dpR_abs")
NOT_TERMS = ("step", "seconds", *FIELD_KEYS)


def _is_term(key: str) -> bool:
    return key not in NOT_TERMS and not key.startswith("grad_")


def diagnostics_figure(log: Sequence[Mapping[str, float]]) -> str | None:
    """Mean |dpF|, |dpB| and |dpR| (voxels) against the step, and the gradient norm each weighted loss
    term puts on dpF and on G_B's output at the logged steps; base64 PNG, None without them.

    A collapse shows as |dpF| falling to zero while the cycle or adversarial terms' pull on dpF
    outweighs L_sim's."""
    if not log or not any("dpF_abs" in r for r in log):
        return None
    plt = pyplot()
    grads = sorted({k for r in log for k in r if k.startswith("grad_")})
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    for key in FIELD_KEYS:
        pts = [(r["step"], r[key]) for r in log if key in r]
        if pts:
            axes[0].plot(*zip(*pts, strict=True), lw=1, label=key.replace("_abs", ""))
    axes[0].set_title("mean displacement (voxels)", fontsize=10)
    axes[0].legend(fontsize=8)
    for ax, field in zip(axes[1:], ("grad_dpF/", "grad_dpB/"), strict=True):
        for key in (k for k in grads if k.startswith(field)):
            pts = [(r["step"], r[key]) for r in log if r.get(key, 0) > 0]
            if pts:
                ax.semilogy(*zip(*pts, strict=True), marker=".", lw=1, label=key.split("/")[1])
        ax.set_title(f"gradient norm on {field[5:-1]} per term", fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=2)
    for ax in axes:
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _png(fig)


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_figure(log: Sequence[Mapping[str, float]]) -> str | None:
    """Each loss term against the step (raw, and a running mean over 5 % of the run); base64 PNG."""
    terms = list(dict.fromkeys(k for r in log for k in r if _is_term(k))) if log else []
    if not terms:
        return None
    plt = pyplot()
    cols = min(4, len(terms))
    rows = math.ceil(len(terms) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.5 * rows), squeeze=False)
    steps = np.array([r["step"] for r in log])
    window = max(1, len(log) // 20)
    for ax, term in zip(axes.ravel(), terms, strict=False):
        v = np.array([r.get(term, np.nan) for r in log], float)
        ax.plot(steps, v, color="0.75", lw=0.8)
        if window > 1 and len(v) >= window:
            smooth = np.convolve(v, np.ones(window) / window, mode="valid")
            ax.plot(steps[window - 1 :], smooth, color="C0", lw=1.5)
        ax.set_title(TERMS.get(term, term), fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(terms) :]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def read_scores(path: str | os.PathLike) -> dict:
    """The ``dice.json`` written by ``ltnet evaluate`` (a folder or the file itself)."""
    p = Path(path)
    p = p / "dice.json" if p.is_dir() else p
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        msg = f"{p}: cannot read Dice scores ({type(e).__name__}); expected 'ltnet evaluate' output"
        raise LtnetError(msg) from None


def dice_figure(scores: Mapping[str, dict]) -> str:
    """Bar chart of each merged structure's mean Dice (with its std over subjects), one bar per
    set of scores; base64 PNG."""
    plt = pyplot()
    names = [n for n, _ in MERGED_STRUCTURES if any(n in s.get("merged", {}) for s in scores.values())]
    # capped width: the page shows it at 1100 px, and a wider figure would shrink to a sliver
    fig, ax = plt.subplots(figsize=(min(14, max(8, 0.25 * len(names) * max(1, len(scores)))), 4.5))
    width = 0.8 / max(1, len(scores))
    x = np.arange(len(names))
    for i, (label, s) in enumerate(scores.items()):
        m = [s["merged"].get(n, {}).get("mean") for n in names]
        e = [s["merged"].get(n, {}).get("std") for n in names]
        ax.bar(
            x + (i - (len(scores) - 1) / 2) * width,
            [np.nan if v is None else v for v in m],
            width,
            yerr=[0 if v is None else v for v in e],
            label=f"{label} (mean {s['summary']['mean']:.3f})",
            capsize=2,
        )
    ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("Dice")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=min(4, len(scores)))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def canonical_volume(path: str | os.PathLike):
    """A NIfTI/MGZ file reoriented to RAS: (its voxels (X, Y, Z, ...), its spacing in mm (3,))."""
    import nibabel as nib

    img = nib.as_closest_canonical(nib.load(str(path)))
    return np.asanyarray(img.dataobj), img.header.get_zooms()[:3]


def _slices(vol: np.ndarray, centre: Sequence[int]) -> list[np.ndarray]:
    """Axial, coronal and sagittal slices of a RAS volume through ``centre``, ready for imshow."""
    i, j, k = centre
    return [vol[:, :, k].T, vol[:, j, :].T, vol[i, :, :].T]


def label_overlay(labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """RGBA (..., 4) float image of a 2D label slice in FreeSurfer's colours."""
    out = np.zeros((*labels.shape, 4), np.float32)
    for lab in np.unique(labels):
        if lab == 0:
            continue
        out[labels == lab] = (*(c / 255 for c in label_colour(int(lab))), alpha)
    return out


def subject_figure(image: Path, labels: Path, truth: Path | None) -> str:
    """Rows: the image; the labels over it; (with ``truth``) the disagreement in red. Columns:
    axial, coronal, sagittal through the centroid of the labelled region. Base64 PNG."""
    plt = pyplot()
    img, zooms = canonical_volume(image)
    lab, _ = canonical_volume(labels)
    if img.shape[:3] != lab.shape:
        raise LtnetError(f"{labels}: grid {lab.shape} differs from its image {image} {img.shape[:3]}")
    img = np.asarray(img, np.float32)
    img = img if img.ndim == 3 else img[..., 0]
    idx = np.argwhere(lab > 0)
    centre = idx.mean(0).round().astype(int) if idx.size else np.asarray(lab.shape) // 2
    vmax = float(np.percentile(img, 99.5)) or 1.0
    rows = [("image", None), ("labels", "labels")]
    tru = None
    if truth is not None:
        tru, _ = canonical_volume(truth)
        if tru.shape != lab.shape:
            raise LtnetError(f"{truth}: grid {tru.shape} differs from the labels' {lab.shape}")
        rows.append(("disagreement with the truth (red)", "diff"))
    aspects = [zooms[1] / zooms[0], zooms[2] / zooms[0], zooms[2] / zooms[1]]
    fig, axes = plt.subplots(len(rows), 3, figsize=(10, 3.3 * len(rows)), squeeze=False)
    im_sl, lab_sl = _slices(img, centre), _slices(lab, centre)
    tru_sl = _slices(tru, centre) if tru is not None else None
    for r, (title, kind) in enumerate(rows):
        for c, view in enumerate(("axial", "coronal", "sagittal")):
            ax = axes[r, c]
            ax.imshow(im_sl[c], cmap="gray", vmin=0, vmax=vmax, origin="lower", aspect=aspects[c])
            if kind == "labels":
                ax.imshow(label_overlay(lab_sl[c]), origin="lower", aspect=aspects[c])
            elif kind == "diff" and tru_sl is not None:
                wrong = (lab_sl[c] != tru_sl[c]) & ((lab_sl[c] > 0) | (tru_sl[c] > 0))
                rgba = np.zeros((*wrong.shape, 4), np.float32)
                rgba[wrong] = (*DISAGREE_RGB, 0.8)
                ax.imshow(rgba, origin="lower", aspect=aspects[c])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(view, fontsize=10)
            if c == 0:
                ax.set_ylabel(title, fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _legend(ids: Sequence[int]) -> str:
    items = []
    for lab in ids:
        r, g, b = label_colour(lab)
        items.append(
            f'<span class="key"><span class="sw" style="background:rgb({r},{g},{b})"></span>'
            f"{lab} {html.escape(label_name(lab))}</span>"
        )
    return '<div class="legend">' + "".join(items) + "</div>"


def _summary_table(scores: Mapping[str, dict]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{s['summary']['n']}</td><td>{s['summary']['mean']:.3f} "
        f"({s['summary']['std']:.3f})</td><td>{s['summary']['min']:.3f}</td><td>{s['summary']['max']:.3f}</td></tr>"
        for k, s in scores.items()
    )
    return (
        "<table><tr><th>method</th><th>subjects</th><th>mean Dice (std)</th><th>min</th><th>max</th></tr>"
        f"{rows}</table>"
    )


def _structure_table(scores: Mapping[str, dict]) -> str:
    labels: list[int] = []
    for s in scores.values():
        labels += [int(v) for v in s.get("labels", []) if int(v) not in labels]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in scores)
    body = []
    for lab in labels:
        cells = []
        for s in scores.values():
            v = s.get("per_structure", {}).get(str(lab), {}).get("mean")
            cells.append(f"<td>{v:.3f}</td>" if v is not None and math.isfinite(v) else "<td>-</td>")
        body.append(f"<tr><td>{lab}</td><td>{html.escape(label_name(lab))}</td>{''.join(cells)}</tr>")
    return f"<table><tr><th>id</th><th>structure</th>{head}</tr>{''.join(body)}</table>"


CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .6em}
th{background:#f3f3f3}img{max-width:100%}.legend{font-size:.8em;columns:3}
.key{display:block}.sw{display:inline-block;width:.9em;height:.9em;margin-right:.4em;vertical-align:middle;
border:1px solid #888}.meta{color:#555;font-size:.9em}
"""


def build_report(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    labels_dir: str | os.PathLike | None = None,
    truth: Sequence[str | os.PathLike] = (),
    scores: Mapping[str, str | os.PathLike] | None = None,
    title: str | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``run_dir/report.html``); return its path.

    ``labels_dir``: a ``segment`` output folder (its ``*_segment.json`` records name each image);
    ``truth``: true label maps, paired with the subjects by name; ``scores``: display name ->
    ``ltnet evaluate`` output, the first being this run's. ``notes``: lines shown under the title.
    """
    from ltnet.io import subject_names
    from ltnet.runtime import read_log

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise LtnetError(f"{run_dir}: not a folder (expected a run folder written by 'ltnet train')")
    out = Path(out) if out is not None else run_dir / "report.html"
    parts = [f"<h1>{html.escape(title or f'ltnet report: {run_dir.name}')}</h1>"]
    parts += [f'<p class="meta">{html.escape(n)}</p>' for n in notes]
    config_path = run_dir / "config.json"
    if config_path.exists():
        cfg = json.loads(config_path.read_text())
        parts.append(
            f'<p class="meta">variant {html.escape(str(cfg.get("variant")))}, {cfg.get("steps")} steps, '
            f"batch {cfg.get('batch_size')}, lr {cfg.get('lr')}, seed {cfg.get('seed')}</p>"
        )

    log = read_log(run_dir) if (run_dir / "log.jsonl").exists() else []
    parts.append("<h2>Training</h2>")
    fig = loss_figure(log)
    if fig:
        secs = sum(r.get("seconds", 0.0) for r in log)
        parts.append(
            f"<p>{len(log)} steps logged, {secs:.0f} s of training steps "
            f"({secs / max(1, len(log)):.2f} s per step). Grey: every step; blue: running mean. Terms: "
            + html.escape(", ".join(TERMS.get(k, k) for k in log[0] if _is_term(k)))
            + ".</p>"
        )
        parts.append(_img(fig, "loss curves"))
        diag = diagnostics_figure(log)
        if diag:
            parts.append(
                "<p>Collapse diagnostics: the forward and backward fields' mean displacement, and how hard "
                "each weighted loss term pulls on them. A forward field near zero (below "
                "0.05 voxel) adds nothing to the affine alignment.</p>"
            )
            parts.append(_img(diag, "collapse diagnostics"))
    else:
        parts.append("<p>No training log in this folder.</p>")

    loaded = {name: read_scores(p) for name, p in (scores or {}).items()}
    if loaded:
        parts.append("<h2>Dice</h2>")
        parts.append(_summary_table(loaded))
        parts.append(_img(dice_figure(loaded), "Dice per structure"))
        parts.append("<h3>Per structure (mean over subjects)</h3>")
        parts.append(_structure_table(loaded))

    if labels_dir is not None:
        labels_dir = Path(labels_dir)
        records = sorted(labels_dir.glob("*_segment.json"))
        if not records:
            raise LtnetError(
                f"{labels_dir}: no *_segment.json here (expected an 'ltnet segment' output folder)"
            )
        truth_paths = [Path(t) for t in truth]
        by_name = dict(zip(subject_names(truth_paths), truth_paths, strict=True)) if truth_paths else {}
        parts.append("<h2>Subjects</h2>")
        shown: set[int] = set()
        for rec_path in records:
            rec = json.loads(rec_path.read_text())
            lab_path = labels_dir / rec["outputs"]["labels"]
            tru = by_name.get(rec["subject"])
            parts.append(f"<h3>{html.escape(rec['subject'])}</h3>")
            per = loaded[next(iter(loaded))]["subjects"].get(rec["subject"]) if loaded else None
            caption = "Rows: the image; the transferred labels in FreeSurfer's colours"
            caption += "; the disagreement with the truth (red)." if tru is not None else " (no truth given)."
            if per is not None:
                caption = f"Mean Dice {per['mean']:.3f}. {caption}"
            parts.append(f"<p>{html.escape(caption)}</p>")
            parts.append(
                _img(subject_figure(Path(rec["image"]), lab_path, tru), f"slices of {rec['subject']}")
            )
            shown |= {int(v) for v in np.unique(canonical_volume(lab_path)[0])}
        parts.append("<h3>Colours (FreeSurfer)</h3>" + _legend(sorted(shown - {0})))
    elif loaded:
        parts.append(_legend(sorted(int(v) for v in next(iter(loaded.values()))["labels"])))

    doc = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title or 'ltnet report')}</title><style>{CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, doc)
    return out
