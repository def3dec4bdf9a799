r"""Gradient clipping by value and by global norm (chapter 5).

:func:`clip_grad_value_` and :func:`clip_grad_norm_` compute what
``torch.nn.utils.clip_grad_value_`` / ``clip_grad_norm_`` compute, written out so the
rule is visible.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = [
    "clip_grad_value_",
    "clip_grad_norm_",
]

Parameters = torch.Tensor | Iterable[torch.Tensor]


def parameter_list(parameters: Parameters) -> list[torch.Tensor]:
    """``parameters`` as a list, whether one tensor or an iterable of them was given."""
    return [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)


def present_grads(parameters: Parameters) -> list[torch.Tensor]:
    """The gradients of ``parameters`` that exist (parameters without ``.grad`` are skipped)."""
    return [p.grad for p in parameter_list(parameters) if p.grad is not None]


@torch.no_grad()
def clip_grad_value_(parameters: Parameters, clip_value: float, foreach: bool | None = None) -> None:
    r"""Clip every gradient entry to :math:`[-c, c]`, in place.

    .. math:: g_i \leftarrow \min(\max(g_i, -c), c)

    The direction of the gradient changes when some entries are clipped and others are
    not; :func:`clip_grad_norm_` keeps the direction.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` to clip
            (parameters without a gradient are skipped).
        clip_value: :math:`c`.
        foreach: accepted for torch's signature and ignored (the result is the same).

    Returns:
        None.

    Example:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> w.grad = torch.tensor([-5.0, 0.5, 5.0])
        >>> clip_grad_value_([w], 1.0); w.grad
        tensor([-1.0000,  0.5000,  1.0000])
    """
    clip_value = float(clip_value)
    for grad in present_grads(parameters):
        grad.clamp_(min=-clip_value, max=clip_value)


@torch.no_grad()
def clip_grad_norm_(
    parameters: Parameters,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> torch.Tensor:
    r"""Rescale all gradients together so that their global norm is at most ``max_norm``.

    .. math::
        \lVert g \rVert = \Big\lVert \big(\lVert g^{(1)}\rVert_p, \dots,
            \lVert g^{(K)}\rVert_p\big) \Big\rVert_p, \qquad
        g^{(k)} \leftarrow g^{(k)} \cdot \min\!\Big(1, \frac{c}{\lVert g \rVert + 10^{-6}}\Big)

    The norm is taken over all gradients as if concatenated into one vector (the norm
    of the per-tensor norms), so every tensor is scaled by the same factor and the
    direction of the full gradient is kept. The :math:`10^{-6}` guards against division
    by zero and means a gradient of norm exactly :math:`c` is scaled by slightly less
    than 1, as in torch. ``norm_type=float("inf")`` uses the largest absolute entry.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` to clip.
        max_norm: :math:`c`.
        norm_type: :math:`p` (default 2.0; ``inf`` allowed).
        error_if_nonfinite: raise ``RuntimeError`` if the total norm is NaN or Inf
            (default False: the gradients are then scaled by a NaN or zero factor).
        foreach: accepted for torch's signature and ignored.

    Returns:
        The total norm *before* clipping, a 0-dim tensor (``tensor(0.)`` if no
        parameter has a gradient), as ``torch.nn.utils.clip_grad_norm_`` returns it.

    Example:
        >>> w = torch.zeros(2, requires_grad=True)
        >>> w.grad = torch.tensor([3.0, 4.0])
        >>> clip_grad_norm_([w], max_norm=1.0), w.grad
        (tensor(5.), tensor([0.6000, 0.8000]))
    """
    grads = present_grads(parameters)
    if not grads:
        return torch.tensor(0.0)
    norm_type = float(norm_type)
    first_device = grads[0].device
    per_tensor_norms = [torch.linalg.vector_norm(g, norm_type).to(first_device) for g in grads]
    total_norm = torch.linalg.vector_norm(torch.stack(per_tensor_norms), norm_type)
    if error_if_nonfinite and torch.logical_or(total_norm.isnan(), total_norm.isinf()):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from "
            "`parameters` is non-finite, so it cannot be clipped. To disable "
            "this error and scale the gradients by the non-finite norm anyway, "
            "set `error_if_nonfinite=False`"
        )
    clip_coef = torch.clamp(float(max_norm) / (total_norm + 1e-6), max=1.0)
    for grad in grads:
        grad.mul_(clip_coef.to(grad.device))
    return total_norm


