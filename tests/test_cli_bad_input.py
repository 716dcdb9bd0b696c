"""Bad input, one case a test: exit code 2, one line naming the file and the problem, nothing written."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from ltnet.cli import main
from tests.conftest import atlas_args


def _like(ref: Path, data: np.ndarray, path: Path) -> Path:
    nib.save(nib.Nifti1Image(data, nib.load(ref).affine), path)
    return path


def _bad_file(kind: str, images: list[Path], labels: list[Path], tmp: Path) -> Path:
    """Write one bad input file of the given kind; return its path."""
    ref = images[1]
    shape = nib.load(ref).shape
    if kind == "missing":
        return tmp / "missing.nii.gz"
    if kind == "not an image":
        p = tmp / "notes.nii.gz"
        p.write_text("these are notes, not a scan\n")
        return p
    if kind == "empty":
        p = tmp / "empty.nii.gz"
        p.write_bytes(b"")
        return p
    if kind == "truncated":
        p = tmp / "truncated.nii.gz"
        raw = gzip.compress(nib.load(ref).to_bytes())
        p.write_bytes(raw[: len(raw) // 2])
        return p
    if kind == "2D":
        return _like(ref, np.ones(shape[:2], np.float32), tmp / "slice.nii.gz")
    if kind == "4D":
        return _like(ref, np.ones((*shape, 2), np.float32), tmp / "series.nii.gz")
    if kind in ("NaN", "inf"):
        data = np.asarray(nib.load(ref).dataobj, np.float32).copy()
        data[1, 2, 3] = np.nan if kind == "NaN" else np.inf
        return _like(ref, data, tmp / f"{kind}.nii.gz")
    if kind == "all zero":
        return _like(ref, np.zeros(shape, np.float32), tmp / "zeros.nii.gz")
    raise AssertionError(kind)


def _assert_one_line(capsys, pattern: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("ltnet ") and "error:" in err[0] and "Traceback" not in err[0]
    assert re.search(pattern, err[0]), err[0]
    return err[0]


def _files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


IMAGE_CASES = [
    ("missing", "missing.nii.gz: no such file"),
    ("not an image", "notes.nii.gz: cannot read as NIfTI/MGZ"),
    ("empty", "empty.nii.gz: cannot read as NIfTI/MGZ"),
    ("truncated", "truncated.nii.gz: cannot read as NIfTI/MGZ"),
    ("2D", r"slice.nii.gz: expected a 3D volume"),
    ("4D", r"series.nii.gz: expected a 3D volume, got an array of shape \(32, 32, 32, 2\)"),
    ("NaN", "NaN.nii.gz: image holds 1 NaN or infinite voxels"),
    ("inf", "inf.nii.gz: image holds 1 NaN or infinite voxels"),
    ("all zero", "zeros.nii.gz: image is all zeros"),
]


@pytest.mark.parametrize(("kind", "message"), IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_bad_training_image(toy_data, tmp_path, capsys, kind, message):
    images, labels = toy_data
    bad = _bad_file(kind, images, labels, tmp_path)
    run = tmp_path / "run"
    argv = ["train", *atlas_args(images[0], labels[0]), "--images", str(images[1]), str(bad)]
    assert main([*argv, "--out", str(run), "--prealigned", "--steps", "1", "--quiet"]) == 2
    _assert_one_line(capsys, re.escape(str(tmp_path)) + ".*" + message)
    assert _files_under(run) == []


@pytest.mark.parametrize(("kind", "message"), IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_bad_image_to_segment(toy_data, tmp_path, capsys, kind, message):
    images, labels = toy_data
    bad = _bad_file(kind, images, labels, tmp_path)
    out = tmp_path / "seg"
    argv = ["segment", "--affine-only", *atlas_args(images[0], labels[0]), "--images", str(bad)]
    assert main([*argv, "--out", str(out), "--prealigned", "--quiet"]) == 2
    _assert_one_line(capsys, message)
    assert _files_under(out) == []


def test_atlas_labels_on_another_grid(toy_data, tmp_path, capsys):
    images, labels = toy_data
    lab = np.asarray(nib.load(labels[0]).dataobj)[:-2]
    other = _like(labels[0], lab, tmp_path / "cropped_labels.nii.gz")
    argv = ["train", *atlas_args(images[0], other), "--images", str(images[1]), "--out", str(tmp_path / "r")]
    assert main([*argv, "--prealigned", "--quiet"]) == 2
    _assert_one_line(
        capsys, r"cropped_labels.nii.gz: label map grid \(30, 32, 32\) differs from the atlas image"
    )


def test_non_integer_label_map(toy_data, tmp_path, capsys):
    images, _labels = toy_data
    argv = [
        "train",
        *atlas_args(images[0], images[0]),
        "--images",
        str(images[1]),
        "--out",
        str(tmp_path / "r"),
    ]
    assert main([*argv, "--prealigned", "--quiet"]) == 2
    _assert_one_line(capsys, re.escape(images[0].name) + r": label map has non-integer values")


def test_atlas_label_map_without_labels(toy_data, tmp_path, capsys):
    images, labels = toy_data
    empty = _like(labels[0], np.zeros(nib.load(labels[0]).shape, np.int16), tmp_path / "nolabels.nii.gz")
    argv = ["train", *atlas_args(images[0], empty), "--images", str(images[1]), "--out", str(tmp_path / "r")]
    assert main([*argv, "--prealigned", "--quiet"]) == 2
    _assert_one_line(capsys, r"nolabels.nii.gz: label map holds no labels")


def test_pred_and_truth_names_do_not_pair(toy_data, tmp_path, capsys):
    _, labels = toy_data
    pred = tmp_path / "pred"
    pred.mkdir()
    _like(labels[0], np.asarray(nib.load(labels[0]).dataobj), pred / "someone_else_labels.nii.gz")
    out = tmp_path / "eval"
    assert main(["evaluate", "--pred", str(pred), "--truth", str(labels[0]), "--out", str(out)]) == 2
    _assert_one_line(capsys, r"cannot pair.*someone_else")
    assert _files_under(out) == []


def test_output_folder_that_cannot_be_created(toy_data, tmp_path, capsys):
    images, labels = toy_data
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = blocker / "seg"
    argv = ["segment", "--affine-only", *atlas_args(images[0], labels[0]), "--images", str(images[1])]
    assert main([*argv, "--out", str(out), "--prealigned", "--quiet"]) == 2
    _assert_one_line(capsys, re.escape(str(out)) + r": cannot create output folder")


def test_output_folder_without_write_permission(toy_data, tmp_path, capsys):
    import os

    if os.geteuid() == 0:
        pytest.skip("root may write anywhere: the permission case needs an ordinary user")
    images, labels = toy_data
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o500)
    try:
        argv = ["segment", "--affine-only", *atlas_args(images[0], labels[0]), "--images", str(images[1])]
        assert main([*argv, "--out", str(out), "--prealigned", "--quiet"]) == 2
        _assert_one_line(capsys, re.escape(str(out)) + r": output folder is not writable")
    finally:
        out.chmod(0o700)


def _toy_run(tmp_path: Path, images: list[Path], labels: list[Path]) -> Path:
    run = tmp_path / "run"
    argv = ["train", *atlas_args(images[0], labels[0]), "--images", *map(str, images[1:3])]
    assert (
        main([*argv, "--out", str(run), "--prealigned", "--steps", "1", "--variant", "voxelmorph", "--quiet"])
        == 0
    )
    return run


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.update(format_version=99), "format 99.*reads format 1"),
        (
            lambda s: s["config"].update(dropout=0.1),
            r"unknown fields \['dropout'\]: written by a newer ltnet",
        ),
        (lambda s: s["model"].pop("g_f.flow.weight"), "checkpoint weights do not fit"),
    ],
    ids=["format version", "config field", "weights"],
)
def test_model_from_an_incompatible_version(toy_data, tmp_path, capsys, edit, message):
    images, labels = toy_data
    run = _toy_run(tmp_path, images, labels)
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    edit(state)
    torch.save(state, run / "checkpoint.pt")
    capsys.readouterr()
    out = tmp_path / "seg"
    assert (
        main(["segment", "--model", str(run), "--images", str(images[3]), "--out", str(out), "--quiet"]) == 2
    )
    _assert_one_line(capsys, re.escape(str(run)) + ".*" + message)
    assert _files_under(out) == []


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--shard", "2/2"], r"--shard '2/2': expected 0 <= i < n"),
        (["--workers", "-1"], "--workers -1"),
        (["--fast"], "--fast: --affine-only has no field"),
        (["--adapt-steps", "5"], "--adapt-steps: --affine-only has no field"),
    ],
)
def test_bad_segment_options(toy_data, tmp_path, capsys, option, message):
    images, labels = toy_data
    argv = ["segment", "--affine-only", *atlas_args(images[0], labels[0]), "--images", str(images[1])]
    assert main([*argv, "--out", str(tmp_path / "seg"), "--prealigned", "--quiet", *option]) == 2
    _assert_one_line(capsys, message)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--spacing", "3"], "--spacing: the model's run fixes the atlas and the grid"),
        (["--box", "1", "2", "3"], "--box: the model's run fixes"),
        (["--prealigned"], "--prealigned: the model's run fixes"),
        (["--adapt-steps", "0", "--adapt", "weights"], "--adapt: acts only with adaptation steps"),
        (["--adapt-steps", "0", "--adapt-lr", "0.1"], "--adapt-lr: acts only with adaptation steps"),
        (["--fast", "--refine-steps", "3"], "--refine-steps: --fast is the network's field alone"),
        (["--fast", "--adapt", "weights"], "--adapt: --fast is the network's field alone"),
        (["--refine-steps", "0", "--refine-lr", "0.2"], "--refine-lr: acts only with refinement steps"),
        (["--affine-only"], "--model: --affine-only uses no model"),
    ],
)
def test_segment_refuses_a_flag_it_would_not_read(toy_data, tmp_path, capsys, option, message):
    images, _ = toy_data
    option = [o.format(img=images[0]) for o in option]
    argv = [
        "segment",
        "--model",
        str(tmp_path / "run"),
        "--images",
        str(images[1]),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*argv, "--quiet", *option]) == 2
    _assert_one_line(capsys, re.escape(message))
    assert not (tmp_path / "o").exists()


def test_select_atlas_has_no_mask_flag(toy_data, capsys):
    images, _ = toy_data
    with pytest.raises(SystemExit) as e:  # argparse: the flag does not exist (it was never read)
        main(["select-atlas", *map(str, images[:2]), "--mask", str(images[0])])
    assert e.value.code == 2 and "unrecognized arguments: --mask" in capsys.readouterr().err
