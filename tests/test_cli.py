"""The command line on small NIfTI files: train, segment, evaluate, select-atlas, and bad input."""

import json

import nibabel as nib
import numpy as np
import pytest

from ltnet.cli import main
from tests.conftest import atlas_args


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("train", "segment", "evaluate", "select-atlas"):
        assert cmd in out


def test_train_segment_evaluate(toy_data, tmp_path, capsys):
    images, labels = toy_data
    run, seg, ev = tmp_path / "run", tmp_path / "seg", tmp_path / "ev"
    assert (
        main(
            [
                "train",
                *atlas_args(images[0], labels[0]),
                "--images",
                str(images[0].parent),
                "--out",
                str(run),
                "--steps",
                "2",
                "--variant",
                "trans",
                "--quiet",
                "--device",
                "cpu",
                "--prealigned",
            ]
        )
        == 0
    )
    assert len((run / "log.jsonl").read_text().splitlines()) == 2
    assert (
        main(
            ["segment", "--model", str(run), "--images", *map(str, images[1:]), "--out", str(seg), "--quiet"]
        )
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                "--pred",
                str(seg),
                "--truth",
                *map(str, labels[1:]),
                "--out",
                str(ev),
                "--labels",
                "2",
                "3",
                "41",
                "42",
                "4",
                "43",
                "17",
                "53",
                "16",
            ]
        )
        == 0
    )
    # Dice by hand, from the files
    got = json.loads((ev / "dice.json").read_text())
    for i, sub in ((1, "sub-02"), (2, "sub-03")):
        p = np.asanyarray(nib.load(seg / f"{sub}_labels.nii.gz").dataobj)
        t = np.asanyarray(nib.load(labels[i]).dataobj)
        for lab in (2, 41, 16):
            hand = 2 * np.sum((p == lab) & (t == lab)) / (np.sum(p == lab) + np.sum(t == lab))
            assert got["subjects"][sub]["dice"][str(lab)] == pytest.approx(hand, rel=1e-6)
    assert "mean (std)" in capsys.readouterr().out


def test_select_atlas_prints_the_most_typical_image(toy_data, capsys):
    images, _ = toy_data
    assert main(["select-atlas", *map(str, images)]) == 0
    assert capsys.readouterr().out.strip() in {str(p) for p in images}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["segment", "--model", "{tmp}/nothing", "--images", "{img}", "--out", "{tmp}/o"],
            "no checkpoint here",
        ),
        (
            [
                "train",
                "--atlas",
                "{tmp}/missing.nii.gz",
                "--atlas-labels",
                "{lab}",
                "--images",
                "{img}",
                "--out",
                "{tmp}/r",
            ],
            "missing.nii.gz: no such file",
        ),
        (
            ["train", "--atlas", "{img}", "--atlas-labels", "{img}", "--images", "{img}", "--out", "{tmp}/r"],
            "non-integer",
        ),
        (["evaluate", "--pred", "{lab}", "--truth", "{img}", "--out", "{tmp}/e"], "cannot pair|non-integer"),
        (["select-atlas", "{img}"], "at least two"),
    ],
)
def test_bad_input_exits_2_with_one_line(toy_data, tmp_path, capsys, argv, message):
    images, labels = toy_data
    argv = [a.format(tmp=tmp_path, img=images[1], lab=labels[1]) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0]
    import re

    assert re.search(message, err[0])


def test_several_atlases_train_and_segment_with_fusion(toy_data, tmp_path, capsys):
    images, labels = toy_data
    run, seg = tmp_path / "run", tmp_path / "seg"
    argv = ["train", "--atlas", *map(str, images[:2]), "--atlas-labels", *map(str, labels[1::-1])]
    argv += ["--images", *map(str, images), "--out", str(run), "--steps", "1", "--quiet", "--prealigned"]
    assert main(argv) == 0
    assert capsys.readouterr().err.count("holds the atlas's voxels: left out") == 2
    argv = ["segment", "--model", str(run), "--images", str(images[3]), "--out", str(seg)]
    assert main([*argv, "--save-prob", "--fusion", "vote", "--adapt-steps", "1", "--quiet"]) == 0
    rec = json.loads((seg / "sub-04_segment.json").read_text())
    assert rec["fusion"]["atlases"] == ["sub-01", "sub-02"] and rec["fusion"]["rule"] == "vote"
    prob = nib.load(seg / "sub-04_prob.nii.gz").get_fdata()
    assert prob.min() > 0 and prob.max() <= 1 + 1e-6 and prob[0, 0, 0] == 1  # a corner: background, certain
    capsys.readouterr()
    # --fusion with one atlas acts on nothing: refused
    assert main([*argv, "--atlases", "1", "--fusion", "local", "--overwrite"]) == 2
    assert "--fusion: acts only with several atlases" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--atlas", "{img0}", "{img1}", "--atlas-labels", "{lab0}"],
            "sub-02.nii.gz: no label map with the subject",
        ),
        (["--atlas", "{img0}"], "--atlas: give each atlas's label map with --atlas-labels"),
        (
            ["--atlases", "0", "--atlas", "{img0}", "--atlas-labels", "{lab0}"],
            "--atlases 0: expected 1 or more",
        ),
    ],
)
def test_an_atlas_without_labels_exits_2(toy_data, tmp_path, capsys, extra, message):
    images, labels = toy_data
    fmt = {"img0": images[0], "img1": images[1], "lab0": labels[0]}
    argv = [
        "segment",
        "--affine-only",
        "--prealigned",
        "--images",
        str(images[2]),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*argv, *(a.format(**fmt) for a in extra)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "o").exists()
