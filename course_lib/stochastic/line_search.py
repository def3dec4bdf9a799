r"""Line search: the classical way of choosing a step size, which deep learning usually skips (chapter 2).

:func:`wolfe_conditions` tests a step against the sufficient-decrease (Armijo) and
curvature conditions; :func:`backtracking_line_search` shrinks a step until the first holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["WolfeCheck", "wolfe_conditions", "backtracking_line_search"]


@dataclass(frozen=True)
class WolfeCheck:
    r"""Which Wolfe conditions a step :math:`x \to x + \gamma p` satisfies.

    Attributes:
        sufficient_decrease: :math:`f(x+\gamma p) \le f(x) + c_1 \gamma\, p^\top \nabla f(x)` (Armijo).
        curvature: :math:`p^\top \nabla f(x+\gamma p) \ge c_2\, p^\top \nabla f(x)`
            (strong form: :math:`|p^\top \nabla f(x+\gamma p)| \le c_2 |p^\top \nabla f(x)|`).
        decrease: :math:`f(x+\gamma p) - f(x)`.
        slope_before: :math:`p^\top \nabla f(x)` (negative for a descent direction).
        slope_after: :math:`p^\top \nabla f(x+\gamma p)`.
    """

    sufficient_decrease: bool
    curvature: bool
    decrease: float
    slope_before: float
    slope_after: float

    @property
    def both(self) -> bool:
        """Whether the step satisfies both conditions."""
        return self.sufficient_decrease and self.curvature


def _value_and_grad(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> tuple[float, torch.Tensor]:
    point = x.detach().clone().requires_grad_(True)
    value = f(point)
    (grad,) = torch.autograd.grad(value, point)
    return float(value.detach()), grad


def wolfe_conditions(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    direction: torch.Tensor,
    step: float,
    *,
    c1: float = 1e-4,
    c2: float = 0.9,
    strong: bool = False,
) -> WolfeCheck:
    r"""Check the Wolfe conditions for the step :math:`x \to x + \gamma p`.

    .. math::
        \begin{aligned}
        f(x + \gamma p) &\le f(x) + c_1\, \gamma\, p^\top \nabla f(x)
            && \text{sufficient decrease (Armijo)} \\
        p^\top \nabla f(x + \gamma p) &\ge c_2\, p^\top \nabla f(x)
            && \text{curvature}
        \end{aligned}

    with :math:`0 < c_1 < c_2 < 1`. The first forbids steps that are too long (the loss
    must fall by at least a fraction :math:`c_1` of what the slope promised), the second
    steps that are too short (the slope along :math:`p` must have flattened). The strong
    form bounds :math:`|p^\top \nabla f(x+\gamma p)|`, which also forbids overshooting
    into a steep ascent; ``torch.optim.LBFGS(line_search_fn="strong_wolfe")`` searches for
    steps of that kind, with the same defaults :math:`c_1 = 10^{-4}`, :math:`c_2 = 0.9`.

    Args:
        f: the objective, a function of one tensor returning a 0-dim tensor
            (differentiated with autograd).
        x: the current point.
        direction: the search direction :math:`p`.
        step: the step size :math:`\gamma > 0`.
        c1: sufficient-decrease constant (default 1e-4).
        c2: curvature constant (default 0.9).
        strong: check the strong curvature condition (default False).

    Returns:
        A :class:`WolfeCheck`.

    Reference:
        Nocedal & Wright, "Numerical Optimization" (2nd ed., 2006), eq. (3.6) and (3.7).
    """
    f0, g0 = _value_and_grad(f, x)
    f1, g1 = _value_and_grad(f, x + step * direction)
    slope_before = float((direction * g0).sum())
    slope_after = float((direction * g1).sum())
    decrease_ok = f1 <= f0 + c1 * step * slope_before
    if strong:
        curvature_ok = abs(slope_after) <= c2 * abs(slope_before)
    else:
        curvature_ok = slope_after >= c2 * slope_before
    return WolfeCheck(decrease_ok, curvature_ok, f1 - f0, slope_before, slope_after)


def backtracking_line_search(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    direction: torch.Tensor,
    *,
    initial_step: float = 1.0,
    shrink: float = 0.5,
    c1: float = 1e-4,
    max_evaluations: int = 50,
) -> tuple[float, int]:
    r"""Armijo backtracking: halve the step until the sufficient-decrease condition holds.

    Start from :math:`\gamma = ` ``initial_step`` and multiply by ``shrink`` while
    :math:`f(x + \gamma p) > f(x) + c_1 \gamma\, p^\top \nabla f(x)`. Every trial costs
    one more evaluation of :math:`f` (on a network: a forward pass over the data the
    loss is defined on), which is the price deep learning does not pay.

    Args:
        f: the objective (autograd gives its gradient at ``x``).
        x: the current point.
        direction: a descent direction :math:`p` (:math:`p^\top \nabla f(x) < 0`).
        initial_step: the first trial step (default 1).
        shrink: factor applied after each rejected trial (default 0.5).
        c1: sufficient-decrease constant (default 1e-4).
        max_evaluations: give up after this many trials and return the last step.

    Returns:
        ``(step, evaluations)``: the accepted step size and the number of evaluations
        of ``f`` it took (the gradient at ``x`` counts as one).

    Reference:
        Armijo (1966); Nocedal & Wright (2006), Algorithm 3.1.
    """
    if not 0 < shrink < 1:
        raise ValueError(f"shrink must be in (0, 1), got {shrink}")
    f0, g0 = _value_and_grad(f, x)
    slope = float((direction * g0).sum())
    if slope >= 0:
        raise ValueError(f"direction is not a descent direction (slope {slope:.3g} >= 0)")
    step, evaluations = float(initial_step), 1
    with torch.no_grad():
        while evaluations < max_evaluations:
            evaluations += 1
            if float(f(x + step * direction)) <= f0 + c1 * step * slope:
                break
            step *= shrink
    return step, evaluations
