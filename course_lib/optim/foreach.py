r"""Multi-tensor versions of the update rules: the ``foreach=True`` path.

Each ``xxx_update_foreach(params, grads, states, *, ...)`` applies the rule of
:mod:`course_lib.optim.rules` to a list of tensors with ``torch._foreach_*`` ops, which
take a list and, on CUDA, launch one kernel for the whole list instead of one per
tensor (on the CPU they loop over the tensors, so the speed is about the same).
Like torch, tensors are grouped by (device, dtype) first.

The algebra is the rule's; the *arithmetic* is torch's own ``foreach`` code, operation
by operation, so that ``course_lib.optim.X(foreach=True)`` matches
``torch.optim.X(foreach=True)`` bit for bit. torch does not always order the foreach
arithmetic as in its per-tensor loop, so for some methods the two paths differ in the
last bits (a few ulps per step):

* Adagrad multiplies the gradient by :math:`-\tilde\eta_t` before dividing by
  :math:`\sqrt{s}+\epsilon`, where the loop scales the quotient;
* NAdam divides :math:`\sqrt{v}` by :math:`\sqrt{1-\beta_2^t}`, where the loop takes
  :math:`\sqrt{v/(1-\beta_2^t)}`;
* RAdam folds :math:`\eta\, r_t \sqrt{1-\beta_2^t}/(1-\beta_1^t)` into one reciprocal;
* ASGD computes :math:`\theta - \eta(g + \lambda\theta)` where the loop computes
  :math:`(1-\lambda\eta)\theta - \eta g`, and always averages with :math:`\mu`;
* Adamax and NAdam turn a Tensor ``lr`` into a Python number (float64) where the loop
  keeps it a float32 tensor.

SGD, RMSprop, Adadelta, Adam(W) and Rprop perform the same elementwise operations on
both paths. None of these functions modifies ``grads`` (torch's own foreach code
overwrites ``.grad`` in a few places, e.g. SGD with Nesterov).
"""

from __future__ import annotations

import torch

from ._base import group_by_device_and_dtype
from .rules import (
    Scalar,
    State,
    adadelta_init_state,
    adagrad_init_state,
    adagrad_update,
    adam_init_state,
    adamax_init_state,
    asgd_init_state,
    nadam_init_state,
    radam_init_state,
    rmsprop_init_state,
    rprop_init_state,
)

__all__ = [
    "sgd_update_foreach",
    "adagrad_update_foreach",
    "rmsprop_update_foreach",
    "adadelta_update_foreach",
    "adam_update_foreach",
    "adamax_update_foreach",
    "nadam_update_foreach",
    "radam_update_foreach",
    "rprop_update_foreach",
    "asgd_update_foreach",
]


def _by_device_and_dtype(params: list[torch.Tensor], *lists: list):
    """Yield, per (device, dtype) group, the params and the matching entries of each list."""
    for indices in group_by_device_and_dtype(params).values():
        yield [params[i] for i in indices], *[[values[i] for i in indices] for values in lists]


def _value(x: Scalar) -> float:
    """A number as torch's ``_get_value`` reads it: ``.item()`` of a tensor."""
    return x.item() if isinstance(x, torch.Tensor) else x


def _advance_all(steps: list[torch.Tensor]) -> None:
    torch._foreach_add_(steps, 1)


def _init_states(params: list[torch.Tensor], states: list[State], init, *args) -> None:
    for param, state in zip(params, states):
        if not state:
            state.update(init(param, *args))


def _signed_with_l2(
    grads: list[torch.Tensor], params: list[torch.Tensor], weight_decay: float, maximize: bool
) -> list[torch.Tensor]:
    r""":math:`\pm g + \lambda\theta` for a list, in new tensors (the gradients are never written)."""
    if maximize:
        grads = torch._foreach_neg(grads)
    if weight_decay != 0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    return grads


# --------------------------------------------------------------------------- SGD


def sgd_update_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[State],
    *,
    lr: Scalar,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> None:
    r""":func:`~course_lib.optim.rules.sgd_update` on lists of tensors at once.

    Sparse gradients are accepted as in torch (the last step then runs per tensor).

    Args:
        params: parameters, updated in place.
        grads: their gradients, never modified.
        states: one state dict per parameter.
        lr, momentum, dampening, weight_decay, nesterov, maximize: as in ``sgd_update``.

    Returns:
        None.
    """
    for group_params, group_grads, group_states in _by_device_and_dtype(params, grads, states):
        has_sparse_grad = any(grad.is_sparse for grad in group_grads)
        group_grads = _signed_with_l2(group_grads, group_params, weight_decay, maximize)
        if momentum != 0:
            if all(state.get("momentum_buffer") is not None for state in group_states):
                buffers = [state["momentum_buffer"] for state in group_states]
                torch._foreach_mul_(buffers, momentum)
                torch._foreach_add_(buffers, group_grads, alpha=1 - dampening)
            else:
                buffers = []
                for state, grad in zip(group_states, group_grads):
                    if state.get("momentum_buffer") is None:
                        state["momentum_buffer"] = grad.detach().clone()
                    else:
                        state["momentum_buffer"].mul_(momentum).add_(grad, alpha=1 - dampening)
                    buffers.append(state["momentum_buffer"])
            group_grads = torch._foreach_add(group_grads, buffers, alpha=momentum) if nesterov else buffers
        if has_sparse_grad:
            for param, grad in zip(group_params, group_grads):
                param.add_(grad, alpha=-lr)
        else:
            torch._foreach_add_(group_params, group_grads, alpha=-lr)


# ----------------------------------------------------------------------- Adagrad


def adagrad_update_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[State],
    *,
    lr: Scalar,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
    initial_accumulator_value: float = 0.0,
) -> None:
    r""":func:`~course_lib.optim.rules.adagrad_update` on lists of tensors at once.

    torch's foreach order: :math:`\theta \mathrel{+}= (-\tilde\eta_t\, g)/(\sqrt{s}+\epsilon)`.
    A (device, dtype) group holding a sparse gradient runs the per-tensor rule, as in torch.

    Args:
        params, grads, states: parameters (updated in place), gradients (never modified),
            one state dict per parameter (created if empty).
        lr, lr_decay, weight_decay, eps, maximize, initial_accumulator_value: as in ``adagrad_update``.

    Returns:
        None.
    """
    _init_states(params, states, adagrad_init_state, initial_accumulator_value)
    for group_params, group_grads, group_states in _by_device_and_dtype(params, grads, states):
        if any(grad.is_sparse for grad in group_grads):
            for param, grad, state in zip(group_params, group_grads, group_states):
                adagrad_update(
                    param, grad, state, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, maximize=maximize
                )
            continue
        sums = [state["sum"] for state in group_states]
        steps = [state["step"] for state in group_states]
        _advance_all(steps)
        group_grads = _signed_with_l2(group_grads, group_params, weight_decay, maximize)
        minus_decayed_lrs = [-lr / (1 + (_value(step) - 1) * lr_decay) for step in steps]
        torch._foreach_addcmul_(sums, group_grads, group_grads, value=1)
        std = torch._foreach_sqrt(sums)
        torch._foreach_add_(std, eps)
        numerator = torch._foreach_mul(group_grads, minus_decayed_lrs)
        torch._foreach_addcdiv_(group_params, numerator, std)


# ----------------------------------------------------------------------- RMSprop


def rmsprop_update_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[State],
    *,
    lr: Scalar,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> None:
    r""":func:`~course_lib.optim.rules.rmsprop_update` on lists of tensors at once.

    Args:
        params, grads, states: parameters (updated in place), gradients (never modified),
            one state dict per parameter (created if empty).
        lr, alpha, eps, weight_decay, momentum, centered, maximize: as in ``rmsprop_update``.

    Returns:
        None.
    """
    _init_states(params, states, rmsprop_init_state, momentum, centered)
    for group_params, group_grads, group_states in _by_device_and_dtype(params, grads, states):
        square_avgs = [state["square_avg"] for state in group_states]
        _advance_all([state["step"] for state in group_states])
        group_grads = _signed_with_l2(group_grads, group_params, weight_decay, maximize)
        torch._foreach_mul_(square_avgs, alpha)
        torch._foreach_addcmul_(square_avgs, group_grads, group_grads, value=1 - alpha)
        if centered:
            grad_avgs = [state["grad_avg"] for state in group_states]
            torch._foreach_lerp_(grad_avgs, group_grads, 1 - alpha)
            avg = torch._foreach_addcmul(square_avgs, grad_avgs, grad_avgs, value=-1)
            torch._foreach_sqrt_(avg)
        else:
            avg = torch._foreach_sqrt(square_avgs)
        torch._foreach_add_(avg, eps)
        if momentum > 0:
            buffers = [state["momentum_buffer"] for state in group_states]
            torch._foreach_mul_(buffers, momentum)
            torch._foreach_addcdiv_(buffers, group_grads, avg)
            torch._foreach_add_(group_params, buffers, alpha=-lr)
        else:
            torch._foreach_addcdiv_(group_params, group_grads, avg, value=-lr)


# ---------------------------------------------------------------------- Adadelta


def adadelta_update_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[State],
    *,
    lr: Scalar = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    r""":func:`~course_lib.optim.rules.adadelta_update` on lists of tensors at once.

    Args:
        params, grads, states: parameters (updated in place), gradients (never modified),
            one state dict per parameter (created if empty).
        lr, rho, eps, weight_decay, maximize: as in ``adadelta_update``.

    Returns:
        None.
    """
    _init_states(params, states, adadelta_init_state)
    for group_params, group_grads, group_states in _by_device_and_dtype(params, grads, states):
        square_avgs = [state["square_avg"] for state in group_states]
        acc_deltas = [state["acc_delta"] for state in group_states]
        _advance_all([state["step"] for state in group_states])
        group_grads = _signed_with_l2(group_grads, group_params, weight_decay, maximize)
        torch._foreach_mul_(square_avgs, rho)
        torch._foreach_addcmul_(square_avgs, group_grads, group_grads, value=1 - rho)
        rms_grads = torch._foreach_add(square_avgs, eps)
        torch._foreach_sqrt_(rms_grads)
        deltas = torch._foreach_add(acc_deltas, eps)
        torch._foreach_sqrt_(deltas)
        torch._foreach_div_(deltas, rms_grads)
        torch._foreach_mul_(deltas, group_grads)
        torch._foreach_mul_(acc_deltas, rho)
        torch._foreach_addcmul_(acc_deltas, deltas, deltas, value=1 - rho)
        torch._foreach_add_(group_params, deltas, alpha=-lr)


# -------------------------------------------------------------------------- Adam


def adam_update_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[State],
    *,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> None:
    r""":func:`~course_lib.optim.rules.adam_update` (or ``adamw_update`` when
    ``decoupled_weight_decay``) on lists of tensors at once.

    As in torch, ``lr`` and the betas must be numbers here, not tensors.

    Args:
        params: parameters, updated in place.
        grads: their gradients, never modified.
        states: one state dict per parameter; empty ones are initialised.
        lr, beta1, beta2, eps, weight_decay, amsgrad, maximize: as in ``adam_update``.
        decoupled_weight_decay: AdamW's decay instead of L2 (default False).

    Returns:
        None.
    """
    _init_states(params, states, adam_init_state, amsgrad)
    for group_params, group_grads, group_states in _by_device_and_dtype(params, grads, states):
        exp_avgs = [state["exp_avg"] for state in group_states]
        exp_avg_sqs = [state["exp_avg_sq"] for state in group_states]
        steps = [state["step"] for state in group_states]
        _advance_all(steps)
        if decoupled_weight_decay:
            group_grads = _signed_with_l2(group_grads, group_params, 0.0, maximize)
            if weight_decay != 0:
                torch._foreach_mul_(group_params, 1 - lr * weight_decay)
        else:
            group_grads = _signed_with_l2(group_grads, group_params, weight_decay, maximize)
        torch._foreach_lerp_(exp_avgs, group_grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, group_grads, group_grads, 1 - beta2)
        if amsgrad:
            max_exp_avg_sqs = [state["max_exp_avg_sq"] for state in group_states]
            torch._foreach_maximum_(max_exp_avg_sqs, exp_avg_sqs)
            exp_avg_sqs = max_exp_avg_sqs
        counts = [_value(step) for step in steps]
        step_sizes = [(lr / (1 - beta1**t)) * -1 for t in counts]
        bias_correction2_sqrts = [(1 - beta2**t) ** 0.5 for t in counts]
        denoms = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denoms, bias_correction2_sqrts)
        torch._foreach_add_(denoms, eps)
        torch._foreach_addcdiv_(group_params, exp_avgs, denoms, step_sizes)


# ------------------------------------------------------------------------ Adamax


def adamax_update_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[State],
    *,
    lr: Scalar = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    r""":func:`~course_lib.optim.rules.adamax_update` on lists of tensors at once.

    Args:
        params, grads, states: parameters (updated in place), gradients (never modified),
            one state dict per parameter (created if empty).
        lr, beta1, beta2, eps, weight_decay, maximize: as in ``adamax_update``.

    Returns:
        None.
    """
    _init_states(params, states, adamax_init_state)
    for group_params, group_grads, group_states in _by_device_and_dtype(params, grads, states):
        exp_avgs = [state["exp_avg"] for state in group_states]
        exp_infs = [state["exp_inf"] for state in group_states]
        steps = [state["step"] for state in group_states]
        _advance_all(steps)
        group_grads = _signed_with_l2(group_grads, group_params, weight_decay, maximize)
        torch._foreach_lerp_(exp_avgs, group_grads, 1 - beta1)
        torch._foreach_mul_(exp_infs, beta2)
        bounds = torch._foreach_abs(group_grads)
        torch._foreach_add_(bounds, eps)
        torch._foreach_maximum_(exp_infs, bounds)
        step_sizes = [(_value(lr) / (1 - beta1 ** _value(step))) * -1 for step in steps]
        torch._foreach_addcdiv_(group_params, exp_avgs, exp_infs, step_sizes)


# ------------------------------------------------------------------------- NAdam


def nadam_update_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[State],
    *,
    lr: Scalar = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> None:
    r""":func:`~course_lib.optim.rules.nadam_update` on lists of tensors at once.

    torch's foreach order: the denominator is :math:`\sqrt{v_t}/\sqrt{1-\beta_2^t}+\epsilon`
    (the loop computes :math:`\sqrt{v_t/(1-\beta_2^t)}+\epsilon`).

    Args:
        params, grads, states: parameters (updated in place), gradients (never modified),
            one state dict per parameter (created if empty).
        lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay,
            maximize: as in ``nadam_update``.

    Returns:
        None.
    """
    _init_states(params, states, nadam_init_state)
    for group_params, group_grads, group_states in _by_device_and_dtype(params, grads, states):
        exp_avgs = [state["exp_avg"] for state in group_states]
        exp_avg_sqs = [state["exp_avg_sq"] for state in group_states]
        mu_products = [state["mu_product"] for state in group_states]
        steps = [state["step"] for state in group_states]
        _advance_all(steps)
        if decoupled_weight_decay:
            group_grads = _signed_with_l2(group_grads, group_params, 0.0, maximize)
            if weight_decay != 0:
                torch._foreach_mul_(group_params, 1 - lr * weight_decay)
        else:
            group_grads = _signed_with_l2(group_grads, group_params, weight_decay, maximize)
        torch._foreach_lerp_(exp_avgs, group_grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, group_grads, group_grads, 1 - beta2)
        denoms = torch._foreach_sqrt(exp_avg_sqs)
        counts = [_value(step) for step in steps]
        bias_correction2_sqrts = [(1 - beta2**t) ** 0.5 for t in counts]
        mus = [beta1 * (1.0 - 0.5 * (0.96 ** (t * momentum_decay))) for t in counts]
        mu_nexts = [beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * momentum_decay))) for t in counts]
        torch._foreach_mul_(mu_products, mus)
        torch._foreach_div_(denoms, bias_correction2_sqrts)
        torch._foreach_add_(denoms, eps)
        lr_value = _value(lr)
        grad_step_sizes = [
            (lr_value * (1.0 - mu) / (1.0 - _value(mu_product))) * -1 for mu_product, mu in zip(mu_products, mus)
        ]
        momentum_step_sizes = [
            (lr_value * mu_next / (1.0 - _value(mu_product) * mu_next)) * -1
            for mu_product, mu_next in zip(mu_products, mu_nexts)
        ]
        torch._foreach_addcdiv_(group_params, group_grads, denoms, grad_step_sizes)
        torch._foreach_addcdiv_(group_params, exp_avgs, denoms, momentum_step_sizes)


# ------------------------------------------------------------------------- RAdam


def radam_update_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[State],
    *,
    lr: Scalar = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> None:
    r""":func:`~course_lib.optim.rules.radam_update` on lists of tensors at once.

    torch's foreach form: one multiplier per coordinate,
    :math:`b = \big((\sqrt{v}+\epsilon) / (-\eta r_t \sqrt{1-\beta_2^t}/(1-\beta_1^t))\big)^{-1}
    - \eta\,[\rho_t \le 5]/(1-\beta_1^t)`, then :math:`\theta \mathrel{+}= m\, b`.

    Args:
        params, grads, states: parameters (updated in place), gradients (never modified),
            one state dict per parameter (created if empty).
        lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, maximize: as in ``radam_update``.

    Returns:
        None.
    """
    _init_states(params, states, radam_init_state)
    rho_inf = 2 / (1 - beta2) - 1
    for group_params, group_grads, group_states in _by_device_and_dtype(params, grads, states):
        exp_avgs = [state["exp_avg"] for state in group_states]
        exp_avg_sqs = [state["exp_avg_sq"] for state in group_states]
        steps = [state["step"] for state in group_states]
        _advance_all(steps)
        counts = [_value(step) for step in steps]
        rho_ts = [rho_inf - 2 * t * (beta2**t) / (1 - beta2**t) for t in counts]
        if decoupled_weight_decay:
            group_grads = _signed_with_l2(group_grads, group_params, 0.0, maximize)
            if weight_decay != 0:
                torch._foreach_mul_(group_params, 1 - lr * weight_decay)
        else:
            group_grads = _signed_with_l2(group_grads, group_params, weight_decay, maximize)
        torch._foreach_lerp_(exp_avgs, group_grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, group_grads, group_grads, 1 - beta2)
        rectifications = [
            ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5 if rho_t > 5 else 0
            for rho_t in rho_ts
        ]
        unrectified = [0 if rectification > 0 else 1.0 for rectification in rectifications]
        bias_corrections1 = [1 - beta1**t for t in counts]
        unrectified_step_sizes = [(lr * flag / bc) * -1 for flag, bc in zip(unrectified, bias_corrections1)]
        rectified_step_sizes = [
            ((1 - beta2**t) ** 0.5) * (lr * rectification / bc) * -1
            for t, rectification, bc in zip(counts, rectifications, bias_corrections1)
        ]
        multipliers = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_add_(multipliers, eps)
        torch._foreach_div_(multipliers, rectified_step_sizes)
        torch._foreach_reciprocal_(multipliers)
        torch._foreach_add_(multipliers, unrectified_step_sizes)
        torch._foreach_addcmul_(group_params, exp_avgs, multipliers)


# ------------------------------------------------------------------------- Rprop


def rprop_update_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[State],
    *,
    lr: Scalar = 1e-2,
    etaminus: float = 0.5,
    etaplus: float = 1.2,
    step_size_min: float = 1e-6,
    step_size_max: float = 50.0,
    maximize: bool = False,
) -> None:
    r""":func:`~course_lib.optim.rules.rprop_update` on lists of tensors at once.

    Args:
        params, grads, states: parameters (updated in place), gradients (never modified),
            one state dict per parameter (created if empty).
        lr, etaminus, etaplus, step_size_min, step_size_max, maximize: as in ``rprop_update``.

    Returns:
        None.
    """
    _init_states(params, states, rprop_init_state, lr)
    for group_params, group_grads, group_states in _by_device_and_dtype(params, grads, states):
        prevs = [state["prev"] for state in group_states]
        step_sizes = [state["step_size"] for state in group_states]
        _advance_all([state["step"] for state in group_states])
        factors = torch._foreach_mul(group_grads, prevs)
        if maximize:
            torch._foreach_neg_(factors)
        # prev becomes this step's gradient (with the sign of maximize), zeroed below where it flipped
        torch._foreach_copy_(prevs, group_grads)
        if maximize:
            torch._foreach_neg_(prevs)
        torch._foreach_sign_(factors)
        for factor in factors:
            factor[factor.gt(0)] = etaplus
            factor[factor.lt(0)] = etaminus
            factor[factor.eq(0)] = 1
        torch._foreach_mul_(step_sizes, factors)
        for step_size in step_sizes:
            step_size.clamp_(step_size_min, step_size_max)
        for prev, factor in zip(prevs, factors):
            prev.copy_(torch.where(factor.eq(etaminus), 0, prev))
        torch._foreach_addcmul_(group_params, [prev.sign() for prev in prevs], step_sizes, value=-1)


# -------------------------------------------------------------------------- ASGD


def asgd_update_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[State],
    *,
    lr: Scalar = 1e-2,
    lambd: float = 1e-4,
    alpha: float = 0.75,
    t0: float = 1e6,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    r""":func:`~course_lib.optim.rules.asgd_update` on lists of tensors at once.

    torch's foreach form: :math:`\theta \leftarrow \theta - \eta_t(g + \lambda\theta)` and
    :math:`\bar\theta \leftarrow \bar\theta + \mu_t(\theta - \bar\theta)` at every step, with
    the next :math:`\eta` computed from the float32 step counter.

    Args:
        params, grads, states: parameters (updated in place), gradients (never modified),
            one state dict per parameter (created if empty).
        lr, lambd, alpha, t0, weight_decay, maximize: as in ``asgd_update``.

    Returns:
        None.
    """
    _init_states(params, states, asgd_init_state, lr)
    for group_params, group_grads, group_states in _by_device_and_dtype(params, grads, states):
        device = group_params[0].device
        axs = [state["ax"] for state in group_states]
        mus = [state["mu"] for state in group_states]
        etas = [state["eta"] for state in group_states]
        steps = [state["step"] for state in group_states]
        _advance_all(steps)
        directions = _signed_with_l2(group_grads, group_params, weight_decay, maximize)
        directions = torch._foreach_add(directions, group_params, alpha=lambd)
        torch._foreach_addcmul_(group_params, directions, etas, value=-1)
        gaps = torch._foreach_sub(group_params, axs)
        torch._foreach_addcmul_(axs, gaps, mus)
        new_etas = [torch.as_tensor(lr / ((1 + lambd * lr * step) ** alpha), device=device) for step in steps]
        new_mus = [torch.as_tensor(1 / max(1, _value(step) - t0), device=device) for step in steps]
        torch._foreach_copy_(etas, new_etas)
        torch._foreach_copy_(mus, new_mus)
