"""Checks for assignment 04_adaptive: AdaGrad, RMSprop and Adam steps, and an Adam optimizer class.

The step functions are pure: they take a parameter, its gradient and the method's state
and return the new values. The class is judged the way a user would notice a bug: it
trains a few tensors next to ``torch.optim.Adam`` for dozens of steps, with its
``state_dict`` saved to bytes and loaded into a fresh instance halfway.

The helpers :func:`optimizer_cases`, :func:`run_optimizer` and :func:`adam_like` are
shared with :mod:`course_lib.grading.checks.adamw`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim import Optimizer

from course_lib.grading import Check, Mistake, register
from course_lib.optim import (
    adagrad_update,
    adam_update,
    new_step_counter,
    rmsprop_update,
)
from course_lib.optimizer_state import trace_optimizer

# ---- inputs of the step functions -------------------------------------------------------------


def _scaled_gradients(gen: torch.Generator, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Random gradients whose coordinates span many orders of magnitude (1e-6 to 1e2).

    Tiny coordinates make the placement of eps visible; large ones make a missing square
    root visible.
    """
    numel = math.prod(shape)
    # the same coordinates are tiny at every call for one shape, like a rarely active feature
    order = torch.randperm(numel, generator=torch.Generator().manual_seed(numel))
    scales = torch.logspace(-6, 2, numel, dtype=torch.float64)[order]
    return (torch.randn(numel, generator=gen, dtype=torch.float64) * scales).reshape(shape).to(dtype)


def _step_shapes(hidden: bool) -> list[tuple[tuple[int, ...], torch.dtype]]:
    if not hidden:
        return [((6,), torch.float32)]
    return [((7,), torch.float64), ((3, 4), torch.float32), ((1,), torch.float64),
            ((2, 3, 2), torch.float64), ((16,), torch.float32)]


def _history(gen, shape, dtype, steps: int, *, beta1: float, beta2: float):
    """``(exp_avg, exp_avg_sq)`` after ``steps`` random gradients, so that the state is consistent."""
    exp_avg = torch.zeros(shape, dtype=torch.float64)
    exp_avg_sq = torch.zeros(shape, dtype=torch.float64)
    for _ in range(steps):
        g = _scaled_gradients(gen, shape, torch.float64)
        exp_avg = beta1 * exp_avg + (1 - beta1) * g
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
    return exp_avg.to(dtype), exp_avg_sq.to(dtype)


# ---- 1. AdaGrad step --------------------------------------------------------------------------


def _adagrad_step(param, grad, state_sum, lr, eps=1e-10):
    param, state = param.clone(), {"step": new_step_counter(), "sum": state_sum.clone()}
    adagrad_update(param, grad, state, lr=lr, eps=eps)
    return param, state["sum"]


def _adagrad_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(404 if hidden else 4)
    settings = [(0.1, 1e-10, 3), (0.5, 1e-2, 0), (0.01, 1e-10, 20), (1.0, 0.1, 5), (0.05, 1e-10, 1)] if hidden \
        else [(0.1, 1e-10, 3)]
    cases = []
    for (shape, dtype), (lr, eps, past) in zip(_step_shapes(hidden), settings):
        state_sum = sum((_scaled_gradients(gen, shape, torch.float64) ** 2 for _ in range(past)),
                        torch.zeros(shape, dtype=torch.float64))
        cases.append({
            "param": torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype),
            "grad": _scaled_gradients(gen, shape, dtype),
            "state_sum": state_sum.to(dtype),
            "lr": lr,
            "eps": eps,
        })
    return cases


register(Check(
    name="adaptive.adagrad_step",
    reference=_adagrad_step,
    cases=_adagrad_cases,
    call=lambda f, case: tuple(f(**case)),
    mistakes=(
        Mistake("no_accumulation", "the accumulator was replaced by g**2 instead of growing by it: "
                "AdaGrad keeps the running SUM of all squared gradients, state_sum + g**2.",
                lambda param, grad, state_sum, lr, eps=1e-10: (param - lr * grad / ((grad * grad).sqrt() + eps), grad * grad)),
        Mistake("eps_inside", "eps sits inside the square root; torch adds it outside: sqrt(state_sum) + eps.",
                lambda param, grad, state_sum, lr, eps=1e-10: (
                    param - lr * grad / (state_sum + grad * grad + eps).sqrt(), state_sum + grad * grad)),
        Mistake("no_sqrt", "you divided by the accumulated sum itself; divide by its square root, sqrt(state_sum) + eps.",
                lambda param, grad, state_sum, lr, eps=1e-10: (
                    param - lr * grad / (state_sum + grad * grad + eps), state_sum + grad * grad)),
        Mistake("old_sum", "the step divides by the accumulator from BEFORE adding g**2; update the sum first, then step.",
                lambda param, grad, state_sum, lr, eps=1e-10: (
                    param - lr * grad / (state_sum.sqrt() + eps), state_sum + grad * grad)),
    ),
    hint="state_sum <- state_sum + g**2, then param <- param - lr * g / (sqrt(state_sum) + eps); "
         "return (param, state_sum).",
))


# ---- 2. RMSprop step --------------------------------------------------------------------------


def _rmsprop_step(param, grad, square_avg, lr, alpha=0.99, eps=1e-8):
    param, state = param.clone(), {"step": new_step_counter(), "square_avg": square_avg.clone()}
    rmsprop_update(param, grad, state, lr=lr, alpha=alpha, eps=eps)
    return param, state["square_avg"]


def _rmsprop_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(505 if hidden else 5)
    settings = [(0.01, 0.99, 1e-8, 10), (0.001, 0.9, 1e-8, 0), (0.1, 0.5, 1e-3, 3), (0.02, 0.999, 1e-8, 50),
                (0.05, 0.95, 1e-6, 2)] if hidden else [(0.01, 0.9, 1e-8, 5)]
    cases = []
    for (shape, dtype), (lr, alpha, eps, past) in zip(_step_shapes(hidden), settings):
        _, square_avg = _history(gen, shape, dtype, past, beta1=0.0, beta2=alpha)
        cases.append({
            "param": torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype),
            "grad": _scaled_gradients(gen, shape, dtype),
            "square_avg": square_avg,
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
        })
    return cases


def _rmsprop_wrong(*, eps_inside=False, swap=False, squared=True, root=True):
    def wrong(param, grad, square_avg, lr, alpha=0.99, eps=1e-8):
        g2 = grad * grad if squared else grad
        v = (1 - alpha) * square_avg + alpha * g2 if swap else alpha * square_avg + (1 - alpha) * g2
        if eps_inside:
            denom = (v + eps).sqrt()
        else:
            denom = (v.sqrt() if root else v) + eps
        return param - lr * grad / denom, v
    return wrong


register(Check(
    name="adaptive.rmsprop_step",
    reference=_rmsprop_step,
    cases=_rmsprop_cases,
    call=lambda f, case: tuple(f(**case)),
    mistakes=(
        Mistake("eps_inside", "eps sits inside the square root; torch's RMSprop adds it outside: sqrt(square_avg) + eps.",
                _rmsprop_wrong(eps_inside=True)),
        Mistake("alpha_swapped", "alpha and 1 - alpha are swapped: the OLD average keeps the weight alpha, "
                "square_avg <- alpha * square_avg + (1 - alpha) * g**2.", _rmsprop_wrong(swap=True)),
        Mistake("grad_not_squared", "the running average was updated with g instead of g**2 (the average of "
                "SQUARED gradients is what estimates the scale).", _rmsprop_wrong(squared=False)),
        Mistake("no_sqrt", "you divided by the running average itself; divide by its square root (the RMS).",
                _rmsprop_wrong(root=False)),
    ),
    hint="square_avg <- alpha * square_avg + (1 - alpha) * g**2, then "
         "param <- param - lr * g / (sqrt(square_avg) + eps); return (param, square_avg).",
))


# ---- 3. Adam step -----------------------------------------------------------------------------


def _adam_step(param, grad, exp_avg, exp_avg_sq, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    state = {"step": torch.tensor(float(step - 1)), "exp_avg": exp_avg.clone(), "exp_avg_sq": exp_avg_sq.clone()}
    param = param.clone()
    adam_update(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    return param, state["exp_avg"], state["exp_avg_sq"]


def adam_step_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(606 if hidden else 6)
    settings = [(2, 0.01, 0.9, 0.999, 1e-8), (1, 0.001, 0.9, 0.999, 1e-8), (10, 0.1, 0.8, 0.99, 1e-3),
                (1000, 0.003, 0.9, 0.999, 1e-8), (5, 0.05, 0.5, 0.9, 1e-6)] if hidden \
        else [(3, 0.01, 0.9, 0.999, 1e-8)]
    cases = []
    for (shape, dtype), (step, lr, beta1, beta2, eps) in zip(_step_shapes(hidden), settings):
        exp_avg, exp_avg_sq = _history(gen, shape, dtype, min(step - 1, 60), beta1=beta1, beta2=beta2)
        cases.append({
            "param": torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype),
            "grad": _scaled_gradients(gen, shape, dtype),
            "exp_avg": exp_avg,
            "exp_avg_sq": exp_avg_sq,
            "step": step,
            "lr": lr,
            "beta1": beta1,
            "beta2": beta2,
            "eps": eps,
        })
    return cases


def _adam_wrong(*, correct=True, eps_inside=False, t_offset=0, squared=True, eps_before_correction=False):
    def wrong(param, grad, exp_avg, exp_avg_sq, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * exp_avg + (1 - beta1) * grad
        v = beta2 * exp_avg_sq + (1 - beta2) * (grad * grad if squared else grad)
        t = step + t_offset
        c1, c2 = (1 - beta1**t, 1 - beta2**t) if correct else (1.0, 1.0)
        if eps_inside:
            update = (m / c1) / (v / c2 + eps).sqrt()
        elif eps_before_correction:
            update = (m / c1) * math.sqrt(c2) / (v.sqrt() + eps)
        else:
            update = (m / c1) / ((v / c2).sqrt() + eps)
        return param - lr * update, m, v
    return wrong


register(Check(
    name="adaptive.adam_step",
    reference=_adam_step,
    cases=adam_step_cases,
    call=lambda f, case: tuple(f(**case)),
    mistakes=(
        Mistake("no_bias_correction", "there is no bias correction: divide m by (1 - beta1**t) and v by "
                "(1 - beta2**t) before the step.", _adam_wrong(correct=False)),
        Mistake("eps_inside", "eps sits inside the square root; torch adds it outside: sqrt(v_hat) + eps.",
                _adam_wrong(eps_inside=True)),
        Mistake("t_from_zero", "the bias correction uses t - 1: `step` is already the number of THIS step "
                "(1 on the first step), so use 1 - beta**step.", _adam_wrong(t_offset=-1)),
        Mistake("grad_not_squared", "the second moment was updated with g instead of g**2.",
                _adam_wrong(squared=False)),
        Mistake("eps_before_correction", "eps was added to sqrt(v) before the bias correction (the paper's "
                "'efficient' form, used by TensorFlow); torch adds it to sqrt(v_hat), after correcting.",
                _adam_wrong(eps_before_correction=True)),
    ),
    hint="m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g**2; m_hat = m/(1-b1**step); v_hat = v/(1-b2**step); "
         "param <- param - lr * m_hat / (sqrt(v_hat) + eps); return (param, m, v).",
))


# ---- 4. an Adam optimizer class ---------------------------------------------------------------
# Shared with checks.adamw: cases describe tensors to train, param groups and a resume point.


def optimizer_cases(hidden: bool, *, seed: int, kwargs_list: list[dict[str, Any]],
                    groups_list: list[list[dict[str, Any]] | None], steps: int = 40) -> list[dict[str, Any]]:
    """Training problems for an optimizer class: tensors, targets, param groups, kwargs, a resume step.

    Hidden cases add float64, a parameter that never gets a gradient (its ``.grad`` stays
    None; torch skips it) and param groups with their own settings.
    """
    gen = torch.Generator().manual_seed(seed)
    shape_sets = [[(4,), (2, 3)], [(5,), (3,), (2, 2)], [(6,)], [(3, 2), (4,), (1,)]] if hidden else [[(3,), (2, 2)]]
    cases = []
    for i, (shapes, kwargs, groups) in enumerate(zip(shape_sets, kwargs_list, groups_list)):
        dtype = torch.float64 if hidden and i % 2 else torch.float32
        init = [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in shapes]
        cases.append({
            "init": init,
            "targets": [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in shapes],
            "scales": [torch.logspace(-5, 1, math.prod(s), dtype=dtype).reshape(s) for s in shapes],
            "frozen": [len(shapes) - 1] if hidden and i == 1 else [],
            "groups": groups,
            "kwargs": kwargs,
            "steps": steps if not hidden else steps + 10 * i,
            "resume_at": steps // 2 + (3 * i if hidden else 0),
        })
    return cases


def _loss(case: dict[str, Any]):
    def loss(params: list[torch.Tensor], step: int) -> torch.Tensor:
        total = params[0].new_zeros(())
        for i, (p, target, scale) in enumerate(zip(params, case["targets"], case["scales"])):
            if i in case["frozen"]:
                continue
            # the target wobbles from step to step, like the loss of a new mini-batch
            wobble = 0.3 * math.sin(0.7 * step + i)
            total = total + 0.5 * (scale * (p - target - wobble) ** 2).sum()
        return total
    return loss


def _param_groups(params: list[torch.Tensor], groups: list[dict[str, Any]] | None):
    if groups is None:
        return params
    return [{**{k: v for k, v in g.items() if k != "indices"}, "params": [params[i] for i in g["indices"]]}
            for g in groups]


def run_optimizer(optimizer_class, case: dict[str, Any]) -> dict[str, Any]:
    """Train the case's tensors with ``optimizer_class`` (state saved and reloaded midway).

    Returns:
        ``{"losses", "params", "state"}``: the loss before every step, the final tensors, and
        per parameter index the final ``step`` (as a float), ``exp_avg`` and ``exp_avg_sq``.
    """
    trace = trace_optimizer(
        lambda params: optimizer_class(_param_groups(params, case["groups"]), **case["kwargs"]),
        case["init"], _loss(case), case["steps"], case["resume_at"],
    )
    state = {}
    for index, values in trace.state.items():
        state[index] = {key: (float(value) if key == "step" else value) for key, value in values.items()}
    return {"losses": trace.losses, "params": trace.params, "state": state}


def describe_optimizer_case(case: dict[str, Any]) -> str:
    """One line for failure messages: what is trained, with which settings, and when it resumes."""
    shapes = ", ".join(str(tuple(t.shape)) for t in case["init"])
    groups = "one group" if case["groups"] is None else "groups " + ", ".join(
        "{params " + str(g["indices"]) + "".join(f", {k}={v}" for k, v in g.items() if k != "indices") + "}"
        for g in case["groups"])
    frozen = f"; tensor {case['frozen'][0]} gets no gradient" if case["frozen"] else ""
    return (f"{len(case['init'])} tensors of shapes {shapes} ({case['init'][0].dtype}), optimizer kwargs "
            f"{case['kwargs']}, {groups}{frozen}; {case['steps']} steps, state_dict saved and loaded into a "
            f"new instance after step {case['resume_at']}")


def adam_like(*, bias_correction: bool = True, eps_inside: bool = False, use_groups: bool = True,
              state_outside: bool = False, keys: tuple[str, str] = ("exp_avg", "exp_avg_sq"),
              decay: str = "none", default_weight_decay: float = 0.0) -> type[Optimizer]:
    """A class like ``torch.optim.Adam``/``AdamW`` with one deliberate bug (the mistakes of the class parts).

    Args:
        decay: ``"none"``, ``"l2"`` (added to the gradient), ``"decoupled"`` (AdamW),
            ``"after"`` (decoupled but after the Adam step), ``"no_lr"`` (decoupled, not times lr).
    """

    class AdamLike(Optimizer):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=default_weight_decay):
            super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})
            self._outside: dict[int, dict[str, Any]] = {}

        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                settings = self.defaults if not use_groups else group
                lr, (beta1, beta2), eps, wd = settings["lr"], settings["betas"], settings["eps"], settings["weight_decay"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad
                    state = self._outside.setdefault(id(p), {}) if state_outside else self.state[p]
                    if not state:
                        state["step"] = torch.tensor(0.0)
                        state[keys[0]] = torch.zeros_like(p)
                        state[keys[1]] = torch.zeros_like(p)
                    state["step"] += 1
                    t = state["step"].item()
                    if decay == "l2":
                        grad = grad + wd * p
                    elif decay == "decoupled":
                        p.mul_(1 - lr * wd)
                    elif decay == "no_lr":
                        p.mul_(1 - wd)
                    m, v = state[keys[0]], state[keys[1]]
                    m.mul_(beta1).add_(grad, alpha=1 - beta1)
                    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                    c1, c2 = (1 - beta1**t, 1 - beta2**t) if bias_correction else (1.0, 1.0)
                    denom = (v / c2 + eps).sqrt() if eps_inside else (v / c2).sqrt() + eps
                    p.sub_(lr * (m / c1) / denom)
                    if decay == "after":
                        p.mul_(1 - lr * wd)

    return AdamLike


def _adam_class_cases(hidden: bool) -> list[dict[str, Any]]:
    if not hidden:
        return optimizer_cases(False, seed=7, kwargs_list=[{"lr": 0.05}],
                               groups_list=[[{"indices": [0]}, {"indices": [1], "lr": 0.01}]])
    kwargs_list = [{"lr": 0.05}, {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-3},
                   {"lr": 0.1, "betas": (0.9, 0.9)}, {"lr": 0.01, "betas": (0.5, 0.999), "eps": 1e-6}]
    groups_list = [
        [{"indices": [0]}, {"indices": [1], "lr": 0.2}],
        None,
        None,
        [{"indices": [0, 2], "lr": 0.003, "betas": (0.9, 0.99)}, {"indices": [1], "eps": 1e-2}],
    ]
    return optimizer_cases(True, seed=707, kwargs_list=kwargs_list, groups_list=groups_list)


register(Check(
    name="adaptive.Adam",
    reference=torch.optim.Adam,
    cases=_adam_class_cases,
    call=run_optimizer,
    describe=describe_optimizer_case,
    mistakes=(
        Mistake("no_bias_correction", "the steps are not bias-corrected: divide m by (1 - beta1**t) and v by "
                "(1 - beta2**t), with t the parameter's step count.", adam_like(bias_correction=False)),
        Mistake("eps_inside", "eps sits inside the square root; torch adds it outside: sqrt(v_hat) + eps.",
                adam_like(eps_inside=True)),
        Mistake("ignores_groups", "every parameter used the constructor's defaults: read lr, betas and eps from "
                "each param group (group['lr'], ...), so that groups can have their own settings.",
                adam_like(use_groups=False)),
        Mistake("state_outside", "the moments are not in self.state, so state_dict() does not save them and "
                "training restarts from zero moments after loading; keep them in self.state[p].",
                adam_like(state_outside=True)),
        Mistake("state_keys", "the state keys differ from torch's: name them 'step', 'exp_avg' and 'exp_avg_sq' "
                "(a state_dict saved by torch.optim.Adam must load into your class and vice versa).",
                adam_like(keys=("m", "v"))),
    ),
    hint="losses[k] is the loss before step k+1; the optimizer's state_dict is saved and loaded into a new "
         "instance after `resume_at` steps. Skip parameters whose .grad is None.",
))


# ---- 6. full-matrix AdaGrad ------------------------------------------------------------------


def _full_adagrad(param, grad, G, lr, eps=1e-10, *, kind: str = ""):
    """One full-matrix AdaGrad step, computed in float64; ``kind`` names a known mistake."""
    g = grad.double()
    new_G = G.double() if kind in ("old_G", "G_not_updated") else G.double() + torch.outer(g, g)
    eye = torch.eye(g.numel(), dtype=torch.float64)
    if kind == "diagonal_only":
        step = g / (torch.diagonal(new_G).clamp(min=0).sqrt() + eps)
    elif kind == "cholesky":
        factor = torch.linalg.cholesky(new_G + 1e-12 * eye)
        step = torch.linalg.solve(eps * eye + factor, g)
    else:
        eigenvalues, Q = torch.linalg.eigh(new_G)
        eigenvalues = eigenvalues.clamp(min=0)
        if kind == "eps_inside":
            step = Q @ ((Q.T @ g) / (eigenvalues + eps).sqrt())
        elif kind == "no_square_root":
            step = Q @ ((Q.T @ g) / (eigenvalues + eps))
        elif kind == "no_inverse":
            step = Q @ ((Q.T @ g) * eigenvalues.sqrt())
        else:
            step = Q @ ((Q.T @ g) / (eigenvalues.sqrt() + eps))
    if kind == "G_not_updated":
        new_G = G.double()
        eigenvalues, Q = torch.linalg.eigh(new_G + torch.outer(g, g))
        step = Q @ ((Q.T @ g) / (eigenvalues.clamp(min=0).sqrt() + eps))
    new_param = param.double() - lr * step
    return new_param.to(param.dtype), new_G.to(param.dtype)


def _full_adagrad_step(param, grad, G, lr, eps=1e-10):
    r"""Full-matrix AdaGrad (Duchi, Hazan & Singer, 2011):
    :math:`G_t = G_{t-1} + g g^\top`, :math:`\theta \leftarrow \theta - \eta\,(\epsilon I + G_t^{1/2})^{-1} g`,
    with :math:`G^{1/2}` the symmetric square root. Returns ``(new_param, new_G)``."""
    return _full_adagrad(param, grad, G, lr, eps)


def _full_adagrad_wrong(kind: str):
    return lambda param, grad, G, lr, eps=1e-10: _full_adagrad(param, grad, G, lr, eps, kind=kind)


def _full_adagrad_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(707 if hidden else 7)
    # (dimension, number of past gradients in G, lr, eps); G = 0 is the first step. The
    # visible cases use a tiny eps, where eps inside or outside the root hardly differ.
    # With fewer past gradients than dimensions G + g g^T is singular, and a tiny eps
    # divides the rounding errors of its null space: those cases are float64.
    configs = [(3, 5, 0.1, 1e-10), (2, 0, 0.5, 1e-10)] if not hidden else [
        (4, 7, 0.1, 1e-10), (3, 2, 0.05, 0.5), (5, 0, 0.2, 1e-8), (2, 4, 1.0, 2.0),
        (6, 1, 0.01, 1e-10), (3, 6, 0.3, 0.1)]
    cases = []
    for i, (d, past, lr, eps) in enumerate(configs):
        dtype = torch.float32 if past >= d + 1 else torch.float64
        scales = torch.logspace(-1, 0.5, d, dtype=torch.float64)
        history = torch.randn(past, d, generator=gen, dtype=torch.float64) * scales
        G = history.T @ history
        cases.append({
            "param": torch.randn(d, generator=gen, dtype=torch.float64).to(dtype),
            "grad": (torch.randn(d, generator=gen, dtype=torch.float64) * scales).to(dtype),
            "G": G.to(dtype), "lr": lr, "eps": eps,
        })
    return cases


register(Check(
    name="adaptive.full_adagrad_step",
    reference=_full_adagrad_step,
    cases=_full_adagrad_cases,
    call=lambda f, case: tuple(f(**case)),
    rtol=1e-4,
    atol=1e-5,
    describe=lambda case: (f"param of shape {tuple(case['param'].shape)} ({case['param'].dtype}), G built "
                           f"from {'no' if not case['G'].any() else 'some'} past gradients, "
                           f"lr={case['lr']}, eps={case['eps']}"),
    mistakes=(
        Mistake("diagonal_only", "you used only the diagonal of G: that is ordinary (diagonal) AdaGrad. "
                "Full-matrix AdaGrad multiplies by the inverse of eps * I + G^(1/2), the square root of the "
                "whole matrix, which mixes the coordinates.", _full_adagrad_wrong("diagonal_only")),
        Mistake("old_G", "the new outer product g g^T must be added to G BEFORE the step, as torch's Adagrad "
                "adds g**2 to its sum before dividing.", _full_adagrad_wrong("old_G")),
        Mistake("no_square_root", "you divided by eps * I + G instead of eps * I + G^(1/2): take the matrix "
                "square root (eigendecomposition G = Q diag(l) Q^T, then Q diag(sqrt(l)) Q^T).",
                _full_adagrad_wrong("no_square_root")),
        Mistake("no_inverse", "you multiplied the gradient by G^(1/2); the step solves (eps * I + G^(1/2)) "
                "step = g, i.e. multiplies by the INVERSE.", _full_adagrad_wrong("no_inverse")),
        Mistake("cholesky", "the Cholesky factor L (G = L L^T) is not the square root that AdaGrad uses: "
                "it is not symmetric, and L^-1 g depends on the order of the coordinates. Use the symmetric "
                "square root Q diag(sqrt(l)) Q^T.", _full_adagrad_wrong("cholesky")),
        Mistake("eps_inside", "eps belongs outside the root, (eps * I + G^(1/2))^-1 g, as in torch's "
                "Adagrad (g / (sqrt(sum) + eps)); you used (G + eps * I)^(-1/2) g.",
                _full_adagrad_wrong("eps_inside")),
        Mistake("G_not_updated", "the returned G must include the new outer product g g^T: it is the state "
                "the next step starts from.", _full_adagrad_wrong("G_not_updated")),
    ),
    hint="G_new = G + outer(grad, grad); with l, Q = torch.linalg.eigh(G_new), the symmetric square root is "
         "Q @ diag(sqrt(l)) @ Q.T, and (eps * I + root)^-1 grad = Q @ ((Q.T @ grad) / (sqrt(l) + eps)) "
         "(clamp l at 0 first); return (param - lr * step, G_new).",
))
