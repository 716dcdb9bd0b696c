"""The CUDA paths agree with the CPU ones (skipped without a GPU; run by bench/gpu_check.sh)."""

from __future__ import annotations

import pytest
import torch

from ltnet.adapt import adapt
from ltnet.cli import main
from ltnet.config import TrainConfig
from ltnet.losses import lncc_loss
from ltnet.model import build_models
from ltnet.nn.warp import SpatialTransformer
from ltnet.runtime import read_log
from ltnet.segment import load_trained, transfer_labels
from ltnet.train import train, train_step
from ltnet.trainset import load_train_data
from tests.conftest import atlas_args, textured

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
CUDA = torch.device("cuda")


def _inputs(n_labels=3, shape=(32, 32, 32)):
    x, y = textured((1, 1, *shape)), textured((1, 1, *shape), seed=5)
    lab = torch.randint(0, n_labels, (1, *shape))
    xs = torch.nn.functional.one_hot(lab, n_labels).permute(0, 4, 1, 2, 3).float()
    return x, y, xs


def test_unit_shift_moves_voxels_exactly_on_cuda():
    img = torch.rand(1, 2, 8, 9, 10, device=CUDA)
    dp = torch.zeros(1, 3, 8, 9, 10, device=CUDA)
    dp[:, 2] = 1.0
    out = SpatialTransformer()(img, dp)
    torch.testing.assert_close(out[..., :-1], img[..., 1:])


def test_full_cycle_on_cuda_matches_cpu_in_fp32():
    model, _ = build_models(TrainConfig.for_recipe("paper", variant="full"))
    x, y, xs = _inputs()
    with torch.no_grad():
        ref = model(x, y, xs)
        got = model.to(CUDA)(x.to(CUDA), y.to(CUDA), xs.to(CUDA))
    for name in ("dp_f", "dp_b", "dp_cyc", "y_bar", "x_bar", "x_bar_s"):
        a, b = getattr(ref, name), getattr(got, name).cpu()
        # TF32 convolutions on CUDA: agreement to ~1e-3 of the tensor's scale
        tol = 2e-3 * max(float(a.abs().max()), 1e-3)
        assert float((a - b).abs().max()) < tol, name


@pytest.mark.parametrize("amp", [True, False])
def test_train_step_on_cuda_is_finite_and_moves_both_generators(amp):
    cfg = TrainConfig.for_recipe("paper", variant="full", amp=amp)
    model, disc = build_models(cfg, CUDA)
    opt_g = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=cfg.betas)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    x, y, xs = (t.to(CUDA) for t in _inputs())
    logs = [train_step(model, disc, opt_g, opt_d, x, xs, y, cfg) for _ in range(2)]
    assert all(torch.isfinite(torch.tensor(v)) for r in logs for v in r.values())
    assert all(-1 <= r["sim"] <= 0 for r in logs)  # LNCC kept in fp32 under autocast
    assert set(logs[0]) >= {"total", "sim", "gan", "cyc", "trans", "anat", "diff", "disc"}
    after = model.state_dict()
    for net in ("g_f.", "g_b."):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(net)), net
    assert all(p.dtype == torch.float32 for p in model.parameters())  # AMP keeps fp32 master weights


def test_lncc_under_cuda_autocast_equals_float32():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(1, 1, 40, 40, 40)
    x[..., 8:32, 8:32, 8:32] = 0.6 + 0.05 * torch.rand(1, 1, 24, 24, 24, generator=g)
    x, y = x.to(CUDA), torch.roll(x, 2, 2).to(CUDA)
    ref = lncc_loss(x, y)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        got = lncc_loss(x, y)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


def test_label_transfer_on_cuda_matches_cpu():
    lab = torch.randint(0, 5, (20, 21, 22)) * 3 + 2
    ids = [0, *sorted(lab.unique().tolist())]
    dp = torch.randn(1, 3, 20, 21, 22) * 1.5
    for interp in ("linear", "nearest"):
        ref = transfer_labels(lab, ids, dp, interp)
        got = transfer_labels(lab.to(CUDA), ids, dp.to(CUDA), interp).cpu()
        # trilinear weights tie at a few voxels; float rounding may break a tie either way
        assert float((ref != got).float().mean()) < 1e-3, interp


def test_field_adaptation_on_cuda_lowers_the_loss():
    model, _ = build_models(TrainConfig.for_recipe("paper", variant="voxelmorph"), CUDA)
    x = textured((1, 1, 16, 16, 16), seed=1).to(CUDA)
    y = torch.roll(x, shifts=1, dims=2)
    r = adapt(model, x, y, steps=30, mode="field", lr=0.05)
    assert r.loss_after < r.loss_before - 1e-3 and r.dp.device.type == "cuda"


def test_cuda_run_resumes_and_its_checkpoint_segments_on_cpu(toy_data, tmp_path):
    images, labels = toy_data
    data = load_train_data(images[0], labels[0], images[1:])
    for steps, resume in ((2, False), (3, True)):
        cfg = TrainConfig.for_recipe("paper", variant="full", steps=steps, checkpoint_every=1)
        train(cfg, data, tmp_path / "run", device=CUDA, progress=False, resume=resume)
    assert [r["step"] for r in read_log(tmp_path / "run")] == [1, 2, 3]
    # stored on the CPU: a plain torch.load on a machine without CUDA reads it
    raw = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert raw["opt_g"]["state"][0]["exp_avg"].device.type == "cpu"
    assert all(v.device.type == "cpu" for v in raw["model"].values())
    t = load_trained(tmp_path / "run", "cpu")
    assert t.step == 3 and next(t.model.parameters()).device.type == "cpu"
    args = ["segment", "--model", str(tmp_path / "run"), "--images", str(images[1]), "--quiet"]
    assert main([*args, "--out", str(tmp_path / "cpu"), "--device", "cpu"]) == 0
    assert main([*args, "--out", str(tmp_path / "gpu"), "--device", "cuda"]) == 0


def test_train_cli_on_cuda(toy_data, tmp_path):
    images, labels = toy_data
    argv = ["train", *atlas_args(images[0], labels[0]), "--images", str(images[0].parent)]
    argv += ["--out", str(tmp_path / "run"), "--steps", "2", "--quiet", "--device", "cuda", "--prealigned"]
    assert main(argv) == 0
    assert len(read_log(tmp_path / "run")) == 2
