r"""Lion: the sign of an interpolation between momentum and gradient (chapter 9).

Found by a program search over update rules (Chen et al. 2023), Lion keeps one
momentum tensor (Adam keeps two) and moves every coordinate by exactly :math:`\pm\eta`:
the update is a sign, so its size does not depend on the gradient's. That is why it
needs a learning rate 3-10 times smaller than AdamW's, and, since the decay is
multiplied by that smaller :math:`\eta`, a weight decay 3-10 times larger for the same
effect.

There is no ``torch.optim.Lion``; :class:`Lion` follows the maintained ``lion-pytorch``
package (its signature, defaults and the state key ``exp_avg``).
"""

from __future__ import annotations

import torch
from torch.optim.optimizer import ParamsT

from ._base import ParamGroup, ParamState, PerTensorOptimizer, as_scalar, check_betas, check_tensor_lr
from .weight_decay import decoupled_weight_decay_

__all__ = ["lion_update", "Lion"]


def lion_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict[str, torch.Tensor],
    *,
    lr: float = 1e-4,
    beta1: float = 0.9,
    beta2: float = 0.99,
    weight_decay: float = 0.0,
) -> None:
    r"""One Lion step on one tensor.

    .. math::
        \begin{aligned}
        c_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        \theta_t &= \theta_{t-1} - \eta\,\big(\mathrm{sign}(c_t) + \lambda\,\theta_{t-1}\big) \\
        m_t &= \beta_2 m_{t-1} + (1-\beta_2)\, g_t
        \end{aligned}

    Two averages of the same gradients with two weights: the step's direction
    :math:`c_t` leans more on the current gradient (:math:`\beta_1 = 0.9`) than the
    momentum that is carried on (:math:`\beta_2 = 0.99`). :math:`\mathrm{sign}(0) = 0`.
    The decay is decoupled and multiplied by :math:`\eta`, applied (as in
    ``lion-pytorch``) as :math:`\theta \leftarrow (1-\eta\lambda)\theta` before the step.

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient; not modified.
        state: ``exp_avg`` (:math:`m`); created (zeros) if missing.
        lr: learning rate :math:`\eta` (default 1e-4).
        beta1: interpolation weight of the update :math:`\beta_1` (default 0.9).
        beta2: decay of the momentum :math:`\beta_2` (default 0.99).
        weight_decay: decoupled decay :math:`\lambda` (default 0).

    Returns:
        None.

    Reference:
        Chen et al. (2023), "Symbolic Discovery of Optimization Algorithms", NeurIPS,
        Algorithm 2.

    Example:
        >>> w, state = torch.tensor([1.0, 1.0]), {}
        >>> lion_update(w, torch.tensor([0.3, -20.0]), state, lr=0.1)
        >>> w
        tensor([0.9000, 1.1000])
    """
    if "exp_avg" not in state:
        state["exp_avg"] = torch.zeros_like(param)
    exp_avg = state["exp_avg"]
    decoupled_weight_decay_(param, lr, weight_decay)
    direction = exp_avg.mul(beta1).add_(grad, alpha=1 - beta1).sign_()
    param.add_(direction, alpha=-lr)
    exp_avg.mul_(beta2).add_(grad, alpha=1 - beta2)


class Lion(PerTensorOptimizer):
    r"""Lion (EvoLved Sign Momentum), with the signature and state of ``lion_pytorch.Lion``.

    Each step applies :func:`lion_update`: :math:`\theta \leftarrow \theta -
    \eta(\mathrm{sign}(\beta_1 m + (1-\beta_1) g) + \lambda\theta)`, then
    :math:`m \leftarrow \beta_2 m + (1-\beta_2) g`. State: ``exp_avg``, one tensor per
    parameter (no step counter: Lion needs no bias correction, the sign ignores scale).

    Typical settings relative to AdamW (Chen et al. 2023, section 5): an lr 3-10x
    smaller and a weight decay 3-10x larger, so that :math:`\eta\lambda` stays similar.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 1e-4).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.99)).
        weight_decay: decoupled decay :math:`\lambda` (default 0).

    Reference:
        Chen et al. (2023), NeurIPS, Algorithm 2.

    Example:
        >>> optimizer = Lion(torch.nn.Linear(3, 1).parameters(), lr=3e-4, weight_decay=0.1)
    """

    legacy_group_defaults = {}
    scalar_state_keys = ()

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        beta1, beta2 = group["betas"]
        lion_update(param, grad, state, lr=as_scalar(group["lr"]), beta1=beta1, beta2=beta2,
                    weight_decay=group["weight_decay"])
