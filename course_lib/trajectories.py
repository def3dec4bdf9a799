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
    point = p.detach().reshape(2)
    p.grad = landscape.gradient_at(point, step).reshape(p.shape)
    return landscape.loss_at(point, step)


def _build_optimizer(
    optimizer_cls: type[Optimizer], point: torch.Tensor, hyperparameters: Mapping[str, Any]
) -> tuple[Optimizer, torch.Tensor]:
    """The optimizer on a leaf tensor holding ``point``: a vector, or a 1x2 matrix if it takes only matrices.

    Muon refuses anything but 2-D parameters; on a 1x2 matrix its orthogonalized update
    is the normalized gradient (a 1 x n matrix has one singular value).
    """
    p = point.detach().clone().requires_grad_(True)
    try:
        return optimizer_cls([p], **hyperparameters), p
    except ValueError as vector_refused:
        row = point.detach().clone().reshape(1, 2).requires_grad_(True)
        try:
            return optimizer_cls([row], **hyperparameters), row
        except Exception:
            raise vector_refused from None


def _has_eval_point(optimizer: Optimizer) -> bool:
    """Whether the optimizer moves its parameters between a training and an evaluation point."""
    return callable(getattr(optimizer, "train", None)) and callable(getattr(optimizer, "eval", None))


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
    engine: str = "torch",
    **hyperparameters: Any,
) -> Trajectory:
    r"""Optimize a 2-D landscape with ``optimizer_cls`` and record the path.

    The parameter is one float64 tensor of shape (2,), so per-coordinate methods
    (Adam, RMSprop, Adagrad) treat the two coordinates separately, exactly as they
    would two weights of a network. An optimizer that refuses a vector with a
    ``ValueError`` but takes a matrix (Muon) gets a 1x2 matrix instead. An optimizer
    with ``train()`` and ``eval()`` methods (schedule-free AdamW) is put in train mode
    for the steps, and the path records its evaluation point (what ``eval()`` puts in
    the parameter) after every step; the training point is restored exactly.

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
        engine: ``"torch"`` (default) steps the optimizer object itself; ``"python"``
            steps a plain-float replica of its update rule on the two coordinates (torch's
            SGD, Adam, AdamW, RMSprop, Adagrad, RAdam and Adafactor, the course's Lion, on landscapes with a
            :meth:`~course_lib.landscapes.Landscape.step_gradient`; no scheduler), the same
            operations in the same order, about ten times faster; ``"auto"``: python where
            it applies, else torch (what the widgets use).
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
    accepted = hyperparameter_names(optimizer_cls)
    unknown = [name for name in hyperparameters if name not in accepted]
    if unknown:
        raise TypeError(
            f"{optimizer_cls.__name__} has no hyperparameter {unknown[0]!r}; it accepts: {', '.join(accepted)}"
        )
    start_tensor = torch.as_tensor(start_point, dtype=torch.float64).reshape(2)
    optimizer, p = _build_optimizer(optimizer_cls, start_tensor, hyperparameters)
    eval_point = _has_eval_point(optimizer)
    if eval_point:
        optimizer.train()
    lr_function, lr_scheduler = None, None
    if scheduler is not None:
        if _lr_function_or_factory(scheduler) == "factory":
            lr_scheduler = scheduler(optimizer)
        else:
            lr_function = scheduler

    if engine not in ("torch", "python", "auto"):
        raise ValueError(f"engine must be 'torch', 'python' or 'auto', got {engine!r}")
    fast = None
    if engine != "torch":
        gradient = landscape.step_gradient(steps) if scheduler is None else None
        rule = _python_rule(optimizer) if gradient is not None else None
        if rule is not None and gradient is not None:
            fast = _python_loop(rule, gradient, p.detach().reshape(2).tolist(), steps, diverge_threshold)
        elif engine == "python":
            raise ValueError(f"no plain-Python engine for {optimizer_cls.__name__} on the {landscape.name} landscape"
                             + (" with a scheduler" if scheduler is not None else "") + "; use engine='torch'")

    step_parameters = inspect.signature(optimizer.step).parameters
    needs_closure = "closure" in step_parameters and step_parameters["closure"].default is inspect.Parameter.empty
    points = [p.detach().reshape(2).tolist()]
    diverged_at = None
    for t in range(steps if fast is None else 0):
        if lr_function is not None:
            lr = lr_function(t)
            for group in optimizer.param_groups:
                group["lr"] = float(lr)
        # the same gradient loss_at(p, t).backward() would leave in p.grad (the tests
        # check it), from the landscape's formula: autograd would triple the run time
        if needs_closure:
            optimizer.step(functools.partial(_closure, landscape, p, t))
        else:
            p.grad = landscape.gradient_at(p.detach().reshape(2), t).reshape(p.shape)
            optimizer.step()
        if lr_scheduler is not None:
            lr_scheduler.step()
        if eval_point:
            training_point = p.detach().clone()
            optimizer.eval()
            x, y = p.detach().reshape(2).tolist()
            optimizer.train()
            with torch.no_grad():
                p.copy_(training_point)
        else:
            x, y = p.detach().reshape(2).tolist()
        if not (abs(x) <= diverge_threshold and abs(y) <= diverge_threshold):  # also catches nan
            diverged_at = t + 1
            break
        points.append([x, y])
    if fast is not None:
        points, diverged_at = fast
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


# ---- the plain-float engine -------------------------------------------------------------------
# torch's single-tensor update rules (torch 2.13, foreach=False), operation by operation, on the
# two coordinates as Python floats: a 200-step run costs a millisecond or two instead of ~15.

Rule = Callable[[list[float], list[float]], list[float]]


def _sqrt(value: float) -> float:
    return math.sqrt(value) if value >= 0 else math.nan


def _lerp(start: float, end: float, weight: float) -> float:
    """torch.lerp's two formulas (the one it picks depends on the weight)."""
    return start + weight * (end - start) if abs(weight) < 0.5 else end - (end - start) * (1 - weight)


def _sgd(group: dict[str, Any]) -> Rule:
    lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
    weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
    buffers: list[float | None] = [None, None]

    def step(params: list[float], grads: list[float]) -> list[float]:
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if maximize else g
            if weight_decay != 0:
                g = g + weight_decay * p
            if momentum != 0:
                buf = buffers[i]
                buf = g if buf is None else buf * momentum + (1 - dampening) * g
                buffers[i] = buf
                g = g + momentum * buf if nesterov else buf
            out.append(p + -lr * g)
        return out

    return step


def _adam(group: dict[str, Any], decoupled: bool) -> Rule:
    lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
    weight_decay, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
    m, v, v_max, t = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0]

    def step(params: list[float], grads: list[float]) -> list[float]:
        t[0] += 1
        correction1, correction2 = 1 - beta1 ** t[0], 1 - beta2 ** t[0]
        step_size, root2 = lr / correction1, correction2**0.5
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if maximize else g
            if weight_decay != 0:
                if decoupled:
                    p = p * (1 - lr * weight_decay)
                else:
                    g = g + weight_decay * p
            m[i] = _lerp(m[i], g, 1 - beta1)
            v[i] = v[i] * beta2 + (1 - beta2) * g * g
            second = v[i]
            if amsgrad:
                v_max[i] = second = max(v_max[i], v[i]) if not math.isnan(v[i]) else v[i]
            out.append(p + -step_size * m[i] / (_sqrt(second) / root2 + eps))
        return out

    return step


def _rmsprop(group: dict[str, Any]) -> Rule:
    lr, alpha, eps, weight_decay = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
    momentum, centered, maximize = group["momentum"], group["centered"], group["maximize"]
    square, mean, buffer = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]

    def step(params: list[float], grads: list[float]) -> list[float]:
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if maximize else g
            if weight_decay != 0:
                g = g + weight_decay * p
            square[i] = square[i] * alpha + (1 - alpha) * g * g
            if centered:
                mean[i] = _lerp(mean[i], g, 1 - alpha)
                denom = _sqrt(square[i] + -1 * mean[i] * mean[i]) + eps
            else:
                denom = _sqrt(square[i]) + eps
            if momentum > 0:
                buffer[i] = buffer[i] * momentum + g / denom
                out.append(p + -lr * buffer[i])
            else:
                out.append(p + -lr * g / denom)
        return out

    return step


def _adagrad(group: dict[str, Any]) -> Rule:
    lr, lr_decay, weight_decay, eps = group["lr"], group["lr_decay"], group["weight_decay"], group["eps"]
    maximize = group["maximize"]
    total = [float(group["initial_accumulator_value"])] * 2
    t = [0.0]

    def step(params: list[float], grads: list[float]) -> list[float]:
        t[0] += 1
        decayed = lr / (1 + (t[0] - 1) * lr_decay)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if maximize else g
            if weight_decay != 0:
                g = g + weight_decay * p
            total[i] = total[i] + g * g
            out.append(p + -decayed * g / (_sqrt(total[i]) + eps))
        return out

    return step


def _radam(group: dict[str, Any]) -> Rule:
    lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
    weight_decay, decoupled, maximize = group["weight_decay"], group["decoupled_weight_decay"], group["maximize"]
    m, v, t = [0.0, 0.0], [0.0, 0.0], [0.0]
    rho_inf = 2 / (1 - beta2) - 1

    def step(params: list[float], grads: list[float]) -> list[float]:
        t[0] += 1
        correction1, correction2 = 1 - beta1 ** t[0], 1 - beta2 ** t[0]
        rho = rho_inf - 2 * t[0] * (beta2 ** t[0]) / correction2
        rect = ((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)) ** 0.5 if rho > 5.0 else 0.0
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            g = -g if maximize else g
            if weight_decay != 0:
                if decoupled:
                    p = p * (1 - lr * weight_decay)
                else:
                    g = g + weight_decay * p
            m[i] = _lerp(m[i], g, 1 - beta1)
            v[i] = v[i] * beta2 + (1 - beta2) * g * g
            corrected = m[i] / correction1
            if rho > 5.0:
                out.append(p + -1.0 * (corrected * lr * (correction2**0.5 / (_sqrt(v[i]) + eps)) * rect))
            else:
                out.append(p + -1.0 * (corrected * lr))
        return out

    return step


def _lion(group: dict[str, Any]) -> Rule:
    lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
    m = [0.0, 0.0]

    def sign(value: float) -> float:
        return value if value != value else float((value > 0) - (value < 0))

    def step(params: list[float], grads: list[float]) -> list[float]:
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            p = p * (1 - lr * weight_decay)
            out.append(p + -lr * sign(m[i] * beta1 + (1 - beta1) * g))
            m[i] = m[i] * beta2 + (1 - beta2) * g
        return out

    return step


def _adafactor(group: dict[str, Any]) -> Rule:
    lr, decay, (eps1, eps2) = group["lr"], group["beta2_decay"], group["eps"]
    d, weight_decay, maximize = group["d"], group["weight_decay"], group["maximize"]
    eps1 = torch.finfo(torch.float64).eps if eps1 is None else eps1
    variance, t = [0.0, 0.0], [0.0]

    def step(params: list[float], grads: list[float]) -> list[float]:
        t[0] += 1
        weight = t[0] ** decay
        rho = min(lr, 1 / (t[0] ** 0.5))
        alpha = max(eps2, math.sqrt(params[0] * params[0] + params[1] * params[1]) / 2**0.5) * rho
        grads = [-g if maximize else g for g in grads]
        if weight_decay != 0:
            params = [p * (1 - lr * weight_decay) for p in params]
        update = []
        for i, g in enumerate(grads):
            variance[i] = _lerp(variance[i], g * g, weight)
            second = variance[i] if variance[i] >= eps1 * eps1 or math.isnan(variance[i]) else eps1 * eps1
            update.append(1 / _sqrt(second) * g)
        denom = max(1.0, math.sqrt(update[0] * update[0] + update[1] * update[1]) / (2**0.5 * d))
        return [p + -alpha / denom * u for p, u in zip(params, update)]

    return step


def _python_rule(optimizer: Optimizer) -> Rule | None:
    """A plain-float replica of ``optimizer``'s step on its one (2,) parameter, or None
    (another class, or a hyperparameter the replica does not cover)."""
    group = optimizer.param_groups[0]
    if any(group.get(name) for name in ("capturable", "differentiable", "fused")):
        return None
    if any(isinstance(value, torch.Tensor) for key, value in group.items() if key != "params"):
        return None
    kind = type(optimizer)
    if kind is torch.optim.SGD:
        return _sgd(group)
    if kind in (torch.optim.Adam, torch.optim.AdamW):
        return _adam(group, decoupled=bool(group.get("decoupled_weight_decay", kind is torch.optim.AdamW)))
    if kind is torch.optim.RMSprop:
        return _rmsprop(group)
    if kind is torch.optim.Adagrad:
        return _adagrad(group)
    if kind is torch.optim.RAdam:
        return _radam(group)
    if kind is torch.optim.Adafactor:
        return _adafactor(group)
    from course_lib.optim import Lion

    if kind is Lion:
        return _lion(group)
    return None


def _python_loop(rule: Rule, gradient: Callable[[float, float, int], tuple[float, float]], start: list[float],
                 steps: int, threshold: float) -> tuple[list[list[float]], int | None]:
    """The iterates of :func:`run`'s loop, on floats; stops where it diverges, as :func:`run` does."""
    point = start
    points = [point]
    for t in range(steps):
        try:
            point = rule(point, list(gradient(point[0], point[1], t)))
        except (OverflowError, ZeroDivisionError):
            return points, t + 1
        x, y = point
        if not (abs(x) <= threshold and abs(y) <= threshold):  # also catches nan
            return points, t + 1
        points.append(point)
    return points, None


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
