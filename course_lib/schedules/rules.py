r"""Learning-rate schedules as pure functions of the step (chapter 6).

Every factory here returns a :class:`Schedule`: a frozen callable mapping a step
counter :math:`t = 0, 1, 2, \dots` to a learning rate :math:`\gamma_t`. Nothing
inside changes when you call it, so ``schedule(t)`` can be evaluated in any
order, plotted, or compared with ``torch.optim.lr_scheduler`` value by value.
(:class:`~course_lib.schedules.plateau.ReduceOnPlateau`, whose next rate depends on
the metrics it has seen, lives in its own module.)

To drive an optimizer with a schedule see :mod:`~course_lib.schedules.lambda_lr`;
for torch's scheduler classes themselves see :mod:`~course_lib.schedules.schedulers`,
whose closed forms are the functions ``*_at`` of this module (a rate, a step and the
settings in, a rate out; the rate may be a 0-dim tensor), so that a formula is
written once.

What "a step" counts is your choice, and torch's defaults differ by scheduler:
``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``CosineAnnealingLR``,
``LinearLR`` and ``ReduceLROnPlateau`` are usually stepped once per *epoch*;
``CyclicLR`` and ``OneCycleLR`` are meant to be stepped once per *batch*
(their documentation says so, and their sizes are counted in batches).

How exactly these functions agree with torch (see ``tests/test_schedules.py``):

* exactly equal: :func:`cyclic`, :func:`one_cycle`, :func:`cosine_warm_restarts`,
  ``ReduceOnPlateau`` (torch evaluates the same closed form, or the same single
  multiplication);
* equal to float64 rounding (relative error below ``1e-12`` over hundreds of
  steps): :func:`step_decay`, :func:`multi_step_decay`,
  :func:`exponential_decay`, :func:`constant_warmup`, :func:`linear_schedule`,
  :func:`linear_warmup`, :func:`polynomial_decay`, :func:`cosine_annealing`,
  :func:`warmup_cosine`. Torch's schedulers are *chainable*: each step multiplies
  the current ``group["lr"]`` by a factor, so after :math:`t` steps the value is a
  product of :math:`t` rounded numbers, while the closed forms here round once.
  (They equal torch's own closed forms, used by ``scheduler.step(epoch)``, exactly.)
* through ``LambdaLR``: ``base_lr * (schedule(t) / base_lr)``, within one or two
  units in the last place of ``schedule(t)``.
"""

from __future__ import annotations

import bisect
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    import torch

Rate = TypeVar("Rate", float, "torch.Tensor")

__all__ = [
    "Schedule",
    "constant",
    "step_decay",
    "multi_step_decay",
    "exponential_decay",
    "natural_exp_decay",
    "inverse_time_decay",
    "constant_warmup",
    "linear_schedule",
    "linear_warmup",
    "polynomial_decay",
    "cosine_annealing",
    "cosine_warm_restarts",
    "warmup_cosine",
    "cyclic",
    "one_cycle",
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


def check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def check_lr(name: str, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


# ---- closed forms, shared with the torch drop-ins --------------------------------------
# Written with torch's operations in torch's order: with the same inputs, the same floats.


def step_decay_at(lr: Rate, step: int, step_size: int, gamma: float) -> Rate:
    r""":math:`\gamma_0 \cdot \text{gamma}^{\lfloor t / \text{step\_size} \rfloor}`."""
    return lr * gamma ** (step // step_size)


def multi_step_decay_at(lr: Rate, step: int, sorted_milestones: Sequence[int], gamma: float) -> Rate:
    r""":math:`\gamma_0 \cdot \text{gamma}^{\#\{m \le t\}}`, milestones sorted, repeats counted."""
    return lr * gamma ** bisect.bisect_right(sorted_milestones, step)


def exponential_decay_at(lr: Rate, step: int, gamma: float) -> Rate:
    r""":math:`\gamma_0 \cdot \text{gamma}^t`."""
    return lr * gamma**step


def constant_warmup_at(lr: Rate, step: int, total_steps: int, factor: float) -> Rate:
    r""":math:`\gamma_0 \cdot \text{factor}` before ``total_steps``, :math:`\gamma_0` from then on."""
    return lr * (factor + (step >= total_steps) * (1 - factor))


def linear_at(lr: Rate, step: int, total_steps: int, start_factor: float, end_factor: float) -> Rate:
    r""":math:`\gamma_0 (s + (e - s) \min(t, T) / T)`: the factor moves linearly from ``start_factor`` to ``end_factor``."""
    return lr * (start_factor + (end_factor - start_factor) * min(total_steps, step) / total_steps)


def polynomial_decay_at(lr: Rate, step: int, total_steps: int, power: float) -> Rate:
    r""":math:`\gamma_0 (1 - \min(t, T) / T)^{p}`."""
    return lr * (1.0 - min(total_steps, step) / total_steps) ** power


def cosine_annealing_at(lr: Rate, step: float, T_max: float, eta_min: float) -> Rate:
    r""":math:`\eta_{\min} + (\gamma_0 - \eta_{\min})(1 + \cos(\pi t / T_{\max}))/2`; ``step`` may be fractional."""
    return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * step / T_max)) / 2


def warm_restart_position(step: int, T_0: int, T_mult: int) -> tuple[int, int]:
    r"""``(T_cur, T_i)``: steps into the current cycle of SGDR, and that cycle's length.

    Cycles last :math:`T_0, T_0 T_{\text{mult}}, T_0 T_{\text{mult}}^2, \dots` steps;
    counted in integers, so a restart lands exactly on its step.
    """
    cycle_start, cycle_length = 0, T_0
    while step >= cycle_start + cycle_length:
        cycle_start += cycle_length
        cycle_length *= T_mult
    return step - cycle_start, cycle_length


def cycle_position(step: int, cycle_length: float, up_fraction: float) -> tuple[int, float]:
    r"""``(c, h)``: the cycle number :math:`c \ge 1` of ``step`` and the height :math:`h \in [0, 1]` of the triangle there."""
    cycle = math.floor(1 + step / cycle_length)
    position = 1.0 + step / cycle_length - cycle
    if position <= up_fraction:
        return cycle, position / up_fraction
    return cycle, (position - 1) / (up_fraction - 1)


def cyclic_amplitude(mode: str, gamma: float = 1.0) -> tuple[Callable[[float], float], str]:
    r"""The amplitude scale of a built-in cyclic mode, and what it is a function of.

    ``"triangular"``: 1; ``"triangular2"``: :math:`2^{-(c-1)}` of the cycle
    :math:`c`; ``"exp_range"``: :math:`\text{gamma}^t` of the step :math:`t`.

    Returns:
        ``(scale, "cycle" or "iterations")``.
    """
    if mode == "triangular":
        return (lambda cycle: 1.0), "cycle"
    if mode == "triangular2":
        return (lambda cycle: 1 / (2.0 ** (cycle - 1))), "cycle"
    if mode == "exp_range":
        return (lambda step: gamma**step), "iterations"
    raise ValueError(f"mode must be 'triangular', 'triangular2' or 'exp_range', got {mode!r}")


def cyclic_at(start: Rate, peak: Rate, height: float, scale: float) -> Rate:
    r""":math:`a + (b - a)\, h\, s`: from ``start`` towards ``peak`` by the height :math:`h` of the triangle, scaled by :math:`s`."""
    return start + (peak - start) * height * scale


def cosine_anneal(start: Rate, end: Rate, fraction: float) -> Rate:
    r""":math:`b + \frac{a - b}{2}(1 + \cos \pi f)`: from ``start`` at :math:`f = 0` to ``end`` at :math:`f = 1`."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)


def linear_anneal(start: Rate, end: Rate, fraction: float) -> Rate:
    r""":math:`a + (b - a) f`."""
    return (end - start) * fraction + start


ANNEAL = {"cos": cosine_anneal, "linear": linear_anneal}

OneCyclePhase = tuple[float, str, str]


def one_cycle_phases(total_steps: int, pct_start: float, three_phase: bool) -> list[OneCyclePhase]:
    """The phases of the one-cycle policy: ``(last step, start, end)``, the rates named ``"initial"``, ``"max"``, ``"min"``."""
    if three_phase:
        return [
            (float(pct_start * total_steps) - 1, "initial", "max"),
            (float(2 * pct_start * total_steps) - 2, "max", "initial"),
            (total_steps - 1, "initial", "min"),
        ]
    return [
        (float(pct_start * total_steps) - 1, "initial", "max"),
        (total_steps - 1, "max", "min"),
    ]


def one_cycle_phase_at(step: int, phase_ends: Sequence[float], total_steps: int) -> tuple[int, float]:
    """``(phase, fraction)``: which phase ``step`` is in and how far into it, as torch's ``OneCycleLR`` finds them."""
    if step > total_steps:
        raise ValueError(
            f"the one-cycle schedule is defined up to step {total_steps} (its total_steps), got step {step}"
        )
    phase_start = 0.0
    for index, phase_end in enumerate(phase_ends):
        if step <= phase_end or index == len(phase_ends) - 1:
            return index, (step - phase_start) / (phase_end - phase_start)
        phase_start = phase_end
    raise AssertionError("unreachable: the last phase takes every step")


def resolve_total_steps(total_steps: int | None, epochs: int | None, steps_per_epoch: int | None) -> int:
    """``total_steps``, or ``epochs * steps_per_epoch``, validated as torch's ``OneCycleLR`` does."""
    if total_steps is not None:
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
        return total_steps
    if epochs is not None and steps_per_epoch is not None:
        for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Expected positive integer {name}, but got {value}")
        return epochs * steps_per_epoch
    raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")


def constant(lr: float) -> Schedule:
    r"""The constant schedule :math:`\gamma_t = \gamma_0`, the baseline every plot needs.

    Args:
        lr: the learning rate :math:`\gamma_0`.

    Returns:
        A :class:`Schedule`.
    """
    check_lr("lr", lr)
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
    check_lr("lr", lr)
    check_positive("step_size", step_size)

    def rule(step: int) -> float:
        return step_decay_at(lr, step, step_size, gamma)

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
    check_lr("lr", lr)
    sorted_milestones = sorted(milestones)

    def rule(step: int) -> float:
        return multi_step_decay_at(lr, step, sorted_milestones, gamma)

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
    check_lr("lr", lr)
    check_positive("gamma", gamma)

    def rule(step: int) -> float:
        return exponential_decay_at(lr, step, gamma)

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
    check_lr("lr", lr)
    check_lr("k", k)

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
    check_lr("lr", lr)
    check_lr("k", k)
    if interval is not None:
        check_positive("interval", interval)

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
    check_lr("lr", lr)
    check_positive("T_max", T_max)

    def rule(step: int) -> float:
        return cosine_annealing_at(lr, step, T_max, eta_min)

    return Schedule("cosine_annealing", {"lr": lr, "T_max": T_max, "eta_min": eta_min}, rule)


def constant_warmup(lr: float, warmup_steps: int = 5, factor: float = 1.0 / 3) -> Schedule:
    r"""Constant warmup: ``factor * lr`` for the first ``warmup_steps`` steps, then ``lr``.

    .. math::
        \gamma_t = \begin{cases} \text{factor}\cdot\gamma_0 & t < T_w \\ \gamma_0 & t \ge T_w \end{cases}

    Goyal et al. (2017, sec. 2.2) call it *constant warmup* (and prefer the
    gradual, linear one). The schedule of ``torch.optim.lr_scheduler.ConstantLR(
    optimizer, factor, total_iters=warmup_steps)``, with torch's defaults; equal
    up to float rounding (torch divides the rate by ``factor`` at the end of the
    warmup), and exactly equal to its closed form.

    Args:
        lr: the learning rate after the warmup, :math:`\gamma_0`.
        warmup_steps: :math:`T_w` (default 5, as torch).
        factor: the fraction of ``lr`` used before, in ``[0, 1]`` (default 1/3, as torch).

    Returns:
        A :class:`Schedule`.

    Example:
        >>> constant_warmup(1.0, warmup_steps=2, factor=0.5).values(4)
        [0.5, 0.5, 1.0, 1.0]
    """
    check_lr("lr", lr)
    check_lr("warmup_steps", warmup_steps)
    if not 0 <= factor <= 1:
        raise ValueError(f"factor must be in [0, 1], got {factor}")

    def rule(step: int) -> float:
        return constant_warmup_at(lr, step, warmup_steps, factor)

    return Schedule("constant_warmup", {"lr": lr, "warmup_steps": warmup_steps, "factor": factor}, rule)


def linear_schedule(
    lr: float, total_steps: int = 5, start_factor: float = 1.0 / 3, end_factor: float = 1.0
) -> Schedule:
    r"""Move the rate linearly from ``start_factor * lr`` to ``end_factor * lr`` over ``total_steps``, then hold it.

    .. math::
        \gamma_t = \gamma_0 \Bigl(s + (e - s) \frac{\min(t, T)}{T}\Bigr)

    With :math:`e = 1 > s` it is a warmup (:func:`linear_warmup`); with
    :math:`e < s` a linear decay. The schedule of
    ``torch.optim.lr_scheduler.LinearLR(optimizer, start_factor, end_factor,
    total_iters=total_steps)``, with torch's defaults; equal up to float rounding,
    and exactly equal to its closed form.

    Args:
        lr: the rate the factors multiply, :math:`\gamma_0`.
        total_steps: :math:`T`, steps to go from the start factor to the end one (default 5).
        start_factor: :math:`s`, in ``(0, 1]`` (default 1/3).
        end_factor: :math:`e`, in ``[0, 1]`` (default 1).

    Returns:
        A :class:`Schedule`.

    Example:
        >>> linear_schedule(1.0, total_steps=4, start_factor=1.0, end_factor=0.5).values(6)
        [1.0, 0.875, 0.75, 0.625, 0.5, 0.5]
    """
    check_lr("lr", lr)
    check_positive("total_steps", total_steps)
    if not 0 < start_factor <= 1:
        raise ValueError(f"start_factor must be in (0, 1], got {start_factor}")
    if not 0 <= end_factor <= 1:
        raise ValueError(f"end_factor must be in [0, 1], got {end_factor}")

    def rule(step: int) -> float:
        return linear_at(lr, step, total_steps, start_factor, end_factor)

    settings = {"lr": lr, "total_steps": total_steps, "start_factor": start_factor, "end_factor": end_factor}
    return Schedule("linear_schedule", settings, rule)


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
    check_lr("lr", lr)
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
    if not 0 < start_factor <= 1:
        raise ValueError(f"start_factor must be in (0, 1], got {start_factor}")

    def rule(step: int) -> float:
        if warmup_steps == 0:
            return lr
        return linear_at(lr, step, warmup_steps, start_factor, 1.0)

    return Schedule(
        "linear_warmup",
        {"lr": lr, "warmup_steps": warmup_steps, "start_factor": start_factor},
        rule,
    )


def polynomial_decay(lr: float, total_steps: int = 5, power: float = 1.0) -> Schedule:
    r"""Polynomial decay to 0 at ``total_steps``: :math:`\gamma_0 (1 - t/T)^p`, then 0.

    .. math:: \gamma_t = \gamma_0 \Bigl(1 - \frac{\min(t, T)}{T}\Bigr)^{p}

    ``power=1`` is a straight line to zero; :math:`p > 1` drops fast then
    lingers, :math:`p < 1` lingers then drops. The schedule of
    ``torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=total_steps,
    power)``, with torch's defaults; equal up to float rounding, and exactly
    equal to its closed form.

    Args:
        lr: the initial rate :math:`\gamma_0`.
        total_steps: :math:`T`, the step where the rate reaches 0 (default 5).
        power: :math:`p` (default 1).

    Returns:
        A :class:`Schedule`.

    Example:
        >>> polynomial_decay(1.0, total_steps=4, power=2.0).values(6)
        [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """
    check_lr("lr", lr)
    check_positive("total_steps", total_steps)

    def rule(step: int) -> float:
        return polynomial_decay_at(lr, step, total_steps, power)

    return Schedule("polynomial_decay", {"lr": lr, "total_steps": total_steps, "power": power}, rule)


def cosine_warm_restarts(lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> Schedule:
    r"""Cosine annealing with warm restarts (SGDR): a cosine from ``lr`` to ``eta_min``, again and again.

    .. math::
        \gamma_t = \eta_{\min} + \tfrac12 (\gamma_0 - \eta_{\min})
        \Bigl(1 + \cos\bigl(\pi \, T_{\text{cur}} / T_i\bigr)\Bigr)

    where :math:`T_{\text{cur}}` counts the steps since the last restart and
    :math:`T_i` is the length of the current cycle: :math:`T_0`, then
    :math:`T_0 T_{\text{mult}}`, :math:`T_0 T_{\text{mult}}^2`, ... Each restart
    jumps back to ``lr`` (Loshchilov & Hutter, 2017, eq. 5). Matches
    ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0,
    T_mult, eta_min)`` stepped once per step, exactly.

    Args:
        lr: the rate at the start of every cycle, :math:`\gamma_0`.
        T_0: the length of the first cycle (a positive integer).
        T_mult: each cycle is this many times longer than the previous one (an integer >= 1).
        eta_min: the rate at the end of every cycle (default 0).

    Returns:
        A :class:`Schedule`.

    Example:
        >>> [round(v, 6) for v in cosine_warm_restarts(1.0, T_0=2, T_mult=2).values(7)]
        [1.0, 0.5, 1.0, 0.853553, 0.5, 0.146447, 1.0]
    """
    check_lr("lr", lr)
    if isinstance(T_0, bool) or not isinstance(T_0, int) or T_0 <= 0:
        raise ValueError(f"Expected positive integer T_0, but got {T_0}")
    if isinstance(T_mult, bool) or not isinstance(T_mult, int) or T_mult < 1:
        raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")

    def rule(step: int) -> float:
        T_cur, T_i = warm_restart_position(step, T_0, T_mult)
        return cosine_annealing_at(lr, T_cur, T_i, eta_min)

    settings = {"lr": lr, "T_0": T_0, "T_mult": T_mult, "eta_min": eta_min}
    return Schedule("cosine_warm_restarts", settings, rule)


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
    scale_fn: Callable[[float], float] | None = None,
    scale_mode: Literal["cycle", "iterations"] = "cycle",
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
    :math:`\text{gamma}^t` (``"exp_range"``), or ``scale_fn`` of :math:`c`
    (``scale_mode="cycle"``) or of :math:`t` (``"iterations"``). Smith (2017,
    sec. 3.1). Matches ``torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr,
    max_lr, step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode)``
    exactly; torch steps it per **batch** and by default also cycles momentum
    inversely (between 0.8 and 0.9), which
    :class:`~course_lib.schedules.schedulers.CyclicLR` does too and a
    learning-rate schedule does not.

    Args:
        base_lr: the lower bound of the cycle.
        max_lr: the upper bound, reached ``step_size_up`` steps into a cycle.
        step_size_up: steps from ``base_lr`` to ``max_lr`` (default 2000, as torch).
        step_size_down: steps back down (default ``step_size_up``).
        mode: ``"triangular"`` (default), ``"triangular2"`` or ``"exp_range"``;
            ignored when ``scale_fn`` is given.
        gamma: the per-step factor of ``"exp_range"`` (default 1).
        scale_fn: a custom amplitude scale, a function of the cycle or the step
            (default ``None``: the mode's).
        scale_mode: what ``scale_fn`` is a function of, ``"cycle"`` (default) or ``"iterations"``.

    Returns:
        A :class:`Schedule`.

    Example:
        >>> cyclic(0.0, 1.0, step_size_up=2).values(6)
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.5]
    """
    check_lr("base_lr", base_lr)
    check_lr("max_lr", max_lr)
    check_positive("step_size_up", step_size_up)
    if step_size_down is None:
        step_size_down = step_size_up
    check_positive("step_size_down", step_size_down)
    shape: dict[str, Any] = {"mode": mode, "gamma": gamma}
    if scale_fn is None:
        scale_fn, scale_mode = cyclic_amplitude(mode, gamma)
    elif scale_mode not in ("cycle", "iterations"):
        raise ValueError(f"scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
    else:
        shape = {"scale_fn": scale_fn, "scale_mode": scale_mode}
    cycle_length = float(step_size_up) + float(step_size_down)
    up_fraction = step_size_up / cycle_length

    def rule(step: int) -> float:
        cycle, height = cycle_position(step, cycle_length, up_fraction)
        return cyclic_at(base_lr, max_lr, height, scale_fn(cycle if scale_mode == "cycle" else step))

    settings = {
        "base_lr": base_lr,
        "max_lr": max_lr,
        "step_size_up": step_size_up,
        "step_size_down": step_size_down,
        **shape,
    }
    return Schedule("cyclic", settings, rule)


def one_cycle(
    max_lr: float,
    total_steps: int | None = None,
    pct_start: float = 0.3,
    anneal_strategy: Literal["cos", "linear"] = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
    *,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
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
    and by default also cycles momentum (0.95 to 0.85 and back), which
    :class:`~course_lib.schedules.schedulers.OneCycleLR` does too and this
    function leaves out.

    Args:
        max_lr: the peak learning rate.
        total_steps: steps in the whole cycle; or give ``epochs`` and
            ``steps_per_epoch`` (as torch, ``total_steps`` wins when both are given).
        pct_start: fraction of the steps spent increasing the rate (default 0.3).
        anneal_strategy: ``"cos"`` (default) or ``"linear"``.
        div_factor: ``max_lr / div_factor`` is the starting rate (default 25).
        final_div_factor: the starting rate divided by this is the final rate
            (default 1e4).
        three_phase: use the paper's three phases (default ``False``).
        epochs: number of epochs, with ``steps_per_epoch``.
        steps_per_epoch: batches per epoch, with ``epochs``.

    Returns:
        A :class:`Schedule` defined for steps ``0 .. total_steps``.

    Raises:
        ValueError: as torch, without ``total_steps`` nor both ``epochs`` and
            ``steps_per_epoch``, or with one that is not a positive integer.

    Example:
        >>> s = one_cycle(1.0, total_steps=10, pct_start=0.5, div_factor=10.0)
        >>> round(s(0), 12), s(4)
        (0.1, 1.0)
    """
    check_lr("max_lr", max_lr)
    total_steps = resolve_total_steps(total_steps, epochs, steps_per_epoch)
    if not 0 <= pct_start <= 1:
        raise ValueError(f"pct_start must be in [0, 1], got {pct_start}")
    if anneal_strategy not in ANNEAL:
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
    initial_lr = max_lr / div_factor
    rates = {"initial": initial_lr, "max": max_lr, "min": initial_lr / final_div_factor}
    anneal = ANNEAL[anneal_strategy]
    phases = one_cycle_phases(total_steps, pct_start, three_phase)
    phase_ends = [end_step for end_step, _, _ in phases]

    def rule(step: int) -> float:
        phase, fraction = one_cycle_phase_at(step, phase_ends, total_steps)
        _, start, end = phases[phase]
        return anneal(rates[start], rates[end], fraction)

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


