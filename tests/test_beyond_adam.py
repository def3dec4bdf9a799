"""Chapter 9's optimizers against their references, step by step.

Every row of ``ROWS`` is (ours, reference, kwargs, which parameters, description). Both
optimizers train twin copies of a small network on the same batches for ``STEPS``
steps, and after *every* step the parameters and every state tensor are compared:

* against ``torch.optim.Adafactor`` and ``torch.optim.Muon`` exactly (our rules perform
  torch's single-tensor operations in torch's order, bfloat16 Newton-Schulz included);
* against the ``lion-pytorch`` and ``schedulefree`` packages to float tolerance (they
  agree bit for bit today, but they are other projects and may reorder their arithmetic).

The network has a 6x5 and a 5x3 layer with biases, a 3-D tensor (Adafactor factors its
last two dimensions, batched over the first) and a 1x3 gate that joins the forward pass
on even steps only, so five of the ten steps see a parameter whose ``.grad`` is None.
Muon takes the 2-D tensors only. STEPS = 10: Adafactor's :math:`\\hat\\beta_{2,t}` moves
from 0 to 0.84 and its relative step from ``lr`` to :math:`1/\\sqrt{10}` when ``lr`` is
large, the update clipping acts on the first steps and not later, and schedule-free's
warm-up and averaging weights change at every step.
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
from course_lib import landscapes, trajectories
from course_lib.optimizer_state import state_memory

lion_pytorch = pytest.importorskip("lion_pytorch", reason="lion-pytorch is a test dependency: pip install -e '.[dev]'")
schedulefree = pytest.importorskip("schedulefree", reason="schedulefree is a test dependency: pip install -e '.[dev]'")

STEPS = 10
EXACT = {"rtol": 0.0, "atol": 0.0}
O = torch.optim


class Net(nn.Module):
    """Two linear layers, a 3-D tensor and a 1x3 gate used on even steps only."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(6, 5)
        self.out = nn.Linear(5, 3)
        self.mix = nn.Parameter(0.3 * torch.randn(2, 3, 5))
        self.gate = nn.Parameter(torch.linspace(0.5, 1.5, 3).reshape(1, 3))

    def forward(self, x: torch.Tensor, use_gate: bool) -> torch.Tensor:
        h = torch.tanh(self.hidden(x))
        y = self.out(h) + (self.mix @ h.T).sum(0).T
        return y * self.gate if use_gate else y


def make_twins(dtype: torch.dtype) -> tuple[Net, Net, list]:
    torch.manual_seed(0)
    model = Net().to(dtype=dtype)
    generator = torch.Generator().manual_seed(1)
    batches = [(torch.randn(8, 6, generator=generator, dtype=dtype), torch.randn(8, 3, generator=generator, dtype=dtype))
               for _ in range(STEPS)]
    return model, copy.deepcopy(model), batches


def train_step(model: Net, optimizer: torch.optim.Optimizer, batch: tuple, step: int) -> torch.Tensor:
    optimizer.zero_grad()
    x, y = batch
    loss = ((model(x, use_gate=step % 2 == 0) - y) ** 2).mean()
    loss.backward()
    optimizer.step()
    return loss.detach()


def groups(model: Net, kwargs: dict[str, Any], matrices_only: bool, default_lr: float) -> list[dict[str, Any]]:
    """Group 0: the hidden layer with half the lr (and no decay); group 1: the rest."""
    keep = (lambda p: p.dim() == 2) if matrices_only else (lambda p: True)
    first = {"params": [p for p in model.hidden.parameters() if keep(p)], "lr": 0.5 * kwargs.get("lr", default_lr)}
    if "weight_decay" in kwargs:
        first["weight_decay"] = 0.0
    rest = [model.out.weight, model.out.bias, model.mix, model.gate]
    return [first, {"params": [p for p in rest if keep(p)]}]


def lr_default(cls: Callable) -> float:
    while isinstance(cls, functools.partial):
        cls = cls.func
    return inspect.signature(cls).parameters["lr"].default


def assert_same(ours, ref, ours_model, ref_model, tolerance: dict[str, float], context: str) -> None:
    for (name, p), q in zip(ours_model.named_parameters(), ref_model.parameters()):
        assert_close(p, q, **tolerance, msg=lambda m: f"{context} {name}: {m}")
        mine, theirs = ours.state.get(p, {}), ref.state.get(q, {})
        assert mine.keys() == theirs.keys(), f"{context} {name}: state keys {list(mine)} vs {list(theirs)}"
        for key in theirs:
            assert_close(mine[key], theirs[key], **tolerance, msg=lambda m: f"{context} {name}[{key}]: {m}")


@dataclass
class Row:
    ours: Callable
    reference: Callable
    kwargs: dict[str, Any]
    description: str
    matrices_only: bool = False  # Muon
    exact: bool = True
    train_mode: bool = False  # schedule-free: optimizer.train() before stepping
    ignore_group_keys: tuple[str, ...] = ()

    def param(self):
        return pytest.param(self, id=self.description)


TORCH_SINGLE = {"foreach": False}
ROWS = [
    Row(co.Adafactor, functools.partial(O.Adafactor, **TORCH_SINGLE), {}, "adafactor-defaults",
        ignore_group_keys=("foreach",)),
    Row(co.Adafactor, functools.partial(O.Adafactor, **TORCH_SINGLE), {"lr": 0.05, "weight_decay": 0.1},
        "adafactor-lr-decay", ignore_group_keys=("foreach",)),
    Row(co.Adafactor, functools.partial(O.Adafactor, **TORCH_SINGLE), {"lr": 1.0, "d": 2.0, "beta2_decay": -0.5},
        "adafactor-relative-step-1-over-sqrt-t", ignore_group_keys=("foreach",)),
    Row(co.Adafactor, functools.partial(O.Adafactor, **TORCH_SINGLE),
        {"lr": 0.02, "eps": (1e-20, 1e-2), "maximize": True}, "adafactor-eps-maximize", ignore_group_keys=("foreach",)),
    Row(co.Muon, O.Muon, {"lr": 0.02}, "muon-nesterov", matrices_only=True),
    Row(co.Muon, O.Muon, {"lr": 0.02, "nesterov": False, "weight_decay": 0.0}, "muon-plain-momentum",
        matrices_only=True),
    Row(co.Muon, O.Muon, {"lr": 0.01, "adjust_lr_fn": "match_rms_adamw", "momentum": 0.9}, "muon-match-rms-adamw",
        matrices_only=True),
    Row(co.Muon, O.Muon, {"lr": 0.05, "ns_steps": 12, "ns_coefficients": (1.5, -0.5, 0.0), "eps": 1e-4},
        "muon-cubic-newton-schulz", matrices_only=True),
    Row(co.Lion, lion_pytorch.Lion, {}, "lion-defaults", exact=False),
    Row(co.Lion, lion_pytorch.Lion, {"lr": 3e-3, "weight_decay": 0.5, "betas": (0.95, 0.98)}, "lion-decay-betas",
        exact=False),
    Row(co.AdamWScheduleFree, functools.partial(schedulefree.AdamWScheduleFree, foreach=False), {"lr": 0.01},
        "schedule-free-plain", exact=False, train_mode=True, ignore_group_keys=("foreach",)),
    Row(co.AdamWScheduleFree, schedulefree.AdamWScheduleFree,
        {"lr": 0.02, "weight_decay": 0.1, "warmup_steps": 4, "betas": (0.8, 0.99)},
        "schedule-free-warmup-decay-foreach", exact=False, train_mode=True, ignore_group_keys=("foreach",)),
    Row(co.AdamWScheduleFree, functools.partial(schedulefree.AdamWScheduleFree, foreach=False),
        {"lr": 0.02, "r": 1.0, "weight_lr_power": 0.0, "warmup_steps": 3}, "schedule-free-polynomial-weights",
        exact=False, train_mode=True, ignore_group_keys=("foreach",)),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("row", [row.param() for row in ROWS])
def test_matches_reference_every_step(row: Row, dtype: torch.dtype) -> None:
    ours_model, ref_model, batches = make_twins(dtype)
    lr = lr_default(row.ours)
    ours = row.ours(groups(ours_model, row.kwargs, row.matrices_only, lr), **row.kwargs)
    ref = row.reference(groups(ref_model, row.kwargs, row.matrices_only, lr), **row.kwargs)
    if row.train_mode:
        ours.train()
        ref.train()
    tolerance = EXACT if row.exact else {}
    for step in range(STEPS):
        loss_ours = train_step(ours_model, ours, batches[step], step)
        loss_ref = train_step(ref_model, ref, batches[step], step)
        assert_close(loss_ours, loss_ref, **tolerance)
        assert_same(ours, ref, ours_model, ref_model, tolerance, f"{row.description} step {step}")
    if row.train_mode:
        ours.eval()
        ref.eval()
        assert_same(ours, ref, ours_model, ref_model, tolerance, f"{row.description} after eval()")
    strip = lambda gs: [{k: v for k, v in g.items() if k not in row.ignore_group_keys and k != "params"}  # noqa: E731
                        for g in gs]
    assert strip(ours.param_groups) == strip(ref.param_groups)
    initial = make_twins(dtype)[0]
    trained = [name for (name, p), q in zip(ours_model.named_parameters(), initial.parameters()) if not torch.equal(p, q)]
    expected = [name for name, p in initial.named_parameters() if p.dim() == 2 or not row.matrices_only]
    assert trained == expected, "every parameter the optimizer holds, the gate included, must have moved"


def test_adafactor_foreach_flag_runs_torchs_single_tensor_arithmetic() -> None:
    """Ours with foreach=True equals torch's foreach=False exactly; torch's own foreach=True
    rounds differently in the last bits (why the rows above pin torch to foreach=False)."""
    ours_model, single_model, batches = make_twins(torch.float32)
    foreach_model = copy.deepcopy(single_model)
    ours = co.Adafactor(ours_model.parameters(), lr=0.05, foreach=True)
    single = O.Adafactor(single_model.parameters(), lr=0.05, foreach=False)
    foreach = O.Adafactor(foreach_model.parameters(), lr=0.05, foreach=True)
    for step in range(STEPS):
        for model, optimizer in ((ours_model, ours), (single_model, single), (foreach_model, foreach)):
            train_step(model, optimizer, batches[step], step)
        assert_same(ours, single, ours_model, single_model, EXACT, f"single step {step}")
        assert_same(ours, foreach, ours_model, foreach_model, {"rtol": 1e-5, "atol": 1e-6}, f"foreach step {step}")
    assert ours.param_groups[0]["foreach"] is True


# ------------------------------------------------------------------- state_dict round trips

ROUND_TRIPS = [
    (co.Adafactor, functools.partial(O.Adafactor, foreach=False), {"lr": 0.05, "weight_decay": 0.1}, False),
    (co.Muon, O.Muon, {"lr": 0.02}, True),
    (co.Lion, lion_pytorch.Lion, {"lr": 1e-2}, False),
    (co.AdamWScheduleFree, functools.partial(schedulefree.AdamWScheduleFree, foreach=False), {"lr": 0.01}, False),
]


def serialize(state_dict: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("direction", ["reference-to-ours", "ours-to-reference"])
@pytest.mark.parametrize("ours_cls, ref_cls, kwargs, matrices_only", ROUND_TRIPS,
                         ids=["Adafactor", "Muon", "Lion", "AdamWScheduleFree"])
def test_state_dict_round_trip_mid_run(ours_cls, ref_cls, kwargs, matrices_only, direction) -> None:
    """5 steps with one implementation, save, load into the other, 5 more: as if never interrupted."""
    first_cls, second_cls = (ref_cls, ours_cls) if direction == "reference-to-ours" else (ours_cls, ref_cls)
    lr = lr_default(ours_cls)
    model, _, batches = make_twins(torch.float64)
    first = first_cls(groups(model, kwargs, matrices_only, lr), **kwargs)
    sf = hasattr(first, "train")
    if sf:
        first.train()
    for step in range(5):
        train_step(model, first, batches[step], step)
    if sf:
        first.eval()  # the package's advice: save in eval mode
    saved = serialize(first.state_dict())
    resumed_model = copy.deepcopy(model)
    resumed = second_cls(groups(resumed_model, kwargs, matrices_only, lr), **kwargs)
    resumed.load_state_dict(saved)
    if sf:
        first.train()
        resumed.train()
    for step in range(5, STEPS):
        train_step(model, first, batches[step], step)
        train_step(resumed_model, resumed, batches[step], step)
        assert_same(resumed, first, resumed_model, model, {"rtol": 1e-12, "atol": 1e-14}, f"{direction} step {step}")


# ------------------------------------------------------------- signatures and validation


def _signature(cls, drop=()):
    return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values() if p.name not in drop]


def test_signatures_and_defaults_are_the_references() -> None:
    for name in ("Adafactor", "Muon"):
        assert _signature(getattr(co, name)) == _signature(getattr(O, name)), name
        params = [nn.Parameter(torch.ones(2, 2))]
        assert getattr(co, name)(params).defaults == getattr(O, name)(params).defaults, name
    # lion-pytorch's kernel switches (triton, lr-independent decay) are left out
    assert _signature(co.Lion) == _signature(lion_pytorch.Lion, drop=("use_triton", "decoupled_weight_decay"))
    # schedulefree's foreach default is "whatever torch has"; ours runs the per-tensor rule
    assert _signature(co.AdamWScheduleFree, drop=("foreach",)) == _signature(schedulefree.AdamWScheduleFree,
                                                                            drop=("foreach",))
    params = [nn.Parameter(torch.ones(2))]
    ours, theirs = co.AdamWScheduleFree(params).defaults, schedulefree.AdamWScheduleFree(params).defaults
    assert list(ours) == list(theirs)
    assert {k: v for k, v in ours.items() if k != "foreach"} == {k: v for k, v in theirs.items() if k != "foreach"}


INVALID = [
    ("Adafactor", {"lr": -1.0}),
    ("Adafactor", {"beta2_decay": 0.5}),
    ("Adafactor", {"eps": (-1.0, 1e-3)}),
    ("Adafactor", {"eps": (None, -1.0)}),
    ("Adafactor", {"d": 0.5}),
    ("Adafactor", {"weight_decay": -0.1}),
    ("Adafactor", {"lr": torch.tensor([0.1, 0.2])}),
    ("Muon", {"lr": -1.0}),
    ("Muon", {"momentum": -0.5}),
    ("Muon", {"weight_decay": -0.1}),
    ("Muon", {"adjust_lr_fn": "spectral"}),
]


@pytest.mark.parametrize("name, kwargs", INVALID, ids=[f"{n}-{'-'.join(k)}" for n, k in INVALID])
def test_invalid_arguments_raise_torchs_error(name: str, kwargs: dict[str, Any]) -> None:
    params = [nn.Parameter(torch.ones(2, 2))]
    with pytest.raises(Exception) as expected:
        getattr(O, name)(params, **kwargs)
    with pytest.raises(type(expected.value)) as got:
        getattr(co, name)(params, **kwargs)
    assert str(got.value) == str(expected.value)


def test_muon_refuses_what_is_not_a_matrix_with_torchs_message() -> None:
    for bad in ([nn.Parameter(torch.ones(3))], [nn.Parameter(torch.ones(2, 3, 4))]):
        with pytest.raises(ValueError) as expected:
            O.Muon(bad)
        with pytest.raises(ValueError) as got:
            co.Muon(bad)
        assert str(got.value) == str(expected.value)


def test_schedule_free_refuses_to_step_in_eval_mode() -> None:
    w = nn.Parameter(torch.ones(3))
    optimizer = co.AdamWScheduleFree([w])
    w.grad = torch.ones(3)
    with pytest.raises(RuntimeError, match="train mode"):
        optimizer.step()
    optimizer.train()
    optimizer.step()
    assert optimizer.param_groups[0]["k"] == 1


# ----------------------------------------------------------------- the rules on their own

SHAPES = [(4, 6), (6, 4), (5, 5), (1, 7)]


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{r}x{c}" for r, c in SHAPES])
def test_newton_schulz_is_torchs_and_equalizes_the_singular_values(shape) -> None:
    from torch.optim._muon import _zeropower_via_newtonschulz

    generator = torch.Generator().manual_seed(sum(shape))
    # singular values spread over three orders of magnitude
    u, _ = torch.linalg.qr(torch.randn(shape[0], shape[0], generator=generator))
    v, _ = torch.linalg.qr(torch.randn(shape[1], shape[1], generator=generator))
    k = min(shape)
    sigma = 3.0 * torch.logspace(0, -2, k)  # singular values 3 ... 0.03
    matrix = (u[:, :k] * sigma) @ v[:, :k].T
    ours = co.newton_schulz(matrix.clone())
    theirs = _zeropower_via_newtonschulz(matrix.clone(), co.NEWTON_SCHULZ_COEFFICIENTS, 5, 1e-7)
    assert ours.dtype == torch.bfloat16 and torch.equal(ours, theirs)
    after = torch.linalg.svdvals(ours.float())
    # the quintic's band after 5 steps (torch's docstring says "about (0.5, 1.5)")
    assert after.min() > 0.65 and after.max() < 1.16, after
    # and the singular vectors are kept: U^T O V is (nearly) diagonal
    rotated = u[:, :k].T @ ours.float() @ v[:, :k]
    off_diagonal = rotated - torch.diag(torch.diagonal(rotated))
    assert off_diagonal.abs().max() < 0.05


def test_newton_schulz_with_the_cubic_iteration_converges_to_u_v_transpose() -> None:
    """(a, b, c) = (1.5, -0.5, 0) is the classical Newton-Schulz iteration: it converges to U V^T."""
    generator = torch.Generator().manual_seed(0)
    matrix = torch.randn(5, 8, generator=generator)
    u, _, vh = torch.linalg.svd(matrix, full_matrices=False)
    result = co.newton_schulz(matrix, steps=40, coefficients=(1.5, -0.5, 0.0)).float()
    assert_close(result, u @ vh, atol=0.03, rtol=0)  # bfloat16 arithmetic: two decimal digits


def test_newton_schulz_of_zero_is_zero_thanks_to_eps() -> None:
    assert torch.equal(co.newton_schulz(torch.zeros(3, 4)).float(), torch.zeros(3, 4))


def test_factored_second_moment_keeps_row_and_column_means_and_is_exact_for_rank_one() -> None:
    generator = torch.Generator().manual_seed(0)
    squares = torch.rand(5, 7, generator=generator, dtype=torch.float64) ** 2
    rows, cols = squares.mean(-1, keepdim=True), squares.mean(-2, keepdim=True)
    estimate = co.factored_second_moment(rows, cols, eps1=1e-30)
    assert_close(estimate.mean(-1, keepdim=True), rows)
    assert_close(estimate.mean(-2, keepdim=True), cols)
    rank_one = torch.rand(5, 1, dtype=torch.float64) @ torch.rand(1, 7, dtype=torch.float64)
    assert_close(co.factored_second_moment(rank_one.mean(-1, keepdim=True), rank_one.mean(-2, keepdim=True), 1e-30),
                 rank_one)


def test_adafactor_state_is_n_plus_m_numbers_for_an_n_by_m_matrix() -> None:
    weight, bias = nn.Parameter(torch.randn(64, 32)), nn.Parameter(torch.randn(64))
    optimizer = co.Adafactor([weight, bias])
    (weight.sum() + bias.sum()).backward()
    optimizer.step()
    memory = state_memory(optimizer)
    assert memory.state_elements == (64 + 32) + 64  # row and column statistics; the vector unfactored
    assert memory.tensors_per_parameter == 0.5  # only the bias keeps a tensor shaped like itself
    adam = torch.optim.Adam([weight, bias])
    adam.step()
    assert state_memory(adam).state_elements == 2 * (64 * 32 + 64)


def test_adafactor_update_clipping_caps_the_rms_of_the_step() -> None:
    """At step 1 (beta2_hat = 0) V is built from g^2 alone; for a rank-two g^2 the rank-one estimate
    misses, RMS(U) = 1.25 > d = 1, and the step is scaled back to an RMS of exactly d."""
    g = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    w, state = torch.full((2, 2), 2.0, dtype=torch.float64), {}
    co.adafactor_update(w, g, state, lr=0.01, eps1=1e-30)
    step = (torch.full((2, 2), 2.0, dtype=torch.float64) - w) / (0.01 * 2.0)  # alpha_1 = RMS(w) * min(lr, 1)
    assert_close(step.pow(2).mean().sqrt(), torch.tensor(1.0, dtype=torch.float64))
    unclipped = g / co.factored_second_moment(state["row_var"], state["col_var"], 1e-30).sqrt()
    assert_close(unclipped.pow(2).mean().sqrt(), torch.tensor(1.25, dtype=torch.float64))


def test_lion_moves_every_coordinate_by_exactly_lr_in_the_direction_of_the_interpolation() -> None:
    w, state = torch.zeros(4, dtype=torch.float64), {"exp_avg": torch.tensor([1.0, 1.0, -1.0, 0.0], dtype=torch.float64)}
    g = torch.tensor([-5.0, -20.0, 3.0, 1e-9], dtype=torch.float64)
    co.lion_update(w, g, state, lr=0.1, beta1=0.9, beta2=0.99)
    # c = 0.9 m + 0.1 g = (0.4, -1.1, -0.6, 1e-10): the first coordinate follows m against g
    assert_close(w, torch.tensor([-0.1, 0.1, 0.1, -0.1], dtype=torch.float64), **EXACT)
    assert_close(state["exp_avg"], torch.tensor([0.94, 0.79, -0.96, 1e-11], dtype=torch.float64))


def test_schedule_free_in_place_form_is_the_papers_three_sequences() -> None:
    """y, z, x by hand (Defazio et al. 2024, Algorithm 1 with c = 1/(t+1)) against the stored-y form."""
    generator = torch.Generator().manual_seed(0)
    target = torch.randn(6, generator=generator, dtype=torch.float64)
    curvature = torch.logspace(-1, 1, 6, dtype=torch.float64)
    gradient = lambda p: curvature * (p - target)  # noqa: E731
    lr, beta1, beta2, eps, decay = 0.1, 0.9, 0.999, 1e-8, 0.05
    start = torch.zeros(6, dtype=torch.float64)
    z, x, v = start.clone(), start.clone(), torch.zeros(6, dtype=torch.float64)
    param = nn.Parameter(start.clone())
    optimizer = co.AdamWScheduleFree([param], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=decay)
    optimizer.train()
    for t in range(1, 31):
        y = (1 - beta1) * z + beta1 * x
        g = gradient(y)
        v = beta2 * v + (1 - beta2) * g * g
        z = z - lr * (g / ((v / (1 - beta2**t)).sqrt() + eps) + decay * y)
        x = (1 - 1 / t) * x + (1 / t) * z
        param.grad = gradient(param.detach())
        optimizer.step()
        assert_close(param.detach(), (1 - beta1) * z + beta1 * x)  # train mode holds y_{t+1}
    optimizer.eval()
    assert_close(param.detach(), x)  # eval mode holds the average x
    optimizer.train()
    assert_close(param.detach(), (1 - beta1) * z + beta1 * x)


def test_muon_param_groups_keep_the_output_layer_embeddings_and_vectors_for_adamw() -> None:
    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(10, 4)
            self.body = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 8))
            self.head = nn.Linear(8, 3)

    model = Model()
    muon, adamw = co.muon_param_groups(model)
    names = {id(p): n for n, p in model.named_parameters()}
    assert [names[id(p)] for p in muon] == ["body.0.weight", "body.3.weight"]
    assert sorted(names[id(p)] for p in adamw) == sorted(set(names.values()) - {"body.0.weight", "body.3.weight"})
    co.Muon(muon)  # all 2-D: torch's check passes


# ------------------------------------------------------------------ on the 2-D landscapes


def test_trajectory_of_muon_is_normalized_momentum_on_a_one_row_matrix() -> None:
    """A 1 x 2 matrix has one singular value: Newton-Schulz divides it by its norm and maps the
    singular value 1 through the quintic five times, to p(p(p(p(p(1))))) = 0.696."""
    a, b, c = co.NEWTON_SCHULZ_COEFFICIENTS
    length = 1.0
    for _ in range(5):
        length = a * length + b * length**3 + c * length**5
    bowl = landscapes.Quadratic(condition=10)
    run = trajectories.run(O.Muon, bowl, lr=0.05, momentum=0.9, nesterov=False, weight_decay=0.0, steps=40)
    p, buffer = torch.tensor(bowl.start, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    for t in range(40):
        buffer = 0.9 * buffer + 0.1 * bowl.gradient(p)
        p = p - 0.05 * length * buffer / buffer.norm()
        assert_close(run.path[t + 1], p, atol=1e-3 * (t + 1), rtol=0)  # bfloat16: ~3 digits a step
    steps = (run.path[1:] - run.path[:-1]).norm(dim=1)
    assert_close(steps, torch.full_like(steps, 0.05 * length), atol=0.05 * 0.05, rtol=0)  # one length for all


def test_trajectory_of_schedule_free_records_the_evaluation_point() -> None:
    bowl = landscapes.Quadratic(condition=10)
    run = trajectories.run(co.AdamWScheduleFree, bowl, lr=0.1, steps=25)
    param = nn.Parameter(torch.tensor(bowl.start, dtype=torch.float64))
    optimizer = co.AdamWScheduleFree([param], lr=0.1)
    optimizer.train()
    for t in range(25):  # the same run without switching to eval in between
        param.grad = bowl.gradient(param.detach())
        optimizer.step()
        z = optimizer.state[param]["z"]
        x = (param.detach() - 0.1 * z) / 0.9
        assert_close(run.path[t + 1], x)
    assert not torch.allclose(run.path[-1], param.detach())  # y is not what the path shows


def test_explorer_runs_every_optimizer_of_the_chapter_9_menu() -> None:
    pytest.importorskip("ipywidgets")
    from course_lib.widgets import TrajectoryExplorer, modern_optimizers

    explorer = TrajectoryExplorer("linear regression", modern_optimizers(), lr=0.05, steps=60)
    for name in modern_optimizers():
        explorer.controls["optimizer"].value = name
        assert explorer.error is None, f"{name}: {explorer.error}"
        assert not explorer.trajectory.diverged and explorer.trajectory.optimizer == modern_optimizers()[name].__name__
        # Adafactor's eps is a pair: the float slider must leave it alone
        assert explorer.controls["eps"].disabled == (name in ("Adafactor", "Lion"))
    explorer.controls["optimizer"].value = "Muon"
    assert explorer.controls["momentum"].disabled is False
    assert explorer.hyperparameters()["momentum"] == explorer.controls["momentum"].value


def test_lion_quiz_varies_one_hyperparameter_of_course_lib_lion() -> None:
    from course_lib.quiz import TrajectoryQuiz

    quizzes = [TrajectoryQuiz(seed=seed, optimizer="lion") for seed in range(3)]
    assert [q.answer for q in quizzes] == ["lr", "beta1", "weight_decay"]
    for quiz in quizzes:
        assert quiz.optimizer_cls is co.Lion
        assert quiz.check(quiz.answer).correct and not quiz.check("lr" if quiz.answer != "lr" else "beta1").correct
    # the giveaway of the lr quiz: every step moves each coordinate by exactly lr
    for run, lr in zip(quizzes[0].trajectories, quizzes[0].values):
        moves = (run.path[1:] - run.path[:-1]).abs()
        assert_close(moves, torch.full_like(moves, lr), rtol=1e-9, atol=1e-12)
    # the giveaway of the decay quiz: with wd = 1 the weight ends at the bound 1/wd
    assert abs(quizzes[2].trajectories[-1].final[0].item() - 1.0) < 0.05
