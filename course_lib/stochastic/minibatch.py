r"""Full-batch gradient descent, SGD and mini-batch SGD on linear regression (chapter 2).

:func:`minibatch_sgd` draws shuffled epochs with :func:`course_lib.data.batches` from one
seeded generator and records every iterate, so loss curves can be drawn against steps *or*
against the compute spent (samples seen).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from course_lib.data import batches
from course_lib.risk import ridge_gradient

__all__ = [
    "SGDRun",
    "minibatch_sgd",
]


@dataclass(frozen=True)
class SGDRun:
    """A (mini-batch) SGD run on linear regression, with its recorded iterates.

    Attributes:
        w: final weights (d,).
        b: final bias (0-dim).
        weights: recorded iterates of ``w``, shape ``(k, d)``; row 0 is the start.
        biases: recorded iterates of ``b``, shape ``(k,)``.
        steps: the number of updates made before each recorded iterate, shape ``(k,)``.
        samples_seen: the number of per-sample gradients computed before each recorded
            iterate (the compute spent), shape ``(k,)``.
        losses: the empirical risk on the training data at each recorded iterate.
        batch_size: the batch size (``n`` for full-batch gradient descent).
        n_samples: the number of training samples ``n``.
    """

    w: torch.Tensor
    b: torch.Tensor
    weights: torch.Tensor
    biases: torch.Tensor
    steps: torch.Tensor
    samples_seen: torch.Tensor
    losses: torch.Tensor
    batch_size: int
    n_samples: int

    @property
    def epochs(self) -> torch.Tensor:
        """Passes over the data before each recorded iterate (``samples_seen / n``), float64."""
        return self.samples_seen.to(torch.float64) / self.n_samples

    def risk(self, X: torch.Tensor, y: torch.Tensor, chunk: int = 512) -> torch.Tensor:
        """The mean squared error on ``(X, y)`` at every recorded iterate, e.g. on test data.

        Args:
            X: inputs (m, d).
            y: targets (m,).
            chunk: iterates evaluated at once (bounds memory at ``m * chunk`` numbers).

        Returns:
            A tensor of shape ``(k,)``.
        """
        return _risk_along(self.weights, self.biases, X, y, chunk)


def _risk_along(weights: torch.Tensor, biases: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                chunk: int = 512) -> torch.Tensor:
    """Mean squared error at each row of ``weights``/``biases``, a chunk of iterates at a time."""
    out = []
    for start in range(0, weights.shape[0], chunk):
        W = weights[start:start + chunk].to(X.dtype)
        B = biases[start:start + chunk].to(X.dtype)
        out.append(((X @ W.T + B - y[:, None]) ** 2).mean(dim=0))
    return torch.cat(out)


def minibatch_sgd(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int | None,
    lr: float,
    epochs: float,
    seed: int = 0,
    record_every: int = 1,
) -> SGDRun:
    r"""Mini-batch SGD on linear regression, from :math:`w = 0, b = 0`.

    .. math::
        g_t = \frac{1}{|B_t|} \sum_{i \in B_t} \nabla_\theta (x_i^\top w + b - y_i)^2,
        \qquad \theta_{t+1} = \theta_t - \eta\, g_t

    Every epoch shuffles the data with one generator seeded by ``seed`` and visits it
    in consecutive batches (:func:`course_lib.data.batches`; the last batch may be
    smaller), as a ``DataLoader`` with ``shuffle=True`` does (its sampler draws from its
    generator in another order, so the batches themselves differ). ``batch_size=None``
    is full-batch gradient descent (no shuffling), ``batch_size=1`` is plain SGD.

    Args:
        X: inputs (n, d).
        y: targets (n,).
        batch_size: rows per step; None for all of them.
        lr: the learning rate :math:`\eta`.
        epochs: passes over the data; a fraction stops part-way through an epoch
            (useful to give every method the same compute budget).
        seed: seed of the shuffling generator.
        record_every: keep every k-th iterate (the first and the last are always kept).

    Returns:
        An :class:`SGDRun`.

    Reference:
        Robbins & Monro (1951), "A Stochastic Approximation Method"; Bottou, Curtis &
        Nocedal (2018), "Optimization Methods for Large-Scale Machine Learning", Sec. 3.

    Example:
        >>> from course_lib.data import make_regression
        >>> d = make_regression(200, 2, seed=0)
        >>> run = minibatch_sgd(d.X, d.y, batch_size=20, lr=0.05, epochs=3)
        >>> int(run.steps[-1]), int(run.samples_seen[-1])
        (30, 600)
    """
    n, d = X.shape
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 or None, got {batch_size}")
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1, got {record_every}")
    size = n if batch_size is None else min(batch_size, n)
    budget = int(round(epochs * n))
    generator = torch.Generator().manual_seed(seed)
    w = torch.zeros(d, dtype=X.dtype, device=X.device)
    b = torch.zeros((), dtype=X.dtype, device=X.device)
    weights, biases, steps, seen = [w.clone()], [b.clone()], [0], [0]
    step, spent = 0, 0
    while spent < budget:
        epoch = [torch.arange(n)] if batch_size is None else batches(n, size, generator=generator)
        for index in epoch:
            if spent >= budget:
                break
            index = index[: budget - spent]
            grad_w, grad_b = ridge_gradient(w, b, X[index], y[index], 0.0)
            w = w - lr * grad_w
            b = b - lr * grad_b
            step += 1
            spent += index.numel()
            if step % record_every == 0 or spent >= budget:
                weights.append(w.clone())
                biases.append(b.clone())
                steps.append(step)
                seen.append(spent)
    weights_t, biases_t = torch.stack(weights), torch.stack(biases)
    return SGDRun(
        w=w, b=b, weights=weights_t, biases=biases_t,
        steps=torch.tensor(steps), samples_seen=torch.tensor(seen),
        losses=_risk_along(weights_t, biases_t, X, y), batch_size=size, n_samples=n,
    )


