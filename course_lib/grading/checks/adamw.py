"""Checks for assignment 05_adamw: an AdamW step and class, param groups without decay, gradient clipping.

The AdamW class is trained next to ``torch.optim.AdamW`` with param groups of their own
learning rate and weight decay, and its ``state_dict`` is saved and reloaded into a fresh
instance halfway (see :func:`course_lib.grading.checks.adaptive.run_optimizer`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from course_lib.grading import Check, Mistake, register
from course_lib.grading.checks.adaptive import (
    adam_like,
    adam_step_cases,
    describe_optimizer_case,
    optimizer_cases,
    run_optimizer,
)
from course_lib.models import mlp
from course_lib.optim import adamw_update

# ---- 1. one AdamW step ------------------------------------------------------------------------


def _adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    state = {"step": torch.tensor(float(step - 1)), "exp_avg": exp_avg.clone(), "exp_avg_sq": exp_avg_sq.clone()}
    param = param.clone()
    adamw_update(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    return param, state["exp_avg"], state["exp_avg_sq"]


def _adamw_cases(hidden: bool) -> list[dict[str, Any]]:
    # the Adam cases of assignment 04 with a weight decay each; lr * weight_decay is large
    # enough that every misplaced decay moves the parameters by more than the tolerance
    decays = [0.1, 0.5, None, 1.0, 0.2] if hidden else [0.1]
    lrs = [0.05, 0.01, 0.1, 0.02, 0.05] if hidden else [0.05]
    # None: weight_decay left at its default (0.01, as torch.optim.AdamW's)
    return [{**case, "lr": lr, **({"weight_decay": wd} if wd is not None else {})}
            for case, lr, wd in zip(adam_step_cases(hidden), lrs, decays)]


def _adam_then(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps):
    m = beta1 * exp_avg + (1 - beta1) * grad
    v = beta2 * exp_avg_sq + (1 - beta2) * grad * grad
    update = (m / (1 - beta1**step)) / ((v / (1 - beta2**step)).sqrt() + eps)
    return param - lr * update, m, v


def _adamw_wrong(kind: str):
    def wrong(param, grad, exp_avg, exp_avg_sq, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        if kind == "l2":
            return _adam_then(param, grad + weight_decay * param, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps)
        if kind == "after":
            new, m, v = _adam_then(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps)
            return new * (1 - lr * weight_decay), m, v
        if kind == "no_lr":
            return _adam_then(param * (1 - weight_decay), grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps)
        return _adam_then(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps)
    return wrong


register(Check(
    name="adamw.adamw_step",
    reference=_adamw_step,
    cases=_adamw_cases,
    call=lambda f, case: tuple(f(**case)),
    mistakes=(
        Mistake("adam_l2", "weight_decay * param was added to the gradient (Adam + L2); AdamW decouples it: "
                "shrink the parameter by (1 - lr * weight_decay) and give Adam the plain gradient.",
                _adamw_wrong("l2")),
        Mistake("decay_after_step", "the decay was applied after the Adam step, to the NEW parameters; "
                "AdamW shrinks the old parameters first, then takes the Adam step.", _adamw_wrong("after")),
        Mistake("decay_not_times_lr", "the parameter was multiplied by (1 - weight_decay); torch's AdamW "
                "multiplies the decay by the learning rate: (1 - lr * weight_decay).", _adamw_wrong("no_lr")),
        Mistake("default_no_decay", "the default weight_decay is torch.optim.AdamW's 0.01, not 0 (Adam's).",
                lambda param, grad, exp_avg, exp_avg_sq, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0:
                _adamw_step(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay)),
        Mistake("no_decay", "there is no weight decay at all: AdamW first multiplies the parameter by "
                "(1 - lr * weight_decay).", _adamw_wrong("none")),
    ),
    hint="param <- param * (1 - lr * weight_decay); then the Adam step of assignment 4 with the plain gradient.",
))


# ---- 2. an AdamW optimizer class --------------------------------------------------------------


def _adamw_class_cases(hidden: bool) -> list[dict[str, Any]]:
    if not hidden:
        # no weight_decay given: the class's default (0.01, as torch's) is part of the check
        return optimizer_cases(False, seed=8, kwargs_list=[{"lr": 0.05}],
                               groups_list=[[{"indices": [0]}, {"indices": [1], "weight_decay": 0.0}]])
    kwargs_list = [{"lr": 0.05, "weight_decay": 0.1}, {"lr": 0.02, "betas": (0.8, 0.99), "weight_decay": 0.5},
                   {"lr": 0.1, "eps": 1e-6}, {"lr": 0.01, "weight_decay": 0.2}]
    groups_list = [
        [{"indices": [0]}, {"indices": [1], "weight_decay": 0.0}],
        None,
        None,
        [{"indices": [0, 2], "lr": 0.05, "weight_decay": 1.0}, {"indices": [1], "weight_decay": 0.0, "lr": 0.003}],
    ]
    return optimizer_cases(True, seed=808, kwargs_list=kwargs_list, groups_list=groups_list)


register(Check(
    name="adamw.AdamW",
    reference=torch.optim.AdamW,
    cases=_adamw_class_cases,
    call=run_optimizer,
    describe=describe_optimizer_case,
    mistakes=(
        Mistake("adam_l2", "weight decay went into the gradient (Adam + L2), where AdamW was asked: shrink each "
                "parameter by (1 - lr * weight_decay) and give Adam the plain gradient.",
                adam_like(decay="l2", default_weight_decay=0.01)),
        Mistake("decay_after_step", "the decay was applied after the Adam step, to the NEW parameters; shrink "
                "the old parameters first, then take the Adam step.",
                adam_like(decay="after", default_weight_decay=0.01)),
        Mistake("decay_not_times_lr", "the parameters were multiplied by (1 - weight_decay); torch's AdamW "
                "multiplies the decay by the learning rate: (1 - lr * weight_decay).",
                adam_like(decay="no_lr", default_weight_decay=0.01)),
        Mistake("ignores_groups", "every parameter used the constructor's settings: read lr, betas, eps and "
                "weight_decay from each param group, so that e.g. biases can have weight_decay 0.",
                adam_like(decay="decoupled", use_groups=False, default_weight_decay=0.01)),
        Mistake("default_no_decay", "the default weight_decay is 0; torch.optim.AdamW's default is 0.01.",
                adam_like(decay="decoupled", default_weight_decay=0.0)),
        Mistake("state_outside", "the moments are not in self.state, so state_dict() does not save them and "
                "training restarts from zero moments after loading; keep them in self.state[p].",
                adam_like(decay="decoupled", state_outside=True, default_weight_decay=0.01)),
        Mistake("group_decay_only", "only weight_decay is read from each param group; lr, betas and eps came from the "
                "constructor: a group may set any of them.",
                adam_like(decay="decoupled", use_groups="decay_only", default_weight_decay=0.01)),
    ),
    hint="losses[k] is the loss before step k+1; the optimizer's state_dict is saved and loaded into a new "
         "instance after `resume_at` steps. Signature and defaults as torch.optim.AdamW: "
         "AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2).",
))


# ---- 3. param groups: no decay for biases and normalization weights ----------------------------


class _Tagger(nn.Module):
    """Embedding -> LayerNorm -> Linear without bias -> Linear: the parameters of a small text model."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(10, 4)
        self.norm = nn.LayerNorm(4)
        self.hidden = nn.Linear(4, 3, bias=False)
        self.head = nn.Linear(3, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.hidden(self.norm(self.embedding(tokens)))))


_MODELS = {
    "mlp_layernorm": lambda: mlp([3, 5, 1], layer_norm=True, seed=0),
    "mlp_batchnorm": lambda: mlp([4, 8, 8, 2], batch_norm=True, seed=1),
    "mlp_plain": lambda: mlp([3, 4, 1], seed=2),
    "mlp_batchnorm_no_bias": lambda: mlp([4, 6, 2], batch_norm=True, bias=False, seed=3),
    "tagger": _Tagger,
}

_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def _split(model: nn.Module, *, norm_decays: bool = False, bias_decays: bool = False, norms: tuple[type, ...] = _NORMS):
    decay, no_decay = [], []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            is_norm = isinstance(module, norms)
            is_bias = name == "bias"
            skip = (is_norm and not norm_decays) or (is_bias and not is_norm and not bias_decays)
            (no_decay if skip else decay).append(param)
    return decay, no_decay


def _param_groups(model, weight_decay):
    decay, no_decay = _split(model)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _groups_call(f, case: dict[str, Any]) -> dict[str, float]:
    """The weight decay each named parameter gets when AdamW is built from the returned groups."""
    model = _MODELS[case["model"]]()
    names = {id(p): name for name, p in model.named_parameters()}
    groups = f(model, case["weight_decay"])
    optimizer = torch.optim.AdamW(groups, lr=1e-3)
    return {names[id(p)]: float(group["weight_decay"]) for group in optimizer.param_groups for p in group["params"]}


def _groups_cases(hidden: bool) -> list[dict[str, Any]]:
    if not hidden:
        return [{"model": "mlp_layernorm", "weight_decay": 0.1}]
    return [{"model": "mlp_batchnorm", "weight_decay": 0.05}, {"model": "tagger", "weight_decay": 0.1},
            {"model": "mlp_plain", "weight_decay": 0.01}, {"model": "mlp_batchnorm_no_bias", "weight_decay": 0.3}]


register(Check(
    name="adamw.param_groups",
    reference=_param_groups,
    cases=_groups_cases,
    call=_groups_call,
    describe=lambda case: f"model={case['model']} ({_MODELS[case['model']]().__class__.__name__}), "
                          f"weight_decay={case['weight_decay']}",
    mistakes=(
        Mistake("only_biases", "only the biases were exempted: the weights of normalization layers "
                "(BatchNorm, LayerNorm) must not be decayed either.",
                lambda model, weight_decay: [
                    {"params": _split(model, norm_decays=True)[0], "weight_decay": weight_decay},
                    {"params": _split(model, norm_decays=True)[1], "weight_decay": 0.0}]),
        Mistake("missing_zero", "the no-decay group has no 'weight_decay': 0.0, so it inherits the optimizer's "
                "default (0.01 in AdamW); set it explicitly.",
                lambda model, weight_decay: [
                    {"params": _split(model)[0], "weight_decay": weight_decay}, {"params": _split(model)[1]}]),
        Mistake("decay_everything", "every parameter is decayed: biases and normalization weights belong in a "
                "second group with weight_decay 0.",
                lambda model, weight_decay: [{"params": list(model.parameters()), "weight_decay": weight_decay}]),
        Mistake("swapped", "the groups are swapped: the weight matrices (and embeddings) decay; biases and "
                "normalization weights get weight_decay 0.",
                lambda model, weight_decay: [
                    {"params": _split(model)[1], "weight_decay": weight_decay},
                    {"params": _split(model)[0], "weight_decay": 0.0}]),
        Mistake("layer_norm_only", "the weights of LayerNorm were exempted but not those of BatchNorm (or "
                "GroupNorm): every normalization layer's weight and bias go in the no-decay group.",
                lambda model, weight_decay: [
                    {"params": _split(model, norms=(nn.LayerNorm,))[0], "weight_decay": weight_decay},
                    {"params": _split(model, norms=(nn.LayerNorm,))[1], "weight_decay": 0.0}]),
    ),
    hint="answer[name] is the weight decay AdamW applies to that parameter with your groups: "
         "weight_decay for weight matrices and embeddings, 0 for biases and normalization weights.",
))


# ---- 4. clipping by the global norm -----------------------------------------------------------


def _clip_grad_norm(grads, max_norm):
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params], total


def _clip_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(909 if hidden else 9)
    configs = [([(3,), (2, 2)], 1.0, torch.float32, 3.0), ([(5,), (4, 3), (2,)], 0.5, torch.float64, 10.0),
               ([(6,)], 2.0, torch.float32, 0.1), ([(2, 2), (3,)], 100.0, torch.float64, 1.0),
               ([(8,), (1,)], 0.1, torch.float32, 0.5),
               # gradients so small that the 1e-6 torch adds to the total norm changes the factor
               ([(4,), (3,)], 1e-7, torch.float64, 2e-7)] if hidden \
        else [([(3,), (2, 2)], 1.0, torch.float32, 3.0), ([(2,)], 10.0, torch.float32, 0.5)]
    cases = []
    for shapes, max_norm, dtype, scale in configs:
        # one tensor with much larger gradients than the others, as in a network where one layer blows up
        grads = [scale * (4.0 if i == 0 else 1.0) * torch.randn(s, generator=gen, dtype=torch.float64).to(dtype)
                 for i, s in enumerate(shapes)]
        cases.append({"grads": grads, "max_norm": max_norm})
    return cases


def _clip_call(f, case):
    clipped, total = f(**case)
    return [g for g in clipped], float(total)


def _global_norm(grads):
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


register(Check(
    name="adamw.clip_grad_norm",
    reference=_clip_grad_norm,
    cases=_clip_cases,
    call=_clip_call,
    atol=1e-12,  # relative agreement only: one case's gradients are about 1e-6
    mistakes=(
        Mistake("per_tensor", "each tensor was clipped by its own norm; clipping by the GLOBAL norm scales all "
                "gradients by one factor, computed from the norm of all of them together.",
                lambda grads, max_norm: (
                    [g * min(1.0, max_norm / (g.norm().item() + 1e-6)) for g in grads], _global_norm(grads))),
        Mistake("by_value", "you clipped each entry to [-max_norm, max_norm] (clipping by value); clip by norm "
                "instead: scale every gradient by max_norm / total_norm when the total norm is larger.",
                lambda grads, max_norm: ([g.clamp(-max_norm, max_norm) for g in grads], _global_norm(grads))),
        Mistake("no_clamp", "small gradients were scaled UP: the factor max_norm / total_norm must be capped at 1.",
                lambda grads, max_norm: (
                    [g * (max_norm / (_global_norm(grads) + 1e-6)) for g in grads], _global_norm(grads))),
        Mistake("sum_of_norms", "the total norm is the sum of the tensors' norms; it is the norm of all entries "
                "together: sqrt(sum of the squared norms).",
                lambda grads, max_norm: (
                    [g * min(1.0, max_norm / (sum(x.norm() for x in grads).item() + 1e-6)) for g in grads],
                    sum(x.norm() for x in grads))),
        Mistake("no_epsilon", "the factor is max_norm / total; torch divides by total + 1e-6, which matters when the "
                "gradients are tiny.",
                lambda grads, max_norm: (
                    [g * min(1.0, max_norm / _global_norm(grads).item()) for g in grads], _global_norm(grads))),
    ),
    hint="total = sqrt(sum over tensors of ||g||^2); factor = min(1, max_norm / (total + 1e-6)); "
         "return ([g * factor for g in grads], total).",
))
