import pytest
import torch
import torch.nn.functional as F

from ltnet.io.resample import sample_at
from ltnet.nn import SpatialTransformer
from ltnet.trilinear import LabelGrid, SoftLabels, trilinear_argmax, trilinear_corners


def _one_hot(b=2, classes=5, shape=(7, 8, 9), seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (b, *shape), generator=g)
    return F.one_hot(labels, classes).permute(0, 4, 1, 2, 3).float()


def _field(b=2, shape=(7, 8, 9), amp=2.0, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, 3, *shape, generator=g) * amp).requires_grad_()


def test_sparse_warps_equal_dense_warps_values_and_gradients():
    oh, dp1, dp2 = _one_hot(), _field(seed=1), _field(seed=2)
    warp = SpatialTransformer()
    dense1 = warp(oh, dp1)
    dense2 = warp(dense1, dp2)
    soft = SoftLabels.from_one_hot(oh).warp(dp1)
    sparse1, sparse2 = soft.one_hot(), soft.warp_one_hot(dp2)
    torch.testing.assert_close(sparse1, dense1, atol=1e-5, rtol=0)
    torch.testing.assert_close(sparse2, dense2, atol=1e-5, rtol=0)
    torch.testing.assert_close(soft.warp(dp2).one_hot(), sparse2, atol=1e-6, rtol=0)
    w = torch.randn_like(dense2)
    g_dense = torch.autograd.grad(((dense1 + dense2) * w).sum(), [dp1, dp2])
    g_sparse = torch.autograd.grad(((sparse1 + sparse2) * w).sum(), [dp1, dp2])
    for a, b in zip(g_sparse, g_dense, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
        assert a.abs().max() > 0.1


def test_zero_field_is_identity_and_unit_shift_moves_labels_exactly():
    oh = _one_hot(b=1)
    soft = SoftLabels.from_one_hot(oh)
    assert torch.equal(soft.warp(torch.zeros(1, 3, 7, 8, 9)).one_hot(), oh)
    dp = torch.zeros(1, 3, 7, 8, 9)
    dp[:, 2] = 1.0  # sample one voxel further along the last axis
    moved = soft.warp(dp).one_hot()
    assert torch.equal(moved[..., :-1], oh[..., 1:])
    assert torch.equal(moved[..., -1], oh[..., -1])  # border padding repeats the edge


def test_weights_sum_to_one_after_two_warps():
    soft = SoftLabels.from_one_hot(_one_hot()).warp(_field(seed=3))
    total = soft.warp_one_hot(_field(seed=4)).sum(1)
    torch.testing.assert_close(total, torch.ones_like(total))


def test_soft_maps_and_wrong_fields_are_refused():
    with pytest.raises(ValueError, match="hard one-hot"):
        SoftLabels.from_one_hot(torch.full((1, 2, 3, 3, 3), 0.5))
    soft = SoftLabels.from_one_hot(_one_hot())
    with pytest.raises(ValueError, match="expected a field"):
        soft.warp(torch.zeros(2, 3, 4, 4, 4))


def test_corners_zero_padding_matches_grid_sample():
    vol = torch.rand(1, 1, 5, 6, 7)
    pts = torch.rand(3, 200) * torch.tensor([[8.0], [9.0], [10.0]]) - 1.5
    idx, w = trilinear_corners(pts[None], (5, 6, 7), "zeros")
    ours = (vol.reshape(-1)[idx[0]] * w[0]).sum(0)
    torch.testing.assert_close(ours, sample_at(vol, pts[:, :, None, None])[0, 0, :, 0, 0], atol=1e-5, rtol=0)


def test_label_transfer_takes_the_heaviest_label_and_background_outside():
    labels = torch.zeros(2, 2, 2, dtype=torch.int64)
    labels[0] = 7
    labels[1, 0, 0] = 3
    grid = LabelGrid.of(labels)
    # at the cube's centre label 7 weighs 4/8, 3 weighs 1/8, 0 weighs 3/8; near the 3 voxel, 3 wins
    pts = torch.tensor([[0.5, 0.9, 5.0, -0.5], [0.5, 0.1, 0.0, 0.0], [0.5, 0.1, 0.0, 0.0]])
    assert trilinear_argmax(grid, pts).tolist() == [7, 3, 0, 7]
    assert torch.equal(trilinear_argmax(grid, torch.zeros(3, 1)), torch.tensor([7]))
