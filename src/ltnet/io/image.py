"""Read and write 3D volumes with nibabel, keeping each file's format, affine and header.

Arrays are in the file's voxel order (i, j, k); torch code sees them as (D, H, W) = (i, j, k).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from ltnet.errors import LtnetError
from ltnet.io.atomic import atomic_path
from ltnet.io.naming import split_ext


@dataclass(frozen=True)
class Volume:
    """A 3D array with the image it came from.

    ``data`` is (X, Y, Z); ``image`` is the nibabel image whose header and affine a written
    output copies.
    """

    data: np.ndarray
    image: Any
    path: Path

    @property
    def affine(self) -> np.ndarray:
        return np.asarray(self.image.affine, dtype=np.float64)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.data.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, ...]:
        return tuple(float(s) for s in np.linalg.norm(self.affine[:3, :3], axis=0))


def _read(path: str | os.PathLike) -> tuple[Any, np.ndarray]:
    path = Path(path)
    if not path.exists():
        raise LtnetError(f"{path}: no such file")
    if path.is_dir():
        raise LtnetError(f"{path}: is a folder, expected a volume file")
    split_ext(path)  # names the accepted formats when the extension is wrong
    try:
        img = nib.load(str(path))
        raw = np.asanyarray(img.dataobj)
    except (
        Exception
    ) as e:  # nibabel raises many types for broken files (ImageFileError, EOFError, zlib.error...)
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise LtnetError(f"{path}: cannot read as NIfTI/MGZ ({msg})") from None
    if not (np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)):
        raise LtnetError(f"{path}: unsupported voxel type {raw.dtype} (expected integers or reals)")
    affine = np.asarray(img.affine, dtype=np.float64)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise LtnetError(f"{path}: voxel-to-world affine is not finite and invertible")
    while raw.ndim > 3 and raw.shape[-1] == 1:  # a 4D file holding a single volume
        raw = raw[..., 0]
    if raw.ndim != 3:
        raise LtnetError(f"{path}: expected a 3D volume, got an array of shape {tuple(raw.shape)}")
    if min(raw.shape) < 2:
        raise LtnetError(f"{path}: expected a 3D volume, got shape {tuple(raw.shape)} (a 2D slice?)")
    return img, raw


def load_image(path: str | os.PathLike) -> Volume:
    """Read an intensity image as float32 (X, Y, Z). NaN, inf and all-zero images are errors."""
    img, raw = _read(path)
    data = np.asarray(raw, dtype=np.float32)
    if not np.isfinite(data).all():
        n = int((~np.isfinite(data)).sum())
        raise LtnetError(f"{path}: image holds {n} NaN or infinite voxels")
    if not data.any():
        raise LtnetError(f"{path}: image is all zeros")
    return Volume(data, img, Path(path))


def load_labels(path: str | os.PathLike) -> Volume:
    """Read a label map as int32 (X, Y, Z), keeping every label id. Non-integer values are errors."""
    img, raw = _read(path)
    if np.issubdtype(raw.dtype, np.integer):
        if raw.size and (raw.min() < np.iinfo(np.int32).min or raw.max() > np.iinfo(np.int32).max):
            raise LtnetError(f"{path}: label ids do not fit in 32 bits")
        data = raw.astype(np.int32)
    else:
        if not np.isfinite(raw).all():
            raise LtnetError(f"{path}: label map holds NaN or infinite values")
        rounded = np.rint(raw)
        if not np.array_equal(rounded, raw):
            bad = raw[rounded != raw].flat[0]
            raise LtnetError(
                f"{path}: label map has non-integer values (e.g. {float(bad):g}): is it an image?"
            )
        data = rounded.astype(np.int32)
    return Volume(data, img, Path(path))


def label_dtype(ids: np.ndarray) -> np.dtype:
    """The smallest integer type that holds every id (uint8 for aseg, int16 for aparc+aseg)."""
    lo, hi = (int(ids.min()), int(ids.max())) if ids.size else (0, 0)
    for dt in (np.uint8, np.int16, np.int32):
        if np.iinfo(dt).min <= lo and hi <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise LtnetError(f"label ids {lo}..{hi} do not fit in 32 bits")


def save_like(data: np.ndarray, ref: Volume, path: str | os.PathLike, dtype: Any = None) -> Path:
    """Write ``data`` (X, Y, Z) or (X, Y, Z, C) with ``ref``'s format, affine and header, atomically.

    The format follows ``path``'s extension, which must be of ``ref``'s family (NIfTI stays NIfTI,
    MGZ stays MGZ).
    """
    path = Path(path)
    ext = split_ext(path)[1].lower()
    if data.shape[:3] != ref.shape:
        raise ValueError(f"data of shape {data.shape} does not match the reference grid {ref.shape}")
    dtype = np.dtype(dtype or data.dtype)
    data = np.asarray(data, dtype=dtype)
    header = ref.image.header.copy()
    if ext in (".mgz", ".mgh"):
        if not isinstance(ref.image, nib.MGHImage):
            raise ValueError(f"{path}: an MGZ output needs an MGZ reference, got {type(ref.image).__name__}")
        out = nib.MGHImage(data, ref.affine, header=header)
    else:
        cls = type(ref.image) if isinstance(ref.image, nib.Nifti1Image | nib.Nifti2Image) else nib.Nifti1Image
        if cls is type(ref.image):
            # affine=None: the header's own sform/qform (codes included) are kept exactly
            out = cls(data, None, header=header)
        else:
            out = cls(data, ref.affine)
        out.header.set_slope_inter(1.0, 0.0)
    out.set_data_dtype(dtype)
    with atomic_path(path) as tmp:
        nib.save(out, str(tmp))
    return path


def load_mask(path: str | os.PathLike, like: Volume) -> Volume:
    """Read a brain mask (non-zero = brain) that must lie on ``like``'s grid."""
    mask = load_labels(path)
    if mask.shape != like.shape or not np.allclose(mask.affine, like.affine, atol=1e-3):
        raise LtnetError(
            f"{path}: brain mask grid {mask.shape} differs from its image {like.path} {like.shape}"
        )
    if not (mask.data > 0).any():
        raise LtnetError(f"{path}: brain mask is empty")
    return mask
