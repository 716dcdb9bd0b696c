"""DataAug: synthesised labels move exactly with their image; zero appearance change gives the
warped atlas; train and segment work from the command line."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from ltnet.checkpoint import load_checkpoint
from ltnet.cli import main
from ltnet.dataaug import (
    appearance_change,
    appearance_net,
    appearance_residual,
    segment_volume,
    segmenter,
    synthesise,
)
from ltnet.nn import SpatialTransformer
from tests.conftest import atlas_args, textured


def blocks(shape=(12, 12, 12)) -> torch.Tensor:
    lab = torch.zeros(shape, dtype=torch.long)
    lab[2:6, 3:9, 4:10] = 2
    lab[6:10, 3:9, 4:10] = 41
    return lab


def test_synthesised_labels_move_exactly_with_the_image():
    x = textured((1, 1, 12, 12, 12))
    lab = blocks()
    dp = torch.zeros(1, 3, 12, 12, 12)
    dp[:, 0] = 1.0  # read one voxel further along the first axis
    psi = 0.1 * textured((1, 1, 12, 12, 12), seed=3)
    img, out = synthesise(x, lab, [0, 2, 41], dp, psi)
    torch.testing.assert_close(img[0, 0, :-1], (x + psi)[0, 0, 1:])
    assert torch.equal(out[:-1], lab[1:])


def test_zero_appearance_change_reproduces_the_warped_atlas():
    x = textured((1, 1, 12, 12, 12))
    g = torch.Generator().manual_seed(0)
    dp = torch.randn(1, 3, 12, 12, 12, generator=g)
    img, _ = synthesise(x, blocks(), [0, 2, 41], dp, torch.zeros_like(x))
    torch.testing.assert_close(img, SpatialTransformer()(x, dp))


def test_segment_volume_slices_match_the_3d_shape():
    net = segmenter(3, 2)
    out = segment_volume(net, torch.rand(1, 1, 13, 14, 9), 2)
    assert out.shape == (13, 14, 9) and int(out.max()) < 3
    net3 = segmenter(3, 3)
    assert segment_volume(net3, torch.rand(1, 1, 13, 14, 9), 3).shape == (13, 14, 9)


def test_dataaug_train_and_segment_from_the_command_line(toy_data, tmp_path, capsys):
    images, labels = toy_data
    run = tmp_path / "run"
    argv = ["dataaug", "train", *atlas_args(images[0], labels[0]), "--images", *map(str, images[1:])]
    argv += ["--out", str(run), "--spatial-steps", "2", "--appearance-steps", "2", "--seg-steps", "3"]
    assert main([*argv, "--prealigned", "--no-cache", "--quiet"]) == 0
    assert (run / "dataaug.pt").exists() and (run / "spatial" / "checkpoint.pt").exists()
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["seg_dims"] == 2 and set(cfg["seconds"]) == {
        "spatial_forward",
        "spatial_backward",
        "appearance",
        "segmenter",
    }
    out = tmp_path / "seg"
    assert (
        main(
            [
                "dataaug",
                "segment",
                "--model",
                str(run),
                "--images",
                str(images[2]),
                "--out",
                str(out),
                "--quiet",
                "--no-cache",
            ]
        )
        == 0
    )
    seg = nib.load(out / "sub-03_labels.nii.gz")
    src = nib.load(images[2])
    assert seg.shape == src.shape and np.allclose(seg.affine, src.affine)
    atlas_ids = set(np.unique(np.asanyarray(nib.load(labels[0]).dataobj)).tolist())
    assert set(np.unique(np.asanyarray(seg.dataobj)).tolist()) <= atlas_ids
    # a run folder is never overwritten; bad step counts are one-line errors
    assert main([*argv, "--prealigned", "--no-cache", "--quiet"]) == 2
    assert main([*argv[:-6], "--out", str(tmp_path / "r2"), "--spatial-steps", "0", "--prealigned"]) == 2
    assert "expected 1 or more" in capsys.readouterr().err


def test_time_budget_stops_the_segmenter_early(toy_data, tmp_path, capsys):
    images, labels = toy_data
    argv = ["dataaug", "train", *atlas_args(images[0], labels[0]), "--images", *map(str, images[1:])]
    argv += ["--spatial-steps", "1", "--appearance-steps", "1", "--seg-steps", "50"]
    argv += ["--prealigned", "--no-cache", "--quiet"]
    # a budget already spent by the spatial models: the segmenter still takes its one step
    assert main([*argv, "--out", str(tmp_path / "r"), "--time-budget", "1e-6"]) == 0
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["seg_steps_run"] == 1 and cfg["time_budget"] == 1e-6
    assert load_checkpoint(tmp_path / "r" / "dataaug.pt")["step"] == 1
    # no budget: every step runs; --half-res reaches the spatial models
    assert main([*argv, "--out", str(tmp_path / "n"), "--seg-steps", "4", "--half-res"]) == 0
    cfg = json.loads((tmp_path / "n" / "config.json").read_text())
    assert cfg["seg_steps_run"] == 4 and cfg["half_res"] is True
    assert 0 <= cfg["appearance_residual"] <= 1.5  # measured on the pool after training
    stages = [json.loads(line)["stage"] for line in (tmp_path / "n" / "log.jsonl").read_text().splitlines()]
    assert stages == ["appearance"] + ["segmenter"] * 4
    assert load_checkpoint(tmp_path / "n" / "spatial" / "checkpoint.pt")["config"]["net"]["half_res"]
    assert main([*argv, "--out", str(tmp_path / "b"), "--time-budget", "0"]) == 2
    assert "--time-budget 0.0: expected a number of seconds above 0" in capsys.readouterr().err


def test_appearance_residual_is_pooled_over_images():
    x = torch.zeros(1, 1, 4, 4, 4)
    backs = torch.cat([x + 1.0, x + 0.01])  # an image far from the atlas, and one close to it
    psis = torch.cat([x + 1.0, x])  # the first explained exactly, the second not at all
    # pooled: 0.01 missed of 1.01 in all; a mean of per-image ratios would say (0 + 1) / 2
    assert appearance_residual(x, psis, backs) == pytest.approx(0.01 / 1.01)
    assert appearance_residual(x, torch.cat([x + 2.0, x]), backs) == pytest.approx(1.01 / 1.01)
    assert np.isnan(appearance_residual(x, psis, torch.cat([x, x])))


def test_appearance_model_starts_from_no_change():
    x = torch.rand(1, 1, 12, 10, 9)  # not a multiple of 8: padded and cropped back
    backs = torch.cat([x + 0.1 * torch.rand_like(x), x, x - 0.05])
    app = appearance_net()
    psi = appearance_change(app, x, backs[:1])
    assert psi.shape == x.shape and float(psi.detach().abs().max()) == 0.0
    # no change explains none of the difference (the image equal to the atlas adds nothing)
    psis = torch.cat([appearance_change(app, x, b) for b in backs.split(1)]).detach()
    assert appearance_residual(x, psis, backs) == 1.0
    # gradients reach the zeroed last layer, so the change can grow from zero
    ((x + appearance_change(app, x, backs[:1]) - backs[:1]) ** 2).mean().backward()
    assert float(app.model[-1].conv.weight.grad.abs().sum()) > 0
