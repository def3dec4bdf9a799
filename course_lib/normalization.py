r"""Input standardization, batch, layer, group and RMS normalization, and dropout, written out (chapter 8).

Each function follows its ``torch.nn.functional`` counterpart: the same
arguments, defaults and buffer updates, so the outputs, the gradients autograd
derives from them and the running statistics agree with torch to float
rounding. The modules wrap them with torch's constructor arguments (``device``
and ``dtype`` included), parameter and buffer names, so their ``state_dict``
loads into ``torch.nn`` modules and back.

========================  ===================================  ==========================================================
course_lib.normalization  torch                                agreement (tests/test_normalization.py)
========================  ===================================  ==========================================================
:func:`batch_norm`        ``F.batch_norm``                     within tolerance
:func:`layer_norm`        ``F.layer_norm``                     within tolerance
:func:`group_norm`        ``F.group_norm``                     within tolerance
:func:`rms_norm`          ``F.rms_norm``                       within tolerance
:func:`dropout`           ``F.dropout``                        kept values bit-exact, mask differs
:class:`BatchNorm1d`      ``nn.BatchNorm1d``                   within tolerance (outputs, gradients, buffers, train/eval)
:class:`BatchNorm2d`      ``nn.BatchNorm2d``                   within tolerance (outputs, gradients, buffers, train/eval)
:class:`LayerNorm`        ``nn.LayerNorm``                     within tolerance
:class:`GroupNorm`        ``nn.GroupNorm``                     within tolerance
:class:`RMSNorm`          ``nn.RMSNorm``                       within tolerance
:class:`Dropout`          ``nn.Dropout``                       kept values bit-exact, mask differs
:class:`Standardizer`     (scikit-learn's ``StandardScaler``)  within tolerance
========================  ===================================  ==========================================================

"Within tolerance" is ``torch.testing.assert_close`` at its default for the dtype:
the formulas are torch's, the order of the floating-point sums is not (torch
uses fused kernels, Welford's algorithm for the variances). Buffers
(``running_mean``, ``running_var``, ``num_batches_tracked``) follow torch's
updates, including an empty batch, which returns an empty output, counts in
``num_batches_tracked`` and leaves the running statistics alone. Dropout masks
come from another random stream than torch's (``generator`` makes them
reproducible), so they are compared through what a mask implies.

Not supported: ``SyncBatchNorm``, the ``Lazy*`` modules, ``BatchNorm3d`` and
``InstanceNorm*`` (the formulas here cover them, the modules are not written),
``__torch_function__`` dispatch for tensor subclasses. :func:`dropout` takes
``inplace`` by keyword only, its fourth positional argument being ``generator``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from course_lib.init import ones_, zeros_

__all__ = [
    "Standardizer",
    "standardize",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "rms_norm",
    "dropout",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "RMSNorm",
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
    r"""Batch normalization of ``x`` (N, C, ...), as ``torch.nn.functional.batch_norm``.

    Training (statistics of the batch, per channel :math:`c`, over the
    :math:`m = N` (for (N, C) input), :math:`N L` or :math:`N H W` values of that channel):

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
    is :math:`1 -` the usual EMA decay. An empty batch (:math:`m = 0`) gives an
    empty output and leaves the running statistics as they were, as torch does.

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

    Raises:
        ValueError: training on exactly one value per channel (its variance is 0).
    """
    if x.dim() < 2:
        raise ValueError(f"batch_norm expects (N, C, ...) input, got shape {tuple(x.shape)}")
    shape = _channel_shape(x)
    if training:
        count = x.numel() // x.shape[1] if x.shape[1] else 0
        if count == 1:
            raise ValueError(
                f"expected more than 1 value per channel when training, got input size {tuple(x.shape)}"
            )
        if num_batches_tracked is not None:
            num_batches_tracked.add_(1)
        if count == 0:
            return _affine(x, weight, bias, shape)
        dims = [0] + list(range(2, x.dim()))
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, correction=0)
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
    return _affine(y, weight, bias, shape)


def _affine(y: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, shape: Sequence[int]) -> torch.Tensor:
    """``y * weight + bias``, each reshaped to ``shape`` and skipped when ``None``."""
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _trailing_shape(x: torch.Tensor, normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(shape) > x.dim() or tuple(x.shape[x.dim() - len(shape) :]) != shape:
        raise ValueError(
            f"normalized_shape {shape} does not match the end of input shape {tuple(x.shape)}"
        )
    return shape


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
    shape = _trailing_shape(x, normalized_shape)
    dims = list(range(x.dim() - len(shape), x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, correction=0, keepdim=True)
    y = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(
    x: torch.Tensor,
    num_groups: int,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    r"""Group normalization of ``x`` (N, C, ...), as ``torch.nn.functional.group_norm``.

    The C channels are split into ``num_groups`` consecutive groups of
    :math:`C/G`; each sample is normalized over the :math:`C/G \times` (spatial
    size) values of each of its groups,

    .. math::
        \mu_{n,g} = \frac1m \sum_{k \in (n, g)} x_k, \quad
        \sigma^2_{n,g} = \frac1m \sum_{k \in (n, g)} (x_k - \mu_{n,g})^2, \quad
        y_k = \gamma_c \frac{x_k - \mu_{n,g}}{\sqrt{\sigma^2_{n,g} + \epsilon}} + \beta_c

    with :math:`\gamma, \beta` one per *channel* :math:`c`. No batch statistics,
    so it behaves the same with a batch of 1 and in evaluation (Wu & He, 2018,
    eq. 1 and 3). One group is layer norm over (C, ...) with per-channel
    :math:`\gamma`; C groups is instance norm.

    Args:
        x: input with channels in dimension 1.
        num_groups: :math:`G`, dividing C.
        weight: :math:`\gamma` (C,) (default ``None``: 1).
        bias: :math:`\beta` (C,) (default ``None``: 0).
        eps: added to the variance (default 1e-5).

    Returns:
        The normalized tensor, same shape as ``x``.

    Raises:
        ValueError: C not divisible by ``num_groups``, or a single value to
            normalize per group and batch (torch's check).
    """
    if x.dim() < 2:
        raise ValueError(f"group_norm expects (N, C, ...) input, got shape {tuple(x.shape)}")
    batch, channels = x.shape[:2]
    if channels % num_groups != 0:
        raise ValueError(f"the number of channels ({channels}) must be divisible by num_groups ({num_groups})")
    spatial = math.prod(x.shape[2:])
    if x.numel() == 0:
        return _affine(x, weight, bias, _channel_shape(x))
    if batch * channels // num_groups * spatial == 1:
        raise ValueError(f"expected more than 1 value per channel when training, got input size {tuple(x.shape)}")
    grouped = x.reshape(batch, num_groups, channels // num_groups * spatial)
    mean = grouped.mean(dim=2, keepdim=True)
    var = grouped.var(dim=2, correction=0, keepdim=True)
    y = ((grouped - mean) / torch.sqrt(var + eps)).reshape(x.shape)
    return _affine(y, weight, bias, _channel_shape(x))


def rms_norm(
    x: torch.Tensor,
    normalized_shape: int | Sequence[int],
    weight: torch.Tensor | None = None,
    eps: float | None = None,
) -> torch.Tensor:
    r"""Root-mean-square normalization over the last dimensions, as ``torch.nn.functional.rms_norm``.

    .. math::
        y_k = \gamma_k \frac{x_k}{\sqrt{\frac1H \sum_j x_j^2 + \epsilon}}

    over the :math:`H` values of the last ``len(normalized_shape)`` dimensions:
    layer norm without subtracting the mean and without :math:`\beta` (Zhang &
    Sennrich, 2019, eq. 4). Cheaper, and what most large language models use.

    Args:
        x: input whose trailing dimensions equal ``normalized_shape``.
        normalized_shape: those trailing dimensions.
        weight: :math:`\gamma` with ``normalized_shape`` (default ``None``: 1).
        eps: added to the mean square (default ``None``: ``torch.finfo(x.dtype).eps``, as torch).

    Returns:
        The normalized tensor, same shape as ``x``.
    """
    shape = _trailing_shape(x, normalized_shape)
    if eps is None:
        eps = torch.finfo(x.dtype).eps
    dims = list(range(x.dim() - len(shape), x.dim()))
    y = x * torch.rsqrt(x.pow(2).mean(dim=dims, keepdim=True) + eps)
    return y * weight if weight is not None else y


def _check_probability(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(
    x: torch.Tensor,
    p: float = 0.5,
    training: bool = True,
    generator: torch.Generator | None = None,
    *,
    inplace: bool = False,
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
        inplace: overwrite ``x`` and return it (default ``False``); autograd
            refuses it on a leaf that requires a gradient, as for torch's.

    Returns:
        A tensor shaped like ``x`` (``x`` itself when ``inplace``).
    """
    _check_probability(p)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x.mul_(0.0) if inplace else x * 0.0
    keep = torch.empty_like(x).bernoulli_(1.0 - p, generator=generator)
    scaled_mask = keep * (1.0 / (1.0 - p))
    return x.mul_(scaled_mask) if inplace else x * scaled_mask


def _factory(device: torch.device | str | None, dtype: torch.dtype | None) -> dict:
    return {"device": device, "dtype": dtype}


class _BatchNorm(nn.Module):
    """What :class:`BatchNorm1d` and :class:`BatchNorm2d` share: everything but the accepted input shapes."""

    _version = 2  # torch's: state dicts at version 2 have num_batches_tracked
    expected_dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        factory = _factory(device, dtype)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.register_parameter("weight", nn.Parameter(torch.empty(num_features, **factory)) if affine else None)
        self.register_parameter("bias", nn.Parameter(torch.empty(num_features, **factory)) if affine and bias else None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **factory))
            self.register_buffer("running_var", torch.ones(num_features, **factory))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batch seen."""
        if self.track_running_stats:
            zeros_(self.running_mean)
            ones_(self.running_var)
            zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        """:math:`\\gamma = 1`, :math:`\\beta = 0` and fresh running statistics."""
        self.reset_running_stats()
        if self.weight is not None:
            ones_(self.weight)
        if self.bias is not None:
            zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in self.expected_dims:
            wanted = " or ".join(f"{d}D" for d in self.expected_dims)
            raise ValueError(f"expected {wanted} input (got {x.dim()}D input)")
        if x.shape[1] != self.num_features:
            raise RuntimeError(
                f"{type(self).__name__}({self.num_features}) got {x.shape[1]} channels in input of shape {tuple(x.shape)}"
            )
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
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
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
        device: where parameters and buffers live (default: torch's default).
        dtype: their floating-point type (default: torch's default).
        bias: with ``affine``, learn ``bias`` too (default ``True``; keyword only, as torch).
    """

    expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of images (N, C, H, W), one mean and variance per channel, built on :func:`batch_norm`.

    The statistics of channel :math:`c` are taken over all :math:`N H W` pixels
    of the batch, so every position of a feature map is normalized alike, as
    the convolution that produced it treats every position alike (Ioffe &
    Szegedy, 2015, sec. 3.2). Same arguments, defaults, parameters and buffers
    as ``torch.nn.BatchNorm2d``; see :class:`BatchNorm1d` for them.
    """

    expected_dims = (4,)


class LayerNorm(nn.Module):
    """Layer normalization over the trailing ``normalized_shape``, built on :func:`layer_norm`.

    Same arguments, defaults and parameters as ``torch.nn.LayerNorm``.

    Args:
        normalized_shape: the trailing dimensions to normalize over.
        eps: added to the variance (default 1e-5).
        elementwise_affine: learn ``weight`` (and ``bias``) (default ``True``).
        bias: learn ``bias`` too (default ``True``).
        device: where the parameters live (default: torch's default).
        dtype: their floating-point type (default: torch's default).
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        factory = _factory(device, dtype)
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.register_parameter("weight", nn.Parameter(torch.ones(shape, **factory)) if elementwise_affine else None)
        self.register_parameter(
            "bias", nn.Parameter(torch.zeros(shape, **factory)) if elementwise_affine and bias else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(nn.Module):
    """Group normalization of (N, C, ...) input, built on :func:`group_norm`.

    Same arguments, defaults and parameters (``weight``, ``bias``, one per
    channel) as ``torch.nn.GroupNorm``. No buffers: train and eval are the same.

    Args:
        num_groups: the number of groups G, dividing ``num_channels``.
        num_channels: C.
        eps: added to the variance (default 1e-5).
        affine: learn ``weight`` and ``bias`` (default ``True``).
        device: where the parameters live (default: torch's default).
        dtype: their floating-point type (default: torch's default).
        bias: with ``affine``, learn ``bias`` too (default ``True``; keyword only, as torch).
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        factory = _factory(device, dtype)
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        self.register_parameter("weight", nn.Parameter(torch.ones(num_channels, **factory)) if affine else None)
        self.register_parameter("bias", nn.Parameter(torch.zeros(num_channels, **factory)) if affine and bias else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class RMSNorm(nn.Module):
    """RMS normalization over the trailing ``normalized_shape``, built on :func:`rms_norm`.

    Same arguments, defaults and parameter (``weight``, no bias) as ``torch.nn.RMSNorm``.

    Args:
        normalized_shape: the trailing dimensions to normalize over.
        eps: added to the mean square (default ``None``: the input dtype's machine epsilon).
        elementwise_affine: learn ``weight`` (default ``True``).
        device: where the parameter lives (default: torch's default).
        dtype: its floating-point type (default: torch's default).
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        weight = nn.Parameter(torch.ones(shape, **_factory(device, dtype))) if elementwise_affine else None
        self.register_parameter("weight", weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class Dropout(nn.Module):
    """Inverted dropout while training, identity in evaluation, built on :func:`dropout`.

    Same arguments as ``torch.nn.Dropout``, plus a ``generator`` for reproducible masks.

    Args:
        p: probability of zeroing a unit (default 0.5).
        inplace: overwrite the input (default ``False``).
        generator: random source for the masks (keyword only; default: global).
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        _check_probability(p)
        self.p = p
        self.inplace = inplace
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training, self.generator, inplace=self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
