"""Checks for assignment 09_beyond_adam: Adafactor's factored second moment, Newton-Schulz,
Lion's step, a schedule-free AdamW step, and which parameters Muon should get.

Every part is a pure function of tensors (or, for the last, of a model), judged against
:mod:`course_lib.optim`'s implementation of the same formula. The Newton-Schulz part is
judged in the input's dtype (torch's Muon iterates in bfloat16, too coarse to compare
closely) and by the singular values of its output, which must land where the
reference's do: in a band around 1.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from course_lib.grading import Check, Mistake, register
from course_lib.models import mlp
from course_lib.optim import NEWTON_SCHULZ_COEFFICIENTS, factored_second_moment, lion_update, muon_param_groups, newton_schulz

# ---- 1. Adafactor's factored second moment -----------------------------------------------------


def _adafactor_second_moment(grad, row_var, col_var, step, beta2_decay=-0.8, eps1=1e-30):
    one_minus_beta2 = step**beta2_decay
    row_var = row_var.lerp(grad.square().mean(dim=-1, keepdim=True), one_minus_beta2)
    col_var = col_var.lerp(grad.square().mean(dim=-2, keepdim=True), one_minus_beta2)
    return row_var, col_var, factored_second_moment(row_var, col_var, eps1)


def _adafactor_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(909 if hidden else 9)
    # (rows, cols, dtype, step, beta2_decay, eps1, zero gradient)
    # square first: swapped axes then give statistics of the wrong shape instead of an error
    settings = [(4, 4, torch.float64, 1, -0.8, 1e-30, False)]
    if hidden:
        settings = [(5, 5, torch.float64, 3, -0.8, 1e-30, False), (4, 7, torch.float64, 3, -0.8, 1e-30, False),
                    (6, 2, torch.float32, 10, -0.5, 1e-20, False), (5, 5, torch.float64, 1, -0.8, 1e-30, True),
                    (1, 6, torch.float64, 40, -0.8, 1e-30, False), (8, 3, torch.float32, 2, -1.0, 1e-30, False)]
    cases = []
    for rows, cols, dtype, step, decay, eps1, zero in settings:
        past = torch.rand(rows, cols, generator=gen, dtype=torch.float64) ** 2
        fresh = step == 1
        scale = torch.logspace(-2, 1, rows, dtype=torch.float64).reshape(rows, 1)
        grad = scale * torch.randn(rows, cols, generator=gen, dtype=torch.float64)
        cases.append({
            "grad": torch.zeros(rows, cols, dtype=dtype) if zero else grad.to(dtype),
            "row_var": torch.zeros(rows, 1, dtype=dtype) if fresh else past.mean(-1, keepdim=True).to(dtype),
            "col_var": torch.zeros(1, cols, dtype=dtype) if fresh else past.mean(-2, keepdim=True).to(dtype),
            "step": step,
            "beta2_decay": decay,
            "eps1": eps1,
        })
    return cases


def _adafactor_wrong(*, swap_axes=False, sums=False, swap_weights=False, floor=True, normalize=True):
    def wrong(grad, row_var, col_var, step, beta2_decay=-0.8, eps1=1e-30):
        weight = 1 - step**beta2_decay if swap_weights else step**beta2_decay
        reduce = torch.sum if sums else torch.mean
        row_axis, col_axis = (-2, -1) if swap_axes else (-1, -2)
        new_row = row_var.lerp(reduce(grad.square(), dim=row_axis, keepdim=True), weight)
        new_col = col_var.lerp(reduce(grad.square(), dim=col_axis, keepdim=True), weight)
        estimate = new_row @ new_col if new_row.shape[-1] == 1 else new_col @ new_row
        if normalize:
            mean = new_row.mean() if not floor else new_row.mean().clamp(min=eps1)
            estimate = estimate / mean
        return new_row, new_col, estimate
    return wrong


register(Check(
    name="beyond_adam.adafactor_second_moment",
    reference=_adafactor_second_moment,
    forbids=("torch.optim.Adafactor", "torch.optim._adafactor", "course_lib.optim.adafactor"),
    cases=_adafactor_cases,
    call=lambda f, case: tuple(f(**case)),
    mistakes=(
        Mistake("wrong_axis", "the row and column statistics are swapped: row_var is the mean of g**2 over "
                "each ROW (along the last dimension, one number per row, shape (n, 1)), col_var over each COLUMN "
                "(shape (1, m)).", _adafactor_wrong(swap_axes=True)),
        Mistake("sums_not_means", "you accumulated sums of g**2 (the paper's notation); torch keeps the MEANS over "
                "each row and column (the estimate V_hat is the same, the stored statistics are not).",
                _adafactor_wrong(sums=True)),
        Mistake("weights_swapped", "the averages give the NEW statistic the weight beta2_hat = 1 - step**beta2_decay; "
                "it gets 1 - beta2_hat = step**beta2_decay (all of it at step 1).",
                _adafactor_wrong(swap_weights=True)),
        Mistake("not_divided_by_mean", "V_hat is the outer product r c DIVIDED by the mean of r (otherwise the "
                "scale is counted twice).", _adafactor_wrong(normalize=False)),
        Mistake("no_eps_floor", "with an all-zero gradient the mean of row_var is 0 and 0/0 gives nan: divide by "
                "max(mean(row_var), eps1).", _adafactor_wrong(floor=False)),
    ),
    hint="beta2_hat = 1 - step**beta2_decay; row_var <- beta2_hat * row_var + (1 - beta2_hat) * mean of g**2 "
         "over each row; col_var likewise over each column; V_hat = row_var @ col_var / max(mean(row_var), eps1).",
))


# ---- 2. Newton-Schulz orthogonalization --------------------------------------------------------


def _newton_schulz_reference(matrix, steps=5):
    return newton_schulz(matrix, steps, NEWTON_SCHULZ_COEFFICIENTS, 1e-7, dtype=None)


def _newton_schulz_answer(f, case):
    output = f(**case)
    if not isinstance(output, torch.Tensor) or output.dim() != 2:
        return output
    values = output.detach().double()
    if torch.isfinite(values).all():
        singular_values = torch.linalg.svdvals(values)
    else:
        singular_values = torch.full((min(values.shape),), float("nan"), dtype=torch.float64)
    return {"singular_values": singular_values, "output": output}


def _newton_schulz_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(808 if hidden else 8)
    shapes = [((4, 6), torch.float32, 5, 3.0)]
    if hidden:
        shapes = [((6, 4), torch.float64, 5, 5.0), ((5, 5), torch.float32, 5, 0.5), ((3, 8), torch.float64, 3, 2.0),
                  ((1, 6), torch.float64, 5, 4.0), ((7, 3), torch.float64, 0, 0.0), ((2, 9), torch.float32, 8, 20.0)]
    cases = []
    for shape, dtype, steps, scale in shapes:
        matrix = scale * torch.randn(*shape, generator=gen, dtype=torch.float64)
        cases.append({"matrix": matrix.to(dtype), "steps": steps})
    return cases


def _newton_schulz_wrong(*, normalize="frobenius", polynomial="quintic", eps=1e-7):
    def wrong(matrix, steps=5):
        a, b, c = NEWTON_SCHULZ_COEFFICIENTS
        x = matrix.clone()
        if normalize == "frobenius":
            x = x / (x.norm().clamp(min=eps) if eps else x.norm())
        elif normalize == "spectral":
            x = x / torch.linalg.matrix_norm(x, ord=2).clamp(min=1e-7)
        for _ in range(steps):
            gram = x @ x.T
            if polynomial == "cubic":
                x = 1.5 * x - 0.5 * gram @ x
            elif polynomial == "no_linear_term":
                x = (b * gram + c * gram @ gram) @ x
            else:
                x = a * x + (b * gram + c * gram @ gram) @ x
        return x
    return wrong


register(Check(
    name="beyond_adam.newton_schulz",
    reference=_newton_schulz_reference,
    forbids=("torch.optim.Muon", "torch.optim._muon", "course_lib.optim.muon"),
    cases=_newton_schulz_cases,
    call=_newton_schulz_answer,
    atol=1e-4,
    rtol=1e-3,
    describe=lambda case: (f"a {tuple(case['matrix'].shape)} {case['matrix'].dtype} matrix with singular values "
                           f"{[round(v, 3) for v in torch.linalg.svdvals(case['matrix'].double()).tolist()]}, "
                           f"steps={case['steps']}"),
    mistakes=(
        Mistake("no_normalization", "the matrix was not divided by its Frobenius norm first: singular values above 1 "
                "are blown up by the polynomial (a*s + b*s**3 + c*s**5 grows like s**5) instead of being pushed "
                "towards 1.", _newton_schulz_wrong(normalize=None)),
        Mistake("spectral_normalization", "you divided by the largest singular value; torch (and the reference) "
                "divide by the Frobenius norm, matrix.norm(), which is cheap and also bounds every singular value by 1.",
                _newton_schulz_wrong(normalize="spectral")),
        Mistake("cubic_iteration", "this is the classical cubic Newton-Schulz step 1.5 X - 0.5 X X^T X; Muon uses the "
                "quintic X <- a X + (b A + c A^2) X with A = X X^T and (a, b, c) = (3.4445, -4.7750, 2.0315).",
                _newton_schulz_wrong(polynomial="cubic")),
        Mistake("no_linear_term", "the a*X term is missing: X <- a X + (b A + c A^2) X.",
                _newton_schulz_wrong(polynomial="no_linear_term")),
        Mistake("no_eps", "a zero matrix has norm 0 and 0/0 gives nan: divide by max(norm, 1e-7).",
                _newton_schulz_wrong(eps=0.0)),
    ),
    hint="X = M / max(||M||_F, 1e-7); then `steps` times: A = X @ X.T; X = a X + (b A + c A @ A) @ X; "
         "compute in the dtype of M.",
))


# ---- 3. Lion's step ----------------------------------------------------------------------------


def _lion_step(param, grad, exp_avg, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
    param, state = param.clone(), {"exp_avg": exp_avg.clone()}
    lion_update(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay)
    return param, state["exp_avg"]


def _lion_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(707 if hidden else 7)
    # (shape, dtype, lr, betas, weight decay, steps of history); history None: an exp_avg that
    # nearly cancels the gradient in the interpolation, so that the order of the updates shows
    settings = [((6,), torch.float64, 1e-3, (0.9, 0.99), 0.1, 0)]
    if hidden:
        settings = [((5,), torch.float64, 1e-3, (0.9, 0.99), 0.0, 4), ((3, 4), torch.float32, 3e-4, (0.95, 0.98), 1.0, 10),
                    ((8,), torch.float64, 1e-2, (0.9, 0.99), 0.5, None), ((2, 3, 2), torch.float64, 1e-4, (0.9, 0.99), 0.1, 30),
                    ((6,), torch.float64, 1e-2, (0.5, 0.9), 0.0, 1)]
    cases = []
    for shape, dtype, lr, (beta1, beta2), decay, history in settings:
        grad = -0.5 + 0.5 * torch.randn(shape, generator=gen, dtype=torch.float64)
        exp_avg = torch.zeros(shape, dtype=torch.float64)
        if history is None:
            # +0.05: the update of exp_avg flips the sign of c; +0.3: c opposes the gradient either way
            wobble = torch.tensor([-0.05, 0.05, 0.3], dtype=torch.float64)[torch.arange(grad.numel()) % 3]
            exp_avg = -(1 - beta1) / beta1 * grad * (1 + wobble.reshape(shape))
        for _ in range(history or 0):  # past gradients that mostly point the other way
            exp_avg = beta2 * exp_avg + (1 - beta2) * (1.0 + torch.randn(shape, generator=gen, dtype=torch.float64))
        cases.append({
            "param": torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype),
            "grad": grad.to(dtype),
            "exp_avg": exp_avg.to(dtype),
            "lr": lr,
            "beta1": beta1,
            "beta2": beta2,
            "weight_decay": decay,
        })
    return cases


def _lion_wrong(*, direction="interpolation", momentum_first=False, swap=False, decay_times_lr=True):
    def wrong(param, grad, exp_avg, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
        b1, b2 = (beta2, beta1) if swap else (beta1, beta2)
        new_avg = b2 * exp_avg + (1 - b2) * grad
        memory = new_avg if momentum_first else exp_avg
        c = b1 * memory + (1 - b1) * grad
        step = {"interpolation": c.sign(), "gradient": grad.sign(), "no_sign": c}[direction]
        decayed = param * (1 - (lr * weight_decay if decay_times_lr else weight_decay))
        return decayed - lr * step, new_avg
    return wrong


register(Check(
    name="beyond_adam.lion_step",
    reference=_lion_step,
    forbids=("course_lib.optim.lion",),
    cases=_lion_cases,
    call=lambda f, case: tuple(f(**case)),
    mistakes=(
        Mistake("sign_of_gradient", "the step is the sign of the raw gradient; Lion takes the sign of the "
                "INTERPOLATION c = beta1 * exp_avg + (1 - beta1) * grad (it agrees with sign(grad) only while "
                "exp_avg is zero).", _lion_wrong(direction="gradient")),
        Mistake("momentum_updated_first", "exp_avg was updated before the step and then used in the "
                "interpolation; Lion interpolates with the OLD exp_avg and updates it afterwards.",
                _lion_wrong(momentum_first=True)),
        Mistake("betas_swapped", "beta1 and beta2 are swapped: beta1 interpolates the step's direction, "
                "beta2 is the decay of exp_avg.", _lion_wrong(swap=True)),
        Mistake("decay_not_times_lr", "the weight decay is multiplied by lr: param <- param * (1 - lr * weight_decay).",
                _lion_wrong(decay_times_lr=False)),
        Mistake("no_sign", "the step is the interpolation itself; Lion moves by lr times its SIGN.",
                _lion_wrong(direction="no_sign")),
    ),
    hint="c = beta1 * exp_avg + (1 - beta1) * grad; param <- param * (1 - lr * weight_decay) - lr * sign(c); "
         "exp_avg <- beta2 * exp_avg + (1 - beta2) * grad; return (param, exp_avg).",
))


# ---- 4. a schedule-free AdamW step -------------------------------------------------------------


def _quadratic_gradient(case: dict[str, Any]):
    curvature, target = case["curvature"], case["target"]
    return lambda point: curvature * (point - target)


def _schedule_free_step(x, z, exp_avg_sq, step, gradient, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    y = (1 - beta1) * z + beta1 * x
    g = gradient(y)
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
    z = z - lr * g / ((exp_avg_sq / (1 - beta2**step)).sqrt() + eps)
    x = (1 - 1 / step) * x + (1 / step) * z
    return x, z, exp_avg_sq


def _schedule_free_call(f, case):
    kwargs = {k: v for k, v in case.items() if k not in ("curvature", "target")}
    return tuple(f(gradient=_quadratic_gradient(case), **kwargs))


def _schedule_free_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(606 if hidden else 6)
    # (size, dtype, step, lr, betas, eps)
    settings = [(4, torch.float64, 1, 0.1, (0.9, 0.999), 1e-8)]
    if hidden:
        settings = [(5, torch.float64, 7, 0.1, (0.9, 0.999), 1e-8), (3, torch.float32, 2, 0.05, (0.8, 0.99), 1e-8),
                    (6, torch.float64, 30, 0.02, (0.95, 0.999), 1e-6), (2, torch.float64, 1, 0.1, (0.5, 0.9), 1e-8)]
    cases = []
    for size, dtype, step, lr, (beta1, beta2), eps in settings:
        curvature = torch.logspace(-1, 1, size, dtype=torch.float64)
        target = torch.randn(size, generator=gen, dtype=torch.float64)
        x = torch.randn(size, generator=gen, dtype=torch.float64)
        z = x.clone() if step == 1 else x + torch.randn(size, generator=gen, dtype=torch.float64)
        square = (curvature * torch.randn(size, generator=gen, dtype=torch.float64)) ** 2
        cases.append({
            "x": x.to(dtype), "z": z.to(dtype),
            "exp_avg_sq": torch.zeros(size, dtype=dtype) if step == 1 else ((1 - beta2 ** (step - 1)) * square).to(dtype),
            "step": step, "lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps,
            "curvature": curvature.to(dtype), "target": target.to(dtype),
        })
    return cases


def _schedule_free_wrong(*, at="y", swap_interpolation=False, average=lambda t: 1 / t, correct=True):
    def wrong(x, z, exp_avg_sq, step, gradient, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        y = beta1 * z + (1 - beta1) * x if swap_interpolation else (1 - beta1) * z + beta1 * x
        g = gradient({"y": y, "x": x, "z": z}[at])
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
        v_hat = exp_avg_sq / (1 - beta2**step) if correct else exp_avg_sq
        z = z - lr * g / (v_hat.sqrt() + eps)
        c = average(step)
        return (1 - c) * x + c * z, z, exp_avg_sq
    return wrong


register(Check(
    name="beyond_adam.schedule_free_step",
    reference=_schedule_free_step,
    forbids=("course_lib.optim.schedule_free",),
    cases=_schedule_free_cases,
    call=_schedule_free_call,
    describe=lambda case: (f"x={case['x'].tolist()}, z={case['z'].tolist()}, step={case['step']}, lr={case['lr']}, "
                           f"betas=({case['beta1']}, {case['beta2']}), loss 0.5 * sum(h * (p - t)**2) with "
                           f"h={[round(v, 3) for v in case['curvature'].tolist()]}"),
    mistakes=(
        Mistake("gradient_at_x", "the gradient was evaluated at x, the average; schedule-free takes it at "
                "y = (1 - beta1) * z + beta1 * x (x is where the model is EVALUATED, y where it is trained).",
                _schedule_free_wrong(at="x")),
        Mistake("gradient_at_z", "the gradient was evaluated at z; schedule-free takes it at "
                "y = (1 - beta1) * z + beta1 * x.", _schedule_free_wrong(at="z")),
        Mistake("interpolation_swapped", "y puts the weight beta1 on z; it is y = (1 - beta1) * z + beta1 * x, "
                "close to the slowly moving average x.", _schedule_free_wrong(swap_interpolation=True)),
        Mistake("average_weight", "x is the uniform average of z_1..z_t: its new weight is 1/step (1 at the first "
                "step), x <- (1 - 1/step) * x + (1/step) * z.", _schedule_free_wrong(average=lambda t: 1 / (t + 1))),
        Mistake("no_bias_correction", "exp_avg_sq is not bias-corrected: divide it by (1 - beta2**step) before "
                "the square root.", _schedule_free_wrong(correct=False)),
    ),
    hint="y = (1 - beta1) z + beta1 x; g = gradient(y); v <- beta2 v + (1 - beta2) g**2; "
         "z <- z - lr g / (sqrt(v / (1 - beta2**step)) + eps); x <- (1 - 1/step) x + (1/step) z; return (x, z, v).",
))


# ---- 5. which parameters go to Muon ------------------------------------------------------------


class _TokenClassifier(nn.Module):
    """An embedding table, two hidden layers with layer norm, and a classification head."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(12, 8)
        self.hidden = nn.Linear(8, 16)
        self.norm = nn.LayerNorm(16)
        self.mixer = nn.Linear(16, 16, bias=False)
        self.head = nn.Linear(16, 4)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm(self.hidden(self.embed(tokens))))
        return self.head(torch.relu(self.mixer(h)))


def _split_models(hidden: bool) -> list[nn.Module]:
    torch.manual_seed(0)
    if not hidden:
        return [nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                              nn.Linear(16, 3))]
    convolutional = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                                  nn.Linear(4 * 5 * 5, 12), nn.ReLU(), nn.Linear(12, 10, bias=False))
    return [_TokenClassifier(), mlp([10, 32, 32, 32, 2], batch_norm=True, seed=0), convolutional]


def _split_cases(hidden: bool) -> list[dict[str, Any]]:
    return [{"model": model} for model in _split_models(hidden)]


def _split_answer(f, case):
    model = case["model"]
    names = {id(p): name for name, p in model.named_parameters()}
    groups = f(model)
    if not isinstance(groups, (tuple, list)) or len(groups) != 2:
        return groups
    return tuple(sorted(names.get(id(p), f"<not a parameter of the model: {type(p).__name__}>") for p in group)
                 for group in groups)


def _describe_model(case: dict[str, Any]) -> str:
    shapes = ", ".join(f"{name} {tuple(p.shape)}" for name, p in case["model"].named_parameters())
    return f"a {type(case['model']).__name__} with parameters {shapes}"


def _split_wrong(rule):
    def wrong(model):
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        output = linears[-1].weight if linears else None
        muon, adamw = [], []
        for module in model.modules():
            for name, param in module.named_parameters(recurse=False):
                (muon if rule(module, name, param, output) else adamw).append(param)
        return muon, adamw
    return wrong


register(Check(
    name="beyond_adam.muon_adamw_split",
    reference=lambda model: muon_param_groups(model),
    forbids=("course_lib.optim.muon",),
    cases=_split_cases,
    call=_split_answer,
    describe=_describe_model,
    mistakes=(
        Mistake("all_matrices", "every 2-D parameter went to Muon, the output layer's weight included; its rows "
                "are class scores, not hidden features, and it stays with AdamW.",
                _split_wrong(lambda module, name, p, output: p.ndim == 2)),
        Mistake("norm_weights", "the scales of normalization layers (1-D 'weight' parameters) went to Muon; "
                "Muon orthogonalizes matrices, so every vector stays with AdamW.",
                _split_wrong(lambda module, name, p, output: name == "weight" and p is not output)),
        Mistake("embedding_to_muon", "the embedding table went to Muon; it is a 2-D table whose rows are looked up "
                "one at a time, not a linear map of the layer's input, and it stays with AdamW.",
                _split_wrong(lambda module, name, p, output: p.ndim == 2 and p is not output)),
        Mistake("biases_to_muon", "the biases went to Muon; Muon takes only the weight matrices of hidden layers.",
                _split_wrong(lambda module, name, p, output: isinstance(module, nn.Linear) and p is not output)),
    ),
    hint="Muon: the 2-D weight of every nn.Linear except the last one (the output layer). AdamW: everything else "
         "(biases, normalization parameters, embeddings, convolution kernels, the output layer).",
))
