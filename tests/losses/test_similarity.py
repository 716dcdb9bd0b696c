"""The fixed-image LNCC against MONAI's, on known answers."""

import pytest
import torch

from ltnet.losses import FixedImageLNCC, lncc_loss
from tests.conftest import textured


@pytest.mark.parametrize("kernel", [3, 9])
def test_fixed_image_lncc_equals_monai_lncc(kernel):
    g = torch.Generator().manual_seed(3)
    x = torch.rand((2, 1, 14, 16, 12), generator=g)
    y = 0.6 * x + 0.4 * torch.rand(x.shape, generator=g)
    x[:, :, :3] = 0  # flat windows meet the variance floor in both
    torch.testing.assert_close(FixedImageLNCC(x, kernel)(y), lncc_loss(x, y, kernel), rtol=1e-5, atol=1e-6)


def test_fixed_image_lncc_of_an_image_with_itself_is_minus_one_and_has_gradients():
    x = textured((1, 1, 12, 12, 12))
    assert float(FixedImageLNCC(x)(x)) == pytest.approx(-1.0, abs=1e-4)
    y = x.clone().requires_grad_()
    FixedImageLNCC(x)(y + 0.1 * torch.rand_like(x)).backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="odd"):
        FixedImageLNCC(x, 4)


def test_fixed_image_lncc_has_one_fixed_shape():
    g = torch.Generator().manual_seed(5)
    y = torch.rand((1, 1, 12, 14, 10), generator=g)
    m = (0.5 * y + 0.5 * torch.rand(y.shape, generator=g)).requires_grad_()
    f = FixedImageLNCC(y, 5)
    torch.testing.assert_close(f(m), lncc_loss(y, m, 5), rtol=1e-5, atol=1e-6)
    f(m).backward()
    assert m.grad is not None and m.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="differs"):
        f(torch.zeros(1, 1, 12, 14, 11))
