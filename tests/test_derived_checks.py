"""The references of the exercise parts that ask students to derive something, checked
against runs of the methods they describe (the tests of test_checks.py only compare
students' answers with these references)."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib import risk
from course_lib.grading import get_check


@pytest.mark.parametrize("case_index", range(5))
def test_max_stable_lr_is_where_gradient_descent_on_ridge_starts_to_diverge(case_index):
    check = get_check("risk.max_stable_lr")
    case = check.cases(True)[case_index]
    X = case["X"].double()
    y = X @ torch.linspace(-1, 1, X.shape[1], dtype=torch.float64) + 0.5
    limit = check.reference(**case)
    below = risk.gradient_descent(X, y, lr=0.98 * limit, steps=2000, lam=case["lam"]).losses
    above = risk.gradient_descent(X, y, lr=1.02 * limit, steps=2000, lam=case["lam"]).losses
    assert below[-1] <= below[0] and torch.isfinite(below).all()
    assert above[-1] > 1e6 * above[0]


def nesterov_sizes(lr: float, momentum: float, curvature: float, steps: int) -> torch.Tensor:
    p = torch.ones(1, dtype=torch.float64, requires_grad=True)
    sgd = torch.optim.SGD([p], lr=lr, momentum=momentum, nesterov=True)
    sizes = [1.0]
    for _ in range(steps):
        sgd.zero_grad()
        (0.5 * curvature * p**2).sum().backward()
        sgd.step()
        sizes.append(p.abs().item())
    return torch.tensor(sizes, dtype=torch.float64)


@pytest.mark.parametrize("lr, momentum, curvature", [
    (0.1, 0.3, 1.0), (1.5, 0.3, 1.0), (0.05, 0.5, 2.0), (2.0, 0.5, 1.0), (0.5, 0.9, 1.0),
])
def test_nesterov_rate_is_the_measured_decay_of_torch_nesterov(lr, momentum, curvature):
    rate = get_check("momentum.nesterov_rate").reference(lr, momentum, curvature)
    sizes = nesterov_sizes(lr, momentum, curvature, 400)
    measured = (sizes[-40:].max() / sizes[-80:-40].max()).item() ** (1 / 40)
    assert measured == pytest.approx(rate, rel=0.02)


@pytest.mark.parametrize("momentum", [0.1, 0.5, 0.9])
def test_nesterov_rate_crosses_one_at_the_stability_bound(momentum):
    rate = get_check("momentum.nesterov_rate").reference
    bound = 2 * (1 + momentum) / (1 + 2 * momentum)
    assert rate(0.995 * bound, momentum, 1.0) < 1 < rate(1.005 * bound, momentum, 1.0)
    assert nesterov_sizes(0.98 * bound, momentum, 1.0, 3000)[-1] < 1e-3
    assert nesterov_sizes(1.02 * bound, momentum, 1.0, 3000)[-1] > 1e3
    assert math.isclose(rate(0.5, momentum, 1.0), rate(0.5 / 4, momentum, 4.0))  # only lr * h


@pytest.mark.parametrize("case_index", range(6))
def test_noise_floor_is_the_long_run_mean_square_of_simulated_sgd(case_index):
    check = get_check("sgd.noise_floor")
    case = check.cases(True)[case_index]
    lr, h, sigma = case["lr"], case["curvature"], case["noise_std"]
    generator = torch.Generator().manual_seed(case_index)
    theta = torch.full((20000,), 2.0, dtype=torch.float64)
    steps = int(20 / min(lr * h, 2 - lr * h))         # enough to forget the start
    for _ in range(steps):
        noise = torch.randn(20000, generator=generator, dtype=torch.float64)
        theta = theta - lr * (h * theta + sigma * noise)
    floor = check.reference(**case)
    # the mean of 20,000 squares of roughly normal numbers: about 1% standard error
    assert (theta**2).mean().item() == pytest.approx(floor, rel=0.05)


def test_full_adagrad_reference_is_adagrad_when_g_stays_diagonal_and_turns_with_rotations():
    step = get_check("adaptive.full_adagrad_step").reference
    generator = torch.Generator().manual_seed(0)
    p = torch.randn(3, generator=generator, dtype=torch.float64)
    leaf = torch.nn.Parameter(p.clone())
    adagrad = torch.optim.Adagrad([leaf], lr=0.1)
    G = torch.zeros(3, 3, dtype=torch.float64)
    for t in range(6):                       # gradients along one axis at a time: G diagonal
        g = torch.zeros(3, dtype=torch.float64)
        g[t % 3] = torch.randn((), generator=generator, dtype=torch.float64)
        leaf.grad = g.clone()
        adagrad.step()
        p, G = step(p, g, G, 0.1)
        torch.testing.assert_close(p, leaf.detach())
        torch.testing.assert_close(torch.diagonal(G), adagrad.state[leaf]["sum"])
    # rotating the problem rotates the step: p, g, G -> Q p, Q g, Q G Q^T
    Q = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64)).Q
    history = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    G, g = history.T @ history, torch.randn(3, generator=generator, dtype=torch.float64)
    new_p, new_G = step(p, g, G, 0.3)
    turned_p, turned_G = step(Q @ p, Q @ g, Q @ G @ Q.T, 0.3)
    torch.testing.assert_close(turned_p, Q @ new_p)
    torch.testing.assert_close(turned_G, Q @ new_G @ Q.T)
    # the first step (G = 0) is a normalized gradient step of length lr
    first, _ = step(torch.zeros(3, dtype=torch.float64), g,
                    torch.zeros(3, 3, dtype=torch.float64), 0.3, eps=1e-6)
    torch.testing.assert_close(first, -0.3 * g / (g.norm() + 1e-6))
