r"""Optimizers written the fastai way: a regularization step, then an optimizer step.

:class:`DecayThenStepOptimizer` fixes the *shape* of a step: first shrink the weights
(decoupled weight decay), then apply the method's own update, which a subclass supplies
in :meth:`~DecayThenStepOptimizer.optimizer_step`. Two subclasses show what that buys:

* :class:`DecayThenStepSGD`: plain SGD; for SGD, decaying first equals L2 in the
  gradient, so it matches ``torch.optim.SGD(weight_decay=λ)`` (up to rounding);
* :class:`DecayThenStepAdam`: an Adam step after the decay, which *is* AdamW; it
  matches ``torch.optim.AdamW`` bit for bit.

The experiment :class:`~course_lib.optim.adam_abs.AdamAbs` is built on the same base class.
"""

from __future__ import annotations

import torch
from torch.optim.optimizer import ParamsT

from ._base import (
    ParamGroup,
    ParamState,
    PerTensorOptimizer,
    check_betas,
)
from .rules import adam_update
from .weight_decay import decoupled_weight_decay_

__all__ = [
    "DecayThenStepOptimizer",
    "DecayThenStepSGD",
    "DecayThenStepAdam",
]


class DecayThenStepOptimizer(PerTensorOptimizer):
    r"""Base class whose step is "regularization step, then optimizer step", per parameter.

    .. math::
        \theta \leftarrow (1 - \eta\lambda)\,\theta \quad\text{(regularization\_step)}, \qquad
        \theta \leftarrow \theta - \eta\, u(g, \text{state}) \quad\text{(optimizer\_step)}

    Subclasses override :meth:`optimizer_step` (and may override
    :meth:`regularization_step`). Every param group needs ``lr`` and ``weight_decay``.
    This is the design of fastai's from-scratch optimizers (``reg_step`` and
    ``opt_step``); it makes any method "decoupled" in the sense of Loshchilov & Hutter.

    Args:
        params: iterable of parameters or of param-group dicts.
        defaults: default hyperparameters, at least ``lr`` and ``weight_decay``.

    Example:
        >>> class SignSGD(DecayThenStepOptimizer):
        ...     def __init__(self, params, lr=1e-3, weight_decay=0.0):
        ...         super().__init__(params, {"lr": lr, "weight_decay": weight_decay})
        ...     def optimizer_step(self, param, grad, state, group):
        ...         param.add_(grad.sign(), alpha=-group["lr"])
    """

    def __init__(self, params: ParamsT, defaults: dict[str, object]) -> None:
        if not 0.0 <= defaults["lr"]:  # type: ignore[operator]
            raise ValueError(f"Invalid learning rate: {defaults['lr']}")
        if not 0.0 <= defaults["weight_decay"]:  # type: ignore[operator]
            raise ValueError(f"Invalid weight_decay value: {defaults['weight_decay']}")
        super().__init__(params, defaults)

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        """Run :meth:`regularization_step`, then :meth:`optimizer_step`."""
        self.regularization_step(param, group)
        self.optimizer_step(param, grad, state, group)

    def regularization_step(self, param: torch.Tensor, group: ParamGroup) -> None:
        r"""Decoupled weight decay :math:`\theta \leftarrow (1-\eta\lambda)\theta`, skipped when :math:`\lambda = 0`."""
        if group["weight_decay"] != 0:
            decoupled_weight_decay_(param, group["lr"], group["weight_decay"])

    def optimizer_step(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        """The method's own update of ``param`` from ``grad`` and ``state``; subclasses implement it."""
        raise NotImplementedError


class DecayThenStepSGD(DecayThenStepOptimizer):
    r"""Plain SGD built on :class:`DecayThenStepOptimizer`.

    .. math:: \theta \leftarrow (1-\eta\lambda)\,\theta, \qquad \theta \leftarrow \theta - \eta g

    Algebraically :math:`\theta - \eta(g + \lambda\theta)`, the update of
    ``torch.optim.SGD(lr=η, weight_decay=λ)``; the two differ only by rounding
    (torch forms :math:`g + \lambda\theta` first).

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 1e-3).
        weight_decay: :math:`\lambda` (default 0).

    Example:
        >>> optimizer = DecayThenStepSGD(torch.nn.Linear(3, 1).parameters(), lr=0.1, weight_decay=1e-4)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})

    def optimizer_step(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        param.add_(grad, alpha=-group["lr"])


class DecayThenStepAdam(DecayThenStepOptimizer):
    r"""An Adam step after decoupled decay, built on :class:`DecayThenStepOptimizer`: AdamW.

    .. math::
        \theta \leftarrow (1-\eta\lambda)\,\theta, \qquad
        \theta \leftarrow \theta - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    The optimizer step is :func:`~course_lib.optim.rules.adam_update` without an L2
    term, so this class reproduces ``torch.optim.AdamW`` exactly (same state keys too).

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: :math:`\lambda` (default 1e-2, AdamW's).

    Reference:
        Loshchilov & Hutter (2019), Algorithm 2.

    Example:
        >>> optimizer = DecayThenStepAdam(torch.nn.Linear(3, 1).parameters(), weight_decay=0.01)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        check_betas(betas)
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    def optimizer_step(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        beta1, beta2 = group["betas"]
        adam_update(param, grad, state, lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"])


