"""The drop-in schedulers of ``course_lib.schedules`` against ``torch.optim.lr_scheduler``, float for float.

The configurations are those of torch's own tests (``test/optim/test_lrscheduler.py`` in
the PyTorch repository, named in each row's description), run longer, plus a few of our
own. Every row is run on torch's test optimizer: SGD with two parameter groups, the first
with a float learning rate of 0.05 and the second with a **Tensor** learning rate of 0.5.
A row checks, at every step, that our scheduler and torch's give the optimizer the same
rates (and momenta, or ``betas[0]``) bit for bit and the same ``get_last_lr()``; at the end,
that their ``state_dict()`` are equal; and that a run interrupted in the middle, saved with
``torch.save``, reloaded with ``weights_only=True`` into a fresh optimizer and scheduler,
and continued, gives the same rates as the uninterrupted torch run, whether the saved
state came from our scheduler or from torch's.
"""

from __future__ import annotations

import copy
import io
import math
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler as torch_lr_scheduler
from torch.optim import swa_utils

import course_lib.optim
import course_lib.schedules as ours_namespace
from course_lib import schedules

# torch warns "lr_scheduler.step() before optimizer.step()" when a SequentialLR starts a
# ChainedScheduler (the children step inside the container's constructor); ours does the same,
# which test_scheduler_is_a_bit_exact_drop_in checks by comparing the warnings themselves.
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning")

TORCH = types.SimpleNamespace(
    **{name: getattr(torch_lr_scheduler, name) for name in torch_lr_scheduler.__all__}, SWALR=swa_utils.SWALR
)
OURS = ours_namespace

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "course SGD": course_lib.optim.SGD,
    "course Adam": course_lib.optim.Adam,
}


def make_optimizer(kind: str = "sgd") -> torch.optim.Optimizer:
    """torch's test optimizer: two groups, lr 0.05 (a float) and 0.5 (a Tensor)."""
    torch.manual_seed(0)
    first, second = nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 1)
    groups = [{"params": first.parameters()}, {"params": second.parameters(), "lr": torch.tensor(0.5)}]
    return OPTIMIZERS[kind](groups, lr=0.05)


def rates(optimizer: torch.optim.Optimizer) -> list[tuple]:
    """What a scheduler controls, per group: the lr (and whether it is a Tensor), the momentum, beta1."""
    return [
        (
            type(group["lr"]).__name__,
            float(group["lr"]),
            float(group["momentum"]) if "momentum" in group else None,
            float(group["betas"][0]) if "betas" in group else None,
        )
        for group in optimizer.param_groups
    ]


def equal(a: Any, b: Any) -> bool:
    """Equality through dicts, lists and tensors (torch.equal), NaN equal to NaN."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(equal(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


@dataclass(frozen=True)
class Case:
    desc: str
    build: Callable[[Any, torch.optim.Optimizer], Any]  # (namespace of classes, optimizer) -> scheduler
    steps: int
    optimizer: str = "sgd"
    metrics: Sequence[float] | None = None  # for ReduceLROnPlateau


def _falling_then_flat(n: int) -> list[float]:
    return [1.0] * 7 + [0.6] + [0.5] * (n - 8)


CASES = [
    # torch: test_step_lr, test_closed_form_step_lr, test_get_last_lr_step_lr
    Case("StepLR(3, 0.1) [test_step_lr]", lambda L, o: L.StepLR(o, gamma=0.1, step_size=3), 60),
    Case("StepLR(30) defaults", lambda L, o: L.StepLR(o, step_size=30), 300),
    # test_multi_step_lr, plus a repeated milestone
    Case("MultiStepLR([2, 5, 9]) [test_multi_step_lr]", lambda L, o: L.MultiStepLR(o, gamma=0.1, milestones=[2, 5, 9]), 30),
    Case("MultiStepLR repeated, unsorted milestones", lambda L, o: L.MultiStepLR(o, [30, 80, 10, 30], 0.5), 120),
    # test_constantlr, test_closed_form_constantlr
    Case("ConstantLR(1/2, 5) [test_constantlr]", lambda L, o: L.ConstantLR(o, factor=1.0 / 2, total_iters=5), 20),
    Case("ConstantLR defaults", lambda L, o: L.ConstantLR(o), 20),
    Case("ConstantLR(1.0): no change", lambda L, o: L.ConstantLR(o, factor=1.0, total_iters=3), 10),
    # test_linearlr, test_get_last_lr_linearlr (end_factor), test_closed_form_linearlr
    Case("LinearLR(1/2, total 4) [test_linearlr]", lambda L, o: L.LinearLR(o, start_factor=0.5, total_iters=4), 20),
    Case("LinearLR(1/4 -> 3/5) [test_get_last_lr_linearlr]",
         lambda L, o: L.LinearLR(o, start_factor=0.25, end_factor=0.6, total_iters=4), 20),
    Case("LinearLR(1 -> 0.1): a decay", lambda L, o: L.LinearLR(o, 1.0, 0.1, total_iters=50), 100),
    # test_exp_lr
    Case("ExponentialLR(0.9) [test_exp_lr]", lambda L, o: L.ExponentialLR(o, gamma=0.9), 1000),
    # test_poly_lr, test_closed_form_poly_lr
    Case("PolynomialLR(5, 0.9) [test_poly_lr]", lambda L, o: L.PolynomialLR(o, power=0.9, total_iters=5), 20),
    Case("PolynomialLR(100, 2)", lambda L, o: L.PolynomialLR(o, total_iters=100, power=2.0), 150),
    # test_cos_anneal_lr (and its 1000-step continuation past T_max)
    Case("CosineAnnealingLR(10, 1e-10) [test_cos_anneal_lr]", lambda L, o: L.CosineAnnealingLR(o, T_max=10, eta_min=1e-10), 1000),
    Case("CosineAnnealingLR(7, 0.01)", lambda L, o: L.CosineAnnealingLR(o, 7, 0.01), 100),
    # test_lambda_lr, test_multiplicative_lr
    Case("LambdaLR, one lambda per group [test_lambda_lr]",
         lambda L, o: L.LambdaLR(o, lr_lambda=[lambda x1: 0.9**x1, lambda x2: 0.8**x2]), 60),
    Case("MultiplicativeLR [test_multiplicative_lr]",
         lambda L, o: L.MultiplicativeLR(o, lr_lambda=[lambda x1: 0.9, lambda x2: 0.8]), 60),
    # test_CosineAnnealingWarmRestarts_lr1 with T_mult 1, 2, 4
    *[
        Case(f"CosineAnnealingWarmRestarts(10, T_mult={m}) [test_CosineAnnealingWarmRestarts_lr1]",
             lambda L, o, m=m: L.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=m, eta_min=1e-10), 300)
        for m in (1, 2, 4)
    ],
    # test_cycle_lr_* : modes, per-group bounds, step sizes up and down, momentum or beta1
    Case("CyclicLR triangular, momentum [test_cycle_lr_triangular_mode]",
         lambda L, o: L.CyclicLR(o, base_lr=[1, 2], max_lr=[5, 6], step_size_up=4, base_momentum=[1, 2],
                                 max_momentum=[5, 6], mode="triangular"), 100),
    Case("CyclicLR triangular2 up 2 down 6 [test_cycle_lr_triangular2_mode_step_size_up_down]",
         lambda L, o: L.CyclicLR(o, base_lr=[1, 3], max_lr=[5, 7], step_size_up=2, step_size_down=6,
                                 base_momentum=[1, 3], max_momentum=[5, 7], mode="triangular2"), 100),
    Case("CyclicLR exp_range [test_cycle_lr_exp_range_mode_step_size_up_down]",
         lambda L, o: L.CyclicLR(o, base_lr=1, max_lr=5, step_size_up=2, step_size_down=6, base_momentum=1,
                                 max_momentum=5, mode="exp_range", gamma=0.9), 100),
    Case("CyclicLR no momentum [test_cycle_lr_triangular_mode_one_lr_no_momentum]",
         lambda L, o: L.CyclicLR(o, base_lr=1, max_lr=5, step_size_up=4, cycle_momentum=False), 50),
    Case("CyclicLR custom scale_fn of the step",
         lambda L, o: L.CyclicLR(o, 0.01, 0.1, 5, scale_fn=lambda x: 1 / (1 + 0.1 * x), scale_mode="iterations"), 100),
    Case("CyclicLR custom scale_fn of the cycle",
         lambda L, o: L.CyclicLR(o, 0.01, 0.1, 3, 7, scale_fn=lambda c: 0.5**c), 100),
    Case("CyclicLR cycling Adam's beta1 [test_cycle_lr_cycle_momentum_with_beta1_optimizer]",
         lambda L, o: L.CyclicLR(o, base_lr=1, max_lr=5, step_size_up=4), 50, optimizer="adam"),
    # test_onecycle_lr_*: linear, cosine, three phases, momentum and beta1
    Case("OneCycleLR linear [test_onecycle_lr_linear_annealing]",
         lambda L, o: L.OneCycleLR(o, max_lr=25, final_div_factor=2, base_momentum=1, max_momentum=22,
                                   total_steps=10, anneal_strategy="linear"), 10),
    Case("OneCycleLR linear three phases [test_onecycle_lr_linear_annealing_three_phases]",
         lambda L, o: L.OneCycleLR(o, max_lr=25, div_factor=25, base_momentum=1, max_momentum=22, total_steps=10,
                                   anneal_strategy="linear", pct_start=0.4, final_div_factor=4, three_phase=True), 10),
    Case("OneCycleLR cosine [test_onecycle_lr_cosine_annealing]",
         lambda L, o: L.OneCycleLR(o, max_lr=25, final_div_factor=2, base_momentum=1, max_momentum=22, total_steps=10), 10),
    Case("OneCycleLR on Adam's beta1 [test_cycle_lr_with_adam]",
         lambda L, o: L.OneCycleLR(o, max_lr=25, final_div_factor=2, base_momentum=1, max_momentum=22,
                                   total_steps=10, anneal_strategy="linear"), 10, optimizer="adam"),
    Case("OneCycleLR epochs x steps_per_epoch, per-group max_lr",
         lambda L, o: L.OneCycleLR(o, [0.1, 0.3], epochs=4, steps_per_epoch=75), 300),
    Case("OneCycleLR three phases, 1000 steps",
         lambda L, o: L.OneCycleLR(o, 0.1, total_steps=1000, pct_start=0.25, three_phase=True, cycle_momentum=False), 1000),
    # test_sequentiallr1..5, test_sequentiallr_does_not_alias_lr_and_initial_lr
    Case("SequentialLR(Exponential, Step) [test_sequentiallr1]",
         lambda L, o: L.SequentialLR(o, [L.ExponentialLR(o, gamma=0.8), L.StepLR(o, gamma=0.1, step_size=4)], [3]), 40),
    Case("SequentialLR(Constant, Exponential, Step) [test_sequentiallr3]",
         lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, factor=0.1, total_iters=3), L.ExponentialLR(o, gamma=0.8),
                                         L.StepLR(o, gamma=0.1, step_size=2)], [3, 6]), 40),
    Case("SequentialLR(Chained, Constant) [test_sequentiallr5]",
         lambda L, o: L.SequentialLR(o, [L.ChainedScheduler([L.LinearLR(o, start_factor=0.1, total_iters=5),
                                                              L.ConstantLR(o, factor=0.1, total_iters=5)]),
                                         L.ConstantLR(o, factor=0.5, total_iters=5)], [5]), 30),
    Case("SequentialLR(Linear up, Linear down) [test_sequentiallr_does_not_alias_lr_and_initial_lr]",
         lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.1, 0.8, total_iters=4), L.LinearLR(o, 0.8, 0.1, total_iters=4)], [4]), 20),
    Case("SequentialLR warmup then cosine (warmup_cosine)",
         lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.2, total_iters=20), L.CosineAnnealingLR(o, 280, 1e-4)], [20]), 300),
    Case("SequentialLR of Cyclic, OneCycle and SGDR",
         lambda L, o: L.SequentialLR(o, [L.CyclicLR(o, 0.01, 0.1, 5), L.OneCycleLR(o, 0.2, total_steps=30),
                                         L.CosineAnnealingWarmRestarts(o, 7, 2)], [20, 45]), 120),
    # test_chained_lr1..5 and test_compound_*: factors that multiply
    Case("ChainedScheduler(Exponential, Constant, Step) [test_chained_lr4]",
         lambda L, o: L.ChainedScheduler([L.ExponentialLR(o, gamma=0.9), L.ConstantLR(o, factor=0.2, total_iters=4),
                                          L.StepLR(o, gamma=0.1, step_size=3)]), 40),
    Case("ChainedScheduler(Polynomial, Constant) [test_chained_lr5]",
         lambda L, o: L.ChainedScheduler([L.PolynomialLR(o, power=0.9, total_iters=5), L.ConstantLR(o, factor=0.1)]), 20),
    Case("ChainedScheduler(Linear, MultiStep) [test_chained_lr3]",
         lambda L, o: L.ChainedScheduler([L.LinearLR(o, start_factor=0.4, total_iters=3),
                                          L.MultiStepLR(o, milestones=[4, 8, 10], gamma=0.1)]), 20),
    Case("ChainedScheduler(Cosine, Step) [test_compound_cosanneal_and_step_lr]",
         lambda L, o: L.ChainedScheduler([L.CosineAnnealingLR(o, T_max=10, eta_min=1e-10), L.StepLR(o, gamma=0.1, step_size=3)]), 30),
    Case("ChainedScheduler(Linear 0.4->0.9, Exponential) [test_compound_exp_and_linearlr]",
         lambda L, o: L.ChainedScheduler([L.LinearLR(o, 0.4, 0.9, total_iters=4), L.ExponentialLR(o, gamma=0.9)]), 40),
    Case("ChainedScheduler(Sequential, Multiplicative): nested",
         lambda L, o: L.ChainedScheduler([L.SequentialLR(o, [L.ConstantLR(o, 0.5, 3), L.ExponentialLR(o, 0.95)], [5]),
                                          L.MultiplicativeLR(o, lambda t: 0.99)]), 40),
    # test_reduce_lr_on_plateau2, 3, 7, 8 (per-group min_lr)
    Case("ReduceLROnPlateau abs, patience 5 [test_reduce_lr_on_plateau2]",
         lambda L, o: L.ReduceLROnPlateau(o, patience=5, cooldown=0, threshold_mode="abs", mode="min", threshold=0.1),
         22, metrics=[10 - i * 0.0165 for i in range(22)]),
    Case("ReduceLROnPlateau max, cooldown [test_reduce_lr_on_plateau3]",
         lambda L, o: L.ReduceLROnPlateau(o, mode="max", patience=5, cooldown=5, threshold_mode="abs"),
         22, metrics=[-0.8] * 2 + [-0.234] * 20),
    Case("ReduceLROnPlateau rel, cooldown [test_reduce_lr_on_plateau7]",
         lambda L, o: L.ReduceLROnPlateau(o, mode="min", threshold_mode="rel", threshold=0.1, patience=5, cooldown=5),
         20, metrics=_falling_then_flat(20)),
    Case("ReduceLROnPlateau per-group min_lr [test_reduce_lr_on_plateau8]",
         lambda L, o: L.ReduceLROnPlateau(o, mode="max", threshold_mode="rel", min_lr=[0.04, 0.3], threshold=0.1,
                                          patience=5, cooldown=5), 40, metrics=[1.5 * (1.005**i) for i in range(40)]),
    Case("ReduceLROnPlateau eps skips tiny reductions",
         lambda L, o: L.ReduceLROnPlateau(o, factor=0.9, patience=0, eps=0.01), 30, metrics=[1.0] * 30),
    # test_swalr_*
    Case("SWALR linear, per-group swa_lr [test_swalr_linear_anneal_after_multiplicative]",
         lambda L, o: L.SWALR(o, anneal_epochs=4, anneal_strategy="linear", swa_lr=[0.01, 0.02]), 20),
    Case("SWALR cos [test_swalr_cosine_anneal_after_multiplicative]",
         lambda L, o: L.SWALR(o, anneal_epochs=5, swa_lr=0.01), 20),
    Case("SWALR one step [test_swalr_no_anneal]", lambda L, o: L.SWALR(o, anneal_epochs=1, swa_lr=0.01), 10),
    # the course's own optimizers under the schedulers
    Case("CyclicLR on course SGD", lambda L, o: L.CyclicLR(o, 0.01, 0.1, 10, 30, mode="triangular2"), 100, optimizer="course SGD"),
    Case("OneCycleLR on course Adam", lambda L, o: L.OneCycleLR(o, 0.3, total_steps=100, three_phase=True), 100,
         optimizer="course Adam"),
    Case("CosineAnnealingLR on course Adam", lambda L, o: L.CosineAnnealingLR(o, 50, 1e-3), 100, optimizer="course Adam"),
]


def _step(scheduler: Any, case: Case, t: int) -> None:
    if case.metrics is None:
        scheduler.step()
    else:
        scheduler.step(case.metrics[t])


def _run(case: Case, namespace: Any, steps: range, optimizer=None, scheduler=None) -> tuple[list, list, Any, Any]:
    """Step ``steps``; return the rates before each step and ``get_last_lr()`` after it."""
    optimizer = optimizer or make_optimizer(case.optimizer)
    scheduler = scheduler or case.build(namespace, optimizer)
    seen, last = [], []
    for t in steps:
        seen.append(rates(optimizer))
        optimizer.step()
        _step(scheduler, case, t)
        last.append(scheduler.get_last_lr())
    return seen, last, optimizer, scheduler


def _first_difference(got: list, expected: list) -> str:
    for t, (a, b) in enumerate(zip(got, expected)):
        if not equal(a, b):
            return f"step {t}: ours {a}, torch {b}"
    return ""


def _saved_and_reloaded(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.desc)
def test_scheduler_is_a_bit_exact_drop_in(case: Case) -> None:
    with warnings.catch_warnings(record=True) as torch_warnings:
        warnings.simplefilter("always")
        expected, expected_last, _, torch_scheduler = _run(case, TORCH, range(case.steps))
    with warnings.catch_warnings(record=True) as our_warnings:
        warnings.simplefilter("always")
        got, got_last, _, scheduler = _run(case, OURS, range(case.steps))
    assert isinstance(scheduler, torch_lr_scheduler.LRScheduler)
    assert type(scheduler).__name__ == type(torch_scheduler).__name__
    assert equal(got, expected), f"{case.desc}: rates differ at {_first_difference(got, expected)}"
    assert equal(got_last, expected_last), f"{case.desc}: get_last_lr differs at {_first_difference(got_last, expected_last)}"
    assert equal(scheduler.state_dict(), torch_scheduler.state_dict()), f"{case.desc}: state_dict differs from torch's"
    assert [str(w.message) for w in our_warnings] == [str(w.message) for w in torch_warnings]
    changing = [g for g in range(len(expected[0])) if len({step[g][1:] for step in expected}) > 1]
    assert changing or case.desc.startswith("ConstantLR(1.0)"), f"{case.desc}: the rates never change, the row tests nothing"


@pytest.mark.parametrize("source", ["ours", "torch"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.desc)
def test_resuming_from_a_saved_state_gives_the_same_rates(case: Case, source: str) -> None:
    middle = case.steps // 2
    expected, _, _, _ = _run(case, TORCH, range(case.steps))
    _, _, optimizer, scheduler = _run(case, TORCH if source == "torch" else OURS, range(middle))
    checkpoint = _saved_and_reloaded({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()})

    resumed_optimizer = make_optimizer(case.optimizer)
    resumed = case.build(OURS, resumed_optimizer)
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    resumed.load_state_dict(checkpoint["scheduler"])
    got, _, _, _ = _run(case, OURS, range(middle, case.steps), resumed_optimizer, resumed)
    assert equal(got, expected[middle:]), (
        f"{case.desc}, resumed at step {middle} from {source}'s state: {_first_difference(got, expected[middle:])}"
    )


# (description, ours, torch's constructor, the pure schedule with lr 0.05, steps); step(epoch) uses the closed form
CLOSED_FORM_CASES = [
    ("StepLR", lambda L, o: L.StepLR(o, gamma=0.1, step_size=3), schedules.step_decay(0.05, 3, 0.1), 20),
    ("MultiStepLR", lambda L, o: L.MultiStepLR(o, gamma=0.1, milestones=[2, 5, 9]), schedules.multi_step_decay(0.05, [2, 5, 9], 0.1), 20),
    ("ConstantLR", lambda L, o: L.ConstantLR(o, factor=1.0 / 3, total_iters=4), schedules.constant_warmup(0.05, 4, 1.0 / 3), 20),
    ("LinearLR", lambda L, o: L.LinearLR(o, start_factor=1.0 / 3, end_factor=0.7, total_iters=4),
     schedules.linear_schedule(0.05, 4, 1.0 / 3, 0.7), 20),
    ("ExponentialLR", lambda L, o: L.ExponentialLR(o, gamma=0.9), schedules.exponential_decay(0.05, 0.9), 20),
    ("PolynomialLR", lambda L, o: L.PolynomialLR(o, power=0.9), schedules.polynomial_decay(0.05, 5, 0.9), 20),
    ("CosineAnnealingLR", lambda L, o: L.CosineAnnealingLR(o, T_max=5, eta_min=1e-10), schedules.cosine_annealing(0.05, 5, 1e-10), 20),
]


@pytest.mark.parametrize(("desc", "build", "schedule", "epochs"), CLOSED_FORM_CASES, ids=[c[0] for c in CLOSED_FORM_CASES])
def test_step_with_an_epoch_uses_the_closed_form_of_the_rules(desc, build, schedule, epochs) -> None:
    """torch's test_closed_form_*: step(epoch) jumps, with the EPOCH_DEPRECATION_WARNING."""
    results = {}
    for name, namespace in (("ours", OURS), ("torch", TORCH)):
        optimizer = make_optimizer()
        scheduler = build(namespace, optimizer)
        seen = []
        for epoch in [*range(epochs), 3, 17, 0]:  # forwards, then jumps back
            optimizer.step()
            with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)` was not necessary"):
                scheduler.step(epoch)
            seen.append(rates(optimizer))
        results[name] = seen
    assert equal(results["ours"], results["torch"]), _first_difference(results["ours"], results["torch"])
    float_group = [step[0][1] for step in results["ours"]]
    assert float_group == [schedule(epoch) for epoch in [*range(epochs), 3, 17, 0]], \
        f"{desc}: the closed form is not the pure schedule's"


@pytest.mark.parametrize("T_mult", [1, 2, 3, 4])
def test_warm_restarts_with_fractional_and_interleaved_epochs(T_mult: int) -> None:
    """torch's test_CosineAnnealingWarmRestarts_lr2 (epochs by 0.1) and lr3 (jumps back and forth)."""
    epochs = [round(e.item(), 1) for e in torch.arange(0, 30, 0.1)] + [0, 1, 2, 3, 4, 5, 25, 32, 33, 34, 80, 81, 3, 17.5, 50]
    results = {}
    for name, namespace in (("ours", OURS), ("torch", TORCH)):
        optimizer = make_optimizer()
        scheduler = namespace.CosineAnnealingWarmRestarts(optimizer, T_0=10, T_mult=T_mult, eta_min=1e-10)
        seen = []
        for epoch in epochs:
            scheduler.step(epoch)
            seen.append((rates(optimizer), scheduler.T_cur, scheduler.T_i, scheduler.last_epoch))
        results[name] = seen
    assert equal(results["ours"], results["torch"]), _first_difference(results["ours"], results["torch"])


def test_warm_restarts_reset_T_cur_like_torch() -> None:
    """torch's test_CosineAnnealingWarmRestarts_T_cur_reset."""
    scheduler = OURS.CosineAnnealingWarmRestarts(make_optimizer(), T_0=4)
    for epoch in [7, 8, 9]:
        scheduler.T_cur = epoch
        scheduler.step()
        assert scheduler.T_cur == (epoch + 1) % scheduler.T_0


def test_containers_take_torch_and_course_schedulers_alike() -> None:
    def mixed(outer, inner_a, inner_b):
        def build(L, o):
            chained = outer.ChainedScheduler([inner_b.LinearLR(o, 0.2, total_iters=4), inner_a.StepLR(o, 4, 0.5)])
            return outer.SequentialLR(o, [chained, inner_a.ExponentialLR(o, 0.9), inner_b.CyclicLR(o, 0.01, 0.1, 3)], [6, 12])
        return Case("mixed", build, 30)

    expected, _, _, _ = _run(mixed(TORCH, TORCH, TORCH), TORCH, range(30))
    for combination in [(OURS, TORCH, OURS), (TORCH, OURS, TORCH), (OURS, OURS, TORCH), (TORCH, TORCH, OURS)]:
        got, _, _, _ = _run(mixed(*combination), OURS, range(30))
        assert equal(got, expected), _first_difference(got, expected)


@pytest.mark.parametrize("inner", ["chained", "sequential"])
def test_a_container_after_a_milestone_starts_over(inner: str) -> None:
    """torch raises NotImplementedError here; ours runs the container as if it had just been built."""

    def container(L, o):
        if inner == "chained":
            return L.ChainedScheduler([L.ExponentialLR(o, 0.9), L.ConstantLR(o, 0.5, 3), L.StepLR(o, 4, 0.5)])
        return L.SequentialLR(o, [L.ConstantLR(o, 0.1, 2), L.CosineAnnealingLR(o, 10)], [4])

    warmup_steps, steps = 5, 30
    with pytest.raises(NotImplementedError):
        _run(Case("", lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=5), container(L, o)], [5]), steps),
             TORCH, range(steps))
    got, _, _, _ = _run(
        Case("", lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=5), container(L, o)], [warmup_steps]), steps),
        OURS, range(steps))
    alone, _, _, _ = _run(Case("", container, steps), TORCH, range(steps - warmup_steps))
    assert equal(got[warmup_steps:], alone), _first_difference(got[warmup_steps:], alone)
    warmup, _, _, _ = _run(Case("", lambda L, o: L.LinearLR(o, 0.1, total_iters=5), steps), TORCH, range(warmup_steps))
    assert equal(got[:warmup_steps], warmup)


def test_swalr_takes_over_from_whatever_rate_another_scheduler_left() -> None:
    """torch's test_swalr_cosine_anneal_after_multiplicative: SWALR recovers its starting rate from the current one."""
    results = {}
    for name, namespace in (("ours", OURS), ("torch", TORCH)):
        optimizer = make_optimizer()
        before = namespace.MultiplicativeLR(optimizer, lr_lambda=lambda epoch: 0.9)
        swa = namespace.SWALR(optimizer, anneal_epochs=5, swa_lr=[0.01, 0.02])
        seen = []
        for epoch in range(15):
            seen.append(rates(optimizer))
            optimizer.step()
            (swa if epoch >= 5 else before).step()
        results[name] = seen
    assert equal(results["ours"], results["torch"]), _first_difference(results["ours"], results["torch"])
    assert results["ours"][-1][0][1] == pytest.approx(0.01) and results["ours"][-1][1][1] == pytest.approx(0.02)


# (ours, torch's) raising the same exception type; torch's test_*_invalid_*, *_limits, *_hypers, ...
ERROR_CASES = [
    (lambda L, o: L.LinearLR(o, start_factor=0.0, total_iters=4), ValueError),
    (lambda L, o: L.LinearLR(o, start_factor=1.1, total_iters=4), ValueError),
    (lambda L, o: L.LinearLR(o, end_factor=-0.1), ValueError),
    (lambda L, o: L.ConstantLR(o, factor=1.5), ValueError),
    (lambda L, o: L.StepLR(o, step_size=3, last_epoch=1), KeyError),  # resuming without initial_lr
    (lambda L, o: L.MultiplicativeLR(o, 0.95), TypeError),
    (lambda L, o: L.MultiplicativeLR(o, [0.95, 0.95]), TypeError),
    (lambda L, o: L.LambdaLR(o, [lambda t: 1.0]), ValueError),
    (lambda L, o: L.CyclicLR(o, base_lr=0, max_lr=0, mode="CATS"), ValueError),
    (lambda L, o: L.CyclicLR(o, base_lr=[0.1, 0.2, 0.3], max_lr=1), ValueError),
    (lambda L, o: L.CyclicLR(torch.optim.Rprop(o.param_groups[0]["params"]), base_lr=1, max_lr=5), ValueError),
    (lambda L, o: L.CyclicLR("not an optimizer", base_lr=1, max_lr=5), TypeError),
    (lambda L, o: L.OneCycleLR(o, max_lr=1e-3, total_steps=10, anneal_strategy="CATS"), ValueError),
    (lambda L, o: L.OneCycleLR(o, max_lr=1e-3, total_steps=10, pct_start=1.1), ValueError),
    (lambda L, o: L.OneCycleLR(o, max_lr=1e-3, total_steps=10, pct_start=1), ValueError),  # not a float
    (lambda L, o: L.OneCycleLR(o, max_lr=1e-3), ValueError),
    (lambda L, o: L.OneCycleLR(o, max_lr=1e-3, epochs=3), ValueError),
    (lambda L, o: L.OneCycleLR(o, max_lr=1e-3, total_steps=0), ValueError),
    (lambda L, o: L.OneCycleLR(o, max_lr=1e-3, epochs=0, steps_per_epoch=5), ValueError),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0), ValueError),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=0), ValueError),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2.5), ValueError),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=10, eta_min="0"), ValueError),
    (lambda L, o: L.ReduceLROnPlateau(o, factor=1.0), ValueError),
    (lambda L, o: L.ReduceLROnPlateau(o, mode="lowest"), ValueError),
    (lambda L, o: L.ReduceLROnPlateau(o, threshold_mode="relative"), ValueError),
    (lambda L, o: L.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError),
    (lambda L, o: L.SWALR(o, anneal_strategy="exponential", swa_lr=1.0), ValueError),
    (lambda L, o: L.SWALR(o, anneal_epochs=-1, swa_lr=1.0), ValueError),
    (lambda L, o: L.SWALR(o, anneal_epochs=1.7, swa_lr=1.0), ValueError),
    (lambda L, o: L.SWALR(o, swa_lr=[1.0, 0.1, 0.01]), ValueError),
    (lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2), L.StepLR(o, 3)], milestones=[]), ValueError),
    (lambda L, o: L.SequentialLR(o, [], milestones=[]), ValueError),
    (lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2), L.ReduceLROnPlateau(o)], milestones=[3]), ValueError),
    (lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2), L.StepLR(make_optimizer(), 2)], milestones=[3]), ValueError),
    (lambda L, o: L.ChainedScheduler([]), ValueError),
    (lambda L, o: L.ChainedScheduler([L.StepLR(o, 2), L.ReduceLROnPlateau(o)]), ValueError),
]


@pytest.mark.parametrize(("build", "error"), ERROR_CASES, ids=[f"error{i}" for i in range(len(ERROR_CASES))])
def test_bad_arguments_raise_what_torch_raises(build, error) -> None:
    with pytest.raises(error):
        build(TORCH, make_optimizer())
    with pytest.raises(error):
        build(OURS, make_optimizer())


def test_plateau_with_a_param_group_added_later() -> None:
    """torch's test_add_param_group_does_not_break_reduce_lr_on_plateau and ..._errors_..."""
    for min_lr in (0.0, [1e-5, 1e-4]):
        results = {}
        for name, namespace in (("ours", OURS), ("torch", TORCH)):
            optimizer = make_optimizer()
            scheduler = namespace.ReduceLROnPlateau(optimizer, threshold=0.1, patience=5, cooldown=5, min_lr=min_lr)
            seen = []
            for epoch, metric in enumerate(_falling_then_flat(20)):
                if epoch == 8:
                    optimizer.add_param_group({"params": [nn.Parameter(torch.rand(2, 3))], "lr": 0.05})
                    if isinstance(min_lr, list):
                        scheduler.min_lrs.append(1e-6)
                optimizer.step()
                scheduler.step(metric)
                seen.append(rates(optimizer))
            results[name] = seen
        assert equal(results["ours"], results["torch"]), _first_difference(results["ours"], results["torch"])
    scheduler = OURS.ReduceLROnPlateau(optimizer := make_optimizer(), patience=0, min_lr=[1e-5, 1e-4])
    optimizer.add_param_group({"params": [nn.Parameter(torch.rand(2))], "lr": 0.05})
    scheduler.step(1)
    with pytest.raises(RuntimeError, match="The number of param groups"):
        scheduler.step(1.3)


CHECKPOINT_CLASSES = [
    ("ExponentialLR", {"gamma": 0.999}),
    ("LambdaLR", {"lr_lambda": lambda epoch: epoch // 30}),
    ("MultiplicativeLR", {"lr_lambda": lambda epoch: 0.95}),
    ("StepLR", {"step_size": 30}),
    ("MultiStepLR", {"milestones": [30, 80]}),
    ("ConstantLR", {}),
    ("LinearLR", {}),
    ("PolynomialLR", {}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingWarmRestarts", {"T_0": 20}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1}),
    ("OneCycleLR", {"max_lr": 0.01, "total_steps": 10}),
    ("SWALR", {"swa_lr": 0.01}),
]


@pytest.mark.parametrize(("name", "kwargs"), CHECKPOINT_CLASSES, ids=[c[0] for c in CHECKPOINT_CLASSES])
def test_restart_with_last_epoch_from_a_loaded_optimizer(name: str, kwargs: dict) -> None:
    """torch's test_lr_scheduler_checkpoint: rebuild with last_epoch=0 after loading the optimizer."""
    results = {}
    for label, namespace in (("ours", OURS), ("torch", TORCH)):
        model = nn.Linear(3, 3)
        optimizer = torch.optim.AdamW(model.parameters())
        scheduler = getattr(namespace, name)(optimizer, **kwargs)
        optimizer.step()
        scheduler.step()
        restarted_optimizer = torch.optim.AdamW(model.parameters())
        restarted_optimizer.load_state_dict(optimizer.state_dict())
        restarted = getattr(namespace, name)(restarted_optimizer, last_epoch=0, **kwargs)
        results[label] = (optimizer.param_groups[0]["lr"], restarted.get_last_lr(), rates(restarted_optimizer))
    assert equal(results["ours"], results["torch"])


def test_tensor_lrs_stay_the_same_tensors_and_base_lrs_do_not_alias_them() -> None:
    """torch's test_constant_initial_lr / test_constant_initial_params_*: Tensor lrs updated in place."""
    lr = torch.as_tensor(0.1)
    optimizer = torch.optim.SGD([nn.Parameter(torch.randn(1))], lr=lr)
    scheduler = OURS.ExponentialLR(optimizer, 0.5)
    assert optimizer.param_groups[0]["lr"] is lr
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] is lr and lr.item() == pytest.approx(0.1 * 0.5**3)
    assert scheduler.base_lrs == [0.1] and scheduler.base_lrs[0] is not optimizer.param_groups[0]["initial_lr"]
    last = scheduler.get_last_lr()[0]
    last.mul_(100)
    assert lr.item() == pytest.approx(0.0125), "get_last_lr() returns copies: changing one leaves the optimizer alone"

    momentum_bounds = (torch.as_tensor(0.8), torch.as_tensor(0.9))
    optimizer = torch.optim.SGD([nn.Parameter(torch.randn(1))], lr=torch.as_tensor(0.1))
    cyclic = OURS.CyclicLR(optimizer, base_lr=0.1, max_lr=torch.as_tensor(0.2),
                           base_momentum=momentum_bounds[0], max_momentum=momentum_bounds[1])
    for bound in momentum_bounds:
        bound.mul_(0.5)
    optimizer.step()
    cyclic.step()
    assert optimizer.param_groups[0]["max_momentum"] == 0.9 and optimizer.param_groups[0]["base_momentum"] == 0.8


def test_warnings_follow_torch() -> None:
    """torch's test_old_pattern_warning and get_lr called outside step()."""
    optimizer = make_optimizer()
    scheduler = OURS.StepLR(optimizer, gamma=0.1, step_size=3)
    with pytest.warns(UserWarning, match="how-to-adjust-learning-rate"):
        for _ in range(3):
            scheduler.step()
            optimizer.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        scheduler.get_lr()


def test_a_scheduler_leaves_no_reference_cycle() -> None:
    """torch's test_no_cyclic_references_in_step: the scheduler is freed without the garbage collector."""
    import gc
    import weakref

    def run() -> weakref.ref:
        parameter = torch.empty(10, requires_grad=True)
        optimizer = torch.optim.SGD([parameter], lr=0.5)
        scheduler = OURS.CyclicLR(optimizer, 0.1, 0.5, cycle_momentum=False)
        parameter.sum().backward()
        optimizer.step()
        scheduler.step()
        return weakref.ref(scheduler)

    gc.disable()
    try:
        assert run()() is None
    finally:
        gc.enable()


def test_cyclic_scale_fn_object_is_saved_with_its_state() -> None:
    """torch's test_cycle_lr_state_dict_picklable / _scale_fn_restored_from_state_dict."""

    class ScaleFn:
        def __init__(self) -> None:
            self.x = 0.5

        def __call__(self, _: float) -> float:
            return self.x

    optimizer = make_optimizer("adam")
    scheduler = OURS.CyclicLR(optimizer, base_lr=1, max_lr=5, cycle_momentum=False, scale_fn=ScaleFn())
    state = scheduler.state_dict()
    assert state["_scale_fn_custom"] == {"x": 0.5}
    restored = OURS.CyclicLR(optimizer, base_lr=1, max_lr=5, cycle_momentum=False, scale_fn=(other := ScaleFn()))
    other.x = 2.0
    restored.load_state_dict(_saved_and_reloaded(state))
    assert other.x == 0.5
    builtin = OURS.CyclicLR(optimizer, base_lr=1, max_lr=5, cycle_momentum=False, mode="triangular2")
    reloaded = OURS.CyclicLR(optimizer, base_lr=1, max_lr=5, cycle_momentum=False)
    reloaded.load_state_dict(builtin.state_dict())
    assert reloaded.mode == "triangular2" and reloaded.scale_fn(3) == 0.25


def test_one_cycle_refuses_a_step_past_its_end_like_torch() -> None:
    for namespace in (OURS, TORCH):
        optimizer = make_optimizer()
        scheduler = namespace.OneCycleLR(optimizer, 0.1, total_steps=5)
        for _ in range(5):
            optimizer.step()
            scheduler.step()
        with pytest.raises(ValueError):
            scheduler.step()


def test_constant_lr_with_factor_zero_returns_to_the_base_rate() -> None:
    """torch divides by the factor at total_iters (ZeroDivisionError); ours goes back to the base rate."""
    optimizer = make_optimizer()
    scheduler = OURS.ConstantLR(optimizer, factor=0.0, total_iters=3)
    seen = []
    for _ in range(5):
        seen.append([float(g["lr"]) for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    assert seen == [[0.0, 0.0]] * 3 + [[0.05, 0.5]] * 2
    torch_optimizer = make_optimizer()
    torch_scheduler = TORCH.ConstantLR(torch_optimizer, factor=0.0, total_iters=3)
    with pytest.raises(ZeroDivisionError):
        for _ in range(3):
            torch_optimizer.step()
            torch_scheduler.step()


def test_a_scheduler_trains_a_model_like_torch_s() -> None:
    """End to end: the course's Adam under the course's OneCycleLR moves the weights as torch's pair does."""
    results = []
    for optimizer_class, namespace in ((course_lib.optim.Adam, OURS), (torch.optim.Adam, TORCH)):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        optimizer = optimizer_class(model.parameters(), lr=0.01)
        scheduler = namespace.OneCycleLR(optimizer, max_lr=0.05, total_steps=40)
        generator = torch.Generator().manual_seed(1)
        X, y = torch.randn(64, 4, generator=generator), torch.randn(64, 1, generator=generator)
        for _ in range(40):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(X), y).backward()
            optimizer.step()
            scheduler.step()
        results.append(copy.deepcopy(model.state_dict()))
    for key in results[0]:
        torch.testing.assert_close(results[0][key], results[1][key], rtol=1e-6, atol=1e-7)
