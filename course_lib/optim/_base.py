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


def as_scalar(value: float | torch.Tensor) -> float | torch.Tensor:
    """A hyperparameter as torch's step functions use it: a number stays a number, a
    1-element tensor becomes a 0-dim tensor (so its arithmetic stays in its own dtype)."""
    return value.squeeze() if isinstance(value, torch.Tensor) and value.dim() != 0 else value


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


TORCH_ONLY_FLAGS = ("fused", "capturable", "differentiable")


def refuse_torch_only_flags(
    name: str, *, fused: bool | None = None, capturable: bool = False, differentiable: bool = False
) -> None:
    """Refuse torch's kernel options that this package does not implement.

    ``fused`` and ``capturable`` select torch's CUDA/CPU kernels and CUDA-graph support,
    ``differentiable`` lets autograd run through the step. None changes the update rule,
    and none is implemented here, so asking for one is an error rather than a silent no-op.
    """
    for flag, value in zip(TORCH_ONLY_FLAGS, (fused, capturable, differentiable)):
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
    parameter's first step (the update functions do it when handed an empty dict), and
    a parameter whose rule keeps no state (SGD without momentum) gets no entry at all.

    Torch's performance flags are stored in each param group, so that ``state_dict()``
    has torch's layout and loads either way:

    * ``foreach=True`` selects :meth:`update_foreach`, a multi-tensor version of the
      rule that performs torch's own ``foreach`` arithmetic, in the classes that provide
      one (``supports_foreach``). ``foreach=None`` (the default) runs the readable
      per-tensor rule on every device (torch would pick its foreach path on CUDA).
    * ``fused``, ``capturable`` and ``differentiable`` are refused at construction, in
      the keyword arguments or inside a param group. A group loaded from a torch
      ``state_dict`` with ``fused`` or ``capturable`` set runs the ordinary path (same
      rule, step counter read with ``.item()``); one with ``differentiable=True`` is
      refused at :meth:`step`.

    Loading a ``state_dict`` follows torch's ``__setstate__``: a group that lacks a flag
    newer than the file gets torch's fixed default for it (``legacy_group_defaults``:
    ``maximize=False``, ``foreach=None``, ...), never this instance's own setting, and a
    ``step`` saved as a plain number becomes a 0-dim tensor again (``scalar_state_keys``).

    Sparse gradients are refused with torch's message unless ``supports_sparse_grads``
    (SGD, Adagrad, SparseAdam); complex parameters are not supported (torch views them
    as pairs of reals).

    Example:
        >>> class SignDescent(PerTensorOptimizer):
        ...     def __init__(self, params, lr=1e-3):
        ...         super().__init__(params, {"lr": lr})
        ...     def update(self, param, grad, state, group):
        ...         param.add_(grad.sign(), alpha=-group["lr"])
    """

    supports_foreach: ClassVar[bool] = False
    supports_sparse_grads: ClassVar[bool] = False
    #: torch's message for a sparse gradient; None means "<Name> does not support sparse gradients".
    sparse_grad_error: ClassVar[str | None] = None
    #: whether torch refuses complex parameters too (then the message is torch's, without our prefix).
    torch_refuses_complex: ClassVar[bool] = False
    #: the group keys torch's ``__setstate__`` fills in with fixed values; None: this optimizer's defaults.
    legacy_group_defaults: ClassVar[dict[str, Any] | None] = None
    #: state entries torch keeps as 0-dim tensors and restores from plain numbers on load.
    scalar_state_keys: ClassVar[tuple[str, ...]] = ("step",)
    #: whether those 0-dim tensors live on the parameter's device (ASGD) rather than the CPU.
    scalar_state_on_param_device: ClassVar[bool] = False

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        """Update one parameter in place from its gradient, state and group settings."""
        raise NotImplementedError

    def update_foreach(
        self, params: list[torch.Tensor], grads: list[torch.Tensor], states: list[ParamState], group: ParamGroup
    ) -> None:
        """Update all parameters of one group at once (only where ``supports_foreach``)."""
        raise NotImplementedError

    def check_grad(self, param: torch.Tensor, grad: torch.Tensor) -> None:
        """Refuse a gradient this optimizer cannot use, before any parameter of the group moves."""
        name = type(self).__name__
        if grad.is_sparse and not self.supports_sparse_grads:
            raise RuntimeError(self.sparse_grad_error or f"{name} does not support sparse gradients")
        if torch.is_complex(param):
            prefix = "" if self.torch_refuses_complex else "course_lib.optim."
            raise RuntimeError(f"{prefix}{name} does not support complex parameters")

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a param group as torch does, refusing torch-only kernel flags set inside it."""
        if isinstance(param_group, dict):
            flags = {flag: param_group[flag] for flag in TORCH_ONLY_FLAGS if flag in param_group}
            refuse_torch_only_flags(type(self).__name__, **flags)
        super().add_param_group(param_group)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        defaults = self.defaults if self.legacy_group_defaults is None else self.legacy_group_defaults
        for group in self.param_groups:
            for key, value in defaults.items():
                group.setdefault(key, value)
            for param in group["params"]:
                param_state = self.state.get(param)
                if not param_state:
                    continue
                for key in self.scalar_state_keys:
                    if key in param_state and not torch.is_tensor(param_state[key]):
                        counter = new_step_counter().fill_(float(param_state[key]))
                        param_state[key] = counter.to(param.device) if self.scalar_state_on_param_device else counter

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
                    self.check_grad(param, param.grad)
                states = [self.state.get(p, {}) for p in params]
                if group.get("foreach") and self.supports_foreach:
                    self.update_foreach(params, [p.grad for p in params], states, group)
                else:
                    for param, state in zip(params, states):
                        self.update(param, param.grad, state, group)
                for param, state in zip(params, states):
                    if state and param not in self.state:
                        self.state[param] = state
        return loss


def group_by_device_and_dtype(tensors: Iterable[torch.Tensor]) -> dict[tuple[torch.device, torch.dtype], list[int]]:
    """Indices of ``tensors`` grouped by (device, dtype), the unit a ``_foreach_`` op handles."""
    groups: dict[tuple[torch.device, torch.dtype], list[int]] = defaultdict(list)
    for index, tensor in enumerate(tensors):
        groups[(tensor.device, tensor.dtype)].append(index)
    return dict(groups)
