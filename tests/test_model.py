import pytest
import torch

from ltnet.config import VARIANTS, TrainConfig
from ltnet.losses.charbonnier import EPS, GAMMA
from ltnet.model import build_models, generator_objective
from tests.conftest import textured


def _inputs(n_labels=3, shape=(32, 32, 32)):
    x, y = textured((1, 1, *shape)), textured((1, 1, *shape), seed=5)
    lab = torch.randint(0, n_labels, (1, *shape))
    xs = torch.nn.functional.one_hot(lab, n_labels).permute(0, 4, 1, 2, 3).float()
    return x, y, xs


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_computes_exactly_its_terms(name):
    cfg = TrainConfig.for_recipe("paper", variant=name)
    model, disc = build_models(cfg)
    v = model.variant
    x, y, xs = _inputs()
    out = model(x, y, xs if v.needs_labels else None)
    assert out.dp_f.shape == (1, 3, 32, 32, 32) and out.y_bar.shape == y.shape
    assert (out.dp_b is not None) == v.backward and (out.x_bar is not None) == v.backward
    assert (out.x_bar_s is not None) == (v.backward and v.needs_labels)
    assert (disc is not None) == v.gan
    terms = generator_objective(model, out, x, y, xs if v.needs_labels else None, disc, cfg)
    present = set(terms.as_floats())
    expect = {"total", "sim", "smooth"} | {k for k in ("gan", "trans", "anat", "diff") if getattr(v, k)}
    if v.backward:
        expect.add("cyc")
    assert present == expect


def test_total_is_eq_11():
    cfg = TrainConfig.for_recipe("paper", variant="full")
    model, disc = build_models(cfg)
    x, y, xs = _inputs()
    t = generator_objective(model, model(x, y, xs), x, y, xs, disc, cfg)
    expect = t.gan + t.sim + 10 * t.cyc + 3 * (t.anat + t.smooth + t.trans + t.diff)
    torch.testing.assert_close(t.total, expect)


def test_untrained_cycle_is_near_the_floors():
    # fields start near zero, so x_bar ~ x and the consistency losses start near their floors
    cfg = TrainConfig.for_recipe("paper", variant="full")
    model, disc = build_models(cfg)
    x, y, xs = _inputs()
    t = generator_objective(model, model(x, y, xs), x, y, xs, disc, cfg)
    assert float(t.cyc.detach()) < 1e-3 and float(t.anat.detach()) < 1e-3
    assert float(t.trans.detach()) == pytest.approx(EPS ** (2 * GAMMA), rel=0.2)


def test_gradients_reach_both_generators_and_the_discriminator():
    from ltnet import losses

    cfg = TrainConfig.for_recipe("paper", variant="full")
    model, disc = build_models(cfg)
    x, y, xs = _inputs()
    out = model(x, y, xs)
    generator_objective(model, out, x, y, xs, disc, cfg).total.backward()
    for g in (model.g_f, model.g_b):
        grads = [p.grad for p in g.parameters()]
        assert all(gr is not None for gr in grads) and sum(float(gr.abs().sum()) for gr in grads) > 0
    disc.zero_grad()
    losses.lsgan_discriminator_loss(disc(y), disc(out.y_bar.detach())).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in disc.parameters() if p.ndim > 1)


def test_bf16_autocast_pass_gives_finite_float32_losses():
    """The mixed-precision path (bf16 autocast, used on CUDA) checked through CPU autocast."""
    cfg = TrainConfig.for_recipe("paper", variant="full")
    model, disc = build_models(cfg)
    x, y, xs = _inputs(shape=(16, 16, 16))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, y, xs)
        t = generator_objective(model, out, x, y, xs, disc, cfg)
    assert t.total.dtype == torch.float32 and torch.isfinite(t.total)
    ref = generator_objective(model, model(x, y, xs), x, y, xs, disc, cfg).as_floats()
    # bf16 networks move the terms a little, never by orders of magnitude (L_sim stays in [-1, 0])
    assert -1 <= float(t.sim) <= 0 and float(t.sim) == pytest.approx(ref["sim"], abs=0.02)
    t.total.backward()
    assert all(p.grad is not None for p in model.g_f.parameters())


def test_save_memory_gives_the_same_losses_and_gradients():
    from ltnet.config import TrainConfig
    from ltnet.model import build_models, generator_objective

    shape = (1, 1, 24, 24, 24)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(shape, generator=g), torch.rand(shape, generator=g)
    lab = torch.randint(0, 4, (1, 24, 24, 24), generator=g)
    xs = torch.nn.functional.one_hot(lab, 4).permute(0, 4, 1, 2, 3).float()
    results = []
    for save in (False, True):
        torch.manual_seed(0)
        cfg = TrainConfig.for_recipe("paper", variant="full", save_memory=save)
        model, disc = build_models(cfg)
        with torch.no_grad():  # a field large enough for the labels to move
            model.g_f.flow.weight.normal_(0, 0.05)
            model.g_b.flow.weight.normal_(0, 0.05)
        t = generator_objective(model, model(x, y, xs), x, y, xs, disc, cfg)
        t.total.backward()
        results.append((t.as_floats(), [p.grad.clone() for p in model.parameters()]))
    (a, ga), (b, gb) = results
    assert a == pytest.approx(b, rel=1e-5)
    for p, q in zip(ga, gb, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)


def test_mutually_inverse_subvoxel_maps_reconstruct_the_atlas_exactly():
    # dpF = +0.4 voxel, dpB = -0.4: x_bar is x sampled once at t + 0 (the maps are composed), so
    # L_cyc and L_anat are 0 and carry no interpolation blur; resampling y_bar again would not be
    from ltnet import losses

    cfg = TrainConfig.for_recipe("paper", variant="full")
    model, disc = build_models(cfg)
    x, y, xs = _inputs()
    shift = torch.tensor([0.4, -0.3, 0.2]).view(1, 3, 1, 1, 1).expand(1, 3, 32, 32, 32)
    model.g_f.velocity = lambda a, b: shift.clone()
    model.g_b.velocity = lambda a, b: -shift.clone()
    out = model(x, y, xs)
    assert float(out.dp_cyc.abs().max()) < 1e-6
    torch.testing.assert_close(out.x_bar, x)
    torch.testing.assert_close(out.x_bar_s, xs)
    t = generator_objective(model, out, x, y, xs, disc, cfg)
    assert float(t.cyc) < 1e-6 and float(t.anat) < 1e-6
    blurred = model.warp(out.y_bar, out.dp_b)  # the two-resampling reconstruction
    assert float(losses.image_cycle_loss(blurred, x)) > 100 * float(t.cyc) + 1e-3
