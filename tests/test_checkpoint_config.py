import pickle

import pytest
import torch

from ltnet.checkpoint import load_checkpoint, save_checkpoint
from ltnet.config import TrainConfig, get_variant
from ltnet.errors import LtnetError


def test_config_round_trips_through_a_dict():
    cfg = TrainConfig(variant="anat", steps=7, betas=(0.4, 0.9))
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_bad_config_values_are_refused():
    with pytest.raises(LtnetError, match="unknown variant"):
        get_variant("nope")
    with pytest.raises(LtnetError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(LtnetError, match="unknown fields"):
        TrainConfig.from_dict({"variant": "full", "warp_speed": 9})


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_checkpoint_with_pickled_code_is_refused(tmp_path):
    p = tmp_path / "evil.pt"
    with open(p, "wb") as f:
        pickle.dump({"format": "ltnet-checkpoint", "x": _Evil()}, f)
    torch.save({"format": "ltnet-checkpoint", "x": _Evil()}, tmp_path / "evil2.pt")
    for path in (p, tmp_path / "evil2.pt"):
        with pytest.raises(LtnetError, match=r"refused|cannot read"):
            load_checkpoint(path)


def test_checkpoint_from_another_format_version_is_refused(tmp_path):
    p = save_checkpoint(tmp_path / "c.pt", {"config": {}, "step": 0, "model": {}, "atlas": {}})
    state = torch.load(p, weights_only=True)
    state["format_version"] = 99
    torch.save(state, p)
    with pytest.raises(LtnetError, match="format 99"):
        load_checkpoint(p)


def test_non_checkpoint_is_refused(tmp_path):
    torch.save({"a": torch.zeros(1)}, tmp_path / "x.pt")
    with pytest.raises(LtnetError, match="not an ltnet checkpoint"):
        load_checkpoint(tmp_path / "x.pt")
