"""Test-time adaptation lowers the unsupervised loss and leaves the model unchanged."""

from __future__ import annotations

import pytest
import torch

from ltnet.adapt import adapt
from ltnet.config import TrainConfig
from ltnet.model import build_models
from tests.conftest import textured


@pytest.mark.parametrize("mode", ["field", "weights"])
def test_adaptation_lowers_the_loss(mode):
    model, _ = build_models(TrainConfig(variant="voxelmorph"))
    x = textured((1, 1, 16, 16, 16), seed=1)
    y = torch.roll(x, shifts=1, dims=2)  # y is x moved by one voxel: a field can explain it
    before = {k: v.clone() for k, v in model.state_dict().items()}
    r = adapt(model, x, y, steps=30, mode=mode, lr=0.05 if mode == "field" else 1e-3)
    assert r.loss_after < r.loss_before - 1e-3
    assert r.dp.shape == (1, 3, 16, 16, 16) and not r.dp.requires_grad
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])  # adaptation works on a copy


def test_zero_steps_is_the_prediction():
    model, _ = build_models(TrainConfig(variant="voxelmorph"))
    x = textured((1, 1, 16, 16, 16))
    r = adapt(model, x, x, steps=0)
    assert r.loss_before == r.loss_after
    with torch.no_grad():
        torch.testing.assert_close(r.dp, model.g_f(x, x))
    with pytest.raises(ValueError, match="unknown adaptation mode"):
        adapt(model, x, x, steps=1, mode="bogus")
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        adapt(model, x, x, steps=1, lr=-1.0)
    assert adapt(model, x, x, steps=0, mode="weights").lr == 1e-4  # the mode's default rate
