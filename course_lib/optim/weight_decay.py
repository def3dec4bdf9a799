r"""The two ways to shrink weights: L2 folded into the gradient, or decoupled decay.

For plain SGD they are the same update,

.. math:: \theta \leftarrow \theta - \eta(g + \lambda\theta) = \theta(1 - \eta\lambda) - \eta g,

but an adaptive method divides everything that enters its gradient by
:math:`\sqrt{\hat v}`, so an L2 term there is rescaled per coordinate while decoupled
decay is not (Loshchilov & Hutter 2019). ``Adam(weight_decay=λ)`` uses
:func:`grad_with_l2_penalty`; ``AdamW`` uses :func:`decoupled_weight_decay_`.
"""

from __future__ import annotations

import torch

__all__ = ["grad_with_l2_penalty", "decoupled_weight_decay_"]


def grad_with_l2_penalty(grad: torch.Tensor, param: torch.Tensor, weight_decay: float) -> torch.Tensor:
    r"""Gradient of the loss plus an L2 penalty :math:`\tfrac{\lambda}{2}\lVert\theta\rVert^2`.

    .. math:: g \leftarrow g + \lambda\theta

    This is what ``weight_decay`` means in torch's SGD, Adagrad, RMSprop, Adadelta,
    Adamax, and in Adam and NAdam unless ``decoupled_weight_decay=True``.

    Args:
        grad: gradient of the loss with respect to ``param``; not modified.
        param: the parameter :math:`\theta`.
        weight_decay: :math:`\lambda \ge 0`.

    Returns:
        A new tensor :math:`g + \lambda\theta`.

    Example:
        >>> grad_with_l2_penalty(torch.tensor([1.0]), torch.tensor([2.0]), 0.1)
        tensor([1.2000])
    """
    return grad.add(param, alpha=weight_decay)


def decoupled_weight_decay_(param: torch.Tensor, lr: float, weight_decay: float) -> torch.Tensor:
    r"""Shrink a parameter in place by decoupled weight decay.

    .. math:: \theta \leftarrow \theta - \eta\lambda\theta = (1 - \eta\lambda)\,\theta

    torch's AdamW (and NAdam with ``decoupled_weight_decay=True``) multiplies
    :math:`\lambda` by the learning rate :math:`\eta`, so the decay follows any
    learning-rate schedule. Loshchilov & Hutter (2019, Alg. 2) write
    :math:`\eta_t\lambda\theta` with :math:`\eta_t` the *schedule multiplier* and
    the learning rate :math:`\alpha` kept out of the decay; with torch's convention,
    ``weight_decay=0.01`` at ``lr=1e-3`` shrinks weights by 1e-5 per step.

    Args:
        param: the parameter, modified in place.
        lr: learning rate :math:`\eta`.
        weight_decay: :math:`\lambda \ge 0`.

    Returns:
        ``param`` (the same tensor).

    Example:
        >>> decoupled_weight_decay_(torch.tensor([2.0]), lr=0.1, weight_decay=0.5)
        tensor([1.9000])
    """
    return param.mul_(1 - lr * weight_decay)
