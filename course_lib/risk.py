r"""Empirical risk, L2 regularization and plain gradient descent (chapter 1).

The running example is linear regression, :math:`f_\theta(x) = x^\top w + b`
with the squared loss, small enough that every quantity has a closed form to
check against ``torch.autograd``.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from typing import Callable

import torch

__all__ = [
    "linear_model",
    "squared_error",
    "empirical_risk",
    "ridge_risk",
    "ridge_gradient",
    "ridge_solution",
    "GDResult",
    "gradient_descent",
    "BiasVariance",
    "ridge_bias_variance",
]


def linear_model(X: torch.Tensor, w: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    r"""Predictions :math:`X w + b` of a linear model for the rows of ``X`` (n, d)."""
    return X @ w + b


def squared_error(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""Per-sample squared loss :math:`L(\hat y, y) = (\hat y - y)^2`, no reduction."""
    return (predictions - targets) ** 2


def empirical_risk(
    predict: Callable[[torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = squared_error,
) -> torch.Tensor:
    r"""Empirical risk: the average loss over a data set.

    .. math:: \hat R(\theta) = \frac{1}{n} \sum_{i=1}^{n} L\big(f_\theta(x_i), y_i\big)

    It estimates the expected risk :math:`R(\theta) = \mathbb E_{(x, y) \sim P}[L(f_\theta(x), y)]`.
    With the squared loss it equals ``torch.nn.functional.mse_loss(predict(X), y)``.

    Args:
        predict: the model, mapping inputs (n, d) to predictions (n,).
        X: inputs, one row per sample.
        y: targets (n,).
        loss: per-sample loss without reduction (default :func:`squared_error`).

    Returns:
        A 0-dim tensor.

    Example:
        >>> X, y = torch.ones(4, 1), torch.zeros(4)
        >>> empirical_risk(lambda X: linear_model(X, torch.tensor([2.0]), 0.0), X, y)
        tensor(4.)
    """
    return loss(predict(X), y).mean()


def ridge_risk(
    w: torch.Tensor, b: torch.Tensor | float, X: torch.Tensor, y: torch.Tensor, lam: float
) -> torch.Tensor:
    r"""L2-regularized empirical risk of linear regression (ridge).

    .. math:: \hat R_\lambda(w, b) = \frac1n \sum_i (x_i^\top w + b - y_i)^2 + \lambda \sum_j w_j^2

    The bias is not penalized: shrinking it would pull predictions towards zero
    rather than towards a simpler function.

    Args:
        w: weights (d,).
        b: intercept.
        X: inputs (n, d).
        y: targets (n,).
        lam: the penalty strength :math:`\lambda \ge 0`.

    Returns:
        A 0-dim tensor.
    """
    residual = linear_model(X, w, b) - y
    return (residual**2).mean() + lam * (w**2).sum()


def ridge_gradient(
    w: torch.Tensor, b: torch.Tensor | float, X: torch.Tensor, y: torch.Tensor, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Gradient of :func:`ridge_risk` with respect to ``(w, b)``, in closed form.

    .. math::
        \nabla_w \hat R_\lambda = \frac2n X^\top (Xw + b - y) + 2\lambda w, \qquad
        \partial_b \hat R_\lambda = \frac2n \sum_i (x_i^\top w + b - y_i)

    Returns:
        ``(grad_w, grad_b)`` with the shapes of ``w`` and of a 0-dim tensor.
    """
    n = X.shape[0]
    residual = linear_model(X, w, b) - y
    grad_w = 2.0 / n * (X.T @ residual) + 2.0 * lam * w
    grad_b = 2.0 / n * residual.sum()
    return grad_w, grad_b


def ridge_solution(X: torch.Tensor, y: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The exact minimizer of :func:`ridge_risk`.

    Centering removes the unpenalized intercept; the weights then solve
    :math:`(\tfrac1n X_c^\top X_c + \lambda I)\, w = \tfrac1n X_c^\top y_c` and
    :math:`b = \bar y - \bar x^\top w`.

    Returns:
        ``(w, b)``.
    """
    n, d = X.shape
    x_mean, y_mean = X.mean(0), y.mean()
    Xc, yc = X - x_mean, y - y_mean
    A = Xc.T @ Xc / n + lam * torch.eye(d, dtype=X.dtype, device=X.device)
    w = torch.linalg.solve(A, Xc.T @ yc / n)
    return w, y_mean - x_mean @ w


@dataclass(frozen=True)
class GDResult:
    """A gradient-descent run: final parameters, the loss at every iterate, and the iterates.

    Attributes:
        w: final weights (d,).
        b: final bias (0-dim).
        losses: ``steps + 1`` losses, at the start and after every step.
        weights: the iterates of ``w``, shape ``(steps + 1, d)``.
        biases: the iterates of ``b``, shape ``(steps + 1,)``.
    """

    w: torch.Tensor
    b: torch.Tensor
    losses: torch.Tensor
    weights: torch.Tensor
    biases: torch.Tensor


def gradient_descent(
    X: torch.Tensor, y: torch.Tensor, *, lr: float, steps: int, lam: float = 0.0
) -> GDResult:
    r"""Full-batch gradient descent on :func:`ridge_risk`, starting from zero.

    .. math:: \theta_{k+1} = \theta_k - \eta \nabla \hat R_\lambda(\theta_k)

    Args:
        X: inputs (n, d).
        y: targets (n,).
        lr: the learning rate :math:`\eta`.
        steps: number of updates.
        lam: L2 penalty (default 0: plain least squares).

    Returns:
        A :class:`GDResult` whose ``losses`` has ``steps + 1`` entries:
        the loss at the start and after every step. A run that diverges keeps
        going and records ``inf``/``nan``, so plots show where it blew up.
    """
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    b = torch.zeros((), dtype=X.dtype, device=X.device)
    losses, weights, biases = [ridge_risk(w, b, X, y, lam)], [w], [b]
    for _ in range(steps):
        grad_w, grad_b = ridge_gradient(w, b, X, y, lam)
        w = w - lr * grad_w
        b = b - lr * grad_b
        losses.append(ridge_risk(w, b, X, y, lam))
        weights.append(w)
        biases.append(b)
    return GDResult(w=w, b=b, losses=torch.stack(losses), weights=torch.stack(weights), biases=torch.stack(biases))


@dataclass(frozen=True)
class BiasVariance:
    r"""Errors of ridge regression against :math:`\lambda`, averaged over many training sets.

    Attributes:
        lams: the penalties, increasing.
        train_error: mean squared error on its own training set, averaged over the sets.
        test_error: expected squared error on a fresh noisy sample,
            ``bias_squared + variance + noise``.
        bias_squared: :math:`\operatorname{mean}_x (\bar f(x) - f(x))^2`, where
            :math:`\bar f` averages the fitted functions over the training sets and
            :math:`f` is the true one.
        variance: :math:`\operatorname{mean}_x \operatorname{Var}_D \hat f_D(x)`, how much
            the fit changes from one training set to the next.
        noise: :math:`\sigma^2`, the error even the true function makes.
        best_lam: the penalty with the smallest ``test_error``.
    """

    lams: torch.Tensor
    train_error: torch.Tensor
    test_error: torch.Tensor
    bias_squared: torch.Tensor
    variance: torch.Tensor
    noise: float

    @property
    def best_lam(self) -> float:
        return float(self.lams[self.test_error.argmin()])


def ridge_bias_variance(
    lams: Sequence[float] | torch.Tensor,
    *,
    n_train: int = 30,
    n_features: int = 20,
    noise_std: float = 1.0,
    training_sets: int = 200,
    n_test: int = 1000,
    seed: int = 0,
) -> BiasVariance:
    r"""The bias-variance decomposition of ridge regression, measured over many training sets.

    Data come from :func:`course_lib.data.make_regression`: one true function
    :math:`f(x) = x^\top w^\star + b`, ``training_sets`` independent training sets
    :math:`D` of ``n_train`` noisy samples each, and ``n_test`` test inputs. For every
    :math:`\lambda` and every set, :func:`ridge_solution` fits :math:`\hat f_D`. At a test
    input the expected squared error against a fresh target :math:`y = f(x) + \varepsilon`
    splits exactly into three parts,

    .. math::
        \mathbb E_{D, \varepsilon}\big(\hat f_D(x) - y\big)^2
        = \underbrace{\big(\bar f(x) - f(x)\big)^2}_{\text{bias}^2}
        + \underbrace{\mathbb E_D\big(\hat f_D(x) - \bar f(x)\big)^2}_{\text{variance}}
        + \underbrace{\sigma^2}_{\text{noise}},
        \qquad \bar f(x) = \mathbb E_D \hat f_D(x),

    here with :math:`\mathbb E_D` the average over the drawn sets (so the identity holds
    to rounding). A larger :math:`\lambda` pulls every fit towards a constant: the
    variance falls and the bias grows.

    Args:
        lams: the penalties :math:`\lambda \ge 0`.
        n_train: samples per training set (default 30).
        n_features: input dimension (default 20).
        noise_std: :math:`\sigma` (default 1).
        training_sets: how many training sets are drawn (default 200).
        n_test: test inputs the errors are averaged over (default 1000).
        seed: seed of the true weights and of every set.

    Returns:
        A :class:`BiasVariance`, computed in float64.
    """
    from course_lib.data import make_regression

    lams = torch.as_tensor(lams, dtype=torch.float64).reshape(-1)
    if lams.numel() == 0 or bool((lams < 0).any()):
        raise ValueError(f"lams must be non-empty and >= 0, got {lams.tolist()}")
    if training_sets < 2:
        raise ValueError(f"training_sets must be >= 2 to measure a variance, got {training_sets}")
    truth = make_regression(n_test, n_features, noise_std=noise_std, seed=seed, dtype=torch.float64)
    f_test = truth.X @ truth.weight + truth.bias
    samples = [
        make_regression(
            n_train, n_features, noise_std=noise_std, weight=truth.weight, bias=truth.bias,
            seed=seed + 1 + r, dtype=torch.float64,
        )
        for r in range(training_sets)
    ]
    X = torch.stack([sample.X for sample in samples])  # (sets, n_train, d)
    y = torch.stack([sample.y for sample in samples])
    # ridge_solution for every set at once: centre, then solve the normal equations.
    x_mean, y_mean = X.mean(dim=1, keepdim=True), y.mean(dim=1, keepdim=True)
    Xc, yc = X - x_mean, y - y_mean
    gram = Xc.transpose(1, 2) @ Xc / n_train
    moment = (Xc.transpose(1, 2) @ yc.unsqueeze(2) / n_train).squeeze(2)
    eye = torch.eye(n_features, dtype=torch.float64)
    predictions = torch.empty(len(lams), training_sets, n_test, dtype=torch.float64)
    train_error = torch.empty(len(lams), dtype=torch.float64)
    for i, lam in enumerate(lams.tolist()):
        w = torch.linalg.solve(gram + lam * eye, moment)  # (sets, d)
        b = y_mean.squeeze(1) - (x_mean.squeeze(1) * w).sum(dim=1)
        predictions[i] = w @ truth.X.T + b[:, None]
        fitted = (X @ w.unsqueeze(2)).squeeze(2) + b[:, None]
        train_error[i] = ((fitted - y) ** 2).mean()
    mean_prediction = predictions.mean(dim=1)
    bias_squared = ((mean_prediction - f_test) ** 2).mean(dim=1)
    variance = predictions.var(dim=1, correction=0).mean(dim=1)
    noise = noise_std**2
    test_error = ((predictions - f_test) ** 2).mean(dim=(1, 2)) + noise
    return BiasVariance(lams, train_error, test_error, bias_squared, variance, noise)
