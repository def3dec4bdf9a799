r"""Schedule-free AdamW: an average of the iterates instead of a learning-rate schedule (chapter 9).

Three sequences live side by side: :math:`z`, the plain AdamW-like iterate (without
momentum); :math:`x`, the running average of the :math:`z`'s, which is what the model
should be evaluated at; and :math:`y`, a point between the two where the gradient is
taken. The averaging does what a decaying schedule does (the final weights are an
average over the run) without fixing the run's length in advance (Defazio et al. 2024).

Only :math:`z` and the second moment are stored; the parameter itself holds :math:`y`
in training and :math:`x` in evaluation, and :meth:`AdamWScheduleFree.train` /
:meth:`AdamWScheduleFree.eval` move it between the two. Forgetting ``eval()`` before
evaluating (or saving) the model uses the wrong weights.

There is no torch version; :class:`AdamWScheduleFree` follows the maintained
``schedulefree`` package's ``AdamWScheduleFree`` (signature, defaults, state keys
``z`` and ``exp_avg_sq``, and the group keys ``k``, ``train_mode``, ``weight_sum``,
``lr_max``, ``scheduled_lr``), with its per-tensor arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.optim.optimizer import ParamsT

from ._base import ParamGroup, ParamState, PerTensorOptimizer, as_scalar, check_betas, check_tensor_lr

__all__ = ["schedule_free_adamw_update", "AdamWScheduleFree"]


def schedule_free_adamw_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict[str, torch.Tensor],
    *,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    step: int,
    average_weight: float,
) -> None:
    r"""One schedule-free AdamW step on one tensor, which holds :math:`y_t` and ends holding :math:`y_{t+1}`.

    .. math::
        \begin{aligned}
        v_t &= \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2, \qquad g_t = \nabla f(y_t) \\
        d_t &= \frac{g_t}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon} + \lambda\, y_t \\
        z_{t+1} &= z_t - \gamma_t\, d_t \\
        x_{t+1} &= (1 - c_{t+1})\, x_t + c_{t+1}\, z_{t+1} \\
        y_{t+1} &= (1 - \beta_1)\, z_{t+1} + \beta_1\, x_{t+1}
        \end{aligned}

    :math:`x` is never stored: substituting the last three lines into each other gives
    :math:`y_{t+1} = (1-c_{t+1})\,y_t + c_{t+1} z_t + \gamma_t\big(\beta_1(1-c_{t+1}) - 1\big)d_t`,
    which updates :math:`y` in place from :math:`y_t` and :math:`z_t` alone (and
    :math:`x = (y - (1-\beta_1) z)/\beta_1` whenever it is needed). With :math:`c_{t+1} =
    1/(t+1)`, :math:`x` is the uniform average of all :math:`z`'s. :math:`\beta_1`
    plays momentum's part: :math:`y` sits close to the slowly moving average :math:`x`.

    Args:
        param: holds :math:`y_t`; updated in place to :math:`y_{t+1}`.
        grad: the gradient at :math:`y_t`; not modified.
        state: ``z`` (created as a copy of ``param``) and ``exp_avg_sq`` (:math:`v`).
        lr: :math:`\gamma_t`, the learning rate of this step (after warm-up).
        beta1: interpolation :math:`\beta_1` (default 0.9).
        beta2: :math:`\beta_2` (default 0.999).
        eps: :math:`\epsilon`, outside the root (default 1e-8).
        weight_decay: :math:`\lambda`, taken at :math:`y` (default 0).
        step: :math:`t`, counted from 1, for the bias correction of :math:`v`.
        average_weight: :math:`c_{t+1}`, the weight of :math:`z_{t+1}` in the average.

    Returns:
        None.

    Reference:
        Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky (2024), "The Road Less
        Scheduled", NeurIPS, Algorithm 1.
    """
    if "z" not in state:
        state["z"] = param.clone()
        state["exp_avg_sq"] = torch.zeros_like(param)
    z, exp_avg_sq = state["z"], state["exp_avg_sq"]
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = exp_avg_sq.div(1 - beta2**step).sqrt_().add_(eps)
    direction = grad.div(denom)
    if weight_decay != 0:
        direction.add_(param, alpha=weight_decay)
    param.lerp_(z, average_weight)
    param.add_(direction, alpha=lr * (beta1 * (1 - average_weight) - 1))
    z.sub_(direction, alpha=lr)


class AdamWScheduleFree(PerTensorOptimizer):
    r"""Schedule-free AdamW, with the signature, defaults and state of ``schedulefree.AdamWScheduleFree``.

    Each step applies :func:`schedule_free_adamw_update` with

    .. math::
        \gamma_t = \eta \min\big(1, t/T_\text{warm}\big), \qquad
        w_t = t^{r}\,\big(\max_{s\le t}\gamma_s\big)^{p}, \qquad
        c_{t+1} = w_t \big/ \textstyle\sum_{s\le t} w_s ,

    (:math:`T_\text{warm}` = ``warmup_steps``, :math:`p` = ``weight_lr_power``): a
    linear warm-up is the only schedule, and steps taken with a small warm-up lr count
    less in the average. Per group, ``k`` counts the steps; state per parameter: ``z``
    and ``exp_avg_sq``, two tensors like Adam.

    Call :meth:`train` before training steps and :meth:`eval` before evaluating or
    saving the model: in train mode the parameters hold :math:`y`, in eval mode
    :math:`x`. :meth:`step` refuses to run in eval mode. A new optimizer starts in eval
    mode, as the package's does.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 0.0025).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: :math:`\lambda`, computed at :math:`y` (default 0).
        warmup_steps: linear warm-up length (default 0).
        r: power of :math:`t` in the averaging weights (default 0: uniform).
        weight_lr_power: power of the lr in the averaging weights (default 2).
        foreach: accepted; the per-tensor path runs (default None).

    Reference:
        Defazio et al. (2024), NeurIPS.

    Example:
        >>> model = torch.nn.Linear(3, 1)
        >>> optimizer = AdamWScheduleFree(model.parameters(), lr=1e-3)
        >>> optimizer.train()      # before training steps
        >>> optimizer.eval()       # before evaluating or saving
    """

    legacy_group_defaults = {}
    scalar_state_keys = ()

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 0.0025,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        foreach: bool | None = None,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        check_betas(betas)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "r": r,
            "k": 0,
            "warmup_steps": warmup_steps,
            "train_mode": False,
            "weight_sum": 0.0,
            "lr_max": -1.0,
            "scheduled_lr": 0.0,
            "weight_lr_power": weight_lr_power,
            "weight_decay": weight_decay,
            "foreach": foreach,
        }
        super().__init__(params, defaults)
        self._this_step: dict[int, dict[str, Any]] = {}

    @torch.no_grad()
    def eval(self) -> None:
        r"""Put :math:`x = y + (1 - 1/\beta_1)(z - y)` into the parameters, for evaluation or saving."""
        for group in self.param_groups:
            if group["train_mode"]:
                beta1, _ = group["betas"]
                for param in group["params"]:
                    if "z" in self.state.get(param, {}):
                        param.lerp_(self.state[param]["z"], 1 - 1 / beta1)
                group["train_mode"] = False

    @torch.no_grad()
    def train(self) -> None:
        r"""Put :math:`y = x + (1 - \beta_1)(z - x)` into the parameters, for training steps."""
        for group in self.param_groups:
            if not group["train_mode"]:
                beta1, _ = group["betas"]
                for param in group["params"]:
                    if "z" in self.state.get(param, {}):
                        param.lerp_(self.state[param]["z"], 1 - beta1)
                group["train_mode"] = True

    def _advance_schedule(self, group: ParamGroup) -> dict[str, Any]:
        """Count the step in the group and return this step's lr and averaging weight."""
        k = group["k"]
        warmup = (k + 1) / group["warmup_steps"] if k < group["warmup_steps"] else 1.0
        lr = as_scalar(group["lr"]) * warmup
        group["scheduled_lr"] = lr
        lr_max = group["lr_max"] = max(lr, group["lr_max"])
        weight = ((k + 1) ** group["r"]) * (lr_max ** group["weight_lr_power"])
        weight_sum = group["weight_sum"] = group["weight_sum"] + weight
        average_weight = weight / weight_sum if weight_sum != 0 else 0.0
        group["k"] = k + 1
        return {"lr": lr, "step": k + 1, "average_weight": average_weight}

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """One step in train mode (see :meth:`PerTensorOptimizer.step`).

        Raises:
            RuntimeError: the optimizer is in eval mode (call :meth:`train` first).
        """
        if not self.param_groups[0]["train_mode"]:
            raise RuntimeError("Optimizer was not in train mode when step is called. "
                               "Please insert .train() and .eval() calls on the optimizer.")
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self._this_step = {id(group): self._advance_schedule(group) for group in self.param_groups}
        super().step()
        return loss

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        beta1, beta2 = group["betas"]
        schedule_free_adamw_update(
            param, grad, state, beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"], **self._this_step[id(group)],
        )
