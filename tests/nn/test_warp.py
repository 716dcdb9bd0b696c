import pytest
import torch

from ltnet.nn import SpatialTransformer
from tests.conftest import textured


def test_zero_field_is_identity():
    img = textured((2, 3, 10, 12, 14))
    out = SpatialTransformer()(img, torch.zeros(2, 3, 10, 12, 14))
    torch.testing.assert_close(out, img, atol=1e-6, rtol=0)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_unit_shift_moves_voxels_exactly(axis):
    img = textured((1, 1, 10, 11, 12))
    dp = torch.zeros(1, 3, 10, 11, 12)
    dp[:, axis] = 1.0  # out(t) = img(t + e_axis)
    out = SpatialTransformer()(img, dp)
    n = img.shape[2 + axis]
    expect = img.narrow(2 + axis, 1, n - 1)
    got = out.narrow(2 + axis, 0, n - 1)
    torch.testing.assert_close(got, expect, atol=1e-5, rtol=0)


def test_nearest_mode_keeps_values():
    lab = torch.randint(0, 5, (1, 1, 8, 8, 8)).float()
    dp = torch.full((1, 3, 8, 8, 8), 0.4)
    out = SpatialTransformer("nearest")(lab, dp)
    assert set(out.unique().tolist()) <= set(lab.unique().tolist())
    torch.testing.assert_close(out, lab)  # 0.4 voxel rounds back to the same voxel


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(B, 3, D, H, W\)"):
        SpatialTransformer()(torch.zeros(1, 1, 8, 8, 8), torch.zeros(1, 2, 8, 8, 8))


def test_gradient_reaches_field():
    img = textured((1, 1, 8, 8, 8))
    dp = torch.full((1, 3, 8, 8, 8), 0.3, requires_grad=True)
    SpatialTransformer()(img, dp).sum().backward()
    assert dp.grad is not None and dp.grad.abs().sum() > 0


@pytest.mark.parametrize("slabs", [1, 2, 3, 4])
def test_slab_warp_equals_the_spatial_transformer(slabs):
    from ltnet.nn import SpatialTransformer, slab_warp

    g = torch.Generator().manual_seed(2)
    img = torch.rand((1, 2, 12, 10, 9), generator=g)
    dp = 2 * torch.randn((1, 3, 12, 10, 9), generator=g)  # also beyond the border
    torch.testing.assert_close(slab_warp(img, dp, slabs), SpatialTransformer()(img, dp), atol=1e-5, rtol=0)
    d = dp.clone().requires_grad_()
    slab_warp(img, d, slabs).sum().backward()
    assert d.grad is not None and d.grad.abs().sum() > 0
