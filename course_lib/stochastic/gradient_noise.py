r"""How noisy a mini-batch gradient is, and how that noise shrinks with the batch size (chapter 2).

:func:`per_sample_gradients` computes every sample's gradient of linear regression at once;
:func:`gradient_standard_error` measures the spread of mini-batch gradients around the
full gradient for several batch sizes (it shrinks like :math:`\sigma/\sqrt{|B|}`), and
:func:`loglog_fit` reads the exponent off the log-log plot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["per_sample_gradients", "GradientNoise", "gradient_standard_error", "loglog_fit"]


def per_sample_gradients(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
) -> torch.Tensor:
    r"""The gradient of each sample's loss, one row per sample, flattened over all parameters.

    Row :math:`i` is :math:`\nabla_\theta L(f_\theta(x_i), y_i)`; the gradient of the mean
    loss over a batch :math:`B` is the mean of its rows, which is what makes the
    mini-batch gradient an unbiased estimate of the full one. Computed with
    ``torch.func.vmap`` over ``torch.func.grad``, without a Python loop over samples.

    The model must treat samples independently (no batch normalization, and dropout
    off: call ``model.eval()`` first if it has dropout).

    Args:
        model: the network (its parameters are read, not changed).
        loss_fn: ``loss_fn(prediction, target) -> 0-dim tensor`` for ONE sample, e.g.
            ``torch.nn.functional.mse_loss``.
        X: inputs, one row per sample.
        y: targets.

    Returns:
        A tensor of shape ``(n, number of parameters)``, parameters in
        ``model.named_parameters()`` order.
    """
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss_of_one(parameters, x, target):
        prediction = torch.func.functional_call(model, parameters, (x.unsqueeze(0),))
        return loss_fn(prediction.squeeze(0), target)

    grads = torch.func.vmap(torch.func.grad(loss_of_one), in_dims=(None, 0, 0))(params, X, y)
    return torch.cat([g.reshape(X.shape[0], -1) for g in grads.values()], dim=1)


@dataclass(frozen=True)
class GradientNoise:
    r"""How far mini-batch gradients stray from the full gradient, per batch size.

    Attributes:
        batch_sizes: the batch sizes measured, 1-D long tensor.
        standard_errors: :math:`\sqrt{\operatorname{mean}_k \|g_{B_k} - \nabla\hat R\|^2}`
            for each batch size, float64.
        batches_used: how many batches were averaged for each batch size.
        sigma: the per-sample spread :math:`\sigma = \sqrt{\operatorname{tr}\,\mathrm{Cov}(\nabla L_i)}`;
            the theory predicts ``sigma / sqrt(batch_size)``.
        slope: slope of the least-squares line through ``log(standard_errors)``
            against ``log(batch_sizes)`` (about -1/2).
        intercept: its intercept (natural logarithms).
    """

    batch_sizes: torch.Tensor
    standard_errors: torch.Tensor
    batches_used: torch.Tensor
    sigma: float
    slope: float
    intercept: float

    def fitted(self, batch_size: float | torch.Tensor) -> torch.Tensor:
        """The fitted power law ``exp(intercept) * batch_size**slope``."""
        return math.exp(self.intercept) * torch.as_tensor(batch_size, dtype=torch.float64) ** self.slope


def gradient_standard_error(
    per_sample: torch.Tensor,
    batch_sizes: Sequence[int],
    *,
    min_batches: int = 200,
    seed: int = 0,
) -> GradientNoise:
    r"""Measure the standard error of the mini-batch gradient for several batch sizes.

    For each batch size :math:`b`, shuffled epochs are split into batches of :math:`b`
    (incomplete last batches dropped) until at least ``min_batches`` batches are drawn;
    each batch's gradient is the mean of its rows of ``per_sample``, and the standard
    error is the root-mean-square distance to the full gradient (the mean of all rows):

    .. math::
        \mathrm{SE}(b) = \sqrt{\frac1K \sum_{k=1}^K \big\| g_{B_k} - \nabla \hat R \big\|^2}
        \approx \frac{\sigma}{\sqrt b}\sqrt{\frac{n-b}{n-1}}.

    The last factor is the finite-population correction of sampling without
    replacement; it is close to 1 while :math:`b \ll n`, and makes the error vanish at
    :math:`b = n`, where the "mini-batch" is the whole data set.

    Args:
        per_sample: per-sample gradients, shape ``(n, p)`` (e.g. from
            :func:`per_sample_gradients`).
        batch_sizes: the batch sizes to measure, each at most ``n``.
        min_batches: the least number of batches averaged per batch size.
        seed: seed of the shuffles.

    Returns:
        A :class:`GradientNoise`, with the slope fitted by :func:`loglog_fit`.

    Example:
        >>> grads = torch.randn(4096, 3, generator=torch.Generator().manual_seed(0))
        >>> noise = gradient_standard_error(grads, [1, 4, 16, 64])
        >>> round(noise.slope, 1)
        -0.5
    """
    per_sample = per_sample.detach().to(torch.float64)
    if per_sample.dim() != 2:
        raise ValueError(f"per_sample must have shape (n, p), got {tuple(per_sample.shape)}")
    n = per_sample.shape[0]
    full = per_sample.mean(dim=0)
    generator = torch.Generator().manual_seed(seed)
    errors, used = [], []
    for size in batch_sizes:
        size = int(size)
        if not 1 <= size <= n:
            raise ValueError(f"batch sizes must be between 1 and n = {n}, got {size}")
        per_epoch = n // size
        epochs = math.ceil(min_batches / per_epoch)
        squared = []
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator)[: per_epoch * size]
            batch_means = per_sample[order].reshape(per_epoch, size, -1).mean(dim=1)
            squared.append(((batch_means - full) ** 2).sum(dim=1))
        squared_t = torch.cat(squared)
        errors.append(squared_t.mean().sqrt())
        used.append(squared_t.numel())
    sizes_t = torch.tensor([int(s) for s in batch_sizes])
    errors_t = torch.stack(errors)
    slope, intercept = loglog_fit(sizes_t, errors_t)
    sigma = float(((per_sample - full) ** 2).sum(dim=1).mean().sqrt())
    return GradientNoise(sizes_t, errors_t, torch.tensor(used), sigma, slope, intercept)


def loglog_fit(x: Sequence[float] | torch.Tensor, y: Sequence[float] | torch.Tensor) -> tuple[float, float]:
    r"""Least-squares line through :math:`(\ln x_i, \ln y_i)`: the exponent of a power law.

    If :math:`y = c\, x^a`, then :math:`\ln y = \ln c + a \ln x`, a straight line of slope
    :math:`a` on log-log axes. The slope does not depend on the base of the logarithm;
    the intercept here is in natural logarithms (:math:`\ln c`).

    Args:
        x: positive abscissae (e.g. batch sizes).
        y: positive ordinates (e.g. standard errors).

    Returns:
        ``(slope, intercept)`` as floats.

    Example:
        >>> loglog_fit([1, 4, 16], [1.0, 0.5, 0.25])
        (-0.5, 0.0)
    """
    lx = torch.log(torch.as_tensor(x, dtype=torch.float64))
    ly = torch.log(torch.as_tensor(y, dtype=torch.float64))
    if lx.numel() < 2 or lx.shape != ly.shape:
        raise ValueError("need at least two (x, y) pairs of the same length")
    dx = lx - lx.mean()
    slope = float((dx * (ly - ly.mean())).sum() / (dx * dx).sum())
    intercept = float(ly.mean() - slope * lx.mean())
    return round(slope, 12), round(intercept, 12)
