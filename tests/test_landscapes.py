"""course_lib.landscapes: values and gradients against hand-computed formulas and autograd.

Every landscape's closed-form ``gradient`` is what :func:`course_lib.trajectories.run`
hands to the optimizers, so each one is checked against ``torch.autograd`` on random
points (float64, where both agree to rounding).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from course_lib import landscapes as ls
from course_lib.data import batches, make_regression

LANDSCAPES = [
    pytest.param(lambda: ls.Quadratic(10.0), id="quadratic"),
    pytest.param(lambda: ls.Quadratic(25.0, angle=30.0), id="quadratic-rotated"),
    pytest.param(lambda: ls.Rosenbrock(), id="rosenbrock"),
    pytest.param(lambda: ls.Saddle(), id="saddle"),
    pytest.param(lambda: ls.LocalMinima(), id="local-minima"),
    pytest.param(lambda: ls.LinearRegressionLoss(), id="regression"),
    pytest.param(lambda: ls.LinearRegressionLoss(feature_shift=1.0, feature_scale=1.5), id="regression-uncentred"),
    pytest.param(lambda: ls.LinearRegressionLoss().minibatch(10, seed=2), id="regression-minibatch"),
    pytest.param(lambda: ls.Saddle().with_noise(0.3, seed=1), id="saddle-noisy"),
]


def random_points(*shape: int, seed: int = 0, scale: float = 2.0) -> torch.Tensor:
    return scale * torch.randn(*shape, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("make", LANDSCAPES)
def test_vectorised_over_leading_dimensions(make):
    landscape = make()
    points = random_points(4, 3)
    values = landscape(points)
    assert values.shape == (4, 3)
    one_by_one = torch.stack([torch.stack([landscape(p) for p in row]) for row in points])
    assert_close(values, one_by_one)


@pytest.mark.parametrize("make", LANDSCAPES)
def test_gradient_formula_equals_autograd(make):
    landscape = make()
    points = random_points(7, seed=3)
    assert_close(landscape.gradient(points), landscape.autograd_gradient(points), rtol=1e-12, atol=1e-12)
    for step in (0, 5, 17):
        assert_close(landscape.gradient_at(points, step), landscape.autograd_gradient(points, step),
                     rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make", LANDSCAPES)
def test_metadata_and_minimum_is_stationary(make):
    landscape = make()
    assert landscape.name and len(landscape.axis_labels) == 2
    (x0, x1), (y0, y1) = landscape.default_xlim, landscape.default_ylim
    assert x0 < landscape.start[0] < x1 and y0 < landscape.start[1] < y1
    assert landscape.minimum is not None
    assert x0 < landscape.minimum[0] < x1 and y0 < landscape.minimum[1] < y1
    assert_close(landscape.gradient(landscape.minimum), torch.zeros(2, dtype=torch.float64), atol=1e-9, rtol=0)
    # a minimum, not a saddle: every direction goes up
    for direction in ((1, 0), (0, 1), (1, 1), (1, -1)):
        nudge = 1e-3 * torch.tensor(direction, dtype=torch.float64)
        assert landscape(landscape.minimum + nudge) > landscape(landscape.minimum)


def test_rosenbrock_by_hand():
    f = ls.Rosenbrock()
    assert f(torch.tensor([1.0, 1.0])) == 0
    assert f(torch.tensor([0.0, 0.0])) == 1
    assert f(torch.tensor([-1.0, 2.0])) == 4 + 100  # (1 - (-1))^2 + 100 (2 - 1)^2
    x, y = -1.5, 2.5
    by_hand = torch.tensor([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)], dtype=torch.float64)
    assert_close(f.gradient(torch.tensor([x, y], dtype=torch.float64)), by_hand)
    assert_close(ls.Rosenbrock(a=2.0, b=5.0).minimum, torch.tensor([2.0, 4.0], dtype=torch.float64))


@pytest.mark.parametrize("condition, angle", [(1.0, 0.0), (10.0, 0.0), (25.0, 30.0), (4.0, -45.0)])
def test_quadratic_condition_number_and_rotation(condition, angle):
    f = ls.Quadratic(condition, angle=angle)
    eigenvalues = torch.linalg.eigvalsh(f.hessian)
    assert_close(eigenvalues, torch.tensor([1 / condition, 1.0], dtype=torch.float64))
    assert_close(eigenvalues[1] / eigenvalues[0], torch.tensor(condition, dtype=torch.float64))
    phi = math.radians(angle)
    flat = torch.tensor([math.cos(phi), math.sin(phi)], dtype=torch.float64)  # the rotated x-axis
    assert_close(f(3 * flat), torch.tensor(0.5 * 9 / condition, dtype=torch.float64))
    assert_close(f.gradient(flat), flat / condition)
    with pytest.raises(ValueError, match="condition must be >= 1"):
        ls.Quadratic(0.5)


def test_saddle_is_a_saddle_with_two_minima():
    f = ls.Saddle()
    hessian = torch.autograd.functional.hessian(f, torch.zeros(2, dtype=torch.float64))
    assert_close(torch.linalg.eigvalsh(hessian), torch.tensor([-1.0, 1.0], dtype=torch.float64))
    for y in (1.0, -1.0):
        point = torch.tensor([0.0, y], dtype=torch.float64)
        assert_close(f(point), torch.tensor(-0.25, dtype=torch.float64))
        assert_close(f.gradient(point), torch.zeros(2, dtype=torch.float64))
    # from the ridge y = 0 the gradient has no y component: gradient descent cannot leave it
    assert f.gradient(torch.tensor([-1.8, 0.0], dtype=torch.float64))[1] == 0


def test_local_minima_are_ordered_and_distinct():
    f = ls.LocalMinima()
    values = f(f.local_minima)
    assert values.shape == (3,) and torch.all(values[:-1] < values[1:])
    assert_close(f.minimum, f.local_minima[0])
    for point in f.local_minima:
        assert_close(f.gradient(point), torch.zeros(2, dtype=torch.float64), atol=1e-10, rtol=0)
    assert torch.cdist(f.local_minima, f.local_minima).fill_diagonal_(10).min() > 1.0


def test_regression_loss_is_the_mean_squared_error():
    data = make_regression(100, seed=0)
    f = ls.LinearRegressionLoss()
    for w, b in [(2.0, 1.0), (-0.5, 3.0), (0.0, 0.0)]:
        direct = torch.nn.functional.mse_loss(data.X[:, 0].double() * w + b, data.y.double())
        assert_close(f(torch.tensor([w, b], dtype=torch.float64)), direct)
    # the minimum is the least-squares fit: the normal equations hold there
    design = torch.stack([data.X[:, 0], torch.ones(100)], dim=1).double()
    assert_close(design.T @ (design @ f.minimum - data.y.double()), torch.zeros(2, dtype=torch.float64),
                 atol=1e-10, rtol=0)
    assert abs(float(f.minimum[0]) - 2.0) < 0.2 and abs(float(f.minimum[1]) - 1.0) < 0.2
    assert f.axis_labels == ("weight w", "bias b")


def test_regression_feature_shift_keeps_the_line_and_tilts_the_contours():
    plain, shifted = ls.LinearRegressionLoss(), ls.LinearRegressionLoss(feature_shift=1.0)
    # the data are float32: the shift is exact up to their rounding
    assert_close(shifted.x - 1.0, plain.x, atol=1e-6, rtol=0)
    # same noise around the same line y = 2x + 1
    assert_close(shifted.y - 2.0 * shifted.x - 1.0, plain.y - 2.0 * plain.x - 1.0, atol=1e-5, rtol=0)
    # the fit: same slope; the intercept moves by (true slope - fitted slope) * shift
    w_hat, b_hat = plain.minimum
    assert_close(shifted.minimum, torch.stack([w_hat, b_hat + 2.0 - w_hat]), atol=1e-5, rtol=0)
    assert abs(float(plain.hessian[0, 1])) < 0.3 < float(shifted.hessian[0, 1])


def test_minibatch_losses_use_the_seeded_batches():
    full = ls.LinearRegressionLoss()
    mini = full.minibatch(8, seed=5)
    generator = torch.Generator().manual_seed(5)
    expected = batches(100, 8, generator=generator, drop_last=True)  # 12 batches per epoch
    expected += batches(100, 8, generator=generator, drop_last=True)
    point = torch.tensor([0.5, -1.0], dtype=torch.float64)
    for step in (0, 1, 11, 12, 23):
        index = expected[step]
        assert torch.equal(mini.batch_indices(step), index)
        direct = ((point[0] * full.x[index] + point[1] - full.y[index]) ** 2).mean()
        assert_close(mini.loss_at(point, step), direct)
    assert mini(point) == full(point)  # calling the landscape is always the full loss
    assert mini.stochastic and not full.stochastic
    other = full.minibatch(8, seed=6)
    assert not torch.equal(other.batch_indices(0), mini.batch_indices(0))


def test_minibatch_gradient_is_unbiased_over_an_epoch():
    full = ls.LinearRegressionLoss()
    mini = full.minibatch(10)  # 100 samples: one epoch is 10 batches covering every sample once
    point = torch.tensor([-1.0, 2.0], dtype=torch.float64)
    epoch = torch.stack([mini.gradient_at(point, step) for step in range(10)])
    assert_close(epoch.mean(dim=0), full.gradient(point))
    assert epoch.std(dim=0).min() > 0.05  # yet each batch's gradient is noisy


def test_noisy_landscape_adds_seeded_gradient_noise():
    base = ls.Saddle()
    noisy = base.with_noise(0.5, seed=3)
    point = torch.tensor([0.2, 0.0], dtype=torch.float64)
    noise = torch.stack([noisy.gradient_at(point, t) - base.gradient(point) for t in range(2000)])
    assert_close(noise[7], 0.5 * noisy.noise(7))
    assert_close(noisy.gradient_at(point, 7), base.with_noise(0.5, seed=3).gradient_at(point, 7))
    assert not torch.equal(noisy.noise(7), base.with_noise(0.5, seed=4).noise(7))
    assert noise.mean(dim=0).abs().max() < 0.05  # unbiased
    assert_close(noise.std(dim=0), torch.full((2,), 0.5, dtype=torch.float64), atol=0.04, rtol=0)
    assert noisy(point) == base(point)


def test_landscapes_without_data_refuse_minibatches():
    with pytest.raises(ValueError, match="has no data"):
        ls.Rosenbrock().minibatch(10)
    with pytest.raises(ValueError, match="batch_size must be between 1 and"):
        ls.LinearRegressionLoss(batch_size=101)


def test_make_landscape_by_name_and_bad_input():
    assert isinstance(ls.make_landscape("rosenbrock"), ls.Rosenbrock)
    assert ls.make_landscape("Local_Minima").name == "local minima"
    assert ls.make_landscape("quadratic", condition=4).condition == 4.0
    saddle = ls.Saddle()
    assert ls.make_landscape(saddle) is saddle
    with pytest.raises(ValueError, match="unknown landscape 'bowl'; choose one of: quadratic"):
        ls.make_landscape("bowl")
    with pytest.raises(ValueError, match="last dimension of size 2"):
        ls.Rosenbrock()(torch.zeros(3))


@pytest.mark.parametrize("landscape", [
    pytest.param(ls.Quadratic(25.0, 30.0), id="quadratic"),
    pytest.param(ls.Rosenbrock(), id="rosenbrock"),
    pytest.param(ls.Saddle(), id="saddle"),
    pytest.param(ls.LocalMinima(), id="local minima"),
    pytest.param(ls.LinearRegressionLoss(feature_shift=1.0), id="linear regression"),
    pytest.param(ls.LinearRegressionLoss(batch_size=7, batch_seed=3), id="mini-batches"),
    pytest.param(ls.Saddle().with_noise(0.4, seed=2), id="noise"),
])
def test_plain_float_gradient_equals_the_tensor_gradient(landscape):
    """``step_gradient`` (the widgets' fast path) computes what ``gradient_at`` computes, step by step."""
    points = torch.randn(12, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 1.5
    gradient = landscape.step_gradient(len(points))
    for step, point in enumerate(points):
        got = torch.tensor(gradient(*point.tolist(), step), dtype=torch.float64)
        assert_close(got, landscape.gradient_at(point, step), rtol=1e-12, atol=1e-12)
