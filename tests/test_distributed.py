"""torchrun with two CPU processes (gloo): DDP keeps the ranks equal and matches one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from ltnet.cli import main
from ltnet.distributed import Dist
from ltnet.runtime import read_log
from ltnet.train import batch_indices
from tests.conftest import atlas_args


def test_shards_of_one_step_are_the_single_process_batch():
    for step in range(7):
        whole = batch_indices(5, step, 6, 4)
        shards = [batch_indices(5, step, 6, 2, rank=r, world_size=2) for r in range(2)]
        assert sorted(whole) == sorted(shards[0] + shards[1])
    assert not Dist().active and Dist(rank=0, world_size=2).is_main


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not built in")
def test_torchrun_two_processes_match_one_process(toy_data, tmp_path):
    images, labels = toy_data
    # two images, so that both ranks' shards cover the pool evenly (the atlas is never in it)
    base = ["train", *atlas_args(images[0], labels[0]), "--images", *map(str, images[1:3])]
    # L_GAN and the cycle family on, so that D (and its R1 penalty) and the cycle path run under DDP
    # too; D's augmentation draws per rank, so it is off for an exact match
    base += [
        "--prealigned",
        "--seed",
        "3",
        "--quiet",
        "--no-cache",
        "--lambda-gan",
        "0.01",
        "--cycle-scale",
        "0.01",
    ]
    base += ["--no-disc-augment"]
    common = [*base, "--steps", "3"]
    ddp = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--standalone",
        "-m",
        "ltnet",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [*cmd, *common, "--out", str(ddp)], capture_output=True, text=True, env=env, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]
    checksums = json.loads((ddp / "ranks.json").read_text())["weight_checksums"]
    assert len(checksums) == 2 and checksums[0] == checksums[1]

    one = tmp_path / "one"
    assert main([*common, "--out", str(one), "--batch-size", "2"]) == 0
    a = torch.load(ddp / "checkpoint.pt", weights_only=True)
    b = torch.load(one / "checkpoint.pt", weights_only=True)
    for la, lb in zip(read_log(ddp), read_log(one), strict=True):
        for k in ("sim", "smooth", "gan", "cyc", "trans", "anat", "diff", "disc"):
            assert la[k] == pytest.approx(lb[k], rel=1e-4, abs=1e-7), k
    for part in ("model", "disc"):
        diff = torch.cat([(v - b[part][k]).abs().flatten() for k, v in a[part].items()])
        # Adam moves a weight by about lr (2e-4) a step whatever its gradient's size, so a weight
        # whose gradient is near 0 may move either way with summation order: a few such, no more
        assert (diff > 1e-5).float().mean() < 1e-3, part
        assert diff.max() < 3 * 2e-4 * 3, part

    # a run started on two processes resumes on one
    assert main([*base, "--steps", "4", "--out", str(ddp), "--resume"]) == 0
    assert [rec["step"] for rec in read_log(ddp)] == [1, 2, 3, 4]
