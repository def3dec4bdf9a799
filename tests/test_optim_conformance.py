"""course_lib.optim against torch.optim on torch's own test inputs.

The configurations and the invalid inputs come from PyTorch's optimizer test database,
``torch.testing._internal.common_optimizers.optim_db`` (``optim_inputs_func`` and
``optim_error_inputs_func`` of every optimizer), not from this repository. Each
configuration is crossed with torch's implementation flags as torch's own tests do
(``foreach`` False and True; ``differentiable`` and ``fused`` where torch supports them;
on CUDA the database adds ``capturable`` configurations), in float32 and float64.

A configuration runs for STEPS = 10 steps (LBFGS: 4 steps of up to 20 iterations
each), ours and torch's side by side from the same seed, and after *every* step the returned loss, every parameter and every state entry
(tensors, numbers, LBFGS's lists) must be equal, bit for bit. Torch's state_dict
procedures are part of the run:

* steps 1-6 as configured: state is created (step 1), the bias corrections and
  RAdam's rectification change every step (RAdam's rectified branch starts at step 6
  with the default beta2), and the gate parameter has no gradient on odd steps;
* before step 7 both optimizers reload their own state_dict with every ``step``
  turned into a Python number (torch's ``test_load_nontensor_step``);
* before step 9 both reload a state_dict whose param groups lack the flags the
  optimizer did not have when first released (``not_og_supported_flags``; torch's
  ``test_can_load_older_state_dict``), so both fall back to torch's fixed defaults.

Sparse gradients (SGD, Adagrad: every configuration once more with an embedding whose
lookups repeat rows; SparseAdam: only those) use ``torch.nn.functional.embedding(...,
sparse=True)``, whose gradients are uncoalesced. LBFGS runs each step as up to 20
iterations with its closure. Configurations with ``fused``, ``capturable`` or
``differentiable`` set must be refused with ``NotImplementedError``: they are the
documented unsupported ones. Adafactor and Muon are in the database but not in this
package.

Runtime: about 25 s of CPU time (a few hundred runs of 10 steps on tensors of at
most 12 elements).
"""

from __future__ import annotations

import copy
import inspect
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from conftest import requires_cuda
from torch import nn
from torch.testing import assert_close
from torch.testing._internal.common_optimizers import (
    OptimizerErrorEnum,
    OptimizerInfo,
    optim_db,
)

import course_lib.optim as co

STEPS = 10
LBFGS_STEPS = 4  # each runs up to max_iter = 20 iterations
TORCH_ONLY = ("fused", "capturable", "differentiable")
DTYPES = {"float32": torch.float32, "float64": torch.float64}

INFOS = {info.name: info for info in optim_db}
ROUNDED_DIFFERENTLY = {"Adafactor": lambda kwargs: bool(kwargs.get("foreach"))}
"""Configurations compared within a tolerance, not bit for bit: torch's foreach Adafactor rounds
differently from its own single-tensor path, and course_lib's Adafactor runs that single-tensor
arithmetic on both (its docstring says so)."""


@dataclass(frozen=True)
class Config:
    name: str
    kwargs: dict[str, Any]
    desc: str
    sparse: bool

    @property
    def exact(self) -> bool:
        """Whether ours must equal torch bit for bit (else within assert_close's default tolerance)."""
        return not ROUNDED_DIFFERENTLY.get(self.name, lambda kwargs: False)(self.kwargs)

    @property
    def unsupported(self) -> bool:
        return any(self.kwargs.get(flag) for flag in TORCH_ONLY)

    @property
    def id(self) -> str:
        return f"{self.name}-{'sparse-' if self.sparse else ''}{self.desc}".replace(" ", "_")


def configurations(device: str) -> list[Config]:
    """Every configuration torch's optimizer tests would run on ``device``, with its flags.

    Like torch's ``_get_optim_inputs_including_global_cliquey_kwargs``, but with foreach
    on the CPU too: torch's helper leaves it out there (its ``_foreach`` ops fall back to
    a loop on the CPU), yet the multi-tensor code with its own arithmetic runs all the
    same. An unsupported configuration is listed once, not once per kind of gradient.
    """
    configs = []
    for name, info in INFOS.items():
        impls = [flag for flag in info.supported_impls if flag != "fused" or device in info.supports_fused_on]
        for optim_input in info.optim_inputs_func(device=device):
            base = copy.deepcopy(optim_input.kwargs)
            variants = [({**base, **{flag: False for flag in impls}}, optim_input.desc)]
            variants += [({**variants[0][0], flag: True}, f"{optim_input.desc} & {flag}") for flag in impls]
            for kwargs, desc in variants:
                dense = Config(name, kwargs, desc, sparse=False)
                if not info.only_supports_sparse_grads:
                    configs.append(dense)
                if (info.supports_sparse and not dense.unsupported) or info.only_supports_sparse_grads:
                    configs.append(Config(name, kwargs, desc, sparse=True))
    return configs


# ------------------------------------------------------------------------------ problems


class DenseProblem:
    """A linear layer fitted by least squares, times a 0-dim gate on even steps only."""

    shapes = ((3, 4), (3,), ())

    def __init__(self, dtype: torch.dtype, device: str) -> None:
        generator = torch.Generator().manual_seed(0)
        self.params = [nn.Parameter(torch.randn(shape, generator=generator, dtype=dtype).to(device)) for shape in self.shapes]
        self.batches = [
            (torch.randn(5, 4, generator=generator, dtype=dtype).to(device),
             torch.randn(5, 3, generator=generator, dtype=dtype).to(device))
            for _ in range(STEPS)
        ]

    def loss(self, step: int) -> torch.Tensor:
        weight, bias, gate = self.params
        x, y = self.batches[step]
        prediction = torch.tanh(x @ weight.T + bias)
        if step % 2 == 0:
            prediction = prediction * gate
        return ((prediction - y) ** 2).mean() + 0.01 * (weight**2).sum()


class SparseProblem:
    """Two embedding tables with sparse gradients; rows repeat within a lookup, the second
    table is used on even steps only."""

    def __init__(self, dtype: torch.dtype, device: str) -> None:
        generator = torch.Generator().manual_seed(0)
        self.params = [
            nn.Parameter(torch.randn(6, 2, generator=generator, dtype=dtype).to(device)),
            nn.Parameter(torch.randn(4, 3, generator=generator, dtype=dtype).to(device)),
        ]
        self.rows = [torch.randint(0, 4, (5,), generator=generator).to(device) for _ in range(STEPS)]
        self.targets = [torch.randn(5, 2, generator=generator, dtype=dtype).to(device) for _ in range(STEPS)]

    def loss(self, step: int) -> torch.Tensor:
        first, second = self.params
        rows = self.rows[step]
        looked_up = F.embedding(rows, first, sparse=True)
        loss = ((looked_up - self.targets[step]) ** 2).sum()
        if step % 2 == 0:
            loss = loss + F.embedding(rows[:2], second, sparse=True).pow(2).sum()
        return loss


def param_groups(config: Config, params: list[nn.Parameter]) -> list:
    """Two groups, the second with half the learning rate, where the optimizer allows groups."""
    if not INFOS[config.name].supports_param_groups:
        return params
    lr = config.kwargs.get("lr", inspect.signature(INFOS[config.name].optim_cls).parameters["lr"].default)
    return [{"params": params[:1]}, {"params": params[1:], "lr": lr * 0.5}]


# ---------------------------------------------------------------------------- comparison


def assert_same(ours: Any, theirs: Any, where: str, exact: bool = True) -> None:
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, torch.Tensor), f"{where}: {type(ours).__name__} where torch has a tensor"
        assert ours.dtype == theirs.dtype and ours.device == theirs.device, f"{where}: {ours.dtype} {ours.device}"
        tolerance = {"rtol": 0, "atol": 0} if exact else {}
        assert_close(ours, theirs, **tolerance, equal_nan=True, msg=lambda m: f"{where}: {m}")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), f"{where}: {ours!r} vs {theirs!r}"
        for index, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{index}]", exact)
    elif isinstance(theirs, dict):
        assert list(ours) == list(theirs), f"{where}: keys {list(ours)} vs {list(theirs)}"
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{where}[{key!r}]", exact)
    else:
        assert type(ours) is type(theirs) and ours == theirs, f"{where}: {ours!r} vs {theirs!r}"


def steps_for(config: Config) -> int:
    return LBFGS_STEPS if config.name == "LBFGS" else STEPS


def reload_points(steps: int) -> tuple[int, int]:
    """Before which steps (0-based) the state_dict is reloaded: with plain-number steps, then an older one."""
    return steps - 4, steps - 2


def reload(optimizer: torch.optim.Optimizer, info: OptimizerInfo, nontensor_step: bool) -> None:
    state_dict = copy.deepcopy(optimizer.state_dict())
    if nontensor_step:
        for state in state_dict["state"].values():
            if torch.is_tensor(state.get("step")):
                state["step"] = state["step"].item()
    else:
        for group in state_dict["param_groups"]:
            for flag in info.not_og_supported_flags:
                group.pop(flag, None)
    optimizer.load_state_dict(state_dict)


def run(config: Config, cls: Callable, dtype: torch.dtype, device: str):
    """Yield (loss, params, state) after each of STEPS steps of ``cls`` on the configuration,
    then the param groups of its state_dict."""
    problem = (SparseProblem if config.sparse else DenseProblem)(dtype, device)
    optimizer = cls(param_groups(config, problem.params), **copy.deepcopy(config.kwargs))
    info = INFOS[config.name]
    nontensor_step_reload, older_state_dict_reload = reload_points(steps_for(config))
    for step in range(steps_for(config)):
        if step in (nontensor_step_reload, older_state_dict_reload):
            reload(optimizer, info, nontensor_step=step == nontensor_step_reload)

        def closure(step: int = step) -> torch.Tensor:
            optimizer.zero_grad()
            loss = problem.loss(step)
            loss.backward()
            return loss

        loss = optimizer.step(closure)
        # live objects: the caller compares them before asking for the next step
        yield loss, problem.params, {index: optimizer.state[p] for index, p in enumerate(problem.params) if p in optimizer.state}
    yield None, optimizer.state_dict()["param_groups"], None


def config_params(device: str) -> list:
    return [
        pytest.param(config, dtype, id=f"{config.id}-{dtype_name}")
        for config in configurations(device)
        for dtype_name, dtype in DTYPES.items()
    ]


def check_configuration(config: Config, dtype: torch.dtype, device: str) -> None:
    ours_cls, torch_cls = getattr(co, config.name), INFOS[config.name].optim_cls
    if config.unsupported:
        torch_cls([nn.Parameter(torch.ones(2, dtype=dtype, device=device))], **config.kwargs)
        with pytest.raises(NotImplementedError, match=r"does not implement (fused|capturable|differentiable)=True"):
            ours_cls([nn.Parameter(torch.ones(2, dtype=dtype, device=device))], **config.kwargs)
        return
    start = (SparseProblem if config.sparse else DenseProblem)(dtype, device).params[0].detach()
    moved = False
    our_run, their_run = run(config, ours_cls, dtype, device), run(config, torch_cls, dtype, device)
    steps = steps_for(config)
    for step in range(steps + 1):
        try:
            theirs = next(their_run)
        except Exception as error:  # noqa: BLE001 - torch refuses this configuration: so must we
            with pytest.raises(type(error)) as ours_error:
                next(our_run)
            assert str(ours_error.value) == str(error)
            return
        ours = next(our_run)
        if step == steps:
            assert_same(ours[1], theirs[1], "param_groups")
            break
        (our_loss, our_params, our_state), (their_loss, their_params, their_state) = ours, theirs
        assert_same(our_loss, their_loss, f"step {step + 1}: loss", config.exact)
        assert_same(our_params, their_params, f"step {step + 1}: params", config.exact)
        assert_same(our_state, their_state, f"step {step + 1}: state", config.exact)
        moved = moved or not torch.equal(our_params[0], start)
    assert moved, "the first parameter should have moved"


@pytest.mark.parametrize("config, dtype", config_params("cpu"))
def test_matches_torch_on_its_own_configurations(config: Config, dtype: torch.dtype) -> None:
    check_configuration(config, dtype, "cpu")


@requires_cuda
@pytest.mark.gpu
def test_matches_torch_on_its_own_cuda_configurations() -> None:
    """The same on CUDA, where the database adds capturable configurations (one test: on a
    machine without a GPU it is a single skip, not hundreds)."""
    failures = []
    for config in configurations("cuda"):
        for dtype_name, dtype in DTYPES.items():
            try:
                check_configuration(config, dtype, "cuda")
            except AssertionError as error:
                failures.append(f"{config.id}-{dtype_name}: {str(error).splitlines()[0]}")
    assert not failures, "\n".join(failures)


# --------------------------------------------------------------------------- error inputs


def error_params() -> list:
    cases = []
    for name, info in INFOS.items():
        for index, error_input in enumerate(info.optim_error_inputs_func(device="cpu", dtype=torch.float32)):
            cases.append(pytest.param(name, index, id=f"{name}-{error_input.optimizer_error_input.desc}"))
    return cases


def raised(make: Callable[[], Any], on_step: bool) -> BaseException | Warning:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            optimizer = make()
            if on_step:
                optimizer.step()
        except Exception as error:  # noqa: BLE001 - the exception is what is compared
            return error
    relevant = [w.message for w in caught if not issubclass(w.category, DeprecationWarning)]
    assert relevant, "neither an exception nor a warning"
    return relevant[0]


@pytest.mark.parametrize("name, index", error_params())
def test_error_inputs_raise_torchs_exception_and_message(name: str, index: int) -> None:
    info = INFOS[name]
    # rebuilt for each side: some inputs carry parameters with gradients
    error_input = info.optim_error_inputs_func(device="cpu", dtype=torch.float32)[index]
    optim_input = error_input.optimizer_error_input
    on_step = error_input.error_on == OptimizerErrorEnum.STEP_ERROR
    theirs = raised(lambda: info.optim_cls(optim_input.params, **optim_input.kwargs), on_step)
    error_input = info.optim_error_inputs_func(device="cpu", dtype=torch.float32)[index]
    optim_input = error_input.optimizer_error_input
    ours = raised(lambda: getattr(co, name)(optim_input.params, **optim_input.kwargs), on_step)
    assert isinstance(theirs, error_input.error_type) and re.search(error_input.error_regex, str(theirs))
    assert type(ours) is type(theirs)
    assert str(ours) == str(theirs)


# ------------------------------------------------------------------------- the counts


def test_package_docstring_states_the_counts() -> None:
    """The table in course_lib.optim's docstring gives, per optimizer, the configurations
    of this file that are bit-exact / within a tolerance / unsupported (both dtypes)."""
    counts: dict[str, list[int]] = {name: [0, 0, 0] for name in INFOS}
    for config in configurations("cpu"):
        counts[config.name][2 if config.unsupported else 0 if config.exact else 1] += len(DTYPES)
    documented = {}
    for line in co.__doc__.splitlines():
        match = re.match(r"``(\w+)``\s+``\w+``\s+(\d+) / (\d+) / (\d+)\b", line)
        if match:
            documented[match[1]] = [int(match[2]), int(match[3]), int(match[4])]
    assert documented == counts
