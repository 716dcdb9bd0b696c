"""Each loss sits at the SPEC's floor in its ideal case, rises when perturbed, and passes gradients."""

import math

import pytest
import torch

from ltnet import losses
from ltnet.losses.charbonnier import EPS, GAMMA
from ltnet.nn import SpatialTransformer
from tests.conftest import textured

RHO0 = EPS ** (2 * GAMMA)


def one_hot(lab: torch.Tensor, n: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(lab, n).permute(0, 4, 1, 2, 3).float()


def test_rho_of_zero_is_about_0_002():
    assert float(losses.charbonnier(torch.zeros(1))) == pytest.approx(RHO0)
    assert RHO0 == pytest.approx(0.002, abs=1e-4)
    assert float(losses.charbonnier(torch.ones(1))) == pytest.approx((1 + EPS**2) ** GAMMA)


def test_lncc_floor_is_minus_one_and_rises():
    x = textured()
    assert float(losses.lncc_loss(x, x)) == pytest.approx(-1.0, abs=1e-5)
    y = x + 0.5 * textured(seed=1)
    assert float(losses.lncc_loss(x, y)) > -0.9
    # invariant to a change of contrast (windows at the border see zero padding, so not to an offset)
    assert float(losses.lncc_loss(x, 2.5 * x)) == pytest.approx(-1.0, abs=1e-4)


def test_lncc_under_bf16_autocast_equals_float32():
    # a brain-like image: flat zero background around a textured block. In bf16 the background's
    # window variance came out below zero and the loss reached -6e6 (and -4e7 on CUDA)
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(1, 1, 40, 40, 40)
    x[..., 8:32, 8:32, 8:32] = 0.6 + 0.05 * torch.rand(1, 1, 24, 24, 24, generator=g)
    y = torch.roll(x, 2, 2)
    ref = losses.lncc_loss(x, y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = losses.lncc_loss(x, y)
    assert got.dtype == torch.float32 and -1 <= float(got) <= 0
    torch.testing.assert_close(got, ref)


def test_lncc_uses_window_9():
    x, y = textured(), textured(seed=2)
    assert float(losses.lncc_loss(x, y)) != pytest.approx(float(losses.lncc_loss(x, y, kernel_size=3)))


def test_smoothness_floor_and_known_answer():
    assert float(losses.gradient_loss(torch.full((1, 3, 8, 8, 8), 2.5))) == 0.0
    a = 0.7
    z = torch.arange(8.0).view(1, 1, 8, 1, 1).expand(1, 1, 8, 8, 8)
    dp = torch.cat([a * z, torch.zeros(1, 2, 8, 8, 8)], dim=1)
    # only channel 0 varies, only along D: (a^2 / 3 channels) / 3 axes
    assert float(losses.gradient_loss(dp)) == pytest.approx(a * a / 9, rel=1e-6)


def test_image_cycle_floor_and_rise():
    x = textured()
    assert float(losses.image_cycle_loss(x, x)) == 0.0
    assert float(losses.image_cycle_loss(x + 0.1, x)) == pytest.approx(0.1, rel=1e-5)


def test_trans_floor_at_mutually_inverse_translations():
    warp = SpatialTransformer()
    c = torch.tensor([1.5, -2.0, 0.75]).view(1, 3, 1, 1, 1)
    dp_f = c.expand(1, 3, 12, 12, 12).clone()
    dp_b = -dp_f
    assert float(losses.transformation_consistency_loss(dp_f, dp_b, warp)) == pytest.approx(RHO0, rel=1e-5)
    assert float(losses.compose(dp_f, dp_b, warp).abs().max()) < 1e-5
    # not inverse: rises by rho of the residual
    got = float(losses.transformation_consistency_loss(dp_f, -0.5 * dp_f, warp))
    expect = float(losses.charbonnier(0.5 * c).mean())
    assert got == pytest.approx(expect, rel=1e-4) and got > RHO0


def test_anat_floor_zero_and_rises():
    lab = torch.randint(0, 4, (1, 10, 10, 10))
    xs = one_hot(lab, 4)
    assert float(losses.anatomy_cycle_loss(xs, xs)) == pytest.approx(0.0, abs=1e-7)
    worse = xs.roll(2, dims=2)
    assert float(losses.anatomy_cycle_loss(xs, worse)) > 0.1


def test_anat_matches_squared_dice_by_hand_and_ignores_background():
    a = torch.zeros(1, 2, 4, 4, 4)
    b = torch.zeros(1, 2, 4, 4, 4)
    a[0, 1, :2] = 1.0  # 32 voxels
    b[0, 1, 1:3] = 0.5  # 32 voxels at 0.5, 16 overlapping
    a[0, 0] = 1 - a[0, 1]
    b[0, 0] = 0.123  # background: must not count
    expect = 1 - 2 * (16 * 0.5) / (32 + 32 * 0.25)
    assert float(losses.anatomy_cycle_loss(a, b)) == pytest.approx(expect, rel=1e-4)


def test_diff_floor_when_reconstruction_is_exact_and_rises_when_perturbed():
    lab = torch.randint(0, 4, (1, 10, 10, 10))
    xs = one_hot(lab, 4)
    ys = one_hot(lab.roll(1, dims=1), 4)  # the synthetic labels may differ from the atlas's
    assert float(losses.anatomy_difference_loss(xs, ys, xs)) == pytest.approx(RHO0, rel=1e-5)
    xbar = xs.clone()
    xbar[:, 1:, :5] = 0.3 * xbar[:, 1:, :5] + 0.2
    assert float(losses.anatomy_difference_loss(xs, ys, xbar)) > RHO0 * 5


def test_gan_floors_and_rises():
    ones, zeros = torch.ones(1, 1, 3, 3, 3), torch.zeros(1, 1, 3, 3, 3)
    assert float(losses.lsgan_generator_loss(ones)) == 0.0
    assert float(losses.lsgan_generator_loss(zeros)) == 1.0
    assert float(losses.lsgan_discriminator_loss(ones, zeros)) == 0.0
    assert float(losses.lsgan_discriminator_loss(zeros, ones)) == 2.0


@pytest.mark.parametrize(
    "fn",
    [
        lambda f: losses.lncc_loss(textured(), textured(seed=3) * f.mean()),
        lambda f: losses.gradient_loss(f),
        lambda f: losses.transformation_consistency_loss(f, f * 0.5, SpatialTransformer()),
    ],
)
def test_gradients_flow(fn):
    f = (torch.rand(1, 3, 24, 24, 24) + 0.5).requires_grad_()
    fn(f).backward()
    assert f.grad is not None and math.isfinite(float(f.grad.abs().sum())) and f.grad.abs().sum() > 0


def test_label_losses_reject_wrong_shapes():
    with pytest.raises(ValueError, match="one-hot"):
        losses.anatomy_cycle_loss(torch.zeros(1, 1, 4, 4, 4), torch.zeros(1, 1, 4, 4, 4))


def test_diff_on_active_entries_equals_the_dense_formula():
    from ltnet.losses.charbonnier import charbonnier

    g = torch.Generator().manual_seed(0)
    x_s = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 6, 6, 6), generator=g), 4)
    x_s = x_s.permute(0, 4, 1, 2, 3).float()
    y_bar_s, x_bar_s = x_s.clone(), x_s.clone()
    y_bar_s[..., :2] = torch.rand(1, 4, 6, 6, 2, generator=g)  # a few voxels differ
    x_bar_s[..., 1:3] = torch.rand(1, 4, 6, 6, 2, generator=g)
    a, b, c = x_s[:, 1:], y_bar_s[:, 1:], x_bar_s[:, 1:]
    dense = charbonnier((a - b).abs() - (b - c).abs()).mean()
    torch.testing.assert_close(losses.anatomy_difference_loss(x_s, y_bar_s, x_bar_s), dense)


# -- ltnet recipe: the L2 residual penalties and R1 -----------------------------------------------


def test_l2_cycle_penalties_sit_at_zero_and_rise_quadratically():
    from ltnet.losses import image_cycle_loss, transformation_consistency_loss
    from ltnet.nn import SpatialTransformer

    x = torch.rand(1, 1, 12, 12, 12)
    assert float(image_cycle_loss(x, x, "l2")) == 0.0
    assert float(image_cycle_loss(x + 0.1, x, "l2")) == pytest.approx(0.01, rel=1e-4)
    assert float(image_cycle_loss(x + 0.1, x)) == pytest.approx(0.1, rel=1e-4)  # the paper's L1
    warp = SpatialTransformer()
    shift = torch.zeros(1, 3, 12, 12, 12)
    shift[:, 0] = 1.0
    assert float(transformation_consistency_loss(shift, -shift, warp, "l2")) == pytest.approx(0.0, abs=1e-10)
    # a residual of 1 voxel in one of the three components
    assert float(transformation_consistency_loss(shift, 0 * shift, warp, "l2")) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="penalty"):
        image_cycle_loss(x, x, "l3")


def test_l2_anatomy_difference_has_floor_zero_and_rises():
    from ltnet.losses import anatomy_difference_loss

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 3, (1, 10, 10, 10), generator=g)
    x_s = torch.nn.functional.one_hot(ids, 3).movedim(-1, 1).float()
    y_s = torch.roll(x_s, 1, dims=2)
    assert float(anatomy_difference_loss(x_s, y_s, x_s, "l2")) == 0.0
    assert float(anatomy_difference_loss(x_s, y_s, y_s, "l2")) > 0.0


def test_r1_of_a_linear_discriminator_is_known():
    from ltnet.losses import r1_penalty

    x = torch.rand(2, 1, 4, 4, 4, requires_grad=True)
    scores = 2.0 * x  # one patch per voxel: a sample's mean score is 2 mean(x)
    n = 64
    assert float(r1_penalty(scores, x)) == pytest.approx(4.0 / n, rel=1e-5)
    with pytest.raises(ValueError, match="require grad"):
        r1_penalty(scores.detach(), x.detach())
