r"""The mixed-precision training step, in the order it needs (chapter 5).

:func:`amp_step` scales the loss, runs backward, **unscales, then clips** (clipping scaled
gradients would clip against a threshold multiplied by the scale), steps (skipped when a
gradient overflowed) and updates the scale.
"""

from __future__ import annotations

import torch

from course_lib.clipping import Parameters, clip_grad_norm_

__all__ = ["amp_step"]


def amp_step(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    params: Parameters,
    max_norm: float | None,
    norm_type: float = 2.0,
) -> bool:
    r"""One mixed-precision update: scale, backward, unscale, clip, step, update the scale.

    .. math::
        \nabla(sL) \xrightarrow{\;/s\;} g \xrightarrow{\text{clip}} g'
        \xrightarrow{\text{finite?}} \text{optimizer step}, \qquad
        s \leftarrow \begin{cases} s \cdot \text{backoff} & \text{a gradient overflowed} \\
                                   s \cdot \text{growth} & \text{after growth\_interval clean steps}
                     \end{cases}

    The loss is multiplied by the scale :math:`s` so that small float16 gradients do not
    underflow; the gradients are divided by :math:`s` again *before* clipping, so
    ``max_norm`` refers to the true gradient. If any gradient is Inf/NaN the optimizer
    step is skipped (parameters and optimizer state untouched) and :math:`s` shrinks.
    Run the forward pass under ``torch.autocast`` and call ``optimizer.zero_grad()``
    before it; this helper does neither. Works with ``torch.amp.GradScaler("cuda")``
    and, in torch 2.13, ``torch.amp.GradScaler("cpu")``.

    Args:
        loss: the (unscaled) loss of this batch.
        optimizer: any ``torch.optim.Optimizer``, including the course's.
        scaler: the ``torch.amp.GradScaler`` kept across steps.
        params: the parameters to clip (usually ``model.parameters()``).
        max_norm: global-norm threshold for :func:`clip_grad_norm_`; None skips clipping.
        norm_type: norm for clipping (default 2.0).

    Returns:
        True if the optimizer step was taken, False if it was skipped because of a
        non-finite gradient.

    Example:
        >>> model = torch.nn.Linear(2, 1)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> scaler = torch.amp.GradScaler("cpu")
        >>> amp_step(model(torch.ones(1, 2)).sum(), optimizer, scaler, model.parameters(), 1.0)
        True
    """
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    if max_norm is not None:
        clip_grad_norm_(params, max_norm, norm_type)
    step_taken = False

    def record_step(*_: object) -> None:
        nonlocal step_taken
        step_taken = True

    handle = optimizer.register_step_post_hook(record_step)
    try:
        scaler.step(optimizer)
    finally:
        handle.remove()
    scaler.update()
    return step_taken
