"""Batch, layer, group and RMS norm, dropout and standardization against torch (and scikit-learn).

Outputs, gradients (autograd through our formulas vs torch's fused kernels) and
buffers are compared with ``torch.testing.assert_close`` at its default
tolerance for the dtype: the formulas are the same, the order of floating-point
operations is not. Dropout masks come from a different random stream than
torch's, so dropout is compared through what the mask implies.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler
from torch import nn

from course_lib.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    Dropout,
    GroupNorm,
    LayerNorm,
    RMSNorm,
    Standardizer,
    batch_norm,
    dropout,
    group_norm,
    layer_norm,
    rms_norm,
    standardize,
)

# (input shape, momentum, affine, dtype, description)
BATCH_NORM_TABLE = [
    ((32, 5), 0.1, True, torch.float32, "(N, C), torch defaults"),
    ((32, 5), 0.5, False, torch.float64, "(N, C), momentum 0.5, no affine"),
    ((8, 4, 10), 0.1, True, torch.float32, "(N, C, L)"),
    ((2, 3, 7), 0.9, True, torch.float64, "(N, C, L), small batch"),
    ((2, 6), 0.1, True, torch.float64, "batch of two"),
]


@pytest.mark.parametrize(
    ("shape", "momentum", "affine", "dtype", "desc"), BATCH_NORM_TABLE, ids=[r[-1] for r in BATCH_NORM_TABLE]
)
def test_batch_norm_function_matches_torch(shape, momentum, affine, dtype, desc, device: torch.device) -> None:
    generator = torch.Generator().manual_seed(0)
    channels = shape[1]
    weight = (1 + torch.rand(channels, generator=generator, dtype=dtype)).to(device) if affine else None
    bias = torch.randn(channels, generator=generator, dtype=dtype).to(device) if affine else None
    ours_mean, ours_var = torch.zeros(channels, dtype=dtype, device=device), torch.ones(channels, dtype=dtype, device=device)
    torch_mean, torch_var = ours_mean.clone(), ours_var.clone()
    for step in range(6):
        x = (3 * torch.randn(shape, generator=generator, dtype=dtype) + step).to(device)
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        w1 = weight.clone().requires_grad_() if affine else None
        w2 = weight.clone().requires_grad_() if affine else None
        b1 = bias.clone().requires_grad_() if affine else None
        b2 = bias.clone().requires_grad_() if affine else None
        ours = batch_norm(x1, ours_mean, ours_var, w1, b1, training=True, momentum=momentum)
        expected = F.batch_norm(x2, torch_mean, torch_var, w2, b2, training=True, momentum=momentum)
        torch.testing.assert_close(ours, expected, msg=lambda m: f"{desc}, output at step {step}: {m}")
        torch.testing.assert_close(ours_mean, torch_mean, msg=lambda m: f"{desc}, running_mean: {m}")
        torch.testing.assert_close(ours_var, torch_var, msg=lambda m: f"{desc}, running_var: {m}")
        upstream = torch.randn(shape, generator=generator, dtype=dtype).to(device)
        ours.backward(upstream)
        expected.backward(upstream)
        torch.testing.assert_close(x1.grad, x2.grad, msg=lambda m: f"{desc}, grad of x: {m}")
        if affine:
            torch.testing.assert_close(w1.grad, w2.grad)
            torch.testing.assert_close(b1.grad, b2.grad)
    x = torch.randn(shape, generator=generator, dtype=dtype).to(device)
    torch.testing.assert_close(
        batch_norm(x, ours_mean, ours_var, weight, bias),
        F.batch_norm(x, torch_mean, torch_var, weight, bias),
        msg=lambda m: f"{desc}, eval with running statistics: {m}",
    )


def test_running_var_is_unbiased_while_the_batch_is_normalized_with_the_biased_one() -> None:
    x = torch.tensor([[1.0], [2.0], [6.0]], dtype=torch.float64)  # mean 3, biased var 14/3, unbiased 7
    running_mean, running_var = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    y = batch_norm(x, running_mean, running_var, training=True, momentum=1.0, eps=0.0)
    assert running_mean.item() == pytest.approx(3.0)
    assert running_var.item() == pytest.approx(7.0), "running_var must use the unbiased variance (divide by n - 1)"
    torch.testing.assert_close(y, (x - 3.0) / math.sqrt(14 / 3))
    half = torch.ones(1, dtype=torch.float64)
    batch_norm(x, torch.zeros(1, dtype=torch.float64), half, training=True, momentum=0.1)
    assert half.item() == pytest.approx(0.9 * 1 + 0.1 * 7)


def test_cumulative_average_with_momentum_none() -> None:
    generator = torch.Generator().manual_seed(1)
    running_mean, running_var = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    count = torch.tensor(0, dtype=torch.long)
    batches = [torch.randn(10, 3, generator=generator, dtype=torch.float64) + k for k in range(5)]
    for x in batches:
        batch_norm(x, running_mean, running_var, training=True, momentum=None, num_batches_tracked=count)
    assert count.item() == 5
    torch.testing.assert_close(running_mean, torch.stack([x.mean(0) for x in batches]).mean(0))
    torch.testing.assert_close(running_var, torch.stack([x.var(0) for x in batches]).mean(0))
    with pytest.raises(ValueError, match="num_batches_tracked"):
        batch_norm(batches[0], running_mean, running_var, training=True, momentum=None)


def test_batch_norm_refuses_one_value_per_channel_in_training_only() -> None:
    x = torch.randn(1, 4)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        batch_norm(x, torch.zeros(4), torch.ones(4), training=True)
    with pytest.raises(ValueError):
        F.batch_norm(x, torch.zeros(4), torch.ones(4), training=True)
    assert batch_norm(x, torch.zeros(4), torch.ones(4)).shape == (1, 4)
    with pytest.raises(ValueError, match="running_mean"):
        batch_norm(x, None, None)


# (ours, torch's, constructor args, constructor kwargs, input shape, description)
NORM_MODULE_TABLE = [
    (BatchNorm1d, nn.BatchNorm1d, (6,), {}, (16, 6), "BatchNorm1d defaults"),
    (BatchNorm1d, nn.BatchNorm1d, (6,), {"momentum": None}, (16, 6), "BatchNorm1d cumulative average"),
    (BatchNorm1d, nn.BatchNorm1d, (6,), {"affine": False, "momentum": 0.3}, (8, 6, 5), "BatchNorm1d no affine, (N, C, L)"),
    (BatchNorm1d, nn.BatchNorm1d, (6,), {"track_running_stats": False}, (16, 6), "BatchNorm1d no running statistics"),
    (BatchNorm1d, nn.BatchNorm1d, (6,), {"eps": 1e-3}, (4, 6, 3), "BatchNorm1d eps"),
    (BatchNorm1d, nn.BatchNorm1d, (6,), {"bias": False}, (16, 6), "BatchNorm1d without bias"),
    (BatchNorm2d, nn.BatchNorm2d, (6,), {}, (4, 6, 5, 3), "BatchNorm2d defaults"),
    (BatchNorm2d, nn.BatchNorm2d, (6,), {"momentum": None, "bias": False}, (2, 6, 4, 4), "BatchNorm2d cumulative, no bias"),
    (BatchNorm2d, nn.BatchNorm2d, (6,), {"affine": False, "eps": 1e-2}, (3, 6, 2, 7), "BatchNorm2d no affine"),
    (BatchNorm2d, nn.BatchNorm2d, (6,), {"track_running_stats": False}, (2, 6, 3, 3), "BatchNorm2d no running statistics"),
    (BatchNorm2d, nn.BatchNorm2d, (6,), {"momentum": 0.5}, (1, 6, 2, 2), "BatchNorm2d batch of one image"),
    (GroupNorm, nn.GroupNorm, (3, 6), {}, (4, 6, 5), "GroupNorm 3 groups"),
    (GroupNorm, nn.GroupNorm, (1, 6), {}, (4, 6, 3, 3), "GroupNorm 1 group (layer norm, per-channel affine)"),
    (GroupNorm, nn.GroupNorm, (6, 6), {"eps": 1e-3}, (2, 6, 4, 4), "GroupNorm 6 groups (instance norm)"),
    (GroupNorm, nn.GroupNorm, (2, 6), {"affine": False}, (3, 6), "GroupNorm (N, C), no affine"),
    (GroupNorm, nn.GroupNorm, (2, 6), {"bias": False}, (1, 6, 4), "GroupNorm batch of one, no bias"),
    (RMSNorm, nn.RMSNorm, (6,), {}, (16, 6), "RMSNorm defaults, eps from the dtype"),
    (RMSNorm, nn.RMSNorm, ((5, 6),), {"eps": 1e-2}, (3, 5, 6), "RMSNorm over two dimensions"),
    (RMSNorm, nn.RMSNorm, (6,), {"elementwise_affine": False}, (2, 4, 6), "RMSNorm no weight"),
    (LayerNorm, nn.LayerNorm, (6,), {"bias": False}, (4, 3, 6), "LayerNorm without bias"),
]


def _set_affine(module: nn.Module) -> None:
    """Non-trivial weight and bias, so that their gradients and effect are tested."""
    with torch.no_grad():
        if getattr(module, "weight", None) is not None:
            module.weight.copy_(torch.linspace(0.5, 2.0, module.weight.numel(), dtype=module.weight.dtype).reshape(module.weight.shape))
        if getattr(module, "bias", None) is not None:
            module.bias.copy_(torch.linspace(-1.0, 1.0, module.bias.numel(), dtype=module.bias.dtype).reshape(module.bias.shape))


@pytest.mark.parametrize(
    ("ours_class", "torch_class", "args", "kwargs", "shape", "desc"), NORM_MODULE_TABLE, ids=[r[-1] for r in NORM_MODULE_TABLE]
)
def test_norm_module_matches_torch_in_train_and_eval(ours_class, torch_class, args, kwargs, shape, desc, device: torch.device) -> None:
    generator = torch.Generator().manual_seed(0)
    # float64: the gradient of sum(y^3) with respect to weight is a sum with heavy
    # cancellation, and float32 summation order alone moves it by ~1e-5.
    ours = ours_class(*args, **kwargs, device=device, dtype=torch.float64)
    reference = torch_class(*args, **kwargs, device=device, dtype=torch.float64)
    assert repr(ours).split("(", 1)[1] == repr(reference).split("(", 1)[1], "constructor arguments shown as torch shows them"
    assert [(k, v.dtype, v.device.type) for k, v in ours.state_dict().items()] == \
        [(k, v.dtype, v.device.type) for k, v in reference.state_dict().items()]
    _set_affine(ours)
    _set_affine(reference)
    for step in range(4):
        x = (2 * torch.randn(shape, dtype=torch.float64, generator=generator) + step).to(device)
        x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
        out, expected = ours(x_ours), reference(x_ref)
        torch.testing.assert_close(out, expected, msg=lambda m: f"{desc}, train step {step}: {m}")
        out.pow(3).sum().backward()
        expected.pow(3).sum().backward()
        torch.testing.assert_close(x_ours.grad, x_ref.grad, msg=lambda m: f"{desc}, grad of x: {m}")
        for (name, p_ours), p_ref in zip(ours.named_parameters(), reference.parameters(), strict=True):
            torch.testing.assert_close(p_ours.grad, p_ref.grad, msg=lambda m: f"{desc}, grad of {name}: {m}")
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value, msg=lambda m: f"{desc}, buffer {key}: {m}")
    ours.eval()
    reference.eval()
    x = torch.randn(shape, dtype=torch.float64, generator=generator).to(device)
    torch.testing.assert_close(ours(x), reference(x), msg=lambda m: f"{desc}, eval: {m}")
    reloaded = torch_class(*args, **kwargs, device=device, dtype=torch.float64)
    reloaded.load_state_dict(ours.state_dict())
    torch.testing.assert_close(reloaded.eval()(x), reference(x), msg=lambda m: f"{desc}, torch module with our state_dict: {m}")


@pytest.mark.parametrize(
    ("ours_class", "torch_class", "channels_shape"),
    [(BatchNorm1d, nn.BatchNorm1d, (0, 4)), (BatchNorm1d, nn.BatchNorm1d, (0, 4, 3)), (BatchNorm2d, nn.BatchNorm2d, (0, 4, 2, 2))],
)
def test_empty_batch_gives_an_empty_output_and_keeps_the_running_statistics(ours_class, torch_class, channels_shape) -> None:
    ours, reference = ours_class(4, momentum=None), torch_class(4, momentum=None)
    warm_up = torch.randn(5, *channels_shape[1:]) * 3 + 1
    ours(warm_up)
    reference(warm_up)
    for module in (ours, reference):
        x = torch.empty(channels_shape, requires_grad=True)
        out = module(x)
        assert out.shape == channels_shape
        out.sum().backward()
        assert x.grad.shape == channels_shape and torch.all(module.weight.grad == 0)
        assert module.num_batches_tracked.item() == 2, "an empty batch still counts, as in torch"
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value, msg=key)
    assert ours.eval()(torch.empty(channels_shape)).shape == channels_shape


def test_batch_norm_modules_refuse_the_wrong_input_like_torch() -> None:
    for ours, reference, bad in ((BatchNorm1d(3), nn.BatchNorm1d(3), torch.ones(2, 3, 4, 5)),
                                 (BatchNorm2d(3), nn.BatchNorm2d(3), torch.ones(2, 3, 4))):
        with pytest.raises(ValueError) as theirs:
            reference(bad)
        with pytest.raises(ValueError, match="input") as mine:
            ours(bad)
        assert str(mine.value) == str(theirs.value)
    with pytest.raises(RuntimeError, match="4 channels"):
        BatchNorm1d(3)(torch.ones(5, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm2d(3)(torch.ones(1, 3, 1, 1))


def test_batch_norm_module_state_dict_loads_into_torch() -> None:
    ours = BatchNorm1d(4)
    ours(torch.randn(10, 4) * 3 + 1)
    reference = nn.BatchNorm1d(4)
    reference.load_state_dict(ours.state_dict())
    assert reference.num_batches_tracked.item() == 1
    ours.eval()
    reference.eval()
    x = torch.randn(5, 4)
    torch.testing.assert_close(ours(x), reference(x))


# (input shape, normalized_shape, affine, dtype)
LAYER_NORM_TABLE = [
    ((16, 10), 10, True, torch.float32),
    ((16, 10), (10,), False, torch.float64),
    ((4, 7, 10), 10, True, torch.float32),
    ((4, 7, 10), (7, 10), True, torch.float64),
    ((1, 5), 5, True, torch.float32),
]


@pytest.mark.parametrize(("shape", "normalized_shape", "affine", "dtype"), LAYER_NORM_TABLE)
def test_layer_norm_matches_torch(shape, normalized_shape, affine, dtype, device: torch.device) -> None:
    generator = torch.Generator().manual_seed(0)
    feature_shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    x = (2 * torch.randn(shape, generator=generator, dtype=dtype) + 1).to(device)
    weight = torch.rand(feature_shape, generator=generator, dtype=dtype).to(device) + 0.5 if affine else None
    bias = torch.randn(feature_shape, generator=generator, dtype=dtype).to(device) if affine else None
    inputs_ours = [t.clone().requires_grad_() if t is not None else None for t in (x, weight, bias)]
    inputs_torch = [t.clone().requires_grad_() if t is not None else None for t in (x, weight, bias)]
    ours = layer_norm(inputs_ours[0], normalized_shape, inputs_ours[1], inputs_ours[2])
    expected = F.layer_norm(inputs_torch[0], feature_shape, inputs_torch[1], inputs_torch[2])
    torch.testing.assert_close(ours, expected)
    upstream = torch.randn(shape, generator=generator, dtype=dtype).to(device)
    ours.backward(upstream)
    expected.backward(upstream)
    for got, want in zip(inputs_ours, inputs_torch):
        if got is not None:
            torch.testing.assert_close(got.grad, want.grad)


# (input shape, num_groups, affine, dtype)
GROUP_NORM_TABLE = [
    ((8, 6), 2, True, torch.float32),
    ((4, 6, 10), 3, True, torch.float64),
    ((2, 8, 5, 5), 4, False, torch.float32),
    ((2, 8, 3, 3), 1, True, torch.float64),
    ((3, 4, 2, 2, 2), 4, True, torch.float32),
    ((0, 4, 3), 2, True, torch.float32),
]


@pytest.mark.parametrize(("shape", "num_groups", "affine", "dtype"), GROUP_NORM_TABLE)
def test_group_norm_matches_torch(shape, num_groups, affine, dtype, device: torch.device) -> None:
    generator = torch.Generator().manual_seed(0)
    x = (2 * torch.randn(shape, generator=generator, dtype=dtype) + 1).to(device)
    weight = (torch.rand(shape[1], generator=generator, dtype=dtype) + 0.5).to(device) if affine else None
    bias = torch.randn(shape[1], generator=generator, dtype=dtype).to(device) if affine else None
    inputs_ours = [t.clone().requires_grad_() if t is not None else None for t in (x, weight, bias)]
    inputs_torch = [t.clone().requires_grad_() if t is not None else None for t in (x, weight, bias)]
    ours = group_norm(inputs_ours[0], num_groups, inputs_ours[1], inputs_ours[2])
    expected = F.group_norm(inputs_torch[0], num_groups, inputs_torch[1], inputs_torch[2])
    torch.testing.assert_close(ours, expected)
    upstream = torch.randn(shape, generator=generator, dtype=dtype).to(device)
    ours.backward(upstream)
    expected.backward(upstream)
    for got, want in zip(inputs_ours, inputs_torch):
        if got is not None:
            torch.testing.assert_close(got.grad, want.grad)


def test_group_norm_statistics_are_per_sample_and_group() -> None:
    x = torch.randn(3, 6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 5 + 2
    y = group_norm(x, 2).reshape(3, 2, 12)
    torch.testing.assert_close(y.mean(dim=2), torch.zeros(3, 2, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(y.var(dim=2, correction=0), torch.ones(3, 2, dtype=torch.float64), rtol=0, atol=1e-5)
    torch.testing.assert_close(group_norm(x[:1], 2), group_norm(x, 2)[:1], rtol=0, atol=0)
    with pytest.raises(ValueError, match="divisible"):
        group_norm(x, 4)
    with pytest.raises(ValueError, match="divisible"):
        GroupNorm(4, 6)


# (input shape, normalized_shape, weight, eps, dtype)
RMS_NORM_TABLE = [
    ((16, 10), 10, True, None, torch.float32),
    ((16, 10), (10,), False, 1e-6, torch.float64),
    ((4, 7, 10), 10, True, None, torch.float64),
    ((4, 7, 10), (7, 10), True, 1e-3, torch.float32),
    ((1, 5), 5, True, 0.5, torch.float64),
]


@pytest.mark.parametrize(("shape", "normalized_shape", "affine", "eps", "dtype"), RMS_NORM_TABLE)
def test_rms_norm_matches_torch(shape, normalized_shape, affine, eps, dtype, device: torch.device) -> None:
    generator = torch.Generator().manual_seed(0)
    feature_shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    x = (2 * torch.randn(shape, generator=generator, dtype=dtype) + 1).to(device).requires_grad_()
    weight = (torch.rand(feature_shape, generator=generator, dtype=dtype) + 0.5).to(device).requires_grad_() if affine else None
    x_ref = x.detach().clone().requires_grad_()
    weight_ref = weight.detach().clone().requires_grad_() if affine else None
    ours = rms_norm(x, normalized_shape, weight, eps)
    expected = F.rms_norm(x_ref, feature_shape, weight_ref, eps)
    torch.testing.assert_close(ours, expected)
    upstream = torch.randn(shape, generator=generator, dtype=dtype).to(device)
    ours.backward(upstream)
    expected.backward(upstream)
    torch.testing.assert_close(x.grad, x_ref.grad)
    if affine:
        torch.testing.assert_close(weight.grad, weight_ref.grad)


def test_rms_norm_gives_unit_root_mean_square_and_keeps_the_mean() -> None:
    x = torch.randn(5, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 3 + 4
    y = rms_norm(x, 32, eps=0.0)
    torch.testing.assert_close(y.pow(2).mean(dim=1), torch.ones(5, dtype=torch.float64))
    assert torch.all(y.mean(dim=1) > 0.5), "no centring: a positive mean stays positive"
    torch.testing.assert_close(rms_norm(3 * x, 32, eps=0.0), y, msg="invariant to rescaling the input")
    assert RMSNorm(4).eps is None and rms_norm(torch.zeros(1, 4), 4).abs().sum().item() == 0.0


def test_layer_norm_module_matches_torch_and_ignores_train_eval() -> None:
    torch.manual_seed(0)
    for kwargs in ({}, {"bias": False}, {"elementwise_affine": False}, {"eps": 1e-2}):
        ours, reference = LayerNorm(8, **kwargs), nn.LayerNorm(8, **kwargs)
        assert ours.state_dict().keys() == reference.state_dict().keys(), kwargs
        ours.load_state_dict(reference.state_dict())
        x = torch.randn(3, 8) * 4
        torch.testing.assert_close(ours(x), reference(x))
        torch.testing.assert_close(ours.eval()(x), ours.train()(x), rtol=0, atol=0)
    with pytest.raises(ValueError, match="does not match"):
        layer_norm(torch.randn(3, 8), 7)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest_exactly(p: float, device: torch.device) -> None:
    n = 200_000
    x = torch.rand(n, device=device) + 0.5  # never 0, so a zero in the output means "dropped"
    generator = torch.Generator(device).manual_seed(0)
    ours = dropout(x, p, generator=generator)
    reference = F.dropout(x, p, training=True)
    binomial_std = math.sqrt(p * (1 - p) / n)
    for name, out in (("ours", ours), ("torch", reference)):
        dropped = out == 0
        assert abs(dropped.float().mean().item() - p) < 5 * binomial_std, f"{name}: fraction dropped"
        kept = ~dropped
        expected_kept = x[kept] * (1.0 / (1.0 - p))
        if name == "ours" or device.type == "cpu":
            assert torch.equal(out[kept], expected_kept), f"{name}: kept values must be exactly x * (1/(1-p))"
        else:
            torch.testing.assert_close(out[kept], expected_kept)
    again = dropout(x, p, generator=torch.Generator(device).manual_seed(0))
    assert torch.equal(again, ours), "the same generator seed must give the same mask"


def test_dropout_gradient_is_the_scaled_mask() -> None:
    x = torch.randn(1000, requires_grad=True)
    out = dropout(x, 0.25, generator=torch.Generator().manual_seed(3))
    out.sum().backward()
    mask = (out != 0).float()
    torch.testing.assert_close(x.grad, mask / 0.75)


def test_dropout_edge_cases_like_torch() -> None:
    x = torch.randn(50, requires_grad=True)
    assert dropout(x, 0.0) is x and F.dropout(x, 0.0, True) is x
    assert dropout(x, 0.7, training=False) is x
    zeroed = dropout(x, 1.0)
    assert torch.equal(zeroed, F.dropout(x, 1.0, True)) and torch.all(zeroed == 0)
    zeroed.sum().backward()
    assert torch.all(x.grad == 0)
    for bad in (-0.1, 1.1):
        with pytest.raises(ValueError, match="between 0 and 1"):
            dropout(x, bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            Dropout(bad)


def test_dropout_module_trains_and_evaluates() -> None:
    layer = Dropout(0.5, generator=torch.Generator().manual_seed(0))
    x = torch.ones(10_000)
    out = layer(x)
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert out.mean().item() == pytest.approx(1.0, abs=5 * math.sqrt(1 / 10_000)), "E[y] = x"
    layer.eval()
    assert layer(x) is x
    assert repr(layer) == repr(nn.Dropout(0.5)) == "Dropout(p=0.5, inplace=False)"


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_inplace_dropout_overwrites_its_input_like_torch(p: float) -> None:
    x = torch.rand(10_000) + 0.5
    ours_input, torch_input = x.clone(), x.clone()
    out = dropout(ours_input, p, generator=torch.Generator().manual_seed(0), inplace=True)
    expected = F.dropout(torch_input, p, training=True, inplace=True)
    assert out is ours_input and expected is torch_input
    for result in (out, expected):
        kept = result != 0
        assert torch.equal(result[kept], x[kept] * (1.0 / (1.0 - p)) if p < 1 else result[kept])
    assert torch.equal(out == 0, dropout(x, p, generator=torch.Generator().manual_seed(0)) == 0), "same mask as out of place"
    layer = Dropout(p, inplace=True, generator=torch.Generator().manual_seed(0))
    assert repr(layer) == repr(nn.Dropout(p, inplace=True))
    again = x.clone()
    assert layer(again) is again and torch.equal(again, out)
    assert layer.eval()(x) is x


def test_inplace_dropout_keeps_autograd_right() -> None:
    leaf = torch.randn(100, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        F.dropout(leaf, 0.5, True, inplace=True)
    with pytest.raises(RuntimeError, match="in-place"):
        dropout(leaf, 0.5, inplace=True)
    hidden = leaf * 2
    out = dropout(hidden, 0.25, generator=torch.Generator().manual_seed(1), inplace=True)
    out.sum().backward()
    torch.testing.assert_close(leaf.grad, 2 * (out != 0).float() / 0.75)


def test_standardizer_matches_sklearn_and_fits_on_train_only(device: torch.device) -> None:
    data = torch.tensor(load_breast_cancer().data, dtype=torch.float64)
    train, test = data[:400].to(device), data[400:].to(device)
    scaler = Standardizer().fit(train)
    reference = StandardScaler().fit(train.cpu().numpy())
    torch.testing.assert_close(scaler.mean.cpu(), torch.from_numpy(reference.mean_))
    torch.testing.assert_close(scaler.std.cpu(), torch.from_numpy(reference.scale_))
    torch.testing.assert_close(scaler.transform(test).cpu(), torch.from_numpy(reference.transform(test.cpu().numpy())))
    z = scaler.transform(train)
    torch.testing.assert_close(z.mean(0), torch.zeros(30, dtype=torch.float64, device=device), rtol=0, atol=1e-12)
    torch.testing.assert_close(z.std(0, correction=0), torch.ones(30, dtype=torch.float64, device=device))
    assert not torch.allclose(scaler.transform(test).mean(0), torch.zeros(30, dtype=torch.float64, device=device), atol=1e-3)
    torch.testing.assert_close(scaler.inverse_transform(scaler.transform(test)), test)
    torch.testing.assert_close(standardize(test, scaler.mean, scaler.std), scaler.transform(test))
    torch.testing.assert_close(standardize(train), Standardizer().fit_transform(train))


def test_zero_variance_columns_are_centred_not_divided_by_zero() -> None:
    X = torch.tensor([[1.0, 5.0, 0.0], [3.0, 5.0, 2.0], [5.0, 5.0, 4.0]])
    scaler = Standardizer().fit(X)
    assert scaler.std[1].item() == 1.0
    Z = scaler.transform(X)
    assert torch.isfinite(Z).all() and torch.all(Z[:, 1] == 0)
    reference = StandardScaler().fit_transform(X.numpy())
    torch.testing.assert_close(Z, torch.from_numpy(reference).float())
    assert scaler.transform(torch.tensor([[1.0, 6.0, 0.0]]))[0, 1].item() == 1.0
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(X)
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        Standardizer().fit(torch.ones(3))
