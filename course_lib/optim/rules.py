r"""The update rules of the course's optimizers, one tensor at a time (chapters 3-5).

Each ``xxx_update(param, grad, state, *, ...)`` is the book's formula line by line: it
updates ``param`` and the tensors in ``state`` in place and never modifies ``grad``.
Hand it an empty dict on the first step and it creates the state exactly as torch does
(same keys, zeros, a ``step`` counter stored as a 0-dim CPU tensor); ``xxx_init_state``
shows what that state is, and so what the method costs in memory.

The arithmetic follows torch 2.13's single-tensor code (``foreach=False``) operation by
operation, so results agree with ``torch.optim`` bit for bit. Two idioms do that:
``m.lerp_(g, 1 - beta)`` is :math:`m + (1-\beta)(g - m) = \beta m + (1-\beta) g`, and
``v.mul_(beta).addcmul_(g, g, value=1 - beta)`` is :math:`\beta v + (1-\beta) g^2`.

Example (Adam by hand on :math:`f(w) = w^2`):
    >>> w, state = torch.tensor([1.0]), {}
    >>> for _ in range(3):
    ...     adam_update(w, 2 * w, state, lr=0.1)
    >>> w, state["step"]
    (tensor([0.7016]), tensor(3.))
"""

from __future__ import annotations

import math

import torch

from ._base import new_step_counter
from .weight_decay import decoupled_weight_decay_, grad_with_l2_penalty

__all__ = [
    "sgd_update",
    "adagrad_init_state",
    "adagrad_update",
    "rmsprop_init_state",
    "rmsprop_update",
    "adadelta_init_state",
    "adadelta_update",
    "adam_init_state",
    "adam_update",
    "adamw_update",
    "adamax_init_state",
    "adamax_update",
    "nadam_init_state",
    "nadam_update",
    "radam_init_state",
    "radam_update",
    "rprop_init_state",
    "rprop_update",
    "asgd_init_state",
    "asgd_update",
    "sparse_adam_init_state",
    "sparse_adam_update",
]

State = dict[str, torch.Tensor]
#: a hyperparameter as torch passes it: a Python number, or a 0-dim tensor whose arithmetic
#: stays in its own dtype (a Tensor ``lr`` is float32: ``lr / (1 - beta1**t)`` is rounded to float32)
Scalar = float | torch.Tensor


def _advance(state: State) -> float:
    """Add one to ``state["step"]`` (in place, as torch does) and return the new count t."""
    state["step"] += 1
    return state["step"].item()


def _scalar_dtype() -> torch.dtype:
    return new_step_counter().dtype


def _like_param(value: Scalar, param: torch.Tensor) -> Scalar:
    """A tensor hyperparameter moved to ``param``'s device and dtype (torch does this for Adam's beta1)."""
    return value.to(device=param.device, dtype=param.dtype) if isinstance(value, torch.Tensor) else value


# --------------------------------------------------------------------------- SGD


def sgd_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> None:
    r"""One SGD step on one tensor, torch's formulation.

    .. math::
        \begin{aligned}
        g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1}) + \lambda\theta_{t-1} \\
        b_t &\leftarrow \begin{cases} g_1 & t = 1 \\
                                      \mu\, b_{t-1} + (1-\tau)\, g_t & t > 1 \end{cases} \\
        d_t &\leftarrow \begin{cases} g_t + \mu\, b_t & \text{nesterov} \\
                                      b_t & \text{otherwise} \end{cases} \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, d_t
        \end{aligned}

    Without momentum :math:`d_t = g_t`. Conventions of ``torch.optim.SGD``:

    * the buffer is a running *sum*, not an average: there is no :math:`(1-\mu)` factor,
      so (with :math:`\tau = 0`) a constant gradient reaches the terminal step
      :math:`\eta g/(1-\mu)`, 10x at :math:`\mu = 0.9`. Ng's
      :math:`v \leftarrow \beta v + (1-\beta) g` is the same rule with the learning rate
      multiplied by :math:`1-\beta`;
    * the buffer starts as the first gradient itself, undampened, and there is no bias
      correction;
    * Nesterov follows Sutskever et al. (2013), rewritten so that the gradient is taken
      at the current point: step along :math:`g_t + \mu b_t` ("look ahead, then correct").

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient :math:`\nabla_\theta f_t`.
        state: this parameter's state; ``"momentum_buffer"`` appears on the first step
            with momentum.
        lr: learning rate :math:`\eta`.
        momentum: :math:`\mu` (default 0).
        dampening: :math:`\tau` (default 0).
        weight_decay: L2 coefficient :math:`\lambda` added to the gradient (default 0).
        nesterov: Nesterov momentum (default False).
        maximize: ascend, i.e. use :math:`-\nabla f` (default False).

    Returns:
        None.

    Reference:
        Polyak (1964), heavy ball; Sutskever, Martens, Dahl & Hinton (2013), eq. (3)-(4).

    Example:
        >>> w, state = torch.tensor([1.0]), {}
        >>> sgd_update(w, torch.tensor([0.5]), state, lr=0.1, momentum=0.9)
        >>> w, state["momentum_buffer"]
        (tensor([0.9500]), tensor([0.5000]))
    """
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad_with_l2_penalty(grad, param, weight_decay)
    if momentum != 0:
        buffer = state.get("momentum_buffer")
        if buffer is None:
            buffer = state["momentum_buffer"] = grad.detach().clone()
        else:
            buffer.mul_(momentum).add_(grad, alpha=1 - dampening)
        grad = grad.add(buffer, alpha=momentum) if nesterov else buffer
    param.add_(grad, alpha=-lr)


# ----------------------------------------------------------------------- Adagrad


def adagrad_init_state(param: torch.Tensor, initial_accumulator_value: float = 0.0) -> State:
    """Adagrad's state: a step counter and one accumulator ``sum`` shaped like ``param``."""
    return {"step": new_step_counter(), "sum": torch.full_like(param, initial_accumulator_value)}


def adagrad_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
    initial_accumulator_value: float = 0.0,
) -> None:
    r"""One Adagrad step on one tensor.

    .. math::
        \begin{aligned}
        g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1}) + \lambda\theta_{t-1} \\
        \tilde\eta_t &\leftarrow \eta \,/\, \big(1 + (t-1)\,\delta\big) \\
        s_t &\leftarrow s_{t-1} + g_t^2 \\
        \theta_t &\leftarrow \theta_{t-1} - \tilde\eta_t\, \frac{g_t}{\sqrt{s_t} + \epsilon}
        \end{aligned}

    The accumulated sum only grows, so each coordinate's step shrinks for ever: good
    for convex and sparse problems, often too cautious for deep networks. A sparse
    ``grad`` (``nn.Embedding(sparse=True)``) updates only the rows it holds, as torch
    does, and cannot be combined with ``weight_decay``. torch puts
    :math:`\epsilon` outside the square root and adds the optional learning-rate decay
    :math:`\delta` (``lr_decay``) and a starting value :math:`s_0` for the sum, neither
    of which is in the paper.

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient.
        state: ``step`` and ``sum`` (:math:`s`); created if empty.
        lr: learning rate :math:`\eta`.
        lr_decay: :math:`\delta` (default 0).
        weight_decay: L2 coefficient :math:`\lambda` (default 0).
        eps: :math:`\epsilon` (default 1e-10).
        maximize: ascend (default False).
        initial_accumulator_value: :math:`s_0`, used only when ``state`` is empty (default 0).

    Returns:
        None.

    Reference:
        Duchi, Hazan & Singer (2011), "Adaptive Subgradient Methods for Online Learning
        and Stochastic Optimization", the diagonal version of their update.
    """
    if not state:
        state.update(adagrad_init_state(param, initial_accumulator_value))
    t = _advance(state)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        if grad.is_sparse:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        grad = grad_with_l2_penalty(grad, param, weight_decay)
    decayed_lr = lr / (1 + (t - 1) * lr_decay)
    if grad.is_sparse:
        # Only the rows present in the gradient move; duplicates must be summed first
        # because the update is not linear in the gradient.
        grad = grad.coalesce()
        indices, values = grad._indices(), grad._values()
        state["sum"].add_(torch.sparse_coo_tensor(indices, values.pow(2), grad.size()))
        std_values = state["sum"].sparse_mask(grad)._values().sqrt_().add_(eps)
        param.add_(torch.sparse_coo_tensor(indices, values / std_values, grad.size()), alpha=-decayed_lr)
        return
    state["sum"].addcmul_(grad, grad, value=1)
    std = state["sum"].sqrt().add_(eps)
    param.addcdiv_(grad, std, value=-decayed_lr)


# ----------------------------------------------------------------------- RMSprop


def rmsprop_init_state(param: torch.Tensor, momentum: float = 0.0, centered: bool = False) -> State:
    """RMSprop's state: ``square_avg``, plus ``momentum_buffer`` and ``grad_avg`` when used."""
    state = {"step": new_step_counter(), "square_avg": torch.zeros_like(param)}
    if momentum > 0:
        state["momentum_buffer"] = torch.zeros_like(param)
    if centered:
        state["grad_avg"] = torch.zeros_like(param)
    return state


def rmsprop_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> None:
    r"""One RMSprop step on one tensor.

    .. math::
        \begin{aligned}
        g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1}) + \lambda\theta_{t-1} \\
        v_t &\leftarrow \alpha v_{t-1} + (1-\alpha)\, g_t^2 \\
        \bar g_t &\leftarrow \alpha \bar g_{t-1} + (1-\alpha)\, g_t
            &&\text{(centered only)} \\
        r_t &\leftarrow \sqrt{v_t} + \epsilon
            \quad\text{or}\quad \sqrt{v_t - \bar g_t^2} + \epsilon &&\text{(centered)} \\
        b_t &\leftarrow \mu b_{t-1} + g_t / r_t,\quad
            \theta_t \leftarrow \theta_{t-1} - \eta\, b_t &&(\mu > 0) \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, g_t / r_t &&(\mu = 0)
        \end{aligned}

    A coordinate with large recent gradients (a steep direction) gets a small step and
    a flat one a large step. Conventions of ``torch.optim.RMSprop``: :math:`\epsilon`
    outside the square root, no bias correction (:math:`v_0 = 0`, so the first steps
    are large), smoothing constant ``alpha`` = 0.99 where Hinton's lecture uses 0.9,
    momentum applied to the already-normalised step, and the centered variant
    (Graves 2013) dividing by an estimate of the gradient's standard deviation.

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient.
        state: ``step``, ``square_avg`` (:math:`v`), ``momentum_buffer`` (:math:`b`),
            ``grad_avg`` (:math:`\bar g`); created if empty.
        lr: learning rate :math:`\eta`.
        alpha: smoothing constant :math:`\alpha` (default 0.99).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: L2 coefficient :math:`\lambda` (default 0).
        momentum: :math:`\mu` (default 0).
        centered: subtract the squared mean gradient (default False).
        maximize: ascend (default False).

    Returns:
        None.

    Reference:
        Tieleman & Hinton (2012), Neural Networks for Machine Learning, lecture 6.5;
        centered form: Graves (2013), "Generating Sequences with RNNs", eq. (38)-(41).
    """
    if not state:
        state.update(rmsprop_init_state(param, momentum, centered))
    if maximize:
        grad = -grad
    _advance(state)
    if weight_decay != 0:
        grad = grad_with_l2_penalty(grad, param, weight_decay)
    square_avg = state["square_avg"]
    square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
    if centered:
        grad_avg = state["grad_avg"]
        grad_avg.lerp_(grad, 1 - alpha)
        denom = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
    else:
        denom = square_avg.sqrt()
    denom.add_(eps)
    if momentum > 0:
        buffer = state["momentum_buffer"]
        buffer.mul_(momentum).addcdiv_(grad, denom)
        param.add_(buffer, alpha=-lr)
    else:
        param.addcdiv_(grad, denom, value=-lr)


# ---------------------------------------------------------------------- Adadelta


def adadelta_init_state(param: torch.Tensor) -> State:
    """Adadelta's state: running averages of squared gradients and of squared updates."""
    return {
        "step": new_step_counter(),
        "square_avg": torch.zeros_like(param),
        "acc_delta": torch.zeros_like(param),
    }


def adadelta_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: float = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    r"""One Adadelta step on one tensor.

    .. math::
        \begin{aligned}
        g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1}) + \lambda\theta_{t-1} \\
        v_t &\leftarrow \rho v_{t-1} + (1-\rho)\, g_t^2 \\
        \Delta_t &\leftarrow \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\; g_t \\
        u_t &\leftarrow \rho u_{t-1} + (1-\rho)\, \Delta_t^2 \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, \Delta_t
        \end{aligned}

    The ratio of the running RMS of past *updates* to that of gradients gives each
    coordinate a step with the units of :math:`\theta`, so Zeiler's method needs no
    learning rate; torch still multiplies by ``lr`` (default 1.0, which is the paper).
    Here :math:`\epsilon` sits *inside* both square roots, as in the paper (unlike
    torch's Adam and RMSprop); it also seeds the first steps, since :math:`u_0 = 0`.

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient.
        state: ``step``, ``square_avg`` (:math:`v`), ``acc_delta`` (:math:`u`); created if empty.
        lr: multiplier :math:`\eta` (default 1.0).
        rho: decay :math:`\rho` (default 0.9).
        eps: :math:`\epsilon` (default 1e-6).
        weight_decay: L2 coefficient :math:`\lambda` (default 0).
        maximize: ascend (default False).

    Returns:
        None.

    Reference:
        Zeiler (2012), "ADADELTA: An Adaptive Learning Rate Method", Algorithm 1.
    """
    if not state:
        state.update(adadelta_init_state(param))
    _advance(state)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad_with_l2_penalty(grad, param, weight_decay)
    square_avg, acc_delta = state["square_avg"], state["acc_delta"]
    square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
    rms_grad = square_avg.add(eps).sqrt_()
    delta = acc_delta.add(eps).sqrt_().div_(rms_grad).mul_(grad)
    acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
    param.add_(delta, alpha=-lr)


# -------------------------------------------------------------------------- Adam


def adam_init_state(param: torch.Tensor, amsgrad: bool = False) -> State:
    """Adam's state: two tensors shaped like ``param`` (three with AMSGrad) and a step counter."""
    state = {
        "step": new_step_counter(),
        "exp_avg": torch.zeros_like(param),
        "exp_avg_sq": torch.zeros_like(param),
    }
    if amsgrad:
        state["max_exp_avg_sq"] = torch.zeros_like(param)
    return state


def adam_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
) -> None:
    r"""One Adam step on one tensor (L2 ``weight_decay`` folded into the gradient).

    .. math::
        \begin{aligned}
        g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1}) + \lambda\theta_{t-1} \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        v^{\max}_t &\leftarrow \max(v^{\max}_{t-1}, v_t)
            \text{ and use it for } v_t &&\text{(AMSGrad)} \\
        \hat m_t &\leftarrow m_t / (1-\beta_1^t), \qquad
        \hat v_t \leftarrow v_t / (1-\beta_2^t) \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}
        \end{aligned}

    RMSprop's per-coordinate scaling plus momentum, with both moments bias-corrected
    because they start at zero. Conventions, as ``torch.optim.Adam``:

    * :math:`\epsilon` is added *outside* the square root and *after* bias correction
      (Alg. 1 of the paper). The paper's "more efficient" form, used by TensorFlow,
      folds the corrections into the step size and adds :math:`\hat\epsilon` to
      :math:`\sqrt{v_t}`, which is a different :math:`\epsilon`;
    * it is computed as :math:`\theta \mathrel{-}= \frac{\eta}{1-\beta_1^t}\, m_t /
      (\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon)`, the same quantity;
    * ``weight_decay`` is L2: :math:`\lambda\theta` joins the gradient and is divided
      by :math:`\sqrt{\hat v}` with it. For decoupled decay use :func:`adamw_update`;
    * AMSGrad keeps the maximum of the *uncorrected* :math:`v_t` and then corrects it;
      Reddi et al. use no bias correction at all.

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient.
        state: ``step``, ``exp_avg`` (:math:`m`), ``exp_avg_sq`` (:math:`v`) and with
            AMSGrad ``max_exp_avg_sq`` (:math:`v^{\max}`); created if empty.
        lr: learning rate :math:`\eta`.
        beta1: :math:`\beta_1` (default 0.9).
        beta2: :math:`\beta_2` (default 0.999).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: L2 coefficient :math:`\lambda` (default 0).
        amsgrad: AMSGrad variant (default False).
        maximize: ascend (default False).

    Returns:
        None.

    Reference:
        Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", Algorithm 1;
        AMSGrad: Reddi, Kale & Kumar (2018), "On the Convergence of Adam and Beyond",
        Algorithm 2.
    """
    if maximize:
        grad = -grad
    if not state:
        state.update(adam_init_state(param, amsgrad))
    t = _advance(state)
    if weight_decay != 0:
        grad = grad_with_l2_penalty(grad, param, weight_decay)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(grad, 1 - _like_param(beta1, param))
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    if amsgrad:
        torch.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
        exp_avg_sq = state["max_exp_avg_sq"]
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    step_size = lr / bias_correction1
    denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(eps)
    param.addcdiv_(exp_avg, denom, value=-step_size)


def adamw_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
) -> None:
    r"""One AdamW step on one tensor: decoupled weight decay, then a plain Adam step.

    .. math::
        \begin{aligned}
        \theta &\leftarrow \theta - \eta\lambda\theta
            &&\text{(decoupled weight decay)} \\
        \theta &\leftarrow \theta - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon}
            &&\text{(the Adam step, no L2 term)}
        \end{aligned}

    The decay never enters :math:`m` or :math:`v`, so every weight shrinks by the same
    factor :math:`1-\eta\lambda` whatever its gradient history. With L2 inside Adam
    (:func:`adam_update` with ``weight_decay``), weights with large gradients are
    regularized *less*, because their :math:`\lambda\theta` is divided by a large
    :math:`\sqrt{\hat v}`. torch multiplies the decay by ``lr`` (see
    :func:`decoupled_weight_decay_`); its default :math:`\lambda` is 0.01.

    Args:
        param, grad, state, lr, beta1, beta2, eps, amsgrad, maximize: as in :func:`adam_update`.
        weight_decay: decoupled decay :math:`\lambda` (default 1e-2).

    Returns:
        None.

    Reference:
        Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", Algorithm 2.
    """
    decoupled_weight_decay_(param, lr, weight_decay)
    adam_update(
        param, grad, state,
        lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=0.0, amsgrad=amsgrad, maximize=maximize,
    )


# ------------------------------------------------------------------------ Adamax


def adamax_init_state(param: torch.Tensor) -> State:
    """Adamax's state: ``exp_avg`` and the infinity-norm accumulator ``exp_inf``."""
    return {
        "step": new_step_counter(),
        "exp_avg": torch.zeros_like(param),
        "exp_inf": torch.zeros_like(param),
    }


def adamax_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: float = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    r"""One Adamax step on one tensor: Adam with an infinity norm in place of :math:`\sqrt{v}`.

    .. math::
        \begin{aligned}
        g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1}) + \lambda\theta_{t-1} \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        u_t &\leftarrow \max(\beta_2 u_{t-1},\ |g_t| + \epsilon) \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t}
        \end{aligned}

    :math:`u_t` is the limit :math:`p \to \infty` of an :math:`L^p` version of Adam's
    second moment; it needs no bias correction. torch adds :math:`\epsilon` to
    :math:`|g_t|` inside the max (the paper has no :math:`\epsilon`), which keeps
    :math:`u_t > 0` for coordinates whose gradient is always zero.

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient.
        state: ``step``, ``exp_avg`` (:math:`m`), ``exp_inf`` (:math:`u`); created if empty.
        lr: learning rate :math:`\eta` (default 2e-3).
        beta1: :math:`\beta_1` (default 0.9).
        beta2: :math:`\beta_2` (default 0.999).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: L2 coefficient :math:`\lambda` (default 0).
        maximize: ascend (default False).

    Returns:
        None.

    Reference:
        Kingma & Ba (2015), Section 7.1, Algorithm 2.
    """
    if maximize:
        grad = -grad
    if not state:
        state.update(adamax_init_state(param))
    t = _advance(state)
    if weight_decay != 0:
        grad = grad_with_l2_penalty(grad, param, weight_decay)
    exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
    exp_avg.lerp_(grad, 1 - beta1)
    torch.maximum(exp_inf.mul_(beta2), grad.abs().add_(eps), out=exp_inf)
    bias_correction = 1 - beta1**t
    param.addcdiv_(exp_avg, exp_inf, value=-lr / bias_correction)


# ------------------------------------------------------------------------- NAdam


def nadam_init_state(param: torch.Tensor) -> State:
    r"""NAdam's state: Adam's two moments plus ``mu_product`` :math:`=\prod_i \mu_i` (starts at 1)."""
    return {
        "step": new_step_counter(),
        "mu_product": new_step_counter().fill_(1.0),
        "exp_avg": torch.zeros_like(param),
        "exp_avg_sq": torch.zeros_like(param),
    }


def nadam_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: float = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> None:
    r"""One NAdam step on one tensor: Adam with Nesterov momentum.

    .. math::
        \begin{aligned}
        \mu_t &\leftarrow \beta_1\big(1 - \tfrac12\, 0.96^{\,t\psi}\big), \qquad
        \mu_{t+1} \leftarrow \beta_1\big(1 - \tfrac12\, 0.96^{\,(t+1)\psi}\big) \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        \hat v_t &\leftarrow v_t / (1-\beta_2^t) \\
        \theta_t &\leftarrow \theta_{t-1}
            - \eta\,\frac{1-\mu_t}{1-\prod_{i\le t}\mu_i}\,\frac{g_t}{\sqrt{\hat v_t}+\epsilon}
            - \eta\,\frac{\mu_{t+1}}{1-\prod_{i\le t+1}\mu_i}\,\frac{m_t}{\sqrt{\hat v_t}+\epsilon}
        \end{aligned}

    The momentum part of the step already uses the *next* momentum coefficient
    :math:`\mu_{t+1}`, Nesterov's look-ahead; the current gradient enters with weight
    :math:`1-\mu_t`. :math:`\mu_t` warms up from :math:`0.5\beta_1` towards
    :math:`\beta_1` at rate :math:`\psi` (``momentum_decay`` = 0.004, Dozat's schedule).
    The product :math:`\prod_i \mu_i` is kept in ``state["mu_product"]``, a 0-dim
    float32 CPU tensor like ``step``. ``weight_decay`` is L2 unless
    ``decoupled_weight_decay`` (then AdamW-style, :math:`\theta \mathrel{*}= 1-\eta\lambda`).
    torch computes :math:`\sqrt{v_t/(1-\beta_2^t)}`, not Adam's
    :math:`\sqrt{v_t}/\sqrt{1-\beta_2^t}`: the same number up to rounding.

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient :math:`g_t`.
        state: ``step``, ``mu_product``, ``exp_avg``, ``exp_avg_sq``; created if empty.
        lr: learning rate :math:`\eta` (default 2e-3).
        beta1: :math:`\beta_1` (default 0.9).
        beta2: :math:`\beta_2` (default 0.999).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: :math:`\lambda` (default 0).
        momentum_decay: :math:`\psi` (default 4e-3).
        decoupled_weight_decay: decay the weights directly instead of via L2 (default False).
        maximize: ascend (default False).

    Returns:
        None.

    Reference:
        Dozat (2016), "Incorporating Nesterov Momentum into Adam", Algorithm 2.
    """
    if maximize:
        grad = -grad
    if not state:
        state.update(nadam_init_state(param))
    t = _advance(state)
    bias_correction2 = 1 - beta2**t
    if weight_decay != 0:
        if decoupled_weight_decay:
            decoupled_weight_decay_(param, lr, weight_decay)
        else:
            grad = grad_with_l2_penalty(grad, param, weight_decay)
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * momentum_decay)))
    state["mu_product"] *= mu
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = exp_avg_sq.div(bias_correction2).sqrt().add_(eps)
    mu_product = state["mu_product"].item()
    mu_product_next = mu_product * mu_next
    param.addcdiv_(grad, denom, value=-lr * (1.0 - mu) / (1.0 - mu_product))
    param.addcdiv_(exp_avg, denom, value=-lr * mu_next / (1.0 - mu_product_next))


# ------------------------------------------------------------------------- RAdam


def radam_init_state(param: torch.Tensor) -> State:
    """RAdam's state: Adam's ``step``, ``exp_avg`` and ``exp_avg_sq`` (no AMSGrad buffer)."""
    return adam_init_state(param)


def radam_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: Scalar = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> None:
    r"""One RAdam step on one tensor: Adam whose adaptive step is switched on gradually.

    .. math::
        \begin{aligned}
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2, \qquad
        \hat m_t \leftarrow m_t / (1-\beta_1^t) \\
        \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t \leftarrow \rho_\infty - \frac{2\, t\, \beta_2^t}{1-\beta_2^t} \\
        r_t &\leftarrow \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\,\rho_\infty}
                                   {(\rho_\infty - 4)(\rho_\infty - 2)\,\rho_t}} \\
        \theta_t &\leftarrow \begin{cases}
            \theta_{t-1} - \eta\, \hat m_t\, r_t\, \dfrac{\sqrt{1-\beta_2^t}}{\sqrt{v_t} + \epsilon}
                & \rho_t > 5 \\[1ex]
            \theta_{t-1} - \eta\, \hat m_t & \rho_t \le 5
            \end{cases}
        \end{aligned}

    Adam's :math:`1/\sqrt{\hat v_t}` is computed from very few gradients in the first
    steps, so its variance is large (and, under the paper's model, infinite while
    :math:`\rho_t \le 4`); a warm-up of the learning rate is the usual cure. RAdam
    computes the cure instead. An exponential average with :math:`\beta_2` behaves like a
    simple moving average of length :math:`\rho_t` (at most :math:`\rho_\infty`, 1999
    for :math:`\beta_2 = 0.999`; about :math:`t` early on). While :math:`\rho_t \le 5`
    the step is plain momentum SGD on :math:`\hat m_t`, with no adaptive scaling at all
    (the first 5 steps with torch's defaults); afterwards the adaptive step is
    multiplied by the *rectification term* :math:`r_t`, the ratio
    :math:`\sqrt{\operatorname{Var}[\psi_\infty] / \operatorname{Var}[\psi_t]}` of the
    approximate standard deviations of the adaptive rate
    :math:`\psi = 1/\sqrt{\hat v}` at length :math:`\rho_\infty` and at length
    :math:`\rho_t`. With the default :math:`\beta_2` it is 0.026 at the first rectified
    step (:math:`t = 6`) and rises towards 1: a warm-up schedule derived from
    :math:`\beta_2` alone.

    Conventions of ``torch.optim.RAdam``: :math:`\epsilon` is added to :math:`\sqrt{v_t}`
    *before* the bias correction :math:`\sqrt{1-\beta_2^t}` is applied (Adam adds it
    after); ``weight_decay`` is L2 in the gradient unless ``decoupled_weight_decay``
    (then :math:`\theta \mathrel{*}= 1-\eta\lambda` first, RAdamW, closer to the
    authors' code); no AMSGrad. The arithmetic is torch's single-tensor code, operation
    by operation.

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient :math:`g_t` (before the sign flip of ``maximize``).
        state: ``step``, ``exp_avg`` (:math:`m`), ``exp_avg_sq`` (:math:`v`); created if empty.
        lr: learning rate :math:`\eta` (default 1e-3), a number or a 0-dim tensor.
        beta1: :math:`\beta_1` (default 0.9).
        beta2: :math:`\beta_2` (default 0.999).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: :math:`\lambda` (default 0).
        decoupled_weight_decay: decay the weights directly instead of via L2 (default False).
        maximize: ascend (default False).

    Returns:
        None.

    Reference:
        Liu, Jiang, He, Chen, Liu, Gao & Han (2020), "On the Variance of the Adaptive
        Learning Rate and Beyond", ICLR, Algorithm 2 and eq. (6).

    Example:
        >>> w, state = torch.tensor([1.0]), {}
        >>> for _ in range(6):
        ...     radam_update(w, 2 * w, state, lr=0.1)
        >>> w, state["step"]
        (tensor([0.1995]), tensor(6.))
    """
    if maximize:
        grad = -grad
    if not state:
        state.update(radam_init_state(param))
    t = _advance(state)
    if weight_decay != 0:
        if decoupled_weight_decay:
            decoupled_weight_decay_(param, lr, weight_decay)
        else:
            grad = grad_with_l2_penalty(grad, param, weight_decay)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    corrected_exp_avg = exp_avg / bias_correction1
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
    if rho_t > 5.0:
        rectification = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        adaptive_lr = bias_correction2**0.5 / exp_avg_sq.sqrt().add_(eps)
        param.add_(corrected_exp_avg * lr * adaptive_lr * rectification, alpha=-1.0)
    else:
        param.add_(corrected_exp_avg * lr, alpha=-1.0)


# ------------------------------------------------------------------------- Rprop


def rprop_init_state(param: torch.Tensor, lr: Scalar = 1e-2) -> State:
    """Rprop's state: the previous gradient ``prev`` and one step size per coordinate, all ``lr`` at first."""
    return {
        "step": new_step_counter(),
        "prev": torch.zeros_like(param),
        "step_size": torch.full_like(param, lr),
    }


def rprop_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: Scalar = 1e-2,
    etaminus: float = 0.5,
    etaplus: float = 1.2,
    step_size_min: float = 1e-6,
    step_size_max: float = 50.0,
    maximize: bool = False,
) -> None:
    r"""One Rprop step on one tensor: a step size per coordinate, grown or shrunk by sign agreement.

    .. math::
        \begin{aligned}
        s_t &\leftarrow \operatorname{sign}(g_t\, g_{t-1}) \\
        \Delta_t &\leftarrow \operatorname{clip}\big(\Delta_{t-1} \cdot
            \{\eta^+ \text{ if } s_t > 0;\ \eta^- \text{ if } s_t < 0;\ 1 \text{ if } s_t = 0\},\
            \Delta_{\min}, \Delta_{\max}\big) \\
        g_t &\leftarrow 0 \quad\text{where } s_t < 0 \\
        \theta_t &\leftarrow \theta_{t-1} - \Delta_t \operatorname{sign}(g_t), \qquad g_{t-1} \leftarrow g_t
        \end{aligned}

    Only the *sign* of the gradient is used: where it kept its sign the step grows by
    :math:`\eta^+` (1.2), where it flipped (the last step jumped over a minimum) the step
    shrinks by :math:`\eta^-` (0.5) and this coordinate pauses for one step (its stored
    gradient is set to 0, so the next comparison gives :math:`s = 0`). ``lr`` is only the
    initial :math:`\Delta_0`. A full-batch method: minibatch noise flips signs at random.
    This is torch's variant (iRprop\ :sup:`-`, no weight backtracking).

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient.
        state: ``step``, ``prev`` (:math:`g_{t-1}`), ``step_size`` (:math:`\Delta`); created if empty.
        lr: initial step size :math:`\Delta_0` (default 1e-2), used only when ``state`` is empty.
        etaminus: :math:`\eta^-` (default 0.5).
        etaplus: :math:`\eta^+` (default 1.2).
        step_size_min: :math:`\Delta_{\min}` (default 1e-6).
        step_size_max: :math:`\Delta_{\max}` (default 50).
        maximize: ascend (default False).

    Returns:
        None.

    Reference:
        Riedmiller & Braun (1993), "A Direct Adaptive Method for Faster Backpropagation
        Learning: The RPROP Algorithm"; Igel & Hüsken (2000), iRprop-.

    Example:
        >>> w, state = torch.tensor([1.0, -1.0]), {}
        >>> for _ in range(3):
        ...     rprop_update(w, torch.tensor([1.0, -1.0]), state, lr=0.1)
        >>> state["step_size"]
        tensor([0.1440, 0.1440])
    """
    if maximize:
        grad = -grad
    if not state:
        state.update(rprop_init_state(param, lr))
    state["step"] += 1
    prev, step_size = state["prev"], state["step_size"]
    factor = grad.mul(prev).sign()
    factor[factor.gt(0)] = etaplus
    factor[factor.lt(0)] = etaminus
    factor[factor.eq(0)] = 1
    step_size.mul_(factor).clamp_(step_size_min, step_size_max)
    grad = grad.clone(memory_format=torch.preserve_format)
    grad[factor.eq(etaminus)] = 0
    param.addcmul_(grad.sign(), step_size, value=-1)
    prev.copy_(grad)


# -------------------------------------------------------------------------- ASGD


def asgd_init_state(param: torch.Tensor, lr: Scalar = 1e-2) -> State:
    """ASGD's state: 0-dim ``eta`` (step size) and ``mu`` (averaging weight) and the average ``ax``.

    Unlike the other counters, torch keeps these three on the parameter's device.
    """
    scalar = {"device": param.device, "dtype": _scalar_dtype()}
    return {
        "step": torch.zeros((), **scalar),
        "eta": torch.as_tensor(lr, **scalar).clone().detach(),
        "mu": torch.ones((), **scalar),
        "ax": torch.zeros_like(param),
    }


def asgd_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: Scalar = 1e-2,
    lambd: float = 1e-4,
    alpha: float = 0.75,
    t0: float = 1e6,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    r"""One averaged-SGD step on one tensor: SGD with a decaying step, plus a running average of the iterates.

    .. math::
        \begin{aligned}
        g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1}) + \lambda_{wd}\,\theta_{t-1} \\
        \theta_t &\leftarrow (1 - \lambda\eta_t)\,\theta_{t-1} - \eta_t\, g_t \\
        \bar\theta_t &\leftarrow \bar\theta_{t-1} + \mu_t(\theta_t - \bar\theta_{t-1})
            \quad(\bar\theta_t = \theta_t \text{ while } \mu_t = 1) \\
        \eta_{t+1} &\leftarrow \frac{\eta_0}{(1 + \lambda\eta_0 t)^{\alpha}}, \qquad
        \mu_{t+1} \leftarrow \frac{1}{\max(1,\ t - t_0)}
        \end{aligned}

    Polyak-Ruppert averaging: the iterates :math:`\theta_t` of SGD bounce around the
    minimum with a spread set by the step size; their average :math:`\bar\theta_t`
    (``state["ax"]``) converges at the optimal rate even with steps that decay slowly.
    Averaging starts after :math:`t_0` steps (``t0`` = 1e6 by default, so in short runs
    :math:`\bar\theta` simply tracks :math:`\theta`). The optimizer moves
    :math:`\theta`, not the average: evaluate with ``state["ax"]`` copied into the
    parameters (or use ``torch.optim.swa_utils``). :math:`\lambda` (``lambd``) also acts as
    a weight decay :math:`1 - \lambda\eta_t`.

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient.
        state: ``step``, ``eta``, ``mu``, ``ax``; created if empty.
        lr: initial step size :math:`\eta_0` (default 1e-2).
        lambd: decay term :math:`\lambda` (default 1e-4).
        alpha: power :math:`\alpha` of the step-size decay (default 0.75).
        t0: step at which averaging starts (default 1e6).
        weight_decay: L2 coefficient :math:`\lambda_{wd}` (default 0).
        maximize: ascend (default False).

    Returns:
        None.

    Reference:
        Polyak & Juditsky (1992), "Acceleration of Stochastic Approximation by
        Averaging"; the step-size schedule is Bottou (2012), "Stochastic Gradient Descent
        Tricks", eq. (10).
    """
    if maximize:
        grad = -grad
    if not state:
        state.update(asgd_init_state(param, lr))
    state["step"] += 1
    if weight_decay != 0:
        grad = grad_with_l2_penalty(grad, param, weight_decay)
    eta, mu, ax = state["eta"], state["mu"], state["ax"]
    eta_value = eta.item()
    param.mul_(1 - lambd * eta_value)
    param.add_(grad, alpha=-eta_value)
    if mu.item() != 1:
        ax.add_(param.sub(ax).mul_(mu))
    else:
        ax.copy_(param)
    t = state["step"].item()
    eta.copy_(torch.as_tensor(lr / ((1 + lambd * lr * t) ** alpha)))
    mu.copy_(torch.as_tensor(1 / max(1, t - t0)))


# -------------------------------------------------------------------- SparseAdam


def sparse_adam_init_state(param: torch.Tensor) -> dict[str, int | torch.Tensor]:
    """SparseAdam's state: Adam's two moments, dense, and a ``step`` kept as a Python int (as torch does)."""
    return {"step": 0, "exp_avg": torch.zeros_like(param), "exp_avg_sq": torch.zeros_like(param)}


def sparse_adam_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict,
    *,
    lr: Scalar = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    maximize: bool = False,
) -> None:
    r"""One SparseAdam step on one dense tensor with a sparse gradient: Adam on the rows present only.

    .. math::
        \begin{aligned}
        m_i &\leftarrow m_i + (1-\beta_1)(g_i - m_i), \qquad
        v_i \leftarrow v_i + (1-\beta_2)(g_i^2 - v_i) \qquad (i \in \operatorname{rows}(g)) \\
        \theta_i &\leftarrow \theta_i - \eta\,\frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,
            \frac{m_i}{\sqrt{v_i} + \epsilon}
        \end{aligned}

    Rows absent from the gradient (embedding rows not looked up in this batch) keep their
    parameters *and* their moments, where dense Adam would decay :math:`m` and
    :math:`v` towards 0 and still move the row. The single ``step`` counts steps, not
    how often a row was seen, so a rarely seen row gets the late, small bias corrections.
    :math:`\epsilon` is added before the bias correction (the paper's "efficient"
    form), unlike ``Adam``.

    Args:
        param: the dense parameter, updated in place on the gradient's rows.
        grad: a sparse COO gradient (duplicated indices are summed first).
        state: ``step`` (an int), ``exp_avg``, ``exp_avg_sq``; created if empty.
        lr: learning rate :math:`\eta` (default 1e-3).
        beta1: :math:`\beta_1` (default 0.9).
        beta2: :math:`\beta_2` (default 0.999).
        eps: :math:`\epsilon` (default 1e-8).
        maximize: ascend (default False).

    Returns:
        None.

    Reference:
        Kingma & Ba (2015), Algorithm 1, restricted to the rows in the gradient
        (torch's ``SparseAdam``).
    """
    if not state:
        state.update(sparse_adam_init_state(param))
    state["step"] += 1
    t = state["step"]
    if maximize:
        grad = -grad
    grad = grad.coalesce()
    indices, values = grad._indices(), grad._values()
    if values.numel() == 0:
        return
    size = grad.size()
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    old_exp_avg = exp_avg.sparse_mask(grad)._values()
    exp_avg_change = values.sub(old_exp_avg).mul_(1 - beta1)
    exp_avg.add_(torch.sparse_coo_tensor(indices, exp_avg_change, size))
    old_exp_avg_sq = exp_avg_sq.sparse_mask(grad)._values()
    exp_avg_sq_change = values.pow(2).sub_(old_exp_avg_sq).mul_(1 - beta2)
    exp_avg_sq.add_(torch.sparse_coo_tensor(indices, exp_avg_sq_change, size))
    new_exp_avg = exp_avg_change.add_(old_exp_avg)
    denom = exp_avg_sq_change.add_(old_exp_avg_sq).sqrt_().add_(eps)
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    step_size = lr * math.sqrt(bias_correction2) / bias_correction1
    param.add_(torch.sparse_coo_tensor(indices, -step_size * new_exp_avg.div_(denom), size))
