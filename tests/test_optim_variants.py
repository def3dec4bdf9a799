"""Equivalences the book states, the teaching variants, and the update functions on their own.

Where torch has a counterpart the check is against it; where it has none (AdamAbs,
ewma) the check is analytic: a closed form, or a property the docstring promises.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

import course_lib.optim as co
from course_lib.optim import rules as F

O = torch.optim


def regression_problem(dtype: torch.dtype = torch.float64, seed: int = 0):
    """A 4-feature linear regression: weight (3, 4) and bias (3,) to fit from 32 samples."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(32, 4, generator=generator, dtype=dtype)
    Y = X @ torch.randn(4, 3, generator=generator, dtype=dtype) + 0.1 * torch.randn(32, 3, generator=generator, dtype=dtype)
    weight = nn.Parameter(torch.randn(3, 4, generator=generator, dtype=dtype))
    bias = nn.Parameter(torch.randn(3, generator=generator, dtype=dtype))
    return X, Y, weight, bias


def clone_params(*params: nn.Parameter) -> list[nn.Parameter]:
    return [nn.Parameter(p.detach().clone()) for p in params]


def fit(optimizer_factory, steps: int, l2: float = 0.0, before_step=None):
    X, Y, weight, bias = regression_problem()
    optimizer = optimizer_factory([weight, bias])
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ((X @ weight.T + bias - Y) ** 2).mean()
        if l2:
            loss = loss + 0.5 * l2 * (weight.pow(2).sum() + bias.pow(2).sum())
        loss.backward()
        if before_step is not None:
            before_step([weight, bias])
        optimizer.step()
    return weight.detach(), bias.detach()


# ----------------------------------------------------------------------------- equivalences

@pytest.mark.parametrize("momentum", [0.0, 0.9], ids=["plain", "momentum"])
def test_sgd_weight_decay_equals_l2_term_in_the_loss(momentum: float) -> None:
    """SGD(weight_decay=λ) on L is SGD on L + λ/2 ||θ||², with or without momentum (30 steps, float64)."""
    decayed = fit(lambda p: co.SGD(p, lr=0.05, momentum=momentum, weight_decay=0.1), steps=30)
    penalized = fit(lambda p: co.SGD(p, lr=0.05, momentum=momentum), steps=30, l2=0.1)
    plain = fit(lambda p: co.SGD(p, lr=0.05, momentum=momentum), steps=30)
    for a, b, c in zip(decayed, penalized, plain):
        assert_close(a, b, rtol=1e-12, atol=1e-12)
        assert (a - c).abs().max() > 1e-3, "weight decay should have changed the result"


def test_decay_then_step_sgd_equals_torch_sgd_with_weight_decay() -> None:
    """For plain SGD, decaying first equals L2 in the gradient (up to rounding: float64, 30 steps)."""
    ours = fit(lambda p: co.DecayThenStepSGD(p, lr=0.05, weight_decay=0.1), steps=30)
    ref = fit(lambda p: O.SGD(p, lr=0.05, weight_decay=0.1), steps=30)
    for a, b in zip(ours, ref):
        assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_adamw_without_weight_decay_is_adam() -> None:
    adamw = fit(lambda p: co.AdamW(p, lr=0.01, weight_decay=0.0), steps=20)
    adam = fit(lambda p: co.Adam(p, lr=0.01), steps=20)
    torch_adam = fit(lambda p: O.Adam(p, lr=0.01, foreach=False), steps=20)
    for a, b, c in zip(adamw, adam, torch_adam):
        assert_close(a, b, rtol=0, atol=0)
        assert_close(a, c, rtol=0, atol=0)


def test_adamw_is_decoupled_decay_then_torch_adam_step() -> None:
    """Shrinking θ by (1 - ηλ) before each torch Adam step reproduces torch AdamW exactly."""
    lr, wd = 0.01, 0.1

    def decay(params):
        with torch.no_grad():
            for p in params:
                co.decoupled_weight_decay_(p, lr, wd)

    composed = fit(lambda p: O.Adam(p, lr=lr, foreach=False), steps=20, before_step=decay)
    adamw = fit(lambda p: O.AdamW(p, lr=lr, weight_decay=wd, foreach=False), steps=20)
    for a, b in zip(composed, adamw):
        assert_close(a, b, rtol=0, atol=0)


def test_adam_l2_differs_from_adamw_by_a_clear_margin() -> None:
    """L2 inside Adam is divided by sqrt(v): a weight whose loss gradient is zero shrinks by
    about lr per step under Adam+L2, but only by the factor (1 - lr·λ) under AdamW."""
    lr, wd, steps = 0.01, 0.1, 20

    def run(optimizer_cls):
        w = nn.Parameter(torch.tensor([1.0, 1.0], dtype=torch.float64))
        optimizer = optimizer_cls([w], lr=lr, weight_decay=wd)
        for _ in range(steps):
            optimizer.zero_grad()
            (50.0 * (w[1] - 3.0) ** 2).backward()  # no loss gradient on w[0]
            optimizer.step()
        return w.detach()

    l2, decoupled = run(co.AdamL2), run(co.AdamW)
    assert decoupled[0].item() == pytest.approx((1 - lr * wd) ** steps, rel=1e-12)
    assert l2[0].item() == pytest.approx(1 - steps * lr, abs=5e-3)
    assert decoupled[0] - l2[0] > 0.15
    torch_l2 = run(lambda params, **kw: O.Adam(params, foreach=False, **kw))
    assert_close(l2, torch_l2, rtol=0, atol=0)


def test_radam_is_momentum_sgd_until_the_variance_is_tractable_then_rectified_adam() -> None:
    """With β2 = 0.999, ρ_t ≤ 5 for t ≤ 5: the step is exactly η·m̂_t. From t = 6 on it is
    Adam's step (ε before the bias correction) scaled by r_t, which starts near 0.026."""
    beta1, beta2, lr, eps = 0.9, 0.999, 0.1, 1e-8
    grads = torch.randn(8, 3, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    w, state = torch.zeros(3, dtype=torch.float64), {}
    m, v = torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    rho_inf = 2 / (1 - beta2) - 1
    for t, g in enumerate(grads, start=1):
        before = w.clone()
        F.radam_update(w, g, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
        m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if t <= 5:
            assert rho_t <= 5
            expected = lr * m_hat
        else:
            r_t = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            assert 0.02 < r_t < 0.04
            expected = lr * m_hat * r_t * math.sqrt(1 - beta2**t) / (v.sqrt() + eps)
        assert_close(before - w, expected, rtol=1e-12, atol=1e-15)


def test_rprop_grows_steps_while_the_sign_holds_and_pauses_after_a_flip() -> None:
    """Coordinate 0 keeps its sign: Δ grows by η+ per step up to Δmax. Coordinate 1 flips
    at step 3: Δ shrinks by η−, it does not move that step, and the next step starts afresh."""
    w, state = torch.zeros(2, dtype=torch.float64), {}
    grads = [(1.0, 1.0), (1.0, 1.0), (1.0, -1.0), (1.0, -1.0), (1.0, -1.0)]
    positions = []
    for g in grads:
        F.rprop_update(w, torch.tensor(g, dtype=torch.float64), state, lr=0.1, step_size_max=0.2)
        positions.append(w.clone())
    # coordinate 0: steps 0.1, 0.12, 0.144, 0.1728, then capped at 0.2
    assert_close(positions[-1][0], torch.tensor(-(0.1 + 0.12 + 0.144 + 0.1728 + 0.2), dtype=torch.float64))
    # coordinate 1: -0.1, -0.12, then the flip: Δ = 0.06 and no move, then +0.06 (s = 0), +0.072
    assert_close(torch.stack(positions)[:, 1], torch.tensor([-0.1, -0.22, -0.22, -0.16, -0.088], dtype=torch.float64))


def test_asgd_averages_the_iterates_after_t0_and_decays_its_step() -> None:
    """With t0 = 0, ``ax`` after T steps is the mean of the iterates θ_2..θ_T, and
    η_t = η0 / (1 + λ η0 t)^α."""
    lr, lambd, alpha = 0.1, 0.5, 0.75
    w, state, iterates = torch.ones(3, dtype=torch.float64), {}, []
    grads = torch.randn(6, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for t, g in enumerate(grads, start=1):
        F.asgd_update(w, g, state, lr=lr, lambd=lambd, alpha=alpha, t0=0)
        iterates.append(w.clone())
        assert state["eta"].item() == pytest.approx(lr / (1 + lambd * lr * t) ** alpha, rel=1e-6)
    # mu = 1/t is stored as a float32 0-dim tensor, as in torch
    assert_close(state["ax"], torch.stack(iterates[1:]).mean(dim=0), rtol=1e-6, atol=1e-7)
    assert not torch.allclose(state["ax"], w)


def test_sparse_adam_moves_only_the_rows_in_the_gradient() -> None:
    """Rows absent from the sparse gradient keep parameters and moments; on its first step a
    present row moves by about lr·sign(g), as Adam's first step does."""
    table = nn.Embedding(5, 2, sparse=True).double()
    before = table.weight.detach().clone()
    optimizer = co.SparseAdam(table.parameters(), lr=0.1)
    table(torch.tensor([1, 3, 3])).sum().backward()
    optimizer.step()
    moved = (table.weight != before).any(dim=1)
    assert moved.tolist() == [False, True, False, True, False]
    assert_close(table.weight[[1, 3]], before[[1, 3]] - 0.1, rtol=0, atol=1e-6)
    state = optimizer.state[table.weight]
    assert state["step"] == 1 and torch.count_nonzero(state["exp_avg"][[0, 2, 4]]) == 0
    with pytest.raises(RuntimeError, match="does not support dense gradients"):
        table.weight.grad = torch.ones_like(table.weight)
        optimizer.step()


def test_two_loop_recursion_is_the_bfgs_inverse_hessian_update() -> None:
    """With one pair (s, y) and scale γ, the recursion returns −H g for
    H = (I − ρ s yᵀ) γI (I − ρ y sᵀ) + ρ s sᵀ (Nocedal & Wright, eq. 7.19)."""
    generator = torch.Generator().manual_seed(5)
    g, s, y = (torch.randn(4, generator=generator, dtype=torch.float64) for _ in range(3))
    y = y + 2 * s  # keep yᵀs > 0
    rho, gamma = 1 / y.dot(s), y.dot(s) / y.dot(y)
    eye = torch.eye(4, dtype=torch.float64)
    H = (eye - rho * torch.outer(s, y)) @ (gamma * eye) @ (eye - rho * torch.outer(y, s)) + rho * torch.outer(s, s)
    direction = co.two_loop_recursion(g, [s], [y], [rho], gamma, [None])
    assert_close(direction, -H @ g, rtol=1e-12, atol=1e-12)
    assert direction.dot(g) < 0, "H is positive definite: a descent direction"


def test_cubic_interpolate_finds_the_minimum_of_a_cubic() -> None:
    """f(x) = x³ − 3x has its local minimum at 1; two points with slopes determine it."""
    f = lambda x: x**3 - 3 * x  # noqa: E731
    df = lambda x: 3 * x**2 - 3  # noqa: E731
    x1, x2 = 0.0, 2.0
    minimizer = co.cubic_interpolate(x1, f(x1), torch.tensor(df(x1)), x2, f(x2), torch.tensor(df(x2)))
    assert float(minimizer) == pytest.approx(1.0, abs=1e-12)
    assert co.cubic_interpolate(x2, f(x2), torch.tensor(df(x2)), x1, f(x1), torch.tensor(df(x1))) == pytest.approx(1.0)


def test_strong_wolfe_line_search_returns_a_step_chapter_2_accepts() -> None:
    """On the Rosenbrock function from (−1.2, 1) along −∇f, the step found satisfies both
    strong Wolfe conditions as checked by course_lib.stochastic.wolfe_conditions."""
    from course_lib.stochastic.line_search import wolfe_conditions

    def rosenbrock(x: torch.Tensor) -> torch.Tensor:
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    loss = rosenbrock(x)
    (grad,) = torch.autograd.grad(loss, x)
    direction = -grad

    def evaluate(x_saved, step, d):
        point = (x_saved[0] + step * d).detach().requires_grad_(True)
        value = rosenbrock(point)
        (g,) = torch.autograd.grad(value, point)
        return float(value), g

    _, _, step, evaluations = co.strong_wolfe_line_search(
        evaluate, [x.detach()], 1.0, direction, loss.item(), grad, grad.dot(direction)
    )
    check = wolfe_conditions(rosenbrock, x.detach(), direction, float(step), strong=True)
    assert check.both, check
    assert 1 < evaluations < 25, "the first trial (t = 1) overshoots; zooming should find a step quickly"


def test_lbfgs_solves_a_quadratic_in_one_step() -> None:
    """On f(w) = ½ wᵀAw − bᵀw in 6 dimensions (condition number 20) one call to step
    (strong Wolfe) reaches A⁻¹b to 1e-7 within 16 evaluations of f; gradient descent with
    the best constant step, 2/(L+μ), is still 10% away after as many gradients."""
    generator = torch.Generator().manual_seed(7)
    M = torch.randn(6, 6, generator=generator, dtype=torch.float64)
    A, b = M @ M.T + 0.5 * torch.eye(6, dtype=torch.float64), torch.randn(6, generator=generator, dtype=torch.float64)
    solution = torch.linalg.solve(A, b)
    w = nn.Parameter(torch.zeros(6, dtype=torch.float64))
    optimizer = co.LBFGS([w], line_search_fn="strong_wolfe", tolerance_grad=1e-10, tolerance_change=1e-14)

    def closure():
        optimizer.zero_grad()
        loss = 0.5 * w @ A @ w - b @ w
        loss.backward()
        return loss

    optimizer.step(closure)
    evaluations = optimizer.state[w]["func_evals"]
    assert evaluations <= 16
    assert_close(w.detach(), solution, rtol=0, atol=1e-7)

    eigenvalues = torch.linalg.eigvalsh(A)
    step = 2 / (eigenvalues[0] + eigenvalues[-1])
    v = torch.zeros(6, dtype=torch.float64)
    for _ in range(evaluations):
        v = v - step * (A @ v - b)
    assert (v - solution).norm() > 0.1 * solution.norm()


def test_nadam_decoupled_uses_lr_times_weight_decay() -> None:
    """With zero gradients NAdam's moments stay zero, so only the decay acts: θ·(1-ηλ)^t."""
    w = nn.Parameter(torch.ones(3, dtype=torch.float64))
    optimizer = co.NAdam([w], lr=0.01, weight_decay=0.5, decoupled_weight_decay=True)
    for _ in range(7):
        w.grad = torch.zeros(3, dtype=torch.float64)
        optimizer.step()
    assert_close(w.detach(), torch.full((3,), (1 - 0.005) ** 7, dtype=torch.float64))


# ------------------------------------------------------------------ weight-decay blocks

def test_grad_with_l2_penalty_returns_new_tensor() -> None:
    grad, param = torch.tensor([1.0, -2.0]), torch.tensor([10.0, 20.0])
    result = co.grad_with_l2_penalty(grad, param, 0.1)
    assert_close(result, torch.tensor([2.0, 0.0]))
    assert_close(grad, torch.tensor([1.0, -2.0]))


def test_decoupled_weight_decay_is_in_place_and_scaled_by_lr() -> None:
    param = torch.tensor([2.0, -4.0])
    returned = co.decoupled_weight_decay_(param, lr=0.1, weight_decay=0.5)
    assert returned is param
    assert_close(param, torch.tensor([1.9, -3.8]))


# ------------------------------------------------------------------------------- ewma

def test_ewma_matches_closed_form() -> None:
    """v_t = (1-β) Σ_{i≤t} β^{t-i} x_i, and the corrected v_t / (1-β^t)."""
    x = torch.randn(25, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    beta = 0.8
    expected = torch.stack([
        (1 - beta) * sum(beta ** (t - i) * x[i] for i in range(t + 1)) for t in range(len(x))
    ])
    assert_close(co.ewma(x, beta), expected)
    corrections = torch.tensor([1 - beta ** (t + 1) for t in range(len(x))], dtype=torch.float64)
    assert_close(co.ewma(x, beta, bias_correction=True), expected / corrections)


def test_ewma_bias_correction_removes_startup_bias() -> None:
    constant = [3.0] * 10
    assert_close(co.ewma(constant, 0.9, bias_correction=True), torch.full((10,), 3.0, dtype=torch.float64))
    raw = co.ewma(constant, 0.9)
    assert raw[0].item() == pytest.approx(0.3)
    assert raw[-1].item() == pytest.approx(3.0 * (1 - 0.9**10))


def test_ewma_keeps_tensor_dtype_and_validates() -> None:
    assert co.ewma(torch.ones(4, dtype=torch.float32), 0.5).dtype == torch.float32
    assert co.ewma([1, 2, 3], 0.0).tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="beta"):
        co.ewma([1.0], 1.0)
    with pytest.raises(ValueError, match="1-D"):
        co.ewma(torch.ones(2, 2), 0.5)


def test_ewma_is_what_adam_keeps_in_exp_avg() -> None:
    grads = torch.randn(12, generator=torch.Generator().manual_seed(5))
    state: dict = {}
    w = torch.zeros(1)
    for g in grads:
        co.adam_update(w, g.reshape(1), state, lr=0.0, beta1=0.8)
    assert_close(state["exp_avg"][0], co.ewma(grads, 0.8)[-1], rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------ AdamAbs

def test_adam_abs_constant_gradient_steps_lr_per_coordinate() -> None:
    """m̂ = c and â = |c| for a constant gradient c, so every step is lr·sign(c)."""
    w = nn.Parameter(torch.zeros(3, dtype=torch.float64))
    optimizer = co.AdamAbs([w], lr=0.1, eps=0.0)
    for _ in range(5):
        w.grad = torch.tensor([4.0, -0.001, 250.0], dtype=torch.float64)
        optimizer.step()
    assert_close(w.detach(), torch.tensor([-0.5, 0.5, -0.5], dtype=torch.float64), rtol=1e-12, atol=1e-12)


def test_adam_abs_matches_hand_written_loop_and_is_scale_free() -> None:
    generator = torch.Generator().manual_seed(7)
    grads = torch.randn(15, 4, generator=generator, dtype=torch.float64)
    beta1, beta2, lr, eps = 0.9, 0.99, 0.05, 1e-8

    theta, m, a = torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        a = beta2 * a + (1 - beta2) * g.abs()
        theta = theta - lr * (m / (1 - beta1**t)) / (a / (1 - beta2**t) + eps)

    def run(scale: float) -> torch.Tensor:
        w, state = torch.ones(4, dtype=torch.float64), {}
        for g in grads:
            co.adam_abs_update(w, scale * g, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
        assert list(state) == ["step", "exp_avg", "exp_avg_abs"]
        return w

    assert_close(run(1.0), theta, rtol=1e-12, atol=1e-12)
    assert_close(run(1000.0), theta, rtol=1e-6, atol=1e-9)


def test_adam_abs_differs_from_adam() -> None:
    grads = torch.randn(10, 4, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    w_abs, w_adam, s_abs, s_adam = torch.ones(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64), {}, {}
    for g in grads:
        co.adam_abs_update(w_abs, g, s_abs, lr=0.1)
        co.adam_update(w_adam, g, s_adam, lr=0.1)
    assert (w_abs - w_adam).abs().max() > 1e-3


def test_adam_abs_weight_decay_is_the_decoupled_regularization_step() -> None:
    """With zero gradients the optimizer step does nothing, leaving θ·(1-ηλ)^t."""
    w = nn.Parameter(torch.full((2,), 2.0, dtype=torch.float64))
    optimizer = co.AdamAbs([w], lr=0.1, weight_decay=0.2)
    for _ in range(4):
        w.grad = torch.zeros(2, dtype=torch.float64)
        optimizer.step()
    assert_close(w.detach(), torch.full((2,), 2.0 * 0.98**4, dtype=torch.float64))


def test_adam_abs_maximize_ascends() -> None:
    w = nn.Parameter(torch.zeros(1))
    optimizer = co.AdamAbs([w], lr=0.1, maximize=True)
    w.grad = torch.ones(1)
    optimizer.step()
    assert w.item() == pytest.approx(0.1, rel=1e-6)


# -------------------------------------------------------------------- base classes

def test_decay_then_step_base_requires_an_optimizer_step() -> None:
    class Incomplete(co.DecayThenStepOptimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1, "weight_decay": 0.0})

    w = nn.Parameter(torch.ones(2))
    w.grad = torch.ones(2)
    with pytest.raises(NotImplementedError):
        Incomplete([w]).step()
    with pytest.raises(ValueError, match="Invalid learning rate"):
        co.DecayThenStepSGD([w], lr=-1.0)
    with pytest.raises(ValueError, match="Invalid weight_decay"):
        co.DecayThenStepAdam([w], weight_decay=-1.0)


def test_custom_per_tensor_optimizer_gets_torch_machinery() -> None:
    class SignDescent(co.PerTensorOptimizer):
        def __init__(self, params, lr=1e-3):
            super().__init__(params, {"lr": lr})

        def update(self, param, grad, state, group):
            state["calls"] = state.get("calls", 0) + 1
            param.add_(grad.sign(), alpha=-group["lr"])

    w, frozen = nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(1))
    optimizer = SignDescent([{"params": [w]}, {"params": [frozen], "lr": 1.0}], lr=0.5)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    for _ in range(2):
        w.grad = torch.tensor([2.0, -3.0, 0.0])
        optimizer.step()
        scheduler.step()
    assert_close(w.detach(), torch.tensor([-0.75, 0.75, 0.0]))
    assert frozen.item() == 0.0 and frozen not in optimizer.state
    assert optimizer.state_dict()["state"][0]["calls"] == 2


# ------------------------------------------------------------------ update functions

UPDATES = [
    (F.sgd_update, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True}),
    (F.adagrad_update, {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    (F.rmsprop_update, {"lr": 0.1, "momentum": 0.9, "centered": True, "weight_decay": 0.1, "maximize": True}),
    (F.adadelta_update, {"weight_decay": 0.1, "maximize": True}),
    (F.adam_update, {"lr": 0.1, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    (F.adamw_update, {"lr": 0.1, "amsgrad": True, "maximize": True}),
    (F.adamax_update, {"weight_decay": 0.1, "maximize": True}),
    (F.nadam_update, {"weight_decay": 0.1, "maximize": True}),
    (F.radam_update, {"weight_decay": 0.1, "maximize": True}),
    (F.rprop_update, {"maximize": True}),
    (F.asgd_update, {"weight_decay": 0.1, "maximize": True, "t0": 1}),
    (co.adam_abs_update, {"lr": 0.1, "maximize": True}),
]


@pytest.mark.parametrize("update, kwargs", UPDATES, ids=[u.__name__ for u, _ in UPDATES])
def test_update_functions_never_modify_grad_and_create_state(update, kwargs) -> None:
    param = torch.randn(5, generator=torch.Generator().manual_seed(2))
    start = param.clone()
    state: dict = {}
    for _ in range(3):
        grad = torch.randn(5, generator=torch.Generator().manual_seed(4))
        grad_copy = grad.clone()
        update(param, grad, state, **kwargs)
        assert torch.equal(grad, grad_copy)
    assert state, "the first call should create the state"
    assert not torch.equal(param, start)


def test_init_state_functions_show_memory_cost() -> None:
    p = torch.zeros(7)
    shaped = lambda state: sum(1 for v in state.values() if torch.is_tensor(v) and v.shape == p.shape)  # noqa: E731
    assert shaped(F.adam_init_state(p)) == 2
    assert shaped(F.adam_init_state(p, amsgrad=True)) == 3
    assert shaped(F.rmsprop_init_state(p)) == 1
    assert shaped(F.rmsprop_init_state(p, momentum=0.9, centered=True)) == 3
    assert shaped(F.adagrad_init_state(p, 0.5)) == 1 and F.adagrad_init_state(p, 0.5)["sum"][0] == 0.5
    assert shaped(F.adadelta_init_state(p)) == 2
    assert shaped(F.adamax_init_state(p)) == 2
    assert shaped(F.nadam_init_state(p)) == 2 and F.nadam_init_state(p)["mu_product"].item() == 1.0
    assert shaped(F.radam_init_state(p)) == 2
    assert shaped(F.rprop_init_state(p, 0.1)) == 2 and F.rprop_init_state(p, 0.1)["step_size"][0] == 0.1
    assert shaped(F.asgd_init_state(p, 0.1)) == 1 and F.asgd_init_state(p, 0.1)["eta"].item() == pytest.approx(0.1)
    assert shaped(F.sparse_adam_init_state(p)) == 2 and F.sparse_adam_init_state(p)["step"] == 0


def test_adagrad_creates_state_at_construction_like_torch() -> None:
    w = nn.Parameter(torch.ones(2))
    ours, ref = co.Adagrad([w], initial_accumulator_value=0.25), O.Adagrad([w], initial_accumulator_value=0.25)
    assert list(ours.state[w]) == list(ref.state[w]) == ["step", "sum"]
    assert_close(ours.state[w]["sum"], ref.state[w]["sum"])


def test_step_counter_follows_default_dtype_like_torch() -> None:
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        w = nn.Parameter(torch.ones(2))
        w.grad = torch.ones(2)
        ours, ref = co.NAdam([w]), O.NAdam([nn.Parameter(torch.ones(2))], foreach=False)
        ref.param_groups[0]["params"][0].grad = torch.ones(2)
        ours.step()
        ref.step()
        ref_state = next(iter(ref.state.values()))
        for key in ("step", "mu_product"):
            assert ours.state[w][key].dtype == ref_state[key].dtype == torch.float64
    finally:
        torch.set_default_dtype(previous)
    assert co.new_step_counter().dtype == torch.float32


def test_foreach_paths_handle_mixed_dtypes_like_the_readable_path() -> None:
    """Tensors of two dtypes in one group are grouped by (device, dtype) before the _foreach ops."""
    def make():
        return [nn.Parameter(torch.linspace(-1, 1, 4)), nn.Parameter(torch.linspace(1, 2, 3, dtype=torch.float64))]

    for cls, kwargs in [(co.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}), (co.Adam, {"lr": 0.1, "amsgrad": True})]:
        fast_params, slow_params = make(), make()
        fast, slow = cls(fast_params, foreach=True, **kwargs), cls(slow_params, foreach=False, **kwargs)
        for step in range(4):
            for params, optimizer in ((fast_params, fast), (slow_params, slow)):
                for p in params:
                    p.grad = torch.sin(p.detach() * (step + 1))
                optimizer.step()
        for p, q, start in zip(fast_params, slow_params, make()):
            assert_close(p, q, rtol=0, atol=0)
            assert not torch.equal(p, start)


def test_adamw_state_dict_forces_decoupled_flag_like_torch() -> None:
    w = nn.Parameter(torch.ones(2))
    adam = co.Adam([w], weight_decay=0.1)
    adamw = co.AdamW([nn.Parameter(torch.ones(2))])
    adamw.load_state_dict(adam.state_dict())
    assert adamw.param_groups[0]["decoupled_weight_decay"] is True
    adaml2 = co.AdamL2([nn.Parameter(torch.ones(2))])
    adaml2.load_state_dict(adamw.state_dict())
    assert adaml2.param_groups[0]["decoupled_weight_decay"] is False
    assert math.isclose(adaml2.param_groups[0]["weight_decay"], 0.1), "hyperparameters come from the state dict"


@pytest.mark.parametrize(
    "module",
    ["course_lib.optim", "course_lib.optim.rules", "course_lib.optim.optimizers", "course_lib.optim.lbfgs", "course_lib.optim.decay_then_step", "course_lib.optim.adam_abs",
     "course_lib.optim.weight_decay", "course_lib.optim.ewma", "course_lib.optim._base", "course_lib.clipping"],
)
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, result
