"""course_lib.optim against torch.optim: the same numbers, state and state_dict, step by step.

Every row of ``ROWS`` is (ours, torch reference, kwargs, description). Both optimizers
train twin copies of a small network (three tensors in one group, three in another,
each group with its own hyperparameters) on the same batches for ``STEPS`` steps, and
after *every* step the parameters and every state tensor must agree exactly: our update
functions perform torch's single-tensor operations in torch's order, so on the same
device the results are bit-identical, and any reordering of the arithmetic would show
up as a last-bit difference within a step or two.

STEPS = 10: the first step creates the state (momentum buffer copied from the
gradient, bias corrections at their largest), steps 2-10 run the recurrences with
shrinking bias corrections, and the ``gate`` parameter is used only on even steps, so
five of the ten steps see a parameter whose ``.grad`` is None. More steps add run time
but no new code paths.
"""

from __future__ import annotations

import copy
import functools
import inspect
import io
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import torch
from torch import nn
from torch.testing import assert_close

import course_lib.optim as co

STEPS = 10
EXACT = {"rtol": 0.0, "atol": 0.0}


class TinyNet(nn.Module):
    """Two linear layers and a gate vector that joins the forward pass on even steps only."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(6, 5)
        self.out = nn.Linear(5, 3)
        self.gate = nn.Parameter(torch.linspace(0.5, 1.5, 3))

    def forward(self, x: torch.Tensor, use_gate: bool) -> torch.Tensor:
        y = self.out(torch.tanh(self.hidden(x)))
        return y * self.gate if use_gate else y


def make_twins(dtype: torch.dtype, device: torch.device) -> tuple[TinyNet, TinyNet, list]:
    torch.manual_seed(0)
    model = TinyNet().to(device=device, dtype=dtype)
    generator = torch.Generator().manual_seed(1)
    batches = [
        (torch.randn(8, 6, generator=generator), torch.randn(8, 3, generator=generator))
        for _ in range(2 * STEPS)
    ]
    batches = [(x.to(device, dtype), y.to(device, dtype)) for x, y in batches]
    return model, copy.deepcopy(model), batches


def train_step(model: TinyNet, optimizer: torch.optim.Optimizer, batch: tuple, step: int) -> torch.Tensor:
    optimizer.zero_grad()
    x, y = batch
    loss = ((model(x, use_gate=step % 2 == 0) - y) ** 2).mean()
    loss.backward()
    optimizer.step()
    return loss


def default_lr(cls: Callable) -> float:
    while isinstance(cls, functools.partial):
        cls = cls.func
    return inspect.signature(cls).parameters["lr"].default


def param_groups(model: TinyNet, kwargs: dict[str, Any], cls: Callable) -> list[dict[str, Any]]:
    """Group 0: the hidden layer, own lr (half) and no weight decay; group 1: the rest."""
    first = {"params": list(model.hidden.parameters()), "lr": 0.5 * kwargs.get("lr", default_lr(cls))}
    if "weight_decay" in kwargs:
        first["weight_decay"] = 0.0
    return [first, {"params": [model.out.weight, model.out.bias, model.gate]}]


def assert_same_state(ours: torch.optim.Optimizer, ref: torch.optim.Optimizer, ours_model, ref_model, context=""):
    for (name, p_ours), p_ref in zip(ours_model.named_parameters(), ref_model.parameters()):
        assert_close(p_ours, p_ref, **EXACT, msg=lambda m: f"{context} param {name}: {m}")
        state_ours, state_ref = ours.state.get(p_ours, {}), ref.state.get(p_ref, {})
        assert state_ours.keys() == state_ref.keys(), f"{context} {name}: state keys {state_ours.keys()} vs {state_ref.keys()}"
        for key in state_ref:
            assert_close(state_ours[key], state_ref[key], **EXACT, msg=lambda m: f"{context} {name}[{key}]: {m}")


@dataclass
class Row:
    ours: Callable
    reference: Callable
    kwargs: dict[str, Any]
    description: str
    same_layout: bool = True  # state_dict()["param_groups"] must equal torch's

    def param(self):
        return pytest.param(self, id=self.description)


def torch_single(cls: type, **fixed: Any) -> Callable:
    """torch's per-tensor implementation: the one ours mirrors on every device."""
    return functools.partial(cls, foreach=False, **fixed)


O = torch.optim
ROWS = [
    Row(co.SGD, torch_single(O.SGD), {"lr": 0.1}, "sgd-plain"),
    Row(co.SGD, torch_single(O.SGD), {"lr": 0.1, "momentum": 0.9}, "sgd-momentum"),
    Row(co.SGD, torch_single(O.SGD), {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}, "sgd-momentum-dampening"),
    Row(co.SGD, torch_single(O.SGD), {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}, "sgd-nesterov-wd"),
    Row(co.SGD, torch_single(O.SGD), {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1, "maximize": True}, "sgd-maximize-wd"),
    Row(co.Adagrad, torch_single(O.Adagrad), {"lr": 0.1}, "adagrad-plain"),
    Row(co.Adagrad, torch_single(O.Adagrad), {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.2}, "adagrad-decay-wd-init"),
    Row(co.Adagrad, torch_single(O.Adagrad), {"lr": 0.1, "eps": 1e-3, "maximize": True}, "adagrad-maximize"),
    Row(co.RMSprop, torch_single(O.RMSprop), {"lr": 0.01}, "rmsprop-plain"),
    Row(co.RMSprop, torch_single(O.RMSprop), {"lr": 0.01, "centered": True, "momentum": 0.9}, "rmsprop-centered-momentum"),
    Row(co.RMSprop, torch_single(O.RMSprop), {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "weight_decay": 0.1}, "rmsprop-momentum-wd"),
    Row(co.RMSprop, torch_single(O.RMSprop), {"lr": 0.01, "centered": True, "maximize": True, "eps": 1e-4}, "rmsprop-centered-maximize"),
    Row(co.Adadelta, torch_single(O.Adadelta), {}, "adadelta-defaults"),
    Row(co.Adadelta, torch_single(O.Adadelta), {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.1}, "adadelta-wd"),
    Row(co.Adadelta, torch_single(O.Adadelta), {"maximize": True}, "adadelta-maximize"),
    Row(co.Adam, torch_single(O.Adam), {"lr": 0.01}, "adam-plain"),
    Row(co.Adam, torch_single(O.Adam), {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}, "adam-betas-eps"),
    Row(co.Adam, torch_single(O.Adam), {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}, "adam-amsgrad-l2"),
    Row(co.Adam, torch_single(O.Adam), {"lr": 0.01, "maximize": True, "weight_decay": 0.1}, "adam-maximize-l2"),
    Row(co.Adam, torch_single(O.Adam), {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}, "adam-decoupled"),
    Row(co.AdamW, torch_single(O.AdamW), {"lr": 0.01}, "adamw-default-wd"),
    Row(co.AdamW, torch_single(O.AdamW), {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}, "adamw-amsgrad-wd"),
    Row(co.AdamW, torch_single(O.AdamW), {"lr": 0.01, "maximize": True, "betas": (0.5, 0.9)}, "adamw-maximize"),
    Row(co.AdamL2, torch_single(O.Adam, weight_decay=1e-2), {"lr": 0.01}, "adaml2-is-torch-adam-wd"),
    Row(co.Adamax, torch_single(O.Adamax), {}, "adamax-defaults"),
    Row(co.Adamax, torch_single(O.Adamax), {"lr": 0.01, "weight_decay": 0.1, "maximize": True}, "adamax-wd-maximize"),
    Row(co.NAdam, torch_single(O.NAdam), {}, "nadam-defaults"),
    Row(co.NAdam, torch_single(O.NAdam), {"lr": 0.01, "weight_decay": 0.1}, "nadam-l2"),
    Row(co.NAdam, torch_single(O.NAdam), {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}, "nadam-decoupled"),
    Row(co.NAdam, torch_single(O.NAdam), {"lr": 0.01, "momentum_decay": 0.01, "maximize": True}, "nadam-momentum-decay-maximize"),
    Row(co.RAdam, torch_single(O.RAdam), {"lr": 0.01}, "radam-plain"),
    Row(co.RAdam, torch_single(O.RAdam), {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1}, "radam-short-beta2-l2"),
    Row(co.RAdam, torch_single(O.RAdam), {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1, "decoupled_weight_decay": True}, "radam-decoupled"),
    Row(co.RAdam, torch_single(O.RAdam), {"lr": torch.tensor(0.01), "betas": (0.9, 0.95), "maximize": True, "weight_decay": 0.1, "decoupled_weight_decay": True}, "radam-tensor-lr-maximize"),
    # foreach=True on both sides: our multi-tensor path against torch's.
    Row(co.SGD, O.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "foreach": True}, "foreach-sgd-nesterov-wd"),
    Row(co.SGD, O.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.2, "maximize": True, "foreach": True}, "foreach-sgd-maximize"),
    Row(co.Adam, O.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1, "foreach": True}, "foreach-adam-amsgrad-l2"),
    Row(co.AdamW, O.AdamW, {"lr": 0.01, "maximize": True, "foreach": True}, "foreach-adamw-maximize"),
    Row(co.AdamW, O.AdamW, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1, "foreach": True}, "foreach-adamw-amsgrad"),
    Row(co.Adagrad, O.Adagrad, {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "maximize": True, "foreach": True}, "foreach-adagrad-decay-wd-maximize"),
    Row(co.Adagrad, O.Adagrad, {"lr": torch.tensor(0.1), "initial_accumulator_value": 0.1, "foreach": True}, "foreach-adagrad-tensor-lr"),
    Row(co.RMSprop, O.RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.9, "weight_decay": 0.1, "foreach": True}, "foreach-rmsprop-centered-momentum"),
    Row(co.RMSprop, O.RMSprop, {"lr": 0.01, "maximize": True, "foreach": True}, "foreach-rmsprop-maximize"),
    Row(co.Adadelta, O.Adadelta, {"lr": 0.5, "weight_decay": 0.1, "maximize": True, "foreach": True}, "foreach-adadelta-wd-maximize"),
    Row(co.Adamax, O.Adamax, {"lr": 0.01, "weight_decay": 0.1, "foreach": True}, "foreach-adamax-wd"),
    Row(co.Adamax, O.Adamax, {"lr": torch.tensor(0.01), "maximize": True, "foreach": True}, "foreach-adamax-tensor-lr-maximize"),
    Row(co.NAdam, O.NAdam, {"lr": 0.01, "weight_decay": 0.1, "foreach": True}, "foreach-nadam-l2"),
    Row(co.NAdam, O.NAdam, {"lr": torch.tensor(0.01), "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True, "foreach": True}, "foreach-nadam-decoupled-tensor-lr"),
    Row(co.RAdam, O.RAdam, {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1, "foreach": True}, "foreach-radam-l2"),
    Row(co.RAdam, O.RAdam, {"lr": torch.tensor(0.01), "betas": (0.8, 0.9), "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True, "foreach": True}, "foreach-radam-decoupled-tensor-lr"),
    # The fastai-style "decay, then Adam step" is AdamW, exactly.
    Row(co.DecayThenStepAdam, torch_single(O.AdamW), {"lr": 0.01, "weight_decay": 0.1}, "decay-then-step-adam-is-adamw", same_layout=False),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("row", [row.param() for row in ROWS])
def test_matches_torch_every_step(row: Row, dtype: torch.dtype, device: torch.device) -> None:
    ours_model, ref_model, batches = make_twins(dtype, device)
    ours = row.ours(param_groups(ours_model, row.kwargs, row.ours), **row.kwargs)
    ref = row.reference(param_groups(ref_model, row.kwargs, row.ours), **row.kwargs)
    for step in range(STEPS):
        loss_ours = train_step(ours_model, ours, batches[step], step)
        loss_ref = train_step(ref_model, ref, batches[step], step)
        assert_close(loss_ours, loss_ref, **EXACT)
        assert_same_state(ours, ref, ours_model, ref_model, context=f"{row.description} step {step}")
    if row.same_layout:
        # The reference is pinned to foreach=False; ours keeps its default (None), which
        # runs the same per-tensor rule. Every other key must be torch's.
        ignore = set() if "foreach" in row.kwargs else {"foreach"}
        strip = lambda groups: [{k: v for k, v in g.items() if k not in ignore} for g in groups]  # noqa: E731
        assert strip(ours.state_dict()["param_groups"]) == strip(ref.state_dict()["param_groups"])
    moved = [not torch.equal(p, q) for p, q in zip(ours_model.parameters(), make_twins(dtype, device)[0].parameters())]
    assert all(moved), "every parameter, the gate included, should have been updated at least once"


def test_foreach_is_torchs_foreach_not_the_loop_under_another_name() -> None:
    """torch's foreach NAdam orders its arithmetic differently from its loop: ours follows
    each path, so foreach=True and foreach=False differ here in the last bits, as in torch."""
    finals = {}
    for foreach in (False, True):
        ours_model, ref_model, batches = make_twins(torch.float32, torch.device("cpu"))
        ours = co.NAdam(ours_model.parameters(), lr=0.01, foreach=foreach)
        ref = O.NAdam(ref_model.parameters(), lr=0.01, foreach=foreach)
        run_twins(ours, ref, ours_model, ref_model, batches, range(STEPS), context=f"foreach={foreach}")
        finals[foreach] = [p.detach().clone() for p in ours_model.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(finals[False], finals[True]))
    for a, b in zip(finals[False], finals[True]):
        assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_grad_none_leaves_param_and_state_untouched() -> None:
    model, _, batches = make_twins(torch.float32, torch.device("cpu"))
    optimizer = co.Adam(model.parameters(), lr=0.1)
    train_step(model, optimizer, batches[0], step=0)  # gate used: it gets state
    gate_before = model.gate.detach().clone()
    state_before = {k: v.clone() for k, v in optimizer.state[model.gate].items()}
    train_step(model, optimizer, batches[1], step=1)  # gate unused: .grad is None
    assert model.gate.grad is None
    assert torch.equal(model.gate, gate_before)
    for key, value in state_before.items():
        assert torch.equal(optimizer.state[model.gate][key], value), key
    assert optimizer.state[model.hidden.weight]["step"].item() == 2.0
    assert optimizer.state[model.gate]["step"].item() == 1.0


def test_zero_grad_sets_grads_to_none_like_torch() -> None:
    model, _, batches = make_twins(torch.float32, torch.device("cpu"))
    optimizer = co.SGD(model.parameters(), lr=0.1)
    train_step(model, optimizer, batches[0], step=0)
    assert model.hidden.weight.grad is not None
    optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    train_step(model, optimizer, batches[0], step=0)
    optimizer.zero_grad(set_to_none=False)
    assert all(torch.count_nonzero(p.grad) == 0 for p in model.parameters())


def test_step_with_closure_returns_loss_and_matches_torch() -> None:
    ours_model, ref_model, batches = make_twins(torch.float32, torch.device("cpu"))
    ours = co.NAdam(ours_model.parameters(), lr=0.01)
    ref = O.NAdam(ref_model.parameters(), lr=0.01, foreach=False)
    x, y = batches[0]

    def closure_for(model, optimizer):
        def closure():
            optimizer.zero_grad()
            loss = ((model(x, use_gate=True) - y) ** 2).mean()
            loss.backward()
            return loss
        return closure

    for _ in range(3):
        loss_ours = ours.step(closure_for(ours_model, ours))
        loss_ref = ref.step(closure_for(ref_model, ref))
        assert_close(loss_ours, loss_ref, **EXACT)
    assert_same_state(ours, ref, ours_model, ref_model)


# ---------------------------------------------------------------- learning-rate schedulers

SCHEDULED = [
    (co.SGD, O.SGD, {"lr": 0.1, "momentum": 0.9}, lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=STEPS), "sgd-onecycle-cycles-momentum"),
    (co.Adam, O.Adam, {"lr": 0.01}, lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=STEPS), "adam-onecycle-cycles-betas"),
    (co.AdamW, O.AdamW, {"lr": 0.01}, lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), "adamw-steplr"),
    (co.RMSprop, O.RMSprop, {"lr": 0.01, "momentum": 0.5}, lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS), "rmsprop-cosine"),
    (co.Adagrad, O.Adagrad, {"lr": 0.1}, lambda opt: torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=5), "adagrad-linear-warmup"),
    (co.NAdam, O.NAdam, {"lr": 0.01}, lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.8), "nadam-exponential"),
]


@pytest.mark.parametrize("ours_cls, ref_cls, kwargs, make_scheduler", [s[:4] for s in SCHEDULED], ids=[s[4] for s in SCHEDULED])
def test_lr_scheduler_changes_lr_between_steps(ours_cls, ref_cls, kwargs, make_scheduler) -> None:
    kwargs = {"foreach": False, **kwargs}
    ours_model, ref_model, batches = make_twins(torch.float32, torch.device("cpu"))
    ours = ours_cls(param_groups(ours_model, kwargs, ours_cls), **kwargs)
    ref = ref_cls(param_groups(ref_model, kwargs, ours_cls), **kwargs)
    ours_scheduler, ref_scheduler = make_scheduler(ours), make_scheduler(ref)
    lrs = []
    for step in range(STEPS):
        train_step(ours_model, ours, batches[step], step)
        train_step(ref_model, ref, batches[step], step)
        ours_scheduler.step()
        ref_scheduler.step()
        lrs.append(ours.param_groups[1]["lr"])
        assert_same_state(ours, ref, ours_model, ref_model, context=f"step {step}")
        assert ours.state_dict()["param_groups"] == ref.state_dict()["param_groups"]
    assert len(set(lrs)) > 1, "the scheduler should have changed the learning rate"
    assert "initial_lr" in ours.state_dict()["param_groups"][0]


# ------------------------------------------------------------------- state_dict round trips

ROUND_TRIPS = [
    (co.SGD, O.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    (co.Adagrad, O.Adagrad, {"lr": 0.1, "initial_accumulator_value": 0.1}),
    (co.RMSprop, O.RMSprop, {"lr": 0.01, "momentum": 0.9, "centered": True}),
    (co.Adadelta, O.Adadelta, {"weight_decay": 0.1}),
    (co.Adam, O.Adam, {"lr": 0.01, "amsgrad": True}),
    (co.AdamW, O.AdamW, {"lr": 0.01, "amsgrad": True}),
    (co.AdamL2, functools.partial(O.Adam, weight_decay=1e-2), {"lr": 0.01}),
    (co.Adamax, O.Adamax, {"lr": 0.01}),
    (co.NAdam, O.NAdam, {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    (co.RAdam, O.RAdam, {"lr": 0.01, "betas": (0.9, 0.9), "weight_decay": 0.1, "decoupled_weight_decay": True}),
]


def serialize(state_dict: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer)


@pytest.mark.parametrize("direction", ["torch-to-ours", "ours-to-torch"])
@pytest.mark.parametrize("ours_cls, ref_cls, kwargs", ROUND_TRIPS, ids=[r[0].__name__ for r in ROUND_TRIPS])
def test_state_dict_round_trip_mid_run(ours_cls, ref_cls, kwargs, direction: str) -> None:
    """Train 5 steps with one implementation, save, load into the other, train 5 more.

    The resumed run must equal an uninterrupted run of the first implementation.
    """
    kwargs = {"foreach": False, **kwargs}
    first_cls, second_cls = (ref_cls, ours_cls) if direction == "torch-to-ours" else (ours_cls, ref_cls)
    model, _, batches = make_twins(torch.float32, torch.device("cpu"))
    first = first_cls(param_groups(model, kwargs, ours_cls), **kwargs)
    for step in range(5):
        train_step(model, first, batches[step], step)
    saved = serialize(first.state_dict())

    resumed_model = copy.deepcopy(model)
    resumed = second_cls(param_groups(resumed_model, kwargs, ours_cls), **kwargs)
    resumed.load_state_dict(saved)
    assert resumed.state_dict()["param_groups"] == first.state_dict()["param_groups"]
    for step in range(5, 10):
        train_step(model, first, batches[step], step)
        train_step(resumed_model, resumed, batches[step], step)
        assert_same_state(resumed, first, resumed_model, model, context=f"{direction} step {step}")


def test_state_dict_layout_equals_torch() -> None:
    """Same keys in `state`, same order and values in `param_groups`, `step` a CPU float32 tensor."""
    for ours_cls, ref_cls, kwargs in ROUND_TRIPS:
        ours_model, ref_model, batches = make_twins(torch.float32, torch.device("cpu"))
        ours = ours_cls(param_groups(ours_model, kwargs, ours_cls), **kwargs)
        ref = ref_cls(param_groups(ref_model, kwargs, ours_cls), **kwargs)
        for step in range(2):
            train_step(ours_model, ours, batches[step], step)
            train_step(ref_model, ref, batches[step], step)
        ours_sd, ref_sd = ours.state_dict(), ref.state_dict()
        assert [list(g) for g in ours_sd["param_groups"]] == [list(g) for g in ref_sd["param_groups"]]
        assert ours_sd["param_groups"] == ref_sd["param_groups"]
        assert ours_sd["state"].keys() == ref_sd["state"].keys()
        for index, state in ref_sd["state"].items():
            assert list(ours_sd["state"][index]) == list(state), ours_cls.__name__
            if "step" in state:
                assert ours_sd["state"][index]["step"].dtype == torch.float32
                assert ours_sd["state"][index]["step"].device.type == "cpu"


def test_loads_state_of_torch_fused_adam() -> None:
    """A state_dict from torch's fused kernel (float32 step) loads and continues (fused rounds differently)."""
    model, _, batches = make_twins(torch.float32, torch.device("cpu"))
    fused = O.AdamW(model.parameters(), lr=0.01, fused=True)
    for step in range(3):
        train_step(model, fused, batches[step], step)
    resumed_model = copy.deepcopy(model)
    ours = co.AdamW(resumed_model.parameters(), lr=0.01)
    ours.load_state_dict(serialize(fused.state_dict()))
    for step in range(3, 6):
        train_step(model, fused, batches[step], step)
        train_step(resumed_model, ours, batches[step], step)
    for p, q in zip(resumed_model.parameters(), model.parameters()):
        assert_close(p, q, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------ add_param_group

@pytest.mark.parametrize(
    "ours_cls, ref_cls, kwargs",
    [
        (co.SGD, O.SGD, {"lr": 0.1, "momentum": 0.9}),
        (co.Adagrad, O.Adagrad, {"lr": 0.1, "initial_accumulator_value": 0.3}),
        (co.Adam, O.Adam, {"lr": 0.01, "amsgrad": True}),
        (co.NAdam, O.NAdam, {"lr": 0.01}),
    ],
    ids=["SGD", "Adagrad", "Adam", "NAdam"],
)
def test_add_param_group_mid_run(ours_cls, ref_cls, kwargs) -> None:
    ours_model, ref_model, batches = make_twins(torch.float32, torch.device("cpu"))
    groups = lambda m: [{"params": list(m.hidden.parameters()) + list(m.out.parameters())}]  # noqa: E731
    kwargs = {"foreach": False, **kwargs}
    ours = ours_cls(groups(ours_model), **kwargs)
    ref = ref_cls(groups(ref_model), **kwargs)
    for step in range(4):
        train_step(ours_model, ours, batches[step], step)
        train_step(ref_model, ref, batches[step], step)
    # The group's own initial_accumulator_value is ignored by torch's Adagrad; ours agrees.
    ours.add_param_group({"params": [ours_model.gate], "lr": 0.02, "initial_accumulator_value": 5.0})
    ref.add_param_group({"params": [ref_model.gate], "lr": 0.02, "initial_accumulator_value": 5.0})
    for step in range(4, 10):
        train_step(ours_model, ours, batches[step], step)
        train_step(ref_model, ref, batches[step], step)
        assert_same_state(ours, ref, ours_model, ref_model, context=f"step {step}")
    assert ours.state_dict()["param_groups"] == ref.state_dict()["param_groups"]


# ------------------------------------------------------------- signatures and validation

CLASS_NAMES = [
    "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Rprop", "ASGD",
    "SparseAdam", "LBFGS",
]


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_signature_is_torchs(name: str) -> None:
    def shape(cls):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]

    assert shape(getattr(co, name)) == shape(getattr(O, name))


def test_adaml2_is_signed_like_adamw() -> None:
    def shape(cls):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]

    assert shape(co.AdamL2) == shape(O.AdamW)


def _params() -> list[torch.Tensor]:
    return [nn.Parameter(torch.ones(2))]


INVALID = [
    ("SGD", {"lr": -0.1}),
    ("SGD", {"momentum": -0.5}),
    ("SGD", {"weight_decay": -1e-4}),
    ("SGD", {"nesterov": True}),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
    ("SGD", {"lr": torch.tensor([0.1, 0.2])}),
    ("Adagrad", {"lr": -1.0}),
    ("Adagrad", {"lr_decay": -1.0}),
    ("Adagrad", {"weight_decay": -1.0}),
    ("Adagrad", {"initial_accumulator_value": -1.0}),
    ("Adagrad", {"eps": -1.0}),
    ("RMSprop", {"lr": -1.0}),
    ("RMSprop", {"eps": -1.0}),
    ("RMSprop", {"momentum": -1.0}),
    ("RMSprop", {"weight_decay": -1.0}),
    ("RMSprop", {"alpha": -1.0}),
    ("Adadelta", {"lr": -1.0}),
    ("Adadelta", {"rho": 1.5}),
    ("Adadelta", {"eps": -1.0}),
    ("Adadelta", {"weight_decay": -1.0}),
    ("Adam", {"lr": -1.0}),
    ("Adam", {"lr": float("nan")}),
    ("Adam", {"eps": -1.0}),
    ("Adam", {"betas": (1.0, 0.999)}),
    ("Adam", {"betas": (0.9, -0.1)}),
    ("Adam", {"betas": (0, 0.999)}),
    ("Adam", {"weight_decay": -1.0}),
    ("Adam", {"lr": torch.tensor(0.01), "foreach": True}),
    ("Adam", {"betas": (torch.tensor(0.9), torch.tensor([0.99, 0.9]))}),
    ("AdamW", {"lr": -1.0}),
    ("AdamW", {"betas": (0.9, 1.0)}),
    ("AdamW", {"weight_decay": -0.01}),
    ("Adamax", {"lr": -1.0}),
    ("Adamax", {"eps": -1.0}),
    ("Adamax", {"betas": (1.0, 0.9)}),
    ("Adamax", {"weight_decay": -1.0}),
    ("NAdam", {"lr": -1.0}),
    ("NAdam", {"betas": (0.9, 1.0)}),
    ("NAdam", {"weight_decay": -1.0}),
    ("NAdam", {"momentum_decay": -1.0}),
    ("RAdam", {"lr": -1.0}),
    ("RAdam", {"eps": -1.0}),
    ("RAdam", {"betas": (1.0, 0.0)}),
    ("RAdam", {"weight_decay": -1}),
    ("RAdam", {"lr": torch.tensor([0.1, 0.2])}),
]


@pytest.mark.parametrize("name, kwargs", INVALID, ids=[f"{n}-{'-'.join(k)}" for n, k in INVALID])
def test_invalid_arguments_raise_torchs_error(name: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(Exception) as expected:
        getattr(O, name)(_params(), **kwargs)
    with pytest.raises(type(expected.value)) as got:
        getattr(co, name)(_params(), **kwargs)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_empty_or_tensor_params_raise_torchs_error(name: str) -> None:
    for bad in ([], torch.ones(2)):
        with pytest.raises(Exception) as expected:
            getattr(O, name)(bad)
        with pytest.raises(type(expected.value)) as got:
            getattr(co, name)(bad)
        assert str(got.value) == str(expected.value)


@pytest.mark.parametrize(
    "name, flag",
    [("SGD", "fused"), ("Adam", "fused"), ("AdamW", "capturable"), ("RMSprop", "capturable"),
     ("NAdam", "differentiable"), ("Adagrad", "fused"), ("Adadelta", "capturable"), ("Adamax", "differentiable")],
)
def test_torch_only_kernel_flags_are_refused(name: str, flag: str) -> None:
    with pytest.raises(NotImplementedError, match=f"{flag}=True"):
        getattr(co, name)(_params(), **{flag: True})


def test_differentiable_group_loaded_from_state_dict_is_refused_at_step() -> None:
    param = nn.Parameter(torch.ones(2))
    optimizer = co.SGD([param], lr=0.1)
    optimizer.param_groups[0]["differentiable"] = True
    param.grad = torch.ones(2)
    with pytest.raises(NotImplementedError, match="differentiable"):
        optimizer.step()


@pytest.mark.parametrize("name", ["RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "RAdam"])
def test_sparse_gradients_are_refused_with_torchs_message(name: str) -> None:
    messages = []
    for module in (O, co):
        embedding = nn.Embedding(4, 2, sparse=True)
        optimizer = getattr(module, name)(embedding.parameters(), foreach=False)
        embedding(torch.tensor([1])).sum().backward()
        before = embedding.weight.detach().clone()
        with pytest.raises(RuntimeError) as error:
            optimizer.step()
        assert torch.equal(embedding.weight, before)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def test_complex_parameters_are_refused_clearly() -> None:
    z = nn.Parameter(torch.ones(2, dtype=torch.complex64))
    z.grad = torch.ones(2, dtype=torch.complex64)
    with pytest.raises(RuntimeError, match="complex"):
        co.Adam([z]).step()


def test_defaults_match_torch() -> None:
    for name in CLASS_NAMES:
        ours = getattr(co, name)(_params())
        ref = getattr(O, name)(_params())
        assert ours.defaults == ref.defaults, name


def test_subclass_of_torch_optimizer() -> None:
    for name in CLASS_NAMES + ["AdamL2", "AdamAbs", "DecayThenStepSGD", "DecayThenStepAdam"]:
        assert issubclass(getattr(co, name), torch.optim.Optimizer), name


# ------------------------------------------------------- loading state written elsewhere

STEP_COUNTED = [
    (co.Adagrad, O.Adagrad, {"lr": 0.1}),
    (co.RMSprop, O.RMSprop, {"lr": 0.01, "momentum": 0.5}),
    (co.Adadelta, O.Adadelta, {}),
    (co.Adam, O.Adam, {"lr": 0.01}),
    (co.AdamW, O.AdamW, {"lr": 0.01}),
    (co.Adamax, O.Adamax, {"lr": 0.01}),
    (co.NAdam, O.NAdam, {"lr": 0.01}),
    (co.RAdam, O.RAdam, {"lr": 0.01, "betas": (0.9, 0.9)}),
]


def run_twins(ours, ref, ours_model, ref_model, batches, steps: range, context: str = "") -> None:
    for step in steps:
        train_step(ours_model, ours, batches[step], step)
        train_step(ref_model, ref, batches[step], step)
        assert_same_state(ours, ref, ours_model, ref_model, context=f"{context} step {step}")


@pytest.mark.parametrize("ours_cls, ref_cls, kwargs", STEP_COUNTED, ids=[r[0].__name__ for r in STEP_COUNTED])
def test_loads_state_dict_with_plain_number_step(ours_cls, ref_cls, kwargs) -> None:
    """torch's test_load_nontensor_step: a state_dict whose ``step`` is a Python number
    (as older torch wrote it) loads, is turned back into a 0-dim tensor, and training goes on."""
    kwargs = {"foreach": False, **kwargs}
    ours_model, ref_model, batches = make_twins(torch.float32, torch.device("cpu"))
    ours, ref = ours_cls(ours_model.parameters(), **kwargs), ref_cls(ref_model.parameters(), **kwargs)
    run_twins(ours, ref, ours_model, ref_model, batches, range(3))
    for optimizer in (ours, ref):
        state_dict = optimizer.state_dict()
        for state in state_dict["state"].values():
            state["step"] = state["step"].item()
        optimizer.load_state_dict(state_dict)
    assert all(torch.is_tensor(state["step"]) and state["step"].dtype == torch.float32 for state in ours.state.values())
    run_twins(ours, ref, ours_model, ref_model, batches, range(3, 6), context="after loading")


NEWER_FLAGS = ("maximize", "foreach", "differentiable", "capturable", "fused", "decoupled_weight_decay", "amsgrad", "nesterov")


@pytest.mark.parametrize(
    "ours_cls, ref_cls, kwargs",
    [(co.SGD, O.SGD, {"lr": 0.1, "momentum": 0.9})] + STEP_COUNTED,
    ids=["SGD"] + [r[0].__name__ for r in STEP_COUNTED],
)
def test_older_state_dict_gets_torchs_fixed_defaults(ours_cls, ref_cls, kwargs) -> None:
    """A state_dict from before a flag existed lacks that key: torch fills a fixed default
    (maximize=False, foreach=None, ...), not the loading instance's own setting."""
    kwargs = {"foreach": False, "maximize": True, **kwargs}
    ours_model, ref_model, batches = make_twins(torch.float32, torch.device("cpu"))
    ours, ref = ours_cls(ours_model.parameters(), **kwargs), ref_cls(ref_model.parameters(), **kwargs)
    run_twins(ours, ref, ours_model, ref_model, batches, range(2))
    for optimizer in (ours, ref):
        state_dict = optimizer.state_dict()
        for group in state_dict["param_groups"]:
            for flag in NEWER_FLAGS:
                group.pop(flag, None)
        optimizer.load_state_dict(state_dict)
    assert ours.param_groups[0]["maximize"] is False
    assert ours.state_dict()["param_groups"] == ref.state_dict()["param_groups"]
    run_twins(ours, ref, ours_model, ref_model, batches, range(2, 5), context="after loading")


@pytest.mark.parametrize(
    "name, flag",
    [("SGD", "fused"), ("Adam", "fused"), ("AdamW", "capturable"), ("RMSprop", "capturable"),
     ("Adagrad", "fused"), ("Adadelta", "capturable"), ("Adamax", "capturable"), ("NAdam", "capturable"),
     ("RAdam", "capturable")],
)
def test_kernel_flags_inside_a_param_group_are_refused(name: str, flag: str) -> None:
    groups = [{"params": [nn.Parameter(torch.ones(2))]}, {"params": [nn.Parameter(torch.ones(2))], flag: True}]
    with pytest.raises(NotImplementedError, match=f"{flag}=True"):
        getattr(co, name)(groups)
    optimizer = getattr(co, name)([nn.Parameter(torch.ones(2))])
    with pytest.raises(NotImplementedError, match=f"{flag}=True"):
        optimizer.add_param_group({"params": [nn.Parameter(torch.ones(2))], flag: True})
    assert len(optimizer.param_groups) == 1


@pytest.mark.parametrize("cls", [co.SGD, co.Adam, co.AdamW], ids=lambda c: c.__name__)
def test_tensor_lr_keeps_torchs_float32_arithmetic(cls) -> None:
    """A Tensor lr stays a float32 tensor in torch's step-size arithmetic (not a float64 number)."""
    kwargs = {"lr": torch.tensor(0.01), "foreach": False, "weight_decay": 0.1}
    if cls is co.SGD:
        kwargs["momentum"] = 0.9
    ours_model, ref_model, batches = make_twins(torch.float64, torch.device("cpu"))
    ours = cls(param_groups(ours_model, kwargs, cls), **kwargs)
    ref = getattr(O, cls.__name__)(param_groups(ref_model, kwargs, cls), **kwargs)
    run_twins(ours, ref, ours_model, ref_model, batches, range(STEPS))


def test_sgd_without_momentum_keeps_no_state() -> None:
    ours_model, ref_model, batches = make_twins(torch.float32, torch.device("cpu"))
    ours, ref = co.SGD(ours_model.parameters(), lr=0.1), O.SGD(ref_model.parameters(), lr=0.1)
    run_twins(ours, ref, ours_model, ref_model, batches, range(3))
    assert ours.state_dict()["state"] == ref.state_dict()["state"] == {}
    assert len(ours.state) == 0


# -------------------------------------------------------------------- sparse gradients

@pytest.mark.parametrize(
    "name, kwargs",
    [("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}), ("Adagrad", {"lr": 0.1}),
     ("Adagrad", {"lr": 0.1, "lr_decay": 0.1, "maximize": True, "initial_accumulator_value": 0.1})],
    ids=["sgd", "sgd-nesterov", "adagrad", "adagrad-decay-maximize"],
)
def test_sparse_gradients_match_torch(name: str, kwargs: dict[str, Any]) -> None:
    """An embedding with sparse gradients, rows repeated within a batch (uncoalesced), 6 steps."""
    torch.manual_seed(0)
    ours_table, ref_table = nn.Embedding(7, 3, sparse=True), nn.Embedding(7, 3, sparse=True)
    ref_table.load_state_dict(ours_table.state_dict())
    start = ours_table.weight.detach().clone()
    ours = getattr(co, name)(ours_table.parameters(), foreach=False, **kwargs)
    ref = getattr(O, name)(ref_table.parameters(), foreach=False, **kwargs)
    rows = torch.tensor([[0, 2, 2, 5], [1, 1, 6, 0], [3, 3, 3, 4]])
    for step in range(6):
        for table, optimizer in ((ours_table, ours), (ref_table, ref)):
            optimizer.zero_grad()
            (table(rows[step % 3]) ** 2).sum().backward()
            optimizer.step()
        assert_close(ours_table.weight, ref_table.weight, **EXACT)
        for key, value in ref.state[ref_table.weight].items():
            assert_close(ours.state[ours_table.weight][key], value, **EXACT)
    moved = (ours_table.weight != start).any(dim=1)
    assert moved.tolist() == [True] * 7, "every row appears in some batch and should have moved"
