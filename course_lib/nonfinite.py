r"""Finding NaN and Inf in gradients before they reach the weights (chapter 5).

:func:`grads_are_finite` answers yes or no; :func:`nonfinite_grads` says which parameter
went bad and how many of its entries are NaN or Inf.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch

from course_lib.clipping import Parameters, present_grads

__all__ = ["grads_are_finite", "NonFiniteGrad", "nonfinite_grads"]


@torch.no_grad()
def grads_are_finite(parameters: Parameters) -> bool:
    """Whether every existing gradient is free of NaN and Inf.

    Args:
        parameters: a tensor or an iterable of tensors; those without ``.grad`` are ignored.

    Returns:
        True if all gradients are finite (also when there are none).

    Example:
        >>> w = torch.zeros(2, requires_grad=True)
        >>> w.grad = torch.tensor([1.0, float("nan")])
        >>> grads_are_finite([w])
        False
    """
    return all(bool(torch.isfinite(grad).all()) for grad in present_grads(parameters))


class NonFiniteGrad(NamedTuple):
    """One parameter with a non-finite gradient: its name and how many entries are NaN or ±Inf."""

    name: str
    nan_count: int
    inf_count: int


@torch.no_grad()
def nonfinite_grads(
    named_parameters: Iterable[tuple[str, torch.Tensor]] | Iterable[torch.Tensor],
) -> list[NonFiniteGrad]:
    """Report which parameters have NaN or Inf in their gradient, for debugging a blow-up.

    Args:
        named_parameters: ``model.named_parameters()``, or plain tensors (then named
            ``"0"``, ``"1"``, ... by position).

    Returns:
        One :class:`NonFiniteGrad` per offending parameter, in order; empty if all
        gradients are finite.

    Example:
        >>> model = torch.nn.Linear(2, 1)
        >>> model(torch.tensor([[float("inf"), 0.0]])).sum().backward()
        >>> nonfinite_grads(model.named_parameters())
        [NonFiniteGrad(name='weight', nan_count=0, inf_count=1)]
    """
    report = []
    for position, item in enumerate(named_parameters):
        name, param = item if isinstance(item, tuple) else (str(position), item)
        if param.grad is None:
            continue
        nan_count = int(torch.isnan(param.grad).sum())
        inf_count = int(torch.isinf(param.grad).sum())
        if nan_count or inf_count:
            report.append(NonFiniteGrad(name, nan_count, inf_count))
    return report
