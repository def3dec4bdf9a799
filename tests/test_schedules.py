"""Schedules against torch.optim.lr_scheduler, step by step.

Each row of ``TORCH_TABLE`` pairs one of our schedules with the torch scheduler
it claims to match, on a dummy SGD optimizer, for a stated number of steps
(long enough to cross several decays, cycles or the whole one-cycle run).
``exact`` rows must agree bit for bit; the others are chainable in torch (the
rate is multiplied step after step), so they agree to float64 rounding,
checked with ``rtol=1e-12``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import matplotlib
import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler as L

from course_lib.plots import plot_lr_finder, plot_schedules
from course_lib.schedules import (
    LRFinderResult,
    ReduceOnPlateau,
    Schedule,
    as_lambda,
    constant,
    constant_warmup,
    cosine_annealing,
    cosine_warm_restarts,
    cyclic,
    exponential_decay,
    inverse_time_decay,
    lambda_lr,
    linear_schedule,
    linear_warmup,
    lr_finder,
    multi_step_decay,
    natural_exp_decay,
    one_cycle,
    polynomial_decay,
    set_lr,
    step_decay,
    suggest_lr,
    warmup_cosine,
)

matplotlib.use("Agg")

LR = 0.1


@dataclass(frozen=True)
class Row:
    schedule: Schedule
    make_torch: Callable[[torch.optim.Optimizer], object]
    num_steps: int
    exact: bool
    desc: str


TORCH_TABLE = [
    Row(step_decay(LR, 30), lambda o: L.StepLR(o, 30), 300, False, "StepLR default gamma, 10 decays"),
    Row(step_decay(LR, 7, 0.7), lambda o: L.StepLR(o, 7, 0.7), 300, False, "StepLR gamma 0.7"),
    Row(
        multi_step_decay(LR, [250, 40, 120, 120], 0.3),
        lambda o: L.MultiStepLR(o, [40, 120, 120, 250], 0.3),
        300,
        False,
        "MultiStepLR, unsorted and repeated milestone",
    ),
    Row(exponential_decay(LR, 0.98), lambda o: L.ExponentialLR(o, 0.98), 300, False, "ExponentialLR"),
    Row(cosine_annealing(LR, 200), lambda o: L.CosineAnnealingLR(o, 200), 300, False, "cosine, past T_max"),
    Row(
        cosine_annealing(LR, 150, 1e-3),
        lambda o: L.CosineAnnealingLR(o, 150, 1e-3),
        300,
        False,
        "cosine with eta_min, a full period",
    ),
    Row(linear_warmup(LR, 25, 0.1), lambda o: L.LinearLR(o, 0.1, total_iters=25), 300, False, "LinearLR warmup"),
    Row(linear_warmup(LR, 5), lambda o: L.LinearLR(o), 50, False, "LinearLR defaults"),
    Row(
        warmup_cosine(LR, 20, 300, 0.2, 1e-4),
        lambda o: L.SequentialLR(
            o, [L.LinearLR(o, 0.2, total_iters=20), L.CosineAnnealingLR(o, 280, 1e-4)], [20]
        ),
        300,
        False,
        "SequentialLR(LinearLR, CosineAnnealingLR)",
    ),
    Row(
        cyclic(0.01, LR, 25, 15),
        lambda o: L.CyclicLR(o, 0.01, LR, 25, 15),
        300,
        True,
        "CyclicLR triangular, asymmetric",
    ),
    Row(
        cyclic(0.01, LR, 20, mode="triangular2"),
        lambda o: L.CyclicLR(o, 0.01, LR, 20, mode="triangular2"),
        300,
        True,
        "CyclicLR triangular2",
    ),
    Row(
        cyclic(0.01, LR, 20, mode="exp_range", gamma=0.995),
        lambda o: L.CyclicLR(o, 0.01, LR, 20, mode="exp_range", gamma=0.995),
        300,
        True,
        "CyclicLR exp_range",
    ),
    Row(one_cycle(LR, 300), lambda o: L.OneCycleLR(o, LR, total_steps=300), 300, True, "OneCycleLR defaults"),
    Row(
        one_cycle(LR, 300, 0.25, "linear", 10.0, 100.0),
        lambda o: L.OneCycleLR(
            o, LR, total_steps=300, pct_start=0.25, anneal_strategy="linear",
            div_factor=10.0, final_div_factor=100.0,
        ),
        300,
        True,
        "OneCycleLR linear",
    ),
    Row(
        one_cycle(LR, 300, three_phase=True),
        lambda o: L.OneCycleLR(o, LR, total_steps=300, three_phase=True),
        300,
        True,
        "OneCycleLR three phases",
    ),
    Row(
        one_cycle(LR, epochs=6, steps_per_epoch=50),
        lambda o: L.OneCycleLR(o, LR, epochs=6, steps_per_epoch=50),
        300,
        True,
        "OneCycleLR epochs x steps_per_epoch",
    ),
    Row(
        cyclic(0.01, LR, 10, 30, scale_fn=lambda x: 1 / (1 + 0.01 * x), scale_mode="iterations"),
        lambda o: L.CyclicLR(o, 0.01, LR, 10, 30, scale_fn=lambda x: 1 / (1 + 0.01 * x), scale_mode="iterations"),
        300,
        True,
        "CyclicLR custom scale_fn of the step",
    ),
    Row(
        cyclic(0.01, LR, 15, scale_fn=lambda c: 0.8**c),
        lambda o: L.CyclicLR(o, 0.01, LR, 15, scale_fn=lambda c: 0.8**c),
        300,
        True,
        "CyclicLR custom scale_fn of the cycle",
    ),
    Row(constant_warmup(LR, 25, 0.1), lambda o: L.ConstantLR(o, 0.1, total_iters=25), 300, False, "ConstantLR"),
    Row(constant_warmup(LR), lambda o: L.ConstantLR(o), 50, False, "ConstantLR defaults"),
    Row(linear_schedule(LR, 200, 1.0, 0.05), lambda o: L.LinearLR(o, 1.0, 0.05, total_iters=200), 300, False,
        "LinearLR decay with end_factor"),
    Row(linear_schedule(LR, 40, 0.25, 0.6), lambda o: L.LinearLR(o, 0.25, 0.6, total_iters=40), 100, False,
        "LinearLR warmup to end_factor < 1"),
    Row(polynomial_decay(LR, 250, 2.0), lambda o: L.PolynomialLR(o, total_iters=250, power=2.0), 300, False,
        "PolynomialLR power 2"),
    Row(polynomial_decay(LR), lambda o: L.PolynomialLR(o), 50, False, "PolynomialLR defaults"),
    *[
        Row(cosine_warm_restarts(LR, 10, m, 1e-4), lambda o, m=m: L.CosineAnnealingWarmRestarts(o, 10, m, 1e-4), 1000,
            True, f"CosineAnnealingWarmRestarts T_mult={m}")
        for m in (1, 2, 3)
    ],
]


def torch_lrs(make_torch: Callable, num_steps: int, optimizer_lr: float = LR) -> list[float]:
    """The rate torch's scheduler gives for each of ``num_steps`` optimizer steps."""
    parameter = nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([parameter], lr=optimizer_lr, momentum=0.9)
    scheduler = make_torch(optimizer)
    lrs = []
    for _ in range(num_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize("row", TORCH_TABLE, ids=lambda row: row.desc)
def test_schedule_matches_torch_scheduler(row: Row) -> None:
    expected = torch_lrs(row.make_torch, row.num_steps)
    got = row.schedule.values(row.num_steps)
    if row.exact:
        mismatches = [t for t in range(row.num_steps) if got[t] != expected[t]]
        assert not mismatches, (
            f"{row.desc}: not bit-identical at steps {mismatches[:5]}: "
            f"ours {got[mismatches[0]]!r}, torch {expected[mismatches[0]]!r}"
        )
    else:
        torch.testing.assert_close(
            torch.tensor(got, dtype=torch.float64),
            torch.tensor(expected, dtype=torch.float64),
            rtol=1e-12,
            atol=1e-15,
            msg=lambda m: f"{row.desc}: {m}",
        )


@pytest.mark.parametrize("row", TORCH_TABLE, ids=lambda row: row.desc)
def test_lambda_lr_with_our_schedule_equals_torch_scheduler(row: Row) -> None:
    ours_through_torch = torch_lrs(lambda o: lambda_lr(o, row.schedule), row.num_steps, optimizer_lr=0.5)
    expected = torch_lrs(row.make_torch, row.num_steps)
    torch.testing.assert_close(
        torch.tensor(ours_through_torch, dtype=torch.float64),
        torch.tensor(expected, dtype=torch.float64),
        rtol=1e-12,
        atol=1e-15,
    )
    # LambdaLR multiplies base_lr by schedule(t) / base_lr: at most a few ulps off schedule(t).
    torch.testing.assert_close(
        torch.tensor(ours_through_torch, dtype=torch.float64),
        torch.tensor(row.schedule.values(row.num_steps), dtype=torch.float64),
        rtol=4 * torch.finfo(torch.float64).eps,
        atol=0.0,
    )


def test_as_lambda_drives_adam_and_keeps_initial_lr() -> None:
    parameter = nn.Parameter(torch.ones(3))
    optimizer = torch.optim.Adam([parameter], lr=0.01)
    schedule = cosine_annealing(0.01, T_max=10)
    scheduler = L.LambdaLR(optimizer, as_lambda(schedule, 0.01))
    for t in range(10):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(schedule(t), rel=1e-15, abs=0)
        parameter.grad = torch.ones(3)
        optimizer.step()
        scheduler.step()
    assert optimizer.state_dict()["param_groups"][0]["initial_lr"] == 0.01
    assert scheduler.state_dict()["lr_lambdas"] == [None]  # a plain function: not saved, picklable


def test_lambda_lr_sets_every_group_to_the_schedule_whatever_its_lr() -> None:
    a, b = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 1e-3}])
    schedule = step_decay(0.2, step_size=3, gamma=0.5)
    scheduler = lambda_lr(optimizer, schedule)
    for t in range(10):
        for group in optimizer.param_groups:
            assert group["lr"] == pytest.approx(schedule(t), rel=1e-15)
        optimizer.step()
        scheduler.step()


ANALYTIC_TABLE = [
    (constant(0.3), [0.3, 0.3, 0.3], "constant"),
    (step_decay(1.0, 2, 0.5), [1.0, 1.0, 0.5, 0.5, 0.25], "step decay halves every 2 steps"),
    (multi_step_decay(1.0, [1, 3], 0.5), [1.0, 0.5, 0.5, 0.25, 0.25], "milestones 1 and 3"),
    (exponential_decay(2.0, 0.5), [2.0, 1.0, 0.5, 0.25], "gamma^t"),
    (inverse_time_decay(1.0, 0.5), [1.0, 1 / 1.5, 0.5, 1 / 2.5], "1/(1 + kt)"),
    (inverse_time_decay(1.0, 1.0, interval=3), [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 1 / 3], "staircase"),
    (linear_warmup(1.0, 4, 0.2), [0.2, 0.4, 0.6, 0.8, 1.0, 1.0], "warmup 0.2 -> 1"),
    (linear_warmup(0.5, 0), [0.5, 0.5], "no warmup"),
    (cosine_annealing(1.0, 4, 0.2), [1.0, 0.2 + 0.4 * (1 + math.sqrt(0.5)), 0.6, 0.2 + 0.4 * (1 - math.sqrt(0.5)), 0.2], "cosine"),
    (cyclic(0.0, 1.0, 2), [0.0, 0.5, 1.0, 0.5, 0.0, 0.5, 1.0], "triangle"),
    (cyclic(0.0, 1.0, 1, mode="triangular2"), [0.0, 1.0, 0.0, 0.5, 0.0, 0.25, 0.0], "amplitude halves"),
    (cyclic(1.0, 2.0, 3, 1), [1.0, 4 / 3, 5 / 3, 2.0, 1.0], "3 up, 1 down"),
    (cyclic(0.0, 1.0, 1, scale_fn=lambda c: 1 / c), [0.0, 1.0, 0.0, 0.5, 0.0, 1 / 3], "scale_fn of the cycle"),
    (constant_warmup(2.0, 3, 0.25), [0.5, 0.5, 0.5, 2.0, 2.0], "constant warmup"),
    (constant_warmup(2.0, 0, 0.25), [2.0, 2.0], "no constant warmup"),
    (linear_schedule(1.0, 4, 1.0, 0.2), [1.0, 0.8, 0.6, 0.4, 0.2, 0.2], "linear decay"),
    (polynomial_decay(1.0, 4, 0.5), [1.0, math.sqrt(0.75), math.sqrt(0.5), 0.5, 0.0, 0.0], "square-root decay"),
    (cosine_warm_restarts(1.0, 2), [1.0, 0.5, 1.0, 0.5, 1.0], "restart every 2"),
    (cosine_warm_restarts(1.0, 1, 2, 0.5), [1.0, 1.0, 0.75, 1.0, 0.5 + 0.25 * (1 + math.sqrt(0.5))], "T_mult 2"),
]


@pytest.mark.parametrize(("schedule", "expected", "desc"), ANALYTIC_TABLE, ids=[r[2] for r in ANALYTIC_TABLE])
def test_schedule_values_by_hand(schedule: Schedule, expected: list[float], desc: str) -> None:
    assert schedule.values(len(expected)) == pytest.approx(expected, rel=1e-12, abs=1e-15), desc


def test_natural_exp_decay_is_exponential_decay_with_gamma_exp_minus_k() -> None:
    k = 0.013
    ours = natural_exp_decay(0.1, k).values(400)
    torch_form = exponential_decay(0.1, math.exp(-k)).values(400)
    assert ours == pytest.approx(torch_form, rel=1e-12)
    assert natural_exp_decay(0.1, k)(round(math.log(2) / k * 10)) == pytest.approx(0.1 / 2**10, rel=1e-2)


def test_warmup_cosine_peaks_at_end_of_warmup_and_ends_at_eta_min() -> None:
    schedule = warmup_cosine(1.0, warmup_steps=10, total_steps=110, start_factor=0.1, eta_min=0.01)
    values = schedule.values(111)
    assert values[0] == pytest.approx(0.1)
    assert max(values) == values[10] == 1.0
    assert values[60] == pytest.approx((1.0 + 0.01) / 2)
    assert values[110] == pytest.approx(0.01)
    assert all(a <= b for a, b in zip(values[:10], values[1:11]))
    assert all(a >= b for a, b in zip(values[10:110], values[11:111]))


def test_one_cycle_landmarks() -> None:
    schedule = one_cycle(1.0, total_steps=100, pct_start=0.3, div_factor=20.0, final_div_factor=50.0)
    assert schedule(0) == pytest.approx(1.0 / 20, rel=1e-12)
    assert schedule(29) == 1.0  # end of phase 1: step pct_start * total - 1
    assert schedule(99) == pytest.approx(1.0 / 20 / 50)
    three = one_cycle(1.0, total_steps=100, pct_start=0.3, div_factor=20.0, three_phase=True)
    assert three(29) == 1.0 and three(58) == pytest.approx(1.0 / 20, rel=1e-12)
    with pytest.raises(ValueError, match="defined up to step 100"):
        schedule(101)


def test_schedules_are_pure_and_validate_steps() -> None:
    schedule = cosine_annealing(0.1, 50)
    forward = [schedule(t) for t in range(50)]
    backward = [schedule(t) for t in reversed(range(50))][::-1]
    assert forward == backward
    assert schedule(torch.tensor(3).item()) == schedule(3)
    with pytest.raises(ValueError, match=">= 0"):
        schedule(-1)
    with pytest.raises(TypeError):
        schedule(1.5)
    assert repr(schedule) == "cosine_annealing(lr=0.1, T_max=50, eta_min=0.0)"


def test_one_cycle_without_a_length_raises_value_error_like_torch() -> None:
    with pytest.raises(ValueError, match="total_steps OR \\(epochs AND steps_per_epoch\\)") as ours:
        one_cycle(0.1)
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError) as theirs:
        L.OneCycleLR(optimizer, 0.1)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        one_cycle(0.1, epochs=3, steps_per_epoch=0)
    assert one_cycle(0.1, 30) == one_cycle(0.1, epochs=3, steps_per_epoch=10)
    assert one_cycle(0.1, 30).values(31) == one_cycle(0.1, epochs=3, steps_per_epoch=10).values(31)


@pytest.mark.parametrize(
    "make",
    [
        lambda: constant_warmup(0.1, 5, factor=1.5),
        lambda: linear_schedule(0.1, 5, end_factor=1.5),
        lambda: polynomial_decay(0.1, 0),
        lambda: cosine_warm_restarts(0.1, 0),
        lambda: cosine_warm_restarts(0.1, 10, T_mult=0),
        lambda: cyclic(0.1, 1.0, 10, scale_fn=lambda x: 1.0, scale_mode="epochs"),
        lambda: step_decay(0.1, 0),
        lambda: step_decay(-0.1, 10),
        lambda: cosine_annealing(0.1, 0),
        lambda: linear_warmup(0.1, 5, start_factor=0.0),
        lambda: warmup_cosine(0.1, 10, 10),
        lambda: cyclic(0.1, 1.0, 10, mode="sawtooth"),
        lambda: one_cycle(0.1, 100, pct_start=1.5),
        lambda: one_cycle(0.1, 100, anneal_strategy="exp"),
        lambda: ReduceOnPlateau(0.1, factor=1.0),
        lambda: ReduceOnPlateau(0.1, mode="lowest"),
        lambda: as_lambda(constant(0.1), 0.0),
    ],
)
def test_bad_arguments_raise_value_error(make: Callable) -> None:
    with pytest.raises(ValueError):
        make()


def _metric_sequence(num_steps: int, seed: int) -> list[float]:
    """A noisy loss that falls, stalls, and bumps: improvements, plateaus and thresholds all happen."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(num_steps, generator=generator, dtype=torch.float64)
    t = torch.arange(num_steps, dtype=torch.float64)
    curve = 1.0 / (1.0 + 0.05 * t) + 0.02 * noise + 0.1 * (t % 37 < 5)
    return curve.tolist()


PLATEAU_TABLE = [
    ({}, "torch defaults"),
    ({"patience": 3, "factor": 0.5}, "patience 3, halve"),
    ({"patience": 2, "factor": 0.5, "cooldown": 4}, "cooldown"),
    ({"patience": 1, "factor": 0.3, "min_lr": 1e-3}, "min_lr floor"),
    ({"patience": 2, "threshold": 0.05, "threshold_mode": "abs"}, "absolute threshold"),
    ({"patience": 2, "threshold": 0.02, "threshold_mode": "rel"}, "relative threshold"),
    ({"mode": "max", "patience": 2, "factor": 0.5}, "max mode"),
    ({"mode": "max", "patience": 0, "threshold_mode": "abs", "threshold": 0.01}, "max, abs, no patience"),
    ({"patience": 0, "factor": 0.9, "eps": 0.005}, "eps skips tiny reductions"),
]


@pytest.mark.parametrize(("kwargs", "desc"), PLATEAU_TABLE, ids=[r[1] for r in PLATEAU_TABLE])
def test_reduce_on_plateau_matches_torch_exactly(kwargs: dict, desc: str) -> None:
    metrics = _metric_sequence(300, seed=len(desc))
    if kwargs.get("mode") == "max":
        metrics = [-m for m in metrics]
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=LR)
    reference = L.ReduceLROnPlateau(optimizer, **kwargs)
    ours = ReduceOnPlateau(LR, **kwargs)
    reductions = 0
    for epoch, metric in enumerate(metrics):
        optimizer.step()
        reference.step(metric)
        lr = ours.step(torch.tensor(metric, dtype=torch.float64))
        expected = optimizer.param_groups[0]["lr"]
        assert lr == expected, f"{desc}: epoch {epoch}: ours {lr!r}, torch {expected!r}"
        assert ours.num_bad_epochs == reference.num_bad_epochs
        reductions += lr != (LR if epoch == 0 else previous)
        previous = lr
    assert reductions >= 1, f"{desc}: the table row never reduced the rate, so it tests nothing"


def test_reduce_on_plateau_with_set_lr_drives_an_optimizer() -> None:
    parameter = nn.Parameter(torch.zeros(1))
    tensor_lr = torch.tensor(1.0)
    optimizer = torch.optim.SGD([{"params": [parameter]}, {"params": [nn.Parameter(torch.zeros(1))], "lr": tensor_lr}], lr=1.0)
    plateau = ReduceOnPlateau(1.0, factor=0.5, patience=1)
    for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
        set_lr(optimizer, plateau.step(loss))
    assert optimizer.param_groups[0]["lr"] == 0.25
    assert optimizer.param_groups[1]["lr"] is tensor_lr and tensor_lr.item() == 0.25, "a Tensor lr is set in place"


def test_plot_schedules_draws_one_line_per_schedule(tmp_path) -> None:
    ax = plot_schedules({"step": step_decay(0.1, 20), "cosine": cosine_annealing(0.1, 100)}, 100)
    assert [line.get_label() for line in ax.get_lines()] == ["step", "cosine"]
    assert list(ax.get_lines()[1].get_ydata()[:1]) == [0.1]
    ax = plot_schedules([one_cycle(0.1, 50)], 50, log=True)
    assert ax.get_yscale() == "log" and ax.get_lines()[0].get_label().startswith("one_cycle(")
    ax.figure.savefig(tmp_path / "schedules.png")
    matplotlib.pyplot.close("all")


# ---------------------------------------------------------------- LR finder


def _regression_problem(device: torch.device):
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(512, 8, generator=generator)
    y = X @ torch.randn(8, 1, generator=generator) + 0.1 * torch.randn(512, 1, generator=generator)
    batches = [(X[i : i + 32].to(device), y[i : i + 32].to(device)) for i in range(0, 512, 32)]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 1)).to(device)
    return model, batches


def test_lr_finder_sweeps_geometrically_stops_on_blow_up_and_restores_state(device: torch.device) -> None:
    model, batches = _regression_problem(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model(batches[0][0]).pow(2).mean().backward()
    optimizer.step()  # give Adam some state worth restoring
    optimizer.zero_grad()
    model.eval()
    before_model = {k: v.clone() for k, v in model.state_dict().items()}
    before_optimizer = copy.deepcopy(optimizer.state_dict())  # state_dict() aliases the live tensors
    before_moments = {i: s["exp_avg"].clone() for i, s in before_optimizer["state"].items()}

    result = lr_finder(model, optimizer, nn.functional.mse_loss, batches, start_lr=1e-5, end_lr=100.0, num_steps=100)

    assert isinstance(result, LRFinderResult)
    assert result.diverged, "an lr of 100 with Adam should blow the loss up"
    assert 10 < len(result.lrs) < 100
    assert len(result.losses) == len(result.smoothed_losses) == len(result.lrs)
    ratio = (100.0 / 1e-5) ** (1 / 99)
    torch.testing.assert_close(
        torch.tensor(result.lrs, dtype=torch.float64),
        1e-5 * ratio ** torch.arange(len(result.lrs), dtype=torch.float64),
    )
    assert result.smoothed_losses[-1] > 4 * min(result.smoothed_losses[:-1])
    assert 1e-5 <= result.suggested_lr <= result.min_loss_lr

    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before_model[key], rtol=0, atol=0, msg=f"model {key} not restored")
    after = optimizer.state_dict()
    assert after["param_groups"][0]["lr"] == 3e-3
    for i, state in after["state"].items():
        torch.testing.assert_close(state["exp_avg"], before_moments[i], rtol=0, atol=0)
        assert state["step"] == before_optimizer["state"][i]["step"]
    assert not model.training, "eval mode should be restored"
    assert all(p.grad is None for p in model.parameters())


def test_lr_finder_reuses_batches_and_suggests_a_rate_that_trains() -> None:
    model, batches = _regression_problem(torch.device("cpu"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    result = lr_finder(model, optimizer, nn.functional.mse_loss, batches[:4], start_lr=1e-4, end_lr=10.0, num_steps=60)
    assert len(result.lrs) > 4, "the 4 batches should be cycled through again"
    # The suggestion is where the smoothed loss falls fastest: the loss must be falling there.
    index = result.lrs.index(result.suggested_lr)
    assert result.smoothed_losses[index + 1] < result.smoothed_losses[index - 1]
    ax = plot_lr_finder(result)
    assert ax.get_xscale() == "log"
    assert any("steepest" in text.get_text() for text in ax.get_legend().get_texts())
    matplotlib.pyplot.close("all")


def test_lr_finder_restores_state_even_when_the_loss_function_fails() -> None:
    model, batches = _regression_problem(torch.device("cpu"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    calls = []

    def failing_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("boom")
        return nn.functional.mse_loss(prediction, target)

    with pytest.raises(RuntimeError, match="boom"):
        lr_finder(model, optimizer, failing_loss, batches)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    assert optimizer.param_groups[0]["lr"] == 0.01


def test_suggest_lr_picks_the_steepest_fall_not_the_flattest_nor_the_minimum() -> None:
    """Two drops of different steepness, then a rise: the suggestion is the centre of the steep one."""
    lrs = [10 ** (k / 10) for k in range(-40, 1)]
    x = torch.tensor(lrs, dtype=torch.float64).log10()
    losses = (2.0 - torch.tanh(3 * (x + 2.5)) - 0.6 * torch.tanh(1.5 * (x + 1.2))
              + torch.where(x > -0.5, 40 * (x + 0.5) ** 2, torch.zeros_like(x)))
    steepest, min_loss_lr = suggest_lr(lrs, losses.tolist(), skip=2)
    assert min_loss_lr == lrs[int(losses.argmin())] == lrs[35]
    assert steepest == lrs[15]  # 10 ** -2.5, where tanh(3 (x + 2.5)) is steepest
    # too short to judge: a tenth of the minimum's rate
    assert suggest_lr(lrs[:3], [1.0, 0.5, 0.7]) == (lrs[1] / 10, lrs[1])
