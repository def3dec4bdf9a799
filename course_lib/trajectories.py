r"""Run any ``torch.optim.Optimizer`` on a 2-D landscape and record where it goes.

:func:`run` is the ordinary training loop, on one parameter tensor of shape (2,)::

    for t in range(steps):
        optimizer.zero_grad()
        landscape.loss_at(p, t).backward()   # the mini-batch loss when batch_size is set
        optimizer.step()

except that ``p.grad`` comes from the landscape's gradient formula
(:meth:`~course_lib.landscapes.Landscape.gradient_at`) instead of ``backward()``:
the same numbers (the tests compare the two loops), several times faster, which
keeps the widgets responsive.

and returns a :class:`Trajectory`: every iterate, the full loss at each of them, and
whether (and when) the run diverged. :func:`compare` repeats it with one
hyperparameter varied, and :func:`course_lib.plots.plot_trajectories` / :func:`course_lib.plots.plot_panels` draw the
runs on the landscape's contour lines.

Any optimizer class with torch's constructor ``cls(params, **hyperparameters)``
works: ``torch.optim.SGD``, ``torch.optim.AdamW``, or the course's own classes in
:mod:`course_lib.optim`.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from course_lib.experiments import widen_grid
from course_lib.landscapes import Landscape, make_landscape

__all__ = [
    "Trajectory",
    "run",
    "compare",
    "hyperparameter_names",
    "VARY_ALIASES",
    "fit_limits",
    "LRSweep",
    "sweep_lr",
]

#: Constructor arguments that switch implementations rather than change the maths.
_IMPLEMENTATION_SWITCHES = frozenset({"params", "foreach", "capturable", "differentiable", "fused"})

#: Options of :func:`run` itself that :func:`compare` can vary as well.
RUN_OPTIONS = ("steps", "start", "batch_size", "seed", "scheduler")

#: Other spellings :func:`compare` accepts, and what they mean.
VARY_ALIASES: dict[str, str] = {
    "beta1": "betas[0]",
    "β1": "betas[0]",
    "beta_1": "betas[0]",
    "beta2": "betas[1]",
    "β2": "betas[1]",
    "beta_2": "betas[1]",
    "learning_rate": "lr",
    "epsilon": "eps",
    "wd": "weight_decay",
}

Scheduler = Callable[[int], float] | Callable[[Optimizer], LRScheduler]


@dataclass
class Trajectory:
    """One optimizer run on a 2-D landscape.

    Attributes:
        path: iterates :math:`p_0, \\dots, p_T`, shape ``(steps + 1, 2)``, float64; rows
            from ``diverged_at`` on are ``nan``.
        losses: the full (not mini-batch) loss at each iterate, shape ``(steps + 1,)``.
        diverged: whether the run left the finite world (see :func:`run`).
        diverged_at: the first step whose iterate was non-finite or too large, else None.
        label: a legend entry, e.g. ``"AdamW(lr=0.1)"``.
        optimizer: the optimizer class's name.
        hyperparameters: the keyword arguments given to the optimizer.
        batch_size: the mini-batch size (None: full batch).
        optimizer_cls: the optimizer class itself.
    """

    path: torch.Tensor
    losses: torch.Tensor
    diverged: bool
    diverged_at: int | None
    label: str
    optimizer: str = ""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    optimizer_cls: type[Optimizer] | None = None

    @property
    def steps(self) -> int:
        """Number of optimizer steps asked for."""
        return self.path.shape[0] - 1

    @property
    def final(self) -> torch.Tensor:
        """The last finite iterate."""
        last = self.path.shape[0] - 1 if self.diverged_at is None else max(self.diverged_at - 1, 0)
        return self.path[last]


def hyperparameter_names(optimizer_cls: type[Optimizer]) -> list[str]:
    """The keyword arguments of an optimizer's constructor that change its maths.

    Args:
        optimizer_cls: e.g. ``torch.optim.AdamW``.

    Returns:
        Names such as ``["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"]``
        (``params`` and implementation switches like ``foreach`` left out).

    Example:
        >>> hyperparameter_names(torch.optim.SGD)[:3]
        ['lr', 'momentum', 'dampening']
    """
    signature = inspect.signature(optimizer_cls.__init__)
    return [
        name for name, parameter in signature.parameters.items()
        if name != "self" and name not in _IMPLEMENTATION_SWITCHES
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]


def _default(optimizer_cls: type[Optimizer], name: str) -> Any:
    parameter = inspect.signature(optimizer_cls.__init__).parameters.get(name)
    return None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_format_value(v) for v in value) + ")"
    return str(value)


def _label(optimizer_cls: type[Optimizer], hyperparameters: Mapping[str, Any], batch_size: int | None) -> str:
    parts = [f"{k}={_format_value(v)}" for k, v in hyperparameters.items()]
    if batch_size is not None:
        parts.append(f"batch={batch_size}")
    return f"{optimizer_cls.__name__}({', '.join(parts)})"


def _lr_function_or_factory(scheduler: Scheduler) -> str:
    """Tell a ``step -> lr`` function from an ``optimizer -> LRScheduler`` factory."""
    target = scheduler.func if isinstance(scheduler, functools.partial) else scheduler
    if isinstance(target, type) and issubclass(target, LRScheduler):
        return "factory"
    try:
        first = next(iter(inspect.signature(scheduler).parameters))
    except (StopIteration, TypeError, ValueError):
        return "function"
    return "factory" if first in ("optimizer", "opt", "optim") else "function"


def _closure(landscape: Landscape, p: torch.Tensor, step: int) -> torch.Tensor:
    """What an optimizer that re-evaluates the loss (``torch.optim.LBFGS``) calls."""
    p.grad = landscape.gradient_at(p.detach(), step)
    return landscape.loss_at(p.detach(), step)


def run(
    optimizer_cls: type[Optimizer],
    landscape: Landscape | str,
    *,
    steps: int = 200,
    start: Sequence[float] | torch.Tensor | None = None,
    scheduler: Scheduler | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    label: str | None = None,
    diverge_threshold: float = 1e6,
    **hyperparameters: Any,
) -> Trajectory:
    r"""Optimize a 2-D landscape with ``optimizer_cls`` and record the path.

    The parameter is one float64 tensor of shape (2,), so per-coordinate methods
    (Adam, RMSprop, Adagrad) treat the two coordinates separately, exactly as they
    would two weights of a network.

    A run *diverges* at step :math:`k` when :math:`p_k` has an ``inf``/``nan`` or a
    coordinate larger than ``diverge_threshold`` in absolute value; the loop stops
    there and the rest of ``path`` and ``losses`` is filled with ``nan``.

    Args:
        optimizer_cls: any :class:`torch.optim.Optimizer` subclass (torch's or the
            course's), called as ``optimizer_cls([p], **hyperparameters)``; one whose
            ``step`` requires a closure (``torch.optim.LBFGS``) gets one.
        landscape: a :class:`~course_lib.landscapes.Landscape` or its short name.
        steps: number of optimizer steps (default 200).
        start: start point (default ``landscape.start``).
        scheduler: a learning-rate schedule, either a function ``step -> lr`` (the
            group's ``lr`` is set to ``scheduler(t)`` before step ``t``) or a factory
            ``optimizer -> LRScheduler`` such as
            ``functools.partial(torch.optim.lr_scheduler.StepLR, step_size=50)``
            (its ``step()`` is called after every optimizer step; a lambda counts as
            a factory when its argument is named ``optimizer``).
        batch_size: mini-batch size for landscapes built on data (see
            :meth:`~course_lib.landscapes.LinearRegressionLoss.minibatch`); None is
            full batch.
        seed: seed of the batch order (mini-batch runs only; the optimizers
            themselves are deterministic).
        label: legend entry (default: the class name and hyperparameters).
        diverge_threshold: largest coordinate still counted as finite (default 1e6).
        **hyperparameters: passed to the optimizer (``lr``, ``betas``, ``momentum``...).

    Returns:
        A :class:`Trajectory`.

    Raises:
        TypeError: the optimizer does not accept one of the hyperparameters.
        ValueError: an invalid hyperparameter value (the optimizer's own message), or
            ``batch_size`` on a landscape without data.

    Example:
        >>> from course_lib.landscapes import Quadratic
        >>> traj = run(torch.optim.SGD, Quadratic(10), lr=0.5, momentum=0.9, steps=100)
        >>> traj.path.shape, traj.diverged
        (torch.Size([101, 2]), False)
    """
    landscape = make_landscape(landscape)
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if batch_size is not None:
        landscape = landscape.minibatch(batch_size, seed=seed)
    start_point = landscape.start if start is None else start
    p = torch.as_tensor(start_point, dtype=torch.float64).detach().clone().reshape(2).requires_grad_(True)
    accepted = hyperparameter_names(optimizer_cls)
    unknown = [name for name in hyperparameters if name not in accepted]
    if unknown:
        raise TypeError(
            f"{optimizer_cls.__name__} has no hyperparameter {unknown[0]!r}; it accepts: {', '.join(accepted)}"
        )
    optimizer = optimizer_cls([p], **hyperparameters)
    lr_function, lr_scheduler = None, None
    if scheduler is not None:
        if _lr_function_or_factory(scheduler) == "factory":
            lr_scheduler = scheduler(optimizer)
        else:
            lr_function = scheduler

    step_parameters = inspect.signature(optimizer.step).parameters
    needs_closure = "closure" in step_parameters and step_parameters["closure"].default is inspect.Parameter.empty
    points = [p.detach().tolist()]
    diverged_at = None
    for t in range(steps):
        if lr_function is not None:
            lr = lr_function(t)
            for group in optimizer.param_groups:
                group["lr"] = float(lr)
        # the same gradient loss_at(p, t).backward() would leave in p.grad (the tests
        # check it), from the landscape's formula: autograd would triple the run time
        if needs_closure:
            optimizer.step(functools.partial(_closure, landscape, p, t))
        else:
            p.grad = landscape.gradient_at(p.detach(), t)
            optimizer.step()
        if lr_scheduler is not None:
            lr_scheduler.step()
        x, y = p.detach().tolist()
        if not (abs(x) <= diverge_threshold and abs(y) <= diverge_threshold):  # also catches nan
            diverged_at = t + 1
            break
        points.append([x, y])
    path = torch.full((steps + 1, 2), math.nan, dtype=torch.float64)
    path[: len(points)] = torch.tensor(points, dtype=torch.float64)
    with torch.no_grad():
        losses = landscape(path)
    if diverged_at is None and not bool(torch.isfinite(losses).all()):
        diverged_at = int(torch.nonzero(~torch.isfinite(losses))[0, 0])
        path[diverged_at:] = math.nan
        losses[diverged_at:] = math.nan
    return Trajectory(
        path=path,
        losses=losses,
        diverged=diverged_at is not None,
        diverged_at=diverged_at,
        label=label if label is not None else _label(optimizer_cls, hyperparameters, batch_size),
        optimizer=optimizer_cls.__name__,
        hyperparameters=dict(hyperparameters),
        batch_size=batch_size,
        optimizer_cls=optimizer_cls,
    )


def _resolve_vary(optimizer_cls: type[Optimizer], vary: str) -> str:
    name = VARY_ALIASES.get(vary.strip(), vary.strip())
    accepted = hyperparameter_names(optimizer_cls)
    if name in ("betas[0]", "betas[1]"):
        if "betas" not in accepted:
            raise ValueError(f"{optimizer_cls.__name__} has no betas, so {vary!r} cannot be varied; "
                             f"vary one of: {', '.join(accepted + list(RUN_OPTIONS))}")
        return name
    if name in accepted or name in RUN_OPTIONS:
        return name
    raise ValueError(
        f"{optimizer_cls.__name__} has no hyperparameter {vary!r}; vary one of: "
        f"{', '.join(accepted + list(RUN_OPTIONS))}, or beta1/beta2 for an optimizer with betas"
    )


def compare(
    optimizer_cls: type[Optimizer],
    landscape: Landscape | str,
    vary: str,
    values: Sequence[Any],
    **fixed: Any,
) -> list[Trajectory]:
    """Run the same optimizer several times, changing exactly one hyperparameter.

    Accepted names for ``vary``:

    * any constructor argument of ``optimizer_cls`` (:func:`hyperparameter_names`):
      ``lr``, ``momentum``, ``dampening``, ``nesterov``, ``eps``, ``weight_decay``,
      ``alpha``, ``centered``, ``amsgrad``, ``rho``, ``lr_decay``, ...;
    * one entry of ``betas``: ``"betas[0]"`` (alias ``"beta1"``) or ``"betas[1]"``
      (alias ``"beta2"``); the other entry comes from ``fixed["betas"]`` or the
      optimizer's default;
    * an option of :func:`run`: ``steps``, ``start``, ``batch_size``, ``seed``,
      ``scheduler``.

    Aliases: ``learning_rate`` -> ``lr``, ``epsilon`` -> ``eps``, ``wd`` -> ``weight_decay``.

    Args:
        optimizer_cls: the optimizer class.
        landscape: the landscape (or its short name).
        vary: the name of the hyperparameter to vary (see above).
        values: its values, one run each.
        **fixed: everything else, passed to :func:`run` unchanged for every run.

    Returns:
        One :class:`Trajectory` per value, labelled ``"<vary>=<value>"``.

    Raises:
        ValueError: an unknown name, or ``vary`` also given in ``fixed``.

    Example:
        >>> runs = compare(torch.optim.AdamW, "linear regression", "beta1", [0.0, 0.9, 0.99], lr=0.1)
        >>> [t.hyperparameters["betas"][0] for t in runs]
        [0.0, 0.9, 0.99]
    """
    name = _resolve_vary(optimizer_cls, vary)
    base = name.split("[")[0]
    if base in fixed and base != "betas":
        raise ValueError(f"{vary!r} is varied, so it cannot also be fixed (got {base}={fixed[base]!r})")
    landscape = make_landscape(landscape)
    runs = []
    for value in values:
        kwargs = dict(fixed)
        if name in ("betas[0]", "betas[1]"):
            betas = list(kwargs.get("betas", _default(optimizer_cls, "betas")))
            betas[int(name[-2])] = value
            kwargs["betas"] = tuple(betas)
        else:
            kwargs[name] = value
        label = f"{vary}={_format_value(value)}"
        runs.append(run(optimizer_cls, landscape, label=label, **kwargs))
    return runs


def fit_limits(
    trajectories: Sequence[Trajectory], landscape: Landscape | str, *, margin: float = 0.08
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis ranges that hold the landscape's default window and every finite iterate.

    Paths that wander far (more than the default window's size beyond it) are cut
    off there, so one wild run cannot shrink all others to a dot.

    Args:
        trajectories: the runs to fit.
        landscape: their landscape.
        margin: extra room on each side, as a fraction of the range (default 0.08).

    Returns:
        ``(xlim, ylim)``.
    """
    landscape = make_landscape(landscape)
    low = torch.tensor([landscape.default_xlim[0], landscape.default_ylim[0]], dtype=torch.float64)
    high = torch.tensor([landscape.default_xlim[1], landscape.default_ylim[1]], dtype=torch.float64)
    span = high - low
    for trajectory in trajectories:
        points = trajectory.path[torch.isfinite(trajectory.path).all(dim=1)]
        if points.numel():
            low = torch.minimum(low, torch.maximum(points.min(dim=0).values, low - span))
            high = torch.maximum(high, torch.minimum(points.max(dim=0).values, high + span))
    pad = (high - low) * margin
    low, high = low - pad, high + pad
    return (float(low[0]), float(high[0])), (float(low[1]), float(high[1]))


@dataclass
class LRSweep:
    """The runs of :func:`sweep_lr`, one per learning rate, and the best of them.

    Attributes:
        runs: one :class:`Trajectory` per rate, in increasing order of ``lr``.
        lrs: the rates, increasing (including points added by widening).
        scores: the final loss of each run (``inf`` for a diverged run).
        best_index: the index of the lowest score.
    """

    runs: list[Trajectory]
    lrs: list[float]
    scores: list[float]
    best_index: int

    @property
    def best(self) -> Trajectory:
        """The run with the lowest final loss."""
        return self.runs[self.best_index]

    @property
    def best_lr(self) -> float:
        return self.lrs[self.best_index]

    @property
    def inside(self) -> bool:
        """Whether the best rate has a rate of the grid on each side."""
        return 0 < self.best_index < len(self.lrs) - 1


def _final_loss(trajectory: Trajectory, unstable_above: float) -> float:
    losses = trajectory.losses
    value = losses[-1].item()
    if trajectory.diverged or not math.isfinite(value):
        return math.inf
    if bool((losses > unstable_above * losses[0]).any()):
        return math.inf
    return value


def sweep_lr(
    optimizer_cls: type[Optimizer],
    landscape: Landscape | str,
    lrs: Sequence[float],
    *,
    widen: int = 0,
    unstable_above: float = math.inf,
    **fixed: Any,
) -> LRSweep:
    """Run an optimizer at several learning rates and keep the one with the lowest final loss.

    As :func:`course_lib.workloads.tune_lr` does for the real network, a best rate at an
    edge of the grid is not trusted: with ``widen = k`` the grid grows up to ``k`` times
    by one point beyond that edge (:func:`course_lib.experiments.widen_grid`), and
    :attr:`LRSweep.inside` says whether the best rate ended up inside.

    On some problems a larger rate keeps winning however large it gets (per-coordinate
    methods on a quadratic aligned with the axes converge faster the farther their first
    steps throw them). ``unstable_above`` turns such wild runs into losers: a run whose
    loss ever exceeds ``unstable_above`` times its starting loss scores ``inf``, like a
    diverged one.

    Args:
        optimizer_cls: the optimizer class.
        landscape: the landscape (or its short name).
        lrs: the learning rates to try (at least two; sorted here).
        widen: how many points the grid may grow by (default 0).
        unstable_above: a run whose loss rises above this multiple of its starting loss
            counts as unstable (default ``inf``: only divergence counts).
        **fixed: everything else, passed to :func:`run` (``steps``, ``momentum``, ...).

    Returns:
        An :class:`LRSweep`.

    Example:
        >>> sweep = sweep_lr(torch.optim.SGD, "rosenbrock", [1e-4, 1e-3, 1e-2], steps=200)
        >>> sweep.best_lr, sweep.inside  # doctest: +SKIP
    """
    if "lr" in fixed:
        raise ValueError("lr is swept, so it cannot also be fixed")
    grid = sorted({float(lr) for lr in lrs})
    if len(grid) < 2 or grid[0] <= 0:
        raise ValueError(f"lrs needs at least two distinct positive rates, got {list(lrs)}")
    landscape = make_landscape(landscape)
    done: dict[float, Trajectory] = {}

    def sweep() -> LRSweep:
        for lr in grid:
            if lr not in done:
                done[lr] = run(optimizer_cls, landscape, lr=lr, **fixed)
        runs = [done[lr] for lr in grid]
        scores = [_final_loss(trajectory, unstable_above) for trajectory in runs]
        best = min(range(len(grid)), key=scores.__getitem__)
        return LRSweep(runs, list(grid), scores, best)

    result = sweep()
    for _ in range(widen):
        if result.inside:
            break
        grid = widen_grid(grid, result.best_index)
        result = sweep()
    return result
