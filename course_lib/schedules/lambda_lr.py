r"""Driving any optimizer with a ``step -> lr`` schedule, by hand or through ``LambdaLR`` (chapter 6).

* by hand: ``set_lr(optimizer, schedule(t))`` before step ``t``;
* through a scheduler: ``lambda_lr(optimizer, schedule)`` builds a ``LambdaLR``
  (:class:`course_lib.schedules.LambdaLR`, the drop-in for torch's) whose learning rate
  after ``t`` calls of ``scheduler.step()`` is ``schedule(t)``; :func:`as_lambda` gives
  the multiplier ``t -> schedule(t) / base_lr`` that ``LambdaLR`` expects.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.schedules.rules import check_positive
from course_lib.schedules.schedulers import LambdaLR, set_group_value

__all__ = ["as_lambda", "lambda_lr", "set_lr"]


def as_lambda(schedule: Callable[[int], float], base_lr: float) -> Callable[[int], float]:
    r"""The multiplier ``t -> schedule(t) / base_lr`` that ``LambdaLR`` expects.

    ``torch.optim.lr_scheduler.LambdaLR`` sets the rate to
    ``base_lr * lr_lambda(t)``, where ``base_lr`` is the group's rate when the
    scheduler was built. Our schedules return rates, not multipliers, so this
    divides by ``base_lr``; the product gives back ``schedule(t)`` within a unit
    or two in the last place. The result is a plain function, so
    ``LambdaLR.state_dict()`` stays picklable (torch does not save functions).

    Args:
        schedule: any ``step -> lr`` function, e.g. a :class:`Schedule`.
        base_lr: the optimizer's learning rate when ``LambdaLR`` is created (> 0).

    Returns:
        A function of the step.

    Example:
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> sched = LambdaLR(opt, as_lambda(step_decay(0.1, step_size=10), 0.1))
    """
    check_positive("base_lr", base_lr)

    def multiplier(step: int) -> float:
        return schedule(step) / base_lr

    return multiplier


def lambda_lr(optimizer: torch.optim.Optimizer, schedule: Callable[[int], float]) -> LambdaLR:
    """A ``LambdaLR`` (a ``torch.optim.lr_scheduler.LRScheduler``) that drives every group of ``optimizer`` by ``schedule``.

    Works with any ``torch.optim.Optimizer`` (torch's or the course's). After
    ``t`` calls of ``scheduler.step()`` each group's ``lr`` is ``schedule(t)``
    (to float rounding), whatever ``lr`` the optimizer was built with; like every
    torch scheduler it stores that original rate as ``group["initial_lr"]``.

    Args:
        optimizer: the optimizer to drive.
        schedule: a ``step -> lr`` function, e.g. a :class:`Schedule`.

    Returns:
        The scheduler; call ``scheduler.step()`` after ``optimizer.step()``.
    """
    base_lrs = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
    return LambdaLR(optimizer, [as_lambda(schedule, float(base)) for base in base_lrs])


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group of ``optimizer`` to ``lr`` (a Tensor lr in place, as schedulers do)."""
    for group in optimizer.param_groups:
        set_group_value(group, "lr", lr)
