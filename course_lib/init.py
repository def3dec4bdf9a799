r"""Weight initialization from the variance-propagation argument (chapter 7).

For a layer :math:`h_i = \sum_{j=1}^{n_{\text{in}}} w_{ij} x_j` with independent,
zero-mean weights, independent of the inputs,

.. math::
    \mathbb V[h_i] = n_{\text{in}} \, \mathbb V[w] \, \mathbb E[x^2]
    \qquad\text{and, backwards,}\qquad
    \mathbb V\Bigl[\frac{\partial L}{\partial x_j}\Bigr]
    = n_{\text{out}} \, \mathbb V[w] \, \mathbb V\Bigl[\frac{\partial L}{\partial h}\Bigr].

Keeping the scale constant from layer to layer asks for
:math:`\mathbb V[w] = 1/n_{\text{in}}` (LeCun), a compromise
:math:`2/(n_{\text{in}} + n_{\text{out}})` between the forward and backward
conditions (Glorot & Bengio), or :math:`2/n_{\text{in}}` when a ReLU halves
:math:`\mathbb E[x^2]` (He et al.). A distribution with that variance is then
:math:`\mathcal N(0, \sigma^2)` or :math:`\mathcal U(-a, a)` with
:math:`a = \sqrt{3}\,\sigma`, because :math:`\mathbb V[\mathcal U(a, b)] = (b - a)^2 / 12`.

The initializers here take torch's arguments (``gain``, ``a``, ``mode``,
``nonlinearity``, ``generator``) and compute the standard deviation and the
bound with the same floating-point operations as ``torch.nn.init``, so with the
same ``torch.Generator`` they fill a tensor with identical numbers.

==========================  ===========================================  ==============================
course_lib.init             torch.nn.init                                agreement (tests/test_init.py)
==========================  ===========================================  ==============================
:func:`calculate_gain`      ``calculate_gain``                           equal
:func:`fan_in_and_fan_out`  ``_calculate_fan_in_and_fan_out``            equal
:func:`uniform_`            ``uniform_``                                 bit-exact
:func:`normal_`             ``normal_``                                  bit-exact
:func:`trunc_normal_`       ``trunc_normal_``                            bit-exact (both samplers)
:func:`constant_`           ``constant_``                                bit-exact
:func:`ones_`               ``ones_``                                    bit-exact
:func:`zeros_`              ``zeros_``                                   bit-exact
:func:`eye_`                ``eye_``                                     bit-exact
:func:`dirac_`              ``dirac_``                                   bit-exact
:func:`xavier_uniform_`     ``xavier_uniform_``                          bit-exact
:func:`xavier_normal_`      ``xavier_normal_``                           bit-exact
:func:`kaiming_uniform_`    ``kaiming_uniform_``                         bit-exact
:func:`kaiming_normal_`     ``kaiming_normal_``                          bit-exact
:func:`orthogonal_`         ``orthogonal_``                              bit-exact (same QR)
:func:`sparse_`             ``sparse_``                                  bit-exact
:func:`lecun_uniform_`      ``kaiming_uniform_(nonlinearity="linear")``  bit-exact
:func:`lecun_normal_`       ``kaiming_normal_(nonlinearity="linear")``   bit-exact
:func:`initialize_`         (none: a whole model at once)                built on the above
==========================  ===========================================  ==============================

"Bit-exact" means: the same ``torch.Generator`` state gives identical tensors,
for float32 and float64, on every device torch's function supports. Not
supported: torch's ``__torch_function__`` dispatch for tensor subclasses, and its
deprecated aliases without the trailing underscore (``nn.init.uniform`` ...).
Where torch's own behaviour is surprising it is kept and said so: ``sparse_``
draws the zeroed rows from the *global* generator whatever ``generator`` is, and
initializing a tensor with no elements warns (here for every initializer of
this module that draws from a distribution scaled by the fans).
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Literal

import torch
from torch import nn

__all__ = [
    "calculate_gain",
    "fan_in_and_fan_out",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "orthogonal_",
    "sparse_",
    "uniform_variance",
    "uniform_bound",
    "forward_variance",
    "backward_variance",
    "lecun_variance",
    "xavier_variance",
    "kaiming_variance",
    "lecun_std",
    "xavier_std",
    "kaiming_std",
    "lecun_uniform_",
    "lecun_normal_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "initialize_",
]

FanMode = Literal["fan_in", "fan_out"]

_LINEAR_NAMES = {
    "linear",
    "identity",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The gain :math:`g` that scales the weight std for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    ================  ===========================================
    nonlinearity      gain
    ================  ===========================================
    linear, conv*     :math:`1`
    sigmoid           :math:`1`
    tanh              :math:`5/3`
    relu              :math:`\sqrt{2}`
    leaky_relu        :math:`\sqrt{2 / (1 + \text{slope}^2)}`
    selu              :math:`3/4`
    ================  ===========================================

    :math:`g^2` is the factor by which the nonlinearity divides
    :math:`\mathbb E[x^2]` of its (symmetric, zero-mean) input: a ReLU keeps
    half of it, hence :math:`g^2 = 2` (He et al., 2015, eq. 10). The tanh and
    SELU values are torch's empirical choices.

    Args:
        nonlinearity: the name of the function after the layer.
        param: the negative slope of ``"leaky_relu"`` (default 0.01, as torch).

    Returns:
        The gain.
    """
    if nonlinearity in _LINEAR_NAMES or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"negative_slope must be a number, got {param!r}")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def fan_in_and_fan_out(tensor: torch.Tensor) -> tuple[int, int]:
    r"""The fan-in and fan-out of a weight tensor, as torch computes them.

    A ``Linear`` weight has shape ``(out_features, in_features)``; a convolution
    weight ``(out_channels, in_channels / groups, *kernel_size)``. With the
    receptive field :math:`k = \prod \text{kernel\_size}` (1 for ``Linear``),

    .. math:: n_{\text{in}} = \text{shape}[1] \cdot k, \qquad n_{\text{out}} = \text{shape}[0] \cdot k

    Args:
        tensor: a weight with at least 2 dimensions.

    Returns:
        ``(fan_in, fan_out)``.

    Example:
        >>> fan_in_and_fan_out(torch.empty(16, 3, 5, 5))
        (75, 400)
    """
    if tensor.dim() < 2:
        raise ValueError(
            f"fan-in and fan-out need a tensor with at least 2 dimensions, got shape {tuple(tensor.shape)}"
        )
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fan(tensor: torch.Tensor, mode: str) -> int:
    lowered = mode.lower()  # torch accepts "FAN_IN"
    if lowered not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out' (any case), got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return fan_in if lowered == "fan_in" else fan_out


def uniform_variance(a: float, b: float) -> float:
    r"""The variance of :math:`\mathcal U(a, b)`: :math:`(b - a)^2 / 12`."""
    return (b - a) ** 2 / 12


def uniform_bound(std: float) -> float:
    r"""The bound :math:`a` for which :math:`\mathcal U(-a, a)` has standard deviation ``std``.

    From :math:`\mathbb V[\mathcal U(-a, a)] = (2a)^2 / 12 = a^2 / 3`:
    :math:`a = \sqrt{3}\,\sigma`.
    """
    return math.sqrt(3.0) * std


def forward_variance(fan_in: int, weight_var: float, input_var: float) -> float:
    r"""Variance of a layer's pre-activation: :math:`\mathbb V[h] = n_{\text{in}} \mathbb V[w] \mathbb E[x^2]`.

    Assumes independent, zero-mean weights, independent of the inputs (LeCun et
    al., 1998, sec. 4.6; Glorot & Bengio, 2010, eq. 5).

    Args:
        fan_in: number of inputs summed per unit.
        weight_var: :math:`\mathbb V[w]`.
        input_var: :math:`\mathbb E[x^2]`, the inputs' second moment; their
            variance when they are zero-mean (not after a ReLU: there
            :math:`\mathbb E[x^2] = \mathbb V[h_{\text{prev}}]/2`).

    Returns:
        :math:`\mathbb V[h]`.
    """
    return fan_in * weight_var * input_var


def backward_variance(fan_out: int, weight_var: float, grad_var: float) -> float:
    r"""Variance of the gradient reaching a layer's input.

    .. math::
        \mathbb V\Bigl[\frac{\partial L}{\partial x}\Bigr]
        = n_{\text{out}} \, \mathbb V[w] \, \mathbb V\Bigl[\frac{\partial L}{\partial h}\Bigr]

    The backward mirror of :func:`forward_variance` (Glorot & Bengio, 2010,
    eq. 6; same assumptions): each input feeds ``fan_out`` units, and its gradient sums their
    gradients weighted by :math:`w`.

    Args:
        fan_out: number of units each input feeds.
        weight_var: :math:`\mathbb V[w]`.
        grad_var: variance of the gradient with respect to the layer's output.

    Returns:
        The variance of the gradient with respect to the layer's input.
    """
    return fan_out * weight_var * grad_var


def lecun_variance(fan_in: int) -> float:
    r"""LeCun's weight variance :math:`1 / n_{\text{in}}` (LeCun et al., 1998, sec. 4.6).

    It makes :func:`forward_variance` return ``input_var``: the scale of the
    signal is kept from layer to layer in the linear regime.
    """
    return 1.0 / fan_in


def xavier_variance(fan_in: int, fan_out: int) -> float:
    r"""Glorot's weight variance :math:`2 / (n_{\text{in}} + n_{\text{out}})` (Glorot & Bengio, 2010, eq. 12).

    The harmonic compromise between the forward condition
    :math:`n_{\text{in}} \mathbb V[w] = 1` and the backward one
    :math:`n_{\text{out}} \mathbb V[w] = 1`.
    """
    return 2.0 / (fan_in + fan_out)


def kaiming_variance(fan: int, negative_slope: float = 0.0) -> float:
    r"""He's weight variance :math:`2 / ((1 + \alpha^2)\, n)` for a (leaky) ReLU of slope :math:`\alpha`.

    A ReLU keeps half of :math:`\mathbb E[x^2]`, so the weights must double it:
    :math:`\mathbb V[w] = 2/n_{\text{in}}` (He et al., 2015, eq. 10; with
    :math:`\alpha`, eq. 15). Use ``fan = fan_out`` for the backward condition.
    """
    return 2.0 / ((1 + negative_slope**2) * fan)


def lecun_std(fan_in: int, gain: float = 1.0) -> float:
    r"""Standard deviation of LeCun initialization: :math:`g / \sqrt{n_{\text{in}}}`."""
    return gain / math.sqrt(fan_in)


def xavier_std(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    r"""Standard deviation of Glorot initialization: :math:`g \sqrt{2 / (n_{\text{in}} + n_{\text{out}})}`."""
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def kaiming_std(fan: int, gain: float = math.sqrt(2.0)) -> float:
    r"""Standard deviation of He initialization: :math:`g / \sqrt{n}`, with :math:`g = \sqrt 2` for a ReLU."""
    return gain / math.sqrt(fan)


def _has_no_elements(tensor: torch.Tensor) -> bool:
    if tensor.numel() == 0:
        warnings.warn("initializing a tensor with no elements does nothing", stacklevel=3)
        return True
    return False


def _fill_uniform(tensor: torch.Tensor, std: float, generator: torch.Generator | None) -> torch.Tensor:
    bound = uniform_bound(std)
    with torch.no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)


def _fill_normal(tensor: torch.Tensor, std: float, generator: torch.Generator | None) -> torch.Tensor:
    with torch.no_grad():
        return tensor.normal_(0, std, generator=generator)


def uniform_(
    tensor: torch.Tensor, a: float = 0.0, b: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from the uniform distribution :math:`\mathcal U(a, b)`.

    :math:`\mathbb V = (b - a)^2 / 12` (:func:`uniform_variance`). Same numbers as
    ``torch.nn.init.uniform_`` for the same generator state.

    Args:
        tensor: any tensor.
        a: lower bound (default 0).
        b: upper bound (default 1).
        generator: random source on ``tensor``'s device (default: global).

    Returns:
        ``tensor``.
    """
    with torch.no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(
    tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from the normal distribution :math:`\mathcal N(\text{mean}, \text{std}^2)`.

    The same scale for every layer whatever its fans: what :func:`initialize_`
    calls ``"normal(s)"``. Same numbers as ``torch.nn.init.normal_``.

    Args:
        tensor: any tensor.
        mean: the mean (default 0).
        std: the standard deviation (default 1).
        generator: random source on ``tensor``'s device (default: global).

    Returns:
        ``tensor``.
    """
    with torch.no_grad():
        return tensor.normal_(mean, std, generator=generator)


def _normal_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def _standardized_log_density(samples: torch.Tensor, mean: float, std: float, log_peak: float) -> torch.Tensor:
    r"""In place: :math:`-\tfrac12 ((x - \mu)/\sigma)^2 - \log p_{\text{peak}}`, the log of the acceptance probability."""
    return samples.sub_(mean).div_(std).pow_(2).mul_(-0.5).sub_(log_peak)


def trunc_normal_(
    tensor: torch.Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from :math:`\mathcal N(\text{mean}, \text{std}^2)` truncated to :math:`[a, b]`.

    The density is the normal one restricted to :math:`[a, b]` and renormalized by
    the mass :math:`P = \Phi(\frac{b - \mu}{\sigma}) - \Phi(\frac{a - \mu}{\sigma})`
    it keeps. Two rejection samplers, chosen as torch chooses them:

    * :math:`P > 0.3`: draw from the normal and redraw every value outside
      :math:`[a, b]` (bounds rounded to ``tensor``'s dtype) until none is left;
      each round costs one full-size draw.
    * otherwise (most of the mass outside): propose :math:`x \sim \mathcal U(a, b)`
      and accept with probability :math:`\exp(-\tfrac12((x-\mu)/\sigma)^2)/p_{\text{peak}}`,
      :math:`p_{\text{peak}}` the density's largest value on :math:`[a, b]`
      (at :math:`\operatorname{clip}(\mu, a, b)`), until every entry is accepted.

    The variance is *smaller* than :math:`\sigma^2` (by a factor 0.774 for the
    default :math:`\pm 2\sigma`), which is why ViT-style code asks for
    ``std=0.02`` and gets a little less. Same numbers as
    ``torch.nn.init.trunc_normal_`` for the same generator state; like torch it
    warns when the mean is more than 2 std outside :math:`[a, b]`.

    Args:
        tensor: any tensor.
        mean: :math:`\mu` of the underlying normal (default 0).
        std: :math:`\sigma` of the underlying normal (default 1).
        a: lower cut-off, in the units of the values, not of std (default -2).
        b: upper cut-off (default 2).
        generator: random source on ``tensor``'s device (default: global).

    Returns:
        ``tensor``.
    """
    if tensor.is_meta:
        return tensor
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in trunc_normal_: the samples may not follow "
            "the truncated normal",
            stacklevel=2,
        )
    with torch.no_grad():
        kept_mass = _normal_cdf((b - mean) / std) - _normal_cdf((a - mean) / std)
        if kept_mass > 0.3:
            low, high = (tensor.new_tensor(bound, device="cpu").item() for bound in (a, b))
            samples = tensor.normal_(mean, std, generator=generator)
            outside = (samples < low) | (samples > high)
            while outside.any():
                fresh = torch.empty_like(samples).normal_(mean, std, generator=generator)
                samples = torch.where(outside, fresh, samples)
                outside = (samples < low) | (samples > high)
            if samples is not tensor:
                tensor.copy_(samples)
            return tensor
        peak = max(a, min(mean, b))
        log_peak = -0.5 * ((peak - mean) / std) ** 2
        proposals, coins = torch.empty_like(tensor), torch.empty_like(tensor)
        tensor.uniform_(a, b, generator=generator)
        log_acceptance = _standardized_log_density(proposals.copy_(tensor), mean, std, log_peak)
        rejected = coins.uniform_(generator=generator).log_().gt(log_acceptance)
        if not rejected.any():
            return tensor
        samples = tensor
        while True:
            proposals.uniform_(a, b, generator=generator)
            samples = torch.where(rejected, proposals, samples)
            log_acceptance = _standardized_log_density(proposals, mean, std, log_peak)
            redraw = coins.uniform_(generator=generator).log_().gt(log_acceptance)
            rejected = torch.where(rejected, redraw, rejected)
            if not rejected.any():
                break
        tensor.copy_(samples)
    return tensor


def constant_(tensor: torch.Tensor, val: float) -> torch.Tensor:
    """Fill ``tensor`` in place with ``val``, as ``torch.nn.init.constant_``.

    All weights equal never breaks the symmetry between units (chapter 7): use
    it for biases and normalization parameters, not for weights.
    """
    with torch.no_grad():
        return tensor.fill_(val)


def ones_(tensor: torch.Tensor) -> torch.Tensor:
    """Fill ``tensor`` in place with 1 (a normalization layer's ``weight``), as ``torch.nn.init.ones_``."""
    return constant_(tensor, 1.0)


def zeros_(tensor: torch.Tensor) -> torch.Tensor:
    """Fill ``tensor`` in place with 0 (biases), as ``torch.nn.init.zeros_``."""
    with torch.no_grad():
        return tensor.zero_()


def eye_(tensor: torch.Tensor) -> torch.Tensor:
    r"""Fill a 2-D ``tensor`` in place with the identity :math:`w_{ij} = [i = j]`, as ``torch.nn.init.eye_``.

    A square ``Linear`` layer so initialized passes its input through unchanged;
    a rectangular one keeps the first :math:`\min(n_{\text{in}}, n_{\text{out}})`
    coordinates. Le et al. (2015) start ReLU recurrent networks this way.

    Raises:
        ValueError: if ``tensor`` is not 2-D.
    """
    if tensor.dim() != 2:
        raise ValueError(f"eye_ needs a tensor with 2 dimensions, got shape {tuple(tensor.shape)}")
    with torch.no_grad():
        tensor.zero_()
        tensor.diagonal().fill_(1)
    return tensor


def dirac_(tensor: torch.Tensor, groups: int = 1) -> torch.Tensor:
    r"""Fill a convolution weight in place with the Dirac delta: the convolution passes its input through.

    For weight shape ``(out, in, *kernel)`` split in ``groups`` blocks of
    ``out / groups`` output channels, output channel :math:`d` of each block gets a
    single 1 at input channel :math:`d` and the kernel's centre
    (``kernel_size // 2`` in each dimension); every other entry is 0. With
    ``padding`` keeping the size, the layer is the identity on the first
    :math:`\min(\text{out}/\text{groups}, \text{in})` channels. As
    ``torch.nn.init.dirac_``.

    Args:
        tensor: a 3-, 4- or 5-D weight (``Conv1d``, ``Conv2d``, ``Conv3d``).
        groups: the convolution's groups (default 1).

    Returns:
        ``tensor``.

    Raises:
        ValueError: on another number of dimensions, or ``out`` not divisible by ``groups``.
    """
    if tensor.dim() not in (3, 4, 5):
        raise ValueError(f"dirac_ needs a tensor with 3, 4 or 5 dimensions, got shape {tuple(tensor.shape)}")
    if tensor.shape[0] % groups != 0:
        raise ValueError(f"dim 0 ({tensor.shape[0]}) must be divisible by groups ({groups})")
    if tensor.is_meta:
        return tensor
    out_per_group = tensor.shape[0] // groups
    centre = tuple(size // 2 for size in tensor.shape[2:])
    with torch.no_grad():
        tensor.zero_()
        for group in range(groups):
            for channel in range(min(out_per_group, tensor.shape[1])):
                tensor[(group * out_per_group + channel, channel, *centre)] = 1
    return tensor


def orthogonal_(tensor: torch.Tensor, gain: float = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Fill ``tensor`` in place with a (semi-)orthogonal matrix drawn uniformly, times ``gain``.

    Viewed as a matrix :math:`W` of ``rows = shape[0]`` by ``cols = numel / rows``,
    the result has orthonormal rows (if rows :math:`\le` cols) or columns, so
    :math:`\|W x\| = \text{gain}\,\|x\|` along them: every singular value is
    ``gain``, the property Saxe et al. (2014) show keeps deep linear networks
    trainable. Drawn as :math:`A = QR` of a Gaussian matrix, with the columns of
    :math:`Q` multiplied by :math:`\operatorname{sign}(R_{ii})` so that the result
    is uniform over orthogonal matrices (Mezzadri, 2007); the QR runs on the
    transposed matrix when it is wide. Same numbers as
    ``torch.nn.init.orthogonal_`` for the same generator state.

    Args:
        tensor: a tensor with at least 2 dimensions.
        gain: the scale of every singular value (default 1).
        generator: random source on ``tensor``'s device (default: global).

    Returns:
        ``tensor``.

    Example:
        >>> w = orthogonal_(torch.empty(3, 5))
        >>> torch.allclose(w @ w.T, torch.eye(3), atol=1e-6)
        True
    """
    if tensor.dim() < 2:
        raise ValueError(f"orthogonal_ needs a tensor with at least 2 dimensions, got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0 or tensor.is_meta:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    gaussian = tensor.new_empty((rows, cols)).normal_(0, 1, generator=generator)
    wide = rows < cols
    if wide:
        gaussian = gaussian.t()
    q, r = torch.linalg.qr(gaussian)
    q *= torch.diag(r, 0).sign()
    if wide:
        q = q.t()
    with torch.no_grad():
        tensor.view_as(q).copy_(q)
        tensor.mul_(gain)
    return tensor


def sparse_(
    tensor: torch.Tensor, sparsity: float, std: float = 0.01, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Fill a 2-D ``tensor`` in place from :math:`\mathcal N(0, \text{std}^2)`, then zero a fraction of each column.

    In every column :math:`\lceil \text{sparsity} \cdot \text{rows} \rceil` entries,
    at random rows, are set to 0 (Martens, 2010, sec. 5, "sparse
    initialization": each unit sees only a few inputs, so its scale does not
    depend on the fan-in). Same numbers as ``torch.nn.init.sparse_``, including
    torch's choice of drawing the zeroed rows from the *global* generator:
    ``generator`` only drives the normal values, so seed both
    (``torch.manual_seed``) for a reproducible result.

    Args:
        tensor: a 2-D weight.
        sparsity: the fraction of each column set to zero, in ``[0, 1]``.
        std: standard deviation of the non-zero values (default 0.01).
        generator: random source of the values, on ``tensor``'s device (default: global).

    Returns:
        ``tensor``.
    """
    if tensor.dim() != 2:
        raise ValueError(f"sparse_ needs a tensor with 2 dimensions, got shape {tuple(tensor.shape)}")
    if tensor.is_meta:
        return tensor
    rows, cols = tensor.shape
    zeros_per_column = math.ceil(sparsity * rows)
    with torch.no_grad():
        tensor.normal_(0, std, generator=generator)
        for column in range(cols):
            tensor[torch.randperm(rows)[:zeros_per_column], column] = 0
    return tensor


def lecun_uniform_(
    tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from LeCun's uniform distribution :math:`\mathcal U(-a, a)`.

    .. math:: a = \sqrt{3} \cdot \frac{g}{\sqrt{n_{\text{in}}}} = g \sqrt{3 / n_{\text{in}}}

    LeCun et al. (1998, "Efficient BackProp", sec. 4.6). torch has no
    ``lecun_*``; the same numbers come from
    ``torch.nn.init.kaiming_uniform_(tensor, nonlinearity="linear")``. (Torch's
    *default* ``Linear`` init, ``kaiming_uniform_(a=math.sqrt(5))``, is
    :math:`\mathcal U(-1/\sqrt{n_{\text{in}}}, 1/\sqrt{n_{\text{in}}})`, a third
    of LeCun's variance.)

    Args:
        tensor: the weight to fill (at least 2-D).
        gain: scale of the std (default 1).
        generator: random source (default: torch's global one); it must live
            on ``tensor``'s device.

    Returns:
        ``tensor``.
    """
    if _has_no_elements(tensor):
        return tensor
    return _fill_uniform(tensor, lecun_std(_fan(tensor, "fan_in"), gain), generator)


def lecun_normal_(
    tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from LeCun's normal distribution :math:`\mathcal N(0, g^2 / n_{\text{in}})`.

    LeCun et al. (1998, sec. 4.6); the initialization SELU networks need
    (Klambauer et al., 2017). Same numbers as
    ``torch.nn.init.kaiming_normal_(tensor, nonlinearity="linear")``.

    Args:
        tensor: the weight to fill (at least 2-D).
        gain: scale of the std (default 1).
        generator: random source on ``tensor``'s device (default: global).

    Returns:
        ``tensor``.
    """
    if _has_no_elements(tensor):
        return tensor
    return _fill_normal(tensor, lecun_std(_fan(tensor, "fan_in"), gain), generator)


def xavier_uniform_(
    tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from Glorot's uniform distribution :math:`\mathcal U(-a, a)`.

    .. math:: a = g \sqrt{\frac{6}{n_{\text{in}} + n_{\text{out}}}}
              = \sqrt 3 \cdot g \sqrt{\frac{2}{n_{\text{in}} + n_{\text{out}}}}

    Glorot & Bengio (2010, eq. 16, "normalized initialization"). Identical to
    ``torch.nn.init.xavier_uniform_`` for the same generator state.

    Args:
        tensor: the weight to fill (at least 2-D).
        gain: scale of the std (default 1; ``calculate_gain("tanh")`` for tanh).
        generator: random source on ``tensor``'s device (default: global).

    Returns:
        ``tensor``.
    """
    if _has_no_elements(tensor):
        return tensor
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return _fill_uniform(tensor, xavier_std(fan_in, fan_out, gain), generator)


def xavier_normal_(
    tensor: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from Glorot's normal distribution.

    .. math:: w \sim \mathcal N\Bigl(0, \; g^2 \frac{2}{n_{\text{in}} + n_{\text{out}}}\Bigr)

    Glorot & Bengio (2010). Identical to ``torch.nn.init.xavier_normal_`` for
    the same generator state.

    Args:
        tensor: the weight to fill (at least 2-D).
        gain: scale of the std (default 1).
        generator: random source on ``tensor``'s device (default: global).

    Returns:
        ``tensor``.
    """
    if _has_no_elements(tensor):
        return tensor
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return _fill_normal(tensor, xavier_std(fan_in, fan_out, gain), generator)


def kaiming_uniform_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: FanMode = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from He's uniform distribution :math:`\mathcal U(-b, b)`.

    .. math:: b = \sqrt{3} \cdot \frac{g}{\sqrt{n}}, \qquad
              g = \texttt{calculate\_gain(nonlinearity, a)}, \quad n = n_{\text{in}} \text{ or } n_{\text{out}}

    He et al. (2015, sec. 2.2). Same arguments and defaults as
    ``torch.nn.init.kaiming_uniform_`` (``"leaky_relu"`` with ``a=0`` is a ReLU,
    gain :math:`\sqrt 2`) and identical numbers for the same generator state.

    Args:
        tensor: the weight to fill (at least 2-D).
        a: negative slope of the leaky ReLU after the layer (default 0).
        mode: ``"fan_in"`` (default) keeps the forward variance, ``"fan_out"``
            the backward one.
        nonlinearity: name for :func:`calculate_gain` (default ``"leaky_relu"``).
        generator: random source on ``tensor``'s device (default: global).

    Returns:
        ``tensor``.
    """
    if _has_no_elements(tensor):
        return tensor
    std = kaiming_std(_fan(tensor, mode), calculate_gain(nonlinearity, a))
    return _fill_uniform(tensor, std, generator)


def kaiming_normal_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: FanMode = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Fill ``tensor`` in place from He's normal distribution :math:`\mathcal N(0, g^2 / n)`.

    He et al. (2015, eq. 10). Same arguments and defaults as
    ``torch.nn.init.kaiming_normal_``, identical numbers for the same generator
    state.

    Args:
        tensor: the weight to fill (at least 2-D).
        a: negative slope of the leaky ReLU after the layer (default 0).
        mode: ``"fan_in"`` (default) or ``"fan_out"``.
        nonlinearity: name for :func:`calculate_gain` (default ``"leaky_relu"``).
        generator: random source on ``tensor``'s device (default: global).

    Returns:
        ``tensor``.
    """
    if _has_no_elements(tensor):
        return tensor
    std = kaiming_std(_fan(tensor, mode), calculate_gain(nonlinearity, a))
    return _fill_normal(tensor, std, generator)


_INITIALIZED_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_SCHEME_WITH_VALUE = re.compile(r"^\s*(\w+)\s*\(\s*([^()]*?)\s*\)\s*$")


def initialize_(
    model: nn.Module,
    scheme: str,
    nonlinearity: str = "relu",
    *,
    distribution: Literal["normal", "uniform"] = "normal",
    negative_slope: float | None = None,
    mode: FanMode = "fan_in",
    gain: float | None = None,
    std: float | None = None,
    value: float | None = None,
    bias: float | None = 0.0,
    generator: torch.Generator | None = None,
) -> nn.Module:
    r"""Initialize the weights of every ``Linear`` and ``Conv1d/2d/3d`` layer of ``model`` in place.

    Schemes (the number in parentheses may also be passed as ``std=`` or ``value=``):

    ====================  =========================================================
    ``"zeros"``           all weights 0 (every unit stays identical: no learning)
    ``"constant(c)"``     all weights ``c`` (symmetry is never broken either)
    ``"normal(s)"``       :math:`\mathcal N(0, s^2)`, the same scale for every layer
    ``"lecun"``           :math:`\mathbb V[w] = g^2 / n_{\text{in}}`, :math:`g = 1` by default
    ``"xavier"``          :math:`\mathbb V[w] = g^2 \cdot 2 / (n_{\text{in}} + n_{\text{out}})`, :math:`g = 1` by default
    ``"kaiming"``         :math:`\mathbb V[w] = g^2 / n`, :math:`g` = ``calculate_gain(nonlinearity)``
    ``"default"``         each layer's own ``reset_parameters()`` (torch's default, global RNG)
    ====================  =========================================================

    ``lecun``, ``xavier`` and ``kaiming`` draw from ``distribution`` (normal or
    uniform with the same variance). Only ``kaiming`` derives its gain from
    ``nonlinearity``, as He et al. do; LeCun and Glorot are the papers' gain-1
    rules unless ``gain`` is given. Biases are set to ``bias`` (default 0;
    ``None`` leaves them alone). With ``"default"`` the biases are torch's too.

    Args:
        model: the network; its ``Linear`` and ``Conv*d`` layers are changed.
        scheme: one of the names above.
        nonlinearity: the activation after the layers, for the kaiming gain
            (default ``"relu"``).
        distribution: ``"normal"`` (default) or ``"uniform"``.
        negative_slope: slope for ``nonlinearity="leaky_relu"`` (default 0.01).
        mode: ``"fan_in"`` (default) or ``"fan_out"``, for ``"kaiming"``.
        gain: override the gain of ``lecun``/``xavier``/``kaiming``.
        std: the std of ``"normal"``.
        value: the value of ``"constant"``.
        bias: the value biases get (default 0); ``None`` keeps them.
        generator: random source on the model's device (default: global).

    Returns:
        ``model``.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        >>> _ = initialize_(net, "kaiming", nonlinearity="relu")
        >>> _ = initialize_(net, "normal(0.01)")
    """
    match = _SCHEME_WITH_VALUE.match(scheme)
    name = (match.group(1) if match else scheme).strip().lower()
    if match:
        number = float(match.group(2))
        if name == "normal":
            std = number
        elif name == "constant":
            value = number
        else:
            raise ValueError(f"scheme {name!r} takes no number, got {scheme!r}")
    if distribution not in ("normal", "uniform"):
        raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
    known = ("zeros", "constant", "normal", "lecun", "xavier", "kaiming", "default")
    if name not in known:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {known}")
    if name == "normal" and std is None:
        raise ValueError('scheme "normal" needs a std: "normal(0.01)" or std=0.01')
    if name == "constant" and value is None:
        raise ValueError('scheme "constant" needs a value: "constant(0.5)" or value=0.5')

    uniform = distribution == "uniform"
    for layer in model.modules():
        if not isinstance(layer, _INITIALIZED_LAYERS):
            continue
        weight = layer.weight
        if name == "default":
            layer.reset_parameters()
            continue
        if name == "zeros":
            with torch.no_grad():
                weight.zero_()
        elif name == "constant":
            with torch.no_grad():
                weight.fill_(value)
        elif name == "normal":
            _fill_normal(weight, std, generator)
        elif name == "lecun":
            fill = lecun_uniform_ if uniform else lecun_normal_
            fill(weight, 1.0 if gain is None else gain, generator)
        elif name == "xavier":
            fill = xavier_uniform_ if uniform else xavier_normal_
            fill(weight, 1.0 if gain is None else gain, generator)
        else:
            layer_gain = calculate_gain(nonlinearity, negative_slope) if gain is None else gain
            fill_std = kaiming_std(_fan(weight, mode), layer_gain)
            (_fill_uniform if uniform else _fill_normal)(weight, fill_std, generator)
        if bias is not None and layer.bias is not None:
            with torch.no_grad():
                layer.bias.fill_(bias)
    return model
