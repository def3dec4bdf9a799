r"""The learning-rate range test ("LR finder", Smith 2017): raise the rate exponentially until the loss blows up (chapter 6)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from course_lib.schedules.lambda_lr import set_lr
from course_lib.schedules.rules import check_positive

__all__ = ["LRFinderResult", "lr_finder", "suggest_lr"]


@dataclass
class LRFinderResult:
    """What :func:`lr_finder` saw: one entry per step it ran.

    Attributes:
        lrs: the learning rate of each step.
        losses: the training loss of each step's batch (before the update).
        smoothed_losses: bias-corrected exponential moving average of ``losses``.
        suggested_lr: where the smoothed loss falls fastest per decade of
            learning rate, before its minimum (the rule is in :func:`lr_finder`);
            always one of ``lrs`` unless the run was too short to judge.
        min_loss_lr: the learning rate at the smallest smoothed loss; the
            classic rule of thumb picks ``min_loss_lr / 10``.
        diverged: whether the search stopped because the loss blew up.
    """

    lrs: list[float]
    losses: list[float]
    smoothed_losses: list[float]
    suggested_lr: float
    min_loss_lr: float
    diverged: bool


def suggest_lr(lrs: Sequence[float], smoothed: Sequence[float], skip: int = 0) -> tuple[float, float]:
    r"""The range test's two suggestions from a smoothed loss curve: ``(steepest, min_loss_lr)``.

    ``steepest`` is the rate where the loss falls fastest per decade of learning rate,
    :math:`\min_i \Delta L / \Delta \log_{10}\eta` over a centred window of about a tenth of
    the run, looked for between ``skip`` and the minimum; ``min_loss_lr`` is the rate at the
    smallest finite loss. A run too short to judge gives ``(min_loss_lr / 10, min_loss_lr)``.
    """
    finite = [i for i, loss in enumerate(smoothed) if math.isfinite(loss)]
    best = min(finite, key=lambda i: smoothed[i]) if finite else 0
    min_loss_lr = lrs[best]
    half_width = max(1, best // 10)
    candidates = range(max(skip, half_width), best - half_width + 1)
    if len(candidates) == 0:
        return min_loss_lr / 10, min_loss_lr
    log_lrs = np.log10(np.asarray(lrs))
    values = np.asarray(smoothed)
    slopes = [
        (values[i + half_width] - values[i - half_width])
        / (log_lrs[i + half_width] - log_lrs[i - half_width])
        for i in candidates
    ]
    return lrs[candidates[int(np.argmin(slopes))]], min_loss_lr


def lr_finder(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    smooth: float = 0.98,
    diverge_factor: float = 4.0,
) -> LRFinderResult:
    r"""The learning-rate range test: train briefly with an exponentially growing rate.

    Step :math:`i` uses

    .. math:: \gamma_i = \text{start\_lr} \cdot
        (\text{end\_lr} / \text{start\_lr})^{i / (\text{num\_steps} - 1)}

    and records the batch loss. The loss is smoothed by a bias-corrected moving
    average, :math:`\bar\ell_i = \frac{m_i}{1 - \text{smooth}^{i+1}}` with
    :math:`m_i = \text{smooth}\, m_{i-1} + (1 - \text{smooth})\,\ell_i`, and the
    test stops early once :math:`\bar\ell_i > \text{diverge\_factor} \cdot
    \min_{j \le i} \bar\ell_j` or the loss is not finite.

    The suggested rate is where the smoothed loss falls fastest per decade of
    learning rate, :math:`\arg\min_i d\bar\ell / d\log_{10}\gamma`. The slope is
    a central difference over :math:`\pm w` steps, :math:`w` a tenth of the
    steps before the minimum of :math:`\bar\ell` (a one-step difference of a
    noisy curve picks noise); the search skips the first ``num_steps // 10``
    steps, where the moving average is still settling, and stops :math:`w`
    before the minimum, so the blow-up cannot be picked. Where no such window
    exists it falls back to ``min_loss_lr / 10``, the other common rule of
    thumb; both are returned and plotted. Smith (2017, sec. 3.3) introduced the range test
    (linearly increasing); the exponential sweep with smoothing is fastai's.

    The model's parameters and buffers, its train/eval mode, and the optimizer's
    state and learning rates are restored afterwards; gradients are cleared.

    Args:
        model: the network to probe (its parameters are what ``optimizer`` updates).
        optimizer: any ``torch.optim.Optimizer``; every group gets the same rate.
        loss_fn: ``loss_fn(model(inputs), targets)`` gives a scalar loss.
        batches: an iterable of ``(inputs, targets)``; iterated again from the
            start if it runs out before ``num_steps`` (a list or a DataLoader).
        start_lr: the first learning rate (default 1e-7).
        end_lr: the last learning rate (default 10).
        num_steps: the most steps to run (default 100).
        smooth: moving-average factor for the loss (default 0.98).
        diverge_factor: stop when the smoothed loss exceeds this many times its
            minimum (default 4).

    Returns:
        An :class:`LRFinderResult`; :func:`course_lib.plots.plot_lr_finder` draws loss against learning rate.

    Example:
        >>> result = lr_finder(model, torch.optim.SGD(model.parameters(), lr=0.1),
        ...                    torch.nn.functional.mse_loss, batches)  # doctest: +SKIP
        >>> result.suggested_lr  # doctest: +SKIP
    """
    check_positive("start_lr", start_lr)
    if not end_lr > start_lr:
        raise ValueError(f"end_lr ({end_lr}) must exceed start_lr ({start_lr})")
    if num_steps < 2:
        raise ValueError(f"num_steps must be >= 2, got {num_steps}")
    if not 0 <= smooth < 1:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")

    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else None

    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    average = 0.0
    best = math.inf
    diverged = False
    growth = (end_lr / start_lr) ** (1 / (num_steps - 1))
    model.train()
    try:
        iterator = iter(batches)
        for step in range(num_steps):
            try:
                inputs, targets = next(iterator)
            except StopIteration:
                iterator = iter(batches)
                try:
                    inputs, targets = next(iterator)
                except StopIteration:
                    break
            if device is not None:
                inputs, targets = inputs.to(device), targets.to(device)
            lr = start_lr * growth**step
            set_lr(optimizer, lr)
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()

            value = float(loss.detach())
            average = smooth * average + (1 - smooth) * value
            smoothed_value = average / (1 - smooth ** (step + 1))
            lrs.append(lr)
            losses.append(value)
            smoothed.append(smoothed_value)
            if not math.isfinite(smoothed_value) or smoothed_value > diverge_factor * best:
                diverged = True
                break
            best = min(best, smoothed_value)
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        optimizer.zero_grad(set_to_none=True)
        model.train(was_training)

    if not lrs:
        raise ValueError("batches yielded no data")
    suggested_lr, min_loss_lr = suggest_lr(lrs, smoothed, skip=num_steps // 10)
    return LRFinderResult(lrs, losses, smoothed, suggested_lr, min_loss_lr, diverged)
