r"""Per-layer activation and gradient statistics, collected with hooks (chapters 4 and 7).

:class:`LayerStats` hooks into every layer of the chosen types and appends, at
each forward pass (activations) and each backward pass (gradients):

* ``act_mean``, ``act_std``: mean and standard deviation of the layer's output
  over the whole batch (pre-activation for a ``Linear``, post-activation for a
  ``ReLU``);
* ``dead_fraction``: fraction of the output units that are exactly zero for
  every sample of the batch (a "dead" ReLU unit passes no gradient);
* ``grad_mean``, ``grad_std``: the gradient of the loss with respect to the
  layer's output;
* ``weight_grad_mean``, ``weight_grad_std``: the gradient with respect to the
  layer's ``weight``, if it has one;
* optionally a histogram of the outputs on fixed bins, so histograms can be
  compared across steps.

The gradient hooks are tensor hooks: the forward hook registers one on each
output it sees (``output.register_hook``), and one sits on each ``weight``.
Unlike ``Module.register_full_backward_hook`` this also fires quietly for the
first layer, whose input needs no gradient. The hooks are removed by
:meth:`LayerStats.detach`, or on leaving a ``with`` block; a hook left on an
output tensor dies with that tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from torch import nn
from torch.utils.hooks import RemovableHandle

__all__ = [
    "DEFAULT_MODULE_TYPES",
    "QUANTITIES",
    "LayerRecord",
    "LayerStats",
    "dead_fraction",
    "plot_layer_stats",
    "plot_histograms",
    "plot_histogram_evolution",
]

DEFAULT_MODULE_TYPES: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.ReLU,
    nn.LeakyReLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.GELU,
    nn.ELU,
    nn.SELU,
)
"""Layers :class:`LayerStats` watches unless told otherwise: linear maps and activations."""

QUANTITIES = (
    "act_mean",
    "act_std",
    "dead_fraction",
    "grad_mean",
    "grad_std",
    "weight_grad_mean",
    "weight_grad_std",
)
"""The per-layer series a :class:`LayerRecord` holds."""


def dead_fraction(activations: torch.Tensor) -> float:
    """Fraction of units that are zero for every sample of the batch.

    A unit is one position of an output (N, ...) after the batch dimension: a
    feature of an (N, d) output, a channel-and-position of a convolution's.

    Args:
        activations: a layer's output, batch first.

    Returns:
        A number in ``[0, 1]``.

    Example:
        >>> dead_fraction(torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
        0.5
    """
    per_unit = activations.detach().reshape(activations.shape[0], -1)
    return float((per_unit == 0).all(dim=0).float().mean())


@dataclass
class LayerRecord:
    """The statistics of one layer, one entry per recorded pass (see :data:`QUANTITIES`)."""

    name: str
    kind: str
    act_mean: list[float] = field(default_factory=list)
    act_std: list[float] = field(default_factory=list)
    dead_fraction: list[float] = field(default_factory=list)
    grad_mean: list[float] = field(default_factory=list)
    grad_std: list[float] = field(default_factory=list)
    weight_grad_mean: list[float] = field(default_factory=list)
    weight_grad_std: list[float] = field(default_factory=list)
    histograms: list[torch.Tensor] = field(default_factory=list)


class LayerStats:
    r"""Record activation and gradient statistics of each layer of ``model`` through hooks.

    Use it as a context manager around the passes to watch; it also works
    attached for a whole training run (:meth:`attach` / :meth:`detach`).

    Args:
        model: the network to watch.
        module_types: which submodules to watch (default
            :data:`DEFAULT_MODULE_TYPES`: ``Linear``, ``Conv1d/2d`` and common activations).
        histograms: also store a histogram of each output (default ``False``).
        bins: number of histogram bins (default 50).
        hist_range: the histogram's fixed range (default ``(-4, 4)``); values
            outside are not counted.
        training_only: skip forward passes made in evaluation mode (default ``False``).

    Attributes:
        layers: ``{name: LayerRecord}`` in the model's order; names are those of
            ``model.named_modules()``.
        bin_edges: the histogram bin edges (``bins + 1`` numbers).

    Example:
        >>> net = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 1))
        >>> with LayerStats(net) as stats:
        ...     net(torch.randn(64, 10)).pow(2).mean().backward()
        >>> sorted(stats.last("act_std"))
        ['0', '1', '2']
    """

    def __init__(
        self,
        model: nn.Module,
        module_types: Sequence[type[nn.Module]] = DEFAULT_MODULE_TYPES,
        histograms: bool = False,
        bins: int = 50,
        hist_range: tuple[float, float] = (-4.0, 4.0),
        training_only: bool = False,
    ) -> None:
        self.model = model
        self.module_types = tuple(module_types)
        self.histograms = histograms
        self.bins = bins
        self.hist_range = (float(hist_range[0]), float(hist_range[1]))
        self.training_only = training_only
        self.bin_edges = torch.linspace(self.hist_range[0], self.hist_range[1], bins + 1)
        self.layers: dict[str, LayerRecord] = {}
        self._handles: list[RemovableHandle] = []
        for name, module in model.named_modules():
            if isinstance(module, self.module_types):
                label = name or type(module).__name__
                self.layers[label] = LayerRecord(label, type(module).__name__)
        if not self.layers:
            raise ValueError(f"model has no submodule of the types {self.module_types}")

    def attach(self) -> LayerStats:
        """Register the hooks (does nothing if they are already registered)."""
        if self._handles:
            return self
        for name, module in self.model.named_modules():
            if not isinstance(module, self.module_types):
                continue
            record = self.layers[name or type(module).__name__]
            self._handles.append(module.register_forward_hook(self._forward_hook(record)))
            weight = getattr(module, "weight", None)
            if isinstance(weight, torch.Tensor) and weight.requires_grad:
                self._handles.append(weight.register_hook(self._weight_hook(record)))
        return self

    def detach(self) -> None:
        """Remove every hook this object registered."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    @property
    def attached(self) -> bool:
        """Whether the hooks are currently registered."""
        return bool(self._handles)

    def __enter__(self) -> LayerStats:
        return self.attach()

    def __exit__(self, *exc_info: object) -> None:
        self.detach()

    def _forward_hook(self, record: LayerRecord):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            if self.training_only and not module.training:
                return
            values = output.detach()
            mean, std = values.float().mean(), values.float().std(correction=0)
            numbers = torch.stack([mean, std]).tolist()
            record.act_mean.append(numbers[0])
            record.act_std.append(numbers[1])
            record.dead_fraction.append(dead_fraction(values))
            if self.histograms:
                counts = torch.histc(values.float(), self.bins, *self.hist_range)
                record.histograms.append(counts.cpu())
            if output.requires_grad:
                output.register_hook(self._output_grad_hook(record))

        return hook

    @staticmethod
    def _output_grad_hook(record: LayerRecord):
        def hook(grad: torch.Tensor) -> None:
            grad = grad.detach().float()
            mean, std = torch.stack([grad.mean(), grad.std(correction=0)]).tolist()
            record.grad_mean.append(mean)
            record.grad_std.append(std)

        return hook

    @staticmethod
    def _weight_hook(record: LayerRecord):
        def hook(grad: torch.Tensor) -> None:
            grad = grad.detach().float()
            mean, std = torch.stack([grad.mean(), grad.std(correction=0)]).tolist()
            record.weight_grad_mean.append(mean)
            record.weight_grad_std.append(std)

        return hook

    def history(self, quantity: str) -> dict[str, list[float]]:
        """``{layer name: series}`` of one quantity from :data:`QUANTITIES`."""
        if quantity not in QUANTITIES:
            raise ValueError(f"unknown quantity {quantity!r}; expected one of {QUANTITIES}")
        return {name: getattr(record, quantity) for name, record in self.layers.items()}

    def last(self, quantity: str) -> dict[str, float]:
        """``{layer name: latest value}`` of one quantity, for the layers that have one."""
        return {name: series[-1] for name, series in self.history(quantity).items() if series}

    def clear(self) -> None:
        """Forget everything recorded so far (the hooks stay)."""
        for name, record in self.layers.items():
            self.layers[name] = LayerRecord(record.name, record.kind)

    def __repr__(self) -> str:
        state = "attached" if self.attached else "detached"
        return f"LayerStats({len(self.layers)} layers, {state})"


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
