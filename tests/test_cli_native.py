"""The command line on scans in their own space: other orientations and spacings in, labels out on
each scan's own grid with its header."""

import json

import nibabel as nib
import numpy as np
import pytest

from ltnet.cli import main
from ltnet.config import DEFAULT_ADAPT_STEPS, DEFAULT_REFINE_STEPS
from ltnet.evaluate import dice_per_label
from tests.conftest import atlas_args
from tests.test_prepare import oblique_scan  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def native_scans(oblique_scan, tmp_path_factory):  # noqa: F811
    """Two scans of the oblique subject in other voxel orders (canonical RAS; and flipped),
    MGZ and NIfTI, with their true labels."""
    d = tmp_path_factory.mktemp("native")
    img, lab = nib.load(oblique_scan[0]), nib.load(oblique_scan[1])
    out = []
    for name, fn, ext in (("sub-ras", nib.as_closest_canonical, ".nii.gz"), ("sub-flip", _flip, ".mgz")):
        i2, l2 = fn(img), fn(lab)
        cls = nib.MGHImage if ext == ".mgz" else nib.Nifti1Image
        (d / "img").mkdir(exist_ok=True)
        (d / "lab").mkdir(exist_ok=True)
        nib.save(cls(np.asarray(i2.dataobj, np.float32), i2.affine), d / "img" / f"{name}{ext}")
        nib.save(cls(np.asarray(l2.dataobj, np.int32), l2.affine), d / "lab" / f"{name}{ext}")
        out.append((d / "img" / f"{name}{ext}", d / "lab" / f"{name}{ext}"))
    return out


GRID = ["--spacing", "2", "--box", "96", "112", "96"]  # a small working grid around the synthetic brain


def mean_dice(pred: nib.spatialimages.SpatialImage, truth_path) -> float:
    """Mean Dice over the structures of a true label map."""
    truth = np.asarray(nib.load(truth_path).dataobj)
    ids = [i for i in np.unique(truth) if i]
    return float(np.nanmean(dice_per_label(np.asarray(pred.dataobj), truth, ids)))


def _flip(img):
    """The same scan stored with the first and last voxel axes reversed (world unchanged)."""
    data = np.asarray(img.dataobj)[::-1, :, ::-1]
    a = img.affine.copy()
    n = img.shape
    a[:3, 3] = img.affine[:3, :3] @ [n[0] - 1, 0, n[2] - 1] + img.affine[:3, 3]
    a[:3, 0], a[:3, 2] = -img.affine[:3, 0], -img.affine[:3, 2]
    return nib.Nifti1Image(np.ascontiguousarray(data), a)


def test_affine_only_labels_land_on_each_scans_own_grid(oblique_scan, native_scans, tmp_path):  # noqa: F811
    out = tmp_path / "aff"
    rc = main(
        [
            "segment",
            "--affine-only",
            *atlas_args(oblique_scan[0], oblique_scan[1]),
            *GRID,
            "--images",
            *(str(s[0]) for s in native_scans),
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "cache"),
            "--quiet",
            "--save-field",
        ]
    )
    assert rc == 0
    for img_path, lab_path in native_scans:
        name, ext = img_path.name.split(".", 1)
        pred = nib.load(out / f"{name}_labels.{ext}")
        src = nib.load(img_path)
        assert type(pred) is type(src) and pred.shape == src.shape
        np.testing.assert_allclose(pred.affine, src.affine)
        assert mean_dice(pred, lab_path) > 0.8
        assert nib.load(out / f"{name}_field.{ext}").shape == (*src.shape, 3)


def test_train_and_segment_native_scans(oblique_scan, native_scans, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    cache = str(tmp_path / "cache")
    assert (
        main(
            [
                "train",
                *atlas_args(oblique_scan[0], oblique_scan[1]),
                "--images",
                *(str(s[0]) for s in native_scans),
                "--out",
                str(run),
                "--steps",
                "1",
                *GRID,
                "--cache",
                cache,
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "segment",
                "--model",
                str(run),
                "--images",
                str(native_scans[1][0]),
                "--out",
                str(tmp_path / "seg"),
                "--cache",
                cache,
                "--quiet",
            ]
        )
        == 0
    )
    pred = nib.load(tmp_path / "seg" / "sub-flip_labels.mgz")
    src = nib.load(native_scans[1][0])
    np.testing.assert_allclose(pred.header.get_vox2ras(), src.header.get_vox2ras())
    assert mean_dice(pred, native_scans[1][1]) > 0.75
    # by default the field is refined at 1 mm (the scans' finest voxels) and the labels come from there
    rec = json.loads((tmp_path / "seg" / "sub-flip_segment.json").read_text())
    assert rec["refined_spacing"] == pytest.approx(1.0)
    assert rec["refine"]["steps"] == DEFAULT_REFINE_STEPS > 0
    assert np.isfinite([rec["refine"]["loss_before"], rec["refine"]["loss_after"]]).all()
    assert rec["adapt"]["steps"] == DEFAULT_ADAPT_STEPS
    base = ["segment", "--model", str(run), "--images", str(native_scans[1][0]), "--cache", cache, "--quiet"]
    for flags, spacing, steps in ((["--fast"], 1.0, 0), (["--refine-spacing", "off"], None, None)):
        out = tmp_path / flags[-1]
        assert main([*base, "--out", str(out), *flags]) == 0
        rec = json.loads((out / "sub-flip_segment.json").read_text())
        assert rec["refined_spacing"] == spacing
        assert rec.get("refine", {}).get("steps") == steps
        assert mean_dice(nib.load(out / "sub-flip_labels.mgz"), native_scans[1][1]) > 0.75
    # flags that would not act are refused
    refused = [
        ["--fast", "--refine-steps", "3"],
        ["--fast", "--adapt-steps", "3"],
        ["--refine-steps", "0", "--refine-lr", "0.2"],
        ["--refine-spacing", "off", "--refine-steps", "3"],
    ]
    for flags in refused:
        assert main([*base, "--out", str(tmp_path / "no"), *flags]) == 2, flags
    assert not (tmp_path / "no").exists()
    # the model's own atlas given again is recognised: one atlas, no fusion, the same labels
    own = tmp_path / "own"
    assert main([*base, "--out", str(own), "--fast", *atlas_args(oblique_scan[0], oblique_scan[1])]) == 0
    assert "fusion" not in json.loads((own / "sub-flip_segment.json").read_text())
    assert mean_dice(nib.load(own / "sub-flip_labels.mgz"), native_scans[1][1]) > 0.75


def test_prepare_writes_the_working_grid_and_trains_prealigned(oblique_scan, native_scans, tmp_path):  # noqa: F811
    out = tmp_path / "prep"
    grid = [*GRID, "--cache", str(tmp_path / "cache"), "--quiet"]
    atlas = atlas_args(oblique_scan[0], oblique_scan[1])
    assert (
        main(["prepare", *atlas, "--images", *(str(s[0]) for s in native_scans), "--out", str(out), *grid])
        == 0
    )
    ref = nib.load(out / "atlas.nii.gz")
    assert ref.shape == (48, 56, 48)
    np.testing.assert_allclose(ref.affine[:3, :3], 2 * np.eye(3))  # RAS, 2 mm
    for name in ("sub-ras", "sub-flip"):
        img = nib.load(out / f"{name}.nii.gz")
        assert img.shape == ref.shape and np.allclose(img.affine, ref.affine)
        # the same subject as the atlas: once aligned, the images agree
        assert np.corrcoef(np.asarray(img.dataobj).ravel(), np.asarray(ref.dataobj).ravel())[0, 1] > 0.9
    assert (
        main(
            [
                "train",
                "--atlas",
                str(out / "atlas.nii.gz"),
                "--atlas-labels",
                str(out / "atlas_labels.nii.gz"),
                "--images",
                str(out / "sub-ras.nii.gz"),
                "--out",
                str(tmp_path / "run"),
                "--steps",
                "1",
                "--prealigned",
                "--quiet",
            ]
        )
        == 0
    )
