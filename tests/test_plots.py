"""course_lib.plots: loss curves cut where a run diverges, log-spaced contours, path artists."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course_lib import plots  # noqa: E402


@pytest.fixture
def ax():
    fig = Figure()
    FigureCanvasAgg(fig)
    return fig.add_subplot()


@pytest.mark.parametrize(
    "values, expected",
    [
        ([1.0, 2.0, 3.0], None),
        ([1.0, float("inf"), 3.0], 1),
        (torch.tensor([0.5, 0.25, float("nan")]), 2),
        (np.array([[0.0, 1.0], [np.nan, 0.0], [1.0, 1.0]]), 1),  # rows of a path
        ([], None),
    ],
)
def test_first_nonfinite(values, expected):
    assert plots.first_nonfinite(values) == expected


def test_loss_curves_one_line_per_run_and_legend(ax):
    curves = {"lr=0.1": [4.0, 2.0, 1.0, 0.5], "lr=0.01": torch.tensor([4.0, 3.6, 3.2, 2.9])}
    plots.plot_loss_curves(curves, ax, title="two runs")
    assert [line.get_label() for line in ax.get_lines()] == ["lr=0.1", "lr=0.01"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [4.0, 3.6, 3.2, 2.9], rtol=1e-6)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["lr=0.1", "lr=0.01"]
    assert ax.get_yscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("step", "loss", "two runs")


def test_loss_curves_cut_a_diverged_run_and_say_where(ax):
    plots.plot_loss_curves({"ok": [3.0, 2.0, 1.0, 0.5], "lr=2": [3.0, 9.0, 81.0, math.inf, math.nan]}, ax)
    diverged = ax.get_lines()[1]
    np.testing.assert_allclose(diverged.get_ydata(), [3.0, 9.0, 81.0])
    marker = ax.get_lines()[2]
    assert marker.get_marker() == "x"
    assert (list(marker.get_xdata()), list(marker.get_ydata())) == ([2], [81.0])
    notes = [child.get_text() for child in ax.texts]
    assert notes == ["diverged at step 3"]


def test_loss_curves_linear_axis_when_values_are_not_positive(ax):
    plots.plot_loss_curves({"saddle": [0.0, -0.1, -0.25]}, ax)
    assert ax.get_yscale() == "linear"
    ax2 = plots.plot_loss_curves({"bowl": [1.0, 0.1]}, Figure().add_subplot(), logy=False)
    assert ax2.get_yscale() == "linear"


def test_log_levels_are_geometric_above_the_minimum():
    values = torch.linspace(0, 1, 101) ** 2 * 50 - 3.0  # minimum -3
    levels = plots.log_levels(values, n_levels=8)
    gaps = levels - (-3.0)
    assert np.all(np.diff(levels) > 0)
    ratios = gaps[1:] / gaps[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
    assert ratios[0] > 1.5


def test_contour_draws_levels_limits_and_minimum(ax):
    calls = []

    def bowl(xy: torch.Tensor) -> torch.Tensor:
        calls.append(xy.shape)
        return (xy**2).sum(-1)

    plots.contour(bowl, (-2, 2), (-1, 3), ax=ax, resolution=50, minimum=(0.0, 0.0), xlabel="w", ylabel="b")
    assert calls[0] == (50, 50, 2)  # one vectorised call on the grid
    assert ax.get_xlim() == (-2.0, 2.0) and ax.get_ylim() == (-1.0, 3.0)
    assert len(ax.collections) == 2  # filled + lines
    star = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(star) == 1 and list(star[0].get_xdata()) == [0.0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("w", "b")
    lines_only = Figure().add_subplot()
    plots.contour(bowl, (-2, 2), (-2, 2), ax=lines_only, filled=False, levels=[0.5, 1.0, 2.0])
    assert len(lines_only.collections) == 1
    np.testing.assert_allclose(lines_only.collections[0].levels, [0.5, 1.0, 2.0])


def test_plot_path_and_set_path_reuse_the_artists(ax):
    path = torch.tensor([[0.0, 0.0], [1.0, 0.5], [1.5, 0.7]])
    artists = plots.plot_path(path, ax, label="GD")
    n_lines = len(ax.get_lines())
    np.testing.assert_allclose(artists.line.get_xdata(), [0.0, 1.0, 1.5])
    assert (list(artists.start.get_xdata()), list(artists.end.get_ydata())) == ([0.0], [pytest.approx(0.7)])
    assert artists.line.get_label() == "GD" and artists.end.get_marker() == "s"

    diverged = torch.tensor([[0.0, 0.0], [2.0, -1.0], [float("nan"), float("nan")]])
    artists.set_path(diverged)
    assert len(ax.get_lines()) == n_lines  # moved, not redrawn
    np.testing.assert_allclose(artists.line.get_ydata(), [0.0, -1.0])
    assert artists.end.get_marker() == "x"
    assert artists.note.get_text() == "diverged at step 2"
    artists.set_path(path)
    assert artists.note.get_text() == "" and artists.end.get_marker() == "s"


def test_style_is_a_context_and_figure_png_is_a_png():
    before = matplotlib.rcParams["font.size"]
    with plots.style():
        assert matplotlib.rcParams["font.size"] == plots.RC_PARAMS["font.size"]
        fig = Figure(figsize=(2, 1), dpi=50)
        FigureCanvasAgg(fig)
    assert matplotlib.rcParams["font.size"] == before
    png = plots.figure_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (100, 50)


def test_new_figure_when_no_axes_is_given():
    ax = plots.plot_loss_curves({"a": [1.0, 0.5]})
    assert ax.figure in [plt.figure(n) for n in plt.get_fignums()]
    plt.close("all")


def _tuning(lrs, scores, metric="val_loss"):
    from course_lib.workloads import LRTuning

    scores = torch.tensor(scores, dtype=torch.float64)
    return LRTuning(torch.tensor(lrs, dtype=torch.float64), (0, 1), scores, metric,
                    torch.isinf(scores), lambda params, lr: torch.optim.SGD(params, lr=lr))


def test_lr_tuning_marks_best_edges_and_diverged_rates(ax):
    inside = _tuning([0.01, 0.1, 1.0], [[0.9, 0.8], [0.2, 0.3], [math.inf, math.inf]])
    edge = _tuning([0.01, 0.1, 1.0], [[0.9, 0.8], [0.5, 0.4], [0.2, 0.1]])
    plots.plot_lr_tuning({"sgd": inside, "adam": edge}, ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sgd", "adam (edge)"]
    mean_line = ax.get_lines()[0]
    np.testing.assert_allclose(mean_line.get_xdata(), [0.01, 0.1])  # the diverged rate is cut
    np.testing.assert_allclose(mean_line.get_ydata(), [0.85, 0.25])
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert [(line.get_xdata()[0], line.get_markerfacecolor() == "none") for line in stars] == [
        (0.1, False), (1.0, True)]
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 1 and list(crosses[0].get_xdata()) == [1.0]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "val loss"


def test_recipe_curves_mean_band_and_smoothing(ax):
    from course_lib.experiments import ExperimentResult
    from course_lib.workloads import RecipeComparison, TrainResult

    def run(losses):
        losses = torch.tensor(losses, dtype=torch.float64)
        one = torch.ones(1, dtype=torch.float64)
        return TrainResult(losses, losses, one, one, one, one, 0.0, False, 0, torch.nn.Identity())

    runs = {"a": [run([4.0, 2.0, 1.0, 1.0]), run([2.0, 2.0, 1.0, 3.0])],
            "b": [run([1.0, 1.0, 1.0, 1.0]), run([1.0, 1.0, 1.0, 1.0])]}
    scores = {name: torch.ones(2, dtype=torch.float64) for name in runs}
    comparison = RecipeComparison(runs, (0, 1), "test_accuracy", ExperimentResult(scores))
    plots.plot_recipe_curves(comparison, ax=ax, smooth=2)
    first, second = ax.get_lines()
    np.testing.assert_allclose(first.get_ydata(), [2.5, 1.5])  # window means, then seed mean
    np.testing.assert_allclose(first.get_xdata(), [1.0, 3.0])
    assert first.get_linestyle() != second.get_linestyle()
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step"
    with pytest.raises(ValueError, match="smooth"):
        plots.plot_recipe_curves(comparison, ax=ax, smooth=0)
