r"""Drop-in replacements for every scheduler of ``torch.optim.lr_scheduler`` (and ``SWALR``).

Swap ``torch.optim.lr_scheduler.OneCycleLR`` for ``course_lib.schedules.OneCycleLR`` and a
training script sees the same learning rates: each class has torch 2.13's name,
constructor, defaults and errors, the same ``step()``, ``get_last_lr()``,
``state_dict()`` / ``load_state_dict()`` (with torch's keys: a checkpoint written by one
loads into the other), and works with any ``torch.optim.Optimizer``, torch's or
:mod:`course_lib.optim`'s, including Tensor learning rates (updated in place, as torch
does).

The bookkeeping every scheduler shares is torch's own base class
``torch.optim.lr_scheduler.LRScheduler``, which each class here subclasses, as the course
optimizers subclass ``torch.optim.Optimizer``: it stores ``initial_lr`` and ``base_lrs``,
counts ``last_epoch``, writes each group's rate and warns when ``scheduler.step()`` comes
before ``optimizer.step()``. What a class writes is its rule, in two forms:

* ``get_lr()``, the *chainable* form ``scheduler.step()`` uses: most schedulers multiply
  each group's *current* rate by a factor, so two of them stepped together
  (:class:`ChainedScheduler`) compose, and a rate changed by hand stays changed;
* ``_get_closed_form_lr()``, the rate as a function of ``base_lrs`` and ``last_epoch``,
  used by the deprecated ``step(epoch)`` and by :class:`SequentialLR` at its milestones:
  the ``*_at`` formulas of :mod:`course_lib.schedules.rules`, which the pure
  ``step -> lr`` schedules there evaluate too. The cyclic, one-cycle and SGDR classes
  evaluate those formulas at every step.

====================================  ============================================  ===============================
course_lib.schedules                  torch                                         agreement
====================================  ============================================  ===============================
:class:`LambdaLR`                     ``lr_scheduler.LambdaLR``                     bit-exact
:class:`MultiplicativeLR`             ``lr_scheduler.MultiplicativeLR``             bit-exact
:class:`StepLR`                       ``lr_scheduler.StepLR``                       bit-exact
:class:`MultiStepLR`                  ``lr_scheduler.MultiStepLR``                  bit-exact
:class:`ConstantLR`                   ``lr_scheduler.ConstantLR``                   bit-exact (factor 0: see below)
:class:`LinearLR`                     ``lr_scheduler.LinearLR``                     bit-exact
:class:`ExponentialLR`                ``lr_scheduler.ExponentialLR``                bit-exact
:class:`PolynomialLR`                 ``lr_scheduler.PolynomialLR``                 bit-exact
:class:`CosineAnnealingLR`            ``lr_scheduler.CosineAnnealingLR``            bit-exact
:class:`CosineAnnealingWarmRestarts`  ``lr_scheduler.CosineAnnealingWarmRestarts``  bit-exact
:class:`CyclicLR`                     ``lr_scheduler.CyclicLR``                     bit-exact (lr and momentum)
:class:`OneCycleLR`                   ``lr_scheduler.OneCycleLR``                   bit-exact (lr and momentum)
:class:`SequentialLR`                 ``lr_scheduler.SequentialLR``                 bit-exact
:class:`ChainedScheduler`             ``lr_scheduler.ChainedScheduler``             bit-exact
:class:`ReduceLROnPlateau`            ``lr_scheduler.ReduceLROnPlateau``            bit-exact
:class:`SWALR`                        ``swa_utils.SWALR``                           bit-exact
====================================  ============================================  ===============================

"Bit-exact": the same rates (and momenta), float for float, step after step, from
``step()``, ``step(epoch)``, after ``load_state_dict`` in the middle of a run, with float
and Tensor learning rates; checked over hundreds of steps in ``tests/test_schedulers.py``
on torch's own test configurations. Containers accept torch's and the course's
schedulers alike. Where this module differs from torch:

* ``ConstantLR(factor=0)``: torch divides the rate by ``factor`` at ``total_iters`` and
  raises ``ZeroDivisionError``; here the rate goes back to its closed form, the base rate.
* ``SequentialLR`` reaching a container (``ChainedScheduler``, ``SequentialLR``) at a
  milestone: torch raises ``NotImplementedError``; here the container starts over from
  its step 0, as if just built (a container *first* in the sequence behaves as torch's).
* Not supported: ``OneCycleLR``'s legacy ``anneal_func`` attribute of pre-1.13 state
  dicts (``_anneal_func_type`` is used); ``CyclicLR`` calls a custom ``scale_fn`` once
  per step rather than once per parameter group (the values are the same).
"""

from __future__ import annotations

import math
import types
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, SupportsFloat

import torch
from torch.optim import Optimizer
from torch.optim import lr_scheduler as torch_schedulers
from torch.optim.lr_scheduler import LRScheduler

from .plateau import PlateauTracker, check_plateau_settings, reduced_lr
from .rules import (
    ANNEAL,
    constant_warmup_at,
    cosine_annealing_at,
    cycle_position,
    cyclic_amplitude,
    cyclic_at,
    exponential_decay_at,
    linear_at,
    multi_step_decay_at,
    one_cycle_phase_at,
    one_cycle_phases,
    polynomial_decay_at,
    resolve_total_steps,
    step_decay_at,
)

__all__ = [
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "OneCycleLR",
    "SequentialLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "SWALR",
]

Rate = float | torch.Tensor


# ---- what the classes share -------------------------------------------------------------


def per_group(name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """One value per parameter group: ``value`` repeated, or a list checked against the groups (tensors copied)."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(value)} values, param_groups has {len(optimizer.param_groups)}."
            )
        values = list(value)
    else:
        values = [value] * len(optimizer.param_groups)
    return [v.clone() if isinstance(v, torch.Tensor) else v for v in values]


def group_values(optimizer: Optimizer, key: str = "lr") -> list[Any]:
    """Each group's ``key``, tensors copied so that the caller cannot change a group's rate through them."""
    return [g[key].clone() if isinstance(g[key], torch.Tensor) else g[key] for g in optimizer.param_groups]


def set_group_value(group: dict[str, Any], key: str, value: Rate) -> None:
    """Write ``value`` into ``group[key]``: in place when that is a tensor (a Tensor lr keeps its identity)."""
    if isinstance(group[key], torch.Tensor):
        group[key].fill_(value.squeeze() if isinstance(value, torch.Tensor) and value.dim() != 0 else value)
    else:
        group[key] = value


def _require_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


class _Scheduler(LRScheduler):
    """A torch ``LRScheduler`` whose ``get_lr`` warns, as torch's do, when called outside ``step()``."""

    def _warn_outside_step(self) -> None:
        if not self._get_lr_called_within_step:
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                UserWarning,
                stacklevel=3,
            )

    def _unchanged(self) -> list[Rate]:
        return group_values(self.optimizer)


def _set_momentum(optimizer: Optimizer, use_beta1: bool, momenta: Sequence[Rate]) -> None:
    """Write each group's momentum, or the first of its ``betas`` for Adam-like optimizers."""
    for group, momentum in zip(optimizer.param_groups, momenta, strict=True):
        if use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum


def _prepare_momentum_cycling(
    optimizer: Optimizer, base_momentum: Any, max_momentum: Any, last_epoch: int
) -> tuple[bool, list[Rate], list[Rate]]:
    """Check the optimizer has a momentum (or beta1) to cycle; on a fresh start set it to ``max_momentum``."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
    use_beta1 = "betas" in optimizer.defaults
    base_momenta = per_group("base_momentum", optimizer, base_momentum)
    max_momenta = per_group("max_momentum", optimizer, max_momentum)
    if last_epoch == -1:
        _set_momentum(optimizer, use_beta1, max_momenta)
        for group, low, high in zip(optimizer.param_groups, base_momenta, max_momenta, strict=True):
            group["max_momentum"] = high
            group["base_momentum"] = low
    return use_beta1, base_momenta, max_momenta


class _LambdasInStateDict:
    """``state_dict`` without the functions: a plain function is saved as ``None``, a callable object as its ``__dict__``."""

    lr_lambdas: list[Callable[[int], float]]

    def state_dict(self) -> dict[str, Any]:
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else fn.__dict__.copy() for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update({key: value for key, value in state_dict.items() if key != "lr_lambdas"})
        for fn, saved in zip(self.lr_lambdas, state_dict["lr_lambdas"]):
            if saved is not None:
                fn.__dict__.update(saved)


def _lambdas(optimizer: Optimizer, lr_lambda: Any) -> list[Callable[[int], float]]:
    if isinstance(lr_lambda, (list, tuple)):
        if len(lr_lambda) != len(optimizer.param_groups):
            raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
        lambdas = list(lr_lambda)
    else:
        lambdas = [lr_lambda] * len(optimizer.param_groups)
    for fn in lambdas:
        if not callable(fn):
            raise TypeError(f"lr_lambda should be a function, but got {type(fn).__name__}")
    return lambdas


# ---- multiplier rules --------------------------------------------------------------------


class LambdaLR(_LambdasInStateDict, _Scheduler):
    r"""Set each group's rate to its initial rate times ``lr_lambda(t)``, a drop-in for ``torch.optim.lr_scheduler.LambdaLR``.

    .. math:: \gamma_t = \gamma_0 \cdot \lambda(t)

    Not chainable: the rate is recomputed from :math:`\gamma_0` (``base_lrs``) at
    every step. :func:`~course_lib.schedules.as_lambda` turns a ``step -> lr``
    schedule into the multiplier :math:`\lambda`.

    Args:
        optimizer: the optimizer to drive.
        lr_lambda: :math:`\lambda`, a function of the step; or one per parameter group.
        last_epoch: the index of the last step taken, to resume (default -1: start).

    Example:
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> sched = LambdaLR(opt, lambda t: 0.5**t)
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)]


class MultiplicativeLR(_LambdasInStateDict, _Scheduler):
    r"""Multiply each group's current rate by ``lr_lambda(t)`` at every step, a drop-in for ``torch.optim.lr_scheduler.MultiplicativeLR``.

    .. math:: \gamma_t = \gamma_{t-1} \cdot \lambda(t) = \gamma_0 \prod_{s=1}^{t} \lambda(s)

    Args:
        optimizer: the optimizer to drive.
        lr_lambda: :math:`\lambda`, a function of the step; or one per parameter group.
        last_epoch: the index of the last step taken, to resume (default -1: start).
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        if self._is_initial:
            return self._unchanged()
        return [group["lr"] * fn(self.last_epoch)
                for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups, strict=True)]


class StepLR(_Scheduler):
    r"""Multiply the rate by ``gamma`` every ``step_size`` steps, a drop-in for ``torch.optim.lr_scheduler.StepLR``.

    .. math:: \gamma_t = \gamma_0 \cdot \text{gamma}^{\lfloor t / \text{step\_size} \rfloor}

    Chainable: at each multiple of ``step_size`` the current rate is multiplied by
    ``gamma``. Closed form: :func:`~course_lib.schedules.rules.step_decay_at`, the
    rule of :func:`~course_lib.schedules.step_decay`.

    Args:
        optimizer: the optimizer to drive.
        step_size: steps between two decays.
        gamma: the factor of each decay (default 0.1).
        last_epoch: the index of the last step taken, to resume (default -1: start).
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._unchanged()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[Rate]:
        return [step_decay_at(base_lr, self.last_epoch, self.step_size, self.gamma) for base_lr in self.base_lrs]


class MultiStepLR(_Scheduler):
    r"""Multiply the rate by ``gamma`` at each milestone, a drop-in for ``torch.optim.lr_scheduler.MultiStepLR``.

    .. math:: \gamma_t = \gamma_0 \cdot \text{gamma}^{\#\{m \in \text{milestones} : m \le t\}}

    A milestone listed twice decays twice. Closed form:
    :func:`~course_lib.schedules.rules.multi_step_decay_at`.

    Args:
        optimizer: the optimizer to drive.
        milestones: the steps at which the rate drops.
        gamma: the factor of each decay (default 0.1).
        last_epoch: the index of the last step taken, to resume (default -1: start).
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        if self.last_epoch not in self.milestones:
            return self._unchanged()
        decays = self.milestones[self.last_epoch]
        return [group["lr"] * self.gamma**decays for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[Rate]:
        milestones = sorted(self.milestones.elements())
        return [multi_step_decay_at(base_lr, self.last_epoch, milestones, self.gamma) for base_lr in self.base_lrs]


class ConstantLR(_Scheduler):
    r"""Run at ``factor`` times the rate for ``total_iters`` steps, then at the full rate, a drop-in for ``torch.optim.lr_scheduler.ConstantLR``.

    .. math::
        \gamma_t = \begin{cases} \text{factor} \cdot \gamma_0 & t < \text{total\_iters} \\
        \gamma_0 & t \ge \text{total\_iters} \end{cases}

    Chainable: multiplies by ``factor`` at step 0 and by ``1 / factor`` at
    ``total_iters``. Closed form: :func:`~course_lib.schedules.rules.constant_warmup_at`.

    Args:
        optimizer: the optimizer to drive.
        factor: in ``[0, 1]`` (default 1/3).
        total_iters: steps at the reduced rate (default 5).
        last_epoch: the index of the last step taken, to resume (default -1: start).
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1) -> None:
        if not 0 <= factor <= 1.0:
            raise ValueError(f"Constant multiplicative factor expected to be between 0 and 1, got {factor}.")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return self._unchanged()
        if self.factor == 0:  # nothing to divide back: the chain is lost, the base rate is all there is
            return self._get_closed_form_lr()
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[Rate]:
        return [constant_warmup_at(base_lr, self.last_epoch, self.total_iters, self.factor) for base_lr in self.base_lrs]


class LinearLR(_Scheduler):
    r"""Move the rate's factor linearly from ``start_factor`` to ``end_factor`` over ``total_iters`` steps, a drop-in for ``torch.optim.lr_scheduler.LinearLR``.

    .. math:: \gamma_t = \gamma_0 \Bigl(s + (e - s)\frac{\min(t, T)}{T}\Bigr)

    Chainable: step :math:`t \le T` multiplies the current rate by the ratio of
    consecutive factors,
    :math:`1 + \frac{e - s}{T s + (t - 1)(e - s)}`. Closed form:
    :func:`~course_lib.schedules.rules.linear_at`, the rule of
    :func:`~course_lib.schedules.linear_schedule`.

    Args:
        optimizer: the optimizer to drive.
        start_factor: :math:`s`, in ``(0, 1]`` (default 1/3).
        end_factor: :math:`e`, in ``[0, 1]`` (default 1).
        total_iters: :math:`T` (default 5).
        last_epoch: the index of the last step taken, to resume (default -1: start).
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        if not 0 < start_factor <= 1.0:
            raise ValueError(
                f"Starting multiplicative factor expected to be greater than 0 and less or equal to 1, got {start_factor}."
            )
        if not 0 <= end_factor <= 1.0:
            raise ValueError(f"Ending multiplicative factor expected to be between 0 and 1, got {end_factor}.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._unchanged()
        slope = self.end_factor - self.start_factor
        ratio = 1.0 + slope / (self.total_iters * self.start_factor + (self.last_epoch - 1) * slope)
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[Rate]:
        return [linear_at(base_lr, self.last_epoch, self.total_iters, self.start_factor, self.end_factor)
                for base_lr in self.base_lrs]


class ExponentialLR(_Scheduler):
    r"""Multiply the rate by ``gamma`` at every step, a drop-in for ``torch.optim.lr_scheduler.ExponentialLR``.

    .. math:: \gamma_t = \gamma_0 \cdot \text{gamma}^{t}

    Closed form: :func:`~course_lib.schedules.rules.exponential_decay_at`.

    Args:
        optimizer: the optimizer to drive.
        gamma: the factor per step.
        last_epoch: the index of the last step taken, to resume (default -1: start).
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        if self._is_initial:  # resuming: the rate loaded with the optimizer is already this step's
            return self._unchanged()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[Rate]:
        return [exponential_decay_at(base_lr, self.last_epoch, self.gamma) for base_lr in self.base_lrs]


class PolynomialLR(_Scheduler):
    r"""Decay the rate to 0 along :math:`(1 - t/T)^p`, a drop-in for ``torch.optim.lr_scheduler.PolynomialLR``.

    .. math:: \gamma_t = \gamma_0 \Bigl(1 - \frac{\min(t, T)}{T}\Bigr)^{p}

    Chainable: step :math:`t \le T` multiplies the current rate by
    :math:`\bigl(\frac{1 - t/T}{1 - (t-1)/T}\bigr)^p`. Closed form:
    :func:`~course_lib.schedules.rules.polynomial_decay_at`.

    Args:
        optimizer: the optimizer to drive.
        total_iters: :math:`T`, the step where the rate reaches 0 (default 5).
        power: :math:`p` (default 1).
        last_epoch: the index of the last step taken, to resume (default -1: start).
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1) -> None:
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._unchanged()
        ratio = ((1.0 - self.last_epoch / self.total_iters)
                 / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[Rate]:
        return [polynomial_decay_at(base_lr, self.last_epoch, self.total_iters, self.power) for base_lr in self.base_lrs]


class CosineAnnealingLR(_Scheduler):
    r"""Anneal the rate along a cosine from its initial value to ``eta_min`` in ``T_max`` steps, a drop-in for ``torch.optim.lr_scheduler.CosineAnnealingLR``.

    .. math::
        \gamma_t = \eta_{\min} + \tfrac12(\gamma_0 - \eta_{\min})\bigl(1 + \cos(\pi t / T_{\max})\bigr)

    Chainable, as torch: the distance to :math:`\eta_{\min}` is multiplied by
    :math:`\frac{1 + \cos(\pi t/T_{\max})}{1 + \cos(\pi (t-1)/T_{\max})}`, except at
    the bottom of each period (:math:`t - 1 - T_{\max}` a multiple of
    :math:`2T_{\max}`), where that ratio is 0/0 and the step up is added instead.
    Past ``T_max`` the cosine climbs back. Closed form:
    :func:`~course_lib.schedules.rules.cosine_annealing_at`.

    Args:
        optimizer: the optimizer to drive.
        T_max: steps from the initial rate to ``eta_min``.
        eta_min: the lowest rate (default 0).
        last_epoch: the index of the last step taken, to resume (default -1: start).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        if self._is_initial:
            return self._unchanged()
        if self._step_count == 1 and self.last_epoch > 0:
            return self._get_closed_form_lr()
        groups = self.optimizer.param_groups
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return [group["lr"] + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                    for base_lr, group in zip(self.base_lrs, groups, strict=True)]
        ratio = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / (
            1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max)
        )
        return [ratio * (group["lr"] - self.eta_min) + self.eta_min for group in groups]

    def _get_closed_form_lr(self) -> list[Rate]:
        return [cosine_annealing_at(base_lr, self.last_epoch, self.T_max, self.eta_min) for base_lr in self.base_lrs]


class CosineAnnealingWarmRestarts(_Scheduler):
    r"""Cosine annealing restarted every :math:`T_i` steps (SGDR), a drop-in for ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts``.

    .. math::
        \gamma_t = \eta_{\min} + \tfrac12(\gamma_0 - \eta_{\min})\bigl(1 + \cos(\pi T_{\text{cur}} / T_i)\bigr)

    :math:`T_{\text{cur}}` counts steps since the last restart; cycles last
    :math:`T_0, T_0 T_{\text{mult}}, \dots` (Loshchilov & Hutter, 2017). Each step
    advances :math:`T_{\text{cur}}` and evaluates
    :func:`~course_lib.schedules.rules.cosine_annealing_at`; ``step(epoch)``
    accepts a fractional epoch (a step per batch: ``epoch + batch / batches``) and
    finds the cycle with torch's logarithm formula. The pure schedule is
    :func:`~course_lib.schedules.cosine_warm_restarts`.

    Args:
        optimizer: the optimizer to drive.
        T_0: the first cycle's length (a positive integer).
        T_mult: the growth of the cycles (an integer >= 1, default 1).
        eta_min: the lowest rate (default 0).
        last_epoch: the index of the last step taken, to resume (default -1: start).
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if isinstance(T_0, bool) or not isinstance(T_0, int) or T_0 <= 0:
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if isinstance(T_mult, bool) or not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        return [cosine_annealing_at(base_lr, self.T_cur, self.T_i, self.eta_min) for base_lr in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one step, or jump to ``epoch`` (fractional allowed), and set the rates."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        elif epoch < 0:
            raise ValueError(f"Expected non-negative epoch, but got {epoch}")
        elif epoch < self.T_0:
            self.T_i, self.T_cur = self.T_0, epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:
            # cycle n starts at T_0 (T_mult^n - 1) / (T_mult - 1)
            n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult**n
        self.last_epoch = math.floor(epoch)
        self._get_lr_called_within_step = True
        try:
            lrs = self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            set_group_value(group, "lr", lr)
        self._last_lr = group_values(self.optimizer)


# ---- cycles -------------------------------------------------------------------------------


class CyclicLR(_Scheduler):
    r"""Cyclical learning rate (and inverse momentum), a drop-in for ``torch.optim.lr_scheduler.CyclicLR``.

    Each step :math:`t` (a batch) evaluates the triangle of
    :func:`~course_lib.schedules.cyclic`: with cycle :math:`c` and height
    :math:`h \in [0, 1]` from :func:`~course_lib.schedules.rules.cycle_position`
    and amplitude scale :math:`s` (the mode's, or ``scale_fn`` of :math:`c` or
    :math:`t`),

    .. math::
        \gamma_t = \text{base\_lr} + (\text{max\_lr} - \text{base\_lr})\, h\, s, \qquad
        \mu_t = \text{max\_m} + (\text{base\_m} - \text{max\_m})\, h\, s

    the same formula (:func:`~course_lib.schedules.rules.cyclic_at`) with the
    momentum's bounds swapped: momentum is highest when the rate is lowest
    (Smith, 2017; 2018, sec. 4.3). Momentum is the optimizer's ``momentum``, or
    ``betas[0]`` for Adam-like ones. The constructor sets the rates to
    ``base_lr``, overriding the optimizer's.

    Args:
        optimizer: the optimizer to drive.
        base_lr: the lower rate, or one per group.
        max_lr: the upper rate, or one per group.
        step_size_up: steps from ``base_lr`` up to ``max_lr`` (default 2000).
        step_size_down: steps back down (default ``step_size_up``).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"`` (default triangular).
        gamma: the per-step factor of ``"exp_range"`` (default 1).
        scale_fn: a custom amplitude scale (default ``None``: the mode's).
        scale_mode: ``scale_fn`` is a function of the ``"cycle"`` (default) or of ``"iterations"``.
        cycle_momentum: cycle the momentum too (default ``True``).
        base_momentum: the lower momentum, or one per group (default 0.8).
        max_momentum: the upper momentum, or one per group (default 0.9).
        last_epoch: the index of the last step taken, to resume (default -1: start).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | Sequence[float],
        max_lr: float | Sequence[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: Literal["triangular", "triangular2", "exp_range"] = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: Literal["cycle", "iterations"] = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.8,
        max_momentum: float | Sequence[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        _require_optimizer(optimizer)
        self.optimizer = optimizer
        base_lrs = per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups, strict=True):
                set_group_value(group, "lr", lr)
        self.max_lrs = per_group("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"mode is invalid and scale_fn is None: mode {mode!r} is not one of "
                             "'triangular', 'triangular2', 'exp_range'")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else cyclic_amplitude(mode, gamma)[1]
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1, self.base_momentums, self.max_momentums = _prepare_momentum_cycling(
                optimizer, base_momentum, max_momentum, last_epoch
            )
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The amplitude scale at ``x``, a cycle number or a step (see ``scale_mode``)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return cyclic_amplitude(self.mode, self.gamma)[0](x)

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        cycle, height = cycle_position(self.last_epoch, self.total_size, self.step_ratio)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [cyclic_at(low, high, height, scale) for low, high in zip(self.base_lrs, self.max_lrs, strict=True)]
        if self.cycle_momentum:
            momenta = [cyclic_at(high, low, height, scale)
                       for low, high in zip(self.base_momentums, self.max_momentums, strict=True)]
            _set_momentum(self.optimizer, self.use_beta1, momenta)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """Torch's layout: a custom ``scale_fn`` is saved as ``None`` (a function) or its ``__dict__`` (a callable object)."""
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "_scale_fn_custom")}
        fn = self._scale_fn_custom
        state["_scale_fn_custom"] = None if fn is None or isinstance(fn, types.FunctionType) else fn.__dict__.copy()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved_fn = state_dict["_scale_fn_custom"]
        self.__dict__.update(
            {key: value for key, value in state_dict.items() if key not in ("_scale_fn_custom", "_scale_fn_ref")}
        )
        if saved_fn is not None:
            self._scale_fn_custom.__dict__.update(saved_fn)
        if self._scale_fn_custom is None:
            self.scale_mode = cyclic_amplitude(self.mode, self.gamma)[1]


# where each one-cycle rate of rules.one_cycle_phases lives in a param group, for the lr and the momentum
_ONE_CYCLE_LR_KEYS = {"initial": "initial_lr", "max": "max_lr", "min": "min_lr"}
_ONE_CYCLE_MOMENTUM_KEYS = {"initial": "max_momentum", "max": "base_momentum", "min": "max_momentum"}


class OneCycleLR(_Scheduler):
    r"""The one-cycle policy for the rate and (inversely) the momentum, a drop-in for ``torch.optim.lr_scheduler.OneCycleLR``.

    The rate goes from ``max_lr / div_factor`` up to ``max_lr`` and down to
    ``max_lr / div_factor / final_div_factor`` (or, with ``three_phase``, back to
    the start first), annealed by cosine or linearly; the phases and the
    annealing are those of :func:`~course_lib.schedules.one_cycle`
    (:func:`~course_lib.schedules.rules.one_cycle_phases`). The momentum follows
    the same phases between ``max_momentum`` (where the rate is low) and
    ``base_momentum`` (where it peaks), Smith & Topin (2019). Stepped once per
    batch, ``total_steps`` times at most: one more step raises ``ValueError``.
    The start, peak and end rates are stored in each group (``initial_lr``,
    ``max_lr``, ``min_lr``), as torch does.

    Args:
        optimizer: the optimizer to drive.
        max_lr: the peak rate, or one per group.
        total_steps: steps in the cycle; or give ``epochs`` and ``steps_per_epoch``.
        epochs: number of epochs, with ``steps_per_epoch``.
        steps_per_epoch: batches per epoch, with ``epochs``.
        pct_start: fraction of the steps spent going up, a float (default 0.3).
        anneal_strategy: ``"cos"`` (default) or ``"linear"``.
        cycle_momentum: cycle the momentum (or beta1) too (default ``True``).
        base_momentum: momentum at the peak rate (default 0.85).
        max_momentum: momentum at the low rates (default 0.95).
        div_factor: ``max_lr / div_factor`` is the first rate (default 25).
        final_div_factor: the first rate over this is the last one (default 1e4).
        three_phase: go back to the first rate before the final decay (default ``False``).
        last_epoch: the index of the last step taken, to resume (default -1: start).

    Raises:
        ValueError: as torch, without ``total_steps`` nor both ``epochs`` and
            ``steps_per_epoch``, and on invalid ``pct_start`` or ``anneal_strategy``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: Literal["cos", "linear"] = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        _require_optimizer(optimizer)
        self.optimizer = optimizer
        self.total_steps = resolve_total_steps(total_steps, epochs, steps_per_epoch)
        self._schedule_phases = [
            {
                "end_step": end_step,
                "start_lr": _ONE_CYCLE_LR_KEYS[start],
                "end_lr": _ONE_CYCLE_LR_KEYS[end],
                "start_momentum": _ONE_CYCLE_MOMENTUM_KEYS[start],
                "end_momentum": _ONE_CYCLE_MOMENTUM_KEYS[end],
            }
            for end_step, start, end in one_cycle_phases(self.total_steps, pct_start, three_phase)
        ]
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ANNEAL:
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_func_type = anneal_strategy
        max_lrs = per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, peak in zip(optimizer.param_groups, max_lrs, strict=True):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1, _, _ = _prepare_momentum_cycling(optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        phase_ends = [phase["end_step"] for phase in self._schedule_phases]
        index, fraction = one_cycle_phase_at(self.last_epoch, phase_ends, self.total_steps)
        phase = self._schedule_phases[index]
        anneal = ANNEAL[self._anneal_func_type]
        groups = self.optimizer.param_groups
        if self.cycle_momentum:
            momenta = [anneal(g[phase["start_momentum"]], g[phase["end_momentum"]], fraction) for g in groups]
            _set_momentum(self.optimizer, self.use_beta1, momenta)
        return [anneal(g[phase["start_lr"]], g[phase["end_lr"]], fraction) for g in groups]


# ---- containers ---------------------------------------------------------------------------

def _check_children(container: str, optimizer: Optimizer, schedulers: Sequence[LRScheduler]) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{container} expects at least one scheduler, but got no scheduler.")
    for index, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"{container} at index {index} should have `optimizer` as its attribute.")
        if isinstance(scheduler, (ReduceLROnPlateau, torch_schedulers.ReduceLROnPlateau)):
            raise ValueError(
                f"{container} does not support `ReduceLROnPlateau` scheduler as it requires additional kwargs "
                f"to be specified when calling `step`, but got one at index {index} in the given schedulers sequence."
            )
        if optimizer != scheduler.optimizer:
            raise ValueError(
                f"{container} expects all schedulers to belong to the same optimizer, but got scheduler "
                f"{type(scheduler).__name__} at index {index} has {scheduler.optimizer}, which is different "
                f"from {type(optimizer).__name__}."
            )


class _ContainerStateDict:
    """``state_dict`` with the children's own state dicts in place of the children."""

    _schedulers: Sequence[LRScheduler]

    def state_dict(self) -> dict[str, Any]:
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update({key: value for key, value in state_dict.items() if key != "_schedulers"})
        for scheduler, saved in zip(self._schedulers, state_dict["_schedulers"], strict=True):
            scheduler.load_state_dict(saved)


class SequentialLR(_ContainerStateDict, LRScheduler):
    r"""Hand the optimizer from one scheduler to the next at given steps, a drop-in for ``torch.optim.lr_scheduler.SequentialLR``.

    Scheduler :math:`k` runs from milestone :math:`k - 1` to milestone
    :math:`k`. At a milestone the next one starts from *its* step 0, evaluated in
    closed form on the base rates (``_get_closed_form_lr`` when it has one), so
    the warmup-then-cosine recipe of :func:`~course_lib.schedules.warmup_cosine`
    is ``SequentialLR(opt, [LinearLR(opt, s, total_iters=w),
    CosineAnnealingLR(opt, T - w)], milestones=[w])``. Building it undoes the first
    step each child took in its own constructor. Children may be torch's
    schedulers or the course's, or containers themselves (not ``ReduceLROnPlateau``);
    a container reached at a milestone starts over from its step 0, where torch
    raises ``NotImplementedError``.

    Args:
        optimizer: the optimizer all the children drive.
        schedulers: the schedulers, in order.
        milestones: the steps where the next one takes over (one fewer than schedulers).
        last_epoch: the index of the last step taken (default -1).
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1) -> None:
        _check_children(type(self).__name__, optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more than the number of "
                f"milestone points, but got number of schedulers {len(schedulers)} and the number of milestones "
                f"to be equal to {len(milestones)}"
            )
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            set_group_value(group, "lr", group["initial_lr"])
        self.recursive_undo()
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def recursive_undo(self, sched: Any = None) -> None:
        """Step back by one every scheduler inside, however deeply nested."""
        scheduler = self if sched is None else sched
        if hasattr(scheduler, "_schedulers"):
            for child in scheduler._schedulers:
                self.recursive_undo(child)
        elif hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            if _is_container(scheduler):
                for group in self.optimizer.param_groups:
                    set_group_value(group, "lr", group["initial_lr"])
                _restart(scheduler)
            else:
                scheduler._update_lr(0)  # the new scheduler's step 0, in closed form where it has one
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


def _is_container(scheduler: Any) -> bool:
    return hasattr(scheduler, "_schedulers")


def _restart(scheduler: Any) -> None:
    """Put a scheduler back at its step 0, as if just built on the optimizer's current rates.

    torch's ``SequentialLR`` reaches a container (a ``ChainedScheduler`` or a
    ``SequentialLR``) at a milestone by asking it for a closed form it does not
    have, and raises ``NotImplementedError``; here the container starts over, each
    scheduler inside taking the first step it takes when built.
    """
    if isinstance(scheduler, (SequentialLR, torch_schedulers.SequentialLR)):
        scheduler.last_epoch = 0
        first = scheduler._schedulers[bisect_right(scheduler._milestones, 0)]
        _restart(first)
        scheduler._last_lr = first.get_last_lr()
    elif _is_container(scheduler):
        for child in scheduler._schedulers:
            _restart(child)
        scheduler._last_lr = group_values(scheduler.optimizer)
    else:
        scheduler.last_epoch = -1
        scheduler._initial_step()


class ChainedScheduler(_ContainerStateDict, LRScheduler):
    r"""Step several schedulers together, their factors multiplying, a drop-in for ``torch.optim.lr_scheduler.ChainedScheduler``.

    Each chainable child multiplies the current rate by its own factor, so
    ``ChainedScheduler([ConstantLR(opt, 0.1, 5), ExponentialLR(opt, 0.9)])``
    gives :math:`\gamma_0 \cdot 0.9^t \cdot (0.1 \text{ for } t < 5)`. A child that
    sets the rate instead (``LambdaLR``, ``CyclicLR``, ...) overrides those before it.

    Args:
        schedulers: the schedulers, stepped in this order.
        optimizer: their optimizer (default: the first one's).
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        if len(schedulers) < 1:
            raise ValueError(f"{type(self).__name__} expects at least one scheduler to be chained, but got no scheduler.")
        optimizer = optimizer or schedulers[0].optimizer
        _check_children(type(self).__name__, optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = group_values(self._schedulers[-1].optimizer)

    def step(self) -> None:  # type: ignore[override]
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = group_values(self._schedulers[-1].optimizer)


# ---- metric-driven and averaging ------------------------------------------------------


class ReduceLROnPlateau(PlateauTracker, LRScheduler):
    r"""Divide the rate when a metric stops improving, a drop-in for ``torch.optim.lr_scheduler.ReduceLROnPlateau``.

    ``scheduler.step(metric)`` after each evaluation. The decision is
    :class:`~course_lib.schedules.ReduceOnPlateau`'s (shared through
    :class:`~course_lib.schedules.plateau.PlateauTracker`): after more than
    ``patience`` evaluations without improving on the best by ``threshold``,
    every group's rate becomes :math:`\max(\gamma\cdot\text{factor},
    \text{min\_lr})` (skipped when that changes it by ``eps`` or less), and the
    next ``cooldown`` evaluations are ignored. A param group added later gets
    the scalar ``min_lr``; with a list of them, extend ``min_lrs`` yourself.

    Args:
        optimizer: the optimizer to drive.
        mode: ``"min"`` (a loss, default) or ``"max"`` (an accuracy).
        factor: the multiplier of a reduction, < 1 (default 0.1).
        patience: evaluations without improvement tolerated (default 10).
        threshold: how much better counts as better (default 1e-4).
        threshold_mode: ``"rel"`` (default) or ``"abs"``.
        cooldown: evaluations ignored after a reduction (default 0).
        min_lr: lower bound on the rate, or one per group (default 0).
        eps: smaller reductions are skipped (default 1e-8).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        check_plateau_settings(mode, threshold_mode, factor)
        _require_optimizer(optimizer)
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = group_values(optimizer)
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.reset_plateau()

    def step(self, metrics: SupportsFloat, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record one evaluation of the metric (a float or a 0-dim tensor) and reduce the rates if it has plateaued."""
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(torch_schedulers.EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self.plateau_reached(float(metrics)):
            self._reduce_lr()
        self._last_lr = group_values(self.optimizer)

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"The number of param groups in the `optimizer` ({len(groups)}) differs from when "
                    f"`ReduceLROnPlateau` was initialized ({len(self.min_lrs)}), usually due to a new param group "
                    "being added to the optimizer. Please modify the `min_lrs` field to match the length of the "
                    "`optimizer` param groups."
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs, strict=True):
            current = float(group["lr"])
            new = reduced_lr(current, self.factor, min_lr, self.eps)
            if new != current:
                set_group_value(group, "lr", new)


def _linear_weight(t: float) -> float:
    return t


def _cosine_weight(t: float) -> float:
    return (1 - math.cos(math.pi * t)) / 2


_SWA_WEIGHTS = {"linear": _linear_weight, "cos": _cosine_weight}


class SWALR(_Scheduler):
    r"""Anneal each group's rate to ``swa_lr`` over ``anneal_epochs``, then hold it, a drop-in for ``torch.optim.swa_utils.SWALR``.

    For stochastic weight averaging (Izmailov et al., 2018): the rate settles at
    a constant ``swa_lr`` while the weights along the way are averaged. With
    :math:`\alpha_k = w(\min(1, k / K))`, :math:`w(u) = u` (``"linear"``) or
    :math:`(1 - \cos \pi u)/2` (``"cos"``), step :math:`k` sets

    .. math:: \gamma_k = \alpha_k\, \text{swa\_lr} + (1 - \alpha_k)\, \gamma_{\text{start}}

    where :math:`\gamma_{\text{start}}` is the rate when the annealing began. As
    torch, it is not stored: each step recovers it from the current rate by
    undoing the previous interpolation,
    :math:`\gamma_{\text{start}} = (\gamma_{k-1} - \alpha_{k-1} \text{swa\_lr}) / (1 - \alpha_{k-1})`,
    so it starts from whatever rate another scheduler left.

    Args:
        optimizer: the optimizer to drive.
        swa_lr: the final rate, or one per group.
        anneal_epochs: :math:`K`, steps of annealing (an integer >= 0, default 10).
        anneal_strategy: ``"cos"`` (default) or ``"linear"``.
        last_epoch: the index of the last step taken (default -1).
    """

    def __init__(self, optimizer: Optimizer, swa_lr: float | Sequence[float], anneal_epochs: int = 10,
                 anneal_strategy: Literal["cos", "linear"] = "cos", last_epoch: int = -1) -> None:
        for rate, group in zip(per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups, strict=True):
            group["swa_lr"] = rate
        if anneal_strategy not in _SWA_WEIGHTS:
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_strategy = anneal_strategy
        if isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _weight(self, step: int) -> float:
        return _SWA_WEIGHTS[self._anneal_strategy](max(0, min(1, step / max(1, self.anneal_epochs))))

    def get_lr(self) -> list[Rate]:
        self._warn_outside_step()
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        previous, current = self._weight(step - 1), self._weight(step)
        lrs = []
        for group in self.optimizer.param_groups:
            swa_lr = group["swa_lr"]
            start = swa_lr if previous == 1 else (group["lr"] - previous * swa_lr) / (1 - previous)
            lrs.append(swa_lr * current + start * (1 - current))
        return lrs
