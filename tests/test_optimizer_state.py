"""course_lib.optimizer_state: optimizer state measured from optimizer.state, and save/resume runs."""

from __future__ import annotations

import pytest
import torch

from course_lib.optimizer_state import state_memory, trace_optimizer
from course_lib.models import mlp

# (description, optimizer factory, tensors per parameter, state numbers per parameter number)
MEMORY_CASES = [
    ("plain SGD keeps nothing", lambda ps: torch.optim.SGD(ps, lr=0.1), 0, 0),
    ("SGD with momentum keeps a buffer", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9), 1, 1),
    ("Adagrad keeps the sum of squares", lambda ps: torch.optim.Adagrad(ps), 1, 1),
    ("RMSprop keeps the square average", lambda ps: torch.optim.RMSprop(ps), 1, 1),
    ("centered RMSprop with momentum keeps three", lambda ps: torch.optim.RMSprop(ps, momentum=0.9, centered=True), 3, 3),
    ("Adadelta keeps two averages", lambda ps: torch.optim.Adadelta(ps), 2, 2),
    ("Adam keeps two moments", lambda ps: torch.optim.Adam(ps), 2, 2),
    ("AMSGrad adds the maximum", lambda ps: torch.optim.Adam(ps, amsgrad=True), 3, 3),
    ("AdamW keeps what Adam keeps", lambda ps: torch.optim.AdamW(ps), 2, 2),
]


@pytest.mark.parametrize("description,make,tensors,ratio", MEMORY_CASES, ids=[c[0] for c in MEMORY_CASES])
def test_state_memory_counts_tensors_shaped_like_the_parameters(description, make, tensors, ratio):
    model = mlp([4, 6, 1], seed=0)
    optimizer = make(model.parameters())
    model(torch.randn(8, 4)).pow(2).mean().backward()
    optimizer.step()
    memory = state_memory(optimizer)
    assert memory.tensors_per_parameter == tensors
    assert memory.elements_per_parameter_element == ratio
    n = sum(p.numel() for p in model.parameters())
    assert memory.state_elements == tensors * n
    # bytes: the shaped tensors in float32, plus Adam-style step counters (0-dim tensors)
    counters = sum(v.numel() * v.element_size() for s in optimizer.state.values() for k, v in s.items()
                   if isinstance(v, torch.Tensor) and v.dim() == 0)
    assert memory.state_bytes == 4 * tensors * n + counters


def test_state_memory_before_any_step_is_empty_and_skips_frozen_parameters():
    model = mlp([3, 2], seed=0)
    optimizer = torch.optim.Adam(model.parameters())
    assert state_memory(optimizer).parameter_elements == 0
    model[0].bias.requires_grad_(False)
    model(torch.randn(5, 3)).sum().backward()
    optimizer.step()
    memory = state_memory(optimizer)
    assert memory.parameter_elements == model[0].weight.numel()
    assert memory.state_elements == 2 * model[0].weight.numel()


def _loss(params, step):
    target = torch.tensor([1.0, -2.0, 0.5]) + 0.1 * step
    return ((params[0] - target) ** 2).sum() + (params[1] ** 2).sum()


# (description, optimizer factory, steps, resume_at)
RESUME_CASES = [
    ("Adam", lambda ps: torch.optim.Adam(ps, lr=0.1), 20, 7),
    ("AdamW with param groups", lambda ps: torch.optim.AdamW([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.01}], lr=0.1), 25, 12),
    ("SGD with momentum", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9), 15, 1),
    ("RMSprop centered", lambda ps: torch.optim.RMSprop(ps, lr=0.01, centered=True), 10, 9),
]


@pytest.mark.parametrize("description,make,steps,resume_at", RESUME_CASES, ids=[c[0] for c in RESUME_CASES])
def test_resuming_from_the_state_dict_gives_the_same_run(description, make, steps, resume_at):
    init = [torch.zeros(3), torch.ones(2, 2)]
    straight = trace_optimizer(make, init, _loss, steps)
    resumed = trace_optimizer(make, init, _loss, steps, resume_at=resume_at)
    assert torch.equal(straight.losses, resumed.losses)
    for p, q in zip(straight.params, resumed.params):
        assert torch.equal(p, q)
    assert straight.state.keys() == resumed.state.keys()
    assert init[0].eq(0).all(), "the starting tensors must not be modified"


def test_an_optimizer_that_loses_its_state_on_resume_is_caught():
    """A resume that drops the moments changes the losses after the resume point."""
    def forgetful(ps):
        optimizer = torch.optim.Adam(ps, lr=0.1)
        optimizer.load_state_dict = lambda state: None  # ignores the checkpoint
        return optimizer

    init = [torch.zeros(3), torch.ones(2, 2)]
    straight = trace_optimizer(lambda ps: torch.optim.Adam(ps, lr=0.1), init, _loss, 12)
    broken = trace_optimizer(forgetful, init, _loss, 12, resume_at=6)
    assert torch.equal(straight.losses[:7], broken.losses[:7])
    assert not torch.equal(straight.losses[7:], broken.losses[7:])


def test_trace_records_the_loss_before_each_step_and_the_final_state():
    trace = trace_optimizer(lambda ps: torch.optim.SGD(ps, lr=0.25), [torch.tensor([2.0])],
                            lambda ps, t: (ps[0] ** 2).sum(), steps=3)
    # w <- w - 0.25 * 2w = w / 2: losses 4, 1, 0.25
    torch.testing.assert_close(trace.losses, torch.tensor([4.0, 1.0, 0.25]))
    torch.testing.assert_close(trace.params[0], torch.tensor([0.25]))
    assert trace.param_groups[0]["lr"] == 0.25
