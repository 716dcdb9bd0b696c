"""The command line on small real scans: FreeSurfer subjects cut down to 4 mm NIfTI and MGZ files
(made in a temporary folder from ../shared/data; skipped where the data is absent)."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from ltnet.cli import main
from tests.conftest import atlas_args

BIG = [2, 41, 3, 42, 7, 46, 8, 47, 10, 49, 16]  # structures that survive 4 mm voxels


@pytest.fixture(scope="module")
def small_brains(shared_data, tmp_path_factory):
    """sub-01..03 brainmask/aseg at 4 mm (every 4th voxel), as NIfTI and MGZ, in native space."""
    d = tmp_path_factory.mktemp("real")
    out = {}
    for sub in ("sub-01", "sub-02", "sub-03"):
        paths = {}
        for kind, fname, dtype in (("image", "brainmask.mgz", np.float32), ("labels", "aseg.mgz", np.int16)):
            img = nib.load(shared_data / "brains" / sub / fname)
            data = np.asanyarray(img.dataobj)[::4, ::4, ::4].astype(dtype)
            affine = img.affine @ np.diag([4.0, 4.0, 4.0, 1.0])
            ext = ".mgz" if sub == "sub-03" else ".nii.gz"
            cls = nib.MGHImage if ext == ".mgz" else nib.Nifti1Image
            (d / kind).mkdir(exist_ok=True)
            p = d / kind / f"{sub}{ext}"
            nii = cls(data, affine)
            if cls is nib.Nifti1Image:
                nii.header.set_xyzt_units("mm")
            nib.save(nii, p)
            paths[kind] = p
        out[sub] = paths
    return out


def test_affine_only_and_train_segment_evaluate_on_real_scans(small_brains, tmp_path):
    atlas = small_brains["sub-01"]
    tests = [small_brains[s] for s in ("sub-02", "sub-03")]
    grid = ["--spacing", "4", "--cache", str(tmp_path / "cache"), "--quiet"]
    assert (
        main(
            [
                "segment",
                "--affine-only",
                *atlas_args(atlas["image"], atlas["labels"]),
                "--images",
                *(str(t["image"]) for t in tests),
                "--out",
                str(tmp_path / "aff"),
                *grid,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                "--pred",
                str(tmp_path / "aff"),
                "--truth",
                *(str(t["labels"]) for t in tests),
                "--out",
                str(tmp_path / "aff_eval"),
                "--labels",
                *map(str, BIG),
            ]
        )
        == 0
    )
    dice = json.loads((tmp_path / "aff_eval" / "dice.json").read_text())["summary"]
    assert dice["n"] == 2 and dice["min"] > 0.45  # affine alignment of two real brains
    # the MGZ input gives an MGZ output with FreeSurfer's vox2ras
    out = nib.load(tmp_path / "aff" / "sub-03_labels.mgz")
    src = nib.load(tests[1]["image"])
    np.testing.assert_allclose(out.header.get_vox2ras(), src.header.get_vox2ras())
    assert out.shape == src.shape
    # learned path: two steps of the full model, then segment
    assert (
        main(
            [
                "train",
                *atlas_args(atlas["image"], atlas["labels"]),
                "--images",
                *(str(small_brains[s]["image"]) for s in small_brains),
                "--out",
                str(tmp_path / "run"),
                "--steps",
                "2",
                *grid,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "segment",
                "--model",
                str(tmp_path / "run"),
                "--images",
                str(tests[0]["image"]),
                "--out",
                str(tmp_path / "seg"),
                "--cache",
                str(tmp_path / "cache"),
                "--quiet",
            ]
        )
        == 0
    )
    pred = nib.load(tmp_path / "seg" / "sub-02_labels.nii.gz")
    assert pred.shape == nib.load(tests[0]["image"]).shape
    assert set(np.unique(np.asanyarray(pred.dataobj))) <= set(
        np.unique(np.asanyarray(nib.load(atlas["labels"]).dataobj))
    )


def test_skull_measure_separates_real_scans(shared_data):
    """Signal volume over the atlas brain: FreeSurfer brainmask (stripped) below the boundary,
    T1 with skull and the raw CANDI scan above it."""
    from ltnet.io import load_image, load_labels
    from ltnet.prepare import SKULL_RATIO, signal_ml

    seg = load_labels(shared_data / "brains" / "sub-01" / "aseg.mgz")
    brain_ml = float((seg.data > 0).sum()) * float(np.prod(seg.spacing)) / 1000
    ratio = {
        n: signal_ml(load_image(shared_data / n)) / brain_ml
        for n in ("brains/sub-02/brainmask.mgz", "brains/sub-02/T1.mgz", "candi/CANDI_BPDwoPsy_030.nii.gz")
    }
    assert ratio["brains/sub-02/brainmask.mgz"] < SKULL_RATIO
    assert ratio["brains/sub-02/T1.mgz"] > SKULL_RATIO
    assert ratio["candi/CANDI_BPDwoPsy_030.nii.gz"] > SKULL_RATIO
