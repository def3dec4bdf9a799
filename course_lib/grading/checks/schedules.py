"""Checks for assignment 06_schedules: schedules as ``step -> lr`` functions, and a LambdaLR.

Parts 1 to 4 are pure functions ``f(step, **settings) -> lr``. A case evaluates the
function at steps ``0 .. num_steps - 1`` and compares the whole list with the
reference from :mod:`course_lib.schedules`, which ``tests/test_schedules.py`` checks
against ``torch.optim.lr_scheduler`` step by step (equal to float64 rounding). The
flat index in a failure message is the step.

Part 5 returns a ``torch.optim.lr_scheduler.LambdaLR``. A case attaches it to SGD with
momentum on a small float64 network with two param groups of their own learning rates,
trains for a few hundred steps, and compares the rate of both groups at every step and
the final weights with what the reference scheduler gives.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable

import torch
from torch.nn import functional as F
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from course_lib import schedules
from course_lib.grading import Check, Mistake, register
from course_lib.models import mlp

# Rates span 1e-7 (the end of a one-cycle run) to 1; every correct formula agrees with
# the reference to a few units in the last place, every known mistake by far more.
_ATOL, _RTOL = 1e-12, 1e-7


def _rates(f: Callable[..., float], case: dict[str, Any]) -> torch.Tensor:
    """The rates ``f(t, **settings)`` for ``t = 0 .. num_steps - 1``, as one float64 tensor."""
    values = []
    for step in range(case["num_steps"]):
        value = f(step, **case["settings"])
        values.append(float(value.item() if isinstance(value, torch.Tensor) else value))
    return torch.tensor(values, dtype=torch.float64)


def _describe(case: dict[str, Any]) -> str:
    settings = ", ".join(f"{k}={v!r}" for k, v in case["settings"].items())
    return f"steps 0..{case['num_steps'] - 1} with {settings} (the flat index in the message is the step)"


def _cases(visible: list[dict[str, Any]], hidden: list[dict[str, Any]],
           num_steps: Callable[[dict, bool], int] | Callable[[dict], int], by_visibility: bool = False):
    def cases(is_hidden: bool) -> list[dict[str, Any]]:
        chosen = hidden if is_hidden else visible
        count = (lambda s: num_steps(s, is_hidden)) if by_visibility else num_steps
        return [{"settings": dict(settings), "num_steps": count(settings)} for settings in chosen]
    return cases


# ---- 1. step decay ---------------------------------------------------------------------------


def _step_decay(step, lr, step_size, gamma=0.1):
    return schedules.step_decay(lr, step_size, gamma)(step)


register(Check(
    name="schedules.step_decay",
    reference=_step_decay,
    cases=_cases(
        visible=[{"lr": 0.1, "step_size": 3, "gamma": 0.5}],
        hidden=[
            {"lr": 0.1, "step_size": 30},  # torch's default gamma, 0.1
            {"lr": 0.05, "step_size": 7, "gamma": 0.7},
            {"lr": 1.0, "step_size": 1, "gamma": 0.9},
            {"lr": 0.3, "step_size": 10, "gamma": 0.5},
        ],
        num_steps=lambda s: 4 * s["step_size"] + 3,
    ),
    call=_rates,
    describe=_describe,
    atol=_ATOL,
    rtol=_RTOL,
    mistakes=(
        Mistake("every_step", "the rate is multiplied by gamma at every step; StepLR multiplies it only once "
                "every step_size steps: lr * gamma ** (step // step_size).",
                lambda step, lr, step_size, gamma=0.1: lr * gamma**step),
        Mistake("off_by_one", "each decay comes one step early (off by one): step 0 is the first step, so the "
                "first decay happens at step == step_size, not step_size - 1.",
                lambda step, lr, step_size, gamma=0.1: lr * gamma ** ((step + 1) // step_size)),
        Mistake("no_floor", "the exponent step / step_size is not rounded down, so the rate decays smoothly "
                "(that is exponential decay); StepLR keeps it constant in between: step // step_size.",
                lambda step, lr, step_size, gamma=0.1: lr * gamma ** (step / step_size)),
        Mistake("default_gamma", "the default gamma is not torch's: StepLR's gamma defaults to 0.1.",
                lambda step, lr, step_size, gamma=0.5: lr * gamma ** (step // step_size)),
    ),
    hint="lr * gamma ** (step // step_size); step counts from 0, gamma defaults to 0.1.",
))


# ---- 2. cosine annealing ---------------------------------------------------------------------


def _cosine(step, lr, T_max, eta_min=0.0):
    return schedules.cosine_annealing(lr, T_max, eta_min)(step)


def _cosine_wrong(kind: str):
    def wrong(step, lr, T_max, eta_min=0.0):
        t = step
        if kind == "off_by_one":
            t = step + 1
        if kind == "clamped":
            t = min(step, T_max)
        angle = math.pi * t / T_max
        if kind == "full_period":
            angle = 2 * math.pi * t / T_max
        if kind == "no_eta_min":
            return lr * (1 + math.cos(angle)) / 2
        if kind == "no_one_plus":
            return eta_min + (lr - eta_min) * math.cos(angle)
        if kind == "falling_only":
            return min(lr, eta_min) + abs(lr - eta_min) * (1 + math.cos(angle)) / 2
        return eta_min + (lr - eta_min) * (1 + math.cos(angle)) / 2
    return wrong


register(Check(
    name="schedules.cosine_annealing",
    reference=_cosine,
    cases=_cases(
        visible=[{"lr": 0.1, "T_max": 10, "eta_min": 0.001}],
        hidden=[
            {"lr": 0.1, "T_max": 50},
            {"lr": 0.02, "T_max": 7, "eta_min": 0.005},
            {"lr": 1.0, "T_max": 100, "eta_min": 0.1},
            {"lr": 0.3, "T_max": 1, "eta_min": 0.01},
            {"lr": 0.01, "T_max": 20, "eta_min": 0.05},  # eta_min above lr: the rate climbs, as torch's does
        ],
        # the visible case stops at T_max; past it, the hidden cases check that the cosine goes on
        num_steps=lambda s, hidden: s["T_max"] + 1 + (s["T_max"] // 2 if hidden and s["T_max"] != 100 else 0),
        by_visibility=True,
    ),
    call=_rates,
    describe=_describe,
    atol=_ATOL,
    rtol=_RTOL,
    mistakes=(
        Mistake("full_period", "the cosine runs over the wrong period: cos(2 * pi * step / T_max) goes down and "
                "back up within T_max steps; torch's half cosine cos(pi * step / T_max) reaches eta_min at T_max.",
                _cosine_wrong("full_period")),
        Mistake("off_by_one", "the schedule is one step ahead (off by one): step 0 must give lr itself, so use "
                "cos(pi * step / T_max), not step + 1.", _cosine_wrong("off_by_one")),
        Mistake("no_eta_min", "eta_min is ignored: the rate goes from lr down to eta_min, "
                "eta_min + (lr - eta_min) * (1 + cos(pi * step / T_max)) / 2.", _cosine_wrong("no_eta_min")),
        Mistake("no_one_plus", "the cosine lacks its '1 +' and the halving: (1 + cos(...)) / 2 runs from 1 to 0, "
                "cos(...) alone from 1 to -1, which makes the rate negative.", _cosine_wrong("no_one_plus")),
        Mistake("clamped", "the rate stays at eta_min after T_max; torch's CosineAnnealingLR keeps following the "
                "cosine, which climbs back towards lr (stop training at T_max instead).", _cosine_wrong("clamped")),
        Mistake("falling_only", "the schedule assumes eta_min < lr; the formula eta_min + (lr - eta_min) * "
                "(1 + cos(pi * step / T_max)) / 2 also holds when eta_min is larger (the rate then rises).",
                _cosine_wrong("falling_only")),
    ),
    hint="eta_min + (lr - eta_min) * (1 + cos(pi * step / T_max)) / 2, also for steps past T_max.",
))


# ---- 3. linear warmup, then cosine -----------------------------------------------------------


def _warmup_cosine(step, lr, warmup_steps, total_steps, start_factor=1.0 / 3, eta_min=0.0):
    return schedules.warmup_cosine(lr, warmup_steps, total_steps, start_factor, eta_min)(step)


def _warmup_cosine_wrong(kind: str):
    def wrong(step, lr, warmup_steps, total_steps, start_factor=1.0 / 3, eta_min=0.0):
        if step < warmup_steps:
            if kind == "warmup_from_zero":
                return lr * step / warmup_steps
            if kind == "warmup_off_by_one":
                return lr * (start_factor + (1 - start_factor) * min(step + 1, warmup_steps) / warmup_steps)
            return lr * (start_factor + (1 - start_factor) * step / warmup_steps)
        t, period = step - warmup_steps, total_steps - warmup_steps
        if kind == "cosine_over_total":
            period = total_steps
        if kind == "cosine_clock":
            t = step
        if kind == "cosine_to_zero":
            eta_min = 0.0
        return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t / period)) / 2
    return wrong


register(Check(
    name="schedules.warmup_cosine",
    reference=_warmup_cosine,
    cases=_cases(
        visible=[{"lr": 0.1, "warmup_steps": 4, "total_steps": 12, "start_factor": 0.25}],
        hidden=[
            {"lr": 3e-3, "warmup_steps": 25, "total_steps": 200, "start_factor": 0.01, "eta_min": 1e-5},
            {"lr": 0.1, "warmup_steps": 10, "total_steps": 60},  # LinearLR's default start_factor 1/3
            {"lr": 1.0, "warmup_steps": 1, "total_steps": 9, "start_factor": 0.5},
            {"lr": 0.5, "warmup_steps": 30, "total_steps": 40, "start_factor": 0.1, "eta_min": 0.05},
        ],
        num_steps=lambda s: s["total_steps"] + 1,
    ),
    call=_rates,
    describe=_describe,
    atol=_ATOL,
    rtol=_RTOL,
    mistakes=(
        Mistake("default_start_at_zero", "the default start_factor is LinearLR's 1/3, not 0: by default the "
                "warmup starts at lr / 3.",
                lambda step, lr, warmup_steps, total_steps, start_factor=0.0, eta_min=0.0:
                _warmup_cosine_wrong("")(step, lr, warmup_steps, total_steps, start_factor, eta_min)),
        Mistake("warmup_from_zero", "the warmup starts at 0; torch's LinearLR starts at start_factor * lr and "
                "ramps linearly to lr: lr * (start_factor + (1 - start_factor) * step / warmup_steps).",
                _warmup_cosine_wrong("warmup_from_zero")),
        Mistake("cosine_over_total", "the cosine runs over the wrong period: after the warmup it spans the "
                "remaining total_steps - warmup_steps steps, not total_steps.",
                _warmup_cosine_wrong("cosine_over_total")),
        Mistake("cosine_clock", "the cosine's clock starts at 0, not at the end of the warmup: use "
                "step - warmup_steps inside the cosine, so the rate is exactly lr at step == warmup_steps.",
                _warmup_cosine_wrong("cosine_clock")),
        Mistake("warmup_off_by_one", "the warmup is one step ahead (off by one): step 0 must give "
                "start_factor * lr, and lr is reached at step == warmup_steps.",
                _warmup_cosine_wrong("warmup_off_by_one")),
        Mistake("cosine_to_zero", "eta_min is ignored: after the warmup the cosine goes from lr down to eta_min, "
                "eta_min + (lr - eta_min) * (1 + cos(...)) / 2.", _warmup_cosine_wrong("cosine_to_zero")),
    ),
    hint="steps < warmup_steps: lr * (start_factor + (1 - start_factor) * step / warmup_steps); then cosine "
         "annealing from lr to eta_min over total_steps - warmup_steps steps, counted from warmup_steps.",
))


# ---- 4. one-cycle -----------------------------------------------------------------------------


def _one_cycle(step, max_lr, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    return schedules.one_cycle(max_lr, total_steps, pct_start, "cos", div_factor, final_div_factor)(step)


def _one_cycle_wrong(kind: str):
    def wrong(step, max_lr, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
        initial = max_lr / div_factor
        final = initial if kind == "no_final_div" else initial / final_div_factor
        if kind == "final_from_max":
            final = max_lr / final_div_factor
        peak = pct_start * total_steps - (0 if kind == "peak_off_by_one" else 1)
        if kind == "integer_peak":
            peak = int(pct_start * total_steps) - 1
        end = total_steps - (0 if kind == "end_off_by_one" else 1)
        if step <= peak:
            start_lr, end_lr, fraction = initial, max_lr, step / peak
        else:
            start_lr, end_lr, fraction = max_lr, final, (step - peak) / (end - peak)
        if kind == "linear":
            return start_lr + (end_lr - start_lr) * fraction
        return end_lr + (start_lr - end_lr) * (1 + math.cos(math.pi * fraction)) / 2
    return wrong


register(Check(
    name="schedules.one_cycle",
    reference=_one_cycle,
    cases=_cases(
        visible=[{"max_lr": 0.1, "total_steps": 20, "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0}],
        hidden=[
            {"max_lr": 0.1, "total_steps": 100},  # torch's defaults for the rest
            {"max_lr": 1.0, "total_steps": 57, "pct_start": 0.4, "div_factor": 5.0, "final_div_factor": 50.0},
            {"max_lr": 3e-3, "total_steps": 250, "pct_start": 0.1},
            {"max_lr": 0.5, "total_steps": 33, "pct_start": 0.5, "div_factor": 20.0, "final_div_factor": 10.0},
        ],
        num_steps=lambda s: s["total_steps"],
    ),
    call=_rates,
    describe=_describe,
    atol=_ATOL,
    rtol=_RTOL,
    mistakes=(
        Mistake("peak_off_by_one", "the peak is one step late (off by one): torch's first phase ends at step "
                "pct_start * total_steps - 1, because the steps are numbered from 0.",
                _one_cycle_wrong("peak_off_by_one")),
        Mistake("end_off_by_one", "the second phase ends one step late (off by one): the last of the "
                "total_steps steps is step total_steps - 1, where the rate must reach its final value.",
                _one_cycle_wrong("end_off_by_one")),
        Mistake("no_final_div", "the rate ends at the starting rate max_lr / div_factor; it must go on down to "
                "max_lr / div_factor / final_div_factor.", _one_cycle_wrong("no_final_div")),
        Mistake("final_from_max", "the final rate is max_lr / final_div_factor; torch divides the STARTING rate: "
                "max_lr / div_factor / final_div_factor.", _one_cycle_wrong("final_from_max")),
        Mistake("linear", "the phases are linear ramps; OneCycleLR's default anneal_strategy is 'cos', half "
                "cosines: end + (start - end) * (1 + cos(pi * fraction)) / 2.", _one_cycle_wrong("linear")),
        Mistake("default_pct_start", "the default pct_start is OneCycleLR's 0.3 (fastai's fit_one_cycle uses 0.25).",
                lambda step, max_lr, total_steps, pct_start=0.25, div_factor=25.0, final_div_factor=1e4:
                _one_cycle(step, max_lr, total_steps, pct_start, div_factor, final_div_factor)),
        Mistake("integer_peak", "the peak step was rounded to an integer; torch keeps "
                "pct_start * total_steps - 1 as it is (e.g. 21.8), so the peak can fall between two steps.",
                _one_cycle_wrong("integer_peak")),
    ),
    hint="phase 1 from max_lr / div_factor up to max_lr over steps 0 .. pct_start * total_steps - 1, phase 2 "
         "down to max_lr / div_factor / final_div_factor at step total_steps - 1, both half cosines.",
))


# ---- 5. a LambdaLR of your own, driving SGD ------------------------------------------------------


def _inverse_time_scheduler(optimizer, k, interval=1):
    multiplier = schedules.as_lambda(schedules.inverse_time_decay(1.0, k, interval), 1.0)
    return LambdaLR(optimizer, multiplier)


def _drive(make_scheduler: Callable[..., Any], case: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """Train with SGD + the scheduler; return the rate of each group at every step and the final weights."""
    model = mlp([4, 8, 1], activation="tanh", seed=case["seed"]).double()
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    lr_weights, lr_biases = case["lrs"]
    optimizer = torch.optim.SGD([{"params": weights}, {"params": biases, "lr": lr_biases}],
                                lr=lr_weights, momentum=0.9)
    scheduler = make_scheduler(optimizer, **case["settings"])
    if not isinstance(scheduler, LRScheduler):
        raise TypeError(f"expected a torch.optim.lr_scheduler scheduler (LambdaLR), got {type(scheduler).__name__}")
    generator = torch.Generator().manual_seed(case["seed"] + 1)
    X = torch.randn(32, 4, generator=generator, dtype=torch.float64)
    y = torch.sin(X.sum(1, keepdim=True))
    rates = []
    for _ in range(case["num_steps"]):
        rates.append([group["lr"] for group in optimizer.param_groups])
        optimizer.zero_grad()
        F.mse_loss(model(X), y).backward()
        optimizer.step()
        scheduler.step()
    final = torch.cat([p.detach().flatten() for p in model.parameters()])
    return torch.tensor(rates, dtype=torch.float64), final


def _describe_drive(case: dict[str, Any]) -> str:
    settings = ", ".join(f"{k}={v!r}" for k, v in case["settings"].items())
    return (f"inverse_time_scheduler(optimizer, {settings}) on SGD(momentum=0.9) with two param groups "
            f"(weights lr={case['lrs'][0]}, biases lr={case['lrs'][1]}), {case['num_steps']} steps; the answer is "
            "(rates of shape [steps, groups], final weights): a flat index i of the rates is step i // 2, group i % 2")


def _drive_cases(hidden: bool) -> list[dict[str, Any]]:
    if not hidden:
        return [{"settings": {"k": 1.0, "interval": 50}, "lrs": (0.05, 0.02), "num_steps": 300, "seed": 0}]
    return [
        {"settings": {"k": 0.02}, "lrs": (0.05, 0.1), "num_steps": 300, "seed": 1},  # default interval 1: smooth 1/t
        {"settings": {"k": 1.0, "interval": 30}, "lrs": (0.1, 0.01), "num_steps": 300, "seed": 2},
        {"settings": {"k": 0.25, "interval": 7}, "lrs": (0.02, 0.02), "num_steps": 200, "seed": 3},
    ]


def _lambda_wrong(kind: str):
    def wrong(optimizer, k, interval=1):
        if kind == "absolute_rate":
            base = optimizer.param_groups[0]["lr"]
            return LambdaLR(optimizer, lambda t: base / (1 + k * (t // interval)))
        if kind == "first_group_rate":
            base = optimizer.param_groups[0]["lr"]
            return schedules.lambda_lr(optimizer, schedules.inverse_time_decay(base, k, interval))
        if kind == "no_floor":
            return LambdaLR(optimizer, lambda t: 1 / (1 + k * t / interval))
        if kind == "every_step":
            return LambdaLR(optimizer, lambda t: 1 / (1 + k * t))
        if kind == "precedence":
            return LambdaLR(optimizer, lambda t: 1 / (1 + k * t // interval))
        return LambdaLR(optimizer, lambda t: 1 / (1 + k * ((t + 1) // interval)))
    return wrong


register(Check(
    name="schedules.inverse_time_scheduler",
    reference=_inverse_time_scheduler,
    cases=_drive_cases,
    call=_drive,
    describe=_describe_drive,
    atol=1e-10,
    rtol=1e-7,
    mistakes=(
        Mistake("absolute_rate", "your lr_lambda returns a learning rate, but LambdaLR multiplies what it returns "
                "by each group's initial lr: return the factor 1 / (1 + k * (t // interval)).",
                _lambda_wrong("absolute_rate")),
        Mistake("first_group_rate", "every param group follows the first group's rate; each group must decay from "
                "its own initial lr, which LambdaLR does when lr_lambda returns a factor.",
                _lambda_wrong("first_group_rate")),
        Mistake("no_floor", "t / interval is not rounded down, so the rate decays at every step; the staircase "
                "needs int(t / interval), i.e. t // interval.", _lambda_wrong("no_floor")),
        Mistake("every_step", "interval is ignored: the rate decays at every step instead of once every "
                "interval steps.", _lambda_wrong("every_step")),
        Mistake("off_by_one", "the stairs come one step early (off by one): LambdaLR calls lr_lambda(0) for the "
                "first step, so use t // interval, not (t + 1) // interval.", _lambda_wrong("off_by_one")),
        Mistake("default_interval", "interval defaults to 1 (a new stair at every step, the smooth 1 / (1 + k t)).",
                lambda optimizer, k, interval=10: _inverse_time_scheduler(optimizer, k, interval)),
        Mistake("precedence", "k * t // interval is (k * t) // interval in Python, which rounds k * t / interval "
                "down (right only when k = 1): write k * (t // interval).", _lambda_wrong("precedence")),
    ),
    hint="LambdaLR sets each group's rate to (that group's initial lr) * lr_lambda(t), so lr_lambda returns a "
         "factor, not a rate; t counts scheduler.step() calls from 0.",
    allows=("torch.optim.lr_scheduler.LambdaLR",),
))


# ---- 6. the learning-rate range test, and the rate it picks ---------------------------------------


def _range_test(model, optimizer, loss_fn, batches, start_lr, end_lr, num_steps, smooth=0.98, diverge_factor=4.0):
    result = schedules.lr_finder(model, optimizer, loss_fn, batches, start_lr=start_lr, end_lr=end_lr,
                                 num_steps=num_steps, smooth=smooth, diverge_factor=diverge_factor)
    return result.lrs, result.smoothed_losses, result.min_loss_lr / 10


def _range_cases(hidden: bool) -> list[dict[str, Any]]:
    if not hidden:
        return [{"seed": 0, "lrs": (0.1,), "num_batches": 80, "settings": {
            "start_lr": 1e-4, "end_lr": 10.0, "num_steps": 80}}]
    return [
        # two param groups with rates of their own: the test sets every group's rate
        {"seed": 1, "lrs": (0.1, 0.5), "num_batches": 100, "settings": {
            "start_lr": 1e-5, "end_lr": 30.0, "num_steps": 100, "smooth": 0.9}},
        # fewer batches than steps: the list is used again from its start
        {"seed": 2, "lrs": (0.01,), "num_batches": 25, "settings": {
            "start_lr": 1e-3, "end_lr": 5.0, "num_steps": 70, "diverge_factor": 2.0}},
        # a range too small to blow up: every step runs
        {"seed": 3, "lrs": (0.05,), "num_batches": 60, "settings": {
            "start_lr": 1e-4, "end_lr": 0.05, "num_steps": 60, "smooth": 0.95}},
    ]


def _range_call(f: Callable[..., Any], case: dict[str, Any]) -> dict[str, Any]:
    """Run ``f`` on a small float64 network; return what it found and whether it put everything back."""
    generator = torch.Generator().manual_seed(case["seed"])
    X = torch.randn(case["num_batches"] * 16, 3, generator=generator, dtype=torch.float64)
    y = (X @ torch.tensor([1.5, -2.0, 0.5], dtype=torch.float64)).unsqueeze(1) + 0.1 * torch.randn(
        len(X), 1, generator=generator, dtype=torch.float64)
    batches = [(X[i:i + 16], y[i:i + 16]) for i in range(0, len(X), 16)]
    model = mlp([3, 16, 1], seed=case["seed"]).double()
    groups = [list(model.parameters())] if len(case["lrs"]) == 1 else [
        [p for name, p in model.named_parameters() if name.endswith("weight")],
        [p for name, p in model.named_parameters() if name.endswith("bias")]]
    optimizer = torch.optim.SGD([{"params": params, "lr": lr} for params, lr in zip(groups, case["lrs"])],
                                momentum=0.9)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    lrs, smoothed, chosen = f(model, optimizer, F.mse_loss, batches, **case["settings"])
    after = model.state_dict()
    return {
        "learning rates": torch.tensor([float(v) for v in lrs], dtype=torch.float64),
        "smoothed losses": torch.tensor([float(v) for v in smoothed], dtype=torch.float64),
        "chosen lr": float(chosen),
        "model restored": all(torch.equal(before[name], after[name]) for name in before),
        "optimizer's rates restored": [group["lr"] for group in optimizer.param_groups] == list(case["lrs"]),
    }


def _describe_range(case: dict[str, Any]) -> str:
    settings = ", ".join(f"{k}={v!r}" for k, v in case["settings"].items())
    groups = "one param group" if len(case["lrs"]) == 1 else f"param groups of lr {case['lrs']}"
    return (f"lr_range_test(model, SGD(momentum=0.9, {groups}), F.mse_loss, {case['num_batches']} batches, "
            f"{settings}) on mlp([3, 16, 1]) in float64")


def _range_wrong(kind: str):
    def wrong(model, optimizer, loss_fn, batches, start_lr, end_lr, num_steps, smooth=0.98, diverge_factor=4.0):
        saved_model = {name: value.clone() for name, value in model.state_dict().items()}
        saved_optimizer = copy.deepcopy(optimizer.state_dict())
        lrs, smoothed, average, best = [], [], 0.0, math.inf
        for step in range(num_steps):
            if kind == "no_cycle" and step >= len(batches):
                break
            inputs, targets = batches[step % len(batches)]
            if kind == "linear_ramp":
                lr = start_lr + (end_lr - start_lr) * step / (num_steps - 1)
            else:
                lr = start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))
            for group in optimizer.param_groups[:1] if kind == "first_group_only" else optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            average = smooth * average + (1 - smooth) * loss.item()
            value = average if kind == "no_bias_correction" else average / (1 - smooth ** (step + 1))
            lrs.append(lr)
            smoothed.append(value)
            if kind != "no_stop" and (not math.isfinite(value) or value > diverge_factor * best):
                break
            best = min(best, value)
        if kind != "not_restored":
            model.load_state_dict(saved_model)
            optimizer.load_state_dict(saved_optimizer)
        finite = [i for i, v in enumerate(smoothed) if math.isfinite(v)]
        lowest = lrs[min(finite, key=lambda i: smoothed[i])]
        return lrs, smoothed, lowest if kind == "lowest_loss_lr" else lowest / 10
    return wrong


register(Check(
    name="schedules.lr_range_test",
    reference=_range_test,
    cases=_range_cases,
    call=_range_call,
    describe=_describe_range,
    atol=1e-9,
    rtol=1e-6,
    mistakes=(
        Mistake("linear_ramp", "the rate grows linearly; the range test multiplies it by the same factor at every "
                "step, lr_i = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1)), so each decade of rates gets "
                "as many steps.", _range_wrong("linear_ramp")),
        Mistake("no_bias_correction", "the moving average is not bias-corrected: it starts at 0, so divide it by "
                "1 - smooth ** (i + 1) (chapter 3).", _range_wrong("no_bias_correction")),
        Mistake("no_stop", "the test went on after the loss blew up: stop once the smoothed loss exceeds "
                "diverge_factor times its smallest value so far (or is not finite).", _range_wrong("no_stop")),
        Mistake("lowest_loss_lr", "the chosen rate is the one at the lowest smoothed loss; there the steps are "
                "already on the edge of instability, so take a tenth of it.", _range_wrong("lowest_loss_lr")),
        Mistake("not_restored", "the model (and optimizer) keep what the test did to them: save their state_dict "
                "before and load it back at the end, so that training starts from the same weights.",
                _range_wrong("not_restored")),
        Mistake("first_group_only", "only the first param group got the test's rate: set it in every group of "
                "optimizer.param_groups.", _range_wrong("first_group_only")),
        Mistake("no_cycle", "the test stopped when the batches ran out; start again from the first batch "
                "(batches[step % len(batches)]) until num_steps steps have run.", _range_wrong("no_cycle")),
    ),
    hint="step i: lr = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1)) in every param group, one "
         "training step on batches[i % len(batches)] recording the loss before the update; smoothed = bias-corrected "
         "moving average; stop after recording a smoothed loss > diverge_factor * (smallest so far); restore the "
         "model and the optimizer; return (lrs, smoothed, lr at the smallest smoothed loss / 10).",
))
