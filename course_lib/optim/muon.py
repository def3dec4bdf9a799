r"""Muon: momentum, then the update of each hidden weight matrix orthogonalized (chapter 9).

A weight matrix's update :math:`B = U\Sigma V^\top` is replaced by (approximately)
:math:`UV^\top`: the same singular directions, every singular value pushed towards 1,
so that no direction of the layer's input-output map is updated much more than the
others. :func:`newton_schulz` computes it with a few matrix products in bfloat16;
:func:`muon_update` is the rule for one matrix; :class:`Muon` is the drop-in for
``torch.optim.Muon``. Both follow torch 2.13 operation by operation (bit-identical
results), including its bfloat16 arithmetic.

Muon is meant for the 2-D weights of hidden layers only. Biases, normalization
parameters, embeddings and the output layer stay with AdamW: :func:`muon_param_groups`
splits a model's parameters that way, :class:`MuonAdamW` runs both kinds of group in
one optimizer, and :func:`conv_kernels_as_matrices_` stores convolution kernels as the
matrices Muon orthogonalizes.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.optim.optimizer import ParamsT

from ._base import ParamGroup, ParamState, PerTensorOptimizer, as_scalar, check_tensor_lr
from .rules import adamw_update
from .weight_decay import decoupled_weight_decay_

__all__ = [
    "NEWTON_SCHULZ_COEFFICIENTS",
    "newton_schulz",
    "muon_lr",
    "muon_update",
    "Muon",
    "muon_param_groups",
    "conv_kernels_as_matrices_",
    "mark_for_muon_",
    "MuonAdamW",
]

NEWTON_SCHULZ_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
"""torch's (and Keller Jordan's) quintic coefficients :math:`(a, b, c)`."""


def newton_schulz(
    matrix: torch.Tensor,
    steps: int = 5,
    coefficients: tuple[float, float, float] = NEWTON_SCHULZ_COEFFICIENTS,
    eps: float = 1e-7,
    dtype: torch.dtype | None = torch.bfloat16,
) -> torch.Tensor:
    r"""Approximately orthogonalize a matrix: :math:`U\Sigma V^\top \mapsto U S' V^\top`, :math:`S' \approx I`.

    .. math::
        X_0 = \frac{M}{\max(\lVert M\rVert_F, \varepsilon)}, \qquad
        X_{k+1} = a X_k + \big(b A_k + c A_k^2\big) X_k, \quad A_k = X_k X_k^\top .

    Each iteration maps every singular value :math:`\sigma` of :math:`X_k` to
    :math:`p(\sigma) = a\sigma + b\sigma^3 + c\sigma^5` and leaves the singular vectors
    alone. Dividing by the Frobenius norm first puts every singular value in
    :math:`(0, 1]` (the spectral norm is at most the Frobenius norm), where
    :math:`p` pushes them towards 1: the coefficients make :math:`p` steep at 0
    (:math:`a = 3.4445`) at the price of not converging exactly, so after 5 steps the
    singular values lie in about :math:`[0.68, 1.2]` rather than at 1 (a lone singular
    value goes :math:`1 \to 0.70 \to 1.11 \to 0.72 \to 1.09 \to 0.70`); one smaller
    than about :math:`10^{-3}\lVert M\rVert_F` is multiplied by about :math:`a^5 \approx 490`
    but stays below the band. A wide matrix is iterated as it is, a tall one transposed
    (so :math:`A_k` is the smaller Gram matrix).

    The iteration runs in bfloat16 (torch's choice: it is cheap, and the result is
    only approximately orthogonal anyway) and returns bfloat16, unless ``dtype`` says
    otherwise (None: the input's dtype). As in torch, an input already of that dtype
    is normalized in place.

    Args:
        matrix: a 2-D tensor :math:`M`.
        steps: number of iterations, fewer than 100 (default 5).
        coefficients: :math:`(a, b, c)` (default torch's).
        eps: floor :math:`\varepsilon` of the norm (default 1e-7).
        dtype: the dtype of the arithmetic (default bfloat16, torch's; None: ``matrix.dtype``).

    Returns:
        A tensor of that dtype shaped like ``matrix``.

    Raises:
        ValueError: ``matrix`` is not 2-D, ``steps >= 100``, or not three coefficients.

    Reference:
        Jordan et al. (2024), "Muon: An optimizer for hidden layers in neural networks";
        Bernstein & Newhouse (2024), "Old optimizer, new norm".

    Example:
        >>> m = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
        >>> s = torch.linalg.svdvals(newton_schulz(m).float())
        >>> bool(((s > 0.6) & (s < 1.3)).all())
        True
    """
    if steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if matrix.dim() != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = coefficients
    x = matrix.to(matrix.dtype if dtype is None else dtype)
    tall = matrix.size(0) > matrix.size(1)
    if tall:
        x = x.T
    x.div_(x.norm().clamp(min=eps))
    for _ in range(steps):
        gram = x @ x.T
        polynomial = torch.addmm(gram, gram, gram, beta=b, alpha=c)  # b A + c A^2
        x = torch.addmm(x, polynomial, x, beta=a)  # a X + (b A + c A^2) X
    return x.T if tall else x


def muon_lr(lr: float, adjust_lr_fn: str | None, shape: torch.Size | tuple[int, ...]) -> float:
    r"""The learning rate Muon applies to a matrix of shape :math:`(A, B)`.

    An orthogonalized :math:`A \times B` update has RMS about :math:`1/\sqrt{\max(A, B)}`,
    which depends on the shape; the adjustment evens that out:

    * ``None`` or ``"original"`` (Jordan): :math:`\eta\sqrt{\max(1, A/B)}`;
    * ``"match_rms_adamw"`` (Liu et al. 2025, Moonshot): :math:`0.2\,\eta\sqrt{\max(A, B)}`,
      an update RMS of about 0.2 like AdamW's, so that AdamW's lr and decay carry over.

    Args:
        lr: the group's learning rate :math:`\eta`.
        adjust_lr_fn: ``None``, ``"original"`` or ``"match_rms_adamw"``.
        shape: the parameter's shape.

    Returns:
        The adjusted learning rate.
    """
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = 1.0
    return lr * ratio


def muon_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict[str, torch.Tensor],
    *,
    lr: float = 1e-3,
    weight_decay: float = 0.1,
    momentum: float = 0.95,
    nesterov: bool = True,
    ns_coefficients: tuple[float, float, float] = NEWTON_SCHULZ_COEFFICIENTS,
    eps: float = 1e-7,
    ns_steps: int = 5,
    adjust_lr_fn: str | None = None,
) -> None:
    r"""One Muon step on one weight matrix, torch's formulation.

    .. math::
        \begin{aligned}
        B_t &= \mu B_{t-1} + (1-\mu)\, g_t \\
        \tilde B_t &= \mu B_t + (1-\mu)\, g_t \quad\text{(Nesterov; else } \tilde B_t = B_t) \\
        O_t &= \mathrm{NS}_k(\tilde B_t) \approx U V^\top
            \quad\text{where } \tilde B_t = U\Sigma V^\top \\
        \theta_t &= (1 - \eta\lambda)\,\theta_{t-1} - \eta'\, O_t ,
            \qquad \eta' = \text{muon\_lr}(\eta, \text{shape})
        \end{aligned}

    The buffer is an exponential *average* (torch's docstring writes the sum
    :math:`\mu B + g`; the two differ by the factor :math:`1 - \mu`, which the
    normalization inside :func:`newton_schulz` removes). The decay is decoupled and
    uses the unadjusted :math:`\eta` (torch's docstring calls it an L2 penalty).

    Args:
        param: a 2-D parameter :math:`\theta`, updated in place.
        grad: its gradient; not modified.
        state: ``momentum_buffer`` (:math:`B`); created if missing.
        lr: learning rate :math:`\eta` (default 1e-3).
        weight_decay: decoupled decay :math:`\lambda` (default 0.1).
        momentum: :math:`\mu` (default 0.95).
        nesterov: use the look-ahead :math:`\tilde B_t` (default True).
        ns_coefficients: :math:`(a, b, c)` of :func:`newton_schulz`.
        eps: floor of the norm in :func:`newton_schulz` (default 1e-7).
        ns_steps: Newton-Schulz iterations (default 5).
        adjust_lr_fn: see :func:`muon_lr` (default None: ``"original"``).

    Returns:
        None.

    Raises:
        ValueError: ``grad`` is not 2-D.

    Reference:
        Jordan et al. (2024), https://kellerjordan.github.io/posts/muon/; Liu et al.
        (2025), "Muon is Scalable for LLM Training".
    """
    if grad.dim() != 2:
        raise ValueError("Param gradient must be a 2D matrix")
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = torch.zeros_like(grad)
    buffer = state["momentum_buffer"]
    buffer.lerp_(grad, 1 - momentum)
    direction = grad.lerp(buffer, momentum) if nesterov else buffer
    orthogonalized = newton_schulz(direction, ns_steps, ns_coefficients, eps)
    adjusted_lr = muon_lr(lr, adjust_lr_fn, param.shape)
    decoupled_weight_decay_(param, lr, weight_decay)
    param.add_(orthogonalized, alpha=-adjusted_lr)


class Muon(PerTensorOptimizer):
    r"""Muon, a drop-in for ``torch.optim.Muon``: momentum, then Newton-Schulz orthogonalization.

    Each step applies :func:`muon_update` to every parameter with a gradient; every
    parameter must be a 2-D matrix (torch checks this at construction). State:
    ``momentum_buffer``, one tensor per parameter. Give Muon the hidden layers'
    weight matrices and AdamW everything else (see :func:`muon_param_groups`).

    Args:
        params: iterable of 2-D parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 1e-3).
        weight_decay: decoupled decay :math:`\lambda` (default 0.1).
        momentum: :math:`\mu` (default 0.95).
        nesterov: Nesterov look-ahead (default True).
        ns_coefficients: :math:`(a, b, c)` of the iteration (default (3.4445, -4.775, 2.0315)).
        eps: floor of the norm before the iteration (default 1e-7).
        ns_steps: Newton-Schulz iterations (default 5).
        adjust_lr_fn: ``None``/``"original"`` or ``"match_rms_adamw"`` (see :func:`muon_lr`).

    Reference:
        Jordan et al. (2024); Liu et al. (2025).

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> optimizer = Muon([net[0].weight], lr=0.02)
    """

    torch_refuses_complex = True

    legacy_group_defaults = {}
    scalar_state_keys = ()

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NEWTON_SCHULZ_COEFFICIENTS,
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = {
            "lr": lr,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "nesterov": nesterov,
            "ns_coefficients": ns_coefficients,
            "eps": eps,
            "ns_steps": ns_steps,
            "adjust_lr_fn": adjust_lr_fn,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                if param.ndim != 2:
                    raise ValueError(
                        f"Muon only supports 2D parameters whereas we found a parameter with size: {param.size()}"
                    )

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        muon_update(
            param, grad, state,
            lr=as_scalar(group["lr"]),
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            nesterov=group["nesterov"],
            ns_coefficients=group["ns_coefficients"],
            eps=group["eps"],
            ns_steps=group["ns_steps"],
            adjust_lr_fn=group["adjust_lr_fn"],
        )


_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _hidden_weight(module: nn.Module) -> torch.Tensor:
    """The tensor an optimizer sees for a layer's weight: the stored matrix if it is reparametrized."""
    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight.original
    return module.weight


def muon_param_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split a model's trainable parameters into those for Muon and those for AdamW.

    Muon gets the weight matrix of every hidden layer: each ``nn.Linear`` except the
    last one (the output layer, whose rows are class scores rather than hidden
    features) and each convolution whose kernel is stored as a matrix
    (:func:`conv_kernels_as_matrices_`). Everything else goes to AdamW: biases,
    normalization scales and shifts, embeddings (a table of vectors looked up one row
    at a time, not a linear map), the output layer, and 4-D kernels (torch's Muon
    takes matrices only).

    Args:
        model: the network.

    Returns:
        ``(muon_params, adamw_params)``, each in the order of ``model.parameters()``.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> muon, adamw = muon_param_groups(net)
        >>> [tuple(p.shape) for p in muon], [tuple(p.shape) for p in adamw]
        ([(8, 4)], [(8,), (2, 8), (2,)])
    """
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    output = linears[-1] if linears else None
    hidden = {id(_hidden_weight(m)) for m in model.modules()
              if isinstance(m, (nn.Linear, *_CONVOLUTIONS)) and m is not output}
    muon, adamw = [], []
    for param in model.parameters():
        if param.requires_grad:
            (muon if id(param) in hidden and param.ndim == 2 else adamw).append(param)
    return muon, adamw


class _KernelFromMatrix(nn.Module):
    """A convolution kernel kept as an ``(out, in * k1 * k2...)`` matrix and reshaped for use."""

    def __init__(self, shape: torch.Size) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, matrix: torch.Tensor) -> torch.Tensor:
        return matrix.reshape(self.shape)

    def right_inverse(self, kernel: torch.Tensor) -> torch.Tensor:
        return kernel.reshape(kernel.shape[0], -1)


def conv_kernels_as_matrices_(model: nn.Module) -> nn.Module:
    r"""Store every convolution kernel as the matrix it multiplies patches by, in place.

    A ``Conv2d`` kernel of shape :math:`(c_	ext{out}, c_	ext{in}, k, k)` maps each
    :math:`c_	ext{in} k^2` input patch to :math:`c_	ext{out}` channels: it *is* a
    :math:`c_	ext{out} 	imes c_	ext{in} k^2` matrix, and that is the matrix Muon
    orthogonalizes (as Keller Jordan's CIFAR-10 runs do). With
    ``torch.nn.utils.parametrize`` the parameter becomes that matrix
    (``conv.parametrizations.weight.original``) and ``conv.weight`` its reshaped view,
    so any optimizer, torch's ``Muon`` included, sees a 2-D tensor; the network
    computes exactly what it computed before.

    Args:
        model: the network, modified in place.

    Returns:
        ``model``.

    Example:
        >>> conv = torch.nn.Conv2d(3, 8, 3)
        >>> [tuple(p.shape) for p in conv_kernels_as_matrices_(conv).parameters()]
        [(8,), (8, 27)]
    """
    for module in list(model.modules()):
        if isinstance(module, _CONVOLUTIONS) and not parametrize.is_parametrized(module, "weight"):
            parametrize.register_parametrization(module, "weight", _KernelFromMatrix(module.weight.shape))
    return model


def mark_for_muon_(model: nn.Module) -> nn.Module:
    """Mark each trainable parameter of ``model`` with ``param.use_muon`` (True for Muon's, see
    :func:`muon_param_groups`), so that :class:`MuonAdamW` can split a flat ``model.parameters()``.

    For training loops that build the optimizer from ``model.parameters()`` alone, such as
    :func:`course_lib.workloads.train`.

    Returns:
        ``model``.
    """
    muon, adamw = muon_param_groups(model)
    for param in muon:
        param.use_muon = True
    for param in adamw:
        param.use_muon = False
    return model


class MuonAdamW(PerTensorOptimizer):
    r"""One optimizer that runs Muon on some param groups and AdamW on the others.

    Every group says which with ``use_muon``: Muon groups take :func:`muon_update`
    (``lr``, ``momentum``, ``nesterov``, ``weight_decay``, ``ns_steps``, ...), AdamW groups
    :func:`~course_lib.optim.rules.adamw_update` (``lr``, ``betas``, ``eps``,
    ``weight_decay``). One ``step()``, one ``zero_grad()``, one ``state_dict()``, and a
    learning-rate scheduler scales both kinds of group alike.
    :func:`muon_param_groups` makes the split. The same design as Keller Jordan's
    ``MuonWithAuxAdam``; the defaults of each kind are torch's (``torch.optim.Muon``,
    ``torch.optim.AdamW``).

    Args:
        params: param-group dicts, each with ``"use_muon"``: True or False; or parameters
            marked by :func:`mark_for_muon_`, split into one group of each kind.
        lr: Muon's learning rate (default 1e-3).
        adamw_lr: the AdamW groups' learning rate (default 1e-3).
        weight_decay: decoupled decay of both kinds (default 0.1 for Muon groups; AdamW
            groups default to 1e-2 unless a group sets its own).
        momentum, nesterov, ns_coefficients, eps, ns_steps, adjust_lr_fn: Muon's.
        betas, adamw_eps: AdamW's :math:`(eta_1, eta_2)` and :math:`\epsilon`.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> muon, adamw = muon_param_groups(net)
        >>> optimizer = MuonAdamW([{"params": muon, "use_muon": True},
        ...                        {"params": adamw, "use_muon": False, "lr": 3e-3}], lr=0.02)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NEWTON_SCHULZ_COEFFICIENTS,
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
        *,
        adamw_lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        adamw_eps: float = 1e-8,
        adamw_weight_decay: float = 1e-2,
    ) -> None:
        self._adamw_defaults = {"lr": adamw_lr, "weight_decay": adamw_weight_decay}
        defaults = {
            "lr": lr, "weight_decay": weight_decay, "momentum": momentum, "nesterov": nesterov,
            "ns_coefficients": ns_coefficients, "eps": eps, "ns_steps": ns_steps, "adjust_lr_fn": adjust_lr_fn,
            "betas": betas, "adamw_eps": adamw_eps,
        }
        super().__init__(_split_marked(params), defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if not isinstance(param_group, dict) or "use_muon" not in param_group:
            raise ValueError("MuonAdamW needs param groups that say use_muon=True or use_muon=False")
        if not param_group["use_muon"]:
            param_group = {**self._adamw_defaults, **param_group}
        super().add_param_group(param_group)
        if param_group["use_muon"]:
            for param in self.param_groups[-1]["params"]:
                if param.ndim != 2:
                    raise ValueError(f"a Muon group holds a parameter of shape {tuple(param.shape)}; "
                                     "Muon takes matrices only (put it in a use_muon=False group)")

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        if group["use_muon"]:
            muon_update(
                param, grad, state, lr=as_scalar(group["lr"]), weight_decay=group["weight_decay"],
                momentum=group["momentum"], nesterov=group["nesterov"], ns_coefficients=group["ns_coefficients"],
                eps=group["eps"], ns_steps=group["ns_steps"], adjust_lr_fn=group["adjust_lr_fn"],
            )
        else:
            beta1, beta2 = group["betas"]
            adamw_update(param, grad, state, lr=as_scalar(group["lr"]), beta1=beta1, beta2=beta2,
                         eps=group["adamw_eps"], weight_decay=group["weight_decay"])


def _split_marked(params: ParamsT) -> ParamsT:
    """Param groups as given, or marked parameters as a Muon group and an AdamW group."""
    params = list(params)
    if not params or isinstance(params[0], dict):
        return params
    unmarked = [p for p in params if not hasattr(p, "use_muon")]
    if unmarked:
        raise ValueError(f"{len(unmarked)} parameters say neither use_muon=True nor False: pass param groups "
                         "with 'use_muon', or mark the model's parameters with mark_for_muon_(model)")
    groups = [{"params": [p for p in params if p.use_muon], "use_muon": True},
              {"params": [p for p in params if not p.use_muon], "use_muon": False}]
    return [group for group in groups if group["params"]]

