r"""L-BFGS with an optional strong-Wolfe line search, a drop-in for ``torch.optim.LBFGS``.

Chapter 2 checks a step against the Wolfe conditions
(:func:`~course_lib.stochastic.line_search.wolfe_conditions`); here a line search *finds*
such a step, and a quasi-Newton method supplies the direction it searches along:

* :func:`two_loop_recursion`: the L-BFGS direction :math:`-H_k \nabla f` from the last
  :math:`m` pairs :math:`(s_i, y_i)` (Nocedal & Wright, Algorithm 7.4);
* :func:`cubic_interpolate`: the minimizer of the cubic through two points with their
  slopes (Nocedal & Wright, eq. 3.59), the trial step of the line search;
* :func:`strong_wolfe_line_search`: bracket, then zoom, until the strong Wolfe
  conditions hold (Nocedal & Wright, Algorithms 3.5 and 3.6);
* :class:`LBFGS`: the optimizer, with torch's signature, state and stopping rules.

All arithmetic follows torch 2.13 operation by operation (including which quantities are
0-dim tensors and which are Python floats), so a run matches ``torch.optim.LBFGS`` bit
for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.optimizer import ParamsT

from ._base import as_scalar, check_tensor_lr

__all__ = ["LBFGS", "two_loop_recursion", "cubic_interpolate", "strong_wolfe_line_search"]

Number = float | torch.Tensor


def two_loop_recursion(
    grad: torch.Tensor,
    steps_taken: list[torch.Tensor],
    grad_changes: list[torch.Tensor],
    inverse_curvatures: list[torch.Tensor],
    initial_scale: Number,
    alphas: list[Any],
) -> torch.Tensor:
    r"""The L-BFGS search direction :math:`d = -H\, g` without ever forming :math:`H`.

    .. math::
        \begin{aligned}
        q &\leftarrow -g; \quad
        \text{for } i = k-1, \dots, k-m:\quad
            \alpha_i \leftarrow \rho_i\, s_i^\top q, \quad q \leftarrow q - \alpha_i y_i \\
        r &\leftarrow \gamma\, q, \qquad \gamma = \frac{s_{k-1}^\top y_{k-1}}{y_{k-1}^\top y_{k-1}} \\
        \text{for } i &= k-m, \dots, k-1:\quad
            \beta \leftarrow \rho_i\, y_i^\top r, \quad r \leftarrow r + (\alpha_i - \beta)\, s_i \\
        d &= r
        \end{aligned}

    with :math:`s_i = x_{i+1} - x_i`, :math:`y_i = g_{i+1} - g_i`,
    :math:`\rho_i = 1/(y_i^\top s_i)`. This applies the BFGS inverse-Hessian update for
    each stored pair to the initial guess :math:`\gamma I` in :math:`O(mn)` operations and
    :math:`2mn` numbers of memory, where BFGS needs :math:`n^2`.

    Args:
        grad: the current flat gradient :math:`g`.
        steps_taken: :math:`s_i`, oldest first (torch's ``old_stps``).
        grad_changes: :math:`y_i`, oldest first (torch's ``old_dirs``).
        inverse_curvatures: :math:`\rho_i` (torch's ``ro``).
        initial_scale: :math:`\gamma` (torch's ``H_diag``).
        alphas: a list at least as long as the history, overwritten with the
            :math:`\alpha_i` (torch keeps it in ``state["al"]``).

    Returns:
        The direction :math:`d`, a new tensor.

    Reference:
        Nocedal & Wright, "Numerical Optimization" (2nd ed., 2006), Algorithm 7.4 and eq. (7.20).
    """
    q = grad.neg()
    for i in range(len(grad_changes) - 1, -1, -1):
        alphas[i] = steps_taken[i].dot(q) * inverse_curvatures[i]
        q.add_(grad_changes[i], alpha=-alphas[i])
    direction = torch.mul(q, initial_scale)
    for i in range(len(grad_changes)):
        beta = grad_changes[i].dot(direction) * inverse_curvatures[i]
        direction.add_(steps_taken[i], alpha=alphas[i] - beta)
    return direction


def cubic_interpolate(
    x1: Number, f1: Number, g1: Number, x2: Number, f2: Number, g2: Number,
    bounds: tuple[Number, Number] | None = None,
) -> Number:
    r"""Minimizer of the cubic through :math:`(x_1, f_1)`, :math:`(x_2, f_2)` with slopes :math:`g_1, g_2`.

    .. math::
        d_1 = g_1 + g_2 - 3\frac{f_1 - f_2}{x_1 - x_2}, \qquad
        d_2 = \sqrt{d_1^2 - g_1 g_2}, \qquad
        x^\star = x_2 - (x_2 - x_1)\,\frac{g_2 + d_2 - d_1}{g_2 - g_1 + 2 d_2}
        \quad (x_1 \le x_2)

    clipped to ``bounds`` (by default the interval between the points). If the cubic
    has no minimizer (:math:`d_1^2 < g_1 g_2`) the midpoint of the bounds is returned.

    Args:
        x1, f1, g1: first point, value, slope.
        x2, f2, g2: second point, value, slope.
        bounds: ``(low, high)`` to clip to; default ``(min(x1, x2), max(x1, x2))``.

    Returns:
        The trial point (a float or a 0-dim tensor, whichever the arithmetic produced).

    Reference:
        Nocedal & Wright (2006), eq. (3.59).
    """
    low, high = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = d2_square.sqrt()
    if x1 <= x2:
        minimizer = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        minimizer = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(minimizer, low), high)


def strong_wolfe_line_search(
    evaluate: Callable[[list[torch.Tensor], Number, torch.Tensor], tuple[float, torch.Tensor]],
    x: list[torch.Tensor],
    step: Number,
    direction: torch.Tensor,
    loss: float,
    grad: torch.Tensor,
    slope: torch.Tensor,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, torch.Tensor, Number, int]:
    r"""Find a step :math:`t` along ``direction`` that satisfies the strong Wolfe conditions.

    .. math::
        f(x + t d) \le f(x) + c_1 t\, g^\top d, \qquad
        |\nabla f(x + t d)^\top d| \le c_2\, |g^\top d|

    *Bracketing* (Algorithm 3.5): try :math:`t`; if the loss rose above the Armijo line,
    or rose since the last trial, or the slope turned non-negative, a minimizer lies
    between the last two trials; if both conditions hold, stop; otherwise extrapolate to
    the cubic minimizer in :math:`[t + 0.01(t - t_{\text{prev}}),\ 10t]`. *Zoom*
    (Algorithm 3.6): shrink the bracket with cubic interpolation, keeping a low end that
    satisfies Armijo and whose slope points into the bracket, until the curvature
    condition holds; a trial within 10% of an end of the bracket is pushed inwards
    (after two such trials in a row). Every trial costs one evaluation of loss and gradient.

    Args:
        evaluate: ``evaluate(x, t, d) -> (loss, flat_grad)`` at :math:`x + t d` (and then
            restores :math:`x`).
        x: the current parameters (a copy, used to restore them).
        step: first trial step :math:`t`.
        direction: the search direction :math:`d` (flat).
        loss, grad, slope: :math:`f(x)`, :math:`\nabla f(x)` and :math:`g^\top d < 0`.
        c1: sufficient-decrease constant (default 1e-4).
        c2: curvature constant (default 0.9).
        tolerance_change: stop zooming when the bracket is shorter than this along
            :math:`d` (default 1e-9).
        max_ls: maximal number of trials (default 25).

    Returns:
        ``(loss, flat_grad, step, evaluations)`` at the accepted step.

    Reference:
        Nocedal & Wright (2006), Algorithms 3.5 and 3.6; torch's ``_strong_wolfe``, after
        Schmidt's minFunc.
    """
    direction_size = direction.abs().max()
    grad = grad.clone(memory_format=torch.contiguous_format)
    loss_new, grad_new = evaluate(x, step, direction)
    evaluations = 1
    slope_new = grad_new.dot(direction)

    step_prev, loss_prev, grad_prev, slope_prev = 0, loss, grad, slope
    done = False
    trials = 0
    while trials < max_ls:
        too_far = loss_new > (loss + c1 * step * slope) or (trials > 1 and loss_new >= loss_prev)
        if not too_far and abs(slope_new) <= -c2 * slope:
            bracket, bracket_loss, bracket_grad = [step], [loss_new], [grad_new]
            done = True
            break
        if too_far or slope_new >= 0:
            # a minimizer lies between the last two trials
            bracket = [step_prev, step]
            bracket_loss = [loss_prev, loss_new]
            bracket_grad = [grad_prev, grad_new.clone(memory_format=torch.contiguous_format)]
            bracket_slope = [slope_prev, slope_new]
            break
        # extrapolate: the slope is still negative, the minimizer lies further out
        low, high = step + 0.01 * (step - step_prev), step * 10
        step_prev, step = step, cubic_interpolate(step_prev, loss_prev, slope_prev, step, loss_new, slope_new, bounds=(low, high))
        loss_prev, grad_prev, slope_prev = loss_new, grad_new.clone(memory_format=torch.contiguous_format), slope_new
        loss_new, grad_new = evaluate(x, step, direction)
        evaluations += 1
        slope_new = grad_new.dot(direction)
        trials += 1

    if trials == max_ls:
        bracket, bracket_loss, bracket_grad = [0, step], [loss, loss_new], [grad, grad_new]

    # zoom: bracket[low_end] has the lower loss
    stalled = False
    low_end, high_end = (0, 1) if bracket_loss[0] <= bracket_loss[-1] else (1, 0)
    while not done and trials < max_ls:
        if abs(bracket[1] - bracket[0]) * direction_size < tolerance_change:
            break
        step = cubic_interpolate(
            bracket[0], bracket_loss[0], bracket_slope[0], bracket[1], bracket_loss[1], bracket_slope[1]
        )
        # a trial hugging an end of the bracket makes little progress: after two in a
        # row (or one outside the bracket), move it 10% of the bracket inwards
        margin = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - step, step - min(bracket)) < margin:
            if stalled or step >= max(bracket) or step <= min(bracket):
                if abs(step - max(bracket)) < abs(step - min(bracket)):
                    step = max(bracket) - margin
                else:
                    step = min(bracket) + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False

        loss_new, grad_new = evaluate(x, step, direction)
        evaluations += 1
        slope_new = grad_new.dot(direction)
        trials += 1

        if loss_new > (loss + c1 * step * slope) or loss_new >= bracket_loss[low_end]:
            bracket[high_end] = step
            bracket_loss[high_end] = loss_new
            bracket_grad[high_end] = grad_new.clone(memory_format=torch.contiguous_format)
            bracket_slope[high_end] = slope_new
            low_end, high_end = (0, 1) if bracket_loss[0] <= bracket_loss[1] else (1, 0)
        else:
            if abs(slope_new) <= -c2 * slope:
                done = True
            elif slope_new * (bracket[high_end] - bracket[low_end]) >= 0:
                # the slope at the new point points away from the high end: it becomes the high end
                bracket[high_end] = bracket[low_end]
                bracket_loss[high_end] = bracket_loss[low_end]
                bracket_grad[high_end] = bracket_grad[low_end]
                bracket_slope[high_end] = bracket_slope[low_end]
            bracket[low_end] = step
            bracket_loss[low_end] = loss_new
            bracket_grad[low_end] = grad_new.clone(memory_format=torch.contiguous_format)
            bracket_slope[low_end] = slope_new

    return bracket_loss[low_end], bracket_grad[low_end], bracket[low_end], evaluations


class LBFGS(Optimizer):
    r"""L-BFGS, a drop-in for ``torch.optim.LBFGS`` (closure required).

    One call to :meth:`step` runs up to ``max_iter`` quasi-Newton iterations:

    .. math::
        d_k = -H_k \nabla f(x_k) \ \text{(two-loop recursion)}, \qquad
        x_{k+1} = x_k + t_k d_k

    with :math:`t_k` = ``lr`` (the first iteration of a run uses
    :math:`\min(1, 1/\lVert g\rVert_1)\cdot` ``lr``), or, with
    ``line_search_fn="strong_wolfe"``, a step satisfying the strong Wolfe conditions
    found by :func:`strong_wolfe_line_search`. The pair :math:`(s_k, y_k)` enters the
    history only if :math:`y_k^\top s_k > 10^{-10}` (positive curvature keeps :math:`H`
    positive definite). It stops early when the gradient's largest entry is at most
    ``tolerance_grad``, when a step or a change of the loss is below
    ``tolerance_change``, or after ``max_eval`` evaluations of the closure.

    The closure is evaluated several times per step (it must zero the gradients,
    compute the loss, call ``backward()`` and return the loss). All parameters are one
    flat vector: there is a single param group and they must share a device. Sparse
    gradients are densified and complex parameters are pairs of reals, as in torch.
    State (of the first parameter, as in torch): ``func_evals``, ``n_iter``, ``d``,
    ``t``, ``old_dirs`` (:math:`y_i`), ``old_stps`` (:math:`s_i`), ``ro``
    (:math:`\rho_i`), ``H_diag`` (:math:`\gamma`), ``prev_flat_grad``, ``prev_loss`` and
    ``al`` (:math:`\alpha_i`).

    Args:
        params: iterable of parameters (one group only).
        lr: step length (default 1), a float or a 1-element tensor.
        max_iter: iterations per :meth:`step` (default 20).
        max_eval: closure evaluations per :meth:`step` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when :math:`\max_i |g_i|` is at most this (default 1e-7).
        tolerance_change: stop when the step or the change of the loss is below this (default 1e-9).
        history_size: number :math:`m` of pairs kept (default 100).
        line_search_fn: None or ``"strong_wolfe"`` (default None).

    Reference:
        Liu & Nocedal (1989), "On the limited memory BFGS method for large scale
        optimization"; Nocedal & Wright (2006), Algorithm 7.5.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
        >>> optimizer = LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     optimizer.zero_grad()
        ...     loss = ((w - 1.0) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = optimizer.step(closure)
        >>> torch.allclose(w, torch.ones(2)), optimizer.state[w]["func_evals"]
        (True, 3)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._numel_cache: int | None = None

    def _numel(self) -> int:
        if self._numel_cache is None:
            self._numel_cache = sum(2 * p.numel() if torch.is_complex(p) else p.numel() for p in self._params)
        return self._numel_cache

    def _flat_grad(self) -> torch.Tensor:
        """All gradients as one vector (zeros for a parameter without one)."""
        views = []
        for param in self._params:
            if param.grad is None:
                view = param.new(param.numel()).zero_()
            elif param.grad.is_sparse:
                view = param.grad.to_dense().view(-1)
            else:
                view = param.grad.view(-1)
            if torch.is_complex(view):
                view = torch.view_as_real(view).view(-1)
            views.append(view)
        return torch.cat(views, 0)

    def _move(self, step: Number, direction: torch.Tensor) -> None:
        """:math:`x \\leftarrow x + t\\,d`, the flat ``direction`` cut back into the parameters."""
        offset = 0
        for param in self._params:
            if torch.is_complex(param):
                param = torch.view_as_real(param)
            numel = param.numel()
            param.add_(direction[offset:offset + numel].view_as(param), alpha=step)
            offset += numel
        assert offset == self._numel()

    def _evaluate_at(
        self, closure: Callable[[], Any], x: list[torch.Tensor], step: Number, direction: torch.Tensor
    ) -> tuple[float, torch.Tensor]:
        """Loss and flat gradient at :math:`x + t d`, leaving the parameters at :math:`x`."""
        self._move(step, direction)
        loss = float(closure())
        flat_grad = self._flat_grad()
        for param, saved in zip(self._params, x):
            param.copy_(saved)
        return loss, flat_grad

    @torch.no_grad()
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations.

        Args:
            closure: re-evaluates the model (zero grads, loss, backward) and returns the loss.

        Returns:
            The loss returned by the first evaluation of the closure (before any update).
        """
        closure = torch.enable_grad()(closure)
        group = self.param_groups[0]
        lr = as_scalar(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss = closure()
        loss = float(first_loss)
        evaluations = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if flat_grad.abs().max() <= tolerance_grad:
            return first_loss

        direction, step = state.get("d"), state.get("t")
        grad_changes, steps_taken = state.get("old_dirs"), state.get("old_stps")
        inverse_curvatures, initial_scale = state.get("ro"), state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        iteration = 0
        while iteration < max_iter:
            iteration += 1
            state["n_iter"] += 1

            if state["n_iter"] == 1:
                direction = flat_grad.neg()
                grad_changes, steps_taken, inverse_curvatures = [], [], []
                initial_scale = 1
            else:
                y = flat_grad.sub(prev_flat_grad)
                s = direction.mul(step)
                ys = y.dot(s)
                if ys > 1e-10:
                    if len(grad_changes) == history_size:
                        grad_changes.pop(0)
                        steps_taken.pop(0)
                        inverse_curvatures.pop(0)
                    grad_changes.append(y)
                    steps_taken.append(s)
                    inverse_curvatures.append(1.0 / ys)
                    initial_scale = ys / y.dot(y)
                if "al" not in state:
                    state["al"] = [None] * history_size
                direction = two_loop_recursion(
                    flat_grad, steps_taken, grad_changes, inverse_curvatures, initial_scale, state["al"]
                )

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone(memory_format=torch.contiguous_format)
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss

            step = min(1.0, 1.0 / flat_grad.abs().sum()) * lr if state["n_iter"] == 1 else lr
            slope = flat_grad.dot(direction)
            if slope > -tolerance_change:
                break  # not a descent direction any more

            new_evaluations = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x = [p.clone(memory_format=torch.contiguous_format) for p in self._params]
                loss, flat_grad, step, new_evaluations = strong_wolfe_line_search(
                    lambda x, t, d: self._evaluate_at(closure, x, t, d),
                    x, step, direction, loss, flat_grad, slope, max_ls=max_eval - evaluations,
                )
                self._move(step, direction)
                converged = flat_grad.abs().max() <= tolerance_grad
            else:
                self._move(step, direction)
                converged = False
                if iteration != max_iter:
                    with torch.enable_grad():
                        loss = float(closure())
                    flat_grad = self._flat_grad()
                    converged = flat_grad.abs().max() <= tolerance_grad
                    new_evaluations = 1
            evaluations += new_evaluations
            state["func_evals"] += new_evaluations

            if iteration == max_iter or evaluations >= max_eval or converged:
                break
            if direction.mul(step).abs().max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"] = direction
        state["t"] = step
        state["old_dirs"] = grad_changes
        state["old_stps"] = steps_taken
        state["ro"] = inverse_curvatures
        state["H_diag"] = initial_scale
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = prev_loss
        return first_loss
