"""The real-network workload: the digits splits, the CNN, a training run, lr tuning, paired comparisons."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats
from sklearn.datasets import load_digits
from torch import nn

from course_lib import workloads
from course_lib.models import cnn, mlp
from course_lib.workloads import (
    DigitsSplits,
    Recipe,
    Split,
    TrainResult,
    compare_recipes,
    load_digits_splits,
    steps_per_epoch,
    train,
    tune_lr,
)


@pytest.fixture(scope="module")
def data() -> DigitsSplits:
    return load_digits_splits()


@pytest.fixture(scope="module")
def small(data: DigitsSplits) -> DigitsSplits:
    """400 training images and the usual validation and test sets: runs of a few ms."""
    return DigitsSplits(
        Split(data.train.X[:400], data.train.y[:400]), data.val, data.test, data.mean, data.std
    )


def sgd(lr: float, momentum: float = 0.0):
    return lambda params: torch.optim.SGD(params, lr=lr, momentum=momentum)


def test_splits_partition_the_digits_and_are_standardized_with_training_statistics(data):
    raw = torch.as_tensor(load_digits().images, dtype=torch.float32)
    parts = [data.train, data.val, data.test]
    assert [len(part) for part in parts] == [1079, 359, 359]
    for part in parts:
        assert part.X.shape == (len(part), 1, 8, 8) and part.X.dtype == torch.float32
        assert part.y.shape == (len(part),) and part.y.dtype == torch.long
    unscaled = torch.cat([part.X * data.std + data.mean for part in parts]).reshape(-1, 64)
    assert torch.allclose(unscaled, unscaled.round(), atol=1e-4), "standardization must be affine"
    # The three sets together hold every image exactly once (rows compared as sorted lists).
    key = lambda rows: sorted(map(tuple, rows.round().long().tolist()))  # noqa: E731
    assert key(unscaled) == key(raw.reshape(-1, 64))
    train_raw = data.train.X * data.std + data.mean
    assert math.isclose(data.mean, float(train_raw.mean()), rel_tol=1e-5)
    assert abs(float(data.train.X.mean())) < 1e-5 and abs(float(data.train.X.std()) - 1) < 1e-5
    assert abs(float(data.test.X.mean())) > 1e-4, "test statistics must not be used"
    for part in parts:  # stratified: every class within one image of its share
        counts = torch.bincount(part.y, minlength=10).float()
        assert float(counts.max() - counts.min()) <= 0.04 * len(part) + 2


def test_split_seed_and_flatten(data):
    other = load_digits_splits(seed=1)
    assert not torch.equal(other.test.y, data.test.y)
    assert torch.equal(load_digits_splits(seed=0).test.X, data.test.X)
    flat = data.flatten()
    assert flat.train.X.shape == (1079, 64) and flat.image_shape == (64,)
    assert torch.equal(flat.val.X.reshape(-1, 1, 8, 8), data.val.X)
    with pytest.raises(ValueError, match="leave a training set"):
        load_digits_splits(val_fraction=0.5, test_fraction=0.5)
    part = data.subset(100, seed=2)
    assert len(part.train) == 100 and part.val is data.val and part.test is data.test
    rows = {tuple(row.tolist()) for row in data.train.X.reshape(-1, 64)}
    assert all(tuple(row.tolist()) in rows for row in part.train.X.reshape(-1, 64))
    assert not torch.equal(part.train.y, data.subset(100, seed=3).train.y)
    with pytest.raises(ValueError, match="n_train"):
        data.subset(0)


CNN_TABLE = [
    ({}, ["conv1", "batchnorm1", "relu1", "pool1", "conv2", "batchnorm2", "relu2", "pool2",
          "flatten", "linear"], 6138, "default: two BN blocks"),
    ({"batch_norm": False}, ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten",
                             "linear"], 6090, "no batch norm, conv biases instead"),
    ({"channels": (8, 8, 8, 8)}, None, None, "deeper blocks keep the 2x2 map"),
]


@pytest.mark.parametrize(("kwargs", "names", "count", "desc"), CNN_TABLE,
                         ids=[row[3] for row in CNN_TABLE])
def test_cnn_layers(kwargs, names, count, desc):
    model = cnn(seed=0, **kwargs)
    if names is not None:
        assert [name for name, _ in model.named_children()] == names, desc
        assert sum(p.numel() for p in model.parameters()) == count, desc
    assert model(torch.randn(5, 1, 8, 8)).shape == (5, 10)
    batch_norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(batch_norms) == (len(convs) if kwargs.get("batch_norm", True) else 0)
    assert all((m.bias is None) == bool(batch_norms) for m in convs)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == min(len(convs), 2)


def test_cnn_seed_and_errors():
    a, b = cnn(seed=3), cnn(seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.conv1.weight, cnn(seed=4).conv1.weight)
    with pytest.raises(ValueError, match="channels"):
        cnn(channels=())
    with pytest.raises(ValueError, match="positive"):
        cnn(num_classes=0)


def test_cnn_on_device(device):
    model = cnn(seed=0, device=device)
    assert model(torch.randn(2, 1, 8, 8, device=device)).device.type == device.type


@pytest.fixture(scope="module")
def short_run(data) -> TrainResult:
    return train(cnn, sgd(0.05, 0.9), data=data, epochs=2, batch_size=64, seed=0, device="cpu")


def test_train_records_every_step_and_epoch_and_learns(short_run, data):
    steps = 2 * steps_per_epoch(data, 64)
    assert steps == 2 * (1079 // 64)
    assert short_run.train_loss.shape == (steps,) and torch.isfinite(short_run.train_loss).all()
    assert short_run.lrs.shape == (steps,) and torch.all(short_run.lrs == 0.05)
    for name in ("val_loss", "val_accuracy", "test_loss", "test_accuracy"):
        assert getattr(short_run, name).shape == (2,), name
    assert not short_run.diverged and short_run.seconds_per_step > 0
    assert abs(float(short_run.train_loss[0]) - math.log(10)) < 0.3, "starts near chance"
    assert short_run.final("test_accuracy") > 0.85, "two epochs of a CNN beat chance (0.1) by far"
    assert short_run.final("val_loss") < 0.5
    assert short_run.final("train_loss") == pytest.approx(
        float(short_run.train_loss[-steps // 2:].mean()))
    # The recorded test accuracy is the model's, in evaluation mode.
    model = short_run.model.eval()
    with torch.no_grad():
        accuracy = (model(data.test.X).argmax(1) == data.test.y).float().mean()
    assert float(accuracy) == pytest.approx(short_run.final("test_accuracy"))


def test_train_is_deterministic_and_leaves_global_state_alone(short_run, data, small):
    torch.manual_seed(1234)
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    again = train(cnn, sgd(0.05, 0.9), data=data, epochs=2, seed=0, device="cpu")
    assert torch.equal(again.train_loss, short_run.train_loss)
    assert torch.equal(again.test_accuracy, short_run.test_accuracy)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.get_num_threads() == threads
    seen = []
    train(lambda: seen.append(torch.get_num_threads()) or cnn(), sgd(0.05), data=small,
          epochs=1, seed=0, device="cpu", cpu_threads=1)
    assert seen == [1] and torch.get_num_threads() == threads, "one thread inside, restored after"
    other = train(cnn, sgd(0.05, 0.9), data=small, epochs=1, seed=1, device="cpu")
    first = train(cnn, sgd(0.05, 0.9), data=small, epochs=1, seed=0, device="cpu")
    assert not torch.equal(other.train_loss, first.train_loss)


def test_same_seed_means_same_initial_weights_and_batches(small):
    """What makes the comparison paired: lr 0 never moves, so every step's loss is the
    same network on the same batch, whatever the optimizer."""
    frozen_sgd = train(cnn, sgd(0.0), data=small, epochs=1, seed=7, device="cpu")
    frozen_adam = train(cnn, lambda p: torch.optim.Adam(p, lr=0.0), data=small, epochs=1,
                        seed=7, device="cpu")
    assert torch.equal(frozen_sgd.train_loss, frozen_adam.train_loss)


def test_divergence_is_flagged_and_the_rest_is_nan(small):
    result = train(cnn, sgd(1e4), data=small, epochs=3, seed=0, device="cpu")
    assert result.diverged
    losses = result.train_loss
    first_nan = int(torch.isnan(losses).nonzero()[0])
    assert torch.isnan(losses[first_nan:]).all()
    last = float(losses[first_nan - 1])
    assert not math.isfinite(last) or last > 1e3
    assert result.final("val_loss") == math.inf


def test_scheduler_per_step_and_per_epoch(small):
    per_epoch = steps_per_epoch(small, 50)
    step_decay = lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)  # noqa: E731
    result = train(cnn, sgd(0.1), data=small, epochs=2, batch_size=50, seed=0,
                   scheduler_fn=step_decay, device="cpu")
    expected = 0.1 * 0.9 ** torch.arange(2 * per_epoch, dtype=torch.float64)
    torch.testing.assert_close(result.lrs, expected)
    by_epoch = train(cnn, sgd(0.1), data=small, epochs=2, batch_size=50, seed=0,
                     scheduler_fn=step_decay, scheduler_interval="epoch", device="cpu")
    torch.testing.assert_close(
        by_epoch.lrs, torch.tensor([0.1] * per_epoch + [0.09] * per_epoch, dtype=torch.float64))


def test_mlp_view_trains(small):
    result = train(lambda: mlp([64, 32, 10]), sgd(0.1, 0.9), data=small.flatten(), epochs=2,
                   seed=0, device="cpu")
    assert result.final("test_accuracy") > 0.7


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 5000}, "batch_size"),
    ({"scheduler_interval": "batch"}, "scheduler_interval"),
    ({"cpu_threads": 0}, "cpu_threads"),
])
def test_train_rejects_bad_arguments(small, kwargs, match):
    arguments = {"data": small, "epochs": 1, "device": "cpu"} | kwargs
    with pytest.raises(ValueError, match=match):
        train(cnn, sgd(0.1), **arguments)


def fake_train(best_lr: float, noise: dict[int, float] | None = None):
    """A stand-in for train() whose validation loss is a parabola in log10(lr)
    with its minimum at best_lr (plus a per-seed offset), and whose runs are counted."""
    calls = []

    def fake(model_fn, optimizer_fn, *, data, epochs, batch_size, seed, **kwargs):
        lr = optimizer_fn([torch.zeros(1, requires_grad=True)]).param_groups[0]["lr"]
        calls.append((lr, seed))
        loss = (math.log10(lr) - math.log10(best_lr)) ** 2 + (noise or {}).get(seed, 0.0)
        one = torch.tensor([loss], dtype=torch.float64)
        return TrainResult(one, one, one, 1 - one, one, 1 - one, 0.0, False, seed, nn.Identity())

    return fake, calls


TUNE_TABLE = [
    # (grid, true best, widen, expected best, inside, expected grid, description)
    ([1e-3, 1e-2, 1e-1], 1e-2, 0, 1e-2, True, [1e-3, 1e-2, 1e-1], "inside"),
    ([1e-3, 1e-2, 1e-1], 10.0, 0, 1e-1, False, [1e-3, 1e-2, 1e-1], "upper edge, not widened"),
    ([1e-3, 1e-2, 1e-1], 10.0, 5, 10.0, True, [1e-3, 1e-2, 1e-1, 1, 10, 100], "widened upwards"),
    ([1e-2, 1e-1, 1.0], 1e-4, 1, 1e-3, False, [1e-3, 1e-2, 1e-1, 1.0], "widened too little"),
    ([0.1, 0.3], 0.1 / 3, 3, 0.1 / 3, True, [0.1 / 9, 0.1 / 3, 0.1, 0.3],
     "two points, widened down at their ratio"),
]


@pytest.mark.parametrize(("grid", "true_best", "widen", "best", "inside", "final_grid", "desc"),
                         TUNE_TABLE, ids=[row[-1] for row in TUNE_TABLE])
def test_tune_lr_reports_edges_and_widens(monkeypatch, small, grid, true_best, widen, best,
                                          inside, final_grid, desc):
    fake, calls = fake_train(true_best)
    monkeypatch.setattr(workloads, "train", fake)
    tuning = tune_lr(lambda p, lr: torch.optim.SGD(p, lr=lr), grid, model_fn=cnn, data=small,
                     epochs=1, seeds=(0, 1), widen=widen)
    assert tuning.best_lr == pytest.approx(best), desc
    assert tuning.inside is inside, desc
    torch.testing.assert_close(tuning.lrs, torch.tensor(final_grid, dtype=torch.float64))
    assert len(calls) == 2 * len(final_grid), "every rate is run once per seed, never again"
    assert ("inside the grid" in str(tuning)) is inside
    if not inside:
        assert "edge: widen the grid" in str(tuning)
    optimizer = tuning.optimizer_fn([torch.zeros(1, requires_grad=True)])
    assert optimizer.param_groups[0]["lr"] == pytest.approx(best)


def test_tune_lr_averages_over_seeds(monkeypatch, small):
    fake, _ = fake_train(0.1, noise={0: 0.0, 1: 1.0})
    monkeypatch.setattr(workloads, "train", fake)
    tuning = tune_lr(lambda p, lr: torch.optim.SGD(p, lr=lr), [0.01, 0.1, 1.0], model_fn=cnn,
                     data=small, epochs=1, seeds=(0, 1), metric="val_accuracy")
    torch.testing.assert_close(tuning.scores[:, 1] - tuning.scores[:, 0],
                               torch.full((3,), -1.0, dtype=torch.float64))
    assert tuning.best_lr == pytest.approx(0.1) and tuning.inside


def test_tune_lr_on_the_real_network(small):
    """Plain SGD on 400 images for one epoch: 1e-3 barely moves, 10 diverges."""
    tuning = tune_lr(lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9), [1e-3, 0.1, 10.0],
                     model_fn=cnn, data=small, epochs=1, seeds=(0, 1), device="cpu")
    assert tuning.best_lr == pytest.approx(0.1) and tuning.inside
    assert tuning.scores.shape == (3, 2)
    assert torch.isinf(tuning.scores[2]).all() and tuning.diverged[2].all()


def test_tune_lr_rejects_bad_grids(small):
    make = lambda p, lr: torch.optim.SGD(p, lr=lr)  # noqa: E731
    for grid in ([0.1], [0.1, 0.1], [0.0, 0.1]):
        with pytest.raises(ValueError, match="distinct positive"):
            tune_lr(make, grid, model_fn=cnn, data=small, epochs=1)
    with pytest.raises(ValueError, match="unknown metric"):
        tune_lr(make, [0.1, 1], model_fn=cnn, data=small, epochs=1, metric="accuracy")


def test_compare_recipes_pairs_seeds_like_a_paired_t_test(monkeypatch, small):
    offsets = {"a": 0.0, "b": 0.004}
    seed_effect = {0: 0.0, 1: 0.03, 2: -0.02, 3: 0.01, 4: 0.05}
    wobble = {0: 0.001, 1: -0.002, 2: 0.0, 3: 0.003, 4: -0.001}

    def fake(model_fn, optimizer_fn, *, seed, **kwargs):
        name = model_fn()
        accuracy = torch.tensor(
            [0.9 + offsets[name] + seed_effect[seed] + (wobble[seed] if name == "b" else 0)],
            dtype=torch.float64)
        return TrainResult(accuracy, accuracy, accuracy, accuracy, accuracy, accuracy, 0.0,
                           False, seed, nn.Identity())

    monkeypatch.setattr(workloads, "train", fake)
    recipes = {name: Recipe(lambda name=name: name, sgd(0.1)) for name in offsets}
    comparison = compare_recipes(recipes, data=small, epochs=1, seeds=range(5))
    a, b = comparison.result.scores["a"].numpy(), comparison.result.scores["b"].numpy()
    differences = b - a
    low, high = stats.t.interval(0.95, len(differences) - 1, loc=differences.mean(),
                                 scale=stats.sem(differences))
    interval = comparison.difference("b", "a")
    assert interval.low == pytest.approx(low) and interval.high == pytest.approx(high)
    assert stats.ttest_rel(b, a).pvalue < 0.05
    assert comparison.significant("b", "a") and not comparison.significant("a", "a")
    # Unpaired, the seed-to-seed spread (0.07) would hide a 0.4-point difference.
    assert stats.ttest_ind(b, a).pvalue > 0.05
    verdict = comparison.verdict("b", "a")
    assert verdict.startswith("b - a: test accuracy +0.42 points, 95% interval [")
    assert verdict.endswith("over 5 seeds: significant at 95%")


def test_compare_recipes_on_the_real_network(small):
    recipes = {
        "sgd": Recipe(cnn, sgd(0.05, 0.9)),
        "same sgd": Recipe(cnn, sgd(0.05, 0.9)),
        "frozen": Recipe(cnn, sgd(0.0)),
    }
    comparison = compare_recipes(recipes, data=small, epochs=1, seeds=(0, 1, 2), device="cpu")
    assert comparison.seeds == (0, 1, 2)
    assert [run.seed for run in comparison.runs["sgd"]] == [0, 1, 2]
    same = comparison.difference("sgd", "same sgd")
    assert same.mean == 0 and same.low == same.high == 0, "identical recipes, identical runs"
    assert not comparison.significant("sgd", "same sgd")
    assert comparison.verdict("sgd", "same sgd").endswith("not significant at 95%")
    assert comparison.significant("sgd", "frozen")
    assert comparison.difference("sgd", "frozen").low > 0.3, "six steps lift 0.1 to ~0.55"
    assert comparison.curves("sgd").shape == (3, steps_per_epoch(small, 64))
    assert "frozen" in comparison.table()


def test_a_recipe_may_set_its_own_batch_size(small):
    recipes = {"default": Recipe(cnn, sgd(0.05)), "small batches": Recipe(cnn, sgd(0.05),
                                                                          batch_size=20)}
    comparison = compare_recipes(recipes, data=small, epochs=1, seeds=(0, 1), device="cpu")
    assert comparison.curves("default").shape == (2, steps_per_epoch(small, 64))
    assert comparison.curves("small batches").shape == (2, steps_per_epoch(small, 20))


def test_compare_recipes_rejects_bad_arguments(small):
    recipes = {"sgd": Recipe(cnn, sgd(0.1))}
    with pytest.raises(ValueError, match="two distinct seeds"):
        compare_recipes(recipes, data=small, epochs=1, seeds=(0,))
    with pytest.raises(ValueError, match="two distinct seeds"):
        compare_recipes(recipes, data=small, epochs=1, seeds=(1, 1))
    with pytest.raises(ValueError, match="at least one recipe"):
        compare_recipes({}, data=small, epochs=1)


def test_train_on_device(small, device):
    result = train(cnn, sgd(0.05, 0.9), data=small, epochs=2, seed=0, device=device)
    assert next(result.model.parameters()).device.type == device.type
    assert torch.isfinite(result.train_loss).all() and result.final("test_accuracy") > 0.5
    assert result.train_loss.device.type == "cpu", "records come back to the CPU"
