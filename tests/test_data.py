"""course_lib.data: seeded, shaped as documented, nothing downloaded."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from course_lib import data


def test_regression_is_reproducible_and_follows_its_model():
    a, b = data.make_regression(500, 3, seed=7, noise_std=0.1), data.make_regression(500, 3, seed=7, noise_std=0.1)
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)
    residual = a.y - (a.X @ a.weight + a.bias)
    assert abs(residual.std().item() - 0.1) < 0.02
    assert not torch.equal(a.X, data.make_regression(500, 3, seed=8).X)


def test_regression_default_weight_and_scales():
    d = data.make_regression(2000, 1, seed=0, feature_scales=[10.0])
    assert_close(d.weight, torch.tensor([2.0]))
    assert 9.0 < d.X.std().item() < 11.0


def test_regression_rejects_bad_shapes():
    with pytest.raises(ValueError, match="weight has 2 entries"):
        data.make_regression(10, 3, weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="n_samples"):
        data.make_regression(0)


def test_classification_labels_and_balance():
    d = data.make_classification(300, 4, n_classes=3, seed=1)
    assert d.X.shape == (300, 4) and d.y.dtype == torch.long
    assert torch.bincount(d.y).tolist() == [100, 100, 100]


def test_breast_cancer_is_bundled():
    d = data.load_breast_cancer()
    assert d.X.shape == (569, 30) and set(d.y.unique().tolist()) == {0, 1}


def test_batches_cover_every_index_once():
    g = torch.Generator().manual_seed(0)
    chunks = data.batches(10, 4, generator=g)
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert sorted(torch.cat(chunks).tolist()) == list(range(10))
    assert [len(c) for c in data.batches(10, 4, drop_last=True)] == [4, 4]
    with pytest.raises(ValueError):
        data.batches(10, 0)
