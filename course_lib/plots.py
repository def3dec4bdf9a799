r"""Plotting helpers shared by the book, the exercises and the widgets.

Three pictures recur in every chapter: loss curves (one line per run, log scale),
the contour lines of a 2-D loss, and the path an optimizer takes across them.
Each helper draws onto a given :class:`~matplotlib.axes.Axes` (or a new one), so
a page can combine them freely, and all share one look (:func:`style`).

Runs that blow up are part of the story, so every helper accepts ``inf``/``nan``:
it draws up to the last finite value and marks where the run diverged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.lines import Line2D
from matplotlib.text import Annotation

__all__ = [
    "PATH_COLORS",
    "CONTOUR_CMAP",
    "RC_PARAMS",
    "style",
    "apply_style",
    "plot_loss_curves",
    "contour",
    "log_levels",
    "plot_path",
    "PathArtists",
    "first_nonfinite",
    "figure_png",
]

#: Okabe & Ito's colour-blind-safe palette, strongest colours first; paths and loss
#: curves cycle through it so that "run 1" has the same colour in every panel.
PATH_COLORS: tuple[str, ...] = (
    "#D55E00",  # vermillion
    "#0072B2",  # blue
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",
)

#: A pale background for filled contours: low loss is almost white, high loss a light
#: blue-grey, so coloured paths and their markers stay readable on top of it.
CONTOUR_CMAP = LinearSegmentedColormap.from_list(
    "course_contour", ["#ffffff", "#e8eef4", "#c9d6e3", "#9fb3c8"]
)

#: The course's matplotlib settings (see :func:`style`).
RC_PARAMS: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.bbox": "tight",
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9,
    "legend.framealpha": 0.85,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.prop_cycle": mpl.cycler(color=list(PATH_COLORS)),
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Use the course's look for the figures made inside the ``with`` block.

    Example:
        >>> with style():
        ...     ax = plot_loss_curves({"run": [1.0, 0.5, 0.25]})
    """
    with mpl.rc_context(RC_PARAMS):
        yield


def apply_style() -> None:
    """Make the course's look the default for the rest of the session (pages call it once)."""
    mpl.rcParams.update(RC_PARAMS)


def _new_axes(figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    import matplotlib.pyplot as plt  # only when no axes is given: pyplot shows the figure inline

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    ax.set_prop_cycle(color=list(PATH_COLORS))  # a given axes keeps its own cycle
    return ax


def _as_numpy(values: Sequence[float] | torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().to(torch.float64).numpy()
    return np.asarray(values, dtype=np.float64)


def first_nonfinite(values: Sequence[float] | torch.Tensor | np.ndarray) -> int | None:
    """Index of the first entry (or row) holding ``inf`` or ``nan``; None when all are finite.

    Example:
        >>> first_nonfinite([1.0, 2.0, float("inf"), 3.0])
        2
    """
    array = _as_numpy(values)
    bad = ~np.isfinite(array)
    if bad.ndim > 1:
        bad = bad.reshape(bad.shape[0], -1).any(axis=1)
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


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
    ax = _new_axes() if ax is None else ax
    positive = True
    for name, values in curves.items():
        array = _as_numpy(values).reshape(-1)
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
    array = _as_numpy(values).reshape(-1)
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
    ax = _new_axes((5.0, 4.2)) if ax is None else ax
    gx, gy = _grid(xlim, ylim, resolution)
    with torch.no_grad():
        values = f(torch.stack([gx, gy], dim=-1))
    z = _as_numpy(values)
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
        point = _as_numpy(minimum).reshape(2)
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
        points = _as_numpy(path).reshape(-1, 2)
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


def figure_png(fig: Any, *, draw: bool = True, compress_level: int = 1) -> bytes:
    """The figure as PNG bytes, drawn by Agg and encoded by Pillow.

    Faster than ``savefig`` for live widgets: the canvas is drawn once and its pixel
    buffer encoded with light compression (no second draw, no tight bounding box).

    Args:
        fig: a figure whose canvas is Agg (``FigureCanvasAgg(fig)`` or the Agg backend).
        draw: draw the canvas first (default True); pass False when it was just drawn.
        compress_level: zlib level 0-9 (default 1: fast, files about 20 % larger).

    Returns:
        The PNG file's bytes.
    """
    import io

    from PIL import Image

    if draw:
        fig.canvas.draw()
    image = Image.frombuffer("RGBA", fig.canvas.get_width_height(physical=True), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()
