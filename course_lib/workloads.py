r"""The course's real network workload: a small CNN (or MLP) trained on the digits images.

Claims about training ("momentum helps", "Adam needs less tuning", "batch norm lets
you raise the learning rate") are only worth what the experiment behind them is
worth. This module gives every chapter the same honest experiment on a real
network, small enough to run in seconds on a CPU (and on CUDA when present):

* :func:`load_digits_splits`: scikit-learn's bundled 8x8 digits (1,797 images, no
  download), split into stratified train / validation / test sets and standardized
  with the training set's statistics.
* :func:`train`: one seeded training run, recording the loss of every step, the
  validation and test metrics after every epoch, and the time per step.
* :func:`tune_lr`: a learning-rate grid over several seeds, choosing on the
  *validation* set, and saying whether the best rate lies strictly inside the grid
  (a best rate at an edge means the grid is too narrow, not that it is the best).
* :func:`compare_recipes`: several recipes on the same seeds, scored on the *test*
  set, with paired confidence intervals (:mod:`course_lib.experiments`) and a verdict.

A seed fixes everything random in a run: the initial weights, the order of the
mini-batches and any dropout masks. Two recipes run with the same seed therefore
start from the same weights and see the same batches, which is what makes their
*paired* difference much less noisy than the difference of two independent runs.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from course_lib.data import batches
from course_lib.device import default_device
from course_lib.experiments import (
    ExperimentResult,
    Interval,
    subsample_splits,
    widen_grid,
)

__all__ = [
    "Split",
    "DigitsSplits",
    "load_digits_splits",
    "steps_per_epoch",
    "TrainResult",
    "train",
    "METRICS",
    "LRTuning",
    "tune_lr",
    "Recipe",
    "RecipeComparison",
    "compare_recipes",
]

ModelFn = Callable[[], nn.Module]
OptimizerFn = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
LROptimizerFn = Callable[[Iterable[nn.Parameter], float], torch.optim.Optimizer]
SchedulerFn = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]

METRICS: dict[str, bool] = {
    "val_loss": False,
    "val_accuracy": True,
    "test_loss": False,
    "test_accuracy": True,
    "train_loss": False,
}
"""The metrics a run reports after its last epoch, mapped to whether larger is better."""


@dataclass(frozen=True)
class Split:
    """One part of a data set: inputs ``X`` and integer labels ``y`` (``torch.long``)."""

    X: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return self.y.numel()

    def to(self, device: torch.device | str) -> Split:
        """The same split on ``device``."""
        return Split(self.X.to(device), self.y.to(device))


@dataclass(frozen=True)
class DigitsSplits:
    """The digits images split three ways, standardized with the training statistics.

    Attributes:
        train: the training set (60% by default).
        val: the validation set, for choosing hyperparameters (20%).
        test: the test set, for reporting the chosen recipes (20%).
        mean: the mean pixel value of the raw training images (0 to 16 scale).
        std: their standard deviation; every split is ``(raw - mean) / std``.
        num_classes: 10.
    """

    train: Split
    val: Split
    test: Split
    mean: float
    std: float
    num_classes: int = 10

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The shape of one input (``(1, 8, 8)``, or ``(64,)`` after :meth:`flatten`)."""
        return tuple(self.train.X.shape[1:])

    def flatten(self) -> DigitsSplits:
        """The MLP view: every image flattened to a vector of 64 pixels.

        Example:
            >>> load_digits_splits().flatten().train.X.shape
            torch.Size([1077, 64])
        """
        def flat(split: Split) -> Split:
            return Split(split.X.reshape(len(split), -1), split.y)

        return DigitsSplits(
            flat(self.train), flat(self.val), flat(self.test), self.mean, self.std,
            self.num_classes,
        )

    def subset(self, n_train: int, seed: int = 0) -> DigitsSplits:
        """The same validation and test sets with ``n_train`` training images drawn at random.

        A small training set makes over-fitting (and regularization) visible in seconds.
        The statistics of the standardization stay those of the full training set.
        """
        if not 1 <= n_train <= len(self.train):
            raise ValueError(f"n_train must be between 1 and {len(self.train)}, got {n_train}")
        chosen = torch.randperm(len(self.train), generator=torch.Generator().manual_seed(seed))
        chosen = chosen[:n_train].sort().values.to(self.train.y.device)
        return DigitsSplits(
            Split(self.train.X[chosen], self.train.y[chosen]), self.val, self.test, self.mean,
            self.std, self.num_classes,
        )

    def to(self, device: torch.device | str) -> DigitsSplits:
        """The same splits on ``device``."""
        return DigitsSplits(
            self.train.to(device), self.val.to(device), self.test.to(device), self.mean,
            self.std, self.num_classes,
        )


def load_digits_splits(
    seed: int = 0, *, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> DigitsSplits:
    r"""scikit-learn's bundled digits as stratified train / validation / test splits.

    The 1,797 grey-scale 8x8 images (pixel values 0 to 16) ship inside
    scikit-learn, so nothing is downloaded. The test set is drawn first (a share
    ``test_fraction`` of each class), then the validation set from the rest, with
    :func:`course_lib.experiments.subsample_splits`. Every image is standardized with
    one mean :math:`m` and standard deviation :math:`s` of the *training* pixels,
    :math:`x \mapsto (x - m)/s`, as ``torchvision.transforms.Normalize`` does per
    channel: statistics of the validation or test images would leak into training.
    (Per-pixel statistics would divide by zero: the corner pixels are blank in
    almost every image.)

    Args:
        seed: seed of the split (default 0); the same seed gives the same sets.
        val_fraction: share of all images in the validation set (default 0.2).
        test_fraction: share of all images in the test set (default 0.2).

    Returns:
        A :class:`DigitsSplits` with ``X`` of shape ``(N, 1, 8, 8)``, float32, and
        ``y`` of shape ``(N,)``, ``torch.long``; :meth:`DigitsSplits.flatten` gives the
        ``(N, 64)`` view for :func:`course_lib.models.mlp`.

    Example:
        >>> data = load_digits_splits()
        >>> len(data.train), len(data.val), len(data.test)
        (1077, 360, 360)
    """
    from sklearn.datasets import load_digits

    if not (0 < val_fraction and 0 < test_fraction and val_fraction + test_fraction < 1):
        raise ValueError(
            "val_fraction and test_fraction must be positive and leave a training set, "
            f"got {val_fraction} and {test_fraction}"
        )
    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1)
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    rest, test = subsample_splits(
        len(labels), 1, test_fraction, stratify=labels, seed=seed
    )[0]
    inner_train, inner_val = subsample_splits(
        len(rest), 1, val_fraction / (1 - test_fraction), stratify=labels[rest], seed=seed + 1
    )[0]
    train_index, val_index = rest[inner_train], rest[inner_val]
    mean = float(images[train_index].mean())
    std = float(images[train_index].std())

    def split(index: torch.Tensor) -> Split:
        return Split((images[index] - mean) / std, labels[index])

    return DigitsSplits(split(train_index), split(val_index), split(test), mean, std)


def steps_per_epoch(data: DigitsSplits | Split | int, batch_size: int) -> int:
    """How many optimizer steps :func:`train` takes per epoch: full batches only.

    :func:`train` drops the last, smaller batch of each shuffled epoch (a batch of
    one sample would break batch norm, and equal batches give equal noise), so a
    schedule that needs the total number of steps can be built from this.
    """
    n = data if isinstance(data, int) else len(data.train if isinstance(data, DigitsSplits) else data)
    if batch_size < 1 or batch_size > n:
        raise ValueError(f"batch_size must be between 1 and the {n} training samples, got {batch_size}")
    return n // batch_size


@dataclass
class TrainResult:
    """What one run of :func:`train` recorded.

    Attributes:
        train_loss: the mini-batch loss of every step, before that step's update
            (``epochs * steps_per_epoch`` values; ``nan`` after a divergence).
        lrs: the learning rate of every step (of the first parameter group).
        val_loss, val_accuracy, test_loss, test_accuracy: the mean cross-entropy and
            the accuracy on the whole validation / test set after every epoch, in
            evaluation mode.
        seconds_per_step: mean wall-clock time of one training step (forward,
            backward, optimizer and scheduler step), evaluation excluded.
        diverged: whether the loss became non-finite or exceeded ``max_loss``;
            training stopped there.
        seed: the seed of the run.
        model: the trained network (on the device it was trained on).
    """

    train_loss: torch.Tensor
    lrs: torch.Tensor
    val_loss: torch.Tensor
    val_accuracy: torch.Tensor
    test_loss: torch.Tensor
    test_accuracy: torch.Tensor
    seconds_per_step: float
    diverged: bool
    seed: int
    model: nn.Module = field(repr=False)

    def final(self, metric: str) -> float:
        """The value of ``metric`` (a key of :data:`METRICS`) after the last epoch.

        ``train_loss`` is the mean loss of the last epoch's steps. Every loss of a
        diverged run is ``inf``, so that it ranks last; its accuracies are those of
        the broken network (about chance).
        """
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(METRICS)}")
        if metric == "train_loss":
            per_epoch = len(self.train_loss) // len(self.val_loss)
            value = float(self.train_loss[-per_epoch:].mean())
        else:
            value = float(getattr(self, metric)[-1])
        if metric.endswith("loss") and (self.diverged or not math.isfinite(value)):
            return math.inf
        return value


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """``torch.set_num_threads(threads)`` inside the block (nothing when None)."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _evaluate(model: nn.Module, split: Split) -> tuple[float, float]:
    with torch.no_grad():
        logits = model(split.X)
        loss = nn.functional.cross_entropy(logits, split.y)
        accuracy = (logits.argmax(dim=1) == split.y).float().mean()
    return float(loss), float(accuracy)


def train(
    model_fn: ModelFn,
    optimizer_fn: OptimizerFn,
    *,
    data: DigitsSplits,
    epochs: int,
    batch_size: int = 64,
    seed: int = 0,
    scheduler_fn: SchedulerFn | None = None,
    scheduler_interval: str = "step",
    device: torch.device | str | None = None,
    max_loss: float = 1e3,
    cpu_threads: int | None = 1,
) -> TrainResult:
    r"""Train a fresh network with cross-entropy on mini-batches, and record everything.

    ``model_fn()`` is called with the global random generator seeded by ``seed``,
    so its initial weights (and any dropout masks later) depend on the seed alone;
    the batches come from a separate generator seeded the same way. Each epoch
    shuffles the training set and takes ``len(train) // batch_size`` full batches
    (:func:`steps_per_epoch`); each step is the cycle of chapter 5: forward,
    :math:`\ell = \text{cross\_entropy}`, ``zero_grad``, backward, ``step``, then
    ``scheduler.step()`` when ``scheduler_interval == "step"``. After every epoch the
    model is evaluated (``model.eval()``, no gradients) on the validation and test
    sets. The global random state is restored afterwards.

    On the CPU two runs with the same arguments give identical numbers; on CUDA
    some kernels (e.g. convolution backward) are not bitwise deterministic. On the
    CPU the run uses one thread by default: a network this small gains little
    from more, and on a machine whose cores are busy, threads that wait for each
    other can make each step ten times slower.

    Args:
        model_fn: builds the network, e.g. ``lambda: cnn()`` or, with
            ``data.flatten()``, ``lambda: mlp([64, 128, 10])``.
        optimizer_fn: builds the optimizer from the parameters, e.g.
            ``lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9)``.
        data: the splits (:func:`load_digits_splits`), moved to ``device`` here.
        epochs: passes over the training set (at least 1).
        batch_size: samples per step (default 64).
        seed: the seed of the run (default 0).
        scheduler_fn: builds a learning-rate scheduler from the optimizer (default none).
        scheduler_interval: ``"step"`` (default) steps the scheduler after every
            optimizer step, ``"epoch"`` after every epoch.
        device: where to train (default :func:`course_lib.device.default_device`:
            CUDA when present).
        max_loss: a training loss above this (or not finite) counts as divergence:
            the run stops and records ``nan`` for the remaining steps (default 1e3).
        cpu_threads: ``torch.set_num_threads`` during a CPU run, restored afterwards
            (default 1; ``None`` leaves torch's setting alone).

    Returns:
        A :class:`TrainResult`.

    Example:
        >>> from course_lib.models import cnn
        >>> result = train(lambda: cnn(), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
        ...                data=load_digits_splits(), epochs=3, seed=0)
        >>> result.final("test_accuracy") > 0.9
        True
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if scheduler_interval not in ("step", "epoch"):
        raise ValueError(f"scheduler_interval must be 'step' or 'epoch', got {scheduler_interval!r}")
    if cpu_threads is not None and cpu_threads < 1:
        raise ValueError(f"cpu_threads must be >= 1 or None, got {cpu_threads}")
    device = torch.device(device) if device is not None else default_device()
    per_epoch = steps_per_epoch(data, batch_size)
    data = data.to(device)
    total = epochs * per_epoch
    train_loss = torch.full((total,), math.nan, dtype=torch.float64)
    lrs = torch.full((total,), math.nan, dtype=torch.float64)
    metrics = torch.full((4, epochs), math.nan, dtype=torch.float64)
    seconds = 0.0
    steps_done = 0
    diverged = False
    cuda_devices = [device] if device.type == "cuda" else []
    threads = cpu_threads if device.type == "cpu" else None
    with torch.random.fork_rng(devices=cuda_devices), _torch_threads(threads):
        torch.manual_seed(seed)
        model = model_fn().to(device)
        optimizer = optimizer_fn(model.parameters())
        scheduler = scheduler_fn(optimizer) if scheduler_fn is not None else None
        order = torch.Generator().manual_seed(seed)
        for epoch in range(epochs):
            model.train()
            losses = []
            start = time.perf_counter()
            for index in batches(len(data.train), batch_size, generator=order, drop_last=True):
                index = index.to(device)
                lrs[steps_done + len(losses)] = optimizer.param_groups[0]["lr"]
                loss = nn.functional.cross_entropy(model(data.train.X[index]), data.train.y[index])
                losses.append(loss.detach())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if scheduler is not None and scheduler_interval == "step":
                    scheduler.step()
            if scheduler is not None and scheduler_interval == "epoch":
                scheduler.step()
            epoch_losses = torch.stack(losses).double().cpu()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds += time.perf_counter() - start
            bad = ~torch.isfinite(epoch_losses) | (epoch_losses > max_loss)
            if bad.any():
                first_bad = int(bad.nonzero()[0])
                epoch_losses = epoch_losses[: first_bad + 1]
                diverged = True
            train_loss[steps_done : steps_done + len(epoch_losses)] = epoch_losses
            steps_done += len(losses)
            model.eval()
            metrics[0:2, epoch] = torch.tensor(_evaluate(model, data.val), dtype=torch.float64)
            metrics[2:4, epoch] = torch.tensor(_evaluate(model, data.test), dtype=torch.float64)
            if diverged:
                metrics[:, epoch + 1 :] = metrics[:, epoch : epoch + 1]
                break
    return TrainResult(
        train_loss=train_loss,
        lrs=lrs,
        val_loss=metrics[0],
        val_accuracy=metrics[1],
        test_loss=metrics[2],
        test_accuracy=metrics[3],
        seconds_per_step=seconds / max(steps_done, 1),
        diverged=diverged,
        seed=seed,
        model=model,
    )


def _progress(total: int, enabled: bool, description: str):  # noqa: ANN202
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=description, leave=False)


@dataclass
class LRTuning:
    """The outcome of :func:`tune_lr`: one score per learning rate and seed.

    Attributes:
        lrs: the grid, increasing (including any points added by widening).
        seeds: the seeds every rate was run with.
        scores: ``scores[i, j]`` is ``metric`` of the run with ``lrs[i]`` and
            ``seeds[j]`` (``inf`` for the loss of a diverged run).
        metric: what was compared (a key of :data:`METRICS`).
        diverged: ``diverged[i, j]`` for the same runs.
        make_optimizer: the ``(params, lr) -> optimizer`` function that was tuned.
    """

    lrs: torch.Tensor
    seeds: tuple[int, ...]
    scores: torch.Tensor
    metric: str
    diverged: torch.Tensor
    make_optimizer: LROptimizerFn = field(repr=False)

    @property
    def mean_scores(self) -> torch.Tensor:
        """The score of each rate averaged over the seeds (``inf`` losses stay ``inf``)."""
        return self.scores.mean(dim=1)

    @property
    def best_index(self) -> int:
        """Index of the best mean score (the smaller rate wins a tie)."""
        mean = self.mean_scores.nan_to_num(nan=-math.inf if METRICS[self.metric] else math.inf)
        return int(mean.argmax() if METRICS[self.metric] else mean.argmin())

    @property
    def best_lr(self) -> float:
        """The learning rate with the best mean score over the seeds."""
        return float(self.lrs[self.best_index])

    @property
    def inside(self) -> bool:
        """Whether the best rate has a grid point on each side of it.

        If not, the best rate sits at an edge, and a rate beyond the edge may well be
        better: widen the grid (``tune_lr(..., widen=...)``) before trusting it.
        """
        return 0 < self.best_index < len(self.lrs) - 1

    @property
    def optimizer_fn(self) -> OptimizerFn:
        """``params -> optimizer`` with the best rate, ready for :class:`Recipe`."""
        make, lr = self.make_optimizer, self.best_lr
        return lambda params: make(params, lr)

    def __str__(self) -> str:
        where = (
            "inside the grid"
            if self.inside
            else "at the grid's " + ("lower" if self.best_index == 0 else "upper")
            + " edge: widen the grid"
        )
        return (
            f"best lr {self.best_lr:.3g} ({where} {self.lrs[0]:.3g}..{self.lrs[-1]:.3g}), "
            f"mean {self.metric} {float(self.mean_scores[self.best_index]):.4f} "
            f"over {len(self.seeds)} seeds"
        )


def tune_lr(
    make_optimizer: LROptimizerFn,
    lrs: Sequence[float],
    *,
    model_fn: ModelFn,
    data: DigitsSplits,
    epochs: int,
    batch_size: int = 64,
    seeds: Sequence[int] = (0, 1, 2),
    metric: str = "val_loss",
    widen: int = 0,
    scheduler_fn: SchedulerFn | None = None,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> LRTuning:
    r"""Choose a learning rate from a grid by the mean validation score over several seeds.

    Every rate is run with every seed (:func:`train`); the rate with the best mean
    ``metric`` wins. The grid should be geometric (e.g. ``[0.01, 0.03, 0.1, 0.3,
    1]``), since a good rate is known only to within a factor. A best rate at an edge
    of the grid says nothing about the rates beyond it, so the result says whether
    it lies strictly inside (:attr:`LRTuning.inside`). With ``widen = k`` the grid
    grows up to ``k`` times by one point beyond the edge where the best rate sits,
    at the ratio of the grid's two outermost points there, until the best rate is
    inside; whatever the outcome, :attr:`LRTuning.inside` reports it honestly.

    Choose on the validation set (the default ``"val_loss"``, or ``"val_accuracy"``)
    and report on the test set (:func:`compare_recipes`): a test score that chose the
    rate is biased upwards.

    Args:
        make_optimizer: ``(params, lr) -> optimizer``, e.g.
            ``lambda params, lr: torch.optim.Adam(params, lr=lr)``.
        lrs: the grid (at least two distinct positive rates; sorted here).
        model_fn: builds the network (see :func:`train`).
        data: the splits.
        epochs: epochs per run.
        batch_size: samples per step (default 64).
        seeds: the seeds of the runs for each rate (default ``(0, 1, 2)``).
        metric: a key of :data:`METRICS` (default ``"val_loss"``).
        widen: how many points the grid may grow by (default 0: never).
        scheduler_fn: a learning-rate scheduler for every run (default none).
        device: where to train (default: CUDA when present).
        progress: show a progress bar on stderr (default False).

    Returns:
        An :class:`LRTuning`.

    Example:
        >>> from course_lib.models import cnn
        >>> tuning = tune_lr(lambda p, lr: torch.optim.SGD(p, lr=lr), [0.01, 0.1, 1.0],
        ...                  model_fn=lambda: cnn(), data=load_digits_splits(), epochs=2)
        >>> print(tuning)  # doctest: +SKIP
        best lr 0.1 (inside the grid 0.01..1), mean val_loss 0.2210 over 3 seeds
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(METRICS)}")
    grid = sorted({float(lr) for lr in lrs})
    if len(grid) < 2 or grid[0] <= 0:
        raise ValueError(f"lrs needs at least two distinct positive rates, got {list(lrs)}")
    seeds = tuple(int(seed) for seed in seeds)
    if not seeds:
        raise ValueError("tune_lr needs at least one seed")
    if widen < 0:
        raise ValueError(f"widen must be >= 0, got {widen}")
    runs: dict[float, list[TrainResult]] = {}
    bar = _progress(len(grid) * len(seeds), progress, "tuning lr")

    def run_missing() -> LRTuning:
        for lr in grid:
            if lr not in runs:
                runs[lr] = []
                for seed in seeds:
                    runs[lr].append(train(
                        model_fn, lambda params, lr=lr: make_optimizer(params, lr),
                        data=data, epochs=epochs, batch_size=batch_size, seed=seed,
                        scheduler_fn=scheduler_fn, device=device,
                    ))
                    bar.update()
        return LRTuning(
            lrs=torch.tensor(grid, dtype=torch.float64),
            seeds=seeds,
            scores=torch.tensor(
                [[run.final(metric) for run in runs[lr]] for lr in grid], dtype=torch.float64
            ),
            metric=metric,
            diverged=torch.tensor([[run.diverged for run in runs[lr]] for lr in grid]),
            make_optimizer=make_optimizer,
        )

    try:
        tuning = run_missing()
        for _ in range(widen):
            if tuning.inside:
                break
            grid = widen_grid(grid, tuning.best_index)
            bar.total += len(seeds)
            tuning = run_missing()
    finally:
        bar.close()
    return tuning


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a training recipe except the seed.

    Attributes:
        model_fn: builds the network (see :func:`train`).
        optimizer_fn: ``params -> optimizer`` (e.g. :attr:`LRTuning.optimizer_fn`).
        scheduler_fn: ``optimizer -> scheduler`` (default none).
        scheduler_interval: ``"step"`` or ``"epoch"`` (see :func:`train`).
        batch_size: samples per step for this recipe (default ``None``: the
            ``batch_size`` given to :func:`compare_recipes`).
    """

    model_fn: ModelFn
    optimizer_fn: OptimizerFn
    scheduler_fn: SchedulerFn | None = None
    scheduler_interval: str = "step"
    batch_size: int | None = None


@dataclass
class RecipeComparison:
    """Several recipes run on the same seeds (:func:`compare_recipes`).

    Attributes:
        runs: recipe name -> its :class:`TrainResult` for each seed, in seed order.
        seeds: the seeds, the same for every recipe.
        metric: the score compared (a key of :data:`METRICS`).
        result: the scores as an :class:`~course_lib.experiments.ExperimentResult`
            (one score per seed), which gives each recipe's interval and the paired
            differences; :func:`course_lib.plots.plot_intervals` draws it.
    """

    runs: dict[str, list[TrainResult]]
    seeds: tuple[int, ...]
    metric: str
    result: ExperimentResult

    @property
    def level(self) -> float:
        """The confidence level of the intervals, e.g. 0.95."""
        return self.result.level

    def difference(self, first: str, second: str) -> Interval:
        r"""Interval of the mean paired difference ``score[first] - score[second]``.

        With :math:`d_s` the difference for seed :math:`s`, it is
        :math:`\bar d \pm t_{n-1}\, s_d / \sqrt n`: the paired :math:`t`-interval.
        """
        return self.result.difference(first, second)

    def significant(self, first: str, second: str) -> bool:
        """Whether the interval of the paired difference excludes zero."""
        interval = self.difference(first, second)
        return interval.low > 0 or interval.high < 0

    def verdict(self, first: str, second: str) -> str:
        """One sentence: the paired difference, its interval, and whether it is significant.

        Accuracies are given in percentage points.

        Example:
            ``"adam - sgd: test accuracy +0.61 points, 95% interval [-0.35, +1.57]
            over 5 seeds: not significant at 95%"``
        """
        interval = self.difference(first, second)
        scale, unit = (100.0, " points") if self.metric.endswith("accuracy") else (1.0, "")
        decimals = 2 if scale == 100.0 else 4
        percent = f"{100 * self.level:g}%"

        def number(value: float) -> str:
            return f"{scale * value:+.{decimals}f}"

        outcome = "significant" if self.significant(first, second) else "not significant"
        return (
            f"{first} - {second}: {self.metric.replace('_', ' ')} {number(interval.mean)}{unit}, "
            f"{percent} interval [{number(interval.low)}, {number(interval.high)}] "
            f"over {len(self.seeds)} seeds: {outcome} at {percent}"
        )

    def table(self) -> str:
        """Each recipe's mean score and interval, as aligned text."""
        return self.result.table()

    def curves(self, name: str, quantity: str = "train_loss") -> torch.Tensor:
        """``quantity`` of every seed of one recipe, stacked: ``(seeds, steps or epochs)``."""
        return torch.stack([getattr(run, quantity) for run in self.runs[name]])


def compare_recipes(
    recipes: Mapping[str, Recipe],
    *,
    data: DigitsSplits,
    epochs: int,
    batch_size: int = 64,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    metric: str = "test_accuracy",
    level: float = 0.95,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> RecipeComparison:
    r"""Run every recipe with the same seeds and compare their scores with paired intervals.

    Seed :math:`s` gives every recipe with the same ``model_fn`` the same initial
    weights and the same batches, so the difference between two recipes on seed
    :math:`s` is mostly the recipes' doing. The verdict on "A is better than B" is
    the paired :math:`t`-interval of these differences
    (:meth:`RecipeComparison.difference`): significant at ``level`` when it excludes
    zero. A few seeds give wide intervals; "not significant" then means "these runs
    cannot tell", not "equal".

    Use seeds other than those that tuned the recipes, and a test metric, so that
    the comparison does not reuse the numbers that made the choices.

    Args:
        recipes: name -> :class:`Recipe` (at least one).
        data: the splits.
        epochs: epochs per run.
        batch_size: samples per step (default 64), unless a recipe sets its own.
        seeds: the seeds, shared by all recipes (at least two; default ``0..4``).
        metric: the score, a key of :data:`METRICS` (default ``"test_accuracy"``).
        level: confidence level of the intervals (default 0.95).
        device: where to train (default: CUDA when present).
        progress: show a progress bar on stderr (default False).

    Returns:
        A :class:`RecipeComparison`.

    Example:
        >>> from course_lib.models import cnn
        >>> recipes = {"sgd": Recipe(cnn, lambda p: torch.optim.SGD(p, lr=0.1)),
        ...            "adam": Recipe(cnn, lambda p: torch.optim.Adam(p, lr=3e-3))}
        >>> comparison = compare_recipes(recipes, data=load_digits_splits(), epochs=3)
        >>> comparison.verdict("adam", "sgd")  # doctest: +SKIP
    """
    if not recipes:
        raise ValueError("compare_recipes needs at least one recipe")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(METRICS)}")
    seeds = tuple(int(seed) for seed in seeds)
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"compare_recipes needs at least two distinct seeds, got {seeds}")
    runs: dict[str, list[TrainResult]] = {name: [] for name in recipes}
    with _progress(len(recipes) * len(seeds), progress, "comparing recipes") as bar:
        for seed in seeds:
            for name, recipe in recipes.items():
                runs[name].append(train(
                    recipe.model_fn, recipe.optimizer_fn, data=data, epochs=epochs,
                    batch_size=recipe.batch_size or batch_size, seed=seed,
                    scheduler_fn=recipe.scheduler_fn,
                    scheduler_interval=recipe.scheduler_interval, device=device,
                ))
                bar.update()
    scores = {
        name: torch.tensor([run.final(metric) for run in results], dtype=torch.float64)
        for name, results in runs.items()
    }
    return RecipeComparison(
        runs=runs, seeds=seeds, metric=metric, result=ExperimentResult(scores, level=level)
    )
