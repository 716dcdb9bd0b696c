import pytest
import torch

from ltnet.nn import PatchDiscriminator3D, VxmUNet, crop_to, pad_to_multiple


def test_pad_then_crop_round_trip():
    x = torch.rand(1, 2, 17, 20, 33)
    padded, size = pad_to_multiple(x, 16)
    assert padded.shape[2:] == (32, 32, 48)
    torch.testing.assert_close(crop_to(padded, size), x)


@pytest.mark.parametrize("shape", [(32, 32, 32), (27, 33, 30), (17, 18, 19)])
def test_unet_any_shape_gives_a_field_on_the_input_grid(shape):
    net = VxmUNet()
    a, b = torch.rand(1, 1, *shape), torch.rand(1, 1, *shape)
    dp = net(a, b)
    assert dp.shape == (1, 3, *shape)
    assert dp.abs().max() < 1e-2  # the head starts near zero (std 1e-5)


def test_unet_layout_matches_spec():
    net = VxmUNet()
    assert [b[0].out_channels for b in net.encoder] == [16, 32, 32, 32]
    assert [b[0].stride for b in net.encoder] == [(2, 2, 2)] * 4
    assert [b[0].out_channels for b in net.decoder] + [b[0].out_channels for b in net.full_res] == [
        32,
        32,
        32,
        32,
        32,
        16,
        16,
    ]
    assert net.full_res[0][0].in_channels == 32 + 2  # upsampled features + the input images
    assert net.flow.out_channels == 3
    assert float(net.flow.weight.detach().std()) < 1e-4


def test_unet_gradients_flow_to_every_layer():
    net = VxmUNet()
    net(torch.rand(1, 1, 16, 16, 16), torch.rand(1, 1, 16, 16, 16)).pow(2).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_unet_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="one shape"):
        VxmUNet()(torch.rand(1, 1, 16, 16, 16), torch.rand(1, 1, 16, 16, 17))


def test_patchgan_layout_and_patch_scores():
    d = PatchDiscriminator3D()
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv3d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 64, 1]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert all(c.kernel_size == (4, 4, 4) for c in convs)
    norms = [m for m in d.modules() if isinstance(m, torch.nn.InstanceNorm3d)]
    assert len(norms) == 3  # all but the first and the last layer
    out = d(torch.rand(2, 1, 32, 32, 32))
    assert out.shape[:2] == (2, 1) and out[0, 0].numel() > 1  # one score per patch


@pytest.mark.parametrize("shape", [(8, 8, 8), (16, 30, 23), (24, 24, 24)])
def test_patchgan_takes_small_volumes(shape):
    d = PatchDiscriminator3D().train()
    out = d(torch.rand(1, 1, *shape))
    assert out.shape[:2] == (1, 1) and torch.isfinite(out).all()


@pytest.mark.parametrize("shape", [(32, 32, 32), (27, 33, 30)])
def test_half_res_head_gives_a_full_field_with_far_fewer_flops(shape):
    from torch.utils.flop_counter import FlopCounterMode

    a, b = torch.rand(1, 1, *shape), torch.rand(1, 1, *shape)
    counts = []
    for half in (False, True):
        net = VxmUNet(half_res=half)
        with FlopCounterMode(display=False) as fc:
            dp = net(a, b)
        assert dp.shape == (1, 3, *shape)
        assert dp.abs().max() < 1e-2
        counts.append(fc.get_total_flops())
    assert counts[1] < counts[0] / 4
