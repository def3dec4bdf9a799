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

:func:`probe_along_gradient` looks at the loss surface instead of the layers: how much
the loss and its gradient change along the direction of a gradient step (chapter 8
measures it with and without batch norm).

The gradient hooks are tensor hooks: the forward hook registers one on each
output it sees (``output.register_hook``), and one sits on each ``weight``.
Unlike ``Module.register_full_backward_hook`` this also fires quietly for the
first layer, whose input needs no gradient. The hooks are removed by
:meth:`LayerStats.detach`, or on leaving a ``with`` block; a hook left on an
output tensor dies with that tensor.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

__all__ = [
    "DEFAULT_MODULE_TYPES",
    "QUANTITIES",
    "LayerRecord",
    "LayerStats",
    "dead_fraction",
    "GradientProbe",
    "probe_along_gradient",
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




@dataclass(frozen=True)
class GradientProbe:
    r"""The loss and its gradient along one gradient step (:func:`probe_along_gradient`).

    Attributes:
        step_sizes: the distances :math:`s` tried along :math:`-g`.
        loss: :math:`L(\theta)` at the probed point.
        losses: :math:`L(\theta - s g)` for each step size.
        gradient_norm: :math:`\lVert g\rVert`, with :math:`g = \nabla L(\theta)`.
        gradient_changes: :math:`\lVert \nabla L(\theta - s g) - g\rVert` for each step size.
    """

    step_sizes: tuple[float, ...]
    loss: float
    losses: tuple[float, ...]
    gradient_norm: float
    gradient_changes: tuple[float, ...]

    @property
    def loss_range(self) -> float:
        """Largest minus smallest loss along the step, the start included."""
        values = (self.loss, *self.losses)
        return max(values) - min(values)

    @property
    def smoothness(self) -> float:
        r"""The largest :math:`\lVert \nabla L(\theta - s g) - g\rVert / \lVert s g\rVert`.

        An estimate of the gradient's Lipschitz constant :math:`\beta` along the step
        ("effective :math:`\beta`-smoothness"): a small value means the gradient
        at the start still describes the loss where the step lands.
        """
        return max(change / (s * self.gradient_norm) for s, change in zip(self.step_sizes, self.gradient_changes))


def probe_along_gradient(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    step_sizes: Sequence[float],
) -> GradientProbe:
    r"""How the loss and its gradient change along a gradient step (Santurkar et al., 2018).

    With :math:`g = \nabla L(\theta)` the gradient of ``loss_fn(model(inputs),
    targets)`` at the current parameters, evaluate for every step size :math:`s`

    .. math::
        L(\theta - s g) \qquad\text{and}\qquad \lVert \nabla L(\theta - s g) - g \rVert

    on the same batch. Santurkar et al. ("How does batch normalization help
    optimization?", NeurIPS 2018, sec. 3.1) plot the spread of the first
    ("loss landscape") and of the second ("gradient predictiveness") over training
    to show that batch norm makes the loss smoother. The model is probed in the mode
    it is in (training mode: batch norm uses the batch's statistics); its
    parameters, buffers and gradients are restored afterwards.

    Args:
        model: the network.
        loss_fn: ``loss_fn(outputs, targets)`` gives a scalar.
        inputs, targets: the batch.
        step_sizes: positive distances along :math:`-g`, e.g. multiples of the learning rate.

    Returns:
        A :class:`GradientProbe`.

    Example:
        >>> net = nn.Linear(3, 1)
        >>> probe = probe_along_gradient(net, nn.functional.mse_loss, torch.randn(8, 3),
        ...                              torch.randn(8, 1), [0.1, 0.2])
        >>> len(probe.losses)
        2
    """
    step_sizes = tuple(float(s) for s in step_sizes)
    if not step_sizes or any(s <= 0 for s in step_sizes):
        raise ValueError(f"step_sizes must be positive numbers, got {step_sizes}")
    params = [p for p in model.parameters() if p.requires_grad]
    saved_state = copy.deepcopy(model.state_dict())
    saved_grads = [None if p.grad is None else p.grad.clone() for p in params]

    def loss_and_gradient() -> tuple[float, list[torch.Tensor]]:
        loss = loss_fn(model(inputs), targets)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        return float(loss.detach()), [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]

    try:
        loss, gradient = loss_and_gradient()
        start = [p.detach().clone() for p in params]
        gradient_norm = float(torch.sqrt(sum((g.double() ** 2).sum() for g in gradient)))
        losses, changes = [], []
        for s in step_sizes:
            with torch.no_grad():
                for p, p0, g in zip(params, start, gradient):
                    p.copy_(p0 - s * g)
            loss_there, gradient_there = loss_and_gradient()
            losses.append(loss_there)
            changes.append(float(torch.sqrt(sum(((a - b).double() ** 2).sum()
                                                 for a, b in zip(gradient_there, gradient)))))
    finally:
        model.load_state_dict(saved_state)
        for p, g in zip(params, saved_grads):
            p.grad = g
    return GradientProbe(step_sizes, loss, tuple(losses), gradient_norm, tuple(changes))
