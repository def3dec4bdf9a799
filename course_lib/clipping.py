r"""Gradient clipping, NaN/Inf detection and the mixed-precision step (chapter 5).

:func:`clip_grad_value_` and :func:`clip_grad_norm_` compute what
``torch.nn.utils.clip_grad_value_`` / ``clip_grad_norm_`` compute, written out so the
rule is visible. :func:`amp_step` is the order of operations that mixed precision
needs: scale, backward, **unscale, then clip** (clipping scaled gradients would clip
against a threshold multiplied by the scale), step (skipped when a gradient overflowed),
update the scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch

__all__ = [
    "clip_grad_value_",
    "clip_grad_norm_",
    "grads_are_finite",
    "NonFiniteGrad",
    "nonfinite_grads",
    "amp_step",
]

Parameters = torch.Tensor | Iterable[torch.Tensor]


def _as_list(parameters: Parameters) -> list[torch.Tensor]:
    return [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)


def _grads(parameters: Parameters) -> list[torch.Tensor]:
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


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
    for grad in _grads(parameters):
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
    grads = _grads(parameters)
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
    return all(bool(torch.isfinite(grad).all()) for grad in _grads(parameters))


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


def amp_step(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    params: Parameters,
    max_norm: float | None,
    norm_type: float = 2.0,
) -> bool:
    r"""One mixed-precision update: scale, backward, unscale, clip, step, update the scale.

    .. math::
        \nabla(sL) \xrightarrow{\;/s\;} g \xrightarrow{\text{clip}} g'
        \xrightarrow{\text{finite?}} \text{optimizer step}, \qquad
        s \leftarrow \begin{cases} s \cdot \text{backoff} & \text{a gradient overflowed} \\
                                   s \cdot \text{growth} & \text{after growth\_interval clean steps}
                     \end{cases}

    The loss is multiplied by the scale :math:`s` so that small float16 gradients do not
    underflow; the gradients are divided by :math:`s` again *before* clipping, so
    ``max_norm`` refers to the true gradient. If any gradient is Inf/NaN the optimizer
    step is skipped (parameters and optimizer state untouched) and :math:`s` shrinks.
    Run the forward pass under ``torch.autocast`` and call ``optimizer.zero_grad()``
    before it; this helper does neither. Works with ``torch.amp.GradScaler("cuda")``
    and, in torch 2.13, ``torch.amp.GradScaler("cpu")``.

    Args:
        loss: the (unscaled) loss of this batch.
        optimizer: any ``torch.optim.Optimizer``, including the course's.
        scaler: the ``torch.amp.GradScaler`` kept across steps.
        params: the parameters to clip (usually ``model.parameters()``).
        max_norm: global-norm threshold for :func:`clip_grad_norm_`; None skips clipping.
        norm_type: norm for clipping (default 2.0).

    Returns:
        True if the optimizer step was taken, False if it was skipped because of a
        non-finite gradient.

    Example:
        >>> model = torch.nn.Linear(2, 1)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> scaler = torch.amp.GradScaler("cpu")
        >>> amp_step(model(torch.ones(1, 2)).sum(), optimizer, scaler, model.parameters(), 1.0)
        True
    """
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    if max_norm is not None:
        clip_grad_norm_(params, max_norm, norm_type)
    step_taken = False

    def record_step(*_: object) -> None:
        nonlocal step_taken
        step_taken = True

    handle = optimizer.register_step_post_hook(record_step)
    try:
        scaler.step(optimizer)
    finally:
        handle.remove()
    scaler.update()
    return step_taken
