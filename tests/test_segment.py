import json

import nibabel as nib
import numpy as np
import pytest
import torch

from ltnet.config import SegmentConfig, TrainConfig
from ltnet.errors import LtnetError
from ltnet.io import load_image
from ltnet.prepare import normalize_intensity
from ltnet.segment import load_trained, predict_field, segment_files, to_native, transfer_labels
from ltnet.train import train
from ltnet.trainset import load_train_data


def test_transfer_with_zero_field_is_identity():
    lab = torch.randint(0, 6, (10, 11, 12)) * 7  # ids 0, 7, ..., 35
    ids = sorted(set(lab.unique().tolist()))
    for interp in ("linear", "nearest"):
        out = transfer_labels(lab, ids, torch.zeros(1, 3, 10, 11, 12), interp, chunk=100)
        assert torch.equal(out, lab)


def test_transfer_with_unit_shift_moves_labels_exactly():
    lab = torch.randint(0, 4, (10, 10, 10)) + 2000  # FreeSurfer-sized ids
    ids = [0, *sorted(lab.unique().tolist())]
    dp = torch.zeros(1, 3, 10, 10, 10)
    dp[:, 1] = 1.0
    for interp in ("linear", "nearest"):
        out = transfer_labels(lab, ids, dp, interp)
        assert torch.equal(out[:, :-1], lab[:, 1:])


def test_transfer_rejects_unknown_mode():
    with pytest.raises(LtnetError, match="interpolation"):
        transfer_labels(torch.zeros(4, 4, 4, dtype=torch.long), [0], torch.zeros(1, 3, 4, 4, 4), "cubic")


def segment_with(run_dir, paths, out, **kw):
    t = load_trained(run_dir)
    return segment_files(t.atlas, t.prep, t.model, paths, out, progress=False, **kw)


@pytest.fixture(scope="module")
def run(toy_data, tmp_path_factory):
    images, labels = toy_data
    d = tmp_path_factory.mktemp("run")
    train(
        TrainConfig(variant="full", steps=2),
        load_train_data(images[0], labels[0], images[1:]),
        d,
        progress=False,
    )
    return d


def test_segment_writes_labels_with_the_input_header(run, toy_data, tmp_path):
    images, labels = toy_data
    cfg = SegmentConfig(save_field=True, save_warped=True)
    written = segment_with(run, images[1:3], tmp_path, cfg=cfg)
    assert {p.name for p in written} == {
        f"sub-0{i}_{k}.nii.gz" for i in (2, 3) for k in ("labels", "field", "warped")
    } | {"sub-02_segment.json", "sub-03_segment.json"}
    record = json.loads((tmp_path / "sub-02_segment.json").read_text())
    assert (
        record["image"] == str(images[1].resolve()) and record["outputs"]["labels"] == "sub-02_labels.nii.gz"
    )
    assert record["affine_only"] is False and record["seconds"] > 0
    assert record["config"] == cfg.to_dict()  # the options it was segmented with
    src = nib.load(images[1])
    out = nib.load(tmp_path / "sub-02_labels.nii.gz")
    np.testing.assert_array_equal(out.affine, src.affine)
    assert out.shape == src.shape and out.get_data_dtype() == np.uint8
    assert out.header["pixdim"].tolist() == src.header["pixdim"].tolist()
    atlas_ids = set(np.unique(nib.load(labels[0]).get_fdata()).astype(int))
    assert set(np.unique(np.asanyarray(out.dataobj))) <= atlas_ids
    assert nib.load(tmp_path / "sub-02_field.nii.gz").shape == (*src.shape, 3)


def test_field_is_in_world_millimetres(run, toy_data):
    trained = load_trained(run)
    vol = load_image(toy_data[0][1])
    dp = predict_field(trained.model, trained.atlas, normalize_intensity(vol.data))
    seg = to_native(trained.atlas, dp, np.eye(4), vol, with_extras=True)
    # prealigned 2 mm isotropic grid: millimetres are twice the voxel displacement, axis by axis
    np.testing.assert_allclose(seg.field_mm, 2 * dp[0].permute(1, 2, 3, 0).numpy(), rtol=1e-4, atol=1e-5)
    assert seg.warped.shape == vol.shape


def test_mgz_input_gives_mgz_output_with_the_same_vox2ras(run, toy_data, tmp_path):
    src = nib.load(toy_data[0][1])
    mgz = tmp_path / "in" / "sub-09.mgz"
    mgz.parent.mkdir()
    nib.save(nib.MGHImage(src.get_fdata().astype(np.float32), src.affine), mgz)
    segment_with(run, [mgz], tmp_path / "out")
    out = nib.load(tmp_path / "out" / "sub-09_labels.mgz")
    assert isinstance(out, nib.MGHImage)
    np.testing.assert_allclose(out.header.get_vox2ras(), nib.load(mgz).header.get_vox2ras())


def test_shared_file_names_take_the_folder_name(run, toy_data, tmp_path):
    paths = []
    for sub, src in (("sub-a", toy_data[0][1]), ("sub-b", toy_data[0][2])):
        p = tmp_path / sub / "mri" / "brain.nii.gz"
        p.parent.mkdir(parents=True)
        p.write_bytes(src.read_bytes())
        paths.append(p)
    written = segment_with(run, paths, tmp_path / "out")
    assert sorted(p.name for p in written if p.suffix != ".json") == [
        "sub-a_labels.nii.gz",
        "sub-b_labels.nii.gz",
    ]


def test_input_off_the_model_grid_is_refused(run, tmp_path):
    p = tmp_path / "odd.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((20, 21, 22), np.float32), np.eye(4)), p)
    with pytest.raises(LtnetError, match=r"odd.nii.gz.*atlas grid"):
        segment_with(run, [p], tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())


def test_segment_resumes_and_overwrites_only_when_asked(run, toy_data, tmp_path):
    images = toy_data[0][1:3]
    segment_with(run, images, tmp_path)
    done = tmp_path / "sub-02_labels.nii.gz"
    (tmp_path / "sub-03_labels.nii.gz").unlink()  # as if the run had stopped before sub-03
    before = done.stat().st_mtime_ns
    written = segment_with(run, images, tmp_path)
    assert (tmp_path / "sub-03_labels.nii.gz").exists() and len(written) == 4
    assert done.stat().st_mtime_ns == before  # a finished result is left alone
    segment_with(run, images, tmp_path, overwrite=True)
    assert done.stat().st_mtime_ns != before


def test_shards_split_a_folder_and_workers_change_nothing(run, toy_data, tmp_path):
    images = toy_data[0]
    whole = segment_with(run, images, tmp_path / "whole", workers=0)
    parts = [segment_with(run, images, tmp_path / "split", workers=1, shard=(i, 3)) for i in range(3)]
    names = [sorted(p.name for p in part) for part in parts]
    assert sorted(n for part in names for n in part) == sorted(p.name for p in whole)  # each scan once
    assert names[0] == [
        "sub-01_labels.nii.gz",
        "sub-01_segment.json",
        "sub-04_labels.nii.gz",
        "sub-04_segment.json",
    ]
    for p in whole:
        if p.suffix == ".json":
            continue
        a, b = nib.load(p), nib.load(tmp_path / "split" / p.name)
        np.testing.assert_array_equal(np.asanyarray(a.dataobj), np.asanyarray(b.dataobj))


def test_bad_scan_in_a_worker_is_one_clean_error(run, toy_data, tmp_path):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not a scan")
    with pytest.raises(LtnetError) as e:
        segment_with(run, [toy_data[0][1], bad], tmp_path / "out", workers=1)
    assert "broken.nii.gz: cannot read" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("interp", "cubic", "unknown interpolation 'cubic'"),
        ("adapt_mode", "both", "unknown adaptation 'both'"),
        ("adapt_steps", -1, "adapt_steps must be 0 or more"),
        ("adapt_lr", 0.0, "adapt_lr must be positive"),
    ],
)
def test_segment_config_refuses_bad_values(field, value, message):
    with pytest.raises(LtnetError, match=message):
        SegmentConfig(**{field: value})


def test_symmetric_inference_uses_both_networks(run, toy_data):
    trained = load_trained(run)
    img = normalize_intensity(load_image(toy_data[0][1]).data)
    forward = predict_field(trained.model, trained.atlas, img, symmetric=False)
    both = predict_field(trained.model, trained.atlas, img, symmetric=True)
    assert not torch.allclose(forward, both)
    # G_B that does nothing (dpR = 0, so its inverse is 0): the mean is half of G_F's field
    torch.nn.init.zeros_(trained.model.g_b.flow.weight)
    torch.nn.init.zeros_(trained.model.g_b.flow.bias)
    half = predict_field(trained.model, trained.atlas, img, symmetric=True)
    torch.testing.assert_close(half, 0.5 * forward)


def test_segment_records_which_fields_it_used(run, toy_data, tmp_path):
    images, _ = toy_data
    segment_with(run, images[1:2], tmp_path / "both")
    segment_with(run, images[1:2], tmp_path / "fwd", cfg=SegmentConfig(symmetric=False))
    both = json.loads((tmp_path / "both" / "sub-02_segment.json").read_text())
    fwd = json.loads((tmp_path / "fwd" / "sub-02_segment.json").read_text())
    assert both["symmetric"] is True and fwd["symmetric"] is False


def test_atlases_that_agree_fuse_to_their_labels(toy_data, tmp_path):
    import dataclasses

    from ltnet.atlas import load_atlas
    from ltnet.config import PrepConfig
    from ltnet.io import load_labels

    images, labels = toy_data
    prep = PrepConfig(prealigned=True)
    a = load_atlas(images[0], labels[0], prep)
    twin = dataclasses.replace(a, name="twin")
    cfg = SegmentConfig(save_prob=True)
    for rule in ("vote", "local"):
        out = tmp_path / rule
        segment_files(
            a,
            prep,
            None,
            images[1:2],
            out,
            dataclasses.replace(cfg, fusion=rule),
            progress=False,
            atlases=[a, twin],
        )
        got = load_labels(out / "sub-02_labels.nii.gz").data
        assert np.array_equal(got, a.labels)  # the affine alone on one grid: the atlas's labels
        assert np.allclose(load_image(out / "sub-02_prob.nii.gz").data, 1.0)
        rec = json.loads((out / "sub-02_segment.json").read_text())
        assert rec["fusion"]["atlases"] == ["sub-01", "twin"] and rec["fusion"]["rule"] == rule


def test_several_atlases_with_a_model_fuse_and_the_most_similar_is_chosen(run, toy_data, tmp_path):
    from ltnet.atlas import load_atlases

    images, labels = toy_data
    t = load_trained(run)
    atlases = load_atlases(images[:3], labels[:3], t.prep, reference=t.atlas)
    cfg = SegmentConfig(refine_spacing=None, adapt_steps=2)
    segment_files(
        t.atlas, t.prep, t.model, images[3:], tmp_path / "all", cfg, progress=False, atlases=atlases
    )
    rec = json.loads((tmp_path / "all" / "sub-04_segment.json").read_text())
    assert rec["fusion"]["atlases"] == ["sub-01", "sub-02", "sub-03"] and len(rec["adapt"]) == 3
    assert abs(sum(rec["fusion"]["mean_weight"]) - 1) < 1e-5
    one = SegmentConfig(refine_spacing=None, adapt_steps=0, atlases=1)
    segment_files(
        t.atlas, t.prep, t.model, images[3:], tmp_path / "one", one, progress=False, atlases=atlases
    )
    rec = json.loads((tmp_path / "one" / "sub-04_segment.json").read_text())
    assert "fusion" not in rec and "deformation" in rec  # one atlas: the single-atlas path
    with pytest.raises(LtnetError, match="--save-field: one per atlas"):
        segment_files(
            t.atlas,
            t.prep,
            t.model,
            images[3:],
            tmp_path / "f",
            SegmentConfig(save_field=True),
            atlases=atlases,
        )
