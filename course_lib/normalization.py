r"""Input standardization, batch norm, layer norm and dropout, written out (chapter 8).

Each function follows its ``torch.nn.functional`` counterpart: the same
arguments, defaults and buffer updates, so the outputs, the gradients autograd
derives from them and the running statistics agree with torch to float
rounding. The modules :class:`BatchNorm1d`, :class:`LayerNorm` and
:class:`Dropout` wrap them with torch's parameter and buffer names, so their
``state_dict`` loads into ``torch.nn`` modules and back.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = [
    "Standardizer",
    "standardize",
    "batch_norm",
    "layer_norm",
    "dropout",
    "BatchNorm1d",
    "LayerNorm",
    "Dropout",
]


class Standardizer:
    r"""Feature-wise standardization fitted on training data: :math:`(x - \mu) / \sigma`.

    :meth:`fit` stores each column's mean :math:`\mu_j` and standard deviation
    :math:`\sigma_j` (the population one, dividing by :math:`n`, as
    scikit-learn's ``StandardScaler``); :meth:`transform` applies *those* numbers
    to any data, so the test set is scaled like the training set and never
    leaks into the statistics. A column with zero variance (constant in the
    training data) gets :math:`\sigma_j = 1`: it is centred to 0 instead of
    divided by 0.

    Example:
        >>> scaler = Standardizer().fit(torch.tensor([[1.0, 5.0], [3.0, 5.0]]))
        >>> scaler.transform(torch.tensor([[2.0, 6.0]]))
        tensor([[0., 1.]])
    """

    def __init__(self) -> None:
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None

    def fit(self, X: torch.Tensor) -> Standardizer:
        """Compute the mean and standard deviation of each column of ``X`` (n, d)."""
        if X.dim() != 2 or X.shape[0] == 0:
            raise ValueError(f"expected a non-empty (n, d) tensor, got shape {tuple(X.shape)}")
        self.mean = X.mean(dim=0)
        std = X.std(dim=0, correction=0)
        self.std = torch.where(std > 0, std, torch.ones_like(std))
        return self

    def _fitted(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mean is None or self.std is None:
            raise RuntimeError("call fit(X_train) before transform")
        return self.mean, self.std

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        r"""Return :math:`(X - \mu) / \sigma` with the fitted statistics."""
        mean, std = self._fitted()
        return (X - mean) / std

    def fit_transform(self, X: torch.Tensor) -> torch.Tensor:
        """Fit on ``X`` and return it standardized."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: torch.Tensor) -> torch.Tensor:
        r"""Undo :meth:`transform`: :math:`Z \sigma + \mu`."""
        mean, std = self._fitted()
        return Z * std + mean


def standardize(
    X: torch.Tensor, mean: torch.Tensor | None = None, std: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Standardize the columns of ``X`` (n, d): :math:`(x_{ij} - \mu_j) / \sigma_j`.

    Without ``mean``/``std`` the statistics of ``X`` itself are used (population
    std, zero-variance columns divided by 1, as :class:`Standardizer`). Pass a
    training set's statistics to scale other data the same way.

    Args:
        X: data, one row per sample.
        mean: per-column means (default: from ``X``).
        std: per-column standard deviations (default: from ``X``).

    Returns:
        The standardized tensor.
    """
    if mean is None or std is None:
        fitted = Standardizer().fit(X)
        mean = fitted.mean if mean is None else mean
        std = fitted.std if std is None else std
    return (X - mean) / std


def _channel_shape(x: torch.Tensor) -> list[int]:
    return [1, x.shape[1]] + [1] * (x.dim() - 2)


def batch_norm(
    x: torch.Tensor,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    training: bool = False,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
    num_batches_tracked: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Batch normalization of ``x`` (N, C) or (N, C, L), as ``torch.nn.functional.batch_norm``.

    Training (statistics of the batch, per channel :math:`c`, over the
    :math:`m = N` or :math:`N L` values of that channel):

    .. math::
        \mu_B = \frac1m \sum_i x_i, \quad
        \sigma_B^2 = \frac1m \sum_i (x_i - \mu_B)^2, \quad
        y_i = \gamma \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta

    and, if running buffers are given, in place

    .. math::
        \hat\mu \leftarrow (1 - \alpha)\hat\mu + \alpha \mu_B, \qquad
        \hat\sigma^2 \leftarrow (1 - \alpha)\hat\sigma^2 + \alpha \frac{m}{m - 1}\sigma_B^2

    with :math:`\alpha` = ``momentum``. Note the two variances: the biased one
    normalizes the batch, the *unbiased* one feeds the running estimate.
    ``momentum=None`` gives the cumulative average :math:`\alpha = 1/k` after
    :math:`k` batches, counted in ``num_batches_tracked`` (as ``nn.BatchNorm1d``).
    Evaluation uses :math:`\hat\mu, \hat\sigma^2` in place of the batch
    statistics, so an output no longer depends on the rest of its batch.
    Ioffe & Szegedy (2015, Algorithm 1 and 2); torch's momentum :math:`\alpha`
    is :math:`1 -` the usual EMA decay.

    Args:
        x: input, channels in dimension 1 (any trailing dimensions work).
        running_mean: buffer (C,) updated in place when training; may be ``None``.
        running_var: buffer (C,) updated in place when training; may be ``None``.
        weight: :math:`\gamma` (C,) (default ``None``: 1).
        bias: :math:`\beta` (C,) (default ``None``: 0).
        training: batch statistics and buffer updates (default ``False``, as torch).
        momentum: :math:`\alpha` (default 0.1), or ``None`` for the cumulative average.
        eps: added to the variance (default 1e-5).
        num_batches_tracked: 0-dim integer buffer, incremented in place when
            training; required with ``momentum=None``.

    Returns:
        The normalized tensor, same shape as ``x``.
    """
    if x.dim() < 2:
        raise ValueError(f"batch_norm expects (N, C, ...) input, got shape {tuple(x.shape)}")
    shape = _channel_shape(x)
    if training:
        count = x.numel() // x.shape[1]
        if count <= 1:
            raise ValueError(
                f"expected more than 1 value per channel when training, got input size {tuple(x.shape)}"
            )
        dims = [0] + list(range(2, x.dim()))
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, correction=0)
        if num_batches_tracked is not None:
            num_batches_tracked.add_(1)
        if momentum is None:
            if num_batches_tracked is None:
                raise ValueError("momentum=None (cumulative average) needs num_batches_tracked")
            factor = 1.0 / float(num_batches_tracked)
        else:
            factor = momentum
        with torch.no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - factor).add_(factor * mean)
            if running_var is not None:
                running_var.mul_(1 - factor).add_(factor * var * count / (count - 1))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("evaluation mode needs running_mean and running_var")
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def layer_norm(
    x: torch.Tensor,
    normalized_shape: int | Sequence[int],
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    r"""Layer normalization over the last dimensions of ``x``, as ``torch.nn.functional.layer_norm``.

    For each sample, over the :math:`H` values of its last ``len(normalized_shape)`` dimensions:

    .. math::
        \mu = \frac1H \sum_k x_k, \quad \sigma^2 = \frac1H \sum_k (x_k - \mu)^2, \quad
        y_k = \gamma_k \frac{x_k - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta_k

    No batch statistics and no buffers: training and evaluation compute the
    same thing, and batch size 1 is fine. :math:`\gamma, \beta` have
    ``normalized_shape`` (one per feature, unlike batch norm's one per channel).
    Ba, Kiros & Hinton (2016, eq. 4).

    Args:
        x: input whose trailing dimensions equal ``normalized_shape``.
        normalized_shape: those trailing dimensions, e.g. ``d`` for (N, d) input.
        weight: :math:`\gamma` (default ``None``: 1).
        bias: :math:`\beta` (default ``None``: 0).
        eps: added to the variance (default 1e-5).

    Returns:
        The normalized tensor, same shape as ``x``.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.dim() - len(shape) :]) != shape or len(shape) > x.dim():
        raise ValueError(
            f"normalized_shape {shape} does not match the end of input shape {tuple(x.shape)}"
        )
    dims = list(range(x.dim() - len(shape), x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, correction=0, keepdim=True)
    y = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def dropout(
    x: torch.Tensor,
    p: float = 0.5,
    training: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Inverted dropout, as ``torch.nn.functional.dropout``.

    .. math:: y_i = \frac{m_i}{1 - p}\, x_i, \qquad m_i \sim \text{Bernoulli}(1 - p) \text{ independently}

    Each unit is kept with probability :math:`1 - p` and scaled up by
    :math:`1/(1-p)`, so :math:`\mathbb E[y_i] = x_i` and evaluation (identity) needs
    no rescaling. Srivastava et al. (2014) scale the weights at test time
    instead; torch, and this function, scale during training. Edge cases as
    torch: ``p = 0`` or ``training=False`` return ``x`` itself, ``p = 1``
    returns ``x * 0``. Kept values are exactly ``x * (1 / (1 - p))``, as torch
    computes them; torch draws its mask from a different random stream, so the
    masks themselves differ.

    Args:
        x: input of any shape.
        p: probability of zeroing a unit, in ``[0, 1]`` (default 0.5).
        training: apply dropout (default ``True``, as torch's functional form).
        generator: random source on ``x``'s device, for reproducible masks
            (default: torch's global one).

    Returns:
        A tensor shaped like ``x``.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = torch.empty_like(x).bernoulli_(1.0 - p, generator=generator)
    return x * (keep * (1.0 / (1.0 - p)))


class BatchNorm1d(nn.Module):
    """Batch normalization over (N, C) or (N, C, L) input, built on :func:`batch_norm`.

    Same arguments, defaults, parameters (``weight``, ``bias``) and buffers
    (``running_mean``, ``running_var``, ``num_batches_tracked``) as
    ``torch.nn.BatchNorm1d``; ``model.train()`` / ``model.eval()`` switch between
    batch and running statistics.

    Args:
        num_features: the number of channels C.
        eps: added to the variance (default 1e-5).
        momentum: running-average factor (default 0.1; ``None``: cumulative).
        affine: learn ``weight`` and ``bias`` (default ``True``).
        track_running_stats: keep running statistics (default ``True``);
            without them batch statistics are used in evaluation too.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input, got {x.dim()}D")
        use_batch_stats = self.training or not self.track_running_stats
        update = self.training and self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if update or not use_batch_stats else None,
            self.running_var if update or not use_batch_stats else None,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=self.momentum,
            eps=self.eps,
            num_batches_tracked=self.num_batches_tracked if update else None,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class LayerNorm(nn.Module):
    """Layer normalization over the trailing ``normalized_shape``, built on :func:`layer_norm`.

    Same arguments, defaults and parameters as ``torch.nn.LayerNorm``.

    Args:
        normalized_shape: the trailing dimensions to normalize over.
        eps: added to the variance (default 1e-5).
        elementwise_affine: learn ``weight`` (and ``bias``) (default ``True``).
        bias: learn ``bias`` too (default ``True``).
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(shape))
            self.bias = nn.Parameter(torch.zeros(shape)) if bias else None
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}"
        )


class Dropout(nn.Module):
    """Inverted dropout while training, identity in evaluation, built on :func:`dropout`.

    Args:
        p: probability of zeroing a unit (default 0.5).
        generator: random source for reproducible masks (default: global).
    """

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"

