"""Checks for assignment 02_sgd: mini-batches, the mini-batch gradient, an SGD step, a training
loop, and the measured standard error of the mini-batch gradient.

Every part is judged on its own inputs, so a mistake in one part never costs the points of
another. The SGD step is compared with ``torch.optim.SGD`` itself.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from course_lib import stochastic
from course_lib.data import batches
from course_lib.grading import Check, Mistake, register
from course_lib.risk import ridge_gradient


def _regression(gen: torch.Generator, n: int, d: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = X @ torch.randn(d, generator=gen, dtype=torch.float64) + 0.7 + 0.5 * torch.randn(n, generator=gen, dtype=torch.float64)
    return {"X": X.to(dtype), "y": y.to(dtype)}


# ---- 1. mini-batch indices ----------------------------------------------------------------
# The student's function gets a generator; the check draws TWO epochs from one generator, so
# an answer must use the generator it is given (and not reseed it).


def _two_epochs(f, case):
    generator = torch.Generator().manual_seed(case["seed"])
    first = list(f(case["n_samples"], case["batch_size"], generator))
    second = list(f(case["n_samples"], case["batch_size"], generator))
    return first, second


def _indices_cases(hidden: bool) -> list[dict[str, Any]]:
    if not hidden:
        return [{"n_samples": 10, "batch_size": 4, "seed": 0}]
    sizes = [(10, 3), (12, 4), (7, 7), (5, 1), (9, 20), (100, 32), (1, 1)]
    return [{"n_samples": n, "batch_size": b, "seed": 11 + i} for i, (n, b) in enumerate(sizes)]


def _minibatch_indices(n_samples, batch_size, generator):
    return batches(n_samples, batch_size, generator=generator)


register(Check(
    name="sgd.minibatch_indices",
    reference=_minibatch_indices,
    cases=_indices_cases,
    call=_two_epochs,
    describe=lambda case: (f"n_samples={case['n_samples']}, batch_size={case['batch_size']}, "
                           f"generator=torch.Generator().manual_seed({case['seed']}), called twice (two epochs)"),
    mistakes=(
        Mistake("chunk_count", "you made batch_size batches instead of batches of batch_size rows: "
                "torch.chunk(k) cuts into k pieces, tensor.split(k) into pieces of k.",
                lambda n_samples, batch_size, generator: list(
                    torch.randperm(n_samples, generator=generator).chunk(batch_size))),
        Mistake("no_shuffle", "the batches are in the original order 0, 1, 2, ...: shuffle each epoch with "
                "torch.randperm(n_samples, generator=generator).",
                lambda n_samples, batch_size, generator: list(torch.arange(n_samples).split(batch_size))),
        Mistake("drop_last", "the last, smaller batch is missing: an epoch visits every sample, so keep it.",
                lambda n_samples, batch_size, generator: batches(n_samples, batch_size, generator=generator,
                                                                 drop_last=True)),
        Mistake("with_replacement", "indices were drawn with replacement (some samples twice, others never): "
                "an epoch is a permutation, torch.randperm, not torch.randint.",
                lambda n_samples, batch_size, generator: list(
                    torch.randint(n_samples, (n_samples,), generator=generator).split(batch_size))),
    ),
    hint="order = torch.randperm(n_samples, generator=generator); then consecutive slices of batch_size "
         "(the last one may be smaller). Do not create a new generator inside the function.",
))


# ---- 2. the mini-batch gradient -----------------------------------------------------------


def _gradient_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(202 if hidden else 2)
    shapes = [(20, 3, 5), (50, 1, 1), (30, 4, 30), (64, 2, 8), (9, 5, 4)] if hidden else [(12, 2, 4)]
    cases = []
    for i, (n, d, size) in enumerate(shapes):
        dtype = torch.float64 if hidden and i % 2 == 0 else torch.float32
        case = {
            "w": torch.randn(d, generator=gen, dtype=torch.float64).to(dtype),
            "b": torch.randn((), generator=gen, dtype=torch.float64).to(dtype),
            **_regression(gen, n, d, dtype),
            "index": torch.randperm(n, generator=gen)[:size],
        }
        cases.append(case)
    return cases


def _minibatch_gradient(w, b, X, y, index):
    return ridge_gradient(w, b, X[index], y[index], 0.0)


def _gradient_wrong(*, scale: str = "batch", factor: float = 2.0, all_rows: bool = False):
    def wrong(w, b, X, y, index):
        rows = torch.arange(X.shape[0]) if all_rows else index
        residual = X[rows] @ w + b - y[rows]
        divisor = {"batch": rows.numel(), "n": X.shape[0], "none": 1}[scale]
        return factor / divisor * (X[rows].T @ residual), factor / divisor * residual.sum()
    return wrong


register(Check(
    name="sgd.minibatch_gradient",
    reference=_minibatch_gradient,
    cases=_gradient_cases,
    call=lambda f, case: tuple(f(**case)),
    mistakes=(
        Mistake("divide_by_n", "you divided by the size of the whole data set; the mini-batch gradient is an "
                "AVERAGE over the batch, so divide by len(index).", _gradient_wrong(scale="n")),
        Mistake("all_rows", "the gradient uses every row of X; use only the rows in index (X[index], y[index]).",
                _gradient_wrong(all_rows=True)),
        Mistake("no_factor_2", "the factor 2 from differentiating the square is missing.",
                _gradient_wrong(factor=1.0)),
        Mistake("sum_not_mean", "you summed over the batch instead of averaging (missing 1/|B|).",
                _gradient_wrong(scale="none")),
    ),
    hint="With r = X[index] @ w + b - y[index]: grad_w = 2/|B| * X[index].T @ r, grad_b = 2/|B| * r.sum().",
))


# ---- 3. an SGD step (against torch.optim.SGD) --------------------------------------------


def _torch_sgd_step(params, grads, lr, weight_decay=0.0):
    """One step of torch.optim.SGD on ``params`` (updated in place, through shared storage)."""
    leaves = [torch.nn.Parameter(p) for p in params]  # a Parameter shares its tensor's storage
    for leaf, grad in zip(leaves, grads):
        leaf.grad = grad.clone()
    torch.optim.SGD(leaves, lr=lr, weight_decay=weight_decay).step()


def _step_call(f, case):
    f(case["params"], case["grads"], case["lr"], case["weight_decay"])
    return list(case["params"]), list(case["grads"])


def _step_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(303 if hidden else 3)
    settings = ([[(3,), (2, 2)]], [(0.1, 0.2)]) if not hidden else (
        [[(4,), ()], [(3, 2), (2,), (1,)], [(5,)], [(2, 3, 2)], [(6,), (6,)]],
        [(0.1, 0.2), (0.5, 0.0), (0.05, 0.5), (0.3, 0.1), (1.0, 0.05)],
    )
    cases = []
    for i, (shapes, (lr, wd)) in enumerate(zip(*settings)):
        dtype = torch.float64 if hidden and i % 2 else torch.float32
        cases.append({
            "params": [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in shapes],
            "grads": [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in shapes],
            "lr": lr,
            "weight_decay": wd,
        })
    return cases


def _step_wrong(kind: str):
    def wrong(params, grads, lr, weight_decay=0.0):
        for p, g in zip(params, grads):
            if kind == "ascent":
                p.add_(g + weight_decay * p, alpha=lr)
            elif kind == "decay_after":
                p.sub_(lr * g)
                p.sub_(lr * weight_decay * p)
            elif kind == "decay_no_lr":
                p.sub_(lr * g + weight_decay * p)
            elif kind == "grad_modified":
                g.add_(p, alpha=weight_decay)
                p.sub_(lr * g)
            elif kind == "not_in_place":
                p = p - lr * (g + weight_decay * p)  # noqa: F841  (rebinds the name only)
    return wrong


register(Check(
    name="sgd.sgd_step",
    reference=_torch_sgd_step,
    cases=_step_cases,
    call=_step_call,
    describe=lambda case: (f"{len(case['params'])} parameter tensor(s) of shapes "
                           f"{[tuple(p.shape) for p in case['params']]}, lr={case['lr']}, "
                           f"weight_decay={case['weight_decay']}"),
    mistakes=(
        Mistake("not_in_place", "the parameters did not change: update them in place (p.sub_(...) or p -= ...), "
                "as torch.optim does; `p = p - ...` only rebinds a local name.", _step_wrong("not_in_place")),
        Mistake("ascent", "the parameters moved UP the gradient: the step is p <- p - lr * (g + weight_decay * p).",
                _step_wrong("ascent")),
        Mistake("decay_after", "weight decay was applied after the gradient step, to the already-updated "
                "parameter; torch adds weight_decay * p to the gradient first, then takes one step.",
                _step_wrong("decay_after")),
        Mistake("decay_no_lr", "the weight-decay term is not multiplied by lr: p <- p - lr * (g + weight_decay * p).",
                _step_wrong("decay_no_lr")),
        Mistake("grad_modified", "your step changed the gradient tensors in place (g.add_(...) or g += ...); "
                "torch.optim.SGD leaves the gradients as they are: build g + weight_decay * p as a new tensor.",
                _step_wrong("grad_modified")),
    ),
    hint="For each (p, g): p.sub_(lr * (g + weight_decay * p)), under torch.no_grad() if p requires grad.",
))


# ---- 4. a training loop ---------------------------------------------------------------------


def _train_sgd(X, y, batch_size, lr, epochs, seed):
    run = stochastic.minibatch_sgd(X, y, batch_size=batch_size, lr=lr, epochs=epochs, seed=seed)
    at_epoch_ends = run.samples_seen % X.shape[0] == 0
    return run.w, run.b, run.losses[at_epoch_ends]


def _train_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(404 if hidden else 4)
    configs = [(40, 2, 8, 0.05, 3)] if not hidden else [
        (30, 3, 7, 0.05, 4), (20, 1, 1, 0.02, 2), (50, 2, 50, 0.1, 5), (64, 4, 16, 0.08, 3), (25, 2, 10, 0.1, 1)]
    cases = []
    for i, (n, d, size, lr, epochs) in enumerate(configs):
        dtype = torch.float64 if hidden and i % 2 == 0 else torch.float32
        cases.append({**_regression(gen, n, d, dtype), "batch_size": size, "lr": lr, "epochs": epochs,
                      "seed": 40 + i})
    return cases


def _train_wrong(kind: str):
    def wrong(X, y, batch_size, lr, epochs, seed):
        n, d = X.shape
        w, b = torch.zeros(d, dtype=X.dtype), torch.zeros((), dtype=X.dtype)
        full = lambda: ((X @ w + b - y) ** 2).mean()  # noqa: E731
        losses = [full()]
        generator = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            if kind == "reseed":
                generator = torch.Generator().manual_seed(seed)
            order = torch.arange(n).split(batch_size) if kind == "no_shuffle" else batches(n, batch_size, generator=generator)
            batch_losses = []
            for index in order:
                rows = torch.arange(n) if kind == "full_batch" else index
                batch_losses.append(((X[rows] @ w + b - y[rows]) ** 2).mean())
                grad_w, grad_b = ridge_gradient(w, b, X[rows], y[rows], 0.0)
                w, b = w - lr * grad_w, b - lr * grad_b
                if kind == "per_step":
                    losses.append(full())
            if kind == "batch_losses":
                losses.append(torch.stack(batch_losses).mean())
            elif kind != "per_step":
                losses.append(full())
        return w, b, torch.stack(losses)
    return wrong


register(Check(
    name="sgd.train_sgd",
    reference=_train_sgd,
    cases=_train_cases,
    call=lambda f, case: tuple(f(**case)),
    atol=1e-5,
    mistakes=(
        Mistake("reseed", "every epoch visits the batches in the SAME order: create the generator once, before "
                "the loop over epochs, and let each epoch draw a new permutation from it.", _train_wrong("reseed")),
        Mistake("no_shuffle", "the data are not shuffled: draw each epoch's batches with your minibatch_indices "
                "(torch.randperm with the generator).", _train_wrong("no_shuffle")),
        Mistake("full_batch", "every step used all the data (that is gradient descent): each step uses the "
                "gradient of its mini-batch only.", _train_wrong("full_batch")),
        Mistake("per_step", "losses has one entry per STEP; record the full-data loss at the start and after "
                "each EPOCH (epochs + 1 values).", _train_wrong("per_step")),
        Mistake("batch_losses", "you recorded the average of the mini-batch losses seen during each epoch; "
                "record the loss on ALL the data, computed after the epoch's last step.",
                _train_wrong("batch_losses")),
    ),
    hint="generator = torch.Generator().manual_seed(seed) once; w = 0, b = 0; losses = [full loss]; for each "
         "epoch: for each batch of minibatch_indices(n, batch_size, generator): gradient on the batch, SGD "
         "step; then append the full loss.",
))


# ---- 5. the standard error of the mini-batch gradient ---------------------------------------


def _flat_gradient(w, b, X, y):
    grad_w, grad_b = ridge_gradient(w, b, X, y, 0.0)
    return torch.cat([grad_w, grad_b.reshape(1)])


def _standard_error(w, b, X, y, batches):
    full = _flat_gradient(w, b, X, y)
    deviations = torch.stack([_flat_gradient(w, b, X[i], y[i]) - full for i in batches])
    return float((deviations ** 2).sum(dim=1).mean().sqrt())


def _se_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(505 if hidden else 5)
    configs = [(26, 2, 4, 2)] if not hidden else [(30, 3, 4, 3), (50, 1, 1, 1), (40, 2, 16, 5), (17, 4, 5, 2),
                                                   (64, 2, 32, 8)]
    cases = []
    for i, (n, d, size, epochs) in enumerate(configs):
        dtype = torch.float64 if hidden and i % 2 == 0 else torch.float32
        case = {"w": torch.randn(d, generator=gen, dtype=torch.float64).to(dtype),
                "b": torch.randn((), generator=gen, dtype=torch.float64).to(dtype),
                **_regression(gen, n, d, dtype)}
        case["batches"] = [index for _ in range(epochs)
                           for index in batches(n, size, generator=gen, drop_last=True)]
        cases.append(case)
    return cases


def _se_wrong(kind: str):
    def wrong(w, b, X, y, batches):
        grads = torch.stack([_flat_gradient(w, b, X[i], y[i]) for i in batches])
        full = grads.mean(dim=0) if kind == "mean_of_batches" else _flat_gradient(w, b, X, y)
        if kind == "weights_only":
            grads, full = grads[:, :-1], full[:-1]
        squared = (grads - full) ** 2
        if kind == "per_coordinate":
            return float(squared.mean().sqrt())
        total = squared.sum(dim=1).mean()
        return float(total) if kind == "variance" else float(total.sqrt())
    return wrong


register(Check(
    name="sgd.minibatch_standard_error",
    reference=_standard_error,
    cases=_se_cases,
    describe=lambda case: (f"X of shape {tuple(case['X'].shape)} ({case['X'].dtype}), "
                           f"{len(case['batches'])} batches of {case['batches'][0].numel()} rows"),
    atol=1e-6,
    mistakes=(
        Mistake("variance", "you returned the mean squared deviation (a variance); the standard error is its "
                "square root.", _se_wrong("variance")),
        Mistake("mean_of_batches", "you measured the spread around the average of the batch gradients; measure "
                "it around the FULL-data gradient (all rows of X), the quantity the batches estimate.",
                _se_wrong("mean_of_batches")),
        Mistake("weights_only", "the bias is left out: the gradient vector is (grad_w, grad_b), d + 1 numbers.",
                _se_wrong("weights_only")),
        Mistake("per_coordinate", "you averaged the squared deviations over the coordinates too; sum them over "
                "the coordinates (the squared norm ||g_B - g||^2), and average over the batches.",
                _se_wrong("per_coordinate")),
    ),
    hint="g = full gradient as one vector (grad_w, grad_b); SE = sqrt(mean over batches of "
         "||g_B - g||^2).",
))


# ---- 6. a log-log fit -----------------------------------------------------------------------


def _fit_cases(hidden: bool) -> list[dict[str, Any]]:
    if not hidden:
        return [{"x": torch.tensor([1.0, 4.0, 16.0, 64.0]), "y": torch.tensor([2.0, 1.0, 0.5, 0.25])}]
    gen = torch.Generator().manual_seed(606)
    cases = []
    for i, (slope, scale, k) in enumerate([(-0.5, 3.0, 8), (-1.0, 0.2, 5), (0.7, 1.5, 6), (-0.5, 10.0, 3),
                                           (-2.0, 1.0, 7)]):
        x = torch.logspace(0, 3, k, dtype=torch.float64)
        noise = torch.exp(0.1 * torch.randn(k, generator=gen, dtype=torch.float64)) if i % 2 else 1.0
        cases.append({"x": x, "y": scale * x**slope * noise})
    return cases


def _fit_wrong(kind: str):
    def wrong(x, y):
        lx = torch.log10(torch.as_tensor(x, dtype=torch.float64)) if kind == "log10" else torch.log(torch.as_tensor(x, dtype=torch.float64))
        ly = torch.log10(torch.as_tensor(y, dtype=torch.float64)) if kind == "log10" else torch.log(torch.as_tensor(y, dtype=torch.float64))
        if kind == "semilog":
            lx = torch.as_tensor(x, dtype=torch.float64)
        if kind == "swapped":
            lx, ly = ly, lx
        if kind == "through_origin":
            return float((lx * ly).sum() / (lx * lx).sum()), 0.0
        dx = lx - lx.mean()
        slope = float((dx * (ly - ly.mean())).sum() / (dx * dx).sum())
        return slope, float(ly.mean() - slope * lx.mean())
    return wrong


register(Check(
    name="sgd.loglog_fit",
    reference=stochastic.loglog_fit,
    cases=_fit_cases,
    call=lambda f, case: tuple(f(**case)),
    atol=1e-6,
    mistakes=(
        Mistake("swapped", "you regressed log x on log y; the line predicts log y from log x.", _fit_wrong("swapped")),
        Mistake("semilog", "x was not logged: fit log y against log x (both logarithms).", _fit_wrong("semilog")),
        Mistake("log10", "the slope is right but the intercept is in base-10 logarithms; use natural "
                "logarithms (torch.log).", _fit_wrong("log10")),
        Mistake("through_origin", "the line was forced through the origin; fit an intercept too (centre both "
                "variables, or use torch.linalg.lstsq with a column of ones).", _fit_wrong("through_origin")),
    ),
    hint="lx, ly = log(x), log(y); slope = sum((lx - mean lx)(ly - mean ly)) / sum((lx - mean lx)^2); "
         "intercept = mean ly - slope * mean lx.",
))


# ---- 7. the noise floor of constant-step SGD -----------------------------------------------


def _noise_floor(lr, curvature, noise_std):
    r"""Stationary :math:`\mathbb E\,\theta^2` of :math:`\theta \leftarrow \theta - \eta(h\theta + \sigma\xi)`:
    the fixed point of :math:`m = (1 - \eta h)^2 m + \eta^2\sigma^2`."""
    return lr * noise_std**2 / (curvature * (2.0 - lr * curvature))


def _floor_cases(hidden: bool) -> list[dict[str, Any]]:
    # (lr, curvature, noise_std); the visible cases have noise_std = 1, where the variance and
    # the standard deviation of the noise are the same number.
    configs = [(0.1, 1.0, 1.0), (0.5, 2.0, 1.0)] if not hidden else [
        (0.05, 1.0, 2.0), (0.3, 3.0, 0.5), (1.5, 1.0, 1.0), (0.01, 10.0, 3.0), (0.9, 2.0, 0.1),
        (0.2, 0.5, 1.7)]
    return [{"lr": lr, "curvature": h, "noise_std": sigma} for lr, h, sigma in configs]


register(Check(
    name="sgd.noise_floor",
    reference=_noise_floor,
    cases=_floor_cases,
    rtol=1e-6,
    atol=1e-10,
    mistakes=(
        Mistake("small_lr_approximation", "this is the small-learning-rate approximation "
                "lr * noise_std**2 / (2 * curvature): expand (1 - lr * h)**2 exactly, the lr**2 * h**2 "
                "term matters when lr * h is not small.",
                lambda lr, curvature, noise_std: lr * noise_std**2 / (2 * curvature)),
        Mistake("linearized_square", "(1 - lr * h)**2 was replaced by 1 - lr * h; square it: the "
                "fixed point of m = (1 - lr * h)**2 * m + lr**2 * noise_std**2.",
                lambda lr, curvature, noise_std: lr * noise_std**2 / curvature),
        Mistake("no_lr_squared", "the noise enters the update as lr * noise_std * xi, so each step adds "
                "lr**2 * noise_std**2 to the variance, not noise_std**2.",
                lambda lr, curvature, noise_std: noise_std**2 / (curvature * (2 - lr * curvature)) / lr),
        Mistake("standard_deviation", "you returned the standard deviation of theta; the floor asked for "
                "is its mean square E[theta**2] (no square root).",
                lambda lr, curvature, noise_std: math.sqrt(_noise_floor(lr, curvature, noise_std))),
        Mistake("noise_std_not_squared", "the variance of the noise term is noise_std**2: a step adds "
                "lr**2 * noise_std**2 to E[theta**2], not lr**2 * noise_std.",
                lambda lr, curvature, noise_std: lr * noise_std / (curvature * (2 - lr * curvature))),
    ),
    hint="Write E[theta_(t+1)**2] in terms of E[theta_t**2] (the noise is independent of theta_t and "
         "has mean 0), then solve for the value that does not change from one step to the next.",
))
