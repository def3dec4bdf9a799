"""Data the course generates or loads from installed packages; nothing is downloaded.

Every generator takes a ``seed`` and builds its own ``torch.Generator``, so a
page, an exercise and its hidden tests see exactly the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "RegressionData",
    "ClassificationData",
    "make_regression",
    "make_classification",
    "load_breast_cancer",
    "batches",
]


@dataclass(frozen=True)
class RegressionData:
    """Inputs ``X`` (n, d), targets ``y`` (n,), and the true ``weight`` (d,) and ``bias``."""

    X: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor
    bias: float


@dataclass(frozen=True)
class ClassificationData:
    """Inputs ``X`` (n, d) and integer labels ``y`` (n,) in ``{0, ..., n_classes - 1}``."""

    X: torch.Tensor
    y: torch.Tensor
    n_classes: int


def make_regression(
    n_samples: int = 100,
    n_features: int = 1,
    *,
    noise_std: float = 0.5,
    weight: torch.Tensor | list[float] | None = None,
    bias: float = 1.0,
    feature_scales: torch.Tensor | list[float] | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> RegressionData:
    r"""Synthetic linear-regression data :math:`y = X w + b + \varepsilon`.

    Args:
        n_samples: number of rows of ``X``.
        n_features: number of columns of ``X``.
        noise_std: standard deviation of the Gaussian noise :math:`\varepsilon`.
        weight: the true weight vector; drawn from :math:`\mathcal N(0, 1)` when None
            (default), or ``[2.0]`` for one feature, so the 2-D loss surface of
            chapter 1 has its minimum near ``(w, b) = (2, 1)``.
        bias: the true intercept (default 1.0).
        feature_scales: per-feature standard deviations of ``X`` (default all 1);
            unequal scales show why features are standardized.
        seed: seed of the generator; the same seed gives the same data.
        dtype: floating dtype of the tensors (default float32).
        device: where the tensors live (default CPU).

    Returns:
        A :class:`RegressionData`.

    Example:
        >>> data = make_regression(50, seed=1)
        >>> data.X.shape, data.y.shape
        (torch.Size([50, 1]), torch.Size([50]))
    """
    if n_samples < 1 or n_features < 1:
        raise ValueError(f"need n_samples >= 1 and n_features >= 1, got {n_samples}, {n_features}")
    gen = torch.Generator().manual_seed(seed)
    if weight is None:
        weight = torch.tensor([2.0]) if n_features == 1 else torch.randn(n_features, generator=gen)
    weight = torch.as_tensor(weight, dtype=torch.float64).reshape(-1)
    if weight.numel() != n_features:
        raise ValueError(f"weight has {weight.numel()} entries, expected n_features={n_features}")
    X = torch.randn(n_samples, n_features, generator=gen, dtype=torch.float64)
    if feature_scales is not None:
        X = X * torch.as_tensor(feature_scales, dtype=torch.float64)
    y = X @ weight + bias + noise_std * torch.randn(n_samples, generator=gen, dtype=torch.float64)
    return RegressionData(
        X=X.to(dtype=dtype, device=device),
        y=y.to(dtype=dtype, device=device),
        weight=weight.to(dtype=dtype, device=device),
        bias=float(bias),
    )


def make_classification(
    n_samples: int = 200,
    n_features: int = 2,
    *,
    n_classes: int = 2,
    separation: float = 2.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> ClassificationData:
    """Gaussian blobs, one per class, with centres ``separation`` apart on average.

    Args:
        n_samples: total number of points (split as evenly as possible over classes).
        n_features: input dimension.
        n_classes: number of classes (default 2).
        separation: scale of the random class centres; larger is easier.
        seed: seed of the generator.
        dtype: floating dtype of ``X``.
        device: where the tensors live.

    Returns:
        A :class:`ClassificationData` with labels of dtype ``torch.long``.
    """
    if n_classes < 2:
        raise ValueError(f"need at least 2 classes, got {n_classes}")
    gen = torch.Generator().manual_seed(seed)
    centres = separation * torch.randn(n_classes, n_features, generator=gen, dtype=torch.float64)
    y = torch.arange(n_samples) % n_classes
    y = y[torch.randperm(n_samples, generator=gen)]
    X = centres[y] + torch.randn(n_samples, n_features, generator=gen, dtype=torch.float64)
    return ClassificationData(X=X.to(dtype=dtype, device=device), y=y.to(device=device), n_classes=n_classes)


def load_breast_cancer(
    dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> ClassificationData:
    """scikit-learn's bundled Wisconsin breast-cancer set (569 x 30, binary), as tensors.

    The file ships inside scikit-learn, so nothing is downloaded.
    """
    from sklearn.datasets import load_breast_cancer as _load

    bunch = _load()
    X = torch.as_tensor(bunch.data, dtype=dtype, device=device)
    y = torch.as_tensor(bunch.target, dtype=torch.long, device=device)
    return ClassificationData(X=X, y=y, n_classes=2)


def batches(
    n_samples: int, batch_size: int, *, generator: torch.Generator | None = None, drop_last: bool = False
) -> list[torch.Tensor]:
    """Index tensors of one shuffled epoch of mini-batches.

    Args:
        n_samples: size of the data set.
        batch_size: rows per batch (the last one may be smaller unless ``drop_last``).
        generator: the random stream for the shuffle; pass a seeded one to reproduce.
        drop_last: drop a final batch smaller than ``batch_size``.

    Returns:
        A list of 1-D ``torch.long`` index tensors that together cover ``range(n_samples)``
        once (less the remainder when ``drop_last``).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = torch.randperm(n_samples, generator=generator)
    chunks = list(order.split(batch_size))
    if drop_last and chunks and chunks[-1].numel() < batch_size:
        chunks.pop()
    return chunks
