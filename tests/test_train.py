import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from ltnet.config import PAPER_RECIPE, VARIANTS, TrainConfig
from ltnet.errors import LtnetError
from ltnet.runtime import read_log
from ltnet.train import batch_indices, train
from ltnet.trainset import load_train_data
from tests.conftest import atlas_args


@pytest.fixture(scope="module")
def data(toy_data):
    images, labels = toy_data
    return load_train_data(images[0], labels[0], images[1:])


@pytest.mark.parametrize("name", list(VARIANTS))
def test_two_steps_of_every_variant(name, data, tmp_path):
    cfg = TrainConfig(variant=name, steps=2, checkpoint_every=1)
    ckpt = train(cfg, data, tmp_path, progress=False)
    log = read_log(tmp_path)
    assert ckpt.exists() and [r["step"] for r in log] == [1, 2]
    assert all(np.isfinite(v) for r in log for v in r.values())
    assert "disc" not in log[0]  # ltnet's recipe: L_GAN's weight 0, no discriminator
    paper = TrainConfig.for_recipe("paper", variant=name, steps=1)
    train(paper, data, tmp_path / "paper", progress=False)
    assert ("disc" in read_log(tmp_path / "paper")[0]) == VARIANTS[name].gan
    assert json.loads((tmp_path / "config.json").read_text())["variant"] == name


@pytest.mark.parametrize(
    "kw",
    [
        {"seed": 3, **PAPER_RECIPE, "recipe": "paper"},
        # ltnet's recipe through its schedule, with an average of the weights and diagnostics
        {"seed": 2, "warmup_steps": 1, "ramp_steps": 2, "diag_every": 2, "ema_decay": 0.9},
    ],
    ids=["paper", "ltnet"],
)
def test_resumed_run_repeats_an_uninterrupted_one(kw, data, tmp_path):
    cfg = TrainConfig(variant="full", steps=4, checkpoint_every=2, **kw)
    train(cfg, data, tmp_path / "a", progress=False)
    train(replace(cfg, steps=2), data, tmp_path / "b", progress=False)
    train(cfg, data, tmp_path / "b", progress=False, resume=True)
    a, b = read_log(tmp_path / "a"), read_log(tmp_path / "b")
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    for ra, rb in zip(a, b, strict=True):
        for k in set(ra) - {"seconds"}:
            assert rb[k] == pytest.approx(ra[k], rel=1e-4, abs=1e-6), (ra["step"], k)
    sa = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    sb = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    for part in ("model", "model_ema") if cfg.ema_decay else ("model",):
        for k in sa[part]:
            torch.testing.assert_close(sa[part][k], sb[part][k], rtol=1e-4, atol=1e-6)


def test_same_seed_same_cpu_run(data, tmp_path):
    cfg = TrainConfig(variant="cycle", steps=2)
    train(cfg, data, tmp_path / "a", progress=False)
    train(cfg, data, tmp_path / "b", progress=False)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in read_log(tmp_path / "a")]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in read_log(tmp_path / "b")]


def test_resume_refuses_a_changed_config(data, tmp_path):
    train(TrainConfig(variant="gan", steps=1), data, tmp_path, progress=False)
    with pytest.raises(LtnetError, match="variant"):
        train(TrainConfig(variant="full", steps=2), data, tmp_path, progress=False, resume=True)


def test_existing_run_needs_resume(data, tmp_path):
    train(TrainConfig(variant="voxelmorph", steps=1), data, tmp_path, progress=False)
    with pytest.raises(LtnetError, match="--resume"):
        train(TrainConfig(variant="voxelmorph", steps=2), data, tmp_path, progress=False)


def test_batch_indices_are_a_shuffled_pure_function_of_seed_and_step():
    assert batch_indices(0, 5, 7, 2) == batch_indices(0, 5, 7, 2)
    epoch = [i for s in range(3) for i in batch_indices(1, s, 6, 2)]
    assert sorted(epoch) == list(range(6))  # every image once per epoch
    assert len(batch_indices(0, 0, 2, 3)) == 3  # batch larger than the pool


def test_images_off_the_atlas_grid_are_refused(toy_data, tmp_path):
    import nibabel as nib

    images, labels = toy_data
    bad = tmp_path / "small.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((20, 20, 20), np.float32), np.eye(4)), bad)
    with pytest.raises(LtnetError, match=r"small.nii.gz.*differs from the atlas grid"):
        load_train_data(images[0], labels[0], [bad])


def test_run_killed_with_sigkill_resumes_to_the_same_losses(toy_data, tmp_path):
    """A training process killed mid-run resumes from its last checkpoint and reaches the losses
    of an uninterrupted run with the same seed."""
    import signal
    import subprocess
    import sys
    import time

    images, labels = toy_data
    args = [
        sys.executable,
        "-m",
        "ltnet",
        "train",
        *atlas_args(images[0], labels[0]),
        "--images",
        *map(str, images[1:]),
        "--steps",
        "8",
        "--checkpoint-every",
        "2",
        "--prealigned",
        "--quiet",
        "--variant",
        "cycle",
        "--device",
        "cpu",
    ]
    subprocess.run([*args, "--out", str(tmp_path / "a")], check=True, capture_output=True)
    proc = subprocess.Popen(
        [*args, "--out", str(tmp_path / "b")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    log = tmp_path / "b" / "log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 5):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(log.read_text().splitlines()) < 8, "the run finished before it could be killed"
    subprocess.run([*args, "--out", str(tmp_path / "b"), "--resume"], check=True, capture_output=True)
    a, b = read_log(tmp_path / "a"), read_log(tmp_path / "b")
    assert [r["step"] for r in b] == list(range(1, 9))
    for ra, rb in zip(a, b, strict=True):
        for k in set(ra) - {"seconds"}:
            assert rb[k] == pytest.approx(ra[k], rel=1e-5, abs=1e-7), (ra["step"], k)


def test_resume_drops_log_lines_past_the_checkpoint_and_half_written_ones(data, tmp_path):
    cfg = TrainConfig(variant="voxelmorph", steps=2, checkpoint_every=2)
    train(cfg, data, tmp_path, progress=False)
    with open(tmp_path / "log.jsonl", "a") as f:
        f.write('{"step": 3, "total": 0.5}\n{"step": 4, "to')  # logged past the checkpoint, then killed
    train(
        TrainConfig(variant="voxelmorph", steps=3, checkpoint_every=2),
        data,
        tmp_path,
        progress=False,
        resume=True,
    )
    assert [r["step"] for r in read_log(tmp_path)] == [1, 2, 3]


def test_init_starts_from_another_runs_weights_with_a_fresh_optimiser(data, tmp_path):
    from dataclasses import replace

    from ltnet.checkpoint import load_checkpoint

    cfg = TrainConfig(variant="cycle", steps=2)
    a = load_checkpoint(train(cfg, data, tmp_path / "a", progress=False))
    # with a learning rate of 0 the weights stay exactly those the run started from
    train(replace(cfg, steps=1, seed=5, lr=0.0), data, tmp_path / "b", progress=False, init=tmp_path / "a")
    b = load_checkpoint(tmp_path / "b")
    assert b["step"] == 1
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    # and they are not what that seed gives from scratch
    c = load_checkpoint(train(replace(cfg, steps=1, seed=5, lr=0.0), data, tmp_path / "c", progress=False))
    assert any(not torch.equal(c["model"][k], v) for k, v in a["model"].items())
    # another variant takes the networks both have; the others start from scratch, said aloud
    v = load_checkpoint(
        train(TrainConfig(variant="voxelmorph", steps=1), data, tmp_path / "v", progress=False)
    )
    with pytest.warns(UserWarning, match="g_b, discriminator not in that model"):
        full = TrainConfig(variant="full", steps=1, lr=0.0, lambda_gan=0.01)  # with a discriminator
        d = load_checkpoint(train(full, data, tmp_path / "d", progress=False, init=tmp_path / "v"))
    assert all(torch.equal(v["model"][k], d["model"][k]) for k in v["model"])
    with pytest.raises(LtnetError, match="cannot start from this model"):
        half = TrainConfig(variant="cycle", steps=1, net=replace(cfg.net, half_res=True))
        train(half, data, tmp_path / "e", progress=False, init=tmp_path / "a")


def test_several_atlases_train_one_pair_of_networks_and_are_kept(toy_data, tmp_path):
    from ltnet.segment import load_trained
    from ltnet.train import atlas_indices

    images, labels = toy_data
    with pytest.warns(UserWarning, match="holds the atlas's voxels"):  # atlases leave the pool
        data = load_train_data(images[:2], labels[:2], images)
    assert len(data.atlases) == 2 and len(data.images) == 2
    train(TrainConfig(variant="full", steps=2), data, tmp_path / "r", progress=False)
    t = load_trained(tmp_path / "r")
    assert [a.name for a in t.atlases] == ["sub-01", "sub-02"]
    assert np.array_equal(t.atlases[1].labels, data.atlases[1].labels)
    draws = [i for s in range(200) for i in atlas_indices(0, s, 2, 2)]
    assert draws == [i for s in range(200) for i in atlas_indices(0, s, 2, 2)]  # a pure function
    assert 0.4 < np.mean(draws) < 0.6  # both atlases, about equally
    assert atlas_indices(0, 5, 1, 3) == [0, 0, 0]
