r"""Stochastic gradients, batch size and step size (chapter 2).

* :func:`minibatch_sgd` trains linear regression with full-batch gradient descent,
  SGD (batch size 1) or mini-batch SGD, drawing shuffled epochs with
  :func:`course_lib.data.batches` from one seeded generator, and records every iterate,
  so loss curves can be drawn against steps *or* against the compute spent.
* :func:`per_sample_gradients` and :func:`gradient_standard_error` measure how the
  noise of a mini-batch gradient shrinks with the batch size (like
  :math:`\sigma/\sqrt{|B|}`), and :func:`loglog_fit` reads the exponent off a log-log plot.
* :func:`time_per_step` and :func:`make_mlp_step` measure what a step of a given batch
  size costs on this machine.
* :func:`wolfe_conditions` and :func:`backtracking_line_search`: the classical way of
  choosing a step size, which deep learning usually does without.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from course_lib.data import batches
from course_lib.risk import ridge_gradient

__all__ = [
    "SGDRun",
    "minibatch_sgd",
    "per_sample_gradients",
    "GradientNoise",
    "gradient_standard_error",
    "loglog_fit",
    "StepTiming",
    "time_per_step",
    "make_mlp_step",
    "WolfeCheck",
    "wolfe_conditions",
    "backtracking_line_search",
]


# --------------------------------------------------------------------------- training


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


# --------------------------------------------------------------------------- gradient noise


def per_sample_gradients(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
) -> torch.Tensor:
    r"""The gradient of each sample's loss, one row per sample, flattened over all parameters.

    Row :math:`i` is :math:`\nabla_\theta L(f_\theta(x_i), y_i)`; the gradient of the mean
    loss over a batch :math:`B` is the mean of its rows, which is what makes the
    mini-batch gradient an unbiased estimate of the full one. Computed with
    ``torch.func.vmap`` over ``torch.func.grad``, without a Python loop over samples.

    The model must treat samples independently (no batch normalization, and dropout
    off: call ``model.eval()`` first if it has dropout).

    Args:
        model: the network (its parameters are read, not changed).
        loss_fn: ``loss_fn(prediction, target) -> 0-dim tensor`` for ONE sample, e.g.
            ``torch.nn.functional.mse_loss``.
        X: inputs, one row per sample.
        y: targets.

    Returns:
        A tensor of shape ``(n, number of parameters)``, parameters in
        ``model.named_parameters()`` order.
    """
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss_of_one(parameters, x, target):
        prediction = torch.func.functional_call(model, parameters, (x.unsqueeze(0),))
        return loss_fn(prediction.squeeze(0), target)

    grads = torch.func.vmap(torch.func.grad(loss_of_one), in_dims=(None, 0, 0))(params, X, y)
    return torch.cat([g.reshape(X.shape[0], -1) for g in grads.values()], dim=1)


@dataclass(frozen=True)
class GradientNoise:
    r"""How far mini-batch gradients stray from the full gradient, per batch size.

    Attributes:
        batch_sizes: the batch sizes measured, 1-D long tensor.
        standard_errors: :math:`\sqrt{\operatorname{mean}_k \|g_{B_k} - \nabla\hat R\|^2}`
            for each batch size, float64.
        batches_used: how many batches were averaged for each batch size.
        sigma: the per-sample spread :math:`\sigma = \sqrt{\operatorname{tr}\,\mathrm{Cov}(\nabla L_i)}`;
            the theory predicts ``sigma / sqrt(batch_size)``.
        slope: slope of the least-squares line through ``log(standard_errors)``
            against ``log(batch_sizes)`` (about -1/2).
        intercept: its intercept (natural logarithms).
    """

    batch_sizes: torch.Tensor
    standard_errors: torch.Tensor
    batches_used: torch.Tensor
    sigma: float
    slope: float
    intercept: float

    def fitted(self, batch_size: float | torch.Tensor) -> torch.Tensor:
        """The fitted power law ``exp(intercept) * batch_size**slope``."""
        return math.exp(self.intercept) * torch.as_tensor(batch_size, dtype=torch.float64) ** self.slope


def gradient_standard_error(
    per_sample: torch.Tensor,
    batch_sizes: Sequence[int],
    *,
    min_batches: int = 200,
    seed: int = 0,
) -> GradientNoise:
    r"""Measure the standard error of the mini-batch gradient for several batch sizes.

    For each batch size :math:`b`, shuffled epochs are split into batches of :math:`b`
    (incomplete last batches dropped) until at least ``min_batches`` batches are drawn;
    each batch's gradient is the mean of its rows of ``per_sample``, and the standard
    error is the root-mean-square distance to the full gradient (the mean of all rows):

    .. math::
        \mathrm{SE}(b) = \sqrt{\frac1K \sum_{k=1}^K \big\| g_{B_k} - \nabla \hat R \big\|^2}
        \approx \frac{\sigma}{\sqrt b}\sqrt{\frac{n-b}{n-1}}.

    The last factor is the finite-population correction of sampling without
    replacement; it is close to 1 while :math:`b \ll n`, and makes the error vanish at
    :math:`b = n`, where the "mini-batch" is the whole data set.

    Args:
        per_sample: per-sample gradients, shape ``(n, p)`` (e.g. from
            :func:`per_sample_gradients`).
        batch_sizes: the batch sizes to measure, each at most ``n``.
        min_batches: the least number of batches averaged per batch size.
        seed: seed of the shuffles.

    Returns:
        A :class:`GradientNoise`, with the slope fitted by :func:`loglog_fit`.

    Example:
        >>> grads = torch.randn(4096, 3, generator=torch.Generator().manual_seed(0))
        >>> noise = gradient_standard_error(grads, [1, 4, 16, 64])
        >>> round(noise.slope, 1)
        -0.5
    """
    per_sample = per_sample.detach().to(torch.float64)
    if per_sample.dim() != 2:
        raise ValueError(f"per_sample must have shape (n, p), got {tuple(per_sample.shape)}")
    n = per_sample.shape[0]
    full = per_sample.mean(dim=0)
    generator = torch.Generator().manual_seed(seed)
    errors, used = [], []
    for size in batch_sizes:
        size = int(size)
        if not 1 <= size <= n:
            raise ValueError(f"batch sizes must be between 1 and n = {n}, got {size}")
        per_epoch = n // size
        epochs = math.ceil(min_batches / per_epoch)
        squared = []
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator)[: per_epoch * size]
            batch_means = per_sample[order].reshape(per_epoch, size, -1).mean(dim=1)
            squared.append(((batch_means - full) ** 2).sum(dim=1))
        squared_t = torch.cat(squared)
        errors.append(squared_t.mean().sqrt())
        used.append(squared_t.numel())
    sizes_t = torch.tensor([int(s) for s in batch_sizes])
    errors_t = torch.stack(errors)
    slope, intercept = loglog_fit(sizes_t, errors_t)
    sigma = float(((per_sample - full) ** 2).sum(dim=1).mean().sqrt())
    return GradientNoise(sizes_t, errors_t, torch.tensor(used), sigma, slope, intercept)


def loglog_fit(x: Sequence[float] | torch.Tensor, y: Sequence[float] | torch.Tensor) -> tuple[float, float]:
    r"""Least-squares line through :math:`(\ln x_i, \ln y_i)`: the exponent of a power law.

    If :math:`y = c\, x^a`, then :math:`\ln y = \ln c + a \ln x`, a straight line of slope
    :math:`a` on log-log axes. The slope does not depend on the base of the logarithm;
    the intercept here is in natural logarithms (:math:`\ln c`).

    Args:
        x: positive abscissae (e.g. batch sizes).
        y: positive ordinates (e.g. standard errors).

    Returns:
        ``(slope, intercept)`` as floats.

    Example:
        >>> loglog_fit([1, 4, 16], [1.0, 0.5, 0.25])
        (-0.5, 0.0)
    """
    lx = torch.log(torch.as_tensor(x, dtype=torch.float64))
    ly = torch.log(torch.as_tensor(y, dtype=torch.float64))
    if lx.numel() < 2 or lx.shape != ly.shape:
        raise ValueError("need at least two (x, y) pairs of the same length")
    dx = lx - lx.mean()
    slope = float((dx * (ly - ly.mean())).sum() / (dx * dx).sum())
    intercept = float(ly.mean() - slope * lx.mean())
    return round(slope, 12), round(intercept, 12)


# --------------------------------------------------------------------------- cost of a step


@dataclass(frozen=True)
class StepTiming:
    """Wall-clock cost of one training step per batch size, measured on this machine.

    Attributes:
        batch_sizes: the batch sizes, 1-D long tensor.
        seconds: seconds per step (the fastest of the repeats), float64.
        per_sample: ``seconds / batch_sizes``, the cost of one sample's gradient.
    """

    batch_sizes: torch.Tensor
    seconds: torch.Tensor
    per_sample: torch.Tensor

    def ratio(self, larger: int, smaller: int) -> float:
        """How many times longer a step of batch ``larger`` takes than one of batch ``smaller``."""
        sizes = self.batch_sizes.tolist()
        return float(self.seconds[sizes.index(larger)] / self.seconds[sizes.index(smaller)])


def time_per_step(
    make_step: Callable[[int], Callable[[], object]],
    batch_sizes: Sequence[int],
    *,
    repeats: int = 30,
    warmup: int = 5,
    threads: int | None = None,
) -> StepTiming:
    """Time one training step for each batch size (the fastest of ``repeats`` runs).

    The batch sizes take turns (one step of each, ``repeats`` rounds), so a burst of
    other work on the machine slows all of them alike instead of spoiling one. Other
    programs can only make a step slower, never faster, so the fastest run is the best
    estimate of what the step itself costs (the reasoning of Python's ``timeit``).

    Args:
        make_step: ``make_step(batch_size)`` returns a function doing one complete step
            (forward, backward, update) on a batch of that size; see :func:`make_mlp_step`.
        batch_sizes: the sizes to time.
        repeats: timed steps per batch size.
        warmup: untimed steps of each size first (memory allocation, caches).
        threads: run with this many CPU threads (``torch.set_num_threads``), restored
            afterwards; one thread keeps a busy machine from distorting the comparison.
            None (default) leaves torch's setting alone.

    Returns:
        A :class:`StepTiming`. On a GPU the step must wait for the device before it
        returns for the times to mean anything (:func:`make_mlp_step` does it).
    """
    sizes = [int(size) for size in batch_sizes]
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        steps = [make_step(size) for size in sizes]
        for step in steps:
            for _ in range(warmup):
                step()
        times: list[list[float]] = [[] for _ in sizes]
        for _ in range(repeats):
            for step, record in zip(steps, times):
                start = time.perf_counter()
                step()
                record.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous_threads)
    sizes_t = torch.tensor(sizes)
    seconds_t = torch.tensor([min(record) for record in times], dtype=torch.float64)
    return StepTiming(sizes_t, seconds_t, seconds_t / sizes_t)


def make_mlp_step(
    sizes: Sequence[int] = (64, 256, 256, 10),
    *,
    lr: float = 0.01,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> Callable[[int], Callable[[], float]]:
    """A factory of training steps of a small classifier, for :func:`time_per_step`.

    ``make_mlp_step(sizes)(batch_size)`` returns a function that does one SGD step of
    an MLP (:func:`course_lib.models.mlp`) with the cross-entropy loss on a fixed random
    batch of ``batch_size`` rows: ``zero_grad``, forward, loss, backward, ``step``. The
    data already sit in memory, so loading them is not part of the cost.

    Args:
        sizes: layer widths, input first, number of classes last.
        lr: learning rate of the SGD step.
        seed: seed of the weights and the data.
        device: where to compute (default CPU).

    Returns:
        The factory; each step returns the loss as a float.
    """
    from course_lib.models import mlp

    def factory(batch_size: int) -> Callable[[], float]:
        gen = torch.Generator().manual_seed(seed)
        model = mlp(list(sizes), seed=seed, device=device)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        X = torch.randn(batch_size, sizes[0], generator=gen).to(device)
        y = torch.randint(sizes[-1], (batch_size,), generator=gen).to(device)

        def step() -> float:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(X), y)
            loss.backward()
            optimizer.step()
            return loss.item()  # .item() waits for the device, so a GPU step is timed in full

        return step

    return factory


# --------------------------------------------------------------------------- line search


@dataclass(frozen=True)
class WolfeCheck:
    r"""Which Wolfe conditions a step :math:`x \to x + \gamma p` satisfies.

    Attributes:
        sufficient_decrease: :math:`f(x+\gamma p) \le f(x) + c_1 \gamma\, p^\top \nabla f(x)` (Armijo).
        curvature: :math:`p^\top \nabla f(x+\gamma p) \ge c_2\, p^\top \nabla f(x)`
            (strong form: :math:`|p^\top \nabla f(x+\gamma p)| \le c_2 |p^\top \nabla f(x)|`).
        decrease: :math:`f(x+\gamma p) - f(x)`.
        slope_before: :math:`p^\top \nabla f(x)` (negative for a descent direction).
        slope_after: :math:`p^\top \nabla f(x+\gamma p)`.
    """

    sufficient_decrease: bool
    curvature: bool
    decrease: float
    slope_before: float
    slope_after: float

    @property
    def both(self) -> bool:
        """Whether the step satisfies both conditions."""
        return self.sufficient_decrease and self.curvature


def _value_and_grad(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> tuple[float, torch.Tensor]:
    point = x.detach().clone().requires_grad_(True)
    value = f(point)
    (grad,) = torch.autograd.grad(value, point)
    return float(value.detach()), grad


def wolfe_conditions(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    direction: torch.Tensor,
    step: float,
    *,
    c1: float = 1e-4,
    c2: float = 0.9,
    strong: bool = False,
) -> WolfeCheck:
    r"""Check the Wolfe conditions for the step :math:`x \to x + \gamma p`.

    .. math::
        \begin{aligned}
        f(x + \gamma p) &\le f(x) + c_1\, \gamma\, p^\top \nabla f(x)
            && \text{sufficient decrease (Armijo)} \\
        p^\top \nabla f(x + \gamma p) &\ge c_2\, p^\top \nabla f(x)
            && \text{curvature}
        \end{aligned}

    with :math:`0 < c_1 < c_2 < 1`. The first forbids steps that are too long (the loss
    must fall by at least a fraction :math:`c_1` of what the slope promised), the second
    steps that are too short (the slope along :math:`p` must have flattened). The strong
    form bounds :math:`|p^\top \nabla f(x+\gamma p)|`, which also forbids overshooting
    into a steep ascent; ``torch.optim.LBFGS(line_search_fn="strong_wolfe")`` searches for
    steps of that kind, with the same defaults :math:`c_1 = 10^{-4}`, :math:`c_2 = 0.9`.

    Args:
        f: the objective, a function of one tensor returning a 0-dim tensor
            (differentiated with autograd).
        x: the current point.
        direction: the search direction :math:`p`.
        step: the step size :math:`\gamma > 0`.
        c1: sufficient-decrease constant (default 1e-4).
        c2: curvature constant (default 0.9).
        strong: check the strong curvature condition (default False).

    Returns:
        A :class:`WolfeCheck`.

    Reference:
        Nocedal & Wright, "Numerical Optimization" (2nd ed., 2006), eq. (3.6) and (3.7).
    """
    f0, g0 = _value_and_grad(f, x)
    f1, g1 = _value_and_grad(f, x + step * direction)
    slope_before = float((direction * g0).sum())
    slope_after = float((direction * g1).sum())
    decrease_ok = f1 <= f0 + c1 * step * slope_before
    if strong:
        curvature_ok = abs(slope_after) <= c2 * abs(slope_before)
    else:
        curvature_ok = slope_after >= c2 * slope_before
    return WolfeCheck(decrease_ok, curvature_ok, f1 - f0, slope_before, slope_after)


def backtracking_line_search(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    direction: torch.Tensor,
    *,
    initial_step: float = 1.0,
    shrink: float = 0.5,
    c1: float = 1e-4,
    max_evaluations: int = 50,
) -> tuple[float, int]:
    r"""Armijo backtracking: halve the step until the sufficient-decrease condition holds.

    Start from :math:`\gamma = ` ``initial_step`` and multiply by ``shrink`` while
    :math:`f(x + \gamma p) > f(x) + c_1 \gamma\, p^\top \nabla f(x)`. Every trial costs
    one more evaluation of :math:`f` (on a network: a forward pass over the data the
    loss is defined on), which is the price deep learning does not pay.

    Args:
        f: the objective (autograd gives its gradient at ``x``).
        x: the current point.
        direction: a descent direction :math:`p` (:math:`p^\top \nabla f(x) < 0`).
        initial_step: the first trial step (default 1).
        shrink: factor applied after each rejected trial (default 0.5).
        c1: sufficient-decrease constant (default 1e-4).
        max_evaluations: give up after this many trials and return the last step.

    Returns:
        ``(step, evaluations)``: the accepted step size and the number of evaluations
        of ``f`` it took (the gradient at ``x`` counts as one).

    Reference:
        Armijo (1966); Nocedal & Wright (2006), Algorithm 3.1.
    """
    if not 0 < shrink < 1:
        raise ValueError(f"shrink must be in (0, 1), got {shrink}")
    f0, g0 = _value_and_grad(f, x)
    slope = float((direction * g0).sum())
    if slope >= 0:
        raise ValueError(f"direction is not a descent direction (slope {slope:.3g} >= 0)")
    step, evaluations = float(initial_step), 1
    with torch.no_grad():
        while evaluations < max_evaluations:
            evaluations += 1
            if float(f(x + step * direction)) <= f0 + c1 * step * slope:
                break
            step *= shrink
    return step, evaluations
