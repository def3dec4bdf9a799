r"""Optimizer trajectories on a landscape: all in one panel, or one panel each (chapters 2 to 5)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.landscapes import Landscape, make_landscape
from course_lib.plots.contours import plot_landscape, plot_path
from course_lib.plots.style import PATH_COLORS

if TYPE_CHECKING:
    from course_lib.trajectories import Trajectory

__all__ = ["plot_trajectories", "plot_panels"]


def _limits(landscape: Landscape, xlim: Sequence[float] | None, ylim: Sequence[float] | None):
    return tuple(xlim or landscape.default_xlim), tuple(ylim or landscape.default_ylim)


def plot_trajectories(
    trajectories: Sequence[Trajectory],
    landscape: Landscape | str,
    ax: Axes | None = None,
    *,
    xlim: Sequence[float] | None = None,
    ylim: Sequence[float] | None = None,
    legend: bool = True,
    filled: bool = True,
) -> Axes:
    """All runs on one contour plot, one colour each, with a legend.

    Args:
        trajectories: the runs (e.g. from :func:`compare`).
        landscape: the landscape they ran on.
        ax: where to draw (a new figure when None).
        xlim: x-range (default: the landscape's).
        ylim: y-range.
        legend: show the labels (default True).
        filled: filled contours (default True).

    Returns:
        The axes.

    Example:
        >>> ax = plot_trajectories(compare(torch.optim.SGD, "quadratic", "momentum", [0.0, 0.9], lr=0.5),
        ...                        "quadratic")
    """
    landscape = make_landscape(landscape)
    xlim, ylim = _limits(landscape, xlim, ylim)
    ax = plot_landscape(landscape, ax, xlim=xlim, ylim=ylim, filled=filled)
    for i, trajectory in enumerate(trajectories):
        plot_path(trajectory.path, ax, label=trajectory.label, color=PATH_COLORS[i % len(PATH_COLORS)])
    if legend and trajectories:
        ax.legend(loc="best")
    return ax


def plot_panels(
    trajectories: Sequence[Trajectory],
    landscape: Landscape | str,
    *,
    titles: bool | Sequence[str] = True,
    ncols: int | None = None,
    panel_size: tuple[float, float] = (3.3, 3.0),
    xlim: Sequence[float] | None = None,
    ylim: Sequence[float] | None = None,
    suptitle: str | None = None,
    resolution: int = 150,
    filled: bool = True,
    fig: Figure | None = None,
) -> Figure:
    """One panel per run: the same contour lines, one path each, side by side.

    Args:
        trajectories: the runs, one panel each.
        landscape: the landscape they ran on.
        titles: True (default) uses each run's label, a list gives the titles,
            False writes only "(a)", "(b)", ... so a quiz does not give the answer away.
        ncols: panels per row (default: all in one row up to 4).
        panel_size: width and height of one panel in inches.
        xlim: x-range of every panel (default: the landscape's).
        ylim: y-range.
        suptitle: a title over all panels.
        resolution: contour grid points per axis (default 150).
        filled: filled contours (default True).
        fig: draw into this figure instead of a new pyplot one.

    Returns:
        The figure.
    """
    landscape = make_landscape(landscape)
    xlim, ylim = _limits(landscape, xlim, ylim)
    n = len(trajectories)
    ncols = ncols or min(max(n, 1), 4)
    nrows = max(1, math.ceil(n / ncols))
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    if titles is True:
        names = [t.label for t in trajectories]
    elif titles is False:
        names = [f"({chr(ord('a') + i)})" for i in range(n)]
    else:
        names = list(titles)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_visible(False)
            continue
        plot_landscape(landscape, ax, xlim=xlim, ylim=ylim, resolution=resolution, filled=filled,
                          xlabel=landscape.axis_labels[0] if i // ncols == nrows - 1 else None,
                          ylabel=landscape.axis_labels[1] if i % ncols == 0 else None)
        trajectory = trajectories[i]
        plot_path(trajectory.path, ax, color=PATH_COLORS[0 if titles is False else i % len(PATH_COLORS)])
        ax.set_title(names[i])
    if suptitle:
        fig.suptitle(suptitle)
    return fig
