r"""Pictures of the real-network experiments: learning-rate grids and recipes' curves over seeds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.transforms import blended_transform_factory

from course_lib.plots.style import PATH_COLORS, new_axes

if TYPE_CHECKING:
    from course_lib.workloads import LRTuning, RecipeComparison

__all__ = ["LINE_STYLES", "plot_lr_tuning", "plot_recipe_curves"]

#: Line styles cycled with the colours, so curves that lie on top of each other (and
#: readers who do not tell the colours apart) can still be followed.
LINE_STYLES: tuple[str, ...] = ("-", "--", "-.", ":")


def _look(index: int) -> dict[str, str]:
    return {
        "color": PATH_COLORS[index % len(PATH_COLORS)],
        "linestyle": LINE_STYLES[index % len(LINE_STYLES)],
    }


def plot_lr_tuning(
    tunings: Mapping[str, LRTuning], ax: Axes | None = None, *, title: str | None = None
) -> Axes:
    """Mean validation score against learning rate, one curve per recipe, best rates starred.

    Each seed's score is a faint dot; a rate whose runs diverged gets an ``x`` at the
    top of the axes instead of a point. A best rate at an edge of its grid is drawn
    as a hollow star and "(edge)" is added to the legend: that grid was too narrow.

    Args:
        tunings: recipe name -> :func:`course_lib.workloads.tune_lr`'s result.
        ax: where to draw (a new figure when None).
        title: axes title (none by default).

    Returns:
        The axes.
    """
    ax = new_axes() if ax is None else ax
    metrics = {tuning.metric for tuning in tunings.values()}
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    for index, (name, tuning) in enumerate(tunings.items()):
        look = _look(index)
        lrs = tuning.lrs.numpy()
        scores = tuning.scores.numpy()
        mean = tuning.mean_scores.numpy()
        finite = np.isfinite(mean)
        label = name if tuning.inside else f"{name} (edge)"
        ax.plot(lrs[finite], mean[finite], marker="o", markersize=4, label=label, **look)
        for column in scores.T:
            ok = np.isfinite(column)
            ax.plot(lrs[ok], column[ok], ".", color=look["color"], alpha=0.3)
        if (~finite).any():
            ax.plot(lrs[~finite], np.full((~finite).sum(), 0.97), "x", color=look["color"],
                    transform=transform, clip_on=False)
        best = tuning.best_index
        ax.plot([lrs[best]], [mean[best]], "*", markersize=14, color=look["color"],
                markerfacecolor=look["color"] if tuning.inside else "none", zorder=5)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(" / ".join(sorted(metric.replace("_", " ") for metric in metrics)))
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    if tunings:
        ax.legend()
    return ax


def plot_recipe_curves(
    comparison: RecipeComparison,
    quantity: str = "train_loss",
    ax: Axes | None = None,
    *,
    smooth: int = 1,
    logy: bool | None = None,
    title: str | None = None,
) -> Axes:
    """Each recipe's mean curve over the seeds, with a band from the lowest to the highest seed.

    Args:
        comparison: from :func:`course_lib.workloads.compare_recipes`.
        quantity: a per-step (``"train_loss"``, ``"lrs"``) or per-epoch
            (``"val_loss"``, ``"val_accuracy"``, ``"test_loss"``, ``"test_accuracy"``)
            attribute of :class:`~course_lib.workloads.TrainResult`.
        ax: where to draw (a new figure when None).
        smooth: average each seed's curve over windows of this many points first
            (default 1: raw); mini-batch losses are noisy.
        logy: logarithmic y axis (default: for losses).
        title: axes title (none by default).

    Returns:
        The axes.
    """
    if smooth < 1:
        raise ValueError(f"smooth must be >= 1, got {smooth}")
    ax = new_axes() if ax is None else ax
    per_step = quantity in ("train_loss", "lrs")
    for index, name in enumerate(comparison.runs):
        curves = comparison.curves(name, quantity).to(torch.float64)
        if smooth > 1:
            usable = curves.shape[1] // smooth * smooth
            curves = curves[:, :usable].reshape(len(curves), -1, smooth).mean(dim=2)
        x = (np.arange(curves.shape[1]) + 0.5) * smooth if per_step else np.arange(
            1, curves.shape[1] + 1)
        values = curves.numpy()
        look = _look(index)
        with np.errstate(invalid="ignore"):
            mean = values.mean(axis=0)
            ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=look["color"],
                            alpha=0.15, linewidth=0)
        ax.plot(x, mean, label=name, **look)
    if logy if logy is not None else quantity.endswith("loss"):
        ax.set_yscale("log")
    ax.set_xlabel("step" if per_step else "epoch")
    ax.set_ylabel(quantity.replace("_", " "))
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
