"""segment --save-qc / --adapt-steps, train --integration-steps, and evaluate's HD95 and records,
end to end on the toy data."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from ltnet.cli import main
from ltnet.nn.unet import VxmUNet
from tests.conftest import atlas_args


@pytest.fixture(scope="module")
def diffeo_run(toy_data, tmp_path_factory):
    images, labels = toy_data
    run = tmp_path_factory.mktemp("diffeo") / "run"
    argv = ["train", *atlas_args(images[0], labels[0]), "--images", *map(str, images[1:]), "--out", str(run)]
    argv += ["--steps", "2", "--prealigned", "--no-cache", "--quiet", "--integration-steps", "5"]
    assert main(argv) == 0
    return run


def test_integration_steps_are_stored_and_integrate_the_flow(diffeo_run):
    cfg = json.loads((diffeo_run / "config.json").read_text())
    assert cfg["net"]["integration_steps"] == 5
    from monai.networks.blocks import DVF2DDF

    net = VxmUNet(integration_steps=4)
    torch.nn.init.normal_(net.flow.weight, std=0.05)
    x, y = torch.rand(1, 1, 16, 16, 16), torch.rand(1, 1, 16, 16, 16)
    raw = VxmUNet()
    raw.load_state_dict(net.state_dict())
    with torch.no_grad():
        expected = DVF2DDF(4, padding_mode="border")(raw(x, y))
        torch.testing.assert_close(net(x, y), expected)


def test_symmetric_inference_of_a_diffeomorphic_model_averages_velocities(diffeo_run, toy_data):
    from ltnet.io import load_image
    from ltnet.prepare import normalize_intensity
    from ltnet.segment import load_trained, predict_field

    trained = load_trained(diffeo_run)
    model = trained.model
    torch.nn.init.normal_(model.g_f.flow.weight, std=0.05)
    img = normalize_intensity(load_image(toy_data[0][2]).data)
    forward = predict_field(model, trained.atlas, img, symmetric=False)
    # G_B whose velocity is exactly minus G_F's (vR = -vF): the mean (vF - vR) / 2 is vF, G_F's own map
    model.g_b.velocity = lambda moving, fixed: -model.g_f.velocity(fixed, moving)
    torch.testing.assert_close(predict_field(model, trained.atlas, img, symmetric=True), forward)
    # G_B that does nothing: exp(vF / 2), not the mean of two displacements
    model.g_b.velocity = lambda moving, fixed: torch.zeros_like(model.g_f.velocity(fixed, moving))
    half = predict_field(model, trained.atlas, img, symmetric=True)
    with torch.no_grad():
        expected = model.g_f.integrate(
            0.5 * model.g_f.velocity(trained.atlas.image_tensor("cpu"), half.new_tensor(img)[None, None])
        )
    torch.testing.assert_close(half, expected)
    assert not torch.allclose(half, 0.5 * forward, atol=1e-6)


def test_segment_writes_qc_adapts_and_evaluate_reports_it(diffeo_run, toy_data, tmp_path, capsys):
    images, labels = toy_data
    out = tmp_path / "seg"
    argv = ["segment", "--model", str(diffeo_run), "--images", str(images[2]), "--out", str(out), "--quiet"]
    assert main([*argv, "--save-qc", "--adapt-steps", "3", "--adapt-lr", "0.05"]) == 0
    rec = json.loads((out / "sub-03_segment.json").read_text())
    assert rec["adapt"]["steps"] == 3 and rec["adapt"]["loss_after"] <= rec["adapt"]["loss_before"]
    assert rec["adapt"]["lr"] == 0.05
    assert 0.0 <= rec["deformation"]["folding_percent"] <= 100.0
    assert rec["qc"]["mean_mm"] >= 0.0 and set(rec["qc"]["per_structure_mm"]) <= {
        "2",
        "3",
        "4",
        "16",
        "17",
        "41",
        "42",
        "43",
        "53",
    }
    qc = nib.load(out / "sub-03_qc.nii.gz")
    src = nib.load(images[2])
    assert qc.shape == src.shape and np.allclose(qc.affine, src.affine)
    assert np.asarray(qc.dataobj).min() >= 0.0
    scores = tmp_path / "scores"
    assert (
        main(
            [
                "evaluate",
                "--pred",
                str(out),
                "--truth",
                str(labels[2]),
                "--out",
                str(scores),
                "--labels",
                "2",
                "3",
                "41",
                "42",
            ]
        )
        == 0
    )
    js = json.loads((scores / "dice.json").read_text())
    sub = js["subjects"]["sub-03"]
    assert set(sub["hd95_mm"]) == {"2", "3", "41", "42"} and sub["hd95_mean_mm"] > 0
    assert sub["deformation"] == rec["deformation"] and sub["qc"] == rec["qc"]
    assert "mean HD95 (mm)" in (scores / "dice.md").read_text()


def test_qc_needs_a_backward_generator(toy_data, tmp_path, capsys):
    images, labels = toy_data
    argv = ["segment", "--affine-only", *atlas_args(images[0], labels[0]), "--prealigned", "--no-cache"]
    assert main([*argv, "--images", str(images[1]), "--out", str(tmp_path / "o"), "--save-qc"]) == 2
    assert "--save-qc needs a model" in capsys.readouterr().err
    assert main([*argv, "--images", str(images[1]), "--out", str(tmp_path / "o"), "--forward-only"]) == 2
    assert "--forward-only: --affine-only uses no network" in capsys.readouterr().err
    assert (
        main(
            [
                "segment",
                "--model",
                "x",
                "--images",
                str(images[1]),
                "--out",
                str(tmp_path),
                "--adapt-steps",
                "-1",
            ]
        )
        == 2
    )
    argv = ["segment", "--model", "x", "--images", str(images[1]), "--out", str(tmp_path)]
    assert main([*argv, "--adapt-steps", "5", "--adapt-lr", "0"]) == 2
    assert "--adapt-lr 0.0: expected a positive learning rate" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                *atlas_args(images[0], labels[0]),
                "--images",
                str(images[1]),
                "--out",
                str(tmp_path / "r"),
                "--integration-steps",
                "-2",
            ]
        )
        == 2
    )
