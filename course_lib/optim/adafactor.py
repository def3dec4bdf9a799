r"""Adafactor: second moments of a matrix kept as a row and a column statistic (chapter 9).

Adam keeps two numbers per parameter. For an :math:`n \times m` weight matrix Adafactor
keeps :math:`n + m`: the mean of :math:`g^2` over each row and over each column, from
which it rebuilds a rank-one estimate of the full matrix of second moments. It has no
first moment, a step size relative to the size of the weights, and clips every update
to an RMS of at most :math:`d`.

:func:`adafactor_update` is the rule for one tensor (torch 2.13's single-tensor code,
operation by operation, so the numbers agree with ``torch.optim.Adafactor`` bit for
bit); :func:`factored_second_moment` is its rank-one estimate on its own; and
:class:`Adafactor` is the drop-in optimizer.
"""

from __future__ import annotations

import torch
from torch.optim.optimizer import ParamsT

from ._base import ParamGroup, ParamState, PerTensorOptimizer, as_scalar, check_tensor_lr, new_step_counter
from .weight_decay import decoupled_weight_decay_

__all__ = ["adafactor_init_state", "factored_second_moment", "adafactor_update", "Adafactor"]

State = dict[str, torch.Tensor]


def adafactor_init_state(param: torch.Tensor) -> State:
    """Adafactor's state: ``step``, and ``row_var`` + ``col_var`` for a matrix or ``variance`` for a vector.

    A tensor with two or more dimensions is factored over its last two: for shape
    ``(..., n, m)``, ``row_var`` has shape ``(..., n, 1)`` and ``col_var`` ``(..., 1, m)``.
    """
    if param.dim() > 1:
        row_shape, col_shape = list(param.shape), list(param.shape)
        row_shape[-1], col_shape[-2] = 1, 1
        return {"step": new_step_counter(), "row_var": param.new_zeros(row_shape),
                "col_var": param.new_zeros(col_shape)}
    return {"step": new_step_counter(), "variance": torch.zeros_like(param)}


def factored_second_moment(row_var: torch.Tensor, col_var: torch.Tensor, eps1: float) -> torch.Tensor:
    r"""The rank-one estimate of the second moments rebuilt from row and column means.

    .. math::
        \hat V_{ij} = \frac{r_i\, c_j}{\max\big(\tfrac1n\sum_k r_k,\ \epsilon_1\big)},
        \qquad r_i = \tfrac1m\textstyle\sum_j V_{ij},\quad c_j = \tfrac1n\sum_i V_{ij}

    It keeps every row mean and every column mean of :math:`V` exactly, and equals
    :math:`V` whenever :math:`V` has rank one (Shazeer & Stern 2018, eq. (4): the
    minimizer of the generalized Kullback-Leibler divergence among rank-one matrices;
    they write it with sums, which gives the same matrix).

    Args:
        row_var: the row means :math:`r`, shape ``(..., n, 1)``.
        col_var: the column means :math:`c`, shape ``(..., 1, m)``.
        eps1: floor :math:`\epsilon_1` of the mean of :math:`r` (torch's placement).

    Returns:
        A new tensor of shape ``(..., n, m)``.

    Example:
        >>> g2 = torch.tensor([[1.0, 4.0], [2.0, 8.0]])        # rank one
        >>> factored_second_moment(g2.mean(-1, keepdim=True), g2.mean(-2, keepdim=True), 1e-30)
        tensor([[1., 4.],
                [2., 8.]])
    """
    estimate = row_var @ col_var
    return estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))


def adafactor_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: State,
    *,
    lr: float = 1e-2,
    beta2_decay: float = -0.8,
    eps1: float | None = None,
    eps2: float = 1e-3,
    d: float = 1.0,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    r"""One Adafactor step on one tensor, torch's formulation.

    .. math::
        \begin{aligned}
        \hat\beta_{2,t} &= 1 - t^{\tau}, \qquad
        \rho_t = \min\big(\eta, 1/\sqrt t\big), \qquad
        \alpha_t = \max\big(\epsilon_2, \mathrm{RMS}(\theta_{t-1})\big)\,\rho_t \\
        \theta &\leftarrow (1 - \eta\lambda)\,\theta_{t-1} \\
        r_t &= \hat\beta_{2,t}\, r_{t-1} + (1-\hat\beta_{2,t})\,\mathrm{mean}_j(g_t^2) ,\quad
        c_t = \hat\beta_{2,t}\, c_{t-1} + (1-\hat\beta_{2,t})\,\mathrm{mean}_i(g_t^2) \\
        \hat V_t &= r_t c_t / \max\big(\mathrm{mean}(r_t), \epsilon_1\big)
            \qquad\text{(a vector keeps } \hat V_t = \hat\beta_{2,t} \hat V_{t-1}
            + (1-\hat\beta_{2,t})\, g_t^2\text{)} \\
        U_t &= g_t \,/\, \max\big(\sqrt{\hat V_t}, \epsilon_1\big) \\
        \theta_t &= \theta - \alpha_t\, U_t \,/\, \max\big(1, \mathrm{RMS}(U_t)/d\big)
        \end{aligned}

    with :math:`\tau` = ``beta2_decay`` (so :math:`\hat\beta_{2,t}` grows towards 1:
    0 at the first step, 0.9 at step 18, 0.99 at step 316) and
    :math:`\mathrm{RMS}(x) = \lVert x\rVert_2/\sqrt{\mathrm{numel}}`. A tensor with two or
    more dimensions is factored over its last two; the state is then :math:`n + m`
    numbers per matrix instead of :math:`nm`.

    Where torch differs from the paper (Shazeer & Stern 2018, Alg. 4 and 5):

    * the relative step is capped by ``lr`` (:math:`\rho_t = \min(\eta, 1/\sqrt t)`);
      the paper caps it by the constant :math:`10^{-2}`, torch's default ``lr``;
    * :math:`\epsilon_1` floors the mean of :math:`r` and the root of :math:`\hat V`;
      the paper adds :math:`\epsilon_1 = 10^{-30}` to :math:`g^2` before averaging;
      torch's default :math:`\epsilon_1` is the dtype's machine epsilon;
    * weight decay (decoupled, times ``lr``, before the step) is torch's addition;
    * the paper's optional first moment :math:`\beta_1` is not there;
    * row and column *means* replace the paper's sums (the same :math:`\hat V`).

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient; not modified.
        state: ``step`` and ``row_var``/``col_var`` or ``variance``; created if empty.
        lr: :math:`\eta`, the cap of the relative step and the decay's factor (default 1e-2).
        beta2_decay: :math:`\tau \le 0` (default -0.8).
        eps1: :math:`\epsilon_1` (default None: ``torch.finfo(param.dtype).eps``).
        eps2: :math:`\epsilon_2`, the smallest scale of the step (default 1e-3).
        d: clipping threshold on the update's RMS (default 1).
        weight_decay: decoupled decay :math:`\lambda` (default 0).
        maximize: ascend (default False).

    Returns:
        None.

    Reference:
        Shazeer & Stern (2018), "Adafactor: Adaptive Learning Rates with Sublinear
        Memory Cost", ICML, Algorithms 4 (matrices) and 5 (vectors).

    Example:
        >>> w, state = torch.ones(3, 2), {}
        >>> adafactor_update(w, torch.ones(3, 2), state)
        >>> sorted(state), w[0]
        (['col_var', 'row_var', 'step'], tensor([0.9900, 0.9900]))
    """
    if maximize:
        grad = -grad
    if eps1 is None:
        eps1 = torch.finfo(param.dtype).eps
    if not state:
        state.update(adafactor_init_state(grad))
    state["step"] += 1
    t = state["step"].item()

    one_minus_beta2 = t**beta2_decay
    relative_step = min(lr, 1 / (t**0.5))
    step_size = max(eps2, param.norm(2).item() / (param.numel() ** 0.5)) * relative_step
    if weight_decay != 0:
        decoupled_weight_decay_(param, lr, weight_decay)

    if grad.dim() > 1:
        row_var, col_var = state["row_var"], state["col_var"]
        # the mean of g**2 over a row, without a temporary the size of g
        row_var.lerp_(torch.norm(grad, dim=-1, keepdim=True).square_().div_(grad.size(-1)), one_minus_beta2)
        col_var.lerp_(torch.norm(grad, dim=-2, keepdim=True).square_().div_(grad.size(-2)), one_minus_beta2)
        second_moment = factored_second_moment(row_var, col_var, eps1)
    else:
        state["variance"].lerp_(grad * grad, one_minus_beta2)
        second_moment = state["variance"].clone()

    # max(sqrt(V), eps1) as sqrt(max(V, eps1**2))
    update = second_moment.clamp_(min=eps1 * eps1).rsqrt_().mul_(grad)
    clip = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
    param.add_(update, alpha=-step_size / clip)


class Adafactor(PerTensorOptimizer):
    r"""Adafactor, a drop-in for ``torch.optim.Adafactor``.

    Each step applies :func:`adafactor_update` to every parameter with a gradient:
    factored second moments for tensors with two or more dimensions, relative step
    sizes :math:`\max(\epsilon_2, \mathrm{RMS}(\theta))\min(\eta, 1/\sqrt t)`, updates
    clipped to an RMS of ``d``. State: ``step``, and ``row_var`` + ``col_var`` (matrices)
    or ``variance`` (vectors).

    When ``eps[0]`` is None torch resolves it from the *first* parameter of a group that
    has a gradient and uses that value for the whole group; so do we.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: cap of the relative step size and factor of the decay (default 1e-2).
        beta2_decay: :math:`\tau` in :math:`\hat\beta_{2,t} = 1 - t^\tau` (default -0.8).
        eps: :math:`(\epsilon_1, \epsilon_2)`; :math:`\epsilon_1` None means the dtype's
            machine epsilon (default (None, 1e-3)).
        d: clipping threshold of the update's RMS (default 1.0).
        weight_decay: decoupled decay :math:`\lambda` (default 0).
        foreach: accepted; the per-tensor path runs (default None).
        maximize: maximize the objective (default False).

    Reference:
        Shazeer & Stern (2018), ICML.

    Example:
        >>> optimizer = Adafactor(torch.nn.Linear(3, 1).parameters(), lr=1e-2)
    """

    torch_refuses_complex = True

    legacy_group_defaults = {"foreach": None}

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = {
            "lr": lr,
            "beta2_decay": beta2_decay,
            "eps": eps,
            "d": d,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: ParamState, group: ParamGroup) -> None:
        eps1, eps2 = group["eps"]
        if eps1 is None:
            first = next(p for p in group["params"] if p.grad is not None)
            eps1 = torch.finfo(first.dtype).eps
        adafactor_update(
            param, grad, state,
            lr=as_scalar(group["lr"]),
            beta2_decay=group["beta2_decay"],
            eps1=eps1,
            eps2=eps2,
            d=group["d"],
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
        )
