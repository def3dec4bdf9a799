r"""The course's look: colours, matplotlib settings, and figures as PNG bytes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap

__all__ = [
    "PATH_COLORS",
    "CONTOUR_CMAP",
    "RC_PARAMS",
    "style",
    "apply_style",
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


def new_axes(figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    import matplotlib.pyplot as plt  # only when no axes is given: pyplot shows the figure inline

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    ax.set_prop_cycle(color=list(PATH_COLORS))  # a given axes keeps its own cycle
    return ax


def as_numpy(values: Sequence[float] | torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().to(torch.float64).numpy()
    return np.asarray(values, dtype=np.float64)


def first_nonfinite(values: Sequence[float] | torch.Tensor | np.ndarray) -> int | None:
    """Index of the first entry (or row) holding ``inf`` or ``nan``; None when all are finite.

    Example:
        >>> first_nonfinite([1.0, 2.0, float("inf"), 3.0])
        2
    """
    array = as_numpy(values)
    bad = ~np.isfinite(array)
    if bad.ndim > 1:
        bad = bad.reshape(bad.shape[0], -1).any(axis=1)
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


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
