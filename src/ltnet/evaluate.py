"""Evaluation (SPEC, 'Evaluation protocol'): Dice per structure and subject, the paper's summary
over subjects, and the per-structure table with left and right merged. Dice is a fraction in [0, 1]."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from monai.metrics import compute_dice

from ltnet.errors import LtnetError
from ltnet.io import atomic_write_text, load_labels, pair_by_subject
from ltnet.io.atomic import ensure_writable_dir
from ltnet.io.resample import native_order
from ltnet.labels import EVAL_LABELS, MERGED_STRUCTURES, label_name


def dice_per_label(pred: np.ndarray, truth: np.ndarray, labels: Sequence[int], chunk: int = 8) -> np.ndarray:
    """Dice of each label between two id maps (X, Y, Z); NaN where the truth lacks the label.

    Computed with MONAI's ``compute_dice`` on one-hot maps cropped to the labelled region.
    """
    if pred.shape != truth.shape:
        raise ValueError(f"prediction {pred.shape} and truth {truth.shape} differ in shape")
    pred, truth = native_order(pred), native_order(truth)
    ids = np.asarray(labels)
    mask = np.isin(pred, ids) | np.isin(truth, ids)
    if not mask.any():
        return np.full(len(ids), np.nan)
    box = tuple(slice(int(a.min()), int(a.max()) + 1) for a in np.nonzero(mask))
    p = torch.from_numpy(np.ascontiguousarray(pred[box]))
    t = torch.from_numpy(np.ascontiguousarray(truth[box]))
    out = []
    for start in range(0, len(ids), chunk):
        part = torch.as_tensor(ids[start : start + chunk])[:, None, None, None]
        p1 = (p[None] == part).float()[None]
        t1 = (t[None] == part).float()[None]
        out.append(compute_dice(p1, t1, include_background=True, ignore_empty=True)[0])
    return torch.cat(out).double().numpy()


def hd95_per_label(
    pred: np.ndarray, truth: np.ndarray, labels: Sequence[int], spacing: Sequence[float]
) -> np.ndarray:
    """95th-percentile symmetric Hausdorff distance (mm) of each label, MONAI's
    ``compute_hausdorff_distance`` on the label's own bounding box; NaN where either map lacks it."""
    from monai.metrics import compute_hausdorff_distance

    if pred.shape != truth.shape:
        raise ValueError(f"prediction {pred.shape} and truth {truth.shape} differ in shape")
    pred, truth = native_order(pred), native_order(truth)
    out = np.full(len(labels), np.nan)
    for i, lab in enumerate(labels):
        p, t = pred == lab, truth == lab
        if not (p.any() and t.any()):
            continue
        both = p | t
        box = tuple(
            slice(max(int(a.min()) - 1, 0), int(a.max()) + 2) for a in np.nonzero(both)
        )  # one voxel of margin, so every surface is inside the box
        pt = torch.from_numpy(np.ascontiguousarray(p[box]))[None, None].float()
        tt = torch.from_numpy(np.ascontiguousarray(t[box]))[None, None].float()
        with warnings.catch_warnings():
            # MONAI passes its own deprecated always_return_as_numpy internally (MONAI issue 9059)
            warnings.filterwarnings("ignore", message=".*always_return_as_numpy.*", category=FutureWarning)
            hd = compute_hausdorff_distance(
                pt, tt, include_background=True, percentile=95, spacing=list(spacing)
            )
        out[i] = float(hd[0, 0])
    return out


@dataclass
class Evaluation:
    """Dice (and HD95, in mm) per subject and label, the summaries derived from them, and what
    ``segment`` recorded about each subject's field (folding, QC), where it did."""

    labels: tuple[int, ...]
    dice: dict[str, np.ndarray] = field(default_factory=dict)  # subject -> (L,) in label order
    hd95: dict[str, np.ndarray] = field(default_factory=dict)  # subject -> (L,) mm
    records: dict[str, dict] = field(default_factory=dict)  # subject -> deformation/qc/adapt

    def subject_means(self) -> dict[str, float]:
        return {s: float(np.nanmean(d)) if np.isfinite(d).any() else math.nan for s, d in self.dice.items()}

    def summary(self) -> dict[str, float]:
        """Mean (population std), min and max over subjects of each subject's mean Dice."""
        m = np.array([v for v in self.subject_means().values() if math.isfinite(v)])
        if m.size == 0:
            return {"n": 0, "mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan}
        return {
            "n": int(m.size),
            "mean": float(m.mean()),
            "std": float(m.std()),
            "min": float(m.min()),
            "max": float(m.max()),
        }

    def per_structure(self) -> dict[int, dict[str, float]]:
        """Mean and std over subjects of each label's Dice."""
        arr = np.stack(list(self.dice.values()))
        return {
            lab: {"mean": _nanstat(arr[:, i], np.nanmean), "std": _nanstat(arr[:, i], np.nanstd)}
            for i, lab in enumerate(self.labels)
        }

    def merged(self) -> dict[str, dict[str, float]]:
        """Paper table 5: left and right merged (the mean of the two Dice), then mean/std over subjects."""
        idx = {lab: i for i, lab in enumerate(self.labels)}
        arr = np.stack(list(self.dice.values()))
        out = {}
        for name, labs in MERGED_STRUCTURES:
            if all(lab in idx for lab in labs):
                per_subject = _nanmean_rows(arr[:, [idx[lab] for lab in labs]])
                out[name] = {
                    "mean": _nanstat(per_subject, np.nanmean),
                    "std": _nanstat(per_subject, np.nanstd),
                }
        return out

    def hd95_means(self) -> dict[str, float]:
        return {s: _nanstat(d, np.nanmean) for s, d in self.hd95.items()}

    def to_json(self) -> dict:
        summary = self.summary()
        if self.hd95:
            summary["hd95_mean_mm"] = _clean(_nanstat(np.array(list(self.hd95_means().values())), np.nanmean))
        subjects = {}
        for s, d in self.dice.items():
            subjects[s] = {
                "mean": self.subject_means()[s],
                "dice": {str(lab): _clean(v) for lab, v in zip(self.labels, d, strict=True)},
            }
            if s in self.hd95:
                subjects[s]["hd95_mean_mm"] = _clean(self.hd95_means()[s])
                subjects[s]["hd95_mm"] = {
                    str(lab): _clean(v) for lab, v in zip(self.labels, self.hd95[s], strict=True)
                }
            subjects[s].update(self.records.get(s, {}))
        per_structure = {str(k): v for k, v in self.per_structure().items()}
        if self.hd95:
            arr = np.stack(list(self.hd95.values()))
            for i, lab in enumerate(self.labels):
                per_structure[str(lab)]["hd95_mean_mm"] = _clean(_nanstat(arr[:, i], np.nanmean))
        return {
            "metric": "dice",
            "labels": list(self.labels),
            "summary": summary,
            "subjects": subjects,
            "per_structure": per_structure,
            "merged": self.merged(),
        }

    @classmethod
    def from_json(cls, data: dict) -> Evaluation:
        """The evaluation a ``to_json()`` record (a ``dice.json``) was written from: Dice, HD95 and the
        per-subject records, so that scores of disjoint subject sets can be merged and summarised."""
        labels = tuple(int(x) for x in data["labels"])

        def column(values: dict) -> np.ndarray:
            return np.array([math.nan if values[str(lab)] is None else values[str(lab)] for lab in labels])

        result = cls(labels)
        for s, rec in data["subjects"].items():
            result.dice[s] = column(rec["dice"])
            if "hd95_mm" in rec:
                result.hd95[s] = column(rec["hd95_mm"])
            extra = {k: v for k, v in rec.items() if k not in ("mean", "dice", "hd95_mean_mm", "hd95_mm")}
            if extra:
                result.records[s] = extra
        return result

    def merge(self, other: Evaluation) -> Evaluation:
        """This evaluation and ``other`` (other subjects, same labels) as one."""
        if other.labels != self.labels:
            raise ValueError(f"cannot merge evaluations of different labels: {self.labels}, {other.labels}")
        shared = set(self.dice) & set(other.dice)
        if shared:
            raise ValueError(f"subjects scored twice: {sorted(shared)}")
        return Evaluation(
            self.labels,
            {**self.dice, **other.dice},
            {**self.hd95, **other.hd95},
            {**self.records, **other.records},
        )

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["subject", "mean", *(f"{lab}:{label_name(lab)}" for lab in self.labels)])
        for s, d in self.dice.items():
            w.writerow([s, _fmt(self.subject_means()[s]), *(_fmt(v) for v in d)])
        return buf.getvalue()

    def to_markdown(self) -> str:
        s = self.summary()
        lines = [
            f"Dice over {s['n']} subjects "
            f"(each subject's score is its mean over {len(self.labels)} structures)",
            "",
            "| mean (std) | min | max |",
            "| --- | --- | --- |",
            f"| {s['mean']:.3f} ({s['std']:.3f}) | {s['min']:.3f} | {s['max']:.3f} |",
            "",
        ]
        hd = self.hd95_means()
        fold = {k: r.get("deformation", {}).get("folding_percent") for k, r in self.records.items()}
        head, rule = "| subject | mean Dice |", "| --- | --- |"
        if hd:
            head, rule = head + " mean HD95 (mm) |", rule + " --- |"
        if any(v is not None for v in fold.values()):
            head, rule = head + " folding (% det <= 0) |", rule + " --- |"
        lines += [head, rule]
        for k, v in self.subject_means().items():
            row = f"| {k} | {v:.3f} |"
            if hd:
                row += f" {hd.get(k, math.nan):.2f} |"
            if any(x is not None for x in fold.values()):
                row += f" {fold[k]:.3f} |" if fold.get(k) is not None else " - |"
            lines.append(row)
        merged = self.merged()
        if merged:
            lines += ["", "| structure (left and right merged) | mean (std) |", "| --- | --- |"]
            lines += [f"| {n} | {v['mean']:.3f} ({v['std']:.3f}) |" for n, v in merged.items()]
        return "\n".join(lines) + "\n"


def _nanstat(a: np.ndarray, fn) -> float:
    a = np.asarray(a, dtype=float)
    return float(fn(a)) if np.isfinite(a).any() else math.nan


def _nanmean_rows(a: np.ndarray) -> np.ndarray:
    """Row means ignoring NaN; NaN (without a warning) for a row with no finite value."""
    finite = np.isfinite(a)
    total = np.where(finite, a, 0.0).sum(axis=1)
    count = finite.sum(axis=1)
    return np.divide(total, count, out=np.full(len(a), np.nan), where=count > 0)


def _clean(v: float) -> float | None:
    return None if not math.isfinite(float(v)) else float(v)


def _fmt(v: float) -> str:
    return "" if not math.isfinite(float(v)) else f"{float(v):.6f}"


def evaluate_files(
    preds: Sequence[Path], truths: Sequence[Path], labels: Sequence[int] = EVAL_LABELS, hd95: bool = True
) -> Evaluation:
    """Pair label maps by subject name and score every pair (Dice, and HD95 unless ``hd95`` is
    False). A ``<subject>_segment.json`` beside a prediction adds its deformation, QC and adaptation
    records."""
    if not labels:
        raise LtnetError("no labels to evaluate")
    result = Evaluation(tuple(int(x) for x in labels))
    for subject, p, t in pair_by_subject(list(preds), list(truths)):
        pv, tv = load_labels(p), load_labels(t)
        if pv.shape != tv.shape:
            raise LtnetError(f"{p}: grid {pv.shape} differs from its truth {t} {tv.shape}")
        if not np.allclose(pv.affine, tv.affine, atol=1e-3):
            raise LtnetError(f"{p}: affine differs from its truth {t}: not on the same grid")
        result.dice[subject] = dice_per_label(pv.data, tv.data, result.labels)
        if hd95:
            result.hd95[subject] = hd95_per_label(pv.data, tv.data, result.labels, pv.spacing)
        record = Path(p).parent / f"{subject}_segment.json"
        if record.exists():
            try:
                rec = json.loads(record.read_text())
            except json.JSONDecodeError:
                raise LtnetError(f"{record}: not valid JSON (a damaged 'segment' record)") from None
            result.records[subject] = {k: rec[k] for k in ("deformation", "qc", "adapt") if k in rec}
    return result


def write_evaluation(result: Evaluation, out_dir: str | os.PathLike) -> list[Path]:
    """Write dice.csv, dice.json and dice.md into ``out_dir`` (atomically)."""
    out_dir = ensure_writable_dir(out_dir)
    files = {
        "dice.csv": result.to_csv(),
        "dice.json": json.dumps(result.to_json(), indent=2) + "\n",
        "dice.md": result.to_markdown(),
    }
    for name, text in files.items():
        atomic_write_text(out_dir / name, text)
    return [out_dir / n for n in files]
