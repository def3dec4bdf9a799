r"""Tools for chapters 4, 5 and 9: what an optimizer keeps in memory, and runs that save and resume it.

* :func:`state_memory` measures an optimizer's state the way it really lives in
  ``optimizer.state``: how many tensors it keeps per parameter and how many numbers
  that is (SGD none, SGD with momentum one, Adam two, Adafactor's row and column
  statistics :math:`n + m` for an :math:`n \times m` matrix).
* :func:`trace_optimizer` trains a list of tensors with any optimizer class, optionally
  saving its ``state_dict`` to bytes midway, building a *fresh* optimizer and loading it
  back, then carrying on. A correct optimizer gives the same losses with and without the
  interruption; the assignments use it to compare a student's class with ``torch.optim``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.optim import Optimizer

__all__ = ["StateMemory", "state_memory", "OptimizerTrace", "trace_optimizer"]


@dataclass(frozen=True)
class StateMemory:
    """The per-parameter state of an optimizer, counted.

    Attributes:
        tensors_per_parameter: tensors shaped like their parameter, per parameter
            (averaged over the parameters that have state; the scalar ``step`` is not counted).
        state_elements: numbers held in the state's tensors of one or more dimensions,
            over all parameters: the tensors above plus smaller ones such as Adafactor's
            row and column statistics (0-dim counters like ``step`` left out).
        parameter_elements: numbers in the parameters that have state.
        state_bytes: bytes of every tensor in the state, ``step`` counters included.
    """

    tensors_per_parameter: float
    state_elements: int
    parameter_elements: int
    state_bytes: int

    @property
    def elements_per_parameter_element(self) -> float:
        """``state_elements / parameter_elements``: 0 for SGD, 1 with momentum, 2 for Adam, near 0 for Adafactor."""
        return self.state_elements / self.parameter_elements if self.parameter_elements else 0.0


def state_memory(optimizer: Optimizer) -> StateMemory:
    """Count what ``optimizer.state`` holds after at least one step.

    State is created lazily, on a parameter's first step, so measure after stepping.

    Args:
        optimizer: any ``torch.optim.Optimizer``.

    Returns:
        A :class:`StateMemory`.

    Example:
        >>> w = torch.zeros(10, requires_grad=True)
        >>> opt = torch.optim.Adam([w]); w.sum().backward(); opt.step()
        >>> state_memory(opt).tensors_per_parameter
        2.0
    """
    params = {id(p): p for group in optimizer.param_groups for p in group["params"]}
    with_state = [p for p in params.values() if optimizer.state.get(p)]
    shaped, state_elements, state_bytes = 0, 0, 0
    for param in with_state:
        for value in optimizer.state[param].values():
            if not isinstance(value, torch.Tensor):
                continue
            state_bytes += value.numel() * value.element_size()
            if value.dim() > 0:
                state_elements += value.numel()
                shaped += value.shape == param.shape
    count = len(with_state)
    return StateMemory(
        tensors_per_parameter=shaped / count if count else 0.0,
        state_elements=state_elements,
        parameter_elements=sum(p.numel() for p in with_state),
        state_bytes=state_bytes,
    )


@dataclass
class OptimizerTrace:
    """What :func:`trace_optimizer` records.

    Attributes:
        losses: the loss evaluated before each step, shape ``(steps,)``.
        params: the trained tensors after the last step (detached copies).
        state: the final optimizer's ``state_dict()["state"]``: parameter index -> its state.
        param_groups: the final optimizer's ``state_dict()["param_groups"]``.
    """

    losses: torch.Tensor
    params: list[torch.Tensor]
    state: dict[int, dict[str, Any]]
    param_groups: list[dict[str, Any]]


def _round_trip(state_dict: dict[str, Any]) -> dict[str, Any]:
    """``state_dict`` written to bytes and read back, as a checkpoint on disk would be."""
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def trace_optimizer(
    make_optimizer: Callable[[list[torch.Tensor]], Optimizer],
    init: Sequence[torch.Tensor],
    loss_fn: Callable[[list[torch.Tensor], int], torch.Tensor],
    steps: int,
    resume_at: int | None = None,
) -> OptimizerTrace:
    """Train copies of ``init`` for ``steps`` steps, optionally saving and resuming the optimizer.

    Each step is the usual cycle: ``zero_grad()``, loss, ``backward()``, ``step()``. With
    ``resume_at=k``, after ``k`` steps the optimizer's ``state_dict()`` goes through
    ``torch.save``/``torch.load(weights_only=True)``, a new optimizer is built by
    ``make_optimizer`` on the same tensors and loads it; training goes on with that one.

    Args:
        make_optimizer: builds an optimizer for the list of trainable tensors (param
            groups, if any, are the caller's business).
        init: starting values; they are cloned, never modified.
        loss_fn: ``loss_fn(params, step) -> 0-dim tensor``; ``step`` counts from 0, so the
            loss may change from step to step like a mini-batch loss.
        steps: number of optimizer steps.
        resume_at: step count after which to save and resume (default: never).

    Returns:
        An :class:`OptimizerTrace`.

    Example:
        >>> trace = trace_optimizer(lambda ps: torch.optim.Adam(ps, lr=0.1), [torch.ones(3)],
        ...                         lambda ps, t: (ps[0] ** 2).sum(), steps=5, resume_at=2)
        >>> trace.losses.shape
        torch.Size([5])
    """
    params = [tensor.detach().clone().requires_grad_(True) for tensor in init]
    optimizer = make_optimizer(params)
    losses = []
    for step in range(steps):
        if resume_at is not None and step == resume_at:
            saved = _round_trip(optimizer.state_dict())
            optimizer = make_optimizer(params)
            optimizer.load_state_dict(saved)
        optimizer.zero_grad()
        loss = loss_fn(params, step)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    final = optimizer.state_dict()
    return OptimizerTrace(
        losses=torch.stack(losses) if losses else torch.empty(0),
        params=[p.detach().clone() for p in params],
        state=final["state"],
        param_groups=final["param_groups"],
    )
