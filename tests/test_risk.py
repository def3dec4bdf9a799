"""course_lib.risk against direct torch computations (autograd, mse_loss, lstsq)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F
from torch.testing import assert_close

from course_lib import data, risk

CASES = [
    # (n, d, lam, dtype, description)
    (12, 3, 0.0, torch.float64, "plain least squares"),
    (40, 5, 0.7, torch.float64, "ridge"),
    (1, 1, 0.1, torch.float32, "a single sample"),
    (25, 2, 2.0, torch.float32, "strong penalty, float32"),
]


def _inputs(n, d, dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    w, b = torch.randn(d, generator=g, dtype=dtype), torch.randn((), generator=g, dtype=dtype)
    X, y = torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, generator=g, dtype=dtype)
    return [t.to(device) for t in (w, b, X, y)]


@pytest.mark.parametrize("n,d,lam,dtype,desc", CASES, ids=[c[-1] for c in CASES])
def test_empirical_risk_is_mse_loss(n, d, lam, dtype, desc, device):
    w, b, X, y = _inputs(n, d, dtype, device)
    got = risk.empirical_risk(lambda X: risk.linear_model(X, w, b), X, y)
    assert_close(got, F.mse_loss(X @ w + b, y))


@pytest.mark.parametrize("n,d,lam,dtype,desc", CASES, ids=[c[-1] for c in CASES])
def test_ridge_gradient_matches_autograd(n, d, lam, dtype, desc, device):
    w, b, X, y = _inputs(n, d, dtype, device)
    w_, b_ = w.clone().requires_grad_(), b.clone().requires_grad_()
    risk.ridge_risk(w_, b_, X, y, lam).backward()
    grad_w, grad_b = risk.ridge_gradient(w, b, X, y, lam)
    assert_close(grad_w, w_.grad)
    assert_close(grad_b, b_.grad)


def test_ridge_risk_penalizes_weights_not_bias():
    w, b, X, y = _inputs(10, 3, torch.float64, "cpu")
    base = risk.ridge_risk(w, b, X, y, 0.0)
    assert_close(risk.ridge_risk(w, b, X, y, 0.5) - base, 0.5 * (w**2).sum())
    assert_close(risk.ridge_risk(w, b + 1.0, X, y, 0.5) - risk.ridge_risk(w, b + 1.0, X, y, 0.0), 0.5 * (w**2).sum())


def test_ridge_solution_is_the_minimizer():
    d = data.make_regression(60, 4, seed=3, dtype=torch.float64)
    w0, b0 = risk.ridge_solution(d.X, d.y, 0.0)
    design = torch.cat([d.X, torch.ones(60, 1, dtype=torch.float64)], dim=1)
    lstsq = torch.linalg.lstsq(design, d.y.unsqueeze(1)).solution.squeeze(1)
    assert_close(torch.cat([w0, b0.reshape(1)]), lstsq)
    w, b = risk.ridge_solution(d.X, d.y, 0.3)
    grad_w, grad_b = risk.ridge_gradient(w, b, d.X, d.y, 0.3)
    assert grad_w.abs().max() < 1e-10 and abs(grad_b) < 1e-10


def test_ridge_shrinks_weights_as_lambda_grows():
    d = data.make_regression(80, 3, seed=4, dtype=torch.float64)
    norms = [risk.ridge_solution(d.X, d.y, lam)[0].norm().item() for lam in (0.0, 0.1, 1.0, 10.0)]
    assert all(a > b for a, b in zip(norms, norms[1:]))


def test_gradient_descent_matches_a_torch_sgd_loop():
    d = data.make_regression(50, 2, seed=5, dtype=torch.float64)
    result = risk.gradient_descent(d.X, d.y, lr=0.1, steps=30, lam=0.05)
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=0.1)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.mse_loss(d.X @ w + b, d.y) + 0.05 * (w**2).sum()
        losses.append(loss.detach())
        loss.backward()
        opt.step()
    assert_close(result.w, w.detach())
    assert_close(result.b, b.detach())
    assert_close(result.losses[:-1], torch.stack(losses))
    assert result.losses.shape == (31,)


def test_gradient_descent_diverges_when_lr_is_too_large():
    d = data.make_regression(100, 1, seed=0, dtype=torch.float64)
    slow, fast = (risk.gradient_descent(d.X, d.y, lr=lr, steps=40).losses for lr in (0.1, 1.5))
    assert slow[-1] < slow[0]
    assert fast[-1] > 100 * fast[0]


def test_bias_variance_decomposition_is_exact_and_matches_ridge_solution():
    lams = [0.0, 0.1, 1.0, 100.0]
    result = risk.ridge_bias_variance(lams, n_train=15, n_features=5, noise_std=2.0,
                                      training_sets=4, n_test=50, seed=3)
    assert_close(result.test_error, result.bias_squared + result.variance + 4.0)
    # The batched solve is ridge_solution, set by set.
    truth = data.make_regression(50, 5, noise_std=2.0, seed=3, dtype=torch.float64)
    f_test = truth.X @ truth.weight + truth.bias
    for i, lam in enumerate(lams):
        train_errors, predictions = [], []
        for r in range(4):
            sample = data.make_regression(15, 5, noise_std=2.0, weight=truth.weight,
                                          bias=truth.bias, seed=4 + r, dtype=torch.float64)
            w, b = risk.ridge_solution(sample.X, sample.y, lam)
            train_errors.append(((sample.X @ w + b - sample.y) ** 2).mean())
            predictions.append(truth.X @ w + b)
        predictions = torch.stack(predictions)
        assert_close(result.train_error[i], torch.stack(train_errors).mean())
        assert_close(result.bias_squared[i], ((predictions.mean(0) - f_test) ** 2).mean())
        assert_close(result.variance[i], predictions.var(0, correction=0).mean())


def test_bias_grows_variance_shrinks_and_the_best_lambda_is_inside():
    lams = torch.logspace(-3, 2, 11, dtype=torch.float64)
    result = risk.ridge_bias_variance(lams, noise_std=3.0, training_sets=100)
    assert result.train_error.diff().min() > 0, "a larger penalty never fits the training set better"
    assert result.bias_squared[-1] > 50 * result.bias_squared[0]
    assert result.variance[0] > 10 * result.variance[-1]
    assert lams[0] < result.best_lam < lams[-1]
    with pytest.raises(ValueError, match="lams"):
        risk.ridge_bias_variance([-1.0])
    with pytest.raises(ValueError, match="training_sets"):
        risk.ridge_bias_variance([1.0], training_sets=1)
