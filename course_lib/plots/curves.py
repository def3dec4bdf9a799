r"""Loss curves: one line per run, drawn up to the last finite value, with a mark where a run diverged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes

from course_lib.plots.style import as_numpy, first_nonfinite, new_axes

__all__ = ["plot_loss_curves"]


def plot_loss_curves(
    curves: Mapping[str, Sequence[float] | torch.Tensor],
    ax: Axes | None = None,
    *,
    title: str | None = None,
    logy: bool = True,
    xlabel: str = "step",
    ylabel: str = "loss",
) -> Axes:
    """One loss curve per named run, with a legend; diverged runs are cut and marked.

    A curve stops at its first non-finite value; its last finite point gets an ``x``
    and the note "diverged at step k" (k is the index of the first ``inf``/``nan``).

    Args:
        curves: run name -> losses, one per step (a list, array or 1-D tensor).
        ax: where to draw (its colour cycle is used); a new figure, coloured with
            :data:`PATH_COLORS`, when None.
        title: axes title (none by default).
        logy: logarithmic loss axis (default True); falls back to linear when a
            curve has values <= 0.
        xlabel: x-axis label (default ``"step"``).
        ylabel: y-axis label (default ``"loss"``).

    Returns:
        The axes drawn on.

    Example:
        >>> ax = plot_loss_curves({"lr=0.1": [1.0, 0.5, 0.2], "lr=2": [1.0, 9.0, float("inf")]})
    """
    ax = new_axes() if ax is None else ax
    positive = True
    for name, values in curves.items():
        array = as_numpy(values).reshape(-1)
        cut = first_nonfinite(array)
        finite = array if cut is None else array[:cut]
        (line,) = ax.plot(np.arange(finite.size), finite, label=name)
        if finite.size and np.nanmin(finite) <= 0:
            positive = False
        if cut is not None:
            last = max(cut - 1, 0)
            y = finite[-1] if finite.size else np.nan
            ax.plot([last], [y], marker="x", markersize=9, markeredgewidth=2.2, color=line.get_color())
            ax.annotate(
                f"diverged at step {cut}",
                (last, y),
                xytext=(6, 6),
                textcoords="offset points",
                color=line.get_color(),
                fontsize=9,
            )
    if logy and positive:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if curves:
        ax.legend()
    return ax
