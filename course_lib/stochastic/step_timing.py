"""What a training step of a given batch size costs on this machine (chapter 2).

Batch 2 is not twice batch 1: vectorization and fixed per-step overheads make the time
per step grow much more slowly than the batch. :func:`time_per_step` measures it and
:func:`make_mlp_step` builds a realistic step to measure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["StepTiming", "time_per_step", "make_mlp_step"]


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
