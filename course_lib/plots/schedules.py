r"""Learning-rate schedules on one figure (chapter 6)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

if TYPE_CHECKING:
    from course_lib.schedules import LRFinderResult, Schedule

__all__ = ["plot_schedules", "plot_lr_finder"]


def plot_schedules(
    schedules: Mapping[str, Callable[[int], float]] | Sequence[Schedule],
    num_steps: int,
    ax: Axes | None = None,
    log: bool = False,
) -> Axes:
    """Plot several schedules on one figure, learning rate against step.

    Args:
        schedules: ``{label: schedule}``, or a list of :class:`Schedule`
            (labelled by their ``repr``).
        num_steps: steps ``0 .. num_steps - 1`` are drawn.
        ax: axes to draw on (default: a new figure).
        log: logarithmic learning-rate axis (default ``False``).

    Returns:
        The axes.
    """
    if not isinstance(schedules, Mapping):
        schedules = {repr(schedule): schedule for schedule in schedules}
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    steps = np.arange(num_steps)
    for label, schedule in schedules.items():
        ax.plot(steps, [schedule(int(step)) for step in steps], label=label, linewidth=1.8)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.grid(True, alpha=0.3)
    if len(schedules) > 3:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.figure.tight_layout()
    else:
        ax.legend(fontsize="small")
    return ax


def plot_lr_finder(result: LRFinderResult, ax: Axes | None = None) -> Axes:
    """Plot an LR range test: loss against learning rate (log axis), marking the suggested rates."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(result.lrs, result.losses, color="0.75", linewidth=1, label="loss per batch")
    ax.plot(result.lrs, result.smoothed_losses, color="C0", linewidth=2, label="smoothed loss")
    index = int(np.argmin(np.abs(np.log(result.lrs) - math.log(result.suggested_lr))))
    ax.axvline(result.suggested_lr, color="C3", linestyle="--", linewidth=1)
    ax.plot(
        [result.lrs[index]],
        [result.smoothed_losses[index]],
        "o",
        color="C3",
        label=f"steepest descent: lr = {result.suggested_lr:.2g}",
    )
    ax.axvline(
        result.min_loss_lr / 10,
        color="C2",
        linestyle=":",
        linewidth=1.2,
        label=f"min loss / 10: lr = {result.min_loss_lr / 10:.2g}",
    )
    ax.set_xscale("log")
    finite = [loss for loss in result.smoothed_losses if math.isfinite(loss)]
    if finite:
        # The last points blow up; clip the view so the useful part fills it.
        low, high = min(finite), min(max(finite), 2 * max(finite[: max(1, len(finite) - 3)]))
        margin = 0.05 * (high - low if high > low else 1.0)
        ax.set_ylim(low - margin, high + margin)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.set_title("learning-rate range test")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax
