"""Checks for assignment 05_adamw: an AdamW step and class, param groups without decay, gradient clipping.

The AdamW class is trained next to ``torch.optim.AdamW`` with param groups of their own
learning rate and weight decay, and its ``state_dict`` is saved and reloaded into a fresh
instance halfway (see :func:`course_lib.grading.checks.adaptive.run_optimizer`).
"""

from __future__ import annotations

import math
from typing import Any, Callable

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
        if kind == "fixed_defaults":
            beta1, beta2, eps = 0.9, 0.999, 1e-8
            return _adam_then(param * (1 - lr * weight_decay), grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps)
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
        Mistake("fixed_defaults", "the numbers 0.9, 0.999 and 1e-8 are written into the formulas: use the beta1, "
                "beta2 and eps arguments, which a caller may set to other values.", _adamw_wrong("fixed_defaults")),
    ),
    hint="param <- param * (1 - lr * weight_decay); then the Adam step of assignment 4 with the plain gradient.",
))


# ---- 2. an AdamW optimizer class --------------------------------------------------------------


def _steps_without_gradients() -> type[torch.optim.Optimizer]:
    """AdamW that treats a parameter without a gradient as one with a zero gradient."""
    base = adam_like(decay="decoupled", default_weight_decay=0.01)

    class ZeroForMissing(base):
        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        p.grad = torch.zeros_like(p)
            return super().step(closure)

    return ZeroForMissing


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
        Mistake("steps_without_gradient", "a parameter whose .grad is None was updated as if its gradient were 0 "
                "(so it decayed and its step count moved on); torch skips such parameters entirely.",
                _steps_without_gradients()),
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


def _split(model: nn.Module, *, norm_decays: bool = False, bias_decays: bool = False, norms=_NORMS):
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
        Mistake("layernorm_only", "only nn.LayerNorm counts as a normalization layer here, so the weight of a "
                "BatchNorm is decayed: exempt every normalization layer (BatchNorm1d/2d, LayerNorm, GroupNorm).",
                lambda model, weight_decay: [
                    {"params": _split(model, norms=nn.LayerNorm)[0], "weight_decay": weight_decay},
                    {"params": _split(model, norms=nn.LayerNorm)[1], "weight_decay": 0.0}]),
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
        else [([(3,), (2, 2)], 1.0, torch.float32, 3.0)]  # the hidden cases add norms already below max_norm
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


# ---- 5. designing the comparison of AdamW and Adam + L2 -----------------------------------------

METHODS = ("adamw", "adam_l2")


def stand_in_runs(case: dict[str, Any]) -> Callable[[str, float, float, int], dict[str, float]]:
    """``train(method, lr, weight_decay, seed) -> {"train_loss", "val_accuracy"}`` for one case.

    A stand-in for real training runs, cheap enough to grade with: the validation accuracy
    of each method peaks at a setting of its own on the grid, every seed has an effect
    shared by both methods and all settings (a lucky initialization and batch order help
    every run), and each run adds noise of its own. In some cases the training loss is
    lowest where the validation accuracy is highest; in others it keeps falling with a
    larger learning rate and a smaller decay, as a network that overfits does.
    """
    lrs, decays, seeds = case["lrs"], case["weight_decays"], case["seeds"]
    generator = torch.Generator().manual_seed(case["table_seed"])
    seed_effect = 0.01 * torch.randn(len(seeds), generator=generator, dtype=torch.float64)
    noise = case["noise"] * torch.randn(len(METHODS), len(lrs), len(decays), len(seeds), generator=generator,
                                        dtype=torch.float64)

    def train(method: str, lr: float, weight_decay: float, seed: int) -> dict[str, float]:
        m, i, j, s = METHODS.index(method), lrs.index(lr), decays.index(weight_decay), seeds.index(seed)
        best_i, best_j = case["best"][method]
        fit = case["peak"][method] - 0.004 * (i - best_i) ** 2 - 0.003 * (j - best_j) ** 2
        accuracy = fit + float(seed_effect[s] + noise[m, i, j, s])
        if case["loss_follows_accuracy"]:
            loss = 1.0 - fit - float(noise[m, i, j, s])
        else:
            loss = 0.5 - 0.05 * i + 0.03 * j + 0.5 * float(noise[m, i, j, s])
        return {"train_loss": loss, "val_accuracy": accuracy}

    return train


def _compare_decay(train, lrs, weight_decays, seeds, level=0.95):
    from course_lib.experiments import confidence_interval

    def tuned(method):
        def mean_accuracy(setting):
            return sum(train(method, *setting, seed)["val_accuracy"] for seed in seeds) / len(seeds)
        return max(((lr, wd) for lr in lrs for wd in weight_decays), key=mean_accuracy)

    best = {method: tuned(method) for method in METHODS}
    differences = [train("adamw", *best["adamw"], seed)["val_accuracy"]
                   - train("adam_l2", *best["adam_l2"], seed)["val_accuracy"] for seed in seeds]
    interval = confidence_interval(differences, level)
    return {"adamw": best["adamw"], "adam_l2": best["adam_l2"],
            "difference": (interval.mean, interval.low, interval.high),
            "significant": not interval.low <= 0.0 <= interval.high}


def _compare_wrong(kind: str):
    def wrong(train, lrs, weight_decays, seeds, level=0.95):
        from scipy import stats

        settings = [(lr, wd) for lr in lrs for wd in weight_decays]

        def mean_of(method, setting, key):
            return sum(train(method, *setting, seed)[key] for seed in seeds) / len(seeds)

        if kind == "tuned_on_training_loss":
            best = {m: min(settings, key=lambda st, m=m: mean_of(m, st, "train_loss")) for m in METHODS}
        else:
            best = {m: max(settings, key=lambda st, m=m: mean_of(m, st, "val_accuracy")) for m in METHODS}
        if kind == "shared_setting":
            best["adam_l2"] = best["adamw"]
        scores = {m: torch.tensor([train(m, *best[m], seed)["val_accuracy"] for seed in seeds], dtype=torch.float64)
                  for m in METHODS}
        if kind == "best_per_seed":
            scores = {m: torch.tensor([max(train(m, *st, seed)["val_accuracy"] for st in settings) for seed in seeds],
                                      dtype=torch.float64) for m in METHODS}
        d = scores["adam_l2"] - scores["adamw"] if kind == "reversed" else scores["adamw"] - scores["adam_l2"]
        n = len(seeds)
        quantile = stats.norm.ppf((1 + level) / 2) if kind == "normal_quantile" else stats.t.ppf((1 + level) / 2, n - 1)
        if kind == "unpaired":
            spread = math.sqrt(scores["adamw"].var().item() / n + scores["adam_l2"].var().item() / n)
            quantile = stats.t.ppf((1 + level) / 2, 2 * n - 2)
        else:
            spread = d.std(correction=0 if kind == "population_std" else 1).item() / math.sqrt(n)
        mean = d.mean().item()
        low, high = mean - quantile * spread, mean + quantile * spread
        return {"adamw": best["adamw"], "adam_l2": best["adam_l2"], "difference": (mean, low, high),
                "significant": not low <= 0.0 <= high}
    return wrong


def _compare_cases(hidden: bool) -> list[dict[str, Any]]:
    lrs, decays = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], [1e-4, 1e-3, 1e-2, 1e-1]
    if not hidden:
        return [{"table_seed": 5, "lrs": lrs, "weight_decays": decays, "seeds": [0, 1, 2, 3, 4], "noise": 0.003,
                 "peak": {"adamw": 0.97, "adam_l2": 0.96}, "best": {"adamw": (2, 2), "adam_l2": (1, 1)},
                 "loss_follows_accuracy": True}]
    return [
        # the training loss favours the largest rate and the smallest decay: tune on validation accuracy
        {"table_seed": 51, "lrs": lrs, "weight_decays": decays, "seeds": [0, 1, 2, 3, 4, 5], "noise": 0.003,
         "peak": {"adamw": 0.975, "adam_l2": 0.965}, "best": {"adamw": (2, 2), "adam_l2": (3, 1)},
         "loss_follows_accuracy": False},
        # a difference too small for eight seeds to tell
        {"table_seed": 52, "lrs": lrs[1:], "weight_decays": decays[1:], "seeds": list(range(10, 18)), "noise": 0.004,
         "peak": {"adamw": 0.962, "adam_l2": 0.961}, "best": {"adamw": (1, 1), "adam_l2": (2, 0)},
         "loss_follows_accuracy": True},
        {"table_seed": 53, "lrs": lrs, "weight_decays": decays, "seeds": [7, 8, 9], "noise": 0.002,
         "peak": {"adamw": 0.95, "adam_l2": 0.97}, "best": {"adamw": (3, 2), "adam_l2": (1, 2)},
         "loss_follows_accuracy": False, "level": 0.9},
    ]


def _compare_call(f, case: dict[str, Any]) -> dict[str, Any]:
    kwargs = {"level": case["level"]} if "level" in case else {}
    answer = f(stand_in_runs(case), case["lrs"], case["weight_decays"], case["seeds"], **kwargs)
    return {"adamw": tuple(float(v) for v in answer["adamw"]), "adam_l2": tuple(float(v) for v in answer["adam_l2"]),
            "difference": tuple(float(v) for v in answer["difference"]), "significant": bool(answer["significant"])}


register(Check(
    name="adamw.compare_decay",
    reference=_compare_decay,
    cases=_compare_cases,
    call=_compare_call,
    describe=lambda case: (f"compare_decay(train, lrs={case['lrs']}, weight_decays={case['weight_decays']}, "
                           f"seeds={case['seeds']}" + (f", level={case['level']}" if "level" in case else "")
                           + ") with a stand-in train() (course_lib.grading.checks.adamw.stand_in_runs)"),
    atol=1e-9,
    rtol=1e-6,
    mistakes=(
        Mistake("unpaired", "the interval treats the two methods' scores as independent samples; both saw the same "
                "seeds, so take the interval of the paired differences adamw - adam_l2 seed by seed (the seed's "
                "luck cancels and the interval is much narrower).", _compare_wrong("unpaired")),
        Mistake("normal_quantile", "the interval uses the normal quantile (1.96 for 95%); with a handful of seeds "
                "use Student's t with n - 1 degrees of freedom (2.78 for 5 seeds).", _compare_wrong("normal_quantile")),
        Mistake("population_std", "the standard deviation divides by n; the interval needs the sample standard "
                "deviation, dividing by n - 1.", _compare_wrong("population_std")),
        Mistake("shared_setting", "Adam + L2 was run at AdamW's best setting; each method must be tuned on its "
                "own (their best rates and decays differ), or the comparison favours the tuned one.",
                _compare_wrong("shared_setting")),
        Mistake("best_per_seed", "each seed got its own best setting, chosen on the very scores that are then "
                "compared: choose ONE setting per method, by the mean over the seeds.", _compare_wrong("best_per_seed")),
        Mistake("reversed", "the difference is adam_l2 - adamw; the question asks for adamw - adam_l2.",
                _compare_wrong("reversed")),
        Mistake("tuned_on_training_loss", "the settings were chosen by the training loss; a weight decay is there "
                "to help on held-out data, and the lowest training loss often comes with the least "
                "regularization: tune on the validation accuracy.", _compare_wrong("tuned_on_training_loss")),
    ),
    hint="For each method, the (lr, weight_decay) with the highest mean val_accuracy over the seeds; then the "
         "paired differences adamw - adam_l2 per seed at those settings, their mean and Student-t interval "
         "(n - 1 degrees of freedom), and whether it excludes 0.",
    # the part is the protocol; the interval may come from the course (the notebook says so)
    allows=("course_lib.experiments.confidence_interval",),
))
