r"""Comparing training recipes honestly: repeated subsampling and confidence intervals (chapter 8).

One train/test split gives one number per recipe, and the difference between two
recipes is then as much about *which* points landed in the test set as about the
recipes. :func:`repeated_subsampling` draws ``repetitions`` random splits (80/20 by
default, stratified by class), runs every recipe on the *same* splits, and returns
an :class:`ExperimentResult` holding one score per recipe and split. From those
scores it gives, per recipe, a :math:`t` confidence interval for the mean score
(:func:`confidence_interval`), and, for two recipes, an interval for their paired
difference, which is usually much narrower because both saw the same splits.

The repetitions are not independent (the training sets overlap), so the intervals
are a useful yardstick of the spread rather than exact statements about the
population; Nadeau & Bengio (2003, "Inference for the generalization error")
discuss how much wider an exact interval would have to be.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

__all__ = [
    "Interval",
    "confidence_interval",
    "subsample_splits",
    "ExperimentResult",
    "repeated_subsampling",
    "widen_grid",
]

Scorer = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int], float]
"""``fit_and_score(X_train, y_train, X_test, y_test, repetition) -> score`` of one recipe."""


@dataclass(frozen=True)
class Interval:
    """A mean with its two-sided confidence interval ``[low, high]``.

    Attributes:
        mean: the sample mean of the scores.
        low: lower end of the interval.
        high: upper end.
        std: the sample standard deviation (dividing by :math:`n - 1`).
        n: the number of scores.
        level: the confidence level, e.g. 0.95.
    """

    mean: float
    low: float
    high: float
    std: float
    n: int
    level: float

    @property
    def half_width(self) -> float:
        """Half the length of the interval: ``mean ± half_width``."""
        return (self.high - self.low) / 2

    def __str__(self) -> str:
        return f"{self.mean:.4f} [{self.low:.4f}, {self.high:.4f}]"


def confidence_interval(values: Sequence[float] | torch.Tensor, level: float = 0.95) -> Interval:
    r"""Student-:math:`t` confidence interval for the mean of ``values``.

    .. math::
        \bar s \pm t_{n-1,\,(1 + \text{level})/2}\; \frac{s}{\sqrt n}, \qquad
        s^2 = \frac{1}{n - 1}\sum_{r=1}^n (s_r - \bar s)^2

    where :math:`t_{n-1, q}` is the :math:`q`-quantile of Student's :math:`t`
    distribution with :math:`n - 1` degrees of freedom (2.262 for :math:`n = 10`
    at level 0.95): the interval of ``scipy.stats.t.interval(level, n - 1,
    loc=mean, scale=s / sqrt(n))``. It assumes independent, roughly normal scores.

    Args:
        values: the scores, at least two.
        level: confidence level in ``(0, 1)`` (default 0.95).

    Returns:
        An :class:`Interval`.

    Example:
        >>> str(confidence_interval([0.95, 0.97, 0.96, 0.98]))
        '0.9650 [0.9445, 0.9855]'
    """
    from scipy import stats

    scores = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    n = scores.numel()
    if n < 2:
        raise ValueError(f"a confidence interval needs at least two values, got {n}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    mean = float(scores.mean())
    std = float(scores.std(correction=1))
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * std / math.sqrt(n)
    return Interval(mean=mean, low=mean - half, high=mean + half, std=std, n=n, level=level)


def subsample_splits(
    n_samples: int,
    repetitions: int = 10,
    test_fraction: float = 0.2,
    *,
    stratify: torch.Tensor | None = None,
    seed: int = 0,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random train/test splits of ``range(n_samples)``, drawn independently of each other.

    Each split puts ``round(test_fraction * n_samples)`` indices in the test set
    (with ``stratify``, ``round(test_fraction * n_c)`` of each class ``c``, so both
    sets keep the class proportions) and the rest in the training set. Unlike the
    folds of cross-validation, the test sets of different repetitions may overlap.

    Args:
        n_samples: size of the data set.
        repetitions: number of splits (default 10).
        test_fraction: share of the test set, in ``(0, 1)`` (default 0.2).
        stratify: labels (n_samples,) to keep the class proportions (default: none).
        seed: seed of the splits.

    Returns:
        A list of ``(train_indices, test_indices)``, sorted ``torch.long`` tensors.

    Example:
        >>> train, test = subsample_splits(10, repetitions=1, test_fraction=0.2)[0]
        >>> len(train), len(test)
        (8, 2)
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    if repetitions < 1:
        raise ValueError(f"repetitions must be >= 1, got {repetitions}")
    if stratify is not None and stratify.shape != (n_samples,):
        raise ValueError(f"stratify needs one label per sample, shape ({n_samples},), got {tuple(stratify.shape)}")
    generator = torch.Generator().manual_seed(seed)
    if stratify is None:
        groups = [torch.arange(n_samples)]
    else:
        groups = [torch.nonzero(stratify == label).reshape(-1) for label in torch.unique(stratify)]
    splits = []
    for _ in range(repetitions):
        test_parts, train_parts = [], []
        for members in groups:
            shuffled = members[torch.randperm(members.numel(), generator=generator)]
            n_test = round(test_fraction * members.numel())
            test_parts.append(shuffled[:n_test])
            train_parts.append(shuffled[n_test:])
        train, test = torch.cat(train_parts), torch.cat(test_parts)
        if train.numel() == 0 or test.numel() == 0:
            raise ValueError(f"test_fraction {test_fraction} leaves an empty train or test set of {n_samples} samples")
        splits.append((train.sort().values, test.sort().values))
    return splits


@dataclass
class ExperimentResult:
    """The scores of several recipes on the same repeated splits.

    Attributes:
        scores: recipe name -> float64 tensor of its scores, one per split.
        splits: the ``(train_indices, test_indices)`` of each repetition.
        level: the confidence level of :meth:`interval` and :meth:`difference`.
    """

    scores: dict[str, torch.Tensor]
    splits: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)
    level: float = 0.95

    def interval(self, name: str) -> Interval:
        """The confidence interval of one recipe's mean score."""
        return confidence_interval(self.scores[name], self.level)

    def summary(self) -> dict[str, Interval]:
        """:meth:`interval` of every recipe, in the order they were run."""
        return {name: self.interval(name) for name in self.scores}

    def difference(self, first: str, second: str) -> Interval:
        """Interval of the mean *paired* difference ``scores[first] - scores[second]``.

        Both recipes saw the same splits, so the split-to-split variation (an easy
        test set lifts both) cancels in the differences.
        """
        return confidence_interval(self.scores[first] - self.scores[second], self.level)

    def table(self) -> str:
        """The summary as aligned text, one recipe per line."""
        width = max(len(name) for name in self.scores)
        percent = round(100 * self.level)
        lines = [f"{'recipe':<{width}}  mean     {percent}% interval      std"]
        for name, iv in self.summary().items():
            lines.append(f"{name:<{width}}  {iv.mean:.4f}  [{iv.low:.4f}, {iv.high:.4f}]  {iv.std:.4f}")
        return "\n".join(lines)


def repeated_subsampling(
    recipes: Mapping[str, Scorer],
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    repetitions: int = 10,
    test_fraction: float = 0.2,
    stratify: bool = True,
    seed: int = 0,
    level: float = 0.95,
) -> ExperimentResult:
    """Run every recipe on the same ``repetitions`` random train/test splits.

    For repetition ``r`` with split ``(train, test)``, each recipe is called as
    ``fit_and_score(X[train], y[train], X[test], y[test], r)`` and returns a number
    (an accuracy, a loss...). Anything fitted to data, such as a
    :class:`~course_lib.normalization.Standardizer`, belongs inside the recipe and
    must be fitted on ``X[train]`` only. The repetition index ``r`` is there to seed
    the recipe's own randomness (initialization, batch order, dropout masks).

    Args:
        recipes: name -> ``fit_and_score`` function.
        X: inputs, one row per sample.
        y: targets (labels when ``stratify``).
        repetitions: number of splits (default 10).
        test_fraction: share of the test set (default 0.2: 80/20 splits).
        stratify: keep the class proportions of ``y`` in every split (default True).
        seed: seed of the splits.
        level: confidence level of the result's intervals (default 0.95).

    Returns:
        An :class:`ExperimentResult`.

    Example:
        >>> X, y = torch.randn(50, 3), torch.randint(0, 2, (50,))
        >>> majority = lambda X_tr, y_tr, X_te, y_te, r: float((y_te == y_tr.mode().values).float().mean())
        >>> result = repeated_subsampling({"majority": majority}, X, y, repetitions=3)
        >>> result.scores["majority"].shape
        torch.Size([3])
    """
    if not recipes:
        raise ValueError("repeated_subsampling needs at least one recipe")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    splits = subsample_splits(X.shape[0], repetitions, test_fraction, stratify=y if stratify else None, seed=seed)
    scores: dict[str, list[float]] = {name: [] for name in recipes}
    for r, (train, test) in enumerate(splits):
        for name, fit_and_score in recipes.items():
            scores[name].append(float(fit_and_score(X[train], y[train], X[test], y[test], r)))
    return ExperimentResult(
        scores={name: torch.tensor(values, dtype=torch.float64) for name, values in scores.items()},
        splits=splits,
        level=level,
    )




def widen_grid(grid: Sequence[float], best_index: int) -> list[float]:
    """A geometric grid grown by one point beyond the edge where the best value sits.

    A best value at the edge of a grid says nothing about the values beyond it; the
    new point continues the grid at the ratio of its two outermost points on that
    side. Used by the learning-rate searches of :mod:`course_lib.workloads` and
    :mod:`course_lib.trajectories`.

    Args:
        grid: increasing positive values (at least two).
        best_index: the index of the best value, ``0`` or ``len(grid) - 1``.

    Returns:
        A new list, one point longer.

    Example:
        >>> widen_grid([0.01, 0.1, 1.0], 2)
        [0.01, 0.1, 1.0, 10.0]
    """
    values = [float(value) for value in grid]
    if len(values) < 2 or any(b <= a for a, b in zip(values, values[1:])) or values[0] <= 0:
        raise ValueError(f"grid must hold at least two increasing positive values, got {values}")
    if best_index == 0:
        return [values[0] * values[0] / values[1], *values]
    if best_index == len(values) - 1:
        return [*values, values[-1] * values[-1] / values[-2]]
    raise ValueError(f"best_index {best_index} is inside the grid: there is nothing to widen")
