"""course_lib.stochastic against torch (optimizers, DataLoader, autograd, LBFGS) and against theory;
and the torch-backed references of the 02_sgd and 03_momentum checks against direct formulas."""

from __future__ import annotations

import math
import time

import pytest
import torch
from torch.nn import functional as F
from torch.testing import assert_close
from torch.utils.data import DataLoader, TensorDataset

from course_lib import data, models, risk, stochastic
from course_lib.grading.checks import momentum as momentum_checks
from course_lib.grading.checks import sgd as sgd_checks
from course_lib.optim import sgd_update

# ---------------------------------------------------------------- minibatch_sgd

SGD_RUNS = [
    # (n, d, batch_size, lr, epochs, seed, description)
    (60, 3, 8, 0.05, 3, 0, "batches of 8, last one smaller"),
    (40, 1, 1, 0.02, 2, 1, "plain SGD, one sample per step"),
    (50, 2, 50, 0.1, 4, 2, "one batch holding all the data"),
    (33, 4, 10, 0.05, 2, 3, "n not a multiple of the batch size"),
]


@pytest.mark.parametrize("n,d,batch_size,lr,epochs,seed,desc", SGD_RUNS, ids=[r[-1] for r in SGD_RUNS])
def test_minibatch_sgd_is_a_torch_training_loop(n, d, batch_size, lr, epochs, seed, desc):
    """The same run written the usual torch way: a DataLoader, nn.Linear, mse_loss, torch.optim.SGD.

    The DataLoader is handed the same shuffled batches (its own sampler would draw its
    permutations from the generator in another order)."""
    regression = data.make_regression(n, d, seed=seed, dtype=torch.float64)
    ours = stochastic.minibatch_sgd(regression.X, regression.y, batch_size=batch_size, lr=lr, epochs=epochs, seed=seed)

    model = torch.nn.Linear(d, 1).double()
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    dataset, generator = TensorDataset(regression.X, regression.y), torch.Generator().manual_seed(seed)
    losses = [F.mse_loss(model(regression.X).squeeze(1), regression.y).detach()]
    for _ in range(epochs):
        epoch = [index.tolist() for index in data.batches(n, batch_size, generator=generator)]
        for X_batch, y_batch in DataLoader(dataset, batch_sampler=epoch):
            optimizer.zero_grad()
            F.mse_loss(model(X_batch).squeeze(1), y_batch).backward()
            optimizer.step()
            losses.append(F.mse_loss(model(regression.X).squeeze(1), regression.y).detach())

    assert_close(ours.w, model.weight.detach()[0])
    assert_close(ours.b, model.bias.detach()[0])
    assert_close(ours.losses, torch.stack(losses))
    steps_per_epoch = math.ceil(n / batch_size)
    assert int(ours.steps[-1]) == epochs * steps_per_epoch
    assert int(ours.samples_seen[-1]) == epochs * n
    assert_close(ours.epochs[-1].item(), float(epochs))


def test_full_batch_is_chapter_1_gradient_descent():
    regression = data.make_regression(30, 2, seed=4, dtype=torch.float64)
    ours = stochastic.minibatch_sgd(regression.X, regression.y, batch_size=None, lr=0.1, epochs=12)
    reference = risk.gradient_descent(regression.X, regression.y, lr=0.1, steps=12)
    assert_close(ours.losses, reference.losses)
    assert_close(ours.weights, reference.weights)
    assert ours.batch_size == 30


def test_fractional_budget_and_recording():
    regression = data.make_regression(100, 2, seed=5, dtype=torch.float64)
    run = stochastic.minibatch_sgd(regression.X, regression.y, batch_size=16, lr=0.05, epochs=1.5, record_every=3)
    assert int(run.samples_seen[-1]) == 150          # the budget, cut inside the second epoch
    assert run.steps.tolist()[:3] == [0, 3, 6]        # every third step, the start first
    every = stochastic.minibatch_sgd(regression.X, regression.y, batch_size=16, lr=0.05, epochs=1.5)
    assert_close(run.w, every.w)
    assert_close(run.losses, every.losses[run.steps])
    assert_close(run.risk(regression.X, regression.y), run.losses)


def test_minibatch_sgd_rejects_bad_arguments():
    regression = data.make_regression(10, 1, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        stochastic.minibatch_sgd(regression.X, regression.y, batch_size=0, lr=0.1, epochs=1)
    with pytest.raises(ValueError, match="record_every"):
        stochastic.minibatch_sgd(regression.X, regression.y, batch_size=2, lr=0.1, epochs=1, record_every=0)


# ---------------------------------------------------------------- gradient noise


def test_per_sample_gradients_match_autograd_one_sample_at_a_time():
    regression = data.make_regression(12, 3, seed=6, dtype=torch.float64)
    net = models.mlp([3, 5, 1], activation="tanh", seed=0).double()
    loss_fn = lambda prediction, target: F.mse_loss(prediction.squeeze(-1), target)  # noqa: E731
    grads = stochastic.per_sample_gradients(net, loss_fn, regression.X, regression.y)
    assert grads.shape == (12, sum(p.numel() for p in net.parameters()))
    for i in (0, 5, 11):
        net.zero_grad()
        loss_fn(net(regression.X[i:i + 1]).squeeze(0), regression.y[i]).backward()
        assert_close(grads[i], torch.cat([p.grad.reshape(-1) for p in net.parameters()]))
    # the mean of the rows is the gradient of the mean loss
    net.zero_grad()
    F.mse_loss(net(regression.X).squeeze(1), regression.y).backward()
    assert_close(grads.mean(0), torch.cat([p.grad.reshape(-1) for p in net.parameters()]))


def test_standard_error_follows_one_over_root_batch_size():
    per_sample = torch.randn(8192, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3 + 1
    noise = stochastic.gradient_standard_error(per_sample, [1, 4, 16, 64, 256], min_batches=400, seed=1)
    assert noise.slope == pytest.approx(-0.5, abs=0.03)
    # batch size 1 over one epoch visits every sample once: exactly the per-sample spread
    assert noise.standard_errors[0].item() == pytest.approx(noise.sigma, rel=1e-9)
    n = per_sample.shape[0]
    theory = noise.sigma / noise.batch_sizes.double().sqrt() * ((n - noise.batch_sizes) / (n - 1)).sqrt()
    assert_close(noise.standard_errors, theory, rtol=0.1, atol=0)
    assert all(int(k) >= 400 for k in noise.batches_used)
    assert_close(noise.fitted(noise.batch_sizes), noise.standard_errors, rtol=0.15, atol=0)


def test_standard_error_vanishes_for_the_whole_data_set_and_checks_sizes():
    per_sample = torch.randn(64, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    noise = stochastic.gradient_standard_error(per_sample, [1, 64], min_batches=10)
    assert noise.standard_errors[1].item() < 1e-12
    with pytest.raises(ValueError, match="between 1 and n"):
        stochastic.gradient_standard_error(per_sample, [65])


LOGLOG = [
    # (slope, scale, description)
    (-0.5, 3.0, "square-root law"),
    (1.0, 0.1, "linear"),
    (2.5, 7.0, "steep"),
]


@pytest.mark.parametrize("slope,scale,desc", LOGLOG, ids=[c[-1] for c in LOGLOG])
def test_loglog_fit_recovers_a_power_law_and_matches_lstsq(slope, scale, desc):
    x = torch.tensor([1.0, 2.0, 5.0, 10.0, 100.0], dtype=torch.float64)
    got = stochastic.loglog_fit(x, scale * x**slope)
    assert got == pytest.approx((slope, math.log(scale)), abs=1e-9)
    noisy = scale * x**slope * torch.tensor([1.1, 0.9, 1.05, 0.97, 1.02], dtype=torch.float64)
    design = torch.stack([x.log(), torch.ones_like(x)], dim=1)
    expected = torch.linalg.lstsq(design, noisy.log().unsqueeze(1)).solution.squeeze(1)
    assert stochastic.loglog_fit(x.tolist(), noisy.tolist()) == pytest.approx(tuple(expected.tolist()), abs=1e-9)


# ---------------------------------------------------------------- cost of a step


def test_time_per_step_measures_each_batch_size_and_restores_threads():
    def make_step(batch_size):
        return lambda: time.sleep(0.0004 * batch_size)

    threads = torch.get_num_threads()
    timing = stochastic.time_per_step(make_step, [1, 8], repeats=5, warmup=1, threads=1)
    assert torch.get_num_threads() == threads
    assert timing.batch_sizes.tolist() == [1, 8]
    assert timing.ratio(8, 1) > 3
    assert_close(timing.per_sample, timing.seconds / timing.batch_sizes)


def test_mlp_step_trains():
    step = stochastic.make_mlp_step((8, 16, 3), lr=0.5, seed=0)(32)
    losses = [step() for _ in range(30)]
    assert losses[-1] < losses[0]


# ---------------------------------------------------------------- line search


def _half_square(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (x**2).sum()


WOLFE = [
    # (step, sufficient decrease, curvature, description); f = x^2/2 from x = 1 along p = -1
    (1.0, True, True, "the exact minimizer"),
    (0.5, True, True, "half way"),
    (0.01, True, False, "too short: the slope has hardly changed"),
    (2.0, False, True, "too long: back where it started"),
    (2.5, False, True, "overshoot: higher than the start"),
    (1.9, True, True, "long but still below the start"),
]


@pytest.mark.parametrize("step,decrease,curvature,desc", WOLFE, ids=[c[-1] for c in WOLFE])
def test_wolfe_conditions_on_a_parabola(step, decrease, curvature, desc):
    check = stochastic.wolfe_conditions(_half_square, torch.tensor([1.0], dtype=torch.float64),
                                        torch.tensor([-1.0], dtype=torch.float64), step)
    assert (check.sufficient_decrease, check.curvature) == (decrease, curvature)
    assert check.both == (decrease and curvature)
    assert check.slope_before == pytest.approx(-1.0)
    assert check.slope_after == pytest.approx(-(1.0 - step))


def test_strong_wolfe_also_forbids_a_steep_climb():
    x, p = torch.tensor([1.0], dtype=torch.float64), torch.tensor([-1.0], dtype=torch.float64)
    assert stochastic.wolfe_conditions(_half_square, x, p, 1.95).curvature            # slope +0.95 >= -0.9
    assert not stochastic.wolfe_conditions(_half_square, x, p, 1.95, strong=True).curvature


def test_torch_lbfgs_strong_wolfe_steps_pass_our_check():
    def rosenbrock(x):
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    p = torch.nn.Parameter(torch.tensor([-1.2, 1.0], dtype=torch.float64))
    optimizer = torch.optim.LBFGS([p], lr=1, max_iter=1, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = rosenbrock(p)
        loss.backward()
        return loss

    for _ in range(5):
        before = p.detach().clone()
        optimizer.step(closure)
        check = stochastic.wolfe_conditions(rosenbrock, before, p.detach() - before, 1.0, strong=True)
        assert check.both, check


def test_backtracking_accepts_the_first_step_with_sufficient_decrease():
    x = torch.tensor([1.0, -2.0], dtype=torch.float64)
    f = lambda z: 5.0 * (z**2).sum()  # noqa: E731   gradient 10 z: step 1 overshoots badly
    direction = -10.0 * x
    step, evaluations = stochastic.backtracking_line_search(f, x, direction, initial_step=1.0)
    assert step == 0.125 and evaluations == 5  # 1, 0.5, 0.25 rejected (f grows), 0.125 accepted
    assert stochastic.wolfe_conditions(f, x, direction, step).sufficient_decrease
    assert not stochastic.wolfe_conditions(f, x, direction, 2 * step).sufficient_decrease
    with pytest.raises(ValueError, match="descent direction"):
        stochastic.backtracking_line_search(f, x, -direction)


# ---------------------------------------------------------------- references of the checks

STEP_SETTINGS = [
    # (lr, momentum, dampening, weight_decay, nesterov, description)
    (0.1, 0.0, 0.0, 0.0, False, "plain SGD"),
    (0.1, 0.9, 0.0, 0.0, False, "heavy ball"),
    (0.05, 0.9, 0.5, 0.1, False, "dampening and weight decay"),
    (0.1, 0.8, 0.0, 0.2, True, "Nesterov with weight decay"),
]


@pytest.mark.parametrize("lr,momentum,dampening,weight_decay,nesterov,desc", STEP_SETTINGS,
                         ids=[s[-1] for s in STEP_SETTINGS])
def test_torch_backed_momentum_step_is_in_place_and_matches_the_course_rule(
        lr, momentum, dampening, weight_decay, nesterov, desc):
    gen = torch.Generator().manual_seed(0)
    param = torch.randn(4, generator=gen, dtype=torch.float64)
    ours, storage = param.clone(), param.data_ptr()
    state_torch, state_ours = {}, {}
    settings = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
    for _ in range(6):
        grad = torch.randn(4, generator=gen, dtype=torch.float64)
        momentum_checks._torch_momentum_step(param, grad, state_torch, **settings)
        sgd_update(ours, grad, state_ours, **settings)
        assert_close(param, ours)
    assert param.data_ptr() == storage
    assert ("momentum_buffer" in state_torch) == (momentum != 0)
    if momentum:
        assert_close(state_torch["momentum_buffer"], state_ours["momentum_buffer"])


def test_torch_backed_sgd_step_is_in_place():
    params = [torch.ones(3), torch.ones(2, 2, dtype=torch.float64)]
    grads = [torch.full((3,), 2.0), torch.full((2, 2), -1.0, dtype=torch.float64)]
    sgd_checks._torch_sgd_step(params, grads, 0.1, weight_decay=0.5)
    assert_close(params[0], torch.full((3,), 1 - 0.1 * (2 + 0.5)))
    assert_close(params[1], torch.full((2, 2), 1 - 0.1 * (-1 + 0.5), dtype=torch.float64))
    assert_close(grads[0], torch.full((3,), 2.0))  # gradients untouched


@pytest.mark.parametrize("momentum", [0.5, 0.9, 0.99])
def test_torch_nesterov_parameter_is_the_classic_look_ahead_point(momentum):
    """Sutskever et al. (2013): v <- mu v - lr grad(theta + mu v), theta <- theta + v.

    torch's Nesterov SGD, started at theta_0, holds p_t = theta_t + mu v_t with buffer
    buf_t = -v_t / lr; the check's reference reads theta_t = p_t + mu lr buf_t off it.
    """
    gen = torch.Generator().manual_seed(1)
    A = torch.tensor([[3.0, 0.5], [0.5, 0.2]], dtype=torch.float64)
    c = torch.randn(2, generator=gen, dtype=torch.float64)
    theta0 = torch.randn(2, generator=gen, dtype=torch.float64)
    lr, steps = 0.1, 40
    theta, v, thetas = theta0.clone(), torch.zeros(2, dtype=torch.float64), [theta0.clone()]
    for _ in range(steps):
        v = momentum * v - lr * (A @ (theta + momentum * v) - c)
        theta = theta + v
        thetas.append(theta)
    assert_close(momentum_checks._nesterov_classic(A, c, theta0, lr, momentum, steps), torch.stack(thetas))
