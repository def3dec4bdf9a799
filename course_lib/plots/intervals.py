r"""Confidence intervals of repeated experiments, one row per recipe (chapters 4 to 9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes

from course_lib.plots.style import PATH_COLORS

if TYPE_CHECKING:
    from course_lib.experiments import ExperimentResult

__all__ = ["plot_intervals"]


def plot_intervals(
    result: ExperimentResult,
    ax: Axes | None = None,
    *,
    ylabel: str = "test accuracy",
    title: str | None = None,
    points: bool = True,
) -> Axes:
    """One column per recipe: its scores as dots and its mean with the confidence interval.

    Recipes are coloured in the order of :data:`course_lib.plots.PATH_COLORS`, as
    :func:`course_lib.plots.plot_loss_curves` colours runs.

    Args:
        result: from :func:`repeated_subsampling`.
        ax: where to draw (a new figure when None).
        ylabel: what the scores are (default ``"test accuracy"``).
        title: axes title (default: how many splits and the level).
        points: also draw each split's score, slightly spread sideways (default True).

    Returns:
        The axes.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(1.6 * len(result.scores) + 2.0, 3.8), layout="constrained")
    names = list(result.scores)
    for i, name in enumerate(names):
        colour = PATH_COLORS[i % len(PATH_COLORS)]
        values = result.scores[name].numpy()
        if points:
            spread = np.linspace(0.12, 0.32, values.size)  # to the right of the interval, in split order
            ax.plot(i + spread, values, "o", color=colour, alpha=0.4, markersize=4)
        iv = result.interval(name)
        ax.errorbar([i], [iv.mean], yerr=[[iv.mean - iv.low], [iv.high - iv.mean]], fmt="s", color=colour,
                    capsize=6, markersize=7, linewidth=2)
    ax.set_xticks(range(len(names)), names)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel(ylabel)
    n = len(next(iter(result.scores.values())))
    ax.set_title(title or f"mean and {round(100 * result.level)}% interval over {n} splits (dots: each split)")
    ax.grid(True, axis="y", alpha=0.3)
    return ax
