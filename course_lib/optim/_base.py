r"""What every course optimizer shares: the step loop, the step counter, argument checks.

An optimizer in this package is two things (STYLE.md, habit 2):

* a module-level *update function* for one tensor, ``xxx_update(param, grad, state, *, ...)``,
  which is the book's formula line by line and can be called on its own;
* a thin :class:`PerTensorOptimizer` subclass with torch's name, signature, defaults,
  validation messages, state keys and ``state_dict`` layout, whose :meth:`update`
  passes one parameter and its group's hyperparameters to that function.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch
from torch.optim import Optimizer

__all__ = ["PerTensorOptimizer", "new_step_counter"]

ParamGroup = dict[str, Any]
ParamState = dict[str, Any]


def new_step_counter() -> torch.Tensor:
    """A fresh step counter, stored the way torch stores it.

    torch keeps ``state["step"]`` as a 0-dim CPU tensor (not an int) so that a
    ``state_dict`` round-trips unchanged; it is float64 when the default dtype is
    float64 and float32 otherwise.

    Returns:
        ``tensor(0.)`` on the CPU.
    """
    dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    return torch.tensor(0.0, dtype=dtype)


def as_float(value: float | torch.Tensor) -> float:
    """A hyperparameter given as a Python number or a 1-element tensor, as a float."""
    return float(value.item()) if isinstance(value, torch.Tensor) else float(value)


def check_tensor_lr(lr: float | torch.Tensor) -> None:
    """Refuse a tensor learning rate with more than one element (torch's message)."""
    if isinstance(lr, torch.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")


def check_betas(betas: tuple[float, float]) -> None:
    """Refuse betas outside [0, 1) with torch's messages."""
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")


def refuse_torch_only_flags(
    name: str, *, fused: bool | None = None, capturable: bool = False, differentiable: bool = False
) -> None:
    """Refuse torch's kernel options that this package does not implement.

    ``fused`` and ``capturable`` select torch's CUDA/CPU kernels and CUDA-graph support,
    ``differentiable`` lets autograd run through the step. None changes the update rule,
    and none is implemented here, so asking for one is an error rather than a silent no-op.
    """
    for flag, value in (("fused", fused), ("capturable", capturable), ("differentiable", differentiable)):
        if value:
            raise NotImplementedError(
                f"course_lib.optim.{name} does not implement {flag}=True (a torch kernel option); "
                f"use the torch.optim class for it, or leave {flag} at its default"
            )


class PerTensorOptimizer(Optimizer):
    r"""A ``torch.optim.Optimizer`` whose step applies a per-tensor rule to each parameter.

    Subclasses implement :meth:`update` for one parameter. :meth:`step` evaluates the
    closure (if any), then, under ``torch.no_grad()``, visits every parameter of every
    group that has a gradient; parameters whose ``.grad`` is ``None`` are skipped and
    their state is left untouched, exactly as in torch. State is created lazily on a
    parameter's first step (the update functions do it when handed an empty dict).

    Torch's performance flags are stored in each param group, so that ``state_dict()``
    has torch's layout and loads either way:

    * ``foreach=True`` selects :meth:`update_foreach`, a multi-tensor version of the same
      rule, in the classes that provide one (``supports_foreach``); elsewhere it is
      accepted and the per-tensor path runs (same arithmetic).
    * ``fused``, ``capturable`` and ``differentiable`` are refused at construction. A
      group loaded from a torch ``state_dict`` with ``fused`` or ``capturable`` set runs
      the ordinary path (same rule, step counter read with ``.item()``); one with
      ``differentiable=True`` is refused at :meth:`step`.

    Sparse and complex parameters are not supported (torch handles both).

    Example:
        >>> class SignDescent(PerTensorOptimizer):
        ...     def __init__(self, params, lr=1e-3):
        ...         super().__init__(params, {"lr": lr})
        ...     def update(self, param, grad, state, group):
        ...         param.add_(grad.sign(), alpha=-group["lr"])
    """

    supports_foreach: ClassVar[bool] = False

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        """Update one parameter in place from its gradient, state and group settings."""
        raise NotImplementedError

    def update_foreach(
        self, params: list[torch.Tensor], grads: list[torch.Tensor], states: list[ParamState], group: ParamGroup
    ) -> None:
        """Update all parameters of one group at once (only where ``supports_foreach``)."""
        raise NotImplementedError

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # A state_dict written by an older torch may lack newer group keys; fill them in
        # from this optimizer's own defaults, as torch's classes do in __setstate__.
        for group in self.param_groups:
            for key, value in self.defaults.items():
                group.setdefault(key, value)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Perform one optimization step.

        Args:
            closure: optional function that re-evaluates the model and returns the loss;
                it runs with gradients enabled before the update.

        Returns:
            The closure's return value, or ``None``.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        name = type(self).__name__
        with torch.no_grad():
            for group in self.param_groups:
                if group.get("differentiable", False):
                    raise NotImplementedError(
                        f"course_lib.optim.{name} does not implement differentiable=True"
                    )
                params = [p for p in group["params"] if p.grad is not None]
                for param in params:
                    if param.grad.is_sparse:
                        raise RuntimeError(f"course_lib.optim.{name} does not support sparse gradients")
                    if torch.is_complex(param):
                        raise RuntimeError(f"course_lib.optim.{name} does not support complex parameters")
                states = [self.state[p] for p in params]
                if group.get("foreach") and self.supports_foreach:
                    self.update_foreach(params, [p.grad for p in params], states, group)
                else:
                    for param, state in zip(params, states):
                        self.update(param, param.grad, state, group)
        return loss


def group_by_device_and_dtype(tensors: Iterable[torch.Tensor]) -> dict[tuple[torch.device, torch.dtype], list[int]]:
    """Indices of ``tensors`` grouped by (device, dtype), the unit a ``_foreach_`` op handles."""
    groups: dict[tuple[torch.device, torch.dtype], list[int]] = defaultdict(list)
    for index, tensor in enumerate(tensors):
        groups[(tensor.device, tensor.dtype)].append(index)
    return dict(groups)
