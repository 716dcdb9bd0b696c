"""Known answers: the Jacobian of affine fields, folding, and the cycle error of inverse maps."""

from __future__ import annotations

import pytest
import torch

from ltnet.deformation import cycle_error, deformation_metrics, inverse_field, jacobian_determinant
from ltnet.nn import SpatialTransformer
from ltnet.trilinear import voxel_coords


def affine_field(a: torch.Tensor, shape=(12, 13, 14)) -> torch.Tensor:
    """dp(t) = (A - I) t: the displacement of the linear map t -> A t, (1, 3, D, H, W)."""
    t = voxel_coords(shape, "cpu").reshape(3, -1).double()
    return ((a.double() - torch.eye(3, dtype=torch.float64)) @ t).reshape(1, 3, *shape).float()


def test_jacobian_of_an_affine_field_is_its_determinant():
    a = torch.tensor([[1.2, 0.1, 0.0], [0.0, 0.9, 0.05], [0.02, 0.0, 1.1]])
    det = jacobian_determinant(affine_field(a))
    assert det.shape == (1, 12, 13, 14)
    torch.testing.assert_close(det, torch.full_like(det, float(torch.linalg.det(a))), atol=1e-5, rtol=1e-5)


def test_translation_has_unit_jacobian_and_no_spread():
    dp = torch.zeros(1, 3, 8, 9, 10)
    dp[:, 0] = 2.5
    m = deformation_metrics(dp)
    assert m == {"folding_percent": 0.0, "log_jacobian_std": pytest.approx(0.0, abs=1e-6)}


def test_a_reflection_folds_every_voxel():
    a = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
    m = deformation_metrics(affine_field(a))
    assert m["folding_percent"] == 100.0


def test_mask_selects_voxels():
    dp = torch.zeros(1, 3, 10, 10, 10)
    dp[0, 0, 5:] = torch.arange(5, dtype=torch.float32)[:, None, None] * -2  # folds where x >= 5
    mask = torch.zeros(10, 10, 10, dtype=torch.bool)
    mask[:4] = True
    assert deformation_metrics(dp, mask)["folding_percent"] == 0.0
    assert deformation_metrics(dp)["folding_percent"] > 0.0
    with pytest.raises(ValueError, match="not on the field's grid"):
        deformation_metrics(dp, mask[:5])


def test_mutually_inverse_translations_have_zero_cycle_error():
    warp = SpatialTransformer()
    f = torch.zeros(1, 3, 8, 8, 8)
    f[:, 1] = 1.0
    err = cycle_error(f, -f, warp)
    assert err.shape == (1, 8, 8, 8) and float(err.abs().max()) == 0.0
    assert float(cycle_error(f, f, warp).mean()) == pytest.approx(2.0)


def test_inverse_of_a_shift_is_the_opposite_shift():
    dp = torch.zeros(1, 3, 10, 11, 12)
    dp[:, 0], dp[:, 2] = 1.5, -0.75
    torch.testing.assert_close(inverse_field(dp, SpatialTransformer()), -dp)


def test_inverse_field_undoes_a_smooth_field():
    g = torch.Generator().manual_seed(0)
    coarse = torch.randn(1, 3, 4, 4, 4, generator=g)
    dp = torch.nn.functional.interpolate(coarse, size=(20, 20, 20), mode="trilinear", align_corners=True)
    warp = SpatialTransformer()
    u = inverse_field(dp, warp)
    inner = (slice(None), slice(None), *(slice(4, -4),) * 3)  # away from the border's clamping
    # u(t) + dp(t + u(t)) = 0: the cycle error of (u, dp) vanishes, while dp's own is large
    assert float(cycle_error(u, dp, warp)[inner[:1] + inner[2:]].max()) < 1e-3
    assert float(dp.norm(dim=1).mean()) > 0.5
