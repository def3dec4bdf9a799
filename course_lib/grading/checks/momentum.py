"""Checks for assignment 03_momentum: exponentially weighted averages, a momentum step, an SGD
optimizer class with momentum and Nesterov, and Nesterov's classic look-ahead form.

The step and the class are judged against ``torch.optim.SGD`` itself: the step through a
one-parameter ``torch.optim.SGD`` that shares the tensor's storage, the class by training the
same tensors with both for dozens of steps, saving and reloading the ``state_dict`` halfway.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim import Optimizer

from course_lib.grading import Check, Mistake, register
from course_lib.optim import ewma as _ewma
from course_lib.optimizer_state import trace_optimizer

# ---- 1. exponentially weighted average ----------------------------------------------------


def _ewma_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(111 if hidden else 1)
    settings = [(8, 0.9, True), (8, 0.5, False)] if not hidden else [
        (20, 0.9, True), (20, 0.9, False), (1, 0.99, True), (50, 0.98, True), (12, 0.0, True),
        (30, 0.5, False), (40, 0.99, False)]
    cases = []
    for i, (length, beta, correct) in enumerate(settings):
        dtype = torch.float64 if hidden and i % 2 else torch.float32
        values = 3.0 + torch.randn(length, generator=gen, dtype=torch.float64)
        cases.append({"values": values.to(dtype), "beta": beta, "bias_correction": correct})
    return cases


def _ewma_wrong(kind: str):
    def wrong(values, beta, bias_correction=False):
        out, v = [], torch.zeros((), dtype=values.dtype)
        for t, x in enumerate(values, start=1):
            if kind == "start_at_first" and t == 1:
                v = x.clone()
            elif kind == "swapped":
                v = (1 - beta) * v + beta * x
            else:
                v = beta * v + (1 - beta) * x
            if kind == "no_correction" or not bias_correction:
                out.append(v)
            elif kind == "t_from_zero":
                out.append(v / (1 - beta ** (t - 1)) if t > 1 else v / (1 - beta))
            else:
                out.append(v / (1 - beta**t))
        return torch.stack(out)
    return wrong


register(Check(
    name="momentum.ewma",
    reference=_ewma,
    cases=_ewma_cases,
    mistakes=(
        Mistake("no_correction", "with bias_correction=True each average must be divided by (1 - beta**t), "
                "t = 1 for the first value.", _ewma_wrong("no_correction")),
        Mistake("swapped", "beta and 1 - beta are swapped: the OLD average keeps the weight beta, "
                "v_t = beta * v_(t-1) + (1 - beta) * x_t.", _ewma_wrong("swapped")),
        Mistake("start_at_first", "the average started at the first value (v_1 = x_1); it starts at v_0 = 0, so "
                "v_1 = (1 - beta) * x_1, the start-up bias that the correction removes.", _ewma_wrong("start_at_first")),
        Mistake("t_from_zero", "the correction uses beta**(t-1): t counts from 1, so the first value is divided by "
                "1 - beta.", _ewma_wrong("t_from_zero")),
    ),
    hint="v = 0; for t = 1..T: v = beta * v + (1 - beta) * x_t; output v / (1 - beta**t) if bias_correction "
         "else v. Return a 1-D tensor of the input's dtype.",
))


# ---- 2. a momentum step (against torch.optim.SGD) ----------------------------------------


def _torch_momentum_step(param, grad, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """One ``torch.optim.SGD`` step on ``param`` (in place), with its buffer kept in ``state``."""
    leaf = torch.nn.Parameter(param)  # shares param's storage, so torch's update lands in param
    leaf.grad = grad.clone()
    optimizer = torch.optim.SGD([leaf], lr=lr, momentum=momentum, dampening=dampening,
                                weight_decay=weight_decay, nesterov=nesterov)
    if "momentum_buffer" in state:
        optimizer.state[leaf]["momentum_buffer"] = state["momentum_buffer"]
    optimizer.step()
    if "momentum_buffer" in optimizer.state[leaf]:
        state["momentum_buffer"] = optimizer.state[leaf]["momentum_buffer"]


SETTINGS = ("lr", "momentum", "dampening", "weight_decay", "nesterov")


def _run_steps(f, case):
    param, state, history = case["param"], {}, []
    for grad in case["grads"]:
        f(param, grad, state, **{k: case[k] for k in SETTINGS})
        history.append(param.clone())
    return torch.stack(history), state.get("momentum_buffer")


def _step_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(222 if hidden else 2)
    # (shape, steps, lr, momentum, dampening, weight_decay, nesterov); cases without dampening
    # come first, so that each mistake is named by the first case that exposes it
    configs = [((5,), 4, 0.1, 0.9, 0.5, 0.0, False), ((5,), 4, 0.1, 0.9, 0.0, 0.1, True)] if not hidden else [
        ((6,), 6, 0.1, 0.9, 0.0, 0.0, False),
        ((3, 2), 5, 0.05, 0.8, 0.0, 0.0, True),
        ((4,), 5, 0.1, 0.9, 0.0, 0.2, False),
        ((2, 2), 4, 0.2, 0.5, 0.0, 0.1, True),
        ((5,), 6, 0.1, 0.9, 0.5, 0.0, False),
        ((3,), 5, 0.3, 0.99, 0.9, 0.05, False),
        ((4,), 3, 0.1, 0.0, 0.0, 0.1, False),
        ((1,), 1, 0.5, 0.9, 0.3, 0.0, False),
    ]
    cases = []
    for i, (shape, steps, lr, momentum, dampening, wd, nesterov) in enumerate(configs):
        dtype = torch.float64 if hidden and i % 2 else torch.float32
        cases.append({
            "param": torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype),
            "grads": [torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype) for _ in range(steps)],
            "lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": wd, "nesterov": nesterov,
        })
    return cases


def _step_wrong(kind: str):
    def wrong(param, grad, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        g = grad if kind == "decay_after" else grad + weight_decay * param
        if momentum != 0:
            if "momentum_buffer" not in state:
                if kind in ("zeros_init", "ng_style"):
                    state["momentum_buffer"] = torch.zeros_like(param)
                else:
                    state["momentum_buffer"] = g.clone()
                    g = None
            buf = state["momentum_buffer"]
            if g is not None:
                if kind == "ng_style":
                    buf.mul_(momentum).add_((1 - momentum) * g)
                else:
                    buf.mul_(momentum).add_((1 - dampening) * g)
            g = grad + (0 if kind == "decay_after" else weight_decay * param)
            direction = g + momentum * buf if nesterov and kind != "nesterov_buf" else buf
        else:
            direction = g
        if kind == "decay_after":
            direction = direction + weight_decay * param
        if kind == "not_in_place":
            param = param - lr * direction  # noqa: F841  (rebinds the local name only)
        else:
            param.sub_(lr * direction)
    return wrong


register(Check(
    name="momentum.momentum_step",
    reference=_torch_momentum_step,
    cases=_step_cases,
    call=_run_steps,
    describe=lambda case: (f"param of shape {tuple(case['param'].shape)} ({case['param'].dtype}), "
                           f"{len(case['grads'])} steps with "
                           + ", ".join(f"{k}={case[k]}" for k in SETTINGS)),
    mistakes=(
        Mistake("not_in_place", "the parameter did not change: update it in place (param.sub_(...) or "
                "param -= ...), as torch.optim does.", _step_wrong("not_in_place")),
        Mistake("ng_style", "this is the EWMA convention (Ng's v = beta * v + (1 - beta) * g, from v = 0); "
                "torch's buffer is a running sum, buf = momentum * buf + (1 - dampening) * g, started at the first "
                "gradient, with no (1 - momentum) factor.", _step_wrong("ng_style")),
        Mistake("zeros_init", "the buffer must start as the first gradient itself: torch sets momentum_buffer = g "
                "(a clone) on the first step, with no dampening. Starting from zeros (or multiplying the first "
                "gradient by 1 - dampening) shrinks the first steps.", _step_wrong("zeros_init")),
        Mistake("nesterov_buf", "with nesterov=True the step is along g + momentum * buf (look ahead, then "
                "correct), not along buf.", _step_wrong("nesterov_buf")),
        Mistake("decay_after", "weight decay must enter the gradient BEFORE the buffer is updated "
                "(g = grad + weight_decay * param); you added it after the momentum.", _step_wrong("decay_after")),
    ),
    hint="g = grad + weight_decay * param; buf = g.clone() on the first step, else "
         "buf = momentum * buf + (1 - dampening) * g; direction = g + momentum * buf if nesterov else buf; "
         "param -= lr * direction. With momentum = 0 the direction is g and nothing is stored.",
))


# ---- 3. an optimizer class (against torch.optim.SGD) --------------------------------------


def _class_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(333 if hidden else 3)
    if not hidden:
        configs = [([(3,), (2, 2)], {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01, "nesterov": True},
                    [{"indices": [0]}, {"indices": [1], "lr": 0.1}], []),
                   ([(4,)], {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}, None, [])]
    else:
        configs = [
            ([(4,), (2, 3)], {"lr": 0.05, "momentum": 0.9}, None, []),
            ([(5,), (3,)], {"lr": 0.02, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}, None, []),
            ([(3, 2), (4,), (2,)], {"lr": 0.05, "momentum": 0.8, "dampening": 0.5}, None, [2]),
            ([(6,), (2, 2)], {"lr": 0.03, "momentum": 0.9},
             [{"indices": [0], "nesterov": True}, {"indices": [1], "lr": 0.1, "momentum": 0.5, "weight_decay": 0.2}],
             []),
            ([(4,)], {"lr": 0.1, "momentum": 0.0, "weight_decay": 0.05}, None, []),
        ]
    cases = []
    for i, (shapes, kwargs, groups, frozen) in enumerate(configs):
        dtype = torch.float64 if hidden and i % 2 else torch.float32
        cases.append({
            "init": [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in shapes],
            "targets": [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in shapes],
            # curvatures from 0.1 to 5 per coordinate: an ill-conditioned bowl, where momentum matters
            "curvatures": [torch.logspace(-1, math.log10(5), math.prod(s), dtype=dtype).reshape(s) for s in shapes],
            "frozen": frozen,
            "groups": groups,
            "kwargs": kwargs,
            "steps": 30 if not hidden else 30 + 4 * i,
            "resume_at": 12 if not hidden else 10 + 3 * i,
        })
    return cases


def _loss(case: dict[str, Any]):
    def loss(params: list[torch.Tensor], step: int) -> torch.Tensor:
        total = params[0].new_zeros(())
        for i, (p, target, h) in enumerate(zip(params, case["targets"], case["curvatures"])):
            if i in case["frozen"]:
                continue  # this tensor never gets a gradient: its .grad stays None
            shift = 0.3 * math.sin(0.9 * step + i)  # a target that moves a little, like a new mini-batch
            total = total + 0.5 * (h * (p - target - shift) ** 2).sum()
        return total
    return loss


def _groups(params: list[torch.Tensor], groups: list[dict[str, Any]] | None):
    if groups is None:
        return params
    return [{**{k: v for k, v in g.items() if k != "indices"}, "params": [params[i] for i in g["indices"]]}
            for g in groups]


def run_optimizer(optimizer_class: type[Optimizer], case: dict[str, Any]) -> dict[str, Any]:
    """Train the case's tensors with ``optimizer_class``, saving and reloading its state halfway.

    Returns:
        ``{"losses", "params", "momentum_buffers"}``: the loss before every step, the final
        tensors, and the final ``momentum_buffer`` of each parameter index in the
        ``state_dict`` (None where there is none).
    """
    trace = trace_optimizer(
        lambda params: optimizer_class(_groups(params, case["groups"]), **case["kwargs"]),
        case["init"], _loss(case), case["steps"], case["resume_at"],
    )
    buffers = [trace.state.get(i, {}).get("momentum_buffer") for i in range(len(case["init"]))]
    return {"losses": trace.losses, "params": trace.params, "momentum_buffers": buffers}


def momentum_like(kind: str = "") -> type[Optimizer]:
    """A class like ``torch.optim.SGD`` with one deliberate bug, named by ``kind`` (the class's mistakes)."""

    class MomentumLike(Optimizer):
        def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
            defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                        "weight_decay": weight_decay, "nesterov": nesterov}
            super().__init__(params, defaults)
            self._outside: dict[int, dict[str, Any]] = {}

        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                settings = self.defaults if kind == "ignores_groups" else group
                lr, mu, tau = settings["lr"], settings["momentum"], settings["dampening"]
                wd, nesterov = settings["weight_decay"], settings["nesterov"]
                key = "velocity" if kind == "state_key" else "momentum_buffer"
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self._outside.setdefault(id(p), {}) if kind == "state_outside" else self.state[p]
                    g = p.grad if kind == "decay_after" else p.grad + wd * p
                    if mu != 0:
                        if key not in state:
                            state[key] = torch.zeros_like(p) if kind in ("zeros_init", "ng_style") else g.clone()
                            first = kind not in ("zeros_init", "ng_style")
                        else:
                            first = False
                        buf = state[key]
                        if not first:
                            buf.mul_(mu).add_(g, alpha=(1 - mu) if kind == "ng_style" else 1 - tau)
                        direction = g + mu * buf if nesterov and kind != "nesterov_buf" else buf
                    else:
                        direction = g
                    if kind == "decay_after":
                        direction = direction + wd * p
                    p.sub_(lr * direction)

    return MomentumLike


register(Check(
    name="momentum.MomentumSGD",
    reference=torch.optim.SGD,
    cases=_class_cases,
    call=run_optimizer,
    describe=lambda case: (f"{len(case['init'])} tensors of shapes {[tuple(t.shape) for t in case['init']]} "
                           f"({case['init'][0].dtype}), {case['kwargs']}"
                           + (f", param groups {case['groups']}" if case["groups"] else "")
                           + (f", tensor {case['frozen']} never gets a gradient" if case["frozen"] else "")
                           + f"; {case['steps']} steps, state_dict saved and loaded into a new instance "
                             f"after {case['resume_at']}"),
    mistakes=(
        Mistake("ng_style", "this is the EWMA convention (v = momentum * v + (1 - momentum) * g); torch's "
                "buffer is a running sum, buf = momentum * buf + (1 - dampening) * g, started at the first "
                "gradient.", momentum_like("ng_style")),
        Mistake("state_outside", "the buffers are not in self.state, so state_dict() does not save them and "
                "momentum restarts from scratch after load_state_dict; keep them in self.state[p].",
                momentum_like("state_outside")),
        Mistake("state_key", "the buffer is stored under another name: torch calls it "
                "self.state[p]['momentum_buffer'] (a state_dict saved by torch.optim.SGD must load into your "
                "class and vice versa).", momentum_like("state_key")),
        Mistake("ignores_groups", "every parameter used the constructor's settings: read lr, momentum, ... "
                "from each param group (group['lr'], ...), so that groups can have their own.",
                momentum_like("ignores_groups")),
        Mistake("zeros_init", "the buffer must start as the first gradient itself (a clone), with no "
                "dampening on the first step; yours started from zeros.", momentum_like("zeros_init")),
        Mistake("nesterov_buf", "with nesterov=True the step is along g + momentum * buf, not along buf.",
                momentum_like("nesterov_buf")),
        Mistake("decay_after", "weight decay must be added to the gradient BEFORE the buffer is updated; you "
                "added it after the momentum.", momentum_like("decay_after")),
    ),
    hint="losses[k] is the loss before step k+1; the state_dict is saved to bytes and loaded into a new "
         "instance after `resume_at` steps. Skip parameters whose .grad is None; with momentum = 0 store "
         "nothing.",
))


# ---- 4. Nesterov's classic form --------------------------------------------------------------


def _nesterov_classic(A, c, theta0, lr, momentum, steps):
    """The classic iterates, read off torch's Nesterov SGD: theta_t = p_t + momentum * lr * buf_t."""
    p = torch.nn.Parameter(theta0.clone())
    optimizer = torch.optim.SGD([p], lr=lr, momentum=momentum, nesterov=True)
    thetas = [theta0.clone()]
    for _ in range(steps):
        p.grad = A @ p.detach() - c  # the gradient of f(theta) = theta^T A theta / 2 - c^T theta at p
        optimizer.step()
        thetas.append(p.detach() + momentum * lr * optimizer.state[p]["momentum_buffer"])
    return torch.stack(thetas)


def _classic_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(444 if hidden else 4)
    configs = [(2, 0.1, 0.9, 10)] if not hidden else [(2, 0.1, 0.9, 25), (3, 0.05, 0.5, 15), (1, 0.3, 0.95, 20),
                                                      (5, 0.02, 0.99, 30), (4, 0.1, 0.3, 8)]
    cases = []
    for i, (d, lr, momentum, steps) in enumerate(configs):
        dtype = torch.float64 if hidden and i % 2 == 0 else torch.float32
        Q = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64)).Q
        curvatures = torch.logspace(-1, 0.5, d, dtype=torch.float64)
        cases.append({
            "A": (Q @ torch.diag(curvatures) @ Q.T).to(dtype),
            "c": torch.randn(d, generator=gen, dtype=torch.float64).to(dtype),
            "theta0": torch.randn(d, generator=gen, dtype=torch.float64).to(dtype),
            "lr": lr, "momentum": momentum, "steps": steps,
        })
    return cases


def _classic_wrong(kind: str):
    def wrong(A, c, theta0, lr, momentum, steps):
        theta, v = theta0.clone(), torch.zeros_like(theta0)
        thetas = [theta0.clone() + (momentum * v if kind == "lookahead_points" else 0)]
        for _ in range(steps):
            where = {"gradient_at_theta": theta, "minus_lookahead": theta - momentum * v}.get(kind, theta + momentum * v)
            v = momentum * v - lr * (A @ where - c)
            theta = theta + v
            thetas.append(theta + momentum * v if kind == "lookahead_points" else theta)
        out = torch.stack(thetas)
        return out[1:] if kind == "no_start" else out
    return wrong


register(Check(
    name="momentum.nesterov_classic",
    reference=_nesterov_classic,
    cases=_classic_cases,
    atol=1e-5,
    mistakes=(
        Mistake("gradient_at_theta", "the gradient was taken at theta_t (that is heavy-ball momentum); Nesterov "
                "takes it at the look-ahead point theta_t + momentum * v_t.", _classic_wrong("gradient_at_theta")),
        Mistake("minus_lookahead", "the look-ahead went the wrong way: v points where the iterate is moving, so "
                "the look-ahead point is theta_t + momentum * v_t.", _classic_wrong("minus_lookahead")),
        Mistake("lookahead_points", "you returned the look-ahead points theta_t + momentum * v_t (what torch "
                "stores as the parameter); return the iterates theta_t themselves.", _classic_wrong("lookahead_points")),
        Mistake("no_start", "the starting point is missing: return steps + 1 rows, theta_0 first.",
                _classic_wrong("no_start")),
    ),
    hint="v = 0; repeat: v = momentum * v - lr * grad(theta + momentum * v); theta = theta + v; "
         "with grad(x) = A @ x - c. Return torch.stack([theta_0, ..., theta_steps]).",
))


# ---- 5. Nesterov's rate on one eigendirection -------------------------------------------


def _nesterov_matrix(lr, momentum, curvature, *, mu_in_step=None):
    r"""torch's Nesterov SGD on :math:`\tfrac12 \lambda p^2` as a map of :math:`(p, b)`:
    :math:`b_t = \mu b_{t-1} + \lambda p_{t-1}`,
    :math:`p_t = p_{t-1} - \eta(\lambda p_{t-1} + \mu b_t)`."""
    mu_in_step = momentum * momentum if mu_in_step is None else mu_in_step
    return torch.tensor([[1 - lr * curvature * (1 + momentum), -lr * mu_in_step],
                         [curvature, momentum]], dtype=torch.float64)


def _nesterov_rate(lr, momentum, curvature):
    """Spectral radius of the Nesterov map: the factor by which the error shrinks per step."""
    return torch.linalg.eigvals(_nesterov_matrix(lr, momentum, curvature)).abs().max().item()


def _heavy_ball_rate(lr, momentum, curvature):
    matrix = torch.tensor([[1 + momentum - lr * curvature, -momentum], [1.0, 0.0]], dtype=torch.float64)
    return torch.linalg.eigvals(matrix).abs().max().item()


def _rate_wrong(kind: str):
    def wrong(lr, momentum, curvature):
        if kind == "heavy_ball":
            return _heavy_ball_rate(lr, momentum, curvature)
        matrix = _nesterov_matrix(lr, momentum, curvature,
                                  mu_in_step=momentum if kind == "mu_not_squared" else None)
        eigenvalues = torch.linalg.eigvals(matrix)
        if kind == "real_part":
            return eigenvalues.real.abs().max().item()
        if kind == "signed_max":
            return eigenvalues.real.max().item()
        return eigenvalues.abs().max().item()
    return wrong


def _rate_cases(hidden: bool) -> list[dict[str, Any]]:
    # (lr, momentum, curvature). The visible cases have real eigenvalues (an overdamped
    # iteration, one with a negative root); the hidden ones add complex pairs (spirals),
    # the edge of stability and diverging settings.
    if not hidden:
        configs = [(0.1, 0.3, 1.0), (1.5, 0.3, 1.0)]
    else:
        configs = [(1.2, 0.0, 1.0), (0.5, 0.9, 1.0), (0.05, 0.5, 2.0), (3.0, 0.9, 0.1),
                   (2.0, 0.5, 1.0), (0.2, 0.99, 0.5), (1.9, 0.9, 0.75)]
    return [{"lr": lr, "momentum": momentum, "curvature": curvature}
            for lr, momentum, curvature in configs]


register(Check(
    name="momentum.nesterov_rate",
    reference=_nesterov_rate,
    cases=_rate_cases,
    rtol=1e-5,
    atol=1e-7,
    mistakes=(
        Mistake("heavy_ball", "this is the rate of heavy-ball momentum (the chapter's matrix "
                "[[1 + mu - lr h, -mu], [1, 0]]); Nesterov's step adds mu * b_t after the buffer "
                "update, p_t = p_(t-1) - lr * (g_t + mu * b_t), which changes the matrix.",
                _rate_wrong("heavy_ball")),
        Mistake("real_part", "when the eigenvalues are complex (the error spirals), the rate is their "
                "modulus |z| = sqrt(re^2 + im^2), not the size of their real part; use .abs() of the "
                "complex eigenvalues (torch.linalg.eigvals).", _rate_wrong("real_part")),
        Mistake("signed_max", "the rate is the largest MODULUS |z| of the eigenvalues: a negative "
                "eigenvalue (an error that flips sign every step) shrinks or grows by |z| too.",
                _rate_wrong("signed_max")),
        Mistake("mu_not_squared", "the buffer enters the step twice: b_t = mu * b_(t-1) + g_t and the "
                "step uses mu * b_t, so b_(t-1) is multiplied by mu * mu in the update of p.",
                _rate_wrong("mu_not_squared")),
    ),
    hint="Write one step of torch's Nesterov SGD on f(p) = curvature * p**2 / 2 as a linear map of the "
         "state (p, b), a 2x2 matrix; return the largest |eigenvalue| (torch.linalg.eigvals(...).abs()).",
))
