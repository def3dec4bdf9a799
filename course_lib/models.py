"""The small networks every chapter reuses: an MLP and a CNN for the 8x8 digits images."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "mlp", "cnn"]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "identity": nn.Identity,
    "linear": nn.Identity,
}
"""Activation names accepted by :func:`mlp`, mapped to the module they build."""


def mlp(
    sizes: Sequence[int],
    activation: str | Callable[[], nn.Module] = "relu",
    batch_norm: bool = False,
    layer_norm: bool = False,
    dropout: float = 0.0,
    bias: bool = True,
    seed: int | None = None,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    """A multilayer perceptron: ``Linear`` layers with normalization, activation and dropout between them.

    ``sizes = [d_in, h_1, ..., h_k, d_out]`` gives ``k`` hidden blocks, each

        ``Linear -> (BatchNorm1d | LayerNorm) -> activation -> (Dropout)``

    followed by a final ``Linear(h_k, d_out)`` with nothing after it (the loss
    applies any softmax or sigmoid). Normalizing before the activation is the
    placement of Ioffe & Szegedy (2015); dropout after it zeroes whole units'
    outputs (Srivastava et al., 2014). Layers are named ``linear1, batchnorm1,
    relu1, dropout1, ..., linear{k+1}``, so hooks and plots can say which is
    which; ``model[0]`` indexing still works.

    Weights get torch's default initialization, drawn from a private random
    stream when ``seed`` is given (the global one is left untouched); use
    :func:`course_lib.init.initialize_` for another scheme.

    Args:
        sizes: layer widths, input first, output last (at least two numbers).
        activation: a name from :data:`ACTIVATIONS` (default ``"relu"``) or a
            function returning a fresh module.
        batch_norm: add ``BatchNorm1d`` after each hidden ``Linear`` (default ``False``).
        layer_norm: add ``LayerNorm`` instead (default ``False``; not both).
        dropout: drop probability after each hidden activation (default 0: no layer).
        bias: whether the ``Linear`` layers have biases (default ``True``; a
            bias right before batch norm is cancelled by its mean subtraction).
        seed: seed for the weights (default ``None``: the global generator).
        device: where to put the parameters (default: the CPU).

    Returns:
        An ``nn.Sequential``.

    Example:
        >>> net = mlp([30, 100, 100, 1], batch_norm=True, dropout=0.2, seed=0)
        >>> [name for name, _ in net.named_children()][:4]
        ['linear1', 'batchnorm1', 'relu1', 'dropout1']
    """
    sizes = [int(size) for size in sizes]
    if len(sizes) < 2 or any(size < 1 for size in sizes):
        raise ValueError(f"sizes needs at least two positive widths, got {sizes}")
    if batch_norm and layer_norm:
        raise ValueError("choose batch_norm or layer_norm, not both")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}")
        make_activation = ACTIVATIONS[activation]
        activation_name = "identity" if activation == "linear" else activation
    else:
        make_activation, activation_name = activation, "act"

    def build() -> nn.Sequential:
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        num_hidden = len(sizes) - 2
        for index in range(1, num_hidden + 1):
            width = sizes[index]
            layers[f"linear{index}"] = nn.Linear(sizes[index - 1], width, bias=bias)
            if batch_norm:
                layers[f"batchnorm{index}"] = nn.BatchNorm1d(width)
            if layer_norm:
                layers[f"layernorm{index}"] = nn.LayerNorm(width)
            layers[f"{activation_name}{index}"] = make_activation()
            if dropout > 0:
                layers[f"dropout{index}"] = nn.Dropout(dropout)
        layers[f"linear{num_hidden + 1}"] = nn.Linear(sizes[-2], sizes[-1], bias=bias)
        return nn.Sequential(layers)

    return _seeded_build(build, seed, device)


def _seeded_build(
    build: Callable[[], nn.Module], seed: int | None, device: torch.device | str | None
) -> nn.Module:
    if seed is None:
        model = build()
    else:
        with torch.random.fork_rng(devices=[]):
            # Modules draw their default init from the global CPU generator; seed
            # only that one, so CUDA generators are not touched either.
            torch.random.default_generator.manual_seed(seed)
            model = build()
    return model.to(device) if device is not None else model


def cnn(
    channels: Sequence[int] = (16, 32),
    batch_norm: bool = True,
    num_classes: int = 10,
    *,
    image_size: int = 8,
    in_channels: int = 1,
    seed: int | None = None,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    """A small convolutional network for the 8x8 digits images: conv blocks, then one ``Linear``.

    Each entry of ``channels`` adds a block

        ``Conv2d(3x3, padding 1) -> (BatchNorm2d) -> ReLU -> (MaxPool2d(2))``

    where the first two blocks pool (8x8 -> 4x4 -> 2x2) and later ones keep the
    size, so a deeper stack still sees a 2x2 map. The last feature map is
    flattened into ``Linear(channels[-1] * h * w, num_classes)``; the loss applies
    the softmax. With batch norm the convolutions have no bias: the normalization
    subtracts the per-channel mean, which would cancel it. Layers are named
    ``conv1, batchnorm1, relu1, pool1, ..., flatten, linear``.

    With the defaults it has 6,138 parameters (6,090 without batch norm) and
    trains to about 95% test accuracy on the digits in a few epochs on a CPU.

    Args:
        channels: output channels of each conv block (default ``(16, 32)``).
        batch_norm: add ``BatchNorm2d`` after each convolution (default ``True``);
            ``False`` gives the same network without it (and with conv biases).
        num_classes: number of outputs (default 10).
        image_size: height = width of the input images (default 8).
        in_channels: channels of the input images (default 1).
        seed: seed for the weights (default ``None``: the global generator).
        device: where to put the parameters (default: the CPU).

    Returns:
        An ``nn.Sequential`` mapping ``(N, in_channels, image_size, image_size)``
        to ``(N, num_classes)`` logits.

    Example:
        >>> net = cnn(seed=0)
        >>> net(torch.zeros(4, 1, 8, 8)).shape
        torch.Size([4, 10])
    """
    channels = [int(width) for width in channels]
    if not channels or any(width < 1 for width in channels):
        raise ValueError(f"channels needs at least one positive width, got {channels}")
    if num_classes < 1 or image_size < 1 or in_channels < 1:
        raise ValueError(
            "num_classes, image_size and in_channels must be positive, got "
            f"{num_classes}, {image_size}, {in_channels}"
        )

    def build() -> nn.Sequential:
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        size, previous = image_size, in_channels
        for index, width in enumerate(channels, start=1):
            layers[f"conv{index}"] = nn.Conv2d(
                previous, width, kernel_size=3, padding=1, bias=not batch_norm
            )
            if batch_norm:
                layers[f"batchnorm{index}"] = nn.BatchNorm2d(width)
            layers[f"relu{index}"] = nn.ReLU()
            if index <= 2 and size >= 2:
                layers[f"pool{index}"] = nn.MaxPool2d(2)
                size //= 2
            previous = width
        layers["flatten"] = nn.Flatten()
        layers["linear"] = nn.Linear(previous * size * size, num_classes)
        return nn.Sequential(layers)

    return _seeded_build(build, seed, device)
