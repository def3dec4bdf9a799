r"""Per-layer statistics of a network: mean and spread per layer, histograms, and how they evolve (chapter 7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

if TYPE_CHECKING:
    from course_lib.monitoring import LayerStats

__all__ = ["plot_layer_stats", "plot_histograms", "plot_histogram_evolution"]


def _select(stats: LayerStats, layers: Sequence[str] | None, kinds: Sequence[str] | None) -> list[str]:
    if layers is not None:
        unknown = [name for name in layers if name not in stats.layers]
        if unknown:
            raise ValueError(f"unknown layers {unknown}; recorded: {list(stats.layers)}")
        return list(layers)
    return [
        name for name, record in stats.layers.items() if kinds is None or record.kind in kinds
    ]


def plot_layer_stats(
    stats: LayerStats,
    quantity: str = "act_std",
    ax: Axes | None = None,
    over: Literal["steps", "layers"] = "steps",
    layers: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    label: str | None = None,
    log: bool = False,
) -> Axes:
    """Plot one recorded quantity per layer.

    ``over="steps"`` draws one line per layer against the pass number (e.g.
    gradient std over training, chapter 4); ``over="layers"`` draws the latest
    value against depth (e.g. activation std per layer under an init, chapter 7),
    and repeated calls on the same ``ax`` with different ``label`` overlay runs.

    Args:
        stats: a :class:`LayerStats` that has recorded something.
        quantity: one of :data:`QUANTITIES` (default ``"act_std"``).
        ax: axes to draw on (default: a new figure).
        over: ``"steps"`` (default) or ``"layers"``.
        layers: names of the layers to show (default: all, or those of ``kinds``).
        kinds: class names to show, e.g. ``["ReLU"]`` (default: all).
        label: legend label of the curve for ``over="layers"``.
        log: logarithmic y axis (default ``False``).

    Returns:
        The axes.
    """
    names = _select(stats, layers, kinds)
    series = stats.history(quantity)
    new_figure = ax is None
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    if over == "steps":
        for name in names:
            if series[name]:
                ax.plot(series[name], label=f"{name} ({stats.layers[name].kind})", linewidth=1.5)
        ax.set_xlabel("recorded pass")
    elif over == "layers":
        shown = [name for name in names if series[name]]
        ax.plot(range(len(shown)), [series[name][-1] for name in shown], "o-", label=label)
        ax.set_xticks(range(len(shown)))
        ax.set_xticklabels(shown, rotation=45 if len(shown) > 6 else 0, ha="right" if len(shown) > 6 else "center")
        ax.set_xlabel("layer")
    else:
        raise ValueError(f"over must be 'steps' or 'layers', got {over!r}")
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(quantity.replace("_", " "))
    ax.grid(True, alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize="small")
    if new_figure:
        ax.figure.tight_layout()
    return ax


def plot_histograms(
    stats: LayerStats,
    layers: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    step: int = -1,
    axes: Sequence[Axes] | None = None,
) -> np.ndarray:
    """Draw the output histogram of each layer at one recorded pass, side by side.

    Args:
        stats: a :class:`LayerStats` built with ``histograms=True``.
        layers: names of the layers to show (default: all, or those of ``kinds``).
        kinds: class names to show, e.g. ``["Tanh"]`` (default: all).
        step: which recorded pass (default -1: the latest).
        axes: one axes per layer (default: a new row of subplots).

    Returns:
        The array of axes.
    """
    names = [name for name in _select(stats, layers, kinds) if stats.layers[name].histograms]
    if not names:
        raise ValueError("no histograms recorded; build LayerStats(..., histograms=True)")
    new_figure = axes is None
    if axes is None:
        _, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.8), squeeze=False)
        axes = axes[0]
    edges = stats.bin_edges.numpy()
    centers, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    for ax, name in zip(axes, names):
        counts = stats.layers[name].histograms[step].numpy()
        ax.bar(centers, counts / max(counts.sum(), 1), width=widths, color="C0")
        ax.set_title(f"{name} ({stats.layers[name].kind})", fontsize="small")
        ax.set_xlabel("output value")
        ax.tick_params(labelsize="small")
    axes[0].set_ylabel("fraction of values")
    if new_figure:
        axes[0].figure.tight_layout()
    return np.asarray(axes)


def plot_histogram_evolution(
    stats: LayerStats,
    layers: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    axes: Sequence[Axes] | None = None,
) -> np.ndarray:
    """Show how each layer's output histogram changes over the recorded passes.

    One image per layer: pass number on the x axis, output value on the y axis,
    colour the log of the count (``log1p``), so collapsing or saturating
    activations stand out.

    Args:
        stats: a :class:`LayerStats` built with ``histograms=True``.
        layers: names of the layers to show (default: all, or those of ``kinds``).
        kinds: class names to show (default: all).
        axes: one axes per layer (default: a new row of subplots).

    Returns:
        The array of axes.
    """
    names = [name for name in _select(stats, layers, kinds) if stats.layers[name].histograms]
    if not names:
        raise ValueError("no histograms recorded; build LayerStats(..., histograms=True)")
    new_figure = axes is None
    if axes is None:
        _, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.8), squeeze=False)
        axes = axes[0]
    low, high = stats.hist_range
    for ax, name in zip(axes, names):
        image = torch.stack(stats.layers[name].histograms).T.log1p().numpy()
        ax.imshow(
            image,
            origin="lower",
            aspect="auto",
            extent=(0, image.shape[1], low, high),
            cmap="viridis",
        )
        ax.set_title(f"{name} ({stats.layers[name].kind})", fontsize="small")
        ax.set_xlabel("recorded pass")
        ax.tick_params(labelsize="small")
    axes[0].set_ylabel("output value")
    if new_figure:
        axes[0].figure.tight_layout()
    return np.asarray(axes)
