r"""Optimizers written the fastai way: a regularization step, then an optimizer step.

:class:`DecayThenStepOptimizer` fixes the *shape* of a step: first shrink the weights
(decoupled weight decay), then apply the method's own update, which a subclass supplies
in :meth:`~DecayThenStepOptimizer.optimizer_step`. Three subclasses show what that buys:

* :class:`DecayThenStepSGD`: plain SGD; for SGD, decaying first equals L2 in the
  gradient, so it matches ``torch.optim.SGD(weight_decay=λ)`` (up to rounding);
* :class:`DecayThenStepAdam`: an Adam step after the decay, which *is* AdamW; it
  matches ``torch.optim.AdamW`` bit for bit;
* :class:`AdamAbs`: an experiment, not a torch optimizer: Adam with :math:`|g|` in
  place of :math:`g^2` in the second moment.
"""

from __future__ import annotations

import torch
from torch.optim.optimizer import ParamsT

from ._base import ParamGroup, ParamState, PerTensorOptimizer, check_betas, new_step_counter
from .functional import State, adam_update
from .weight_decay import decoupled_weight_decay_

__all__ = [
    "DecayThenStepOptimizer",
    "DecayThenStepSGD",
    "DecayThenStepAdam",
    "adam_abs_update",
    "AdamAbs",
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

    The optimizer step is :func:`~course_lib.optim.functional.adam_update` without an L2
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


def adam_abs_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    maximize: bool = False,
) -> None:
    r"""One step of AdamAbs, an experimental Adam whose second moment averages :math:`|g|`.

    .. math::
        \begin{aligned}
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        a_t &\leftarrow \beta_2 a_{t-1} + (1-\beta_2)\, |g_t| \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\,
            \frac{m_t/(1-\beta_1^t)}{a_t/(1-\beta_2^t) + \epsilon}
        \end{aligned}

    Like Adam the step is scale-free (multiply every gradient by :math:`c > 0` and it
    is unchanged, :math:`\epsilon` aside), and a constant gradient gives a step of
    :math:`\eta` per coordinate. The difference: :math:`\mathbb E|g| \le \sqrt{\mathbb E g^2}`,
    so noisy coordinates are damped less than by Adam. Not a torch optimizer and not
    from a paper: an experiment in the spirit of replacing squares and roots by absolute
    values (as some normalization layers do). Its state is ``step``, ``exp_avg`` and
    ``exp_avg_abs``.

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient.
        state: ``step``, ``exp_avg`` (:math:`m`), ``exp_avg_abs`` (:math:`a`); created if empty.
        lr: learning rate :math:`\eta`.
        beta1: :math:`\beta_1` (default 0.9).
        beta2: :math:`\beta_2` (default 0.999).
        eps: :math:`\epsilon`, added to the corrected :math:`a` (default 1e-8).
        maximize: ascend (default False).

    Returns:
        None.

    Example:
        >>> w, state = torch.tensor([1.0]), {}
        >>> adam_abs_update(w, torch.tensor([3.0]), state, lr=0.1)
        >>> w
        tensor([0.9000])
    """
    if maximize:
        grad = -grad
    if not state:
        state.update(
            {"step": new_step_counter(), "exp_avg": torch.zeros_like(param), "exp_avg_abs": torch.zeros_like(param)}
        )
    state["step"] += 1
    t = state["step"].item()
    exp_avg, exp_avg_abs = state["exp_avg"], state["exp_avg_abs"]
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_abs.lerp_(grad.abs(), 1 - beta2)
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    denom = (exp_avg_abs / bias_correction2).add_(eps)
    param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)


class AdamAbs(DecayThenStepOptimizer):
    r"""Experimental: Adam with :math:`|g|` instead of :math:`g^2`, after decoupled weight decay.

    Each step is :func:`~course_lib.optim.decoupled_weight_decay_` then
    :func:`adam_abs_update`. For the book's experiment comparing it with Adam; there is
    no torch counterpart to check it against, so its tests are analytic.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: decoupled decay :math:`\lambda` (default 0).
        maximize: maximize the objective (default False).

    Example:
        >>> optimizer = AdamAbs(torch.nn.Linear(3, 1).parameters(), lr=6e-3, betas=(0.9, 0.9))
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        check_betas(betas)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        super().__init__(
            params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "maximize": maximize}
        )

    def optimizer_step(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        beta1, beta2 = group["betas"]
        adam_abs_update(
            param, grad, state, lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"], maximize=group["maximize"]
        )
