"""Checks for assignment 07_init: fans, recommended variances, two initializers, per-layer variances.

The initializers are judged **in distribution**: a student's random stream differs from
torch's (``tensor.uniform_`` or ``torch.rand(...) * 2 * a - a``, another generator), so
the check fills the tensor repeatedly until it has at least 200 000 draws and compares
statistics, normalized by the target standard deviation (and bound) that the trusted
formulas of :mod:`course_lib.init` give for the case:

* ``mean / target std`` (about 0), ``std / target std`` (about 1),
  ``fraction within 1 target std`` (0.683 for a normal, 0.577 for a uniform), which
  tells the two families apart;
* for uniform initializers, whether every draw lies within the target bound and
  whether the largest one reaches it (to 0.1 %): the bound is checked exactly;
* the shape and dtype of the result, and that the tensor was filled in place.

With 200 000 draws each statistic of a correct answer is within about 0.003 (one standard
deviation) of the target, so two independent correct answers differ by less than the
tolerance 0.025 (almost 8 standard deviations of their difference), while each known
mistake moves one of them by 0.1 or more, or breaks the bound.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from course_lib import init
from course_lib.grading import Check, Mistake, register
from course_lib.models import mlp
from course_lib.monitoring import LayerStats

_MIN_DRAWS = 200_000

# ---- 1. fan-in and fan-out ------------------------------------------------------------------


def _fans(tensor):
    return init.fan_in_and_fan_out(tensor)


def _fan_cases(hidden: bool) -> list[dict[str, Any]]:
    shapes = [(256, 400), (16, 3, 5, 5), (64, 32, 3), (7, 7), (10, 4, 2, 3, 2)] if hidden else [(3, 5), (4, 2, 3, 3)]
    return [{"shape": shape} for shape in shapes]


def _receptive(tensor) -> int:
    return math.prod(tensor.shape[2:])


register(Check(
    name="init.fan_in_and_fan_out",
    reference=_fans,
    cases=_fan_cases,
    call=lambda f, case: tuple(int(v) for v in f(torch.empty(case["shape"]))),
    describe=lambda case: f"a weight tensor of shape {case['shape']}",
    mistakes=(
        Mistake("swapped", "fan_in and fan_out are swapped: a Linear weight has shape (out_features, in_features), "
                "so fan_in comes from shape[1] and fan_out from shape[0].",
                lambda tensor: (tensor.shape[0] * _receptive(tensor), tensor.shape[1] * _receptive(tensor))),
        Mistake("conv2d_only", "the receptive field is only counted for 4-D (Conv2d) weights; a Conv1d weight "
                "(out, in, k) or a Conv3d weight has one too: multiply by the product of ALL dimensions after "
                "the first two.", lambda tensor: (
                    tensor.shape[1] * (_receptive(tensor) if tensor.dim() == 4 else 1),
                    tensor.shape[0] * (_receptive(tensor) if tensor.dim() == 4 else 1))),
        Mistake("no_receptive_field", "the kernel dimensions are ignored: for a convolution weight "
                "(out_channels, in_channels, *kernel) each output sums over in_channels * prod(kernel) inputs, "
                "so both fans are multiplied by the receptive field prod(shape[2:]).",
                lambda tensor: (tensor.shape[1], tensor.shape[0])),
        Mistake("fan_out_without_field", "fan_out lacks the receptive field: it is shape[0] * prod(shape[2:]), "
                "like fan_in is shape[1] * prod(shape[2:]).",
                lambda tensor: (tensor.shape[1] * _receptive(tensor), tensor.shape[0])),
        Mistake("two_d_kernels", "the receptive field counts two kernel dimensions only (shape[2] * shape[3]): a "
                "Conv3d weight has three, so take the product of all of shape[2:].",
                lambda tensor: (tensor.shape[1] * math.prod(tensor.shape[2:4]), tensor.shape[0] * math.prod(tensor.shape[2:4]))),
    ),
    hint="fan_in = shape[1] * prod(shape[2:]), fan_out = shape[0] * prod(shape[2:]); return them as a tuple of ints.",
))


# ---- 2. the recommended variances -----------------------------------------------------------

_SCHEMES = ("lecun", "xavier", "kaiming")


def _weight_variance(scheme, fan_in, fan_out, negative_slope=0.0):
    if scheme == "lecun":
        return init.lecun_variance(fan_in)
    if scheme == "xavier":
        return init.xavier_variance(fan_in, fan_out)
    if scheme == "kaiming":
        return init.kaiming_variance(fan_in, negative_slope)
    raise ValueError(f"unknown scheme {scheme!r}")


def _variance_wrong(kind: str):
    def wrong(scheme, fan_in, fan_out, negative_slope=0.0):
        if kind == "std":
            return math.sqrt(_weight_variance(scheme, fan_in, fan_out, negative_slope))
        if kind == "kaiming_fan_out" and scheme == "kaiming":
            return init.kaiming_variance(fan_out, negative_slope)
        if kind == "lecun_fan_out" and scheme == "lecun":
            return 1.0 / fan_out
        if kind == "xavier_no_2" and scheme == "xavier":
            return 1.0 / (fan_in + fan_out)
        if kind == "slope_ignored" and scheme == "kaiming":
            return 2.0 / fan_in
        if kind == "kaiming_no_2" and scheme == "kaiming":
            return 1.0 / ((1 + negative_slope**2) * fan_in)
        return _weight_variance(scheme, fan_in, fan_out, negative_slope)
    return wrong


def _variance_cases(hidden: bool) -> list[dict[str, Any]]:
    if not hidden:
        return [{"fan_in": 400, "fan_out": 100}]              # default slope 0: a plain ReLU
    return [
        {"fan_in": 256, "fan_out": 128},
        {"fan_in": 75, "fan_out": 400, "negative_slope": 0.01},
        {"fan_in": 1000, "fan_out": 10, "negative_slope": 0.5},
        {"fan_in": 3, "fan_out": 7, "negative_slope": 1.0},   # slope 1: a linear layer, variance 1/fan_in
    ]


register(Check(
    name="init.weight_variance",
    reference=_weight_variance,
    cases=_variance_cases,
    call=lambda f, case: {scheme: f(scheme, **case) for scheme in _SCHEMES},
    describe=lambda case: f"weight_variance(scheme, **{case}) for scheme in {_SCHEMES}",
    atol=1e-12,
    rtol=1e-9,
    mistakes=(
        Mistake("std", "these are standard deviations, not variances: V[w] has no square root "
                "(the std is its square root).", _variance_wrong("std")),
        Mistake("kaiming_fan_out", "Kaiming's forward condition uses fan_in (the number of inputs summed per unit), "
                "you used fan_out.", _variance_wrong("kaiming_fan_out")),
        Mistake("lecun_fan_out", "LeCun's variance is 1 / fan_in (the forward condition), you used fan_out.",
                _variance_wrong("lecun_fan_out")),
        Mistake("xavier_no_2", "Glorot's variance is 2 / (fan_in + fan_out), the harmonic mean of 1/fan_in and "
                "1/fan_out; the factor 2 is missing.", _variance_wrong("xavier_no_2")),
        Mistake("slope_ignored", "negative_slope is ignored: a leaky ReLU keeps (1 + a^2) / 2 of the second "
                "moment, so He's variance is 2 / ((1 + a^2) * fan_in).", _variance_wrong("slope_ignored")),
        Mistake("kaiming_no_2", "the factor 2 of He initialization is missing: a ReLU halves the second moment, "
                "so the weights need twice LeCun's variance, 2 / ((1 + a^2) * fan_in).",
                _variance_wrong("kaiming_no_2")),
        Mistake("default_slope", "negative_slope defaults to 0 (a plain ReLU), not to nn.LeakyReLU's 0.01.",
                lambda scheme, fan_in, fan_out, negative_slope=0.01: _weight_variance(scheme, fan_in, fan_out, negative_slope)),
    ),
    hint="lecun: 1 / fan_in; xavier: 2 / (fan_in + fan_out); kaiming: 2 / ((1 + negative_slope**2) * fan_in).",
))


# ---- 3 and 4. initializers, judged in distribution -------------------------------------------


def _statistics(fill: Callable[..., Any], case: dict[str, Any], std: float, bound: float | None) -> dict[str, Any]:
    shape, dtype, kwargs = case["shape"], case["dtype"], case["kwargs"]
    torch.manual_seed(case["seed"])
    draws, in_place, result = [], True, None
    numel = math.prod(shape)
    for _ in range(max(1, math.ceil(_MIN_DRAWS / numel))):
        tensor = torch.full(shape, math.nan, dtype=dtype)
        result = fill(tensor, **kwargs)
        if not isinstance(result, torch.Tensor):
            raise TypeError(f"the initializer should return the filled tensor, got {type(result).__name__}")
        in_place = in_place and bool(torch.isfinite(tensor).all())
        draws.append(result.detach().flatten().to(torch.float64))
    w = torch.cat(draws)
    stats: dict[str, Any] = {
        "shape": tuple(result.shape),
        "dtype": str(result.dtype),
        "filled in place": in_place,
        "mean / target std": (w.mean() / std).item(),
        "std / target std": (w.std() / std).item(),
        "fraction within 1 target std": (w.abs() <= std).double().mean().item(),
    }
    if bound is not None:
        largest = w.abs().max().item()
        stats["all |w| <= target bound"] = largest <= bound * (1 + 1e-6)
        stats["largest |w| reaches the bound (0.1%)"] = largest >= bound * (1 - 1e-3)
    return stats


def _describe_fill(name: str):
    def describe(case: dict[str, Any]) -> str:
        args = "".join(f", {k}={v!r}" for k, v in case["kwargs"].items())
        return (f"{name}(tensor{args}) on a {case['dtype']} tensor of shape {case['shape']}, "
                f"filled {max(1, math.ceil(_MIN_DRAWS / math.prod(case['shape'])))} times")
    return describe


def _fill_cases(visible: list[tuple], hidden: list[tuple]):
    def cases(is_hidden: bool) -> list[dict[str, Any]]:
        rows = hidden if is_hidden else visible
        return [{"shape": shape, "dtype": dtype, "kwargs": kwargs, "seed": i}
                for i, (shape, dtype, kwargs) in enumerate(rows)]
    return cases


def _xavier_target(case: dict[str, Any]) -> tuple[float, float]:
    fan_in, fan_out = init.fan_in_and_fan_out(torch.empty(case["shape"]))
    std = init.xavier_std(fan_in, fan_out, case["kwargs"].get("gain", 1.0))
    return std, init.uniform_bound(std)


def _xavier_reference(tensor, gain=1.0):
    return init.xavier_uniform_(tensor, gain=gain)


def _uniform_fill(tensor, bound):
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


def _xavier_wrong(kind: str):
    def wrong(tensor, gain=1.0):
        fan_in, fan_out = init.fan_in_and_fan_out(tensor)
        std = gain * math.sqrt(2.0 / (fan_in + fan_out))
        if kind == "no_sqrt3":
            return _uniform_fill(tensor, std)
        if kind == "variance_as_bound":
            return _uniform_fill(tensor, gain * 6.0 / (fan_in + fan_out))
        if kind == "gain_missing":
            return _uniform_fill(tensor, math.sqrt(6.0 / (fan_in + fan_out)))
        if kind == "fan_in_only":
            return _uniform_fill(tensor, gain * math.sqrt(3.0 / fan_in))
        if kind == "linear_fans":
            fan_in, fan_out = tensor.shape[1], tensor.shape[0]
            return _uniform_fill(tensor, gain * math.sqrt(6.0 / (fan_in + fan_out)))
        if kind == "normal":
            with torch.no_grad():
                return tensor.normal_(0.0, std)
        if kind == "not_in_place":
            return torch.empty_like(tensor).uniform_(-math.sqrt(3) * std, math.sqrt(3) * std)
        raise AssertionError(kind)
    return wrong


register(Check(
    name="init.xavier_uniform_",
    reference=_xavier_reference,
    cases=_fill_cases(
        visible=[((128, 300), torch.float32, {"gain": 5.0 / 3})],
        hidden=[
            ((256, 100), torch.float32, {}),
            ((16, 8, 3, 3), torch.float32, {"gain": math.sqrt(2.0)}),
            ((50, 200), torch.float64, {"gain": 0.5}),
            ((10, 6, 5), torch.float64, {"gain": 5.0 / 3}),
        ],
    ),
    call=lambda f, case: _statistics(f, case, *_xavier_target(case)),
    describe=_describe_fill("xavier_uniform_"),
    atol=0.025,
    rtol=0.0,
    mistakes=(
        Mistake("no_sqrt3", "the bound is the standard deviation: U(-a, a) has variance a^2 / 3, so for the std "
                "g * sqrt(2 / (fan_in + fan_out)) the bound is sqrt(3) times larger, g * sqrt(6 / (fan_in + fan_out)).",
                _xavier_wrong("no_sqrt3")),
        Mistake("variance_as_bound", "the square root is missing: 2 / (fan_in + fan_out) is the variance; the bound "
                "is g * sqrt(6 / (fan_in + fan_out)).", _xavier_wrong("variance_as_bound")),
        Mistake("gain_missing", "the gain is missing: multiply the bound by gain.", _xavier_wrong("gain_missing")),
        Mistake("fan_in_only", "only fan_in was used (that is LeCun's uniform bound); Glorot's bound uses both "
                "fans, g * sqrt(6 / (fan_in + fan_out)).", _xavier_wrong("fan_in_only")),
        Mistake("normal", "the values come from a normal distribution; xavier_uniform_ draws from U(-a, a), "
                "so no value may exceed the bound a.", _xavier_wrong("normal")),
        Mistake("not_in_place", "the tensor passed in was not filled: fill it in place (tensor.uniform_(...) "
                "inside torch.no_grad()) and return that same tensor, as torch.nn.init does.",
                _xavier_wrong("not_in_place")),
        Mistake("linear_fans", "the fans were read as for a Linear weight (shape[1], shape[0]); for a "
                "convolution both are multiplied by the receptive field prod(shape[2:]), as in part 1.",
                _xavier_wrong("linear_fans")),
    ),
    hint="a = gain * sqrt(6 / (fan_in + fan_out)); then tensor.uniform_(-a, a) under torch.no_grad(), and return tensor.",
))


def _kaiming_target(case: dict[str, Any]) -> tuple[float, None]:
    kwargs = case["kwargs"]
    fan_in, fan_out = init.fan_in_and_fan_out(torch.empty(case["shape"]))
    fan = fan_in if kwargs.get("mode", "fan_in") == "fan_in" else fan_out
    gain = init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"), kwargs.get("a", 0.0))
    return init.kaiming_std(fan, gain), None


def _kaiming_reference(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    return init.kaiming_normal_(tensor, a=a, mode=mode, nonlinearity=nonlinearity)


def _gain(nonlinearity, a):
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1 + a**2))
    return {"relu": math.sqrt(2.0), "tanh": 5.0 / 3, "linear": 1.0}[nonlinearity]


def _kaiming_wrong(kind: str):
    def wrong(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
        fan_in, fan_out = init.fan_in_and_fan_out(tensor)
        fan = fan_in if mode == "fan_in" else fan_out
        if kind == "always_fan_out":
            fan = fan_out
        if kind == "always_fan_in":
            fan = fan_in
        gain = _gain(nonlinearity, a)
        if kind == "slope_ignored" and nonlinearity == "leaky_relu":
            gain = math.sqrt(2.0)
        std = gain / math.sqrt(fan)
        if kind == "variance_as_std":
            std = gain**2 / fan
        if kind == "gain_missing":
            std = 1.0 / math.sqrt(fan)
        with torch.no_grad():
            if kind == "uniform":
                return tensor.uniform_(-math.sqrt(3) * std, math.sqrt(3) * std)
            return tensor.normal_(0.0, std)
    return wrong


register(Check(
    name="init.kaiming_normal_",
    reference=_kaiming_reference,
    cases=_fill_cases(
        visible=[((64, 300), torch.float32, {"a": 0.5})],
        hidden=[
            ((24, 8, 3, 3), torch.float32, {}),
            ((200, 100), torch.float32, {"mode": "fan_out", "nonlinearity": "relu"}),
            ((50, 40), torch.float64, {"nonlinearity": "tanh"}),
            ((30, 20, 5), torch.float64, {"a": 1.0, "mode": "fan_out"}),
            ((128, 500), torch.float32, {"nonlinearity": "linear"}),
        ],
    ),
    call=lambda f, case: _statistics(f, case, *_kaiming_target(case)),
    describe=_describe_fill("kaiming_normal_"),
    atol=0.025,
    rtol=0.0,
    mistakes=(
        Mistake("always_fan_out", "fan_out was used where mode='fan_in' asks for fan_in.",
                _kaiming_wrong("always_fan_out")),
        Mistake("always_fan_in", "mode is ignored: with mode='fan_out' the std is gain / sqrt(fan_out).",
                _kaiming_wrong("always_fan_in")),
        Mistake("variance_as_std", "gain^2 / fan is the variance, and you used it as the standard deviation: "
                "the std is its square root, gain / sqrt(fan).", _kaiming_wrong("variance_as_std")),
        Mistake("gain_missing", "the gain is missing: the std is gain / sqrt(fan), with gain sqrt(2 / (1 + a^2)) "
                "for a leaky ReLU, sqrt(2) for a ReLU, 5/3 for tanh and 1 for a linear layer.",
                _kaiming_wrong("gain_missing")),
        Mistake("slope_ignored", "the negative slope a is ignored: the leaky-ReLU gain is sqrt(2 / (1 + a^2)), "
                "not sqrt(2).", _kaiming_wrong("slope_ignored")),
        Mistake("uniform", "the values come from a uniform distribution; kaiming_normal_ draws from N(0, std^2).",
                _kaiming_wrong("uniform")),
    ),
    hint="std = gain / sqrt(fan), fan chosen by mode, gain = torch.nn.init.calculate_gain(nonlinearity, a); "
         "then tensor.normal_(0, std) under torch.no_grad(), and return tensor.",
))


# ---- 5. per-layer activation variances --------------------------------------------------------


def _layer_variances(model, x):
    with LayerStats(model, module_types=(nn.Linear,)) as stats, torch.no_grad():
        model(x)
    return [std**2 for std in stats.last("act_std").values()]


def _hooks_left(model: nn.Module) -> bool:
    return any(len(module._forward_hooks) or len(module._forward_pre_hooks) for module in model.modules())


def _run_variances(f: Callable[..., Any], case: dict[str, Any]) -> dict[str, Any]:
    model = mlp(case["sizes"], activation=case["activation"], seed=case["seed"])
    generator = torch.Generator().manual_seed(case["seed"] + 100)
    x = torch.randn(case["batch"], case["sizes"][0], generator=generator) * case["input_scale"]
    if case["dtype"] == torch.float64:
        model, x = model.double(), x.double()
    result = f(model, x)
    return {"variances": [float(v) for v in result], "hooks removed": not _hooks_left(model)}


def _variance_cases_5(hidden: bool) -> list[dict[str, Any]]:
    base = {"dtype": torch.float32, "input_scale": 1.0}
    if not hidden:
        return [{**base, "sizes": [6, 8, 8, 3], "activation": "relu", "batch": 16, "seed": 0}]
    return [
        {**base, "sizes": [10, *[16] * 10, 2], "activation": "tanh", "batch": 32, "seed": 1},  # 11 Linear layers
        {**base, "sizes": [5, 7, 1], "activation": "relu", "batch": 9, "seed": 2, "input_scale": 3.0},
        {**base, "sizes": [4, 12, 12, 12, 4], "activation": "sigmoid", "batch": 20, "seed": 3, "dtype": torch.float64},
        {**base, "sizes": [8, 8], "activation": "relu", "batch": 12, "seed": 4},
    ]


def _variances_wrong(kind: str):
    def wrong(model, x):
        outputs: list[torch.Tensor] = []
        watched = (nn.ReLU, nn.Tanh, nn.Sigmoid) if kind == "activations" else (nn.Linear,)
        if kind == "all_but_relu":
            chosen = [m for m in model.children() if not isinstance(m, nn.ReLU)]
        else:
            chosen = [m for m in model.modules() if isinstance(m, watched)]
        handles = [m.register_forward_hook(lambda m, i, o: outputs.append(o.detach())) for m in chosen]
        with torch.no_grad():
            model(x)
        if kind != "hooks_left":
            for handle in handles:
                handle.remove()
        if kind == "std":
            return [o.std(correction=0).item() for o in outputs]
        if kind == "unbiased":
            return [o.var().item() for o in outputs]
        if kind == "per_feature":
            return [o.var(dim=0, correction=0).mean().item() for o in outputs]
        if kind == "hidden_only":
            return [o.var(correction=0).item() for o in outputs[:-1]]
        if kind == "sorted_names":
            names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
            by_name = dict(zip(names, (o.var(correction=0).item() for o in outputs)))
            return [by_name[name] for name in sorted(by_name)]
        return [o.var(correction=0).item() for o in outputs]
    return wrong


register(Check(
    name="init.layer_variances",
    reference=_layer_variances,
    cases=_variance_cases_5,
    call=_run_variances,
    describe=lambda case: (f"layer_variances(mlp({case['sizes']}, activation={case['activation']!r}), x) with x of "
                           f"shape ({case['batch']}, {case['sizes'][0]}), {case['dtype']}"),
    atol=1e-9,
    rtol=2e-5,
    mistakes=(
        Mistake("std", "these are standard deviations; the question asks for variances (std squared).",
                _variances_wrong("std")),
        Mistake("unbiased", "you used the unbiased variance (torch's default correction=1); use the population "
                "variance over all entries of the output, var(correction=0).", _variances_wrong("unbiased")),
        Mistake("activations", "you measured the outputs of the activation functions; measure the outputs of the "
                "nn.Linear layers (the pre-activations h of the variance argument).", _variances_wrong("activations")),
        Mistake("per_feature", "you averaged per-unit variances (over the batch only); take the variance over all "
                "entries of the layer's output, batch and units together.", _variances_wrong("per_feature")),
        Mistake("hidden_only", "the last nn.Linear layer (the output layer) is missing: measure every nn.Linear.",
                _variances_wrong("hidden_only")),
        Mistake("hooks_left", "the forward hooks are still attached after your function returned: keep the handles "
                "that register_forward_hook returns and call handle.remove() on each.",
                _variances_wrong("hooks_left")),
        Mistake("sorted_names", "the variances are in the order of the layers' names sorted as text ('linear10' "
                "before 'linear2'); return them in the order the layers ran.", _variances_wrong("sorted_names")),
        Mistake("all_but_relu", "every layer except the nn.ReLU ones was measured, so a network with tanh or "
                "sigmoid activations reports those too: select the layers with isinstance(module, nn.Linear).",
                _variances_wrong("all_but_relu")),
    ),
    hint="register a forward hook on every nn.Linear that stores output.var(correction=0); run model(x) once under "
         "torch.no_grad(); remove the hooks; return the list in the order the layers ran.",
))


# ---- 6. the gain of any activation -------------------------------------------------------------

_GAIN_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu(0.2)": lambda z: F.leaky_relu(z, 0.2),
    "gelu": F.gelu,
    "silu": F.silu,
    "sigmoid": torch.sigmoid,
    "linear": lambda z: z,
    "selu": F.selu,
}


def standard_normal_moment(activation: Callable[[torch.Tensor], torch.Tensor], power: int = 2,
                           centred: bool = False) -> float:
    r""":math:`\mathbb E[f(z)^p]` for :math:`z \sim \mathcal N(0, 1)` (or the central moment), by quadrature.

    The trapezoid rule on 240 001 points of :math:`[-12, 12]` in float64: far below the
    tolerance of the check for any activation that grows at most linearly.
    """
    z = torch.linspace(-12.0, 12.0, 240_001, dtype=torch.float64)
    density = torch.exp(-z**2 / 2) / math.sqrt(2 * math.pi)
    values = activation(z)
    if centred:
        values = values - torch.trapezoid(values * density, z)
    return float(torch.trapezoid(values**power * density, z))


def _activation_gain(activation):
    return standard_normal_moment(activation) ** -0.5


def _gain_wrong(kind: str):
    def wrong(activation):
        if kind == "variance":
            return standard_normal_moment(activation, centred=True) ** -0.5
        if kind == "squared":
            return 1.0 / standard_normal_moment(activation)
        if kind == "inverted":
            return standard_normal_moment(activation) ** 0.5
        # "uniform_input": a uniform input of variance 1, U(-sqrt(3), sqrt(3))
        a = math.sqrt(3.0)
        z = torch.linspace(-a, a, 100_001, dtype=torch.float64)
        return float(torch.trapezoid(activation(z) ** 2, z) / (2 * a)) ** -0.5
    return wrong


register(Check(
    name="init.activation_gain",
    reference=_activation_gain,
    cases=lambda hidden: [{"activation": name} for name in (
        ["relu", "leaky_relu(0.2)", "gelu", "sigmoid", "linear", "selu"] if hidden else ["tanh"])],
    call=lambda f, case: float(f(_GAIN_ACTIVATIONS[case["activation"]])),
    describe=lambda case: f"activation_gain({case['activation']}), the activation as a function of a tensor",
    atol=1e-6,
    rtol=1e-4,
    mistakes=(
        Mistake("squared", "this is gain squared, 1 / E[f(z)^2]: the weights' standard deviation is "
                "gain / sqrt(fan_in), so the gain is 1 / sqrt(E[f(z)^2]).", _gain_wrong("squared")),
        Mistake("inverted", "this is sqrt(E[f(z)^2]), the factor by which the activation shrinks the second "
                "moment; the gain undoes it: 1 / sqrt(E[f(z)^2]).", _gain_wrong("inverted")),
        Mistake("uniform_input", "the pre-activation was taken to be uniform; the argument assumes z ~ N(0, 1) "
                "(a sum of many independent terms): weight f(z)^2 by the normal density.",
                _gain_wrong("uniform_input")),
        Mistake("variance", "you used the variance of f(z) instead of its second moment E[f(z)^2]: the next "
                "layer's pre-activation variance is fan_in * V[w] * E[x^2], and the outputs of an activation "
                "like the ReLU do not have mean 0 (for tanh the two agree).", _gain_wrong("variance")),
    ),
    hint="gain = 1 / sqrt(E[f(z)^2]) for z ~ N(0, 1); integrate f(z)^2 times the normal density numerically "
         "on a fine grid (torch.linspace(-12, 12, ...) and torch.trapezoid), in float64.",
    # the gain is what this part computes: here calculate_gain is torch's (and the course's) counterpart
    forbids=("torch.nn.init.calculate_gain", "course_lib.init.calculate_gain"),
))
