r"""AdamAbs, an experiment: Adam whose second moment averages :math:`|g|` instead of :math:`g^2` (chapter 4).

Not a torch optimizer and not from a paper, so its tests are analytic. :func:`adam_abs_update`
is the per-tensor rule; :class:`AdamAbs` applies it after decoupled weight decay, built on
:class:`~course_lib.optim.decay_then_step.DecayThenStepOptimizer`.
"""

from __future__ import annotations

import torch
from torch.optim.optimizer import ParamsT

from ._base import (
    ParamGroup,
    ParamState,
    check_betas,
    new_step_counter,
)
from .decay_then_step import DecayThenStepOptimizer
from .rules import State

__all__ = ["adam_abs_update", "AdamAbs"]


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
