"""Checks for assignment 08_normalization: batch norm (training and evaluation), layer norm,
inverted dropout, and a ``BatchNorm1d`` module.

The functions are compared with ``torch.nn.functional`` value by value. Every case has one
channel (or one sample) with a standard deviation near 0.01, whose variance is comparable to
``eps``, so that putting ``eps`` in the wrong place changes the answer by far more than the
tolerance.

Dropout is random, and a student's random stream is not torch's, so it is judged by the
*structure* of its output on a large tensor without zeros (see :func:`dropout_summary`):
the ratio output / input where an entry was kept (it must be ``1 / (1 - p)`` exactly, to
rounding), whether the zeroed fraction is within five standard deviations of ``p``, whether
``training=False`` returns the input unchanged, and whether the input was left untouched.

The module is run through a short scenario (see :func:`run_batchnorm_module`): training
batches with a backward pass, evaluation on a batch and on a single sample, and its
``state_dict`` loaded into a fresh ``torch.nn.BatchNorm1d``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from course_lib import normalization
from course_lib.grading import Check, Mistake, register

# ---- shared inputs ----------------------------------------------------------------------------


def _scales(c: int) -> torch.Tensor:
    """Channel scales from 10 down to 0.01 (the last channel's variance is comparable to eps)."""
    return torch.logspace(1, -2, c, dtype=torch.float64) if c > 1 else torch.tensor([0.01], dtype=torch.float64)


def _shifts(c: int) -> torch.Tensor:
    # Means in proportion to each channel's scale: a channel with std 0.01 around 5 would lose
    # its digits to float32 rounding in x - mean, and correct answers would disagree.
    return _scales(c) * torch.linspace(-2.0, 3.0, c, dtype=torch.float64)


def _features(generator: torch.Generator, n: int, c: int, dtype: torch.dtype) -> torch.Tensor:
    """(n, c) inputs whose channels have different means and scales; the last one has std 0.01."""
    return (torch.randn(n, c, generator=generator, dtype=torch.float64) * _scales(c) + _shifts(c)).to(dtype)


def _affine(generator: torch.Generator, c: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    weight = (0.5 + torch.rand(c, generator=generator, dtype=torch.float64) * 1.5).to(dtype)
    bias = torch.randn(c, generator=generator, dtype=torch.float64).to(dtype)
    return weight, bias


def _running(generator: torch.Generator, c: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Running statistics as after some training: means near the channels', variances positive."""
    noise = torch.randn(c, generator=generator, dtype=torch.float64)
    mean = _shifts(c) + 0.3 * _scales(c) * noise
    var = _scales(c) ** 2 * (0.5 + torch.rand(c, generator=generator, dtype=torch.float64))
    return mean.to(dtype), var.to(dtype)


def _describe_tensors(case: dict[str, Any]) -> str:
    parts = []
    for key, value in case.items():
        if isinstance(value, torch.Tensor):
            parts.append(f"{key} of shape {tuple(value.shape)} ({value.dtype})")
        else:
            parts.append(f"{key}={value}")
    return ", ".join(parts)


# ---- 1. batch norm in training mode ------------------------------------------------------------


def _bn_train_cases(hidden: bool) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(801 if hidden else 81)
    # (batch size, channels, momentum, eps, dtype)
    configs = ([(16, 4, 0.1, 1e-5, torch.float32), (2, 3, 0.1, 1e-5, torch.float64), (64, 1, 0.3, 1e-3, torch.float32),
                (5, 6, 0.01, 1e-5, torch.float64), (32, 8, 0.5, 0.1, torch.float32)]
               if hidden else [(6, 3, 0.1, 1e-5, torch.float32)])
    cases = []
    for n, c, momentum, eps, dtype in configs:
        weight, bias = _affine(generator, c, dtype)
        running_mean, running_var = _running(generator, c, dtype)
        cases.append({"x": _features(generator, n, c, dtype), "running_mean": running_mean, "running_var": running_var,
                      "weight": weight, "bias": bias, "momentum": momentum, "eps": eps})
    if hidden:
        del cases[0]["momentum"], cases[0]["eps"]  # torch's defaults, momentum 0.1 and eps 1e-5
    return cases


def _bn_train(x, running_mean, running_var, weight, bias, momentum=0.1, eps=1e-5):
    running_mean, running_var = running_mean.clone(), running_var.clone()
    y = F.batch_norm(x, running_mean, running_var, weight, bias, training=True, momentum=momentum, eps=eps)
    return y, running_mean, running_var


def _bn_train_wrong(kind: str):
    def wrong(x, running_mean, running_var, weight, bias, momentum=0.1, eps=1e-5):
        m = x.shape[0]
        mean = x.mean(dim=0)
        var = x.var(dim=0, correction=0)
        unbiased = var * m / (m - 1)
        if kind == "fixed_defaults":
            momentum, eps = 0.1, 1e-5
        if kind == "momentum_swapped":
            new_mean = momentum * running_mean + (1 - momentum) * mean
            new_var = momentum * running_var + (1 - momentum) * unbiased
        else:
            new_mean = (1 - momentum) * running_mean + momentum * mean
            new_var = (1 - momentum) * running_var + momentum * (var if kind == "biased_running_var" else unbiased)
        if kind == "running_stats_in_training":
            mean, var = running_mean, running_var
        elif kind == "updated_running_stats_in_training":
            mean, var = new_mean, new_var
        elif kind == "unbiased_normalization":
            var = unbiased
        if kind == "eps_outside_sqrt":
            x_hat = (x - mean) / (torch.sqrt(var) + eps)
        else:
            x_hat = (x - mean) / torch.sqrt(var + eps)
        y = x_hat if kind == "no_affine" else weight * x_hat + bias
        return y, new_mean, new_var
    return wrong


register(Check(
    name="normalization.batch_norm_train",
    reference=_bn_train,
    cases=_bn_train_cases,
    call=lambda f, case: tuple(f(**case)),
    describe=_describe_tensors,
    mistakes=(
        Mistake("biased_running_var", "the running variance was updated with the biased batch variance (dividing "
                "by m); torch normalizes the batch with the biased one but feeds the UNBIASED one, var * m / (m - 1), "
                "into running_var.", _bn_train_wrong("biased_running_var")),
        Mistake("momentum_swapped", "momentum is applied the wrong way round: in torch the NEW batch statistic gets "
                "the weight momentum (0.1), the old running value 1 - momentum: "
                "running = (1 - momentum) * running + momentum * batch.", _bn_train_wrong("momentum_swapped")),
        Mistake("running_stats_in_training", "you normalized with the running statistics; in training mode the batch "
                "is normalized with its OWN mean and variance, and the running statistics are only updated.",
                _bn_train_wrong("running_stats_in_training")),
        Mistake("updated_running_stats_in_training", "you normalized with the updated running statistics; in "
                "training mode the batch is normalized with its own mean and (biased) variance.",
                _bn_train_wrong("updated_running_stats_in_training")),
        Mistake("eps_outside_sqrt", "eps was added to the standard deviation; torch adds it to the variance, inside "
                "the square root: (x - mean) / sqrt(var + eps).", _bn_train_wrong("eps_outside_sqrt")),
        Mistake("unbiased_normalization", "the batch was normalized with the unbiased variance (dividing by m - 1); "
                "normalization uses the biased one (dividing by m), only the running update uses the unbiased one.",
                _bn_train_wrong("unbiased_normalization")),
        Mistake("no_affine", "the scale weight (gamma) and shift bias (beta) were not applied: return "
                "weight * x_hat + bias.", _bn_train_wrong("no_affine")),
        Mistake("keras_defaults", "the defaults are torch's, momentum=0.1 and eps=1e-5, not those of Keras "
                "(momentum=0.99 there means 0.01 here, epsilon=1e-3).",
                lambda x, running_mean, running_var, weight, bias, momentum=0.01, eps=1e-3:
                _bn_train(x, running_mean, running_var, weight, bias, momentum, eps)),
        Mistake("fixed_defaults", "the numbers 0.1 and 1e-5 are written into the formulas: use the momentum and "
                "eps arguments, which a caller may set to other values.", _bn_train_wrong("fixed_defaults")),
    ),
    hint="Per channel (column): mean and biased variance over the batch (dim 0); y = weight * (x - mean) / "
         "sqrt(var + eps) + bias; running = (1 - momentum) * running + momentum * batch statistic, with the "
         "unbiased variance for running_var. Return (y, new_running_mean, new_running_var).",
))


# ---- 2. batch norm in evaluation mode ----------------------------------------------------------


def _bn_eval_cases(hidden: bool) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(802 if hidden else 82)
    configs = ([(16, 4, 1e-5, torch.float32), (1, 3, 1e-5, torch.float64), (7, 1, 1e-3, torch.float32),
                (40, 9, 0.1, torch.float64)] if hidden else [(5, 3, 1e-5, torch.float32)])
    cases = []
    for n, c, eps, dtype in configs:
        weight, bias = _affine(generator, c, dtype)
        running_mean, running_var = _running(generator, c, dtype)
        cases.append({"x": _features(generator, n, c, dtype), "running_mean": running_mean, "running_var": running_var,
                      "weight": weight, "bias": bias, "eps": eps})
    if hidden:
        del cases[0]["eps"]  # torch's default, 1e-5
    return cases


def _bn_eval(x, running_mean, running_var, weight, bias, eps=1e-5):
    return F.batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps)


def _bn_eval_wrong(kind: str):
    def wrong(x, running_mean, running_var, weight, bias, eps=1e-5):
        mean, var = running_mean, running_var
        if kind == "fixed_eps":
            eps = 1e-5
        if kind == "batch_statistics":
            mean, var = x.mean(dim=0), x.var(dim=0, correction=0)
        if kind == "eps_outside_sqrt":
            x_hat = (x - mean) / (torch.sqrt(var) + eps)
        elif kind == "no_sqrt":
            x_hat = (x - mean) / (var + eps)
        else:
            x_hat = (x - mean) / torch.sqrt(var + eps)
        return x_hat if kind == "no_affine" else weight * x_hat + bias
    return wrong


register(Check(
    name="normalization.batch_norm_eval",
    reference=_bn_eval,
    cases=_bn_eval_cases,
    describe=_describe_tensors,
    mistakes=(
        Mistake("batch_statistics", "you normalized with the statistics of the batch; in evaluation mode batch norm "
                "uses the running statistics, so that a sample's output does not depend on its batch.",
                _bn_eval_wrong("batch_statistics")),
        Mistake("eps_outside_sqrt", "eps was added to the standard deviation; torch adds it to the variance, inside "
                "the square root: (x - running_mean) / sqrt(running_var + eps).", _bn_eval_wrong("eps_outside_sqrt")),
        Mistake("no_sqrt", "you divided by the variance (running_var + eps) instead of the standard deviation "
                "sqrt(running_var + eps).", _bn_eval_wrong("no_sqrt")),
        Mistake("no_affine", "the scale weight (gamma) and shift bias (beta) were not applied.",
                _bn_eval_wrong("no_affine")),
        Mistake("keras_eps", "the default eps is torch's 1e-5, not Keras's epsilon=1e-3.",
                lambda x, running_mean, running_var, weight, bias, eps=1e-3:
                _bn_eval(x, running_mean, running_var, weight, bias, eps)),
        Mistake("fixed_eps", "eps = 1e-5 is written into the formula: use the eps argument, which a caller may "
                "set to another value.", _bn_eval_wrong("fixed_eps")),
    ),
    hint="y = weight * (x - running_mean) / sqrt(running_var + eps) + bias, per channel; nothing is updated.",
))


# ---- 3. layer norm -------------------------------------------------------------------------------


def _ln_cases(hidden: bool) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(803 if hidden else 83)
    shapes = [(8, 5), (1, 16), (3, 4, 6), (20, 2), (6, 32)] if hidden else [(4, 5)]
    epsilons = [1e-5, 1e-5, 1e-3, 1e-5, 0.1] if hidden else [1e-5]
    cases = []
    for i, (shape, eps) in enumerate(zip(shapes, epsilons)):
        dtype = torch.float64 if hidden and i % 2 else torch.float32
        h = shape[-1]
        # rows of very different scales; the first row's variance is comparable to eps
        row_scales = torch.logspace(-2, 1, math.prod(shape[:-1]), dtype=torch.float64).reshape(*shape[:-1], 1)
        pattern = torch.linspace(-2, 2, h, dtype=torch.float64)
        x = (torch.randn(shape, generator=generator, dtype=torch.float64) + pattern) * row_scales
        weight, bias = _affine(generator, h, dtype)
        cases.append({"x": x.to(dtype), "weight": weight, "bias": bias, "eps": eps})
    if hidden:
        del cases[0]["eps"]  # torch's default, 1e-5
    return cases


def _layer_norm(x, weight, bias, eps=1e-5):
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def _ln_wrong(kind: str):
    def wrong(x, weight, bias, eps=1e-5):
        dim = {"over_batch": 0, "second_dim": 1}.get(kind, -1)
        mean = x.mean(dim=dim, keepdim=True)
        var = x.var(dim=dim, keepdim=True, correction=1 if kind == "unbiased" else 0)
        if kind == "eps_outside_sqrt":
            x_hat = (x - mean) / (torch.sqrt(var) + eps)
        else:
            x_hat = (x - mean) / torch.sqrt(var + eps)
        return weight * x_hat + bias
    return wrong


register(Check(
    name="normalization.layer_norm",
    reference=_layer_norm,
    cases=_ln_cases,
    describe=_describe_tensors,
    mistakes=(
        Mistake("over_batch", "the statistics were taken over the batch (dim 0), as batch norm does; layer norm "
                "normalizes each sample over its features, the LAST dimension.", _ln_wrong("over_batch")),
        Mistake("unbiased", "you used the unbiased variance (torch's default correction=1); layer norm divides by "
                "the number of features: x.var(dim=-1, correction=0).", _ln_wrong("unbiased")),
        Mistake("eps_outside_sqrt", "eps was added to the standard deviation; torch adds it to the variance, inside "
                "the square root.", _ln_wrong("eps_outside_sqrt")),
        Mistake("keras_eps", "the default eps is torch's 1e-5, not Keras's epsilon=1e-3.",
                lambda x, weight, bias, eps=1e-3: _layer_norm(x, weight, bias, eps)),
        Mistake("second_dim", "the statistics were taken over dim=1, which is the feature dimension only for 2-D "
                "inputs; for (batch, tokens, features) layer norm normalizes over the LAST dimension, dim=-1.",
                _ln_wrong("second_dim")),
    ),
    hint="mean and variance over the last dimension (keepdim=True, correction=0); y = weight * (x - mean) / "
         "sqrt(var + eps) + bias. Inputs may have more than two dimensions.",
))


# ---- 4. inverted dropout ---------------------------------------------------------------------------

_KEPT = "output / input where kept (min, max)"
_FRACTION = "fraction zeroed within 5 standard errors of p"
_EVAL = "training=False returns the input"
_UNTOUCHED = "input left unchanged"
_SHAPE = "shape and dtype of the output"
_REPRODUCIBLE = "the same generator seed gives the same output"


def dropout_summary(f, case: dict[str, Any]) -> dict[str, Any]:
    """What the dropout check compares: the structure of ``f``'s output, not its random mask.

    ``f(x, p, training=True, generator=g)`` runs on ``case["x"]`` (no zero entries) with a
    generator seeded by ``case["seed"]``, and ``f(x, p, training=False)`` once more.
    """
    x, p = case["x"], case["p"]
    original = x.clone()
    if case.get("reproducible"):
        torch.manual_seed(case["seed"])  # the global stream is in another state at the second call below
    y = f(x, p, training=True, generator=torch.Generator().manual_seed(case["seed"]))
    untouched = bool(torch.equal(x, original))
    x = original.clone()
    summary: dict[str, Any] = {_SHAPE: (tuple(y.shape), str(y.dtype)), _UNTOUCHED: untouched}
    kept = y != 0
    ratios = (y[kept] / x[kept]).double()
    summary[_KEPT] = (ratios.min().item(), ratios.max().item()) if ratios.numel() else "nothing kept"
    n = x.numel()
    fraction = 1.0 - kept.double().mean().item()
    tolerance = 5 * math.sqrt(p * (1 - p) / n) + 1.0 / n
    summary[_FRACTION] = abs(fraction - p) <= tolerance
    y_eval = f(x, p, training=False, generator=torch.Generator().manual_seed(case["seed"]))
    summary[_EVAL] = isinstance(y_eval, torch.Tensor) and y_eval.shape == x.shape and bool(torch.equal(y_eval, x))
    if case.get("reproducible"):
        torch.manual_seed(case["seed"] + 1)
        again = f(x, p, training=True, generator=torch.Generator().manual_seed(case["seed"]))
        summary[_REPRODUCIBLE] = bool(torch.equal(again, y))
    return summary


def _dropout_cases(hidden: bool) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(804 if hidden else 84)
    configs = ([((200, 100), 0.3, torch.float32), ((50, 40, 10), 0.1, torch.float64), ((20000,), 0.8, torch.float32),
                ((100, 100), 0.0, torch.float32), ((64, 256), 0.45, torch.float64)]
               if hidden else [((100, 100), 0.2, torch.float32)])
    cases = []
    for i, (shape, p, dtype) in enumerate(configs):
        magnitude = 0.5 + torch.rand(shape, generator=generator, dtype=torch.float64)
        sign = torch.where(torch.rand(shape, generator=generator) < 0.5, -1.0, 1.0).to(torch.float64)
        # the hidden cases also check that the random numbers come from the generator passed in
        cases.append({"x": (magnitude * sign).to(dtype), "p": p, "seed": 1000 * (1 + hidden) + i,
                      "reproducible": hidden})
    return cases


def _dropout_wrong(kind: str):
    def wrong(x, p, training=True, generator=None):
        if not training and kind != "active_in_eval":
            return x
        keep_probability = p if kind == "p_is_keep_probability" else 1 - p
        if kind == "global_generator":
            generator = None
        mask = (torch.rand(x.shape, generator=generator, dtype=torch.float64) < keep_probability).to(x.dtype)
        if kind == "no_scaling":
            return x * mask
        if kind == "scale_by_keep_probability":
            return x * mask * (1 - p)
        if kind == "in_place":
            return x.mul_(mask / (1 - p))
        if kind == "float32":
            return x.float() * mask.float() / (1 - p)
        return x * mask / (1 - p)
    return wrong


register(Check(
    name="normalization.dropout",
    reference=normalization.dropout,
    cases=_dropout_cases,
    call=dropout_summary,
    describe=lambda case: (f"x of shape {tuple(case['x'].shape)} ({case['x'].dtype}, no zero entries), p={case['p']}, "
                           f"generator=torch.Generator().manual_seed({case['seed']})"),
    rtol=1e-5,
    mistakes=(
        Mistake("no_scaling", "the kept values were not scaled up: inverted dropout multiplies them by 1 / (1 - p), "
                "so that the expected output equals the input.", _dropout_wrong("no_scaling")),
        Mistake("active_in_eval", "dropout is still active with training=False; in evaluation mode dropout is the "
                "identity and must return x unchanged.", _dropout_wrong("active_in_eval")),
        Mistake("p_is_keep_probability", "about a fraction 1 - p of the entries was zeroed: p is the probability "
                "of DROPPING a unit (torch's convention), so keep each entry with probability 1 - p.",
                _dropout_wrong("p_is_keep_probability")),
        Mistake("scale_by_keep_probability", "the kept values were multiplied by (1 - p); inverted dropout DIVIDES "
                "them by (1 - p) during training (scaling by 1 - p at test time is the original, non-inverted form).",
                _dropout_wrong("scale_by_keep_probability")),
        Mistake("in_place", "your function changed its input x in place; return a new tensor (x * mask / (1 - p)) "
                "and leave x alone.", _dropout_wrong("in_place")),
        Mistake("float32", "the output is float32 for a float64 input: keep the input's dtype (make the mask with "
                "dtype=x.dtype, or multiply x by a boolean mask).", _dropout_wrong("float32")),
        Mistake("global_generator", "the mask does not come from the generator passed in (torch's global random "
                "stream was used), so the same seed does not give the same mask: draw with "
                "torch.rand(x.shape, generator=generator).", _dropout_wrong("global_generator")),
    ),
    hint="Draw a mask that keeps each entry with probability 1 - p, e.g. torch.rand(x.shape, generator=generator) "
         ">= p, and return x * mask / (1 - p) in training; return x itself when training is False.",
))


# ---- 5. a BatchNorm1d module ---------------------------------------------------------------------


def run_batchnorm_module(module_class, case: dict[str, Any]) -> dict[str, Any]:
    """Build the module, train it on a few batches (with a backward pass), evaluate it, and
    load its ``state_dict`` into a fresh ``torch.nn.BatchNorm1d``.

    Returns:
        A dict of what is compared: names of parameters and buffers, training outputs and
        the gradient of a loss with respect to the inputs, the buffers after training,
        evaluation outputs (on a batch and on one sample), and the result of loading the
        state_dict into torch's module.
    """
    c, kwargs = case["num_features"], case["kwargs"]
    module = module_class(c, **kwargs)
    if case["dtype"] == torch.float64:
        module = module.double()
    names = (sorted(name for name, _ in module.named_parameters()), sorted(name for name, _ in module.named_buffers()))
    module.train()
    outputs, gradients = [], []
    for batch, upstream in zip(case["batches"], case["upstreams"]):
        x = batch.clone().requires_grad_()
        y = module(x)
        (grad,) = torch.autograd.grad((y * upstream).sum(), x)
        outputs.append(y.detach())
        gradients.append(grad)
    state = module.state_dict()
    tracked = state.get("num_batches_tracked")
    module.eval()
    with torch.no_grad():
        evaluation = module(case["eval_batch"])
        single = module(case["eval_batch"][:1])
    fresh = nn.BatchNorm1d(c, **kwargs).to(case["dtype"])
    incompatible = fresh.load_state_dict(state, strict=False)
    fresh.eval()
    with torch.no_grad():
        reloaded = fresh(case["eval_batch"])
    return {
        "parameter and buffer names": names,
        "training outputs": outputs,
        "input gradients": gradients,
        "running_mean after training": state.get("running_mean"),
        "running_var after training": state.get("running_var"),
        "num_batches_tracked after training": None if tracked is None else int(tracked),
        "evaluation output": evaluation,
        "evaluation output of a single sample": single,
        "state_dict loaded into torch.nn.BatchNorm1d: (missing keys, unexpected keys)":
            (sorted(incompatible.missing_keys), sorted(incompatible.unexpected_keys)),
        "torch.nn.BatchNorm1d with your state_dict, evaluation output": reloaded,
    }


def _module_cases(hidden: bool) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(805 if hidden else 85)
    # (channels, kwargs, batch sizes, dtype)
    configs = ([(4, {}, (16, 16, 8, 16), torch.float32), (1, {"momentum": 0.3}, (2, 5, 3), torch.float64),
                (7, {"eps": 1e-3, "momentum": 0.05}, (32, 32), torch.float32),
                (3, {"momentum": 0.5, "eps": 0.1}, (6, 6, 6, 6, 6), torch.float64)]
               if hidden else [(3, {}, (8, 8, 8), torch.float32)])
    cases = []
    for c, kwargs, sizes, dtype in configs:
        batches = [_features(generator, n, c, dtype) for n in sizes]
        upstreams = [torch.randn(n, c, generator=generator, dtype=torch.float64).to(dtype) for n in sizes]
        cases.append({"num_features": c, "kwargs": kwargs, "dtype": dtype, "batches": batches,
                      "upstreams": upstreams, "eval_batch": _features(generator, 5, c, dtype)})
    return cases


def batchnorm_like(kind: str = "") -> type[nn.Module]:
    """A module like ``torch.nn.BatchNorm1d`` with one deliberate bug, named by ``kind``."""

    class BatchNormLike(nn.Module):
        def __init__(self, num_features, eps=1e-5, momentum=0.1):
            super().__init__()
            self.eps, self.momentum = (1e-5, 0.1) if kind == "ignores_arguments" else (eps, momentum)
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
            if kind == "plain_attributes":
                self.running_mean = torch.zeros(num_features)
                self.running_var = torch.ones(num_features)
            else:
                self.register_buffer("running_mean", torch.zeros(num_features))
                self.register_buffer("running_var", torch.ones(num_features))
            if kind != "no_num_batches_tracked":
                self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

        def forward(self, x):
            if self.training or kind == "batch_statistics_in_eval":
                m = x.shape[0]
                mean, var = x.mean(dim=0), x.var(dim=0, correction=0)
                if kind == "detached_statistics":
                    mean, var = mean.detach(), var.detach()
                if self.training:
                    with torch.no_grad():
                        unbiased = var * m / (m - 1)
                        new_var = var if kind == "biased_running_var" else unbiased
                        if kind == "momentum_swapped":
                            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mean
                            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * new_var
                        else:
                            self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean
                            self.running_var = (1 - self.momentum) * self.running_var + self.momentum * new_var
                        if kind != "no_num_batches_tracked":
                            self.num_batches_tracked += 1
            else:
                mean, var = self.running_mean, self.running_var
            return self.weight * (x - mean) / torch.sqrt(var + self.eps) + self.bias

    return BatchNormLike


register(Check(
    name="normalization.BatchNorm1d",
    reference=nn.BatchNorm1d,
    cases=_module_cases,
    call=run_batchnorm_module,
    describe=lambda case: (f"BatchNorm1d({case['num_features']}" + "".join(f", {k}={v}" for k, v in case["kwargs"].items())
                           + f") in {case['dtype']}; training on batches of sizes {[len(b) for b in case['batches']]} "
                           "with a backward pass each, then evaluation on 5 samples and on 1, then its state_dict "
                           "loaded into a fresh torch.nn.BatchNorm1d"),
    mistakes=(
        Mistake("plain_attributes", "running_mean and running_var are plain attributes, not buffers, so they are "
                "missing from state_dict() (and .to()/.double() do not move them): create them with "
                "self.register_buffer('running_mean', torch.zeros(num_features)) and the like.",
                batchnorm_like("plain_attributes")),
        Mistake("batch_statistics_in_eval", "in evaluation mode (self.training is False) the module still used the "
                "batch statistics; it must use running_mean and running_var.", batchnorm_like("batch_statistics_in_eval")),
        Mistake("biased_running_var", "running_var was updated with the biased batch variance; feed the unbiased one, "
                "var * m / (m - 1), into the running average.", batchnorm_like("biased_running_var")),
        Mistake("momentum_swapped", "momentum is applied the wrong way round: the new batch statistic gets the weight "
                "momentum, the old running value 1 - momentum.", batchnorm_like("momentum_swapped")),
        Mistake("detached_statistics", "the batch mean and variance were detached from the graph, so the gradient "
                "with respect to the input is wrong: backpropagation must go through the batch statistics too.",
                batchnorm_like("detached_statistics")),
        Mistake("no_num_batches_tracked", "there is no num_batches_tracked buffer: torch's BatchNorm1d counts the "
                "training batches in a long 0-dim buffer, and its state_dict expects it.",
                batchnorm_like("no_num_batches_tracked")),
        Mistake("ignores_arguments", "the module ignores its eps and momentum arguments (it always uses torch's "
                "defaults 1e-5 and 0.1): store the values passed to __init__ and use them in forward.",
                batchnorm_like("ignores_arguments")),
    ),
    hint="Parameters weight (ones) and bias (zeros); buffers running_mean (zeros), running_var (ones) and "
         "num_batches_tracked (torch.tensor(0, dtype=torch.long)) via register_buffer. In forward, branch on "
         "self.training; update the buffers under torch.no_grad() but let autograd see the batch statistics.",
))


# ---- 6. batch norm's backward pass, by hand --------------------------------------------------------


def _bn_backward_cases(hidden: bool) -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(806 if hidden else 86)
    # (shape, eps, dtype): 2-D (batch, channels) and 4-D (batch, channels, height, width) inputs
    configs = ([((16, 4), 1e-5, torch.float32), ((4, 3, 5, 5), 1e-5, torch.float64), ((2, 3), 1e-3, torch.float64),
                ((8, 2, 3, 4), 0.1, torch.float32), ((3, 5, 2, 2), 1e-5, torch.float64)]
               if hidden else [((10, 3), 1e-5, torch.float64)])
    cases = []
    for shape, eps, dtype in configs:
        c = shape[1]
        per_channel = (1, c) + (1,) * (len(shape) - 2)
        x = (torch.randn(shape, generator=generator, dtype=torch.float64) * _scales(c).reshape(per_channel)
             + _shifts(c).reshape(per_channel))
        weight, _ = _affine(generator, c, dtype)
        grad_output = torch.randn(shape, generator=generator, dtype=torch.float64)
        cases.append({"grad_output": grad_output.to(dtype), "x": x.to(dtype), "weight": weight, "eps": eps})
    return cases


def _bn_backward(grad_output, x, weight, eps=1e-5):
    x = x.detach().clone().requires_grad_()
    weight = weight.detach().clone().requires_grad_()
    bias = torch.zeros_like(weight, requires_grad=True)
    y = F.batch_norm(x, None, None, weight, bias, training=True, eps=eps)
    return torch.autograd.grad(y, (x, weight, bias), grad_output)


def _bn_backward_wrong(kind: str):
    def wrong(grad_output, x, weight, eps=1e-5):
        per_channel = (1, -1) + (1,) * (x.dim() - 2)
        if kind == "unbiased_variance":
            leaf = x.detach().clone().requires_grad_()
            gamma = weight.detach().clone().requires_grad_()
            beta = torch.zeros_like(gamma, requires_grad=True)
            dims = (0, *range(2, x.dim()))
            mean = leaf.mean(dim=dims, keepdim=True)
            x_hat = (leaf - mean) / torch.sqrt(leaf.var(dim=dims, keepdim=True, correction=1) + eps)
            y = gamma.reshape(per_channel) * x_hat + beta.reshape(per_channel)
            return torch.autograd.grad(y, (leaf, gamma, beta), grad_output)
        if kind == "batch_axis_only":
            dims, m = (0,), x.shape[0]  # one statistic per (channel, row, column) of a 4-D input
        else:
            dims, m = (0, *range(2, x.dim())), x.numel() // x.shape[1]
        inv_std = 1 / torch.sqrt(x.var(dim=dims, keepdim=True, correction=0) + eps)
        x_hat = (x - x.mean(dim=dims, keepdim=True)) * inv_std
        grad_bias = grad_output.sum(dim=dims, keepdim=True)
        grad_x_hat_sum = (grad_output * x_hat).sum(dim=dims, keepdim=True)
        grad_weight = (grad_output * x).sum(dim=dims, keepdim=True) if kind == "grad_weight_from_x" else grad_x_hat_sum
        scale = inv_std if kind == "no_gamma" else weight.reshape(per_channel) * inv_std
        if kind == "statistics_as_constants":
            grad_input = scale * grad_output
        elif kind == "mean_path_only":
            grad_input = scale * (grad_output - grad_bias / m)
        else:
            grad_input = scale / m * (m * grad_output - grad_bias - x_hat * grad_x_hat_sum)
        if kind == "batch_axis_only":
            return grad_input, grad_weight.squeeze(0), grad_bias.squeeze(0)
        return grad_input, grad_weight.reshape(-1), grad_bias.reshape(-1)
    return wrong


register(Check(
    name="normalization.batch_norm_backward",
    reference=_bn_backward,
    cases=_bn_backward_cases,
    call=lambda f, case: tuple(f(**case)),
    describe=_describe_tensors,
    mistakes=(
        Mistake("statistics_as_constants", "the batch mean and variance were treated as constants "
                "(grad_input = weight * grad_output / sqrt(var + eps)); they depend on every sample of the batch, "
                "and the gradient flows through them too.", _bn_backward_wrong("statistics_as_constants")),
        Mistake("mean_path_only", "only the path through the mean is there: the variance depends on the inputs as "
                "well, which adds the term - x_hat * sum(grad_output * x_hat) / m.",
                _bn_backward_wrong("mean_path_only")),
        Mistake("unbiased_variance", "this is the gradient of a batch norm with the unbiased variance (dividing by "
                "m - 1); training-mode batch norm normalizes with the biased one (dividing by m).",
                _bn_backward_wrong("unbiased_variance")),
        Mistake("no_gamma", "the scale weight (gamma) is missing from grad_input: y = gamma * x_hat + beta, so "
                "every path to x is multiplied by gamma.", _bn_backward_wrong("no_gamma")),
        Mistake("grad_weight_from_x", "grad_weight sums grad_output * x; the weight multiplies the NORMALIZED "
                "input, so grad_weight = sum(grad_output * x_hat).", _bn_backward_wrong("grad_weight_from_x")),
        Mistake("batch_axis_only", "the sums and statistics run over the batch axis only; for an input of shape "
                "(N, C, H, W) batch norm has one mean and variance per channel, over N, H and W together "
                "(m = N * H * W values).", _bn_backward_wrong("batch_axis_only")),
    ),
    hint="Sums and statistics run over every axis but the channel axis 1 (m = N * H * W values per channel for "
         "images); x reaches the loss through x_hat, through the mean and through the variance. Compare with "
         "torch.autograd.grad on a small input of your own to find which path is off.",
    # the backward pass is what this part computes: autograd is its counterpart
    forbids=("torch.autograd", "torch.Tensor.backward", "torch.func"),
))
