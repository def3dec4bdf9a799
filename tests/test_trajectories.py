"""course_lib.trajectories: runs equal a hand-written training loop, compare varies one thing.

The reference loop below is the plain torch cycle (zero_grad, loss, backward, step) with
autograd, on a float64 parameter of shape (2,); :func:`run` must reproduce its every
iterate although it takes the gradient from the landscape's formula. 60 steps are enough
for momentum buffers and adaptive averages to shape the path, and keep the table fast.
"""

from __future__ import annotations

import functools
import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch.testing import assert_close  # noqa: E402

from course_lib import landscapes as ls  # noqa: E402
from course_lib import plots  # noqa: E402
from course_lib import trajectories as tr  # noqa: E402
from course_lib.data import batches  # noqa: E402

try:
    import course_lib.optim as course_optim
except ImportError:  # pragma: no cover - the optim module is written in parallel
    course_optim = None

STEPS = 60


def hand_loop(optimizer_cls, loss_of, start, steps=STEPS, lr_at=None, scheduler=None, **kwargs):
    """The training loop as a student writes it; ``loss_of(p, t)`` is the step-t loss."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_cls([p], **kwargs)
    lr_scheduler = scheduler(optimizer) if scheduler is not None else None
    path = [p.detach().clone()]
    for t in range(steps):
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(t)
        optimizer.zero_grad()
        loss_of(p, t).backward()
        optimizer.step()
        if lr_scheduler is not None:
            lr_scheduler.step()
        path.append(p.detach().clone())
    return torch.stack(path)


CASES = [
    # (optimizer class, hyperparameters, landscape factory, description)
    (torch.optim.SGD, {"lr": 0.5}, lambda: ls.Quadratic(10.0), "plain gradient descent"),
    (torch.optim.SGD, {"lr": 0.001, "momentum": 0.9, "nesterov": True}, ls.Rosenbrock, "Nesterov momentum"),
    (torch.optim.SGD, {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1},
     lambda: ls.LinearRegressionLoss(feature_shift=1.0), "momentum, dampening, L2 decay"),
    (torch.optim.Adam, {"lr": 0.05}, ls.Rosenbrock, "Adam"),
    (torch.optim.AdamW, {"lr": 0.1, "betas": (0.8, 0.99), "weight_decay": 0.5},
     lambda: ls.LinearRegressionLoss(feature_shift=-1.0), "AdamW with strong decay"),
    (torch.optim.AdamW, {"lr": 0.1, "amsgrad": True, "eps": 1e-3}, lambda: ls.Quadratic(25.0, 30.0), "AMSGrad"),
    (torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True}, ls.LocalMinima,
     "RMSprop centred with momentum"),
    (torch.optim.Adagrad, {"lr": 0.3}, ls.Saddle, "Adagrad"),
    (torch.optim.Adadelta, {"lr": 1.0, "rho": 0.8}, lambda: ls.Quadratic(4.0), "Adadelta"),
    (torch.optim.NAdam, {"lr": 0.05}, lambda: ls.Quadratic(10.0, -20.0), "NAdam"),
    (torch.optim.Adamax, {"lr": 0.05}, ls.LocalMinima, "Adamax"),
]
COURSE_CASES = [
    ("SGD", {"lr": 0.05, "momentum": 0.9}, lambda: ls.LinearRegressionLoss(feature_shift=1.0), "course SGD"),
    ("AdamW", {"lr": 0.1, "weight_decay": 0.3}, lambda: ls.LinearRegressionLoss(), "course AdamW"),
    ("RMSprop", {"lr": 0.01}, ls.Rosenbrock, "course RMSprop"),
]


@pytest.mark.parametrize("optimizer_cls, kwargs, make, desc", CASES, ids=[c[-1] for c in CASES])
def test_run_equals_the_hand_written_loop(optimizer_cls, kwargs, make, desc):
    landscape = make()
    trajectory = tr.run(optimizer_cls, landscape, steps=STEPS, **kwargs)
    expected = hand_loop(optimizer_cls, lambda p, t: landscape(p), landscape.start, **kwargs)
    assert_close(trajectory.path, expected)
    assert_close(trajectory.losses, landscape(expected))
    assert not trajectory.diverged and trajectory.diverged_at is None
    assert trajectory.path.shape == (STEPS + 1, 2) and trajectory.steps == STEPS
    assert (trajectory.path[-1] - trajectory.path[0]).norm() > 1e-3, f"{desc}: the run did not move"


@pytest.mark.parametrize("name, kwargs, make, desc", COURSE_CASES, ids=[c[-1] for c in COURSE_CASES])
def test_run_works_with_the_course_optimizers(name, kwargs, make, desc):
    if course_optim is None or not hasattr(course_optim, name):
        pytest.skip(f"course_lib.optim.{name} is not available")
    optimizer_cls = getattr(course_optim, name)
    landscape = make()
    trajectory = tr.run(optimizer_cls, landscape, steps=STEPS, **kwargs)
    expected = hand_loop(getattr(torch.optim, name), lambda p, t: landscape(p), landscape.start, **kwargs)
    assert_close(trajectory.path, expected)
    assert trajectory.optimizer == name and trajectory.optimizer_cls is optimizer_cls


def test_minibatch_run_equals_the_loop_over_seeded_batches():
    landscape = ls.LinearRegressionLoss()
    trajectory = tr.run(torch.optim.SGD, landscape, steps=STEPS, batch_size=8, seed=4, lr=0.05, momentum=0.5)
    generator = torch.Generator().manual_seed(4)
    order = []
    while len(order) < STEPS:
        order += batches(100, 8, generator=generator, drop_last=True)
    x, y = landscape.x, landscape.y

    def batch_loss(p, t):
        index = order[t]
        return ((p[0] * x[index] + p[1] - y[index]) ** 2).mean()

    expected = hand_loop(torch.optim.SGD, batch_loss, landscape.start, lr=0.05, momentum=0.5)
    assert_close(trajectory.path, expected)
    assert_close(trajectory.losses, landscape(expected))  # recorded losses are full-batch
    assert trajectory.batch_size == 8 and "batch=8" in trajectory.label
    full = tr.run(torch.optim.SGD, landscape, steps=STEPS, lr=0.05, momentum=0.5)
    other_seed = tr.run(torch.optim.SGD, landscape, steps=STEPS, batch_size=8, seed=5, lr=0.05, momentum=0.5)
    assert (full.path - trajectory.path).abs().max() > 0.01  # the noise is visible
    assert not torch.equal(other_seed.path, trajectory.path)


@pytest.mark.parametrize(
    "scheduler, hand",
    [
        pytest.param(lambda t: 0.4 / (1 + 0.1 * t), {"lr_at": lambda t: 0.4 / (1 + 0.1 * t)}, id="step->lr function"),
        pytest.param(functools.partial(torch.optim.lr_scheduler.StepLR, step_size=10, gamma=0.5),
                     {"scheduler": functools.partial(torch.optim.lr_scheduler.StepLR, step_size=10, gamma=0.5)},
                     id="StepLR factory"),
        pytest.param(lambda optimizer: torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.95),
                     {"scheduler": lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.95)}, id="lambda factory"),
    ],
)
def test_schedules(scheduler, hand):
    landscape = ls.Quadratic(10.0)
    trajectory = tr.run(torch.optim.SGD, landscape, steps=STEPS, scheduler=scheduler, lr=0.4, momentum=0.5)
    expected = hand_loop(torch.optim.SGD, lambda p, t: landscape(p), landscape.start, lr=0.4, momentum=0.5, **hand)
    assert_close(trajectory.path, expected)
    constant = tr.run(torch.optim.SGD, landscape, steps=STEPS, lr=0.4, momentum=0.5)
    assert not torch.allclose(constant.path, trajectory.path)


def test_an_optimizer_that_needs_a_closure():
    landscape = ls.Rosenbrock()
    trajectory = tr.run(torch.optim.LBFGS, landscape, steps=5, lr=0.5)

    p = torch.tensor(landscape.start, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([p], lr=0.5)

    def closure():
        optimizer.zero_grad()
        loss = landscape(p)
        loss.backward()
        return loss

    expected = [p.detach().clone()]
    for _ in range(5):
        optimizer.step(closure)
        expected.append(p.detach().clone())
    assert_close(trajectory.path, torch.stack(expected), rtol=1e-6, atol=1e-6)
    assert trajectory.losses[-1] < 0.1 * trajectory.losses[0]


def test_divergence_is_detected_marked_and_stops_the_run():
    landscape = ls.Quadratic(10.0)  # curvature 1 across the valley: lr = 2.5 multiplies y by -1.5
    trajectory = tr.run(torch.optim.SGD, landscape, steps=STEPS, lr=2.5)
    expected = hand_loop(torch.optim.SGD, lambda p, t: landscape(p), landscape.start, lr=2.5)
    first_big = int(torch.nonzero(expected.abs().max(dim=1).values > 1e6)[0, 0])
    assert first_big == math.ceil(math.log(1e6 / 2.0) / math.log(1.5))  # |y_k| = 2 * 1.5^k
    assert trajectory.diverged and trajectory.diverged_at == first_big
    assert_close(trajectory.path[:first_big], expected[:first_big])
    assert torch.isnan(trajectory.path[first_big:]).all() and torch.isnan(trajectory.losses[first_big:]).all()
    assert torch.isfinite(trajectory.losses[:first_big]).all()
    assert_close(trajectory.final, expected[first_big - 1])
    assert trajectory.path.shape == (STEPS + 1, 2)
    safe = tr.run(torch.optim.SGD, landscape, steps=STEPS, lr=1.5)
    assert not safe.diverged


class Cliff(ls.Landscape):
    """sqrt(x) + y^2: its gradient is nan left of x = 0, and it has no gradient formula."""

    name = "cliff"
    start = (1.0, 1.0)

    def value(self, x, y):
        return torch.sqrt(x) + y * y


def test_nan_from_the_landscape_counts_as_divergence():
    trajectory = tr.run(torch.optim.SGD, Cliff(), steps=20, lr=3.0)
    assert trajectory.diverged
    assert 1 <= trajectory.diverged_at <= 20
    assert torch.isfinite(trajectory.path[: trajectory.diverged_at]).all()
    assert torch.isnan(trajectory.path[trajectory.diverged_at:]).all()


def test_bad_hyperparameters_raise_readable_errors():
    with pytest.raises(TypeError, match="SGD has no hyperparameter 'betas'; it accepts: lr, momentum"):
        tr.run(torch.optim.SGD, "quadratic", lr=0.1, betas=(0.9, 0.99))
    with pytest.raises(ValueError, match="Invalid epsilon value"):
        tr.run(torch.optim.Adam, "quadratic", lr=0.1, eps=-1.0)
    with pytest.raises(ValueError, match="has no data"):
        tr.run(torch.optim.SGD, "rosenbrock", lr=0.1, batch_size=4)


def test_run_defaults_and_labels():
    trajectory = tr.run(torch.optim.SGD, "saddle", steps=10, lr=0.1)
    assert_close(trajectory.path[0], torch.tensor(ls.Saddle().start, dtype=torch.float64))
    assert trajectory.label == "SGD(lr=0.1)"
    assert tr.run(torch.optim.SGD, "saddle", steps=3, lr=0.1, label="GD").label == "GD"
    started = tr.run(torch.optim.SGD, "saddle", steps=3, start=(0.5, -0.5), lr=0.1)
    assert started.path[0].tolist() == [0.5, -0.5]


def test_hyperparameter_names():
    names = tr.hyperparameter_names(torch.optim.AdamW)
    assert names[:5] == ["lr", "betas", "eps", "weight_decay", "amsgrad"]
    assert "foreach" not in names and "params" not in names
    assert tr.hyperparameter_names(torch.optim.SGD)[:5] == ["lr", "momentum", "dampening", "weight_decay", "nesterov"]


@pytest.mark.parametrize(
    "vary, values, fixed, expected",
    [
        ("lr", [0.01, 0.1], {"momentum": 0.9}, lambda v: {"momentum": 0.9, "lr": v}),
        ("momentum", [0.0, 0.5, 0.9], {"lr": 0.05}, lambda v: {"lr": 0.05, "momentum": v}),
        ("weight_decay", [0.0, 1.0], {"lr": 0.05}, lambda v: {"lr": 0.05, "weight_decay": v}),
    ],
)
def test_compare_sgd_varies_exactly_one_hyperparameter(vary, values, fixed, expected):
    landscape = ls.LinearRegressionLoss()
    runs = tr.compare(torch.optim.SGD, landscape, vary, values, steps=20, **fixed)
    assert [r.hyperparameters for r in runs] == [expected(v) for v in values]
    assert [r.label for r in runs] == [f"{vary}={v:g}" for v in values]
    for r, v in zip(runs, values):
        assert_close(r.path, tr.run(torch.optim.SGD, landscape, steps=20, **expected(v)).path)
    assert all((a.path - b.path).abs().max() > 1e-3 for a, b in zip(runs, runs[1:]))


@pytest.mark.parametrize(
    "vary, fixed, expected_betas",
    [
        ("beta1", {"betas": (0.8, 0.95)}, lambda v: (v, 0.95)),
        ("betas[0]", {}, lambda v: (v, 0.999)),
        ("beta2", {"betas": (0.8, 0.95)}, lambda v: (0.8, v)),
        ("betas[1]", {}, lambda v: (0.9, v)),
    ],
)
def test_compare_betas_entries(vary, fixed, expected_betas):
    runs = tr.compare(torch.optim.AdamW, "linear regression", vary, [0.5, 0.99], steps=15, lr=0.1, **fixed)
    assert [r.hyperparameters["betas"] for r in runs] == [expected_betas(0.5), expected_betas(0.99)]
    assert all(set(r.hyperparameters) == {"lr", "betas"} for r in runs)
    assert runs[0].label == f"{vary}=0.5"


def test_compare_run_options_and_aliases():
    runs = tr.compare(torch.optim.SGD, "quadratic", "steps", [5, 10], lr=0.5)
    assert [r.steps for r in runs] == [5, 10]
    runs = tr.compare(torch.optim.Adam, "quadratic", "epsilon", [1e-8, 1.0], steps=5, lr=0.1)
    assert [r.hyperparameters["eps"] for r in runs] == [1e-8, 1.0]
    runs = tr.compare(torch.optim.SGD, "linear regression", "batch_size", [None, 5], steps=5, lr=0.1)
    assert [r.batch_size for r in runs] == [None, 5]


def test_compare_refuses_unknown_or_doubly_given_names():
    with pytest.raises(ValueError, match="SGD has no betas, so 'beta1' cannot be varied"):
        tr.compare(torch.optim.SGD, "quadratic", "beta1", [0.9], lr=0.1)
    with pytest.raises(ValueError, match="Adam has no hyperparameter 'momentum'; vary one of: lr, betas"):
        tr.compare(torch.optim.Adam, "quadratic", "momentum", [0.9], lr=0.1)
    with pytest.raises(ValueError, match="'lr' is varied, so it cannot also be fixed"):
        tr.compare(torch.optim.SGD, "quadratic", "lr", [0.1], lr=0.2)


def test_plot_trajectories_and_panels():
    landscape = ls.Quadratic(10.0)
    runs = tr.compare(torch.optim.SGD, landscape, "momentum", [0.0, 0.5, 0.9], lr=0.5, steps=30)
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = plots.plot_trajectories(runs, landscape, fig.add_subplot())
    labelled = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in labelled] == ["momentum=0", "momentum=0.5", "momentum=0.9"]
    assert_close(torch.tensor(labelled[2].get_xydata()), runs[2].path)
    assert len({line.get_color() for line in labelled}) == 3

    panels = plots.plot_panels(runs, landscape, titles=False, ncols=2, fig=Figure())
    visible = [a for a in panels.axes if a.get_visible()]
    assert [a.get_title() for a in visible] == ["(a)", "(b)", "(c)"]
    assert len(panels.axes) == 4 and not panels.axes[3].get_visible()
    titled = plots.plot_panels(runs, landscape, fig=Figure())
    assert [a.get_title() for a in titled.axes] == [r.label for r in runs]
    named = plots.plot_panels(runs, landscape, titles=["x", "y", "z"], fig=Figure())
    assert [a.get_title() for a in named.axes] == ["x", "y", "z"]


def test_fit_limits_hold_the_window_and_the_paths():
    landscape = ls.Quadratic(10.0)
    wide = tr.run(torch.optim.SGD, landscape, steps=6, lr=2.2)  # overshoots past y = +-3
    (x0, x1), (y0, y1) = tr.fit_limits([wide], landscape, margin=0.0)
    assert (x0, x1) == landscape.default_xlim
    assert y0 <= min(-3.0, float(wide.path[:, 1].min())) and y1 >= max(3.0, float(wide.path[:, 1].max()))
    huge = tr.run(torch.optim.SGD, landscape, steps=30, lr=2.5)  # diverges: capped, not followed
    (_, _), (y0, y1) = tr.fit_limits([huge], landscape, margin=0.0)
    assert y0 >= -9.0 and y1 <= 9.0


def test_sweep_lr_keeps_the_lowest_final_loss_and_widens_at_an_edge():
    from course_lib.landscapes import make_landscape
    from course_lib.trajectories import sweep_lr

    bowl = make_landscape("quadratic")
    sweep = sweep_lr(torch.optim.SGD, bowl, [1e-4, 1e-3], steps=50)
    assert sweep.best_lr == 1e-3 and not sweep.inside
    assert [t.hyperparameters["lr"] for t in sweep.runs] == [1e-4, 1e-3]
    widened = sweep_lr(torch.optim.SGD, bowl, [1e-4, 1e-3], steps=50, widen=10)
    assert widened.inside
    assert widened.lrs[:2] == [1e-4, 1e-3]
    assert all(b / a == pytest.approx(10.0) for a, b in zip(widened.lrs, widened.lrs[1:]))
    # the best run is the one with the lowest final loss; a diverged run scores inf
    assert widened.scores[widened.best_index] == min(widened.scores)
    assert widened.scores[-1] == math.inf and widened.runs[-1].diverged
    # Adagrad on an axis-aligned bowl: the larger the rate, the lower the final loss,
    # unless runs that first shoot far uphill are ruled out
    steep = make_landscape("quadratic", condition=25)
    wild = sweep_lr(torch.optim.Adagrad, steep, [1.0, 3.0, 9.0], steps=100)
    tame = sweep_lr(torch.optim.Adagrad, steep, [1.0, 3.0, 9.0], steps=100,
                    unstable_above=10.0)
    assert wild.best_lr == 9.0 and tame.best_lr == 3.0 and tame.inside
    assert tame.scores[2] == math.inf and tame.runs[2].losses.max() > 10 * tame.runs[2].losses[0]
    with pytest.raises(ValueError, match="lr is swept"):
        sweep_lr(torch.optim.SGD, bowl, [0.1, 1.0], lr=0.1)
    with pytest.raises(ValueError, match="distinct positive"):
        sweep_lr(torch.optim.SGD, bowl, [0.1])
