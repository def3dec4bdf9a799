"""course_lib.clipping against torch.nn.utils, NaN/Inf reports (nonfinite), and the mixed-precision step."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.testing import assert_close

import course_lib.optim as co
from course_lib.clipping import clip_grad_norm_, clip_grad_value_
from course_lib.mixed_precision import amp_step
from course_lib.nonfinite import NonFiniteGrad, grads_are_finite, nonfinite_grads


def params_with_grads(device: torch.device | str = "cpu", scale: float = 1.0, dtype=torch.float32) -> list[nn.Parameter]:
    """Four tensors of different shapes; the third has no gradient."""
    generator = torch.Generator().manual_seed(0)
    params = []
    for shape in [(4, 3), (3,), (2, 2), (5,)]:
        p = nn.Parameter(torch.randn(shape, generator=generator, dtype=dtype).to(device))
        p.grad = (scale * torch.randn(shape, generator=generator, dtype=dtype)).to(device)
        params.append(p)
    params[2].grad = None
    return params


# (norm_type, max_norm, description): the max_norm values put the total norm above
# (clipped), far below (untouched) and near the threshold.
NORM_ROWS = [
    (2.0, 1.0, "l2-clipped"),
    (2.0, 100.0, "l2-untouched"),
    (1.0, 2.0, "l1-clipped"),
    (float("inf"), 0.5, "inf-clipped"),
    (float("inf"), 10.0, "inf-untouched"),
    (3.0, 1.5, "l3-clipped"),
    (0.5, 4.0, "l0.5-clipped"),
]


@pytest.mark.parametrize("norm_type, max_norm", [r[:2] for r in NORM_ROWS], ids=[r[2] for r in NORM_ROWS])
def test_clip_grad_norm_matches_torch(norm_type: float, max_norm: float, device: torch.device) -> None:
    ours, ref = params_with_grads(device), params_with_grads(device)
    total_ours = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    total_ref = torch.nn.utils.clip_grad_norm_(ref, max_norm, norm_type=norm_type)
    assert_close(total_ours, total_ref)
    for p, q in zip(ours, ref):
        if q.grad is None:
            assert p.grad is None
        else:
            assert_close(p.grad, q.grad)
    clipped_norm = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.grad, norm_type) for p in ours if p.grad is not None]), norm_type
    )
    assert clipped_norm <= max_norm * (1 + 1e-5) or total_ours <= max_norm


def test_clip_grad_norm_keeps_direction_and_returns_norm_before_clipping() -> None:
    w = nn.Parameter(torch.zeros(2))
    w.grad = torch.tensor([3.0, 4.0])
    total = clip_grad_norm_(w, max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    assert_close(w.grad, torch.tensor([0.6, 0.8]) * (5.0 / (5.0 + 1e-6)))


def test_clip_grad_norm_float64_and_no_grads() -> None:
    ours, ref = params_with_grads(dtype=torch.float64, scale=10.0), params_with_grads(dtype=torch.float64, scale=10.0)
    assert_close(clip_grad_norm_(ours, 1.0), torch.nn.utils.clip_grad_norm_(ref, 1.0))
    for p, q in zip(ours, ref):
        if q.grad is not None:
            assert_close(p.grad, q.grad)
    empty = [nn.Parameter(torch.ones(2))]
    assert_close(clip_grad_norm_(empty, 1.0), torch.nn.utils.clip_grad_norm_(empty, 1.0))


def test_clip_grad_norm_nonfinite() -> None:
    ours, ref = params_with_grads(), params_with_grads()
    for params in (ours, ref):
        params[0].grad[0, 0] = float("inf")
    with pytest.raises(RuntimeError) as expected:
        torch.nn.utils.clip_grad_norm_(ref, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as got:
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    assert str(got.value) == str(expected.value)
    total_ours = clip_grad_norm_(ours, 1.0)
    total_ref = torch.nn.utils.clip_grad_norm_(ref, 1.0)
    assert torch.isinf(total_ours) and torch.isinf(total_ref)
    for p, q in zip(ours, ref):
        if q.grad is not None:
            assert_close(p.grad, q.grad, equal_nan=True)


@pytest.mark.parametrize("clip_value", [0.1, 0.7, 100.0])
def test_clip_grad_value_matches_torch(clip_value: float, device: torch.device) -> None:
    ours, ref = params_with_grads(device), params_with_grads(device)
    clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(ref, clip_value)
    for p, q in zip(ours, ref):
        if q.grad is not None:
            assert_close(p.grad, q.grad, rtol=0, atol=0)
            assert p.grad.abs().max() <= clip_value
    single = params_with_grads(device)[0]
    clip_grad_value_(single, 0.1)
    assert single.grad.abs().max() <= 0.1


def test_finite_checks_name_the_culprits() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    model(torch.ones(1, 3)).sum().backward()
    assert grads_are_finite(model.parameters())
    assert nonfinite_grads(model.named_parameters()) == []
    model[1].weight.grad[0, 0] = float("nan")
    model[0].bias.grad[:] = float("-inf")
    assert not grads_are_finite(model.parameters())
    assert nonfinite_grads(model.named_parameters()) == [
        NonFiniteGrad("0.bias", nan_count=0, inf_count=2),
        NonFiniteGrad("1.weight", nan_count=1, inf_count=0),
    ]
    assert [r.name for r in nonfinite_grads(model.parameters())] == ["1", "2"]


# -------------------------------------------------------------------- mixed precision

def amp_setup(device: str, optimizer_cls=co.Adam):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).to(device)
    optimizer = optimizer_cls(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler(device, init_scale=2.0**10, growth_interval=1000)
    x, y = torch.randn(16, 4, device=device), torch.randn(16, 1, device=device)
    return model, optimizer, scaler, x, y


def amp_loss(model, x, y, device: str) -> torch.Tensor:
    dtype = torch.float16 if device == "cuda" else torch.bfloat16
    with torch.autocast(device_type=device, dtype=dtype):
        prediction = model(x)
    return ((prediction.float() - y) ** 2).mean()


def test_amp_step_equals_the_manual_torch_cycle(device: torch.device) -> None:
    """scale -> backward -> unscale -> clip -> step -> update, done by hand with torch's tools."""
    kind = device.type
    model, optimizer, scaler, x, y = amp_setup(kind)
    ref_model = copy.deepcopy(model)
    ref_optimizer = torch.optim.Adam(ref_model.parameters(), lr=0.01, foreach=False)
    ref_scaler = torch.amp.GradScaler(kind, init_scale=2.0**10, growth_interval=1000)
    for _ in range(3):
        optimizer.zero_grad()
        assert amp_step(amp_loss(model, x, y, kind), optimizer, scaler, model.parameters(), max_norm=0.05) is True

        ref_optimizer.zero_grad()
        ref_scaler.scale(amp_loss(ref_model, x, y, kind)).backward()
        ref_scaler.unscale_(ref_optimizer)
        torch.nn.utils.clip_grad_norm_(ref_model.parameters(), 0.05)
        ref_scaler.step(ref_optimizer)
        ref_scaler.update()
    for p, q in zip(model.parameters(), ref_model.parameters()):
        assert_close(p, q)
        assert_close(p.grad, q.grad)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters()]))
    assert total <= 0.05 * (1 + 1e-5), "the unscaled gradients should have been clipped to max_norm"
    assert scaler.get_scale() == ref_scaler.get_scale() == 2.0**10


def test_amp_step_skips_an_overflowing_step_and_reduces_the_scale(device: torch.device) -> None:
    kind = device.type
    model, optimizer, scaler, x, y = amp_setup(kind)
    optimizer.zero_grad()
    assert amp_step(amp_loss(model, x, y, kind), optimizer, scaler, model.parameters(), max_norm=1.0)
    params_before = [p.detach().clone() for p in model.parameters()]
    state_before = {k: v.clone() for k, v in optimizer.state[model[0].weight].items()}
    scale_before = scaler.get_scale()

    hook = model[2].weight.register_hook(lambda grad: torch.full_like(grad, float("inf")))
    optimizer.zero_grad()
    took_step = amp_step(amp_loss(model, x, y, kind), optimizer, scaler, model.parameters(), max_norm=1.0)
    hook.remove()

    assert took_step is False
    assert scaler.get_scale() == scale_before * 0.5
    for p, before in zip(model.parameters(), params_before):
        assert torch.equal(p.detach(), before)
    for key, value in state_before.items():
        assert torch.equal(optimizer.state[model[0].weight][key], value), key

    optimizer.zero_grad()
    assert amp_step(amp_loss(model, x, y, kind), optimizer, scaler, model.parameters(), max_norm=None) is True
    assert optimizer.state[model[0].weight]["step"].item() == 2.0
    assert scaler.get_scale() == scale_before * 0.5


def test_amp_step_with_disabled_scaler_always_steps() -> None:
    model, optimizer, _, x, y = amp_setup("cpu", optimizer_cls=co.SGD)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    before = model[0].weight.detach().clone()
    assert amp_step(((model(x) - y) ** 2).mean(), optimizer, scaler, model.parameters(), max_norm=1.0)
    assert not torch.equal(model[0].weight, before)
