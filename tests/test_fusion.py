import pytest
import torch

from ltnet.fusion import argmax_labels, fuse_probabilities, fusion_weights


def one_hot(ids: torch.Tensor, n: int) -> torch.Tensor:
    """(D, H, W) channel indices -> (n, D, H, W)."""
    return torch.nn.functional.one_hot(ids, n).movedim(-1, 0).float()


def test_two_atlases_that_agree_give_their_label_with_probability_one():
    lab = torch.randint(0, 3, (6, 7, 8))
    images = torch.rand(2, 1, 6, 7, 8)
    target = torch.rand(1, 1, 6, 7, 8)
    for rule in ("vote", "local"):
        w = fusion_weights(images, target, rule)
        fused = fuse_probabilities([one_hot(lab, 3), one_hot(lab, 3)], w)
        ids, p = argmax_labels(fused, [0, 4, 17])
        assert torch.equal(ids, torch.tensor([0, 4, 17], dtype=torch.int32)[lab])
        assert torch.allclose(p, torch.ones_like(p))


def test_a_tie_goes_to_the_lower_label():
    a, b = torch.full((4, 4, 4), 2), torch.full((4, 4, 4), 1)
    w = fusion_weights(torch.rand(2, 1, 4, 4, 4), torch.rand(1, 1, 4, 4, 4), "vote")
    ids, p = argmax_labels(fuse_probabilities([one_hot(a, 3), one_hot(b, 3)], w), [0, 10, 20])
    assert (ids == 10).all()  # channels 1 and 2 tie at 0.5: channel 1, label 10, wins
    assert torch.allclose(p, torch.full_like(p, 0.5))


def test_local_weights_favour_the_atlas_that_matches_the_scan():
    target = torch.rand(1, 1, 8, 8, 8)
    images = torch.cat([target, torch.rand(1, 1, 8, 8, 8)])
    w = fusion_weights(images, target, "local")
    assert torch.allclose(w.sum(0), torch.ones(1, 8, 8, 8))
    assert (w[0] > 0.99).all()
    # where the matching atlas disagrees in labels, it outvotes the other
    lab_a, lab_b = torch.zeros(8, 8, 8, dtype=torch.long), torch.ones(8, 8, 8, dtype=torch.long)
    ids, _ = argmax_labels(fuse_probabilities([one_hot(lab_a, 2), one_hot(lab_b, 2)], w), [0, 5])
    assert (ids == 0).all()


def test_vote_weights_are_equal_and_one_atlas_weighs_one():
    images, target = torch.rand(3, 1, 4, 5, 6), torch.rand(1, 1, 4, 5, 6)
    assert torch.allclose(fusion_weights(images, target, "vote"), torch.full_like(images, 1 / 3))
    assert torch.allclose(fusion_weights(images[:1], target, "local"), torch.ones_like(images[:1]))


def test_fusion_rejects_what_it_cannot_read():
    with pytest.raises(ValueError, match="unknown fusion rule"):
        fusion_weights(torch.rand(2, 1, 4, 4, 4), torch.rand(1, 1, 4, 4, 4), "median")
    with pytest.raises(ValueError, match=r"\(K, 1, D, H, W\)"):
        fusion_weights(torch.rand(2, 1, 4, 4, 4), torch.rand(1, 1, 4, 4, 5))
    w = torch.full((2, 1, 4, 4, 4), 0.5)
    with pytest.raises(ValueError, match="expected 2 atlases"):
        fuse_probabilities([torch.rand(3, 4, 4, 4)], w)
    with pytest.raises(ValueError, match="channels"):
        argmax_labels(torch.rand(3, 4, 4, 4), [0, 1])
