"""Checks for assignment 01_risk: empirical risk, ridge, standardization, gradient descent."""

from __future__ import annotations

from typing import Any

import torch

from course_lib import risk
from course_lib.grading import Check, Mistake, register
from course_lib.normalization import Standardizer


def _linear_cases(hidden: bool, *, with_lam: bool) -> list[dict[str, Any]]:
    """Inputs of a linear model: small and float32 when visible; more shapes and float64 when hidden."""
    gen = torch.Generator().manual_seed(101 if hidden else 1)
    shapes = [(8, 3), (1, 1), (50, 5), (20, 1), (30, 4)] if hidden else [(6, 2)]
    lams = [0.3, 0.0, 1.5, 0.01, 0.7] if hidden else [0.5]
    cases = []
    for i, ((n, d), lam) in enumerate(zip(shapes, lams)):
        dtype = torch.float64 if hidden and i % 2 else torch.float32
        case = {
            "w": torch.randn(d, generator=gen).to(dtype),
            "b": torch.randn((), generator=gen).to(dtype),
            "X": torch.randn(n, d, generator=gen).to(dtype),
            "y": torch.randn(n, generator=gen).to(dtype),
        }
        if with_lam:
            case["lam"] = lam
        cases.append(case)
    return cases


# ---- 1. empirical risk -------------------------------------------------------------------

def _empirical_risk(w, b, X, y):
    return risk.empirical_risk(lambda X: risk.linear_model(X, w, b), X, y)


register(Check(
    name="risk.empirical_risk",
    reference=_empirical_risk,
    cases=lambda hidden: _linear_cases(hidden, with_lam=False),
    mistakes=(
        Mistake("sum_not_mean", "you summed the squared errors instead of averaging them (missing 1/n).",
                lambda w, b, X, y: ((X @ w + b - y) ** 2).sum()),
        Mistake("root", "you returned the root of the mean squared error (RMSE), not the mean squared error.",
                lambda w, b, X, y: ((X @ w + b - y) ** 2).mean().sqrt()),
        Mistake("half", "you multiplied by 1/2; the empirical risk here is the plain mean of (x_i.w + b - y_i)^2.",
                lambda w, b, X, y: 0.5 * ((X @ w + b - y) ** 2).mean()),
        Mistake("no_bias", "you left out the bias b from the predictions.",
                lambda w, b, X, y: ((X @ w - y) ** 2).mean()),
        Mistake("abs", "you averaged absolute errors |x_i.w + b - y_i| instead of squared errors.",
                lambda w, b, X, y: (X @ w + b - y).abs().mean()),
    ),
    hint="R(w, b) = mean over the rows i of (X[i] @ w + b - y[i])**2, a 0-dim tensor.",
))


# ---- 2. ridge risk -----------------------------------------------------------------------

register(Check(
    name="risk.ridge_risk",
    reference=risk.ridge_risk,
    cases=lambda hidden: _linear_cases(hidden, with_lam=True),
    mistakes=(
        Mistake("penalized_bias", "you penalized the bias too; only the weights w are shrunk.",
                lambda w, b, X, y, lam: risk.ridge_risk(w, b, X, y, lam) + lam * b**2),
        Mistake("norm_not_squared", "you added lam * ||w|| (the norm) instead of lam * sum(w**2) (the squared norm).",
                lambda w, b, X, y, lam: ((X @ w + b - y) ** 2).mean() + lam * w.norm()),
        Mistake("half_penalty", "you added lam/2 * sum(w**2); this course's penalty is lam * sum(w**2) with no 1/2.",
                lambda w, b, X, y, lam: ((X @ w + b - y) ** 2).mean() + 0.5 * lam * (w**2).sum()),
        Mistake("sum_not_mean", "the data term is a sum of squared errors; it should be their mean.",
                lambda w, b, X, y, lam: ((X @ w + b - y) ** 2).sum() + lam * (w**2).sum()),
    ),
    hint="ridge = empirical risk + lam * sum(w**2); the bias is not penalized.",
))


# ---- 3. ridge gradient -------------------------------------------------------------------

def _grad(scale_data: float = 2.0, scale_pen: float = 2.0, sign: float = 1.0, bias_pen: bool = False):
    def wrong(w, b, X, y, lam):
        r = sign * (X @ w + b - y)
        gw = scale_data / X.shape[0] * (X.T @ r) + scale_pen * lam * w
        gb = scale_data / X.shape[0] * r.sum() + (2 * lam * b if bias_pen else 0.0)
        return gw, gb
    return wrong


register(Check(
    name="risk.ridge_gradient",
    reference=risk.ridge_gradient,
    cases=lambda hidden: _linear_cases(hidden, with_lam=True),
    mistakes=(
        Mistake("no_factor_2", "you forgot the factor 2 that comes from differentiating the square.",
                _grad(scale_data=1.0, scale_pen=1.0)),
        Mistake("no_factor_2_data", "the data term lacks its factor 2 (d/dr r^2 = 2r).", _grad(scale_data=1.0)),
        Mistake("penalty_factor", "the penalty's gradient is 2*lam*w, not lam*w.", _grad(scale_pen=1.0)),
        Mistake("sign", "the residual has the wrong sign: use (X @ w + b - y), predictions minus targets.", _grad(sign=-1.0)),
        Mistake("penalized_bias", "you added a penalty gradient to the bias; the bias is not penalized.", _grad(bias_pen=True)),
    ),
    hint="Check your formula against torch.autograd: ridge_risk(...).backward() gives the same numbers.",
))


# ---- 4. standardization -----------------------------------------------------------------

def _standardize(X_train, X_test):
    scaler = Standardizer().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def _standardize_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(202 if hidden else 2)
    shapes = [(10, 3, 4), (40, 6, 9), (5, 1, 2), (100, 2, 30)] if hidden else [(8, 2, 3)]
    cases = []
    for i, (n_train, d, n_test) in enumerate(shapes):
        dtype = torch.float64 if i % 2 else torch.float32
        scales = torch.logspace(-2, 3, d).to(dtype)
        cases.append({
            "X_train": (torch.randn(n_train, d, generator=gen).to(dtype) * scales + 5),
            "X_test": (torch.randn(n_test, d, generator=gen).to(dtype) * scales + 4),
        })
    return cases


register(Check(
    name="risk.standardize",
    reference=_standardize,
    cases=_standardize_cases,
    call=lambda f, case: tuple(f(**case)),
    mistakes=(
        Mistake("test_statistics", "you standardized the test set with its own mean and std; use the training set's statistics for both.",
                lambda X_train, X_test: (_standardize(X_train, X_train)[0], _standardize(X_test, X_test)[0])),
        Mistake("unbiased_std", "you used the unbiased std (torch's default correction=1); this course divides by n, like scikit-learn's StandardScaler (correction=0).",
                lambda X_train, X_test: tuple((X - X_train.mean(0)) / X_train.std(0) for X in (X_train, X_test))),
        Mistake("variance", "you divided by the variance instead of the standard deviation.",
                lambda X_train, X_test: tuple((X - X_train.mean(0)) / X_train.var(0, correction=0) for X in (X_train, X_test))),
        Mistake("global_stats", "you used one mean and std over all entries; standardize each feature (column) separately.",
                lambda X_train, X_test: tuple((X - X_train.mean()) / X_train.std(correction=0) for X in (X_train, X_test))),
    ),
    hint="Per column: subtract the training mean, divide by the training std (correction=0).",
))


# ---- 5. gradient descent ----------------------------------------------------------------

def _gd_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(303 if hidden else 3)
    configs = [(30, 2, 0.1, 25, 0.0), (50, 3, 0.05, 40, 0.1), (10, 1, 0.3, 10, 0.5)] if hidden else [(20, 2, 0.1, 5, 0.0)]
    cases = []
    for n, d, lr, steps, lam in configs:
        X = torch.randn(n, d, generator=gen, dtype=torch.float64)
        y = X @ torch.randn(d, generator=gen, dtype=torch.float64) + 0.5 + 0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
        cases.append({"X": X, "y": y, "lr": lr, "steps": steps, "lam": lam})
    return cases


def _gd_reference(X, y, lr, steps, lam):
    result = risk.gradient_descent(X, y, lr=lr, steps=steps, lam=lam)
    return result.w, result.b, result.losses


def _gd_losses_after(X, y, lr, steps, lam):
    w, b, losses = _gd_reference(X, y, lr, steps, lam)
    return w, b, losses[1:]


def _gd_ascent(X, y, lr, steps, lam):
    return _gd_reference(X, y, -lr, steps, lam)


register(Check(
    name="risk.gradient_descent",
    reference=_gd_reference,
    cases=_gd_cases,
    call=lambda f, case: tuple(f(**case)),
    atol=1e-6,
    mistakes=(
        Mistake("losses_after_step", "losses should start with the loss at the initial point (steps + 1 values); you recorded only the losses after each step.",
                _gd_losses_after),
        Mistake("ascent", "the parameters move up the gradient: the update is theta - lr * grad.", _gd_ascent),
    ),
    hint="Start from w = 0, b = 0; record the loss, then repeat `steps` times: update, record.",
))


# ---- 6. the largest stable learning rate -------------------------------------------------


def _ridge_hessian(X, lam, *, data_factor=2.0, penalty_factor=2.0, bias_column=True,
                   penalize_bias=False):
    """The Hessian of the ridge objective in (w, b), with switches for the known mistakes."""
    n, d = X.shape
    columns = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], dim=1) if bias_column else X
    penalty = torch.ones(columns.shape[1], dtype=X.dtype)
    if bias_column and not penalize_bias:
        penalty[-1] = 0.0
    return data_factor / n * columns.T @ columns + penalty_factor * lam * torch.diag(penalty)


def _max_stable_lr(X, lam):
    r"""2 / h_max for the Hessian :math:`\tfrac2n [X\ 1]^\top [X\ 1] + 2\lambda\,\mathrm{diag}(1, \dots, 1, 0)`."""
    return 2.0 / torch.linalg.eigvalsh(_ridge_hessian(X.double(), lam)).max().item()


def _stable_lr_wrong(factor: float = 2.0, which: str = "max", **hessian_switches):
    def wrong(X, lam):
        eigenvalues = torch.linalg.eigvalsh(_ridge_hessian(X.double(), lam, **hessian_switches))
        h = eigenvalues.max() if which == "max" else eigenvalues.min()
        return factor / h.item()
    return wrong


def _stable_lr_cases(hidden: bool) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(606 if hidden else 6)
    # (n, d, lam, feature offset): the offsets make the features uncentred, so the bias
    # column couples to the weights; the visible cases have no penalty.
    configs = [(100, 1, 0.0, 0.5), (40, 3, 0.0, 1.0)] if not hidden else [
        (50, 2, 0.5, 1.0), (20, 1, 2.0, 0.0), (80, 4, 0.1, -2.0), (30, 3, 0.0, 0.3), (10, 5, 5.0, 1.5)]
    cases = []
    for i, (n, d, lam, offset) in enumerate(configs):
        dtype = torch.float64 if hidden and i % 2 else torch.float32
        scales = torch.linspace(0.5, 2.0, d, dtype=torch.float64)
        X = offset + scales * torch.randn(n, d, generator=gen, dtype=torch.float64)
        cases.append({"X": X.to(dtype), "lam": lam})
    return cases


register(Check(
    name="risk.max_stable_lr",
    reference=_max_stable_lr,
    cases=_stable_lr_cases,
    rtol=1e-4,
    atol=1e-8,
    describe=lambda case: f"X of shape {tuple(case['X'].shape)} ({case['X'].dtype}), lam={case['lam']}",
    mistakes=(
        Mistake("one_over_h", "you returned 1 / h_max, the rate that solves the steepest direction in one "
                "step; gradient descent still converges up to 2 / h_max, where the factor 1 - lr * h_max "
                "reaches -1.", _stable_lr_wrong(factor=1.0)),
        Mistake("smallest_eigenvalue", "you used the smallest eigenvalue of the Hessian: the steepest "
                "direction (the largest eigenvalue) is the first to diverge.", _stable_lr_wrong(which="min")),
        Mistake("no_factor_two", "the Hessian of the mean of SQUARED errors is (2/n) A^T A, A = [X, 1]; "
                "without the 2 your rate is twice too large.", _stable_lr_wrong(factor=4.0, data_factor=1.0,
                                                                                penalty_factor=1.0)),
        Mistake("no_bias_column", "the bias b is a parameter too: the Hessian is (d+1) x (d+1), built from "
                "A = [X, 1] (a column of ones for b), and with uncentred features b and w interact.",
                _stable_lr_wrong(bias_column=False)),
        Mistake("penalized_bias", "the penalty lam * sum(w_j**2) does not include b: add 2 * lam to the "
                "diagonal entries of the weights only, not to the bias entry.",
                _stable_lr_wrong(penalize_bias=True)),
        Mistake("lam_not_doubled", "the second derivative of lam * w_j**2 is 2 * lam, not lam.",
                _stable_lr_wrong(penalty_factor=1.0)),
    ),
    hint="Write the Hessian H of the ridge objective in (w, b) (it does not depend on w, b or y), "
         "then return 2 / (largest eigenvalue of H), e.g. with torch.linalg.eigvalsh.",
))
