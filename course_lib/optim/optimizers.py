r"""Drop-in replacements for ``torch.optim`` optimizers, built on the readable update rules.

Swap ``torch.optim.AdamW`` for ``course_lib.optim.AdamW`` and a training script computes
the same numbers: each class has torch 2.13's name, signature, defaults, ``ValueError``
messages, state keys and ``state_dict`` layout, and its step applies the per-tensor rule
from :mod:`course_lib.optim.rules`, whose docstrings carry the equations. torch's
kernel flags are handled as described in :class:`~course_lib.optim.PerTensorOptimizer`:
``foreach=True`` runs the rule's twin in :mod:`course_lib.optim.foreach` (torch's own
foreach arithmetic), ``fused``, ``capturable`` and ``differentiable`` are refused.
``LBFGS`` is in :mod:`course_lib.optim.lbfgs`; the package docstring has the table of
what matches torch how.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

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
from .foreach import (
    adadelta_update_foreach,
    adagrad_update_foreach,
    adam_update_foreach,
    adamax_update_foreach,
    asgd_update_foreach,
    nadam_update_foreach,
    radam_update_foreach,
    rmsprop_update_foreach,
    rprop_update_foreach,
    sgd_update_foreach,
)
from .rules import (
    adadelta_update,
    adagrad_init_state,
    adagrad_update,
    adam_update,
    adamax_update,
    adamw_update,
    asgd_update,
    nadam_update,
    radam_update,
    rmsprop_update,
    rprop_update,
    sgd_update,
    sparse_adam_update,
)

__all__ = [
    "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "AdamL2", "Adamax", "NAdam", "RAdam",
    "Rprop", "ASGD", "SparseAdam", "RuleOptimizer",
]


class RuleOptimizer(PerTensorOptimizer):
    """A drop-in whose step is one rule of :mod:`~course_lib.optim.rules` (``foreach=False``
    or None) or its twin in :mod:`~course_lib.optim.foreach` (``foreach=True``), called
    with the hyperparameters that :meth:`settings` reads from a param group.

    A subclass sets ``rule`` and ``foreach_rule`` (as ``staticmethod``) and implements
    :meth:`settings`; its constructor validates the arguments and builds the defaults.

    Example:
        >>> class PlainSGD(RuleOptimizer):
        ...     rule, foreach_rule = staticmethod(sgd_update), staticmethod(sgd_update_foreach)
        ...     def __init__(self, params, lr=1e-3):
        ...         super().__init__(params, {"lr": lr, "foreach": None})
        ...     def settings(self, group):
        ...         return {"lr": group["lr"]}
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> w.grad = torch.ones(2)
        >>> PlainSGD([w], lr=0.5).step()
        >>> w.detach()
        tensor([0.5000, 0.5000])
    """

    supports_foreach = True
    rule: ClassVar[Callable[..., None]]
    foreach_rule: ClassVar[Callable[..., None]]

    def settings(self, group: ParamGroup) -> dict[str, Any]:
        """The rule's keyword arguments for the parameters of ``group``."""
        raise NotImplementedError

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        self.rule(param, grad, state, **self.settings(group))

    def update_foreach(
        self, params: list[torch.Tensor], grads: list[torch.Tensor], states: list[ParamState], group: ParamGroup
    ) -> None:
        self.foreach_rule(params, grads, states, **self.settings(group))


class SGD(RuleOptimizer):
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

    rule = staticmethod(sgd_update)
    foreach_rule = staticmethod(sgd_update_foreach)
    supports_sparse_grads = True
    legacy_group_defaults: ClassVar[dict[str, Any]] = {
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

    def settings(self, group: ParamGroup) -> dict[str, Any]:
        return {
            "lr": as_scalar(group["lr"]),
            "momentum": group["momentum"],
            "dampening": group["dampening"],
            "weight_decay": group["weight_decay"],
            "nesterov": group["nesterov"],
            "maximize": group["maximize"],
        }


class Adagrad(RuleOptimizer):
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
        foreach: True runs :func:`~course_lib.optim.foreach.adagrad_update_foreach`, torch's
            foreach arithmetic (default None).
        maximize: maximize the objective (default False).
        differentiable: must be False. fused: must be None or False.

    Reference:
        Duchi, Hazan & Singer (2011), JMLR 12.

    Example:
        >>> optimizer = Adagrad(torch.nn.Linear(3, 1).parameters(), lr=0.1)
    """

    rule = staticmethod(adagrad_update)
    foreach_rule = staticmethod(adagrad_update_foreach)
    supports_sparse_grads = True
    legacy_group_defaults: ClassVar[dict[str, Any]] = {"foreach": None, "maximize": False, "differentiable": False, "fused": None}

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

    def settings(self, group: ParamGroup) -> dict[str, Any]:
        return {
            "lr": as_scalar(group["lr"]),
            "lr_decay": group["lr_decay"],
            "weight_decay": group["weight_decay"],
            "eps": group["eps"],
            "maximize": group["maximize"],
            "initial_accumulator_value": self.defaults["initial_accumulator_value"],
        }


class RMSprop(RuleOptimizer):
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
        foreach: True runs :func:`~course_lib.optim.foreach.rmsprop_update_foreach`, torch's
            foreach arithmetic (default None).
        maximize: maximize the objective (default False).
        differentiable: must be False.

    Reference:
        Tieleman & Hinton (2012), lecture 6.5; centered: Graves (2013).

    Example:
        >>> optimizer = RMSprop(torch.nn.Linear(3, 1).parameters(), lr=1e-3, centered=True)
    """

    rule = staticmethod(rmsprop_update)
    foreach_rule = staticmethod(rmsprop_update_foreach)
    legacy_group_defaults: ClassVar[dict[str, Any]] = {
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

    def settings(self, group: ParamGroup) -> dict[str, Any]:
        return {
            "lr": as_scalar(group["lr"]),
            "alpha": group["alpha"],
            "eps": group["eps"],
            "weight_decay": group["weight_decay"],
            "momentum": group["momentum"],
            "centered": group["centered"],
            "maximize": group["maximize"],
        }


class Adadelta(RuleOptimizer):
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
        foreach: True runs :func:`~course_lib.optim.foreach.adadelta_update_foreach`, torch's
            foreach arithmetic (default None).
        capturable: must be False.
        maximize: maximize the objective (default False).
        differentiable: must be False.

    Reference:
        Zeiler (2012), Algorithm 1.

    Example:
        >>> optimizer = Adadelta(torch.nn.Linear(3, 1).parameters())
    """

    rule = staticmethod(adadelta_update)
    foreach_rule = staticmethod(adadelta_update_foreach)
    legacy_group_defaults: ClassVar[dict[str, Any]] = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

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

    def settings(self, group: ParamGroup) -> dict[str, Any]:
        return {
            "lr": as_scalar(group["lr"]),
            "rho": group["rho"],
            "eps": group["eps"],
            "weight_decay": group["weight_decay"],
            "maximize": group["maximize"],
        }


class Adam(RuleOptimizer):
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

    sparse_grad_error = "Adam does not support sparse gradients, please consider SparseAdam instead"
    legacy_group_defaults: ClassVar[dict[str, Any]] = {
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

    def settings(self, group: ParamGroup) -> dict[str, Any]:
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
        rule(param, grad, state, **self.settings(group))

    def update_foreach(
        self, params: list[torch.Tensor], grads: list[torch.Tensor], states: list[ParamState], group: ParamGroup
    ) -> None:
        settings = self.settings(group)
        if torch.is_tensor(settings["lr"]):
            raise RuntimeError("lr as a Tensor is not supported for capturable=False and foreach=True")
        for name in ("beta1", "beta2"):
            if torch.is_tensor(settings[name]):
                raise ValueError(f"{name} as a Tensor is not supported for capturable=False and foreach=True")
        adam_update_foreach(
            params, grads, states, decoupled_weight_decay=group["decoupled_weight_decay"], **settings
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
        adamw_update(param, grad, state, **self.settings(group))


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


class Adamax(RuleOptimizer):
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
        foreach: True runs :func:`~course_lib.optim.foreach.adamax_update_foreach`, torch's
            foreach arithmetic (default None).
        maximize: maximize the objective (default False).
        differentiable, capturable: must be False.

    Reference:
        Kingma & Ba (2015), Algorithm 2.

    Example:
        >>> optimizer = Adamax(torch.nn.Linear(3, 1).parameters())
    """

    rule = staticmethod(adamax_update)
    foreach_rule = staticmethod(adamax_update_foreach)
    legacy_group_defaults: ClassVar[dict[str, Any]] = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

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

    def settings(self, group: ParamGroup) -> dict[str, Any]:
        beta1, beta2 = group["betas"]
        return {
            "lr": as_scalar(group["lr"]),
            "beta1": beta1,
            "beta2": beta2,
            "eps": group["eps"],
            "weight_decay": group["weight_decay"],
            "maximize": group["maximize"],
        }


class NAdam(RuleOptimizer):
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
        foreach: True runs :func:`~course_lib.optim.foreach.nadam_update_foreach`, torch's
            foreach arithmetic (default None).
        maximize: maximize the objective (default False).
        capturable, differentiable: must be False.

    Reference:
        Dozat (2016), "Incorporating Nesterov Momentum into Adam", ICLR workshop.

    Example:
        >>> optimizer = NAdam(torch.nn.Linear(3, 1).parameters(), decoupled_weight_decay=True)
    """

    rule = staticmethod(nadam_update)
    foreach_rule = staticmethod(nadam_update_foreach)
    legacy_group_defaults: ClassVar[dict[str, Any]] = {
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

    def settings(self, group: ParamGroup) -> dict[str, Any]:
        beta1, beta2 = group["betas"]
        return {
            "lr": as_scalar(group["lr"]),
            "beta1": beta1,
            "beta2": beta2,
            "eps": group["eps"],
            "weight_decay": group["weight_decay"],
            "momentum_decay": group["momentum_decay"],
            "decoupled_weight_decay": group["decoupled_weight_decay"],
            "maximize": group["maximize"],
        }


class RAdam(RuleOptimizer):
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
        foreach: True runs :func:`~course_lib.optim.foreach.radam_update_foreach`, torch's
            foreach arithmetic (default None).
        maximize: maximize the objective (default False).
        capturable, differentiable: must be False.

    Reference:
        Liu et al. (2020), "On the Variance of the Adaptive Learning Rate and Beyond", ICLR.

    Example:
        >>> optimizer = RAdam(torch.nn.Linear(3, 1).parameters(), lr=1e-3, decoupled_weight_decay=True)
    """

    rule = staticmethod(radam_update)
    foreach_rule = staticmethod(radam_update_foreach)
    legacy_group_defaults: ClassVar[dict[str, Any]] = {
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

    def settings(self, group: ParamGroup) -> dict[str, Any]:
        beta1, beta2 = group["betas"]
        return {
            "lr": as_scalar(group["lr"]),
            "beta1": beta1,
            "beta2": beta2,
            "eps": group["eps"],
            "weight_decay": group["weight_decay"],
            "decoupled_weight_decay": group["decoupled_weight_decay"],
            "maximize": group["maximize"],
        }


class Rprop(RuleOptimizer):
    r"""Rprop (resilient backpropagation), a drop-in for ``torch.optim.Rprop``.

    Each step applies :func:`~course_lib.optim.rules.rprop_update`: one step size per
    coordinate, multiplied by :math:`\eta^+` while the gradient keeps its sign and by
    :math:`\eta^-` when it flips, and a step of that size against the gradient's sign.
    State: ``step``, ``prev``, ``step_size``.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: initial step size of every coordinate (default 1e-2).
        etas: :math:`(\eta^-, \eta^+)`, with :math:`0 < \eta^- < 1 < \eta^+` (default (0.5, 1.2)).
        step_sizes: :math:`(\Delta_{\min}, \Delta_{\max})` (default (1e-6, 50)).
        capturable, differentiable: must be False.
        foreach: True runs :func:`~course_lib.optim.foreach.rprop_update_foreach` (default None).
        maximize: maximize the objective (default False).

    Reference:
        Riedmiller & Braun (1993), ICNN.

    Example:
        >>> optimizer = Rprop(torch.nn.Linear(3, 1).parameters(), lr=0.01)
    """

    rule = staticmethod(rprop_update)
    foreach_rule = staticmethod(rprop_update_foreach)
    legacy_group_defaults: ClassVar[dict[str, Any]] = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        refuse_torch_only_flags("Rprop", capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def settings(self, group: ParamGroup) -> dict[str, Any]:
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        return {
            "lr": as_scalar(group["lr"]),
            "etaminus": etaminus,
            "etaplus": etaplus,
            "step_size_min": step_size_min,
            "step_size_max": step_size_max,
            "maximize": group["maximize"],
        }


class ASGD(RuleOptimizer):
    r"""Averaged SGD, a drop-in for ``torch.optim.ASGD``.

    Each step applies :func:`~course_lib.optim.rules.asgd_update`: an SGD step with the
    decaying step size :math:`\eta_t = \eta_0/(1+\lambda\eta_0 t)^\alpha` and a shrink
    :math:`1-\lambda\eta_t`, and, from step ``t0`` on, a running average of the
    iterates in ``state["ax"]`` (the parameters themselves are not averaged). State:
    ``step``, ``eta``, ``mu`` (0-dim, on the parameter's device) and ``ax``.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: initial step size :math:`\eta_0` (default 1e-2).
        lambd: decay term :math:`\lambda` (default 1e-4).
        alpha: power of the step-size decay (default 0.75).
        t0: step at which averaging starts (default 1e6).
        weight_decay: L2 penalty (default 0).
        foreach: True runs :func:`~course_lib.optim.foreach.asgd_update_foreach`, torch's
            foreach arithmetic (default None).
        maximize: maximize the objective (default False).
        differentiable, capturable: must be False.

    Reference:
        Polyak & Juditsky (1992), SIAM J. Control Optim. 30(4).

    Example:
        >>> optimizer = ASGD(torch.nn.Linear(3, 1).parameters(), lr=0.01, t0=100)
    """

    rule = staticmethod(asgd_update)
    foreach_rule = staticmethod(asgd_update_foreach)
    legacy_group_defaults: ClassVar[dict[str, Any]] = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}
    scalar_state_keys = ("step", "eta", "mu")
    scalar_state_on_param_device = True

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        refuse_torch_only_flags("ASGD", capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def settings(self, group: ParamGroup) -> dict[str, Any]:
        return {
            "lr": as_scalar(group["lr"]),
            "lambd": group["lambd"],
            "alpha": group["alpha"],
            "t0": group["t0"],
            "weight_decay": group["weight_decay"],
            "maximize": group["maximize"],
        }


class SparseAdam(PerTensorOptimizer):
    r"""Adam for dense parameters with sparse gradients, a drop-in for ``torch.optim.SparseAdam``.

    Each step applies :func:`~course_lib.optim.rules.sparse_adam_update`: Adam's update
    on the rows present in the gradient only (``nn.Embedding(sparse=True)``); rows not
    looked up keep their parameters and moments. Dense gradients, sparse or complex
    parameters are refused with torch's messages. State: ``step`` (a Python int, as in
    torch), ``exp_avg``, ``exp_avg_sq``.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate (default 1e-3), must be > 0.
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon`, must be > 0 (default 1e-8).
        maximize: maximize the objective (default False).

    Reference:
        torch's ``SparseAdam``; Kingma & Ba (2015), Algorithm 1 on the gradient's rows.

    Example:
        >>> table = torch.nn.Embedding(100, 8, sparse=True)
        >>> optimizer = SparseAdam(table.parameters(), lr=1e-2)
    """

    supports_sparse_grads = True
    legacy_group_defaults: ClassVar[dict[str, Any]] = {}
    scalar_state_keys = ()

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize})
        sparse, complex_ = [], []
        for group_index, group in enumerate(self.param_groups):
            for index, param in enumerate(group["params"]):
                if param.is_sparse:
                    sparse.append([group_index, index])
                if param.is_complex():
                    complex_.append([group_index, index])
        if sparse:
            raise ValueError(f"Sparse params at indices {sparse}: SparseAdam requires dense parameter tensors")
        if complex_:
            raise ValueError(f"Complex params at indices {complex_}: SparseAdam does not support complex parameters")

    def check_grad(self, param: torch.Tensor, grad: torch.Tensor) -> None:
        if not grad.is_sparse:
            raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        beta1, beta2 = group["betas"]
        sparse_adam_update(
            param, grad, state,
            lr=as_scalar(group["lr"]),
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            maximize=group.get("maximize", False),
        )
