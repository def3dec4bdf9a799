"""Initializers against torch.nn.init, and the variance-propagation formulas.

Exactness: with two generators seeded alike, ``tensor.uniform_(-b, b)`` and
``tensor.normal_(0, s)`` produce the same numbers iff ``b`` (``s``) is the same
float, so bit-identical tensors prove the bound and std equal torch's.
Statistics: sample mean and variance must fall within 5 standard errors of
the target, the standard errors computed from the sample size.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable

import pytest
import torch
from torch import nn

from course_lib.init import (
    backward_variance,
    calculate_gain,
    constant_,
    dirac_,
    eye_,
    fan_in_and_fan_out,
    forward_variance,
    initialize_,
    kaiming_normal_,
    kaiming_std,
    kaiming_uniform_,
    kaiming_variance,
    lecun_normal_,
    lecun_std,
    lecun_uniform_,
    lecun_variance,
    normal_,
    ones_,
    orthogonal_,
    sparse_,
    trunc_normal_,
    uniform_,
    uniform_bound,
    uniform_variance,
    xavier_normal_,
    xavier_std,
    xavier_uniform_,
    xavier_variance,
    zeros_,
)

GAIN_TABLE = [
    ("linear", None),
    ("conv1d", None),
    ("conv2d", None),
    ("conv3d", None),
    ("conv_transpose2d", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0.2),
    ("leaky_relu", 0),
    ("leaky_relu", math.sqrt(5)),
    ("selu", None),
]


@pytest.mark.parametrize(("nonlinearity", "param"), GAIN_TABLE)
def test_calculate_gain_equals_torch(nonlinearity: str, param: float | None) -> None:
    assert calculate_gain(nonlinearity, param) == nn.init.calculate_gain(nonlinearity, param)


def test_calculate_gain_rejects_unknown_names_and_bad_slopes() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        calculate_gain("softplus")
    with pytest.raises(ValueError, match="negative_slope"):
        calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(5, 3), (1, 7), (16, 3, 5), (16, 3, 5, 5), (8, 4, 3, 2, 3), (4, 2, 0, 3)])
def test_fans_equal_torch(shape: tuple[int, ...]) -> None:
    tensor = torch.empty(shape)
    assert fan_in_and_fan_out(tensor) == nn.init._calculate_fan_in_and_fan_out(tensor)


def test_fans_of_a_conv_layer_count_the_receptive_field() -> None:
    conv = nn.Conv2d(3, 16, kernel_size=(5, 4))
    assert fan_in_and_fan_out(conv.weight) == (3 * 20, 16 * 20)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fan_in_and_fan_out(torch.empty(5))


# (ours, torch's, keyword arguments, shape, description)
EXACT_TABLE = [
    (xavier_uniform_, nn.init.xavier_uniform_, {}, (300, 200), "xavier uniform"),
    (xavier_uniform_, nn.init.xavier_uniform_, {"gain": 5.0 / 3}, (64, 128), "xavier uniform, tanh gain"),
    (xavier_normal_, nn.init.xavier_normal_, {}, (300, 200), "xavier normal"),
    (xavier_normal_, nn.init.xavier_normal_, {"gain": 0.5}, (16, 3, 5, 5), "xavier normal, conv"),
    (kaiming_uniform_, nn.init.kaiming_uniform_, {}, (300, 200), "kaiming uniform, defaults"),
    (kaiming_uniform_, nn.init.kaiming_uniform_, {"a": math.sqrt(5)}, (300, 200), "torch's Linear default"),
    (kaiming_uniform_, nn.init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}, (64, 32, 3), "fan_out"),
    (kaiming_uniform_, nn.init.kaiming_uniform_, {"nonlinearity": "tanh"}, (50, 70), "kaiming, tanh gain"),
    (kaiming_normal_, nn.init.kaiming_normal_, {}, (300, 200), "kaiming normal, defaults"),
    (kaiming_normal_, nn.init.kaiming_normal_, {"a": 0.2, "mode": "fan_out"}, (32, 16, 3, 3), "leaky, conv"),
    (kaiming_normal_, nn.init.kaiming_normal_, {"nonlinearity": "selu"}, (40, 60), "selu gain"),
]


def _lecun_uniform_by_torch(tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return nn.init.kaiming_uniform_(tensor, nonlinearity="linear", generator=generator)


def _lecun_normal_by_torch(tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return nn.init.kaiming_normal_(tensor, nonlinearity="linear", generator=generator)


EXACT_TABLE += [
    (lecun_uniform_, _lecun_uniform_by_torch, {}, (300, 200), "lecun uniform = kaiming linear"),
    (lecun_normal_, _lecun_normal_by_torch, {}, (16, 3, 5, 5), "lecun normal = kaiming linear"),
    # torch lower-cases the mode
    (kaiming_uniform_, nn.init.kaiming_uniform_, {"mode": "FAN_OUT"}, (64, 32, 3), "mode in capitals"),
    (kaiming_normal_, nn.init.kaiming_normal_, {"mode": "Fan_In", "a": 0.1}, (40, 60), "mode in mixed case"),
    (uniform_, nn.init.uniform_, {}, (300, 200), "uniform_ defaults"),
    (uniform_, nn.init.uniform_, {"a": -0.3, "b": 2.0}, (8, 3, 3), "uniform_ bounds"),
    (normal_, nn.init.normal_, {}, (300, 200), "normal_ defaults"),
    (normal_, nn.init.normal_, {"mean": 1.0, "std": 0.02}, (7,), "normal_ 1-D"),
    # mass inside [a, b] above 0.3: normal proposals, values outside redrawn
    (trunc_normal_, nn.init.trunc_normal_, {}, (300, 200), "trunc_normal_ defaults"),
    (trunc_normal_, nn.init.trunc_normal_, {"std": 0.02}, (64, 64), "trunc_normal_ ViT std, cut at +-2"),
    (trunc_normal_, nn.init.trunc_normal_, {"mean": 0.5, "a": 0.0, "b": 1.0}, (50, 40), "trunc_normal_ asymmetric"),
    # mass below 0.3: uniform proposals accepted with the normal density
    (trunc_normal_, nn.init.trunc_normal_, {"a": -0.1, "b": 0.1}, (300, 200), "trunc_normal_ narrow window"),
    (trunc_normal_, nn.init.trunc_normal_, {"a": 1.0, "b": 4.0}, (40, 25), "trunc_normal_ one tail"),
    (orthogonal_, nn.init.orthogonal_, {}, (64, 64), "orthogonal_ square"),
    (orthogonal_, nn.init.orthogonal_, {"gain": 2.0}, (20, 50), "orthogonal_ wide, gain"),
    (orthogonal_, nn.init.orthogonal_, {}, (50, 20), "orthogonal_ tall"),
    (orthogonal_, nn.init.orthogonal_, {"gain": calculate_gain("relu")}, (16, 3, 3, 3), "orthogonal_ conv"),
    (sparse_, nn.init.sparse_, {"sparsity": 0.1}, (100, 30), "sparse_ defaults"),
    (sparse_, nn.init.sparse_, {"sparsity": 0.5, "std": 1.0}, (9, 40), "sparse_ half"),
]


@pytest.mark.parametrize(
    ("ours", "reference", "kwargs", "shape", "desc"), EXACT_TABLE, ids=[row[-1] for row in EXACT_TABLE]
)
def test_initializer_is_bit_identical_to_torch(
    ours: Callable, reference: Callable, kwargs: dict, shape: tuple[int, ...], desc: str, device: torch.device
) -> None:
    for dtype in (torch.float32, torch.float64):
        torch.manual_seed(11)  # sparse_ draws its zeroed rows from the global generator, as torch's does
        got = ours(torch.empty(shape, device=device, dtype=dtype), generator=torch.Generator(device).manual_seed(7), **kwargs)
        torch.manual_seed(11)
        expected = reference(torch.empty(shape, device=device, dtype=dtype), generator=torch.Generator(device).manual_seed(7), **kwargs)
        assert got.device.type == device.type and got.dtype == dtype
        torch.testing.assert_close(got, expected, rtol=0, atol=0, msg=lambda m: f"{desc}, {dtype}: not torch's numbers. {m}")


# (ours, torch's, arguments after the tensor, shape): initializers that draw nothing
DETERMINISTIC_TABLE = [
    (constant_, nn.init.constant_, (0.37,), (5, 4)),
    (ones_, nn.init.ones_, (), (6,)),
    (zeros_, nn.init.zeros_, (), (3, 2, 2)),
    (eye_, nn.init.eye_, (), (4, 4)),
    (eye_, nn.init.eye_, (), (3, 7)),
    (eye_, nn.init.eye_, (), (7, 3)),
    (dirac_, nn.init.dirac_, (), (6, 4, 5)),
    (dirac_, nn.init.dirac_, (), (4, 6, 3, 3)),
    (dirac_, nn.init.dirac_, (2,), (8, 3, 3, 4)),
    (dirac_, nn.init.dirac_, (3,), (6, 2, 3, 3, 3)),
]


@pytest.mark.parametrize(("ours", "reference", "args", "shape"), DETERMINISTIC_TABLE,
                         ids=[f"{row[0].__name__}{row[3]}" for row in DETERMINISTIC_TABLE])
def test_deterministic_initializer_equals_torch(ours: Callable, reference: Callable, args: tuple, shape: tuple[int, ...]) -> None:
    start = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    weight = nn.Parameter(start.clone())
    got = ours(weight, *args)
    assert got is weight and weight.requires_grad, "in place, on a parameter, without autograd complaining"
    expected = reference(start.clone(), *args)
    torch.testing.assert_close(got.detach(), expected, rtol=0, atol=0)


def test_eye_and_dirac_make_layers_that_pass_their_input_through() -> None:
    x = torch.randn(5, 6, 9, generator=torch.Generator().manual_seed(0))
    linear = nn.Linear(6, 6, bias=False)
    eye_(linear.weight)
    torch.testing.assert_close(linear(x.transpose(1, 2)), x.transpose(1, 2), rtol=0, atol=0)
    conv = nn.Conv1d(6, 6, kernel_size=3, padding=1, bias=False)
    dirac_(conv.weight)
    torch.testing.assert_close(conv(x), x, rtol=0, atol=0)
    grouped = nn.Conv2d(4, 8, kernel_size=3, padding=1, groups=2, bias=False)
    dirac_(grouped.weight, groups=2)
    image = torch.randn(2, 4, 5, 5)
    out = grouped(image)  # each group of 4 outputs copies its 2 inputs, then zeros
    torch.testing.assert_close(out[:, [0, 1, 4, 5]], image, rtol=0, atol=0)
    assert torch.all(out[:, [2, 3, 6, 7]] == 0)


@pytest.mark.parametrize(("make", "match"), [
    (lambda: eye_(torch.empty(3)), "2 dimensions"),
    (lambda: dirac_(torch.empty(3, 3)), "3, 4 or 5 dimensions"),
    (lambda: dirac_(torch.empty(5, 2, 3), groups=2), "divisible by groups"),
    (lambda: orthogonal_(torch.empty(4)), "at least 2 dimensions"),
    (lambda: sparse_(torch.empty(2, 3, 4), 0.1), "2 dimensions"),
    (lambda: kaiming_normal_(torch.empty(3, 4), mode="fan_avg"), "fan_in' or 'fan_out"),
])
def test_bad_shapes_and_modes_raise_value_error_like_torch(make: Callable, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(("shape", "gain"), [((30, 30), 1.0), ((10, 40), 2.0), ((40, 10), 0.5), ((8, 2, 3, 3), 1.0)])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape: tuple[int, ...], gain: float) -> None:
    w = orthogonal_(torch.empty(shape, dtype=torch.float64), gain=gain).reshape(shape[0], -1)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    torch.testing.assert_close(gram, gain**2 * torch.eye(gram.shape[0], dtype=torch.float64))


def test_trunc_normal_stays_in_the_window_with_the_truncated_normal_variance() -> None:
    """Variance of N(0, 1) cut to [-c, c]: 1 - 2 c phi(c) / (2 Phi(c) - 1)."""
    for a, b in ((-2.0, 2.0), (-0.1, 0.1)):  # one window per sampler
        samples = trunc_normal_(torch.empty(200_000, dtype=torch.float64), a=a, b=b,
                                generator=torch.Generator().manual_seed(0))
        assert samples.min().item() >= a and samples.max().item() <= b
        c = b
        density = math.exp(-c * c / 2) / math.sqrt(2 * math.pi)
        variance = 1 - 2 * c * density / math.erf(c / math.sqrt(2))
        assert abs(samples.mean().item()) < 5 * math.sqrt(variance / samples.numel())
        assert samples.var().item() == pytest.approx(variance, rel=0.02)
    with pytest.warns(UserWarning, match="more than 2 std"):
        trunc_normal_(torch.empty(10), mean=5.0, a=-1.0, b=1.0)


def test_sparse_zeroes_the_same_number_of_entries_in_every_column() -> None:
    w = sparse_(torch.empty(20, 50), sparsity=0.23, std=1.0, generator=torch.Generator().manual_seed(0))
    assert ((w == 0).sum(dim=0) == math.ceil(0.23 * 20)).all()
    assert w[w != 0].std().item() == pytest.approx(1.0, rel=0.1)


def test_std_and_bound_formulas() -> None:
    fan_in, fan_out = 300, 100
    assert xavier_std(fan_in, fan_out) ** 2 == pytest.approx(xavier_variance(fan_in, fan_out), rel=1e-15)
    assert xavier_variance(fan_in, fan_out) == 2 / 400
    assert uniform_bound(xavier_std(fan_in, fan_out)) == pytest.approx(math.sqrt(6 / 400), rel=1e-15)
    assert kaiming_std(fan_in) ** 2 == pytest.approx(2 / fan_in, rel=1e-15)
    assert kaiming_variance(fan_in) == 2 / fan_in
    assert kaiming_variance(fan_in, negative_slope=0.2) == pytest.approx(calculate_gain("leaky_relu", 0.2) ** 2 / fan_in)
    assert lecun_std(fan_in) ** 2 == pytest.approx(lecun_variance(fan_in), rel=1e-15)
    assert uniform_variance(-3.0, 3.0) == 3.0  # a^2 / 3
    assert uniform_variance(2.0, 5.0) == 0.75
    assert uniform_variance(-uniform_bound(0.7), uniform_bound(0.7)) == pytest.approx(0.49, rel=1e-15)
    # torch's default Linear init is U(-1/sqrt(n), 1/sqrt(n)): a third of LeCun's variance
    default_bound = uniform_bound(kaiming_std(fan_in, calculate_gain("leaky_relu", math.sqrt(5))))
    assert default_bound == pytest.approx(1 / math.sqrt(fan_in), rel=1e-15)


# (initializer, kwargs, shape, target variance, distribution)
STATS_TABLE = [
    (lecun_uniform_, {}, (1000, 400), 1 / 400, "uniform"),
    (lecun_normal_, {}, (1000, 400), 1 / 400, "normal"),
    (xavier_uniform_, {}, (1000, 400), 2 / 1400, "uniform"),
    (xavier_normal_, {"gain": 5.0 / 3}, (1000, 400), (5 / 3) ** 2 * 2 / 1400, "normal"),
    (kaiming_uniform_, {"nonlinearity": "relu"}, (1000, 400), 2 / 400, "uniform"),
    (kaiming_normal_, {"nonlinearity": "relu", "mode": "fan_out"}, (1000, 400), 2 / 1000, "normal"),
    (kaiming_normal_, {"a": 0.1}, (64, 32, 7, 7), 2 / (1.01 * 32 * 49), "normal"),
]


@pytest.mark.parametrize(("init", "kwargs", "shape", "variance", "distribution"), STATS_TABLE)
def test_samples_have_the_target_mean_and_variance(
    init: Callable, kwargs: dict, shape: tuple[int, ...], variance: float, distribution: str, device: torch.device
) -> None:
    weight = init(torch.empty(shape, device=device, dtype=torch.float64), generator=torch.Generator(device).manual_seed(0), **kwargs)
    n = weight.numel()
    sample_mean, sample_var = weight.mean().item(), weight.var(correction=0).item()
    assert abs(sample_mean) < 5 * math.sqrt(variance / n), f"mean {sample_mean} too far from 0"
    # Var of the sample variance: (mu4 - sigma^4) / n, with mu4 = 3 sigma^4 (normal) or 9/5 sigma^4 (uniform).
    fourth_moment = 3 * variance**2 if distribution == "normal" else 9 / 5 * variance**2
    standard_error = math.sqrt((fourth_moment - variance**2) / n)
    assert abs(sample_var - variance) < 5 * standard_error, f"variance {sample_var}, expected {variance}"
    if distribution == "uniform":
        bound = math.sqrt(3 * variance)
        assert weight.abs().max().item() <= bound * (1 + 1e-12), "a sample exceeds the uniform bound"
        assert weight.abs().max().item() > 0.999 * bound, "samples do not reach the bound"


def test_forward_and_backward_variance_of_one_linear_layer() -> None:
    generator = torch.Generator().manual_seed(1)
    fan_in, fan_out, batch = 512, 256, 4000
    layer = nn.Linear(fan_in, fan_out, bias=False).double()
    lecun_normal_(layer.weight, generator=generator)
    weight_var = 1 / fan_in
    x = (2.0 * torch.randn(batch, fan_in, generator=generator, dtype=torch.float64)).requires_grad_()
    h = layer(x)
    predicted = forward_variance(fan_in, weight_var, 4.0)
    assert predicted == 4.0
    assert h.var().item() == pytest.approx(predicted, rel=0.05)
    upstream = 3.0 * torch.randn(batch, fan_out, generator=generator, dtype=torch.float64)
    h.backward(upstream)
    assert x.grad.var().item() == pytest.approx(backward_variance(fan_out, weight_var, 9.0), rel=0.05)
    assert backward_variance(fan_out, weight_var, 9.0) == 9.0 * fan_out / fan_in


@pytest.mark.parametrize(
    ("scheme", "nonlinearity", "expected_ratio"),
    [("kaiming", "relu", 2.0), ("lecun", "relu", 2.0**-9), ("lecun", "tanh", None)],
)
def test_second_moment_through_ten_layers(scheme: str, nonlinearity: str, expected_ratio: float | None) -> None:
    """He keeps E[h^2] from layer to layer; LeCun halves it at every ReLU.

    The first layer sees the raw input (no ReLU before it), so under He its
    output has twice the input's second moment, and under LeCun the 10th
    pre-activation has been through nine halvings: 2^-9.
    """
    torch.manual_seed(0)
    width, depth = 256, 10
    activation = nn.ReLU if nonlinearity == "relu" else nn.Tanh
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width, bias=False), activation()]
    model = nn.Sequential(*layers).double()
    initialize_(model, scheme, nonlinearity=nonlinearity, generator=torch.Generator().manual_seed(0))
    x = torch.randn(2000, width, dtype=torch.float64)
    with torch.no_grad():
        h = model[:-1](x)  # the last pre-activation
    ratio = h.pow(2).mean().item() / x.pow(2).mean().item()
    if expected_ratio is None:
        assert 0.01 < ratio < 1.0, "tanh with LeCun shrinks slowly, it does not vanish or explode"
    else:
        # One fixed draw of ten matrices: the mean of post-ReLU units rides on a single
        # random direction, so the ratio fluctuates by up to ~2x between seeds. A factor
        # 2.5 still separates He from LeCun, which differ by 2^10 here.
        assert expected_ratio / 2.5 < ratio < expected_ratio * 2.5


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6, 16), nn.ReLU(), nn.Linear(16, 3)
    )


WEIGHTED = (nn.Linear, nn.Conv1d)


@pytest.mark.parametrize(
    ("scheme", "kwargs", "fill"),
    [
        ("lecun", {}, lambda w, g: lecun_normal_(w, generator=g)),
        ("lecun", {"distribution": "uniform"}, lambda w, g: lecun_uniform_(w, generator=g)),
        ("xavier", {}, lambda w, g: xavier_normal_(w, generator=g)),
        ("xavier", {"distribution": "uniform", "gain": 2.0}, lambda w, g: xavier_uniform_(w, 2.0, generator=g)),
        ("kaiming", {}, lambda w, g: kaiming_normal_(w, nonlinearity="relu", generator=g)),
        ("kaiming", {"nonlinearity": "leaky_relu", "negative_slope": 0.3, "distribution": "uniform", "mode": "fan_out"},
         lambda w, g: kaiming_uniform_(w, 0.3, "fan_out", "leaky_relu", generator=g)),
        ("kaiming", {"nonlinearity": "tanh"}, lambda w, g: kaiming_normal_(w, nonlinearity="tanh", generator=g)),
        ("normal(0.01)", {}, lambda w, g: w.normal_(0, 0.01, generator=g)),
        ("normal", {"std": 0.5}, lambda w, g: w.normal_(0, 0.5, generator=g)),
    ],
)
def test_initialize_applies_the_scheme_layer_by_layer(scheme: str, kwargs: dict, fill: Callable) -> None:
    model = initialize_(_net(), scheme, generator=torch.Generator().manual_seed(3), **kwargs)
    generator = torch.Generator().manual_seed(3)
    layers = [m for m in model.modules() if isinstance(m, WEIGHTED)]
    assert len(layers) == 3
    for layer in layers:
        with torch.no_grad():
            expected = fill(torch.empty_like(layer.weight), generator)
        torch.testing.assert_close(layer.weight, expected, rtol=0, atol=0)
        assert torch.all(layer.bias == 0)


def test_initialize_constant_zeros_bias_and_default() -> None:
    model = initialize_(_net(), "constant(0.5)", bias=0.1)
    for layer in (m for m in model.modules() if isinstance(m, WEIGHTED)):
        assert torch.all(layer.weight == 0.5) and torch.all(layer.bias == 0.1)
    model = initialize_(_net(), "zeros", bias=None)
    first = [m for m in model.modules() if isinstance(m, WEIGHTED)][0]
    assert torch.all(first.weight == 0) and torch.any(first.bias != 0), "bias=None must keep the biases"
    model = initialize_(initialize_(_net(), "zeros"), "default")
    assert torch.all(model[-1].weight != 0) and torch.any(model[-1].bias != 0)


@pytest.mark.parametrize(
    ("scheme", "kwargs", "match"),
    [
        ("orthogonal", {}, "unknown scheme"),
        ("normal", {}, "needs a std"),
        ("constant", {}, "needs a value"),
        ("xavier(2)", {}, "takes no number"),
        ("xavier", {"distribution": "laplace"}, "distribution"),
    ],
)
def test_initialize_rejects_bad_schemes(scheme: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        initialize_(_net(), scheme, **kwargs)


def test_constant_init_never_breaks_symmetry() -> None:
    """With all weights equal, every hidden unit gets the same gradient: they stay clones."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
    initialize_(model, "constant(0.3)")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    X, y = torch.randn(64, 5), torch.randn(64, 1)
    for _ in range(20):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(X), y).backward()
        optimizer.step()
    first = model[0].weight
    assert not torch.allclose(first, torch.full_like(first, 0.3)), "the weights did train"
    torch.testing.assert_close(first, first[:1].expand_as(first))  # all rows identical


def test_zero_element_tensor_is_left_alone_with_a_warning() -> None:
    empty = torch.empty(0, 5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert xavier_uniform_(empty) is empty
        assert kaiming_normal_(empty) is empty
    assert len(caught) == 2 and "no elements" in str(caught[0].message)


def _variances_through(f, gain: float, layers: int, width: int = 512, seed: int = 0) -> list[float]:
    """Pre-activation variance after each of ``layers`` random layers N(0, gain^2 / width),
    from a unit-variance normal input."""
    generator = torch.Generator().manual_seed(seed)
    h = torch.randn(256, width, generator=generator, dtype=torch.float64)
    variances = []
    for _ in range(layers):
        weight = torch.randn(width, width, generator=generator, dtype=torch.float64) * gain / width**0.5
        h = f(h) @ weight.T
        variances.append(h.var().item())
    return variances


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "silu", "sigmoid", "leaky_relu(0.2)"])
def test_the_gain_of_the_exercise_maps_unit_variance_to_unit_variance(activation):
    """Assignment 7's activation_gain: one layer with weights N(0, gain^2 / fan_in) keeps a
    unit variance (to sampling noise); gain 1 does not."""
    from course_lib.grading import get_check
    from course_lib.grading.checks.init import _GAIN_ACTIVATIONS

    f = _GAIN_ACTIVATIONS[activation]
    gain = get_check("init.activation_gain").reference(f)
    # a few percent of sampling noise: the units share the weights of one random layer
    assert _variances_through(f, gain, 1, width=2048)[0] == pytest.approx(1.0, abs=0.06)
    assert abs(_variances_through(f, 1.0, 1, width=2048)[0] - 1.0) > 0.1


def test_unit_variance_is_a_stable_fixed_point_for_tanh_neutral_for_relu_and_unstable_for_gelu():
    """What the notebook says after the gain part, checked on the variance map of one layer,
    V -> gain^2 E[f(sqrt(V) z)^2] (by quadrature): it keeps 1 for every activation; near 1 it
    is the identity for the ReLU (homogeneous), pulls towards 1 for tanh, pushes away for GELU."""
    from course_lib.grading import get_check
    from course_lib.grading.checks.init import _GAIN_ACTIVATIONS, standard_normal_moment

    gain_of = get_check("init.activation_gain").reference

    def next_variance(f, variance: float) -> float:
        return gain_of(f) ** 2 * standard_normal_moment(lambda z: f(variance**0.5 * z))

    relu, tanh, gelu = (_GAIN_ACTIVATIONS[name] for name in ("relu", "tanh", "gelu"))
    for f in (relu, tanh, gelu):
        assert next_variance(f, 1.0) == pytest.approx(1.0, rel=1e-9)
    assert next_variance(relu, 1.2) == pytest.approx(1.2, rel=1e-9)
    assert next_variance(relu, 0.8) == pytest.approx(0.8, rel=1e-9)
    assert 1.0 < next_variance(tanh, 1.2) < 1.2 and 0.8 < next_variance(tanh, 0.8) < 1.0
    assert next_variance(gelu, 1.2) > 1.2 and next_variance(gelu, 0.8) < 0.8
