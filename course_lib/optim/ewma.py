r"""Exponentially weighted moving averages, the building block of momentum and Adam."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["ewma"]


def ewma(
    values: Sequence[float] | torch.Tensor, beta: float, bias_correction: bool = False
) -> torch.Tensor:
    r"""Exponentially weighted moving average of a 1-D sequence.

    .. math::
        v_0 = 0, \qquad v_t = \beta\, v_{t-1} + (1 - \beta)\, x_t, \qquad
        \hat v_t = \frac{v_t}{1 - \beta^t} \text{ (with bias correction)}

    :math:`v_t` averages roughly the last :math:`1/(1-\beta)` values; a larger
    :math:`\beta` is smoother and lags more. Starting from :math:`v_0 = 0` biases the
    first values towards zero (:math:`v_1 = (1-\beta)x_1`); dividing by
    :math:`1-\beta^t`, the total weight given to :math:`x_1..x_t`, removes that bias,
    so a constant sequence averages to itself from the first step. Adam corrects both
    of its moments this way; torch's SGD momentum does not.

    Args:
        values: the sequence :math:`x_1, \dots, x_T` (list or 1-D tensor).
        beta: smoothing factor :math:`0 \le \beta < 1`.
        bias_correction: return :math:`\hat v_t` instead of :math:`v_t` (default False).

    Returns:
        A 1-D tensor of length :math:`T` with :math:`v_1..v_T` (or :math:`\hat v_1..\hat v_T`);
        float64 for a Python sequence, the input's dtype for a floating tensor.

    Example:
        >>> ewma([1.0, 1.0, 1.0], beta=0.5)
        tensor([0.5000, 0.7500, 0.8750], dtype=torch.float64)
        >>> ewma([1.0, 1.0, 1.0], beta=0.5, bias_correction=True)
        tensor([1., 1., 1.], dtype=torch.float64)
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    if isinstance(values, torch.Tensor) and values.is_floating_point():
        x = values.detach()
    else:
        x = torch.as_tensor(values, dtype=torch.float64)
    if x.dim() != 1:
        raise ValueError(f"ewma expects a 1-D sequence, got shape {tuple(x.shape)}")
    averages = torch.empty_like(x)
    average = torch.zeros((), dtype=x.dtype, device=x.device)
    for t in range(len(x)):
        average = beta * average + (1 - beta) * x[t]
        averages[t] = average / (1 - beta ** (t + 1)) if bias_correction else average
    return averages
