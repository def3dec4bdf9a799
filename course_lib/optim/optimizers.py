r"""Drop-in replacements for ``torch.optim`` optimizers, built on the readable update rules.

Swap ``torch.optim.AdamW`` for ``course_lib.optim.AdamW`` and a training script computes
the same numbers: each class has torch 2.13's name, signature, defaults, ``ValueError``
messages, state keys and ``state_dict`` layout, and its step applies the per-tensor rule
from :mod:`course_lib.optim.rules`, whose docstrings carry the equations. torch's
kernel flags are handled as described in :class:`~course_lib.optim.PerTensorOptimizer`:
``foreach=True`` picks :mod:`course_lib.optim.foreach` where it exists (SGD, Adam,
AdamW, AdamL2), ``fused``, ``capturable`` and ``differentiable`` are refused.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim.optimizer import ParamsT

from ._base import (
    ParamGroup,
    ParamState,
    PerTensorOptimizer,
    as_scalar,
    check_betas,
    check_tensor_lr,
    refuse_torch_only_flags,
)
from .foreach import adam_update_foreach, sgd_update_foreach
from .rules import (
    adadelta_update,
    adagrad_init_state,
    adagrad_update,
    adam_update,
    adamax_update,
    adamw_update,
    nadam_update,
    radam_update,
    rmsprop_update,
    sgd_update,
)

__all__ = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "AdamL2", "Adamax", "NAdam", "RAdam"]


class SGD(PerTensorOptimizer):
    r"""Stochastic gradient descent with optional momentum, a drop-in for ``torch.optim.SGD``.

    Each step applies :func:`~course_lib.optim.rules.sgd_update` to every parameter
    with a gradient:
    :math:`b \leftarrow \mu b + (1-\tau)(g + \lambda\theta)`,
    :math:`\theta \leftarrow \theta - \eta\, b` (or :math:`- \eta(g + \mu b)` with Nesterov).
    State: ``momentum_buffer`` (only with momentum), initialised from the first gradient.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 1e-3).
        momentum: :math:`\mu` (default 0).
        dampening: :math:`\tau` (default 0).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        nesterov: Nesterov momentum; needs momentum > 0 and dampening 0 (default False).
        maximize: maximize the objective (default False).
        foreach: True runs :func:`~course_lib.optim.foreach.sgd_update_foreach` (default None).
        differentiable: must be False. fused: must be None or False.

    Reference:
        Polyak (1964); Nesterov: Sutskever, Martens, Dahl & Hinton (2013).

    Example:
        >>> model = torch.nn.Linear(3, 1)
        >>> optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    """

    supports_foreach = True
    supports_sparse_grads = True
    legacy_group_defaults = {
        "nesterov": False, "maximize": False, "foreach": None, "differentiable": False, "fused": False,
    }

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float | torch.Tensor = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_tensor_lr(lr)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        refuse_torch_only_flags("SGD", fused=fused, differentiable=differentiable)
        super().__init__(params, defaults)

    @staticmethod
    def _settings(group: ParamGroup) -> dict[str, Any]:
        return {
            "lr": as_scalar(group["lr"]),
            "momentum": group["momentum"],
            "dampening": group["dampening"],
            "weight_decay": group["weight_decay"],
            "nesterov": group["nesterov"],
            "maximize": group["maximize"],
        }

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        sgd_update(param, grad, state, **self._settings(group))

    def update_foreach(
        self, params: list[torch.Tensor], grads: list[torch.Tensor], states: list[ParamState], group: ParamGroup
    ) -> None:
        sgd_update_foreach(params, grads, states, **self._settings(group))


class Adagrad(PerTensorOptimizer):
    r"""Adagrad, a drop-in for ``torch.optim.Adagrad``.

    Each step applies :func:`~course_lib.optim.rules.adagrad_update`:
    :math:`s \leftarrow s + g^2`, :math:`\theta \leftarrow \theta - \tilde\eta\, g/(\sqrt{s}+\epsilon)`.
    As in torch, the state (``step``, ``sum``) is created in the constructor, and
    parameters added later with ``add_param_group`` start from the constructor's
    ``initial_accumulator_value`` (a group's own value is ignored, a torch quirk kept).

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 1e-2).
        lr_decay: :math:`\delta` in :math:`\tilde\eta = \eta/(1+(t-1)\delta)` (default 0).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        initial_accumulator_value: starting value of ``sum`` (default 0).
        eps: :math:`\epsilon`, outside the square root (default 1e-10).
        foreach: accepted; the per-tensor path runs (default None).
        maximize: maximize the objective (default False).
        differentiable: must be False. fused: must be None or False.

    Reference:
        Duchi, Hazan & Singer (2011), JMLR 12.

    Example:
        >>> optimizer = Adagrad(torch.nn.Linear(3, 1).parameters(), lr=0.1)
    """

    supports_sparse_grads = True
    legacy_group_defaults = {"foreach": None, "maximize": False, "differentiable": False, "fused": None}

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        refuse_torch_only_flags("Adagrad", fused=fused, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param] = adagrad_init_state(param, initial_accumulator_value)

    def share_memory(self) -> None:
        """Move the ``sum`` accumulators to shared memory (for multiprocessing), as torch does."""
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param]["sum"].share_memory_()

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        adagrad_update(
            param, grad, state,
            lr=as_scalar(group["lr"]),
            lr_decay=group["lr_decay"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
            initial_accumulator_value=self.defaults["initial_accumulator_value"],
        )


class RMSprop(PerTensorOptimizer):
    r"""RMSprop, a drop-in for ``torch.optim.RMSprop`` (plain, centered, with momentum).

    Each step applies :func:`~course_lib.optim.rules.rmsprop_update`:
    :math:`v \leftarrow \alpha v + (1-\alpha) g^2`,
    :math:`\theta \leftarrow \theta - \eta\, g/(\sqrt{v}+\epsilon)`.
    State: ``step``, ``square_avg``, and ``momentum_buffer`` / ``grad_avg`` when
    ``momentum > 0`` / ``centered``.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 1e-2).
        alpha: smoothing constant :math:`\alpha` (default 0.99).
        eps: :math:`\epsilon`, outside the square root (default 1e-8).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        momentum: :math:`\mu` (default 0).
        centered: normalise by the estimated standard deviation (default False).
        capturable: must be False.
        foreach: accepted; the per-tensor path runs (default None).
        maximize: maximize the objective (default False).
        differentiable: must be False.

    Reference:
        Tieleman & Hinton (2012), lecture 6.5; centered: Graves (2013).

    Example:
        >>> optimizer = RMSprop(torch.nn.Linear(3, 1).parameters(), lr=1e-3, centered=True)
    """

    legacy_group_defaults = {
        "momentum": 0, "centered": False, "foreach": None, "maximize": False, "differentiable": False,
        "capturable": False,
    }

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        refuse_torch_only_flags("RMSprop", capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        rmsprop_update(
            param, grad, state,
            lr=as_scalar(group["lr"]),
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            centered=group["centered"],
            maximize=group["maximize"],
        )


class Adadelta(PerTensorOptimizer):
    r"""Adadelta, a drop-in for ``torch.optim.Adadelta``.

    Each step applies :func:`~course_lib.optim.rules.adadelta_update`:
    :math:`\Delta = \sqrt{u+\epsilon}/\sqrt{v+\epsilon}\; g`, :math:`\theta \leftarrow \theta - \eta\Delta`.
    State: ``step``, ``square_avg``, ``acc_delta``.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: multiplier :math:`\eta` on the update (default 1.0).
        rho: decay :math:`\rho` of both running averages (default 0.9).
        eps: :math:`\epsilon`, inside the square roots (default 1e-6).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        foreach: accepted; the per-tensor path runs (default None).
        capturable: must be False.
        maximize: maximize the objective (default False).
        differentiable: must be False.

    Reference:
        Zeiler (2012), Algorithm 1.

    Example:
        >>> optimizer = Adadelta(torch.nn.Linear(3, 1).parameters())
    """

    legacy_group_defaults = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        refuse_torch_only_flags("Adadelta", capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        adadelta_update(
            param, grad, state,
            lr=as_scalar(group["lr"]),
            rho=group["rho"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
        )


class Adam(PerTensorOptimizer):
    r"""Adam (and AMSGrad), a drop-in for ``torch.optim.Adam``.

    Each step applies :func:`~course_lib.optim.rules.adam_update`:
    :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`, :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
    :math:`\theta \leftarrow \theta - \eta\,\hat m/(\sqrt{\hat v}+\epsilon)` with bias-corrected
    :math:`\hat m, \hat v`. ``weight_decay`` is an L2 term added to :math:`g`; with
    ``decoupled_weight_decay=True`` (new in torch 2.6) the step is
    :func:`~course_lib.optim.rules.adamw_update` instead, i.e. AdamW.
    State: ``step``, ``exp_avg``, ``exp_avg_sq`` (+ ``max_exp_avg_sq`` with AMSGrad).

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon`, outside the square root (default 1e-8).
        weight_decay: :math:`\lambda` (default 0).
        amsgrad: AMSGrad variant (default False).
        foreach: True runs :func:`~course_lib.optim.foreach.adam_update_foreach` (default None).
        maximize: maximize the objective (default False).
        capturable, differentiable: must be False. fused: must be None or False.
        decoupled_weight_decay: decay as AdamW does (default False).

    Reference:
        Kingma & Ba (2015), Algorithm 1; AMSGrad: Reddi, Kale & Kumar (2018).

    Example:
        >>> optimizer = Adam(torch.nn.Linear(3, 1).parameters(), lr=1e-3, amsgrad=True)
    """

    supports_foreach = True
    sparse_grad_error = "Adam does not support sparse gradients, please consider SparseAdam instead"
    legacy_group_defaults = {
        "amsgrad": False, "maximize": False, "foreach": None, "capturable": False, "differentiable": False,
        "decoupled_weight_decay": False, "fused": None,
    }

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float | torch.Tensor, float | torch.Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        if isinstance(lr, torch.Tensor):
            if foreach and not capturable:
                raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
            if lr.numel() != 1:
                raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not (
            (isinstance(betas[0], float) and isinstance(betas[1], float))
            or (isinstance(betas[0], torch.Tensor) and isinstance(betas[1], torch.Tensor))
        ):
            raise ValueError("betas must be either both floats or both Tensors")
        for index, beta in enumerate(betas):
            if isinstance(beta, torch.Tensor):
                if not capturable and foreach:
                    raise ValueError(
                        f"betas[{index}] as a Tensor is not supported for capturable=False and foreach=True"
                    )
                if beta.numel() != 1:
                    raise ValueError(f"Tensor betas[{index}] must be 1-element")
        refuse_torch_only_flags(
            type(self).__name__, fused=fused, capturable=capturable, differentiable=differentiable
        )
        defaults = {
            "lr": lr,
            "betas": tuple(as_scalar(beta) for beta in betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    @staticmethod
    def _settings(group: ParamGroup) -> dict[str, Any]:
        beta1, beta2 = group["betas"]
        return {
            "lr": as_scalar(group["lr"]),
            "beta1": as_scalar(beta1),
            "beta2": as_scalar(beta2),
            "eps": group["eps"],
            "weight_decay": group["weight_decay"],
            "amsgrad": group["amsgrad"],
            "maximize": group["maximize"],
        }

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        rule = adamw_update if group["decoupled_weight_decay"] else adam_update
        rule(param, grad, state, **self._settings(group))

    def update_foreach(
        self, params: list[torch.Tensor], grads: list[torch.Tensor], states: list[ParamState], group: ParamGroup
    ) -> None:
        adam_update_foreach(
            params, grads, states,
            decoupled_weight_decay=group["decoupled_weight_decay"],
            **self._settings(group),
        )


class AdamW(Adam):
    r"""AdamW, a drop-in for ``torch.optim.AdamW``: decoupled weight decay, then an Adam step.

    Each step applies :func:`~course_lib.optim.rules.adamw_update`, which is
    literally :func:`~course_lib.optim.decoupled_weight_decay_` (:math:`\theta \leftarrow
    (1-\eta\lambda)\theta`) followed by :func:`~course_lib.optim.rules.adam_update`
    with no L2 term. Contrast :class:`AdamL2`, where :math:`\lambda\theta` joins the
    gradient and is rescaled by :math:`1/\sqrt{\hat v}`. torch's defaults: lr 1e-3,
    betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2, amsgrad False; the decay is
    multiplied by ``lr``. Same state as :class:`Adam`.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: decoupled decay :math:`\lambda` (default 1e-2).
        amsgrad: AMSGrad variant (default False).
        maximize: maximize the objective (default False).
        foreach: True runs :func:`~course_lib.optim.foreach.adam_update_foreach` (default None).
        capturable, differentiable: must be False. fused: must be None or False.

    Reference:
        Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", Algorithm 2.

    Example:
        >>> model = torch.nn.Linear(3, 1)
        >>> optimizer = AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float | torch.Tensor, float | torch.Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad,
            foreach=foreach, maximize=maximize, capturable=capturable,
            differentiable=differentiable, fused=fused, decoupled_weight_decay=True,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        adamw_update(param, grad, state, **self._settings(group))


class AdamL2(Adam):
    r"""Adam with an L2 penalty in the gradient: ``torch.optim.Adam(weight_decay=...)`` by its own name.

    A teaching alias, signed like :class:`AdamW` (same defaults, weight_decay 1e-2) so
    that the two differ only in *where* :math:`\lambda\theta` enters:

    .. math::
        \text{AdamL2: } g \leftarrow g + \lambda\theta \text{ then Adam}, \qquad
        \text{AdamW: } \theta \leftarrow (1-\eta\lambda)\theta \text{ then Adam with } g.

    Numerically and in its ``state_dict`` it is ``torch.optim.Adam`` with the same
    arguments.

    Args:
        params, lr, betas, eps, amsgrad, maximize, foreach, capturable, differentiable,
            fused: as in :class:`AdamW`.
        weight_decay: L2 coefficient :math:`\lambda` (default 1e-2).

    Reference:
        Loshchilov & Hutter (2019), Section 2 (L2 and weight decay are not identical
        for adaptive gradient methods).

    Example:
        >>> optimizer = AdamL2(torch.nn.Linear(3, 1).parameters(), weight_decay=0.01)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float | torch.Tensor, float | torch.Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad,
            foreach=foreach, maximize=maximize, capturable=capturable,
            differentiable=differentiable, fused=fused, decoupled_weight_decay=False,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = False


class Adamax(PerTensorOptimizer):
    r"""Adamax, a drop-in for ``torch.optim.Adamax``.

    Each step applies :func:`~course_lib.optim.rules.adamax_update`:
    :math:`u \leftarrow \max(\beta_2 u, |g| + \epsilon)`,
    :math:`\theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\, m/u`.
    State: ``step``, ``exp_avg``, ``exp_inf``.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 2e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon`, inside the max (default 1e-8).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        foreach: accepted; the per-tensor path runs (default None).
        maximize: maximize the objective (default False).
        differentiable, capturable: must be False.

    Reference:
        Kingma & Ba (2015), Algorithm 2.

    Example:
        >>> optimizer = Adamax(torch.nn.Linear(3, 1).parameters())
    """

    legacy_group_defaults = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        refuse_torch_only_flags("Adamax", capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        beta1, beta2 = group["betas"]
        adamax_update(
            param, grad, state,
            lr=as_scalar(group["lr"]),
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
        )


class NAdam(PerTensorOptimizer):
    r"""NAdam (Adam with Nesterov momentum), a drop-in for ``torch.optim.NAdam``.

    Each step applies :func:`~course_lib.optim.rules.nadam_update`, which mixes the
    current gradient (weight :math:`1-\mu_t`) with the momentum looked ahead one step
    (weight :math:`\mu_{t+1}`), :math:`\mu_t = \beta_1(1 - \frac12 0.96^{t\psi})`.
    State: ``step``, ``mu_product``, ``exp_avg``, ``exp_avg_sq``.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 2e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: :math:`\lambda` (default 0).
        momentum_decay: :math:`\psi` (default 4e-3).
        decoupled_weight_decay: AdamW-style decay instead of L2 (default False).
        foreach: accepted; the per-tensor path runs (default None).
        maximize: maximize the objective (default False).
        capturable, differentiable: must be False.

    Reference:
        Dozat (2016), "Incorporating Nesterov Momentum into Adam", ICLR workshop.

    Example:
        >>> optimizer = NAdam(torch.nn.Linear(3, 1).parameters(), decoupled_weight_decay=True)
    """

    legacy_group_defaults = {
        "maximize": False, "foreach": None, "capturable": False, "differentiable": False,
        "decoupled_weight_decay": False,
    }
    scalar_state_keys = ("step", "mu_product")

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        refuse_torch_only_flags("NAdam", capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        beta1, beta2 = group["betas"]
        nadam_update(
            param, grad, state,
            lr=as_scalar(group["lr"]),
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum_decay=group["momentum_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            maximize=group["maximize"],
        )


class RAdam(PerTensorOptimizer):
    r"""RAdam (rectified Adam), a drop-in for ``torch.optim.RAdam``.

    Each step applies :func:`~course_lib.optim.rules.radam_update`: Adam's moments, a
    plain momentum step while the variance of the adaptive rate is intractable
    (:math:`\rho_t \le 5`, the first 5 steps with the default :math:`\beta_2`), then
    the adaptive step scaled by the rectification term :math:`r_t`.
    ``decoupled_weight_decay=True`` gives RAdamW. State: ``step``, ``exp_avg``,
    ``exp_avg_sq``.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 1e-3), a float or a 1-element tensor.
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon`, added to :math:`\sqrt{v}` before bias correction (default 1e-8).
        weight_decay: :math:`\lambda` (default 0).
        decoupled_weight_decay: AdamW-style decay instead of L2 (default False).
        foreach: accepted; the per-tensor path runs (default None).
        maximize: maximize the objective (default False).
        capturable, differentiable: must be False.

    Reference:
        Liu et al. (2020), "On the Variance of the Adaptive Learning Rate and Beyond", ICLR.

    Example:
        >>> optimizer = RAdam(torch.nn.Linear(3, 1).parameters(), lr=1e-3, decoupled_weight_decay=True)
    """

    legacy_group_defaults = {
        "foreach": None, "maximize": False, "differentiable": False, "decoupled_weight_decay": False,
        "capturable": False,
    }

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        refuse_torch_only_flags("RAdam", capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        beta1, beta2 = group["betas"]
        radam_update(
            param, grad, state,
            lr=as_scalar(group["lr"]),
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            maximize=group["maximize"],
        )
