r"""Contour lines of a 2-D loss and the paths optimizers take across them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.text import Annotation

if TYPE_CHECKING:
    from course_lib.landscapes import Landscape

from course_lib.plots.style import CONTOUR_CMAP, as_numpy, first_nonfinite, new_axes

__all__ = ["log_levels", "contour", "PathArtists", "plot_path", "plot_landscape"]


def _grid(xlim: Sequence[float], ylim: Sequence[float], resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    xs = torch.linspace(float(xlim[0]), float(xlim[1]), resolution, dtype=torch.float64)
    ys = torch.linspace(float(ylim[0]), float(ylim[1]), resolution, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    return gx, gy


def log_levels(values: np.ndarray | torch.Tensor, n_levels: int = 14, floor: float | None = None) -> np.ndarray:
    r"""Contour levels spaced evenly in :math:`\log(f - f_{\min})`.

    Loss surfaces are steep far from the minimum and flat near it; evenly spaced
    levels would crowd the walls and leave the interesting floor empty. Here each
    level is a constant factor above the previous one, measured from the lowest
    value (so negative losses work too).

    Args:
        values: the function on a grid (non-finite entries are ignored).
        n_levels: number of levels (default 14).
        floor: the lowest value to measure from (default: the smallest finite value;
            pass the value at the known minimum when the grid misses it).

    Returns:
        Increasing levels, ``n_levels`` of them.
    """
    array = as_numpy(values).reshape(-1)
    array = array[np.isfinite(array)]
    if array.size == 0:
        return np.linspace(0.0, 1.0, n_levels)
    low = float(array.min()) if floor is None else min(float(floor), float(array.min()))
    excess = array - low
    top = float(np.quantile(excess, 0.99))
    if top <= 0:
        return np.linspace(low, low + 1.0, n_levels)
    # a floor at the 0.5 % quantile keeps one or two levels around the minimum itself
    bottom = max(float(np.quantile(excess, 0.005)), top * 1e-4)
    return low + np.geomspace(bottom, top, n_levels)


def contour(
    f: Callable[[torch.Tensor], torch.Tensor],
    xlim: Sequence[float],
    ylim: Sequence[float],
    *,
    ax: Axes | None = None,
    levels: int | Sequence[float] | None = None,
    resolution: int = 200,
    minimum: Sequence[float] | torch.Tensor | None = None,
    filled: bool = True,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    r"""Contour lines (optionally filled) of a 2-D function given as torch code.

    Args:
        f: maps points ``xy`` of shape ``(..., 2)`` to values of shape ``(...)``; it is
            evaluated once on a ``resolution`` x ``resolution`` grid, in float64,
            without gradients.
        xlim: ``(x_min, x_max)``.
        ylim: ``(y_min, y_max)``.
        ax: where to draw; a new figure when None.
        levels: explicit levels, or their number; by default 14 log-spaced levels
            (:func:`log_levels`), which resolve the floor of a valley.
        resolution: grid points per axis (default 200).
        minimum: a point to mark with a star (for instance the known minimizer).
        filled: fill between the lines with a pale colour map (default True); the
            lines alone compress better in animations.
        xlabel: x-axis label (default none; landscapes pass their parameter names).
        ylabel: y-axis label.

    Returns:
        The axes drawn on; the contour sets are in ``ax.collections``.

    Example:
        >>> ax = contour(lambda p: (p ** 2).sum(-1), (-2, 2), (-2, 2), minimum=(0, 0))
    """
    ax = new_axes((5.0, 4.2)) if ax is None else ax
    gx, gy = _grid(xlim, ylim, resolution)
    with torch.no_grad():
        values = f(torch.stack([gx, gy], dim=-1))
    z = as_numpy(values)
    if levels is None or isinstance(levels, int):
        floor = None
        if minimum is not None:
            with torch.no_grad():
                at_min = f(torch.as_tensor(minimum, dtype=torch.float64).reshape(2))
            floor = float(at_min) if torch.isfinite(at_min) else None
        level_values = log_levels(z, 14 if levels is None else levels, floor=floor)
    else:
        level_values = np.asarray(levels, dtype=np.float64)
    z = np.where(np.isfinite(z), z, np.nanmax(np.where(np.isfinite(z), z, -np.inf)))
    x, y = gx.numpy(), gy.numpy()
    if filled:
        ax.contourf(x, y, z, levels=level_values, cmap=CONTOUR_CMAP, extend="both", zorder=0)
    ax.contour(x, y, z, levels=level_values, colors="#5b6b7b", linewidths=0.6, linestyles="solid", alpha=0.8, zorder=1)
    if minimum is not None:
        point = as_numpy(minimum).reshape(2)
        ax.plot(
            [point[0]], [point[1]], marker="*", markersize=13, color="#222222",
            markeredgecolor="white", linestyle="none", zorder=4, label="_minimum",
        )
    ax.set_xlim(float(xlim[0]), float(xlim[1]))
    ax.set_ylim(float(ylim[0]), float(ylim[1]))
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    return ax


@dataclass
class PathArtists:
    """The matplotlib artists of one drawn path; :meth:`set_path` moves them all.

    Attributes:
        line: the path itself (a dot at every step).
        start: the start marker (a hollow circle).
        end: the end marker (a filled square), or the ``x`` where the run diverged.
        note: the "diverged at step k" label, empty while the run is finite.
    """

    line: Line2D
    start: Line2D
    end: Line2D
    note: Annotation

    def set_path(self, path: torch.Tensor | np.ndarray) -> None:
        """Show ``path`` (steps+1, 2) with the existing artists: no new artist is created."""
        points = as_numpy(path).reshape(-1, 2)
        cut = first_nonfinite(points)
        finite = points if cut is None else points[:cut]
        if finite.shape[0] == 0:
            finite = np.full((1, 2), np.nan)
        self.line.set_data(finite[:, 0], finite[:, 1])
        self.start.set_data(finite[:1, 0], finite[:1, 1])
        self.end.set_data(finite[-1:, 0], finite[-1:, 1])
        if cut is None:
            self.end.set_marker("s")
            self.end.set_markersize(7)
            self.end.set_markeredgecolor("white")
            self.end.set_markeredgewidth(0.8)
            self.note.set_text("")
        else:
            self.end.set_marker("x")
            self.end.set_markersize(11)
            self.end.set_markeredgecolor(self.line.get_color())
            self.end.set_markeredgewidth(2.5)
            self.note.set_text(f"diverged at step {cut}")
            self.note.xy = (float(finite[-1, 0]), float(finite[-1, 1]))

    def remove(self) -> None:
        """Take the artists off their axes."""
        for artist in (self.line, self.start, self.end, self.note):
            artist.remove()


def plot_path(
    path: torch.Tensor | np.ndarray,
    ax: Axes,
    label: str | None = None,
    *,
    color: str | None = None,
    markersize: float = 2.5,
    **kw: Any,
) -> PathArtists:
    """Draw an optimizer's path: a line with a dot per step, a start circle and an end square.

    A path that holds ``inf``/``nan`` rows (a diverged run) is drawn up to its last
    finite point, which gets an ``x`` and the note "diverged at step k".

    Args:
        path: the iterates, shape ``(steps + 1, 2)``.
        ax: where to draw.
        label: legend entry (none by default).
        color: line colour (default: the axes' next colour).
        markersize: size of the per-step dots (0 hides them).
        **kw: passed on to :meth:`~matplotlib.axes.Axes.plot` for the line.

    Returns:
        A :class:`PathArtists`; call its ``set_path`` to move the drawing to a new path.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> artists = plot_path(torch.tensor([[0.0, 0.0], [1.0, 0.5]]), plt.gca(), label="GD")
    """
    kw.setdefault("zorder", 3)
    kw.setdefault("marker", "o")
    (line,) = ax.plot([], [], label=label, color=color, markersize=markersize, **kw)
    color = line.get_color()
    zorder = kw["zorder"] + 0.5
    (start,) = ax.plot([], [], marker="o", markersize=8, markerfacecolor="white",
                       markeredgecolor=color, markeredgewidth=2, linestyle="none", zorder=zorder)
    (end,) = ax.plot([], [], marker="s", markersize=7, color=color, markeredgecolor="white",
                     markeredgewidth=0.8, linestyle="none", zorder=zorder)
    note = ax.annotate("", (0.0, 0.0), xytext=(6, 6), textcoords="offset points",
                       color=color, fontsize=9, zorder=zorder)
    artists = PathArtists(line=line, start=start, end=end, note=note)
    artists.set_path(path)
    return artists


def plot_landscape(landscape: Landscape, ax: Axes | None = None, *, xlim: Sequence[float] | None = None,
                   ylim: Sequence[float] | None = None, **kwargs: Any) -> Axes:
    """Contour plot of a landscape over its default ranges, minimum starred, axes labelled.

    Args:
        landscape: a :class:`~course_lib.landscapes.Landscape`.
        ax: matplotlib axes (a new figure when None).
        xlim: x-range (default ``landscape.default_xlim``).
        ylim: y-range (default ``landscape.default_ylim``).
        **kwargs: passed to :func:`contour` (``levels``, ``resolution``, ``filled``).

    Returns:
        The axes.
    """
    kwargs.setdefault("minimum", landscape.minimum)
    kwargs.setdefault("xlabel", landscape.axis_labels[0])
    kwargs.setdefault("ylabel", landscape.axis_labels[1])
    return contour(landscape, xlim or landscape.default_xlim, ylim or landscape.default_ylim, ax=ax, **kwargs)
