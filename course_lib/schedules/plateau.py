r"""Reduce the learning rate when a metric stops improving (chapter 6).

:class:`ReduceOnPlateau` is the one schedule whose next rate depends on what it has seen,
so it is a small object with explicit state instead of a pure function of the step.
:class:`PlateauTracker` holds what it shares with the torch drop-in
:class:`~course_lib.schedules.schedulers.ReduceLROnPlateau`: the comparison with the
best value so far, the patience and the cooldown, and :func:`reduced_lr`, the step down.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from course_lib.schedules.rules import check_lr

__all__ = ["ReduceOnPlateau"]


def reduced_lr(lr: float, factor: float, min_lr: float, eps: float) -> float:
    r""":math:`\max(\gamma \cdot \text{factor}, \text{min\_lr})`, or ``lr`` itself when that changes it by ``eps`` or less."""
    reduced = max(lr * factor, min_lr)
    return reduced if lr - reduced > eps else lr


def check_plateau_settings(mode: str, threshold_mode: str, factor: float) -> None:
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if threshold_mode not in ("rel", "abs"):
        raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
    if factor >= 1.0:
        raise ValueError(f"factor must be < 1, got {factor}")


class PlateauTracker:
    """When a monitored metric has stopped improving: best value, bad evaluations, cooldown.

    Subclasses set ``mode``, ``threshold``, ``threshold_mode``, ``patience`` and
    ``cooldown``, and call :meth:`reset_plateau`; attribute names are torch's, so
    a ``state_dict`` carries over.
    """

    mode: str
    threshold: float
    threshold_mode: str
    patience: int
    cooldown: int

    def reset_plateau(self) -> None:
        """Forget the best value, the bad evaluations and the cooldown."""
        self.mode_worse = math.inf if self.mode == "min" else -math.inf
        self.best = self.mode_worse
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def is_better(self, metric: float, best: float) -> bool:
        """Whether ``metric`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return metric < best * (1.0 - self.threshold)
            return metric < best - self.threshold
        if self.threshold_mode == "rel":
            return metric > best * (1.0 + self.threshold)
        return metric > best + self.threshold

    def plateau_reached(self, metric: float) -> bool:
        """Record one evaluation; ``True`` when the rate should drop now (the cooldown then starts)."""
        if self.is_better(metric, self.best):
            self.best = metric
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
            return True
        return False


class ReduceOnPlateau(PlateauTracker):
    r"""Reduce the rate by ``factor`` when a monitored metric stops improving.

    After each evaluation (usually each epoch) call :meth:`step` with the metric;
    it returns the learning rate to use next. A metric *improves* on the best
    value so far when, for ``mode="min"``,

    .. math::
        m < \text{best}\,(1 - \text{threshold}) \;(\texttt{"rel"}) \qquad\text{or}\qquad
        m < \text{best} - \text{threshold} \;(\texttt{"abs"})

    (mirrored for ``"max"``). After more than ``patience`` evaluations in a row
    without improvement the rate becomes :math:`\max(\gamma \cdot
    \text{factor}, \text{min\_lr})` (skipped if that changes it by less than
    ``eps``), and the next ``cooldown`` evaluations are ignored. The same rules
    and defaults as ``torch.optim.lr_scheduler.ReduceLROnPlateau`` with one
    parameter group, and the same values exactly; unlike torch's, it only
    computes the rate, apply it with :func:`~course_lib.schedules.lambda_lr.set_lr`
    (or use the drop-in :class:`~course_lib.schedules.schedulers.ReduceLROnPlateau`,
    which shares its logic).

    Args:
        lr: the starting learning rate.
        mode: ``"min"`` (default, for a loss) or ``"max"`` (for an accuracy).
        factor: multiplier at each reduction, ``< 1`` (default 0.1).
        patience: evaluations without improvement tolerated (default 10).
        threshold: how much better counts as better (default 1e-4).
        threshold_mode: ``"rel"`` (default) or ``"abs"``.
        cooldown: evaluations to wait after a reduction (default 0).
        min_lr: lower bound on the rate (default 0).
        eps: reductions smaller than this are skipped (default 1e-8).

    Example:
        >>> plateau = ReduceOnPlateau(1.0, factor=0.5, patience=1)
        >>> [plateau.step(loss) for loss in [3.0, 2.0, 2.0, 2.0, 2.0]]
        [1.0, 1.0, 1.0, 0.5, 0.5]
    """

    def __init__(
        self,
        lr: float,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        check_lr("lr", lr)
        check_plateau_settings(mode, threshold_mode, factor)
        self.lr = lr
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.eps = eps
        self.reset_plateau()

    def step(self, metric: float | torch.Tensor) -> float:
        """Record one evaluation of the metric and return the learning rate to use next."""
        if self.plateau_reached(float(metric)):
            self.lr = reduced_lr(self.lr, self.factor, self.min_lr, self.eps)
        return self.lr

    def __repr__(self) -> str:
        return (
            f"ReduceOnPlateau(lr={self.lr!r}, mode={self.mode!r}, factor={self.factor!r}, "
            f"patience={self.patience!r}, best={self.best!r}, num_bad_epochs={self.num_bad_epochs})"
        )
