"""The training recipes: the paper's eq. 11 against ltnet's (schedule, D's augmentation and R1, G_B's
own similarity, EMA), the atlas kept out of D's real images, and the collapse diagnostics."""

import json
import shutil
import warnings

import numpy as np
import pytest
import torch

from ltnet.config import PAPER_RECIPE, TrainConfig
from ltnet.errors import LtnetError
from ltnet.model import Weights, build_models, generator_objective
from ltnet.runtime import read_log
from ltnet.train import COLLAPSE_THRESHOLD, CollapseWatch, train
from ltnet.trainset import TrainData, load_train_data
from tests.conftest import textured


@pytest.fixture(scope="module")
def data(toy_data):
    images, labels = toy_data
    return load_train_data(images[0], labels[0], images[1:])


def test_the_paper_recipe_is_eq_11_without_schedule():
    cfg = TrainConfig.for_recipe("paper")
    assert cfg.recipe == "paper" and (cfg.lambda_gan, cfg.cycle_scale) == (1.0, 1.0)
    assert not (cfg.backward_sim or cfg.disc_augment or cfg.r1_gamma or cfg.ema_decay)
    assert all(Weights.at(cfg, s) == Weights(1.0, 1.0) for s in (0, 10, 10_000))
    assert TrainConfig.for_recipe("paper", lambda_gan=0.5).lambda_gan == 0.5
    with pytest.raises(LtnetError, match="recipe"):
        TrainConfig.for_recipe("cookbook")


def test_the_schedule_warms_up_then_ramps():
    cfg = TrainConfig(warmup_steps=10, ramp_steps=4, lambda_gan=0.1, cycle_scale=0.2)
    assert [cfg.ramp(s) for s in (0, 9, 10, 11, 13, 100)] == [0.0, 0.0, 0.25, 0.5, 1.0, 1.0]
    w = Weights.at(cfg, 11)
    assert w.gan == pytest.approx(0.05) and w.cyc == pytest.approx(0.1)


def test_the_learning_rate_drops_to_a_quarter_over_the_last_anneal_steps():
    cfg = TrainConfig(steps=10, lr=1e-3, anneal_steps=3)
    assert [cfg.lr_at(s) for s in (0, 6, 7, 9)] == [1e-3, 1e-3, 2.5e-4, 2.5e-4]
    assert TrainConfig(steps=10, lr=1e-3).lr_at(9) == 1e-3  # 0: constant, as the paper
    assert TrainConfig.for_recipe("paper").anneal_steps == 0
    assert TrainConfig(steps=5, anneal_steps=5).lr_at(0) == pytest.approx(5e-5)  # all of a fine-tune
    with pytest.raises(LtnetError, match=r"anneal_steps \(6\) must be at most steps \(5\)"):
        TrainConfig(steps=5, anneal_steps=6)


def test_training_steps_at_the_annealed_rate(data, tmp_path):
    """The optimiser's rate follows the schedule and moves the weights: from the same first step,
    the annealed second step moves every weight a quarter as far as the constant-rate one (Adam's
    update is lr times a function of the gradients, which are the same)."""
    runs = {}
    for name, steps, anneal in (("first", 1, 0), ("constant", 2, 0), ("annealed", 2, 1)):
        cfg = TrainConfig(variant="voxelmorph", steps=steps, anneal_steps=anneal)
        train(cfg, data, tmp_path / name, progress=False)
        runs[name] = torch.load(tmp_path / name / "checkpoint.pt", weights_only=True)
    assert [g["lr"] for g in runs["annealed"]["opt_g"]["param_groups"]] == [5e-5]
    assert [g["lr"] for g in runs["constant"]["opt_g"]["param_groups"]] == [2e-4]
    flow = "g_f.flow.weight"
    assert (runs["constant"]["model"][flow] - runs["first"]["model"][flow]).abs().max() > 1e-5
    for key, w1 in runs["first"]["model"].items():
        if w1.is_floating_point():
            full = runs["constant"]["model"][key] - w1
            quarter = runs["annealed"]["model"][key] - w1
            # atol: float32 rounding of weights near 0.1; a whole step is about 2e-4
            torch.testing.assert_close(quarter, full / 4, rtol=1e-3, atol=2e-8)


def test_a_config_saved_before_recipes_loads_as_the_paper_recipe():
    old = TrainConfig.for_recipe("paper").to_dict()
    for k in (*PAPER_RECIPE, "recipe", "diag_every"):
        old.pop(k)
    old["net"].pop("shared_generator")
    cfg = TrainConfig.from_dict(old)
    assert cfg.recipe == "paper" and cfg.lambda_gan == 1.0 and cfg.ema_decay == 0.0


def test_paper_weights_give_eq_11():
    cfg = TrainConfig.for_recipe("paper")
    model, disc = build_models(cfg)
    x, y = textured((1, 1, 24, 24, 24), 0), textured((1, 1, 24, 24, 24), 1)
    ids = (x * 3).long().clamp(max=2)[:, 0]
    x_s = torch.nn.functional.one_hot(ids, 3).movedim(-1, 1).float()
    torch.nn.init.normal_(model.g_f.flow.weight, std=0.05)  # a non-zero field
    out = model(x, y, x_s)
    t = generator_objective(model, out, x, y, x_s, disc, cfg)
    expected = t.sim + t.gan + 10 * t.cyc + 3 * (t.smooth + t.trans + t.anat + t.diff)
    assert float(t.total.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    # ltnet's weights: the cycle family and L_GAN scaled, G_B's own L_sim added; with L_GAN at 0 no
    # discriminator is built
    assert build_models(TrainConfig(variant="gan"))[1] is None
    cfg2 = TrainConfig(cycle_scale=0.1, lambda_gan=0.01)
    out2 = model(x, y, x_s, backward_sim=True)
    t2 = generator_objective(model, out2, x, y, x_s, disc, cfg2, Weights.at(cfg2, 10_000))
    assert t2.sim_b is not None and out2.y_hat is not None
    expected2 = (
        t2.sim
        + t2.sim_b
        + 0.01 * t2.gan
        + 0.1 * 10 * t2.cyc
        + 3 * (t2.smooth + 0.1 * (t2.trans + t2.anat + t2.diff))
    )
    assert float(t2.total.detach()) == pytest.approx(float(expected2.detach()), rel=1e-5)


def test_one_network_serves_both_directions_when_shared():
    from ltnet.config import NetConfig

    model, _ = build_models(TrainConfig(net=NetConfig(shared_generator=True)))
    separate, _ = build_models(TrainConfig())
    assert model.g_b is model.g_f
    n = sum(p.numel() for p in model.parameters())
    assert 2 * n == sum(p.numel() for p in separate.parameters())


def test_files_holding_the_atlas_are_left_out_of_the_pool(toy_data, tmp_path):
    images, labels = toy_data
    copy = tmp_path / "copy_of_atlas.nii.gz"
    shutil.copy(images[0], copy)
    with pytest.warns(UserWarning, match="holds the atlas"):
        d = load_train_data(images[0], labels[0], [images[0], copy, *images[1:]])
    assert len(d.images) == len(images) - 1 and str(copy) not in d.image_paths
    with pytest.raises(LtnetError, match="other than the atlas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_train_data(images[0], labels[0], [images[0]])


def test_the_discriminator_never_sees_the_atlas_as_real(data, tmp_path):
    # a pool built by hand with the atlas among the images: train drops it before any step
    pool = np.concatenate([data.images, data.atlas.image[None]])
    d = TrainData(data.atlas, pool)
    seen: list[torch.Tensor] = []
    cfg = TrainConfig(
        variant="gan",
        steps=6,
        lambda_gan=0.01,
        disc_augment=False,
        r1_gamma=0.0,
        warmup_steps=0,
        ramp_steps=0,
    )
    from ltnet import model as model_module

    real_build = model_module.build_models

    def spy_build(*a, **k):
        m, disc = real_build(*a, **k)
        disc.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0].detach().clone()))
        return m, disc

    model_module_train = __import__("ltnet.train", fromlist=["build_models"])
    orig = model_module_train.build_models
    model_module_train.build_models = spy_build
    try:
        with pytest.warns(UserWarning, match="equal to the atlas"):
            train(cfg, d, tmp_path, progress=False)
    finally:
        model_module_train.build_models = orig
    atlas = torch.from_numpy(data.atlas.image)
    reals = [batch[0, 0] for batch in seen if len(batch) == 2]  # D's update: real then fake
    assert len(reals) == 6
    assert not any(torch.equal(r, atlas) for r in reals)
    assert all(any(torch.equal(r, torch.from_numpy(im)) for im in data.images) for r in reals)


def test_ema_weights_are_saved_and_used_by_segment(data, tmp_path):
    from ltnet.segment import load_trained

    train(TrainConfig(variant="voxelmorph", steps=3, ema_decay=0.5), data, tmp_path, progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["ema_count"] == 3
    key = "g_f.flow.weight"
    assert not torch.equal(state["model_ema"][key], state["model"][key])
    loaded = load_trained(tmp_path).model.state_dict()[key]
    torch.testing.assert_close(loaded, state["model_ema"][key])


def test_diagnostics_log_each_terms_pull_on_both_fields(data, tmp_path):
    cfg = TrainConfig(
        variant="full", steps=3, diag_every=2, warmup_steps=0, ramp_steps=0, lambda_gan=0.01, cycle_scale=0.01
    )
    train(cfg, data, tmp_path, progress=False)
    log = read_log(tmp_path)
    assert all("dpF_abs" in r and "dpB_abs" in r for r in log)
    diag = [r["step"] for r in log if "grad_dpF/sim" in r]
    assert diag == [1, 3]  # every 2 steps from the first, and the last
    first = log[0]
    for term in ("sim", "smooth", "gan", "cyc", "trans", "anat", "diff"):
        assert np.isfinite(first[f"grad_dpF/{term}"])
    assert first["grad_dpB/sim"] == 0.0  # L_sim does not depend on G_B's cycle output
    assert log[-1]["grad_dpB/cyc"] > 0.0


def test_a_collapsed_field_is_reported_once():
    cfg = TrainConfig(warmup_steps=10, ramp_steps=10)
    watch = CollapseWatch(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step in range(69):  # before warm-up + ramp + 50 steps: quiet however small
            watch(step, 0.0)
    with pytest.warns(UserWarning, match="collapsed"):
        watch(70, COLLAPSE_THRESHOLD / 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        watch(71, 0.0)  # once only
        healthy = CollapseWatch(cfg)
        for step in range(200):
            healthy(step, 0.5)


def test_cli_refuses_a_recipe_flag_the_variant_would_ignore(toy_data, tmp_path, capsys):
    from ltnet.cli import main

    images, labels = toy_data
    argv = ["train", "--atlas", str(images[0]), "--atlas-labels", str(labels[0]), "--prealigned"]
    argv += ["--images", *map(str, images[1:]), "--out", str(tmp_path / "r"), "--steps", "1", "--quiet"]
    assert main([*argv, "--variant", "voxelmorph", "--lambda-gan", "0.1"]) == 2
    assert "--lambda-gan: variant 'voxelmorph' has no L_GAN" in capsys.readouterr().err
    assert main([*argv, "--variant", "gan", "--cycle-scale", "0.1"]) == 2
    assert "--cycle-scale" in capsys.readouterr().err
    assert main([*argv, "--r1-gamma", "2"]) == 2  # ltnet's L_GAN weight is 0: no discriminator
    assert "--r1-gamma" in capsys.readouterr().err
    assert main([*argv, "--variant", "voxelmorph", "--warmup-steps", "5"]) == 2
    assert "nothing to schedule" in capsys.readouterr().err
    assert main([*argv, "--variant", "voxelmorph", "--symmetric-sim", "1"]) == 2
    assert "--symmetric-sim: variant 'voxelmorph' has no backward network" in capsys.readouterr().err
    assert main([*argv, "--anneal-steps", "2"]) == 2  # more than --steps
    assert "anneal_steps (2) must be at most steps (1)" in capsys.readouterr().err
    assert main([*argv, "--no-backward-sim", "--symmetric-sim", "1"]) == 2
    assert "symmetric_sim needs backward_sim" in capsys.readouterr().err
    # ltnet's cycle family weighs 0: its penalty, and with L_GAN at 0 too the schedule, do nothing
    assert main([*argv, "--cycle-penalty", "l2"]) == 2
    assert "the cycle family's weight is 0 in this recipe" in capsys.readouterr().err
    assert main([*argv, "--warmup-steps", "5"]) == 2
    assert "nothing to schedule: add --lambda-gan or --cycle-scale" in capsys.readouterr().err
    assert main([*argv, "--no-backward-sim"]) == 2
    assert "leaves G_B untrained" in capsys.readouterr().err
    assert not (tmp_path / "r" / "checkpoint.pt").exists()
    # the paper's recipe, with one ingredient overridden, is recorded in the run's config
    assert main([*argv, "--recipe", "paper", "--warmup-steps", "5", "--no-cache"]) == 0
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["recipe"] == "paper" and cfg["warmup_steps"] == 5 and cfg["lambda_gan"] == 1.0


def test_the_symmetric_term_trains_both_networks_through_the_mean_field():
    from ltnet.deformation import inverse_field

    cfg = TrainConfig(variant="trans", symmetric_sim=0.5)  # a variant without label terms
    model, _ = build_models(cfg)
    x, y = textured((1, 1, 24, 24, 24), 0), textured((1, 1, 24, 24, 24), 1)
    # zero fields: the mean field is zero and the atlas comes through unchanged
    for g in (model.g_f, model.g_b):
        torch.nn.init.zeros_(g.flow.weight), torch.nn.init.zeros_(g.flow.bias)
    out0 = model(x, y, backward_sim=True, symmetric=True)
    assert out0.dp_sym is not None and float(out0.dp_sym.abs().max()) == 0.0
    assert torch.allclose(out0.y_sym, x, atol=1e-6)
    for g in (model.g_f, model.g_b):
        torch.nn.init.normal_(g.flow.weight, std=0.05)
    out = model(x, y, backward_sim=True, symmetric=True)
    # a known answer: the mean of G_F's field and the inverse of G_B's, as segment computes it
    expected = 0.5 * (out.dp_f + inverse_field(out.dp_r, model.warp, 20))
    assert torch.allclose(out.dp_sym, expected, atol=1e-3)
    t = generator_objective(model, out, x, y, None, None, cfg)
    assert float(t.weighted["sim_sym"].detach()) == pytest.approx(0.5 * float(t.sim_sym.detach()))
    grads = torch.autograd.grad(t.weighted["sim_sym"], [model.g_f.flow.weight, model.g_b.flow.weight])
    assert all(float(g.norm()) > 0 for g in grads)  # both networks learn from it
    # without the flag the term is not computed
    assert generator_objective(model, model(x, y, backward_sim=True), x, y, None, None, cfg).sim_sym is None


def test_the_symmetric_term_of_a_diffeomorphic_model_integrates_the_mean_velocity():
    from ltnet.atlas import Atlas
    from ltnet.config import NetConfig
    from ltnet.segment import predict_field

    cfg = TrainConfig(variant="trans", symmetric_sim=0.5, net=NetConfig(integration_steps=5))
    model, _ = build_models(cfg)
    x, y = textured((1, 1, 24, 24, 24), 0), textured((1, 1, 24, 24, 24), 1)
    for g in (model.g_f, model.g_b):
        torch.nn.init.normal_(g.flow.weight, std=0.05)
    out = model(x, y, backward_sim=True, symmetric=True)
    with torch.no_grad():
        v_f, v_r = model.g_f.velocity(x, y), model.g_b.velocity(y, x)
        torch.testing.assert_close(out.dp_f, model.g_f(x, y))  # the forward field is unchanged
        torch.testing.assert_close(out.dp_sym, model.g_f.displacement(0.5 * (v_f - v_r)))
    # the map segment transfers along is the one trained through
    atlas = Atlas.from_arrays(x[0, 0].numpy(), np.zeros((24, 24, 24), np.int32), np.eye(4))
    torch.testing.assert_close(predict_field(model, atlas, y[0, 0].numpy(), symmetric=True), out.dp_sym)


def test_the_symmetric_term_needs_g_bs_own_similarity():
    with pytest.raises(LtnetError, match="symmetric_sim needs backward_sim"):
        TrainConfig(symmetric_sim=1.0, backward_sim=False)
    with pytest.raises(LtnetError, match="symmetric_sim must be 0 or more"):
        TrainConfig(symmetric_sim=-1.0)
    assert TrainConfig.for_recipe("paper").symmetric_sim == 0.0


def test_without_the_cycle_family_g_f_trains_exactly_as_voxelmorph(data, tmp_path):
    """ltnet's default (cycle_scale 0, L_GAN 0) skips the cycle path: G_F sees VoxelMorph's objective
    alone, from the same initial weights (G_F is drawn first), so the two runs' G_F agree."""
    full = TrainConfig(variant="full", steps=3, diag_every=1)
    assert full.cycle_scale == 0 and full.lambda_gan == 0 and not full.runs_cycle
    train(full, data, tmp_path / "full", progress=False)
    train(TrainConfig(variant="voxelmorph", steps=3), data, tmp_path / "vxm", progress=False)
    states = [torch.load(tmp_path / r / "checkpoint.pt", weights_only=True)["model"] for r in ("full", "vxm")]
    g_f = [{k: v for k, v in s.items() if k.startswith("g_f.")} for s in states]
    assert g_f[0].keys() == g_f[1].keys() and g_f[0]
    for k, v in g_f[1].items():
        torch.testing.assert_close(g_f[0][k], v, rtol=1e-5, atol=1e-7)
    log = read_log(tmp_path / "full")
    assert all("dpR_abs" in r and "dpB_abs" not in r and "cyc" not in r for r in log)
    assert log[-1]["sim_b"] < log[0]["sim_b"] + 0.05  # G_B trains, on its own L_sim
    # the cycle family at any weight above 0 runs the cycle path, and G_F then differs
    assert TrainConfig(variant="full", cycle_scale=0.01).runs_cycle


def test_the_cycle_path_is_left_out_only_when_asked():
    cfg = TrainConfig(variant="full")
    model, _ = build_models(cfg)
    x, y = textured(seed=1), textured(seed=2)
    skipped = model(x, y, backward_sim=True, cycle=False)
    assert skipped.dp_b is None and skipped.x_bar is None and skipped.dp_r is not None
    terms = generator_objective(model, skipped, x, y, None, None, cfg)
    assert terms.cyc is None and terms.trans is None and terms.sim_b is not None
    full = model(x, y, backward_sim=True)
    assert full.dp_b is not None and full.x_bar is not None
