r"""The course's pictures, shared by the book, the exercises and the widgets.

Three pictures recur in every chapter: loss curves (one line per run, log scale),
the contour lines of a 2-D loss, and the path an optimizer takes across them.
Each helper draws onto a given :class:`~matplotlib.axes.Axes` (or a new one), so
a page can combine them freely, and all share one look (:func:`style`).

Runs that blow up are part of the story, so every helper accepts ``inf``/``nan``:
it draws up to the last finite value and marks where the run diverged.

* :mod:`~course_lib.plots.style`: colours, matplotlib settings, :func:`figure_png`.
* :mod:`~course_lib.plots.curves`: :func:`plot_loss_curves`.
* :mod:`~course_lib.plots.contours`: :func:`contour`, :func:`plot_landscape`, :func:`plot_path`.
* :mod:`~course_lib.plots.trajectories`: :func:`plot_trajectories`, :func:`plot_panels`.
* :mod:`~course_lib.plots.schedules`: :func:`plot_schedules`, :func:`plot_lr_finder`.
* :mod:`~course_lib.plots.layers`: per-layer statistics of a network.
* :mod:`~course_lib.plots.intervals`: confidence intervals of repeated experiments.
* :mod:`~course_lib.plots.tuning`: learning-rate grids and recipes' curves on the real
  network (:mod:`course_lib.workloads`).

The topic modules compute; only this package draws.
"""

from __future__ import annotations

from .contours import PathArtists, contour, log_levels, plot_landscape, plot_path
from .curves import plot_loss_curves
from .intervals import plot_intervals
from .layers import plot_histogram_evolution, plot_histograms, plot_layer_stats
from .schedules import plot_lr_finder, plot_schedules
from .style import (
    CONTOUR_CMAP,
    PATH_COLORS,
    RC_PARAMS,
    apply_style,
    figure_png,
    first_nonfinite,
    style,
)
from .trajectories import plot_panels, plot_trajectories
from .tuning import LINE_STYLES, plot_lr_tuning, plot_recipe_curves

__all__ = [
    "PATH_COLORS",
    "CONTOUR_CMAP",
    "RC_PARAMS",
    "style",
    "apply_style",
    "figure_png",
    "first_nonfinite",
    "plot_loss_curves",
    "contour",
    "log_levels",
    "plot_landscape",
    "plot_path",
    "PathArtists",
    "plot_trajectories",
    "plot_panels",
    "plot_schedules",
    "plot_lr_finder",
    "plot_layer_stats",
    "plot_histograms",
    "plot_histogram_evolution",
    "plot_intervals",
    "LINE_STYLES",
    "plot_lr_tuning",
    "plot_recipe_curves",
]
