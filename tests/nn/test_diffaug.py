import torch

from ltnet.nn import diff_augment
from ltnet.nn.diffaug import _shift


def test_a_unit_shift_moves_voxels_exactly_with_zero_fill():
    img = torch.arange(64.0).reshape(1, 4, 4, 4)
    moved = _shift(img, [0.25, 0.0, 0.0])  # 1 voxel along the first axis
    assert torch.equal(moved[:, 1:], img[:, :-1])
    assert torch.equal(moved[0, 0], torch.zeros(4, 4))
    assert torch.equal(_shift(img, [-0.25, 0.0, 0.0])[:, :-1], img[:, 1:])


def test_augmentation_is_seeded_shape_preserving_and_varies():
    x = torch.rand(3, 1, 16, 16, 16)
    a = diff_augment(x, torch.Generator().manual_seed(1))
    b = diff_augment(x, torch.Generator().manual_seed(1))
    c = diff_augment(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, x)


def test_gradients_flow_through_the_augmentation():
    x = torch.rand(2, 1, 16, 16, 16, requires_grad=True)
    diff_augment(x, torch.Generator().manual_seed(0)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
