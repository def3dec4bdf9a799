r"""Learning-rate schedules as pure functions of the step (chapter 6).

Every factory here returns a :class:`Schedule`: a frozen callable mapping a step
counter :math:`t = 0, 1, 2, \dots` to a learning rate :math:`\gamma_t`. Nothing
inside changes when you call it, so ``schedule(t)`` can be evaluated in any
order, plotted, or compared with ``torch.optim.lr_scheduler`` value by value.
The one exception is :class:`ReduceOnPlateau`, whose next rate depends on the
metrics it has seen; it is a small object with explicit state instead.

Two ways to drive an optimizer with a schedule (ours or torch's):

* by hand: ``set_lr(optimizer, schedule(t))`` before step ``t``;
* through torch: ``lambda_lr(optimizer, schedule)`` builds a
  ``torch.optim.lr_scheduler.LambdaLR`` whose learning rate after ``t`` calls of
  ``scheduler.step()`` is ``schedule(t)``. :func:`as_lambda` gives the
  multiplier ``t -> schedule(t) / base_lr`` that ``LambdaLR`` expects.

What "a step" counts is your choice, and torch's defaults differ by scheduler:
``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``CosineAnnealingLR``,
``LinearLR`` and ``ReduceLROnPlateau`` are usually stepped once per *epoch*;
``CyclicLR`` and ``OneCycleLR`` are meant to be stepped once per *batch*
(their documentation says so, and their sizes are counted in batches).

How exactly these functions agree with torch (see ``tests/test_schedules.py``):

* exactly equal: :func:`cyclic`, :func:`one_cycle`, :class:`ReduceOnPlateau`
  (torch evaluates the same closed form, or the same single multiplication);
* equal to float64 rounding (relative error below ``1e-12`` over hundreds of
  steps): :func:`step_decay`, :func:`multi_step_decay`,
  :func:`exponential_decay`, :func:`linear_warmup`, :func:`cosine_annealing`,
  :func:`warmup_cosine`. Torch's schedulers are *chainable*: each step multiplies
  the current ``group["lr"]`` by a factor, so after :math:`t` steps the value is a
  product of :math:`t` rounded numbers, while the closed forms here round once.
* through ``LambdaLR``: ``base_lr * (schedule(t) / base_lr)``, within one or two
  units in the last place of ``schedule(t)``.
"""

from __future__ import annotations

import bisect
import copy
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from torch.optim.lr_scheduler import LambdaLR

__all__ = [
    "Schedule",
    "constant",
    "step_decay",
    "multi_step_decay",
    "exponential_decay",
    "natural_exp_decay",
    "inverse_time_decay",
    "cosine_annealing",
    "linear_warmup",
    "warmup_cosine",
    "cyclic",
    "one_cycle",
    "ReduceOnPlateau",
    "as_lambda",
    "lambda_lr",
    "set_lr",
    "plot_schedules",
    "LRFinderResult",
    "lr_finder",
]


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule: a pure function ``step -> lr`` that shows its settings.

    Build one with a factory (:func:`step_decay`, :func:`cosine_annealing`, ...)
    rather than directly.

    Attributes:
        name: the factory's name, used in ``repr`` and plot legends.
        settings: the arguments the factory was called with.
        rule: the formula, a function of an integer step ``>= 0``.

    Example:
        >>> s = step_decay(0.1, step_size=30)
        >>> s(0), s(30)
        (0.1, 0.010000000000000002)
    """

    name: str
    settings: Mapping[str, Any] = field(hash=False)
    rule: Callable[[int], float] = field(repr=False, compare=False)

    def __call__(self, step: int) -> float:
        step = operator.index(step)
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        return float(self.rule(step))

    def values(self, num_steps: int) -> list[float]:
        """The learning rates at steps ``0, 1, ..., num_steps - 1``."""
        return [self(step) for step in range(num_steps)]

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.settings.items())
        return f"{self.name}({arguments})"


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def _check_lr(name: str, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def constant(lr: float) -> Schedule:
    r"""The constant schedule :math:`\gamma_t = \gamma_0`, the baseline every plot needs.

    Args:
        lr: the learning rate :math:`\gamma_0`.

    Returns:
        A :class:`Schedule`.
    """
    _check_lr("lr", lr)
    return Schedule("constant", {"lr": lr}, lambda step: lr)


def step_decay(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    r"""Step decay: multiply the rate by ``gamma`` every ``step_size`` steps.

    .. math:: \gamma_t = \gamma_0 \cdot \text{gamma}^{\lfloor t / \text{step\_size} \rfloor}

    Matches ``torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma)``,
    which is stepped once per epoch; torch reaches the same value by multiplying
    the current rate by ``gamma`` at each multiple of ``step_size`` (equal up to
    float rounding).

    Args:
        lr: the initial learning rate :math:`\gamma_0`.
        step_size: steps between two decays.
        gamma: the factor applied at each decay (default 0.1).

    Returns:
        A :class:`Schedule`.

    Example:
        >>> [round(v, 6) for v in step_decay(1.0, step_size=2, gamma=0.5).values(5)]
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    _check_lr("lr", lr)
    _check_positive("step_size", step_size)

    def rule(step: int) -> float:
        return lr * gamma ** (step // step_size)

    return Schedule("step_decay", {"lr": lr, "step_size": step_size, "gamma": gamma}, rule)


def multi_step_decay(lr: float, milestones: Iterable[int], gamma: float = 0.1) -> Schedule:
    r"""Multi-step decay: multiply the rate by ``gamma`` at each milestone.

    .. math:: \gamma_t = \gamma_0 \cdot \text{gamma}^{\#\{m \in \text{milestones} : m \le t\}}

    Matches ``torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma)``
    (stepped per epoch), including its rule that a milestone listed twice decays
    twice.

    Args:
        lr: the initial learning rate :math:`\gamma_0`.
        milestones: the steps at which the rate drops; any order.
        gamma: the factor applied at each milestone (default 0.1).

    Returns:
        A :class:`Schedule`.

    Example:
        >>> multi_step_decay(1.0, [2, 4], gamma=0.5).values(5)
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    _check_lr("lr", lr)
    sorted_milestones = sorted(milestones)

    def rule(step: int) -> float:
        return lr * gamma ** bisect.bisect_right(sorted_milestones, step)

    return Schedule(
        "multi_step_decay", {"lr": lr, "milestones": sorted_milestones, "gamma": gamma}, rule
    )


def exponential_decay(lr: float, gamma: float) -> Schedule:
    r"""Exponential decay in torch's form: multiply the rate by ``gamma`` every step.

    .. math:: \gamma_t = \gamma_0 \cdot \text{gamma}^{t}

    This is the textbook form :math:`\gamma_0 e^{-k t}` (:func:`natural_exp_decay`)
    with :math:`\text{gamma} = e^{-k}`, i.e. :math:`k = -\ln \text{gamma}`.
    Matches ``torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)``
    (stepped per epoch), which multiplies the current rate by ``gamma`` each step.

    Args:
        lr: the initial learning rate :math:`\gamma_0`.
        gamma: the factor per step, in ``(0, 1]`` for a decay.

    Returns:
        A :class:`Schedule`.

    Example:
        >>> exponential_decay(1.0, gamma=0.5).values(3)
        [1.0, 0.5, 0.25]
    """
    _check_lr("lr", lr)
    _check_positive("gamma", gamma)

    def rule(step: int) -> float:
        return lr * gamma**step

    return Schedule("exponential_decay", {"lr": lr, "gamma": gamma}, rule)


def natural_exp_decay(lr: float, k: float) -> Schedule:
    r"""Exponential decay in the textbook form :math:`\gamma_0 e^{-k t}`.

    .. math:: \gamma_t = \gamma_0 \, e^{-k t}

    The same schedule as ``exponential_decay(lr, gamma=math.exp(-k))``, up to
    float rounding; torch has no scheduler with this parametrization, so use
    ``ExponentialLR(optimizer, gamma=math.exp(-k))``.

    Args:
        lr: the initial learning rate :math:`\gamma_0`.
        k: the decay rate per step (``k >= 0``); the rate halves every
            :math:`\ln 2 / k` steps.

    Returns:
        A :class:`Schedule`.
    """
    _check_lr("lr", lr)
    _check_lr("k", k)

    def rule(step: int) -> float:
        return lr * math.exp(-k * step)

    return Schedule("natural_exp_decay", {"lr": lr, "k": k}, rule)


def inverse_time_decay(lr: float, k: float, interval: int | None = None) -> Schedule:
    r"""The :math:`1/t` decay :math:`\gamma_0 / (1 + k t)`, optionally as a staircase.

    .. math::
        \gamma_t = \frac{\gamma_0}{1 + k t}
        \qquad\text{or, with an interval,}\qquad
        \gamma_t = \frac{\gamma_0}{1 + k \lfloor t / \text{interval} \rfloor}

    The smooth form decays like :math:`1/t`, the rate for which SGD's classic
    convergence conditions :math:`\sum_t \gamma_t = \infty`,
    :math:`\sum_t \gamma_t^2 < \infty` hold. The staircase form keeps the rate
    constant for ``interval`` steps (an epoch, say) between drops. torch has no
    built-in equivalent; ``lambda_lr(optimizer, inverse_time_decay(...))`` is one.

    Args:
        lr: the initial learning rate :math:`\gamma_0`.
        k: the decay rate (``k >= 0``).
        interval: steps per stair; ``None`` (default) for the smooth form.

    Returns:
        A :class:`Schedule`.

    Example:
        >>> inverse_time_decay(1.0, k=1.0).values(4)
        [1.0, 0.5, 0.3333333333333333, 0.25]
        >>> inverse_time_decay(1.0, k=1.0, interval=2).values(4)
        [1.0, 1.0, 0.5, 0.5]
    """
    _check_lr("lr", lr)
    _check_lr("k", k)
    if interval is not None:
        _check_positive("interval", interval)

    def rule(step: int) -> float:
        t = step if interval is None else step // interval
        return lr / (1.0 + k * t)

    return Schedule("inverse_time_decay", {"lr": lr, "k": k, "interval": interval}, rule)


def cosine_annealing(lr: float, T_max: int, eta_min: float = 0.0) -> Schedule:
    r"""Cosine annealing from ``lr`` down to ``eta_min`` over ``T_max`` steps.

    .. math::
        \gamma_t = \eta_{\min} + \tfrac12 (\gamma_0 - \eta_{\min})
        \Bigl(1 + \cos\bigl(\pi \, t / T_{\max}\bigr)\Bigr)

    This is one cycle of SGDR (Loshchilov & Hutter, 2017, eq. 5) without the
    restarts. Matches ``torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
    T_max, eta_min)`` (stepped per epoch, or per batch when ``T_max`` counts
    batches) up to float rounding: torch updates the rate recursively,
    :math:`\gamma_{t} = \eta_{\min} + (\gamma_{t-1} - \eta_{\min})
    \frac{1 + \cos(\pi t / T_{\max})}{1 + \cos(\pi (t-1) / T_{\max})}`.
    Past ``T_max`` both keep following the cosine, which climbs back to
    ``lr`` at :math:`2 T_{\max}`; stop at ``T_max``, or see :func:`warmup_cosine`.

    Args:
        lr: the initial (largest) learning rate :math:`\gamma_0`.
        T_max: steps from ``lr`` down to ``eta_min``.
        eta_min: the smallest learning rate (default 0).

    Returns:
        A :class:`Schedule`.

    Example:
        >>> s = cosine_annealing(1.0, T_max=10)
        >>> s(0), round(s(5), 12), s(10)
        (1.0, 0.5, 0.0)
    """
    _check_lr("lr", lr)
    _check_positive("T_max", T_max)

    def rule(step: int) -> float:
        return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * step / T_max)) / 2

    return Schedule("cosine_annealing", {"lr": lr, "T_max": T_max, "eta_min": eta_min}, rule)


def linear_warmup(lr: float, warmup_steps: int, start_factor: float = 1.0 / 3) -> Schedule:
    r"""Linear warmup from ``start_factor * lr`` to ``lr`` over ``warmup_steps``, then constant.

    .. math::
        \gamma_t = \gamma_0 \Bigl(s + (1 - s) \frac{\min(t, T_w)}{T_w}\Bigr),
        \quad s = \text{start\_factor},\; T_w = \text{warmup\_steps}

    Goyal et al. (2017, sec. 2.2) ramp the rate up over the first epochs so that
    the large rate of a large batch does not blow up the freshly initialized
    network. Matches ``torch.optim.lr_scheduler.LinearLR(optimizer,
    start_factor, end_factor=1.0, total_iters=warmup_steps)`` up to float
    rounding (torch applies the ramp recursively). Default ``start_factor`` is
    torch's, ``1/3``.

    Args:
        lr: the target learning rate :math:`\gamma_0`, reached at ``warmup_steps``.
        warmup_steps: length of the ramp; ``0`` means no warmup.
        start_factor: the fraction of ``lr`` used at step 0, in ``(0, 1]``.

    Returns:
        A :class:`Schedule`.

    Example:
        >>> linear_warmup(1.0, warmup_steps=4, start_factor=0.2).values(6)
        [0.2, 0.4, 0.6000000000000001, 0.8, 1.0, 1.0]
    """
    _check_lr("lr", lr)
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
    if not 0 < start_factor <= 1:
        raise ValueError(f"start_factor must be in (0, 1], got {start_factor}")

    def rule(step: int) -> float:
        if warmup_steps == 0:
            return lr
        return lr * (start_factor + (1.0 - start_factor) * min(step, warmup_steps) / warmup_steps)

    return Schedule(
        "linear_warmup",
        {"lr": lr, "warmup_steps": warmup_steps, "start_factor": start_factor},
        rule,
    )


def warmup_cosine(
    lr: float,
    warmup_steps: int,
    total_steps: int,
    start_factor: float = 1.0 / 3,
    eta_min: float = 0.0,
) -> Schedule:
    r"""Linear warmup to ``lr``, then cosine annealing to ``eta_min`` at ``total_steps``.

    .. math::
        \gamma_t = \begin{cases}
        \gamma_0 \bigl(s + (1 - s)\, t / T_w\bigr) & t < T_w \\
        \eta_{\min} + \tfrac12 (\gamma_0 - \eta_{\min})
        \bigl(1 + \cos(\pi \frac{t - T_w}{T - T_w})\bigr) & t \ge T_w
        \end{cases}

    The common recipe for transformers and large-batch training (Goyal et al.,
    2017; Loshchilov & Hutter, 2017). In torch it is
    ``SequentialLR(optimizer, [LinearLR(optimizer, start_factor,
    total_iters=warmup_steps), CosineAnnealingLR(optimizer, T_max=total_steps -
    warmup_steps, eta_min=eta_min)], milestones=[warmup_steps])``; equal up to
    float rounding.

    Args:
        lr: the peak learning rate :math:`\gamma_0`, reached at ``warmup_steps``.
        warmup_steps: length of the linear ramp :math:`T_w`.
        total_steps: the step :math:`T` at which the rate reaches ``eta_min``.
        start_factor: the fraction of ``lr`` used at step 0 (default 1/3, as ``LinearLR``).
        eta_min: the final learning rate (default 0).

    Returns:
        A :class:`Schedule`.
    """
    if total_steps <= warmup_steps:
        raise ValueError(
            f"total_steps ({total_steps}) must exceed warmup_steps ({warmup_steps})"
        )
    warmup = linear_warmup(lr, warmup_steps, start_factor)
    anneal = cosine_annealing(lr, total_steps - warmup_steps, eta_min)

    def rule(step: int) -> float:
        return warmup(step) if step < warmup_steps else anneal(step - warmup_steps)

    settings = {
        "lr": lr,
        "warmup_steps": warmup_steps,
        "total_steps": total_steps,
        "start_factor": start_factor,
        "eta_min": eta_min,
    }
    return Schedule("warmup_cosine", settings, rule)


def cyclic(
    base_lr: float,
    max_lr: float,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: Literal["triangular", "triangular2", "exp_range"] = "triangular",
    gamma: float = 1.0,
) -> Schedule:
    r"""Cyclical learning rates: a triangle wave between ``base_lr`` and ``max_lr``.

    With a cycle of :math:`C = \text{up} + \text{down}` steps, cycle number
    :math:`c = \lfloor 1 + t / C \rfloor` and position :math:`x = 1 + t / C - c \in [0, 1)`,

    .. math::
        h = \begin{cases} x / r & x \le r \\ (x - 1)/(r - 1) & x > r \end{cases},
        \quad r = \text{up} / C, \qquad
        \gamma_t = \text{base\_lr} + (\text{max\_lr} - \text{base\_lr})\, h \, s

    where the amplitude scale :math:`s` is 1 (``"triangular"``),
    :math:`2^{-(c - 1)}` (``"triangular2"``: halve the amplitude every cycle) or
    :math:`\text{gamma}^t` (``"exp_range"``). Smith (2017, sec. 3.1). Matches
    ``torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr, max_lr,
    step_size_up, step_size_down, mode, gamma)`` exactly; torch steps it per
    **batch** and by default also cycles momentum inversely (between 0.8 and
    0.9), which a learning-rate schedule does not do.

    Args:
        base_lr: the lower bound of the cycle.
        max_lr: the upper bound, reached ``step_size_up`` steps into a cycle.
        step_size_up: steps from ``base_lr`` to ``max_lr`` (default 2000, as torch).
        step_size_down: steps back down (default ``step_size_up``).
        mode: ``"triangular"`` (default), ``"triangular2"`` or ``"exp_range"``.
        gamma: the per-step factor of ``"exp_range"`` (default 1).

    Returns:
        A :class:`Schedule`.

    Example:
        >>> cyclic(0.0, 1.0, step_size_up=2).values(6)
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.5]
    """
    _check_lr("base_lr", base_lr)
    _check_lr("max_lr", max_lr)
    _check_positive("step_size_up", step_size_up)
    if step_size_down is None:
        step_size_down = step_size_up
    _check_positive("step_size_down", step_size_down)
    if mode not in ("triangular", "triangular2", "exp_range"):
        raise ValueError(f"mode must be 'triangular', 'triangular2' or 'exp_range', got {mode!r}")
    cycle_length = float(step_size_up) + float(step_size_down)
    up_fraction = step_size_up / cycle_length

    def rule(step: int) -> float:
        cycle = math.floor(1 + step / cycle_length)
        position = 1.0 + step / cycle_length - cycle
        if position <= up_fraction:
            height = position / up_fraction
        else:
            height = (position - 1) / (up_fraction - 1)
        if mode == "triangular":
            scale = 1.0
        elif mode == "triangular2":
            scale = 1 / (2.0 ** (cycle - 1))
        else:
            scale = gamma**step
        return base_lr + (max_lr - base_lr) * height * scale

    settings = {
        "base_lr": base_lr,
        "max_lr": max_lr,
        "step_size_up": step_size_up,
        "step_size_down": step_size_down,
        "mode": mode,
        "gamma": gamma,
    }
    return Schedule("cyclic", settings, rule)


def _cosine_between(start: float, end: float, fraction: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)


def _linear_between(start: float, end: float, fraction: float) -> float:
    return (end - start) * fraction + start


def one_cycle(
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: Literal["cos", "linear"] = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Schedule:
    r"""The one-cycle policy: up to ``max_lr``, then far below the starting rate.

    With :math:`\gamma_{\text{start}} = \text{max\_lr} / \text{div\_factor}` and
    :math:`\gamma_{\text{end}} = \gamma_{\text{start}} / \text{final\_div\_factor}`,
    the rate is annealed (cosine or linear) through phases that end at steps

    * two phases (default, fastai's variant): :math:`\gamma_{\text{start}} \to
      \text{max\_lr}` until :math:`p T - 1`, then :math:`\text{max\_lr} \to
      \gamma_{\text{end}}` until :math:`T - 1`;
    * ``three_phase=True`` (the paper's shape): up until :math:`pT - 1`, back
      down to :math:`\gamma_{\text{start}}` until :math:`2pT - 2`, then to
      :math:`\gamma_{\text{end}}` until :math:`T - 1`;

    with :math:`p = \text{pct\_start}`, :math:`T = \text{total\_steps}`. Within a
    phase from :math:`a` to :math:`b` at fraction :math:`f` of it, cosine
    annealing gives :math:`b + \frac{a - b}{2}(1 + \cos \pi f)`, linear gives
    :math:`a + (b - a) f`. Smith & Topin (2019). Matches
    ``torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr, total_steps, ...)``
    exactly. Torch steps it per **batch**, raises after ``total_steps`` steps,
    and by default also cycles momentum (0.95 to 0.85 and back), which this
    function leaves out.

    Args:
        max_lr: the peak learning rate.
        total_steps: steps in the whole cycle (epochs times batches per epoch).
        pct_start: fraction of the steps spent increasing the rate (default 0.3).
        anneal_strategy: ``"cos"`` (default) or ``"linear"``.
        div_factor: ``max_lr / div_factor`` is the starting rate (default 25).
        final_div_factor: the starting rate divided by this is the final rate
            (default 1e4).
        three_phase: use the paper's three phases (default ``False``).

    Returns:
        A :class:`Schedule` defined for steps ``0 .. total_steps``.

    Example:
        >>> s = one_cycle(1.0, total_steps=10, pct_start=0.5, div_factor=10.0)
        >>> round(s(0), 12), s(4)
        (0.1, 1.0)
    """
    _check_lr("max_lr", max_lr)
    _check_positive("total_steps", total_steps)
    if not 0 <= pct_start <= 1:
        raise ValueError(f"pct_start must be in [0, 1], got {pct_start}")
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    anneal = _cosine_between if anneal_strategy == "cos" else _linear_between
    # (last step of the phase, rate at its start, rate at its end)
    if three_phase:
        phases = [
            (float(pct_start * total_steps) - 1, initial_lr, max_lr),
            (float(2 * pct_start * total_steps) - 2, max_lr, initial_lr),
            (total_steps - 1, initial_lr, min_lr),
        ]
    else:
        phases = [
            (float(pct_start * total_steps) - 1, initial_lr, max_lr),
            (total_steps - 1, max_lr, min_lr),
        ]

    def rule(step: int) -> float:
        if step > total_steps:
            raise ValueError(f"one_cycle is defined up to step {total_steps}, got {step}")
        phase_start = 0.0
        for index, (phase_end, start_lr, end_lr) in enumerate(phases):
            if step <= phase_end or index == len(phases) - 1:
                fraction = (step - phase_start) / (phase_end - phase_start)
                return anneal(start_lr, end_lr, fraction)
            phase_start = phase_end
        raise AssertionError("unreachable")

    settings = {
        "max_lr": max_lr,
        "total_steps": total_steps,
        "pct_start": pct_start,
        "anneal_strategy": anneal_strategy,
        "div_factor": div_factor,
        "final_div_factor": final_div_factor,
        "three_phase": three_phase,
    }
    return Schedule("one_cycle", settings, rule)


class ReduceOnPlateau:
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
    computes the rate, apply it with :func:`set_lr`.

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
        _check_lr("lr", lr)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if factor >= 1.0:
            raise ValueError(f"factor must be < 1, got {factor}")
        self.lr = lr
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.eps = eps
        self.best = math.inf if mode == "min" else -math.inf
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

    def step(self, metric: float | torch.Tensor) -> float:
        """Record one evaluation of the metric and return the learning rate to use next."""
        metric = float(metric)
        if self.is_better(metric, self.best):
            self.best = metric
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            reduced = max(self.lr * self.factor, self.min_lr)
            if self.lr - reduced > self.eps:
                self.lr = reduced
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.lr

    def __repr__(self) -> str:
        return (
            f"ReduceOnPlateau(lr={self.lr!r}, mode={self.mode!r}, factor={self.factor!r}, "
            f"patience={self.patience!r}, best={self.best!r}, num_bad_epochs={self.num_bad_epochs})"
        )


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
    _check_positive("base_lr", base_lr)

    def multiplier(step: int) -> float:
        return schedule(step) / base_lr

    return multiplier


def lambda_lr(optimizer: torch.optim.Optimizer, schedule: Callable[[int], float]) -> LambdaLR:
    """A ``torch.optim.lr_scheduler.LambdaLR`` that drives every group of ``optimizer`` by ``schedule``.

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
    """Set the learning rate of every parameter group of ``optimizer`` to ``lr``."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def plot_schedules(
    schedules: Mapping[str, Callable[[int], float]] | Sequence[Schedule],
    num_steps: int,
    ax: Axes | None = None,
    log: bool = False,
) -> Axes:
    """Plot several schedules on one figure, learning rate against step.

    Args:
        schedules: ``{label: schedule}``, or a list of :class:`Schedule`
            (labelled by their ``repr``).
        num_steps: steps ``0 .. num_steps - 1`` are drawn.
        ax: axes to draw on (default: a new figure).
        log: logarithmic learning-rate axis (default ``False``).

    Returns:
        The axes.
    """
    if not isinstance(schedules, Mapping):
        schedules = {repr(schedule): schedule for schedule in schedules}
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    steps = np.arange(num_steps)
    for label, schedule in schedules.items():
        ax.plot(steps, [schedule(int(step)) for step in steps], label=label, linewidth=1.8)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.grid(True, alpha=0.3)
    if len(schedules) > 3:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.figure.tight_layout()
    else:
        ax.legend(fontsize="small")
    return ax


@dataclass
class LRFinderResult:
    """What :func:`lr_finder` saw: one entry per step it ran.

    Attributes:
        lrs: the learning rate of each step.
        losses: the training loss of each step's batch (before the update).
        smoothed_losses: bias-corrected exponential moving average of ``losses``.
        suggested_lr: where the smoothed loss falls fastest per decade of
            learning rate, before its minimum (the rule is in :func:`lr_finder`);
            always one of ``lrs`` unless the run was too short to judge.
        min_loss_lr: the learning rate at the smallest smoothed loss; the
            classic rule of thumb picks ``min_loss_lr / 10``.
        diverged: whether the search stopped because the loss blew up.
    """

    lrs: list[float]
    losses: list[float]
    smoothed_losses: list[float]
    suggested_lr: float
    min_loss_lr: float
    diverged: bool

    def plot(self, ax: Axes | None = None) -> Axes:
        """Plot loss against learning rate (log axis), marking the suggested rate."""
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        ax.plot(self.lrs, self.losses, color="0.75", linewidth=1, label="loss per batch")
        ax.plot(self.lrs, self.smoothed_losses, color="C0", linewidth=2, label="smoothed loss")
        index = int(np.argmin(np.abs(np.log(self.lrs) - math.log(self.suggested_lr))))
        ax.axvline(self.suggested_lr, color="C3", linestyle="--", linewidth=1)
        ax.plot(
            [self.lrs[index]],
            [self.smoothed_losses[index]],
            "o",
            color="C3",
            label=f"steepest descent: lr = {self.suggested_lr:.2g}",
        )
        ax.axvline(
            self.min_loss_lr / 10,
            color="C2",
            linestyle=":",
            linewidth=1.2,
            label=f"min loss / 10: lr = {self.min_loss_lr / 10:.2g}",
        )
        ax.set_xscale("log")
        finite = [loss for loss in self.smoothed_losses if math.isfinite(loss)]
        if finite:
            # The last points blow up; clip the view so the useful part fills it.
            low, high = min(finite), min(max(finite), 2 * max(finite[: max(1, len(finite) - 3)]))
            margin = 0.05 * (high - low if high > low else 1.0)
            ax.set_ylim(low - margin, high + margin)
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("training loss")
        ax.set_title("learning-rate range test")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small")
        return ax


def _suggest(lrs: list[float], smoothed: list[float], skip: int) -> tuple[float, float]:
    finite = [i for i, loss in enumerate(smoothed) if math.isfinite(loss)]
    best = min(finite, key=lambda i: smoothed[i]) if finite else 0
    min_loss_lr = lrs[best]
    half_width = max(1, best // 10)
    candidates = range(max(skip, half_width), best - half_width + 1)
    if len(candidates) == 0:
        return min_loss_lr / 10, min_loss_lr
    log_lrs = np.log10(np.asarray(lrs))
    values = np.asarray(smoothed)
    slopes = [
        (values[i + half_width] - values[i - half_width])
        / (log_lrs[i + half_width] - log_lrs[i - half_width])
        for i in candidates
    ]
    return lrs[candidates[int(np.argmin(slopes))]], min_loss_lr


def lr_finder(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    smooth: float = 0.98,
    diverge_factor: float = 4.0,
) -> LRFinderResult:
    r"""The learning-rate range test: train briefly with an exponentially growing rate.

    Step :math:`i` uses

    .. math:: \gamma_i = \text{start\_lr} \cdot
        (\text{end\_lr} / \text{start\_lr})^{i / (\text{num\_steps} - 1)}

    and records the batch loss. The loss is smoothed by a bias-corrected moving
    average, :math:`\bar\ell_i = \frac{m_i}{1 - \text{smooth}^{i+1}}` with
    :math:`m_i = \text{smooth}\, m_{i-1} + (1 - \text{smooth})\,\ell_i`, and the
    test stops early once :math:`\bar\ell_i > \text{diverge\_factor} \cdot
    \min_{j \le i} \bar\ell_j` or the loss is not finite.

    The suggested rate is where the smoothed loss falls fastest per decade of
    learning rate, :math:`\arg\min_i d\bar\ell / d\log_{10}\gamma`. The slope is
    a central difference over :math:`\pm w` steps, :math:`w` a tenth of the
    steps before the minimum of :math:`\bar\ell` (a one-step difference of a
    noisy curve picks noise); the search skips the first ``num_steps // 10``
    steps, where the moving average is still settling, and stops :math:`w`
    before the minimum, so the blow-up cannot be picked. Where no such window
    exists it falls back to ``min_loss_lr / 10``, the other common rule of
    thumb; both are returned and plotted. Smith (2017, sec. 3.3) introduced the range test
    (linearly increasing); the exponential sweep with smoothing is fastai's.

    The model's parameters and buffers, its train/eval mode, and the optimizer's
    state and learning rates are restored afterwards; gradients are cleared.

    Args:
        model: the network to probe (its parameters are what ``optimizer`` updates).
        optimizer: any ``torch.optim.Optimizer``; every group gets the same rate.
        loss_fn: ``loss_fn(model(inputs), targets)`` gives a scalar loss.
        batches: an iterable of ``(inputs, targets)``; iterated again from the
            start if it runs out before ``num_steps`` (a list or a DataLoader).
        start_lr: the first learning rate (default 1e-7).
        end_lr: the last learning rate (default 10).
        num_steps: the most steps to run (default 100).
        smooth: moving-average factor for the loss (default 0.98).
        diverge_factor: stop when the smoothed loss exceeds this many times its
            minimum (default 4).

    Returns:
        An :class:`LRFinderResult`; ``.plot()`` draws loss against learning rate.

    Example:
        >>> result = lr_finder(model, torch.optim.SGD(model.parameters(), lr=0.1),
        ...                    torch.nn.functional.mse_loss, batches)  # doctest: +SKIP
        >>> result.suggested_lr  # doctest: +SKIP
    """
    _check_positive("start_lr", start_lr)
    if not end_lr > start_lr:
        raise ValueError(f"end_lr ({end_lr}) must exceed start_lr ({start_lr})")
    if num_steps < 2:
        raise ValueError(f"num_steps must be >= 2, got {num_steps}")
    if not 0 <= smooth < 1:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")

    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else None

    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    average = 0.0
    best = math.inf
    diverged = False
    growth = (end_lr / start_lr) ** (1 / (num_steps - 1))
    model.train()
    try:
        iterator = iter(batches)
        for step in range(num_steps):
            try:
                inputs, targets = next(iterator)
            except StopIteration:
                iterator = iter(batches)
                try:
                    inputs, targets = next(iterator)
                except StopIteration:
                    break
            if device is not None:
                inputs, targets = inputs.to(device), targets.to(device)
            lr = start_lr * growth**step
            set_lr(optimizer, lr)
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()

            value = float(loss.detach())
            average = smooth * average + (1 - smooth) * value
            smoothed_value = average / (1 - smooth ** (step + 1))
            lrs.append(lr)
            losses.append(value)
            smoothed.append(smoothed_value)
            if not math.isfinite(smoothed_value) or smoothed_value > diverge_factor * best:
                diverged = True
                break
            best = min(best, smoothed_value)
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        optimizer.zero_grad(set_to_none=True)
        model.train(was_training)

    if not lrs:
        raise ValueError("batches yielded no data")
    suggested_lr, min_loss_lr = _suggest(lrs, smoothed, skip=num_steps // 10)
    return LRFinderResult(lrs, losses, smoothed, suggested_lr, min_loss_lr, diverged)
