"""Subject names from file paths, and pairing files by subject."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ltnet.errors import LtnetError

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".mgz", ".mgh")


def split_ext(path: str | Path) -> tuple[str, str]:
    """``sub-01_T1.nii.gz`` -> (``sub-01_T1``, ``.nii.gz``)."""
    name = Path(path).name
    for ext in IMAGE_SUFFIXES:
        if name.lower().endswith(ext):
            return name[: -len(ext)], name[-len(ext) :]
    raise LtnetError(f"{path}: not a volume file: expected one of {', '.join(IMAGE_SUFFIXES)}")


def expand_inputs(paths: Sequence[str | Path], stem_suffix: str = "") -> list[Path]:
    """Files as given; a folder stands for the volume files directly inside it (sorted), or only
    those whose stem ends with ``stem_suffix`` (``_labels`` picks ``segment``'s label maps)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f
                for f in p.iterdir()
                if f.is_file()
                and f.name.lower().endswith(IMAGE_SUFFIXES)
                and split_ext(f)[0].endswith(stem_suffix)
            )
            if not found:
                what = f"*{stem_suffix} volume files" if stem_suffix else "volume files"
                raise LtnetError(f"{p}: folder holds no {what} ({', '.join(IMAGE_SUFFIXES)})")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise LtnetError(f"{p}: no such file or folder")
    return out


def _folder_name(path: str | Path) -> str:
    parent = Path(path).resolve().parent
    return parent.parent.name if parent.name == "mri" else parent.name  # FreeSurfer: <subject>/mri/<file>


def subject_names(paths: Sequence[str | Path], strip_suffix: str = "") -> list[str]:
    """One subject name per path: the file's stem, or its folder's name where inputs share a file
    name (FreeSurfer's ``sub-01/mri/brainmask.mgz`` gives ``sub-01``).

    Where some inputs share a file name and every folder name is distinct, all inputs are named by
    their folder, so ``sub-01/brainmask.mgz`` and ``bert/brain.mgz`` give ``sub-01`` and ``bert``.
    ``strip_suffix`` removes an ltnet output suffix such as ``_labels`` from stems.
    Two inputs with one subject name are an error.
    """
    stems = [split_ext(p)[0] for p in paths]
    if strip_suffix:
        stems = [
            s[: -len(strip_suffix)] if s.endswith(strip_suffix) and s != strip_suffix else s for s in stems
        ]
    stem_counts = Counter(stems)
    names = stems
    if any(c > 1 for c in stem_counts.values()):
        folders = [_folder_name(p) for p in paths]
        if len(set(folders)) == len(folders):
            names = folders
        else:
            names = [f if stem_counts[s] > 1 else s for s, f in zip(stems, folders, strict=True)]
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        clash = [str(p) for p, n in zip(paths, names, strict=True) if n == dupes[0]]
        raise LtnetError(f"two inputs have the subject name {dupes[0]!r}: {', '.join(clash)}")
    return names


def pair_by_subject(
    preds: Sequence[Path], truths: Sequence[Path], pred_suffix: str = "_labels"
) -> list[tuple[str, Path, Path]]:
    """Pair predictions with truths by subject name; an unpaired file is an error."""
    pred_names = dict(zip(subject_names(preds, strip_suffix=pred_suffix), preds, strict=True))
    truth_names = dict(zip(subject_names(truths), truths, strict=True))
    lonely_pred = sorted(set(pred_names) - set(truth_names))
    lonely_truth = sorted(set(truth_names) - set(pred_names))
    if lonely_pred or lonely_truth:
        parts = []
        if lonely_pred:
            parts.append("predictions without a truth: " + ", ".join(str(pred_names[n]) for n in lonely_pred))
        if lonely_truth:
            parts.append(
                "truths without a prediction: " + ", ".join(str(truth_names[n]) for n in lonely_truth)
            )
        raise LtnetError("cannot pair files by subject name; " + "; ".join(parts))
    return [(n, pred_names[n], truth_names[n]) for n in sorted(pred_names)]


def pair_masks(images: Sequence[Path], masks: Sequence[Path] | None) -> list[Path | None]:
    """Each image's brain mask, paired by subject name; all None where no masks are given."""
    if not masks:
        return [None] * len(images)
    by_name = dict(zip(subject_names(masks), masks, strict=True))
    out: list[Path | None] = []
    for name, img in zip(subject_names(images), images, strict=True):
        if name not in by_name:
            raise LtnetError(f"{img}: no brain mask with the subject name {name!r} among --mask")
        out.append(by_name[name])
    return out
