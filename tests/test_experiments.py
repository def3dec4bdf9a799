"""course_lib.experiments: splits, t intervals (against scipy), and the repeated-subsampling runner."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402

from course_lib.plots import plot_intervals  # noqa: E402
from course_lib.experiments import (  # noqa: E402
    ExperimentResult,
    confidence_interval,
    repeated_subsampling,
    subsample_splits,
)

# (values, level): small and large samples, levels, a constant sample, negative values
INTERVAL_CASES = [
    ([0.95, 0.97, 0.96, 0.98], 0.95),
    ([0.9, 0.93], 0.95),
    (list(np.linspace(0.8, 0.99, 10)), 0.95),
    (list(np.linspace(0.8, 0.99, 10)), 0.9),
    (list(np.random.default_rng(0).normal(2.0, 3.0, 40)), 0.99),
    ([-1.0, 0.5, 2.0, -0.25, 1.5], 0.8),
    ([0.7, 0.7, 0.7], 0.95),
]


@pytest.mark.parametrize("values,level", INTERVAL_CASES)
def test_interval_matches_scipy_t_interval(values, level):
    iv = confidence_interval(values, level)
    array = np.asarray(values, dtype=np.float64)
    n = array.size
    assert iv.n == n and iv.level == level
    assert math.isclose(iv.mean, array.mean(), rel_tol=1e-12, abs_tol=1e-12)
    assert math.isclose(iv.std, array.std(ddof=1), rel_tol=1e-12, abs_tol=1e-12)
    if iv.std == 0:
        assert iv.low == iv.high == iv.mean
        return
    low, high = stats.t.interval(level, n - 1, loc=array.mean(), scale=array.std(ddof=1) / math.sqrt(n))
    assert math.isclose(iv.low, low, rel_tol=1e-10, abs_tol=1e-12)
    assert math.isclose(iv.high, high, rel_tol=1e-10, abs_tol=1e-12)
    assert math.isclose(iv.half_width, (high - low) / 2, rel_tol=1e-10)


def test_interval_of_ten_uses_t_quantile_2262():
    iv = confidence_interval([0.0] * 5 + [1.0] * 5)
    assert math.isclose(iv.half_width, 2.2621571628 * iv.std / math.sqrt(10), rel_tol=1e-8)


def test_interval_covers_the_mean_about_as_often_as_promised():
    generator = torch.Generator().manual_seed(0)
    samples = torch.randn(2000, 10, generator=generator, dtype=torch.float64) + 3.0
    covered = sum(iv.low <= 3.0 <= iv.high for iv in (confidence_interval(row) for row in samples))
    assert abs(covered / 2000 - 0.95) < 0.015


@pytest.mark.parametrize("values,level,message", [
    ([1.0], 0.95, "at least two"),
    ([1.0, 2.0], 1.0, "level"),
    ([1.0, 2.0], 0.0, "level"),
])
def test_interval_rejects_bad_input(values, level, message):
    with pytest.raises(ValueError, match=message):
        confidence_interval(values, level)


# (n_samples, repetitions, test_fraction, n_test)
SPLIT_CASES = [(569, 10, 0.2, 114), (10, 3, 0.2, 2), (101, 5, 0.5, 50), (7, 4, 0.3, 2)]


@pytest.mark.parametrize("n,repetitions,fraction,n_test", SPLIT_CASES)
def test_splits_partition_the_data(n, repetitions, fraction, n_test):
    splits = subsample_splits(n, repetitions, fraction, seed=3)
    assert len(splits) == repetitions
    for train, test in splits:
        assert train.dtype == test.dtype == torch.long
        assert test.numel() == n_test and train.numel() == n - n_test
        assert torch.equal(torch.cat([train, test]).sort().values, torch.arange(n))
        assert torch.equal(train, train.sort().values) and torch.equal(test, test.sort().values)


def test_splits_are_seeded_and_differ_between_repetitions():
    first = subsample_splits(200, 5, seed=1)
    again = subsample_splits(200, 5, seed=1)
    other = subsample_splits(200, 5, seed=2)
    assert all(torch.equal(a[1], b[1]) for a, b in zip(first, again))
    assert not all(torch.equal(a[1], b[1]) for a, b in zip(first, other))
    assert len({tuple(test.tolist()) for _, test in first}) == 5


def test_stratified_splits_keep_class_proportions():
    labels = torch.tensor([0] * 357 + [1] * 212)[torch.randperm(569, generator=torch.Generator().manual_seed(0))]
    for train, test in subsample_splits(569, 10, 0.2, stratify=labels, seed=0):
        assert int((labels[test] == 1).sum()) == round(0.2 * 212)
        assert int((labels[test] == 0).sum()) == round(0.2 * 357)
        assert train.numel() + test.numel() == 569


@pytest.mark.parametrize("kwargs,message", [
    ({"n_samples": 10, "test_fraction": 0.0}, "test_fraction"),
    ({"n_samples": 10, "test_fraction": 1.0}, "test_fraction"),
    ({"n_samples": 10, "repetitions": 0}, "repetitions"),
    ({"n_samples": 3, "test_fraction": 0.1}, "empty"),
    ({"n_samples": 4, "stratify": torch.zeros(5)}, "one label per sample"),
])
def test_splits_reject_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        subsample_splits(**kwargs)


def test_runner_gives_every_recipe_the_same_training_and_test_rows():
    X = torch.arange(60, dtype=torch.float64).reshape(30, 2)
    y = torch.tensor([0, 1] * 15)
    seen: dict[str, list[tuple[list[float], list[float], int]]] = {"a": [], "b": []}

    def recorder(name):
        def fit_and_score(X_train, y_train, X_test, y_test, repetition):
            train_rows, test_rows = set(X_train[:, 0].tolist()), set(X_test[:, 0].tolist())
            assert not train_rows & test_rows and len(train_rows | test_rows) == 30
            assert torch.equal(y_train, (X_train[:, 0] / 2).long() % 2)  # labels travel with their rows
            seen[name].append((sorted(train_rows), sorted(test_rows), repetition))
            return X_test[:, 0].mean() if name == "a" else len(test_rows)
        return fit_and_score

    result = repeated_subsampling({"a": recorder("a"), "b": recorder("b")}, X, y, repetitions=4, seed=5)
    assert seen["a"] == seen["b"]
    assert [r for *_, r in seen["a"]] == [0, 1, 2, 3]
    assert list(result.scores) == ["a", "b"]
    assert result.scores["b"].dtype == torch.float64 and torch.equal(result.scores["b"], torch.full((4,), 6.0))
    assert len(result.splits) == 4
    for (train, test), (train_rows, test_rows, _) in zip(result.splits, seen["a"]):
        assert (X[test, 0].tolist(), X[train, 0].tolist()) == (test_rows, train_rows)


def test_result_intervals_and_paired_difference():
    scores = {"plain": torch.tensor([0.90, 0.95, 0.92, 0.97], dtype=torch.float64),
              "better": torch.tensor([0.92, 0.96, 0.95, 0.99], dtype=torch.float64)}
    result = ExperimentResult(scores=scores, level=0.9)
    assert str(result.interval("plain")) == str(confidence_interval(scores["plain"], 0.9))
    assert list(result.summary()) == ["plain", "better"]
    paired = result.difference("better", "plain")
    assert math.isclose(paired.mean, 0.02, abs_tol=1e-12)
    # the split-to-split variation cancels: the paired interval is much narrower than either
    assert paired.half_width < 0.3 * result.interval("plain").half_width
    lines = result.table().splitlines()
    assert len(lines) == 3 and lines[0].startswith("recipe") and "90% interval" in lines[0]
    assert lines[1].split()[0] == "plain" and "0.9350" in lines[1]


def test_runner_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one recipe"):
        repeated_subsampling({}, torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(ValueError, match="rows"):
        repeated_subsampling({"a": lambda *args: 0.0}, torch.zeros(4, 1), torch.zeros(5))


def test_plot_intervals_draws_one_interval_per_recipe():
    scores = {name: torch.linspace(0.9, 0.95 + 0.01 * i, 10, dtype=torch.float64) for i, name in enumerate("abc")}
    result = ExperimentResult(scores=scores)
    ax = plot_intervals(result, ylabel="accuracy")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_ylabel() == "accuracy" and "10 splits" in ax.get_title()
    assert len(ax.containers) == 3  # one errorbar per recipe
    for container, name in zip(ax.containers, "abc"):
        mean = container.lines[0].get_ydata()[0]
        assert math.isclose(mean, result.interval(name).mean)
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert sum(len(line.get_ydata()) for line in dots) == 30
    plt.close("all")


def test_widen_grid_continues_the_ratio_at_the_edge():
    from course_lib.experiments import widen_grid

    assert widen_grid([0.01, 0.1, 1.0], 2) == pytest.approx([0.01, 0.1, 1.0, 10.0])
    assert widen_grid([0.1, 0.3], 0) == pytest.approx([0.1 / 3, 0.1, 0.3])
    with pytest.raises(ValueError, match="inside"):
        widen_grid([0.01, 0.1, 1.0], 1)
    with pytest.raises(ValueError, match="increasing positive"):
        widen_grid([0.1, 0.01], 0)
