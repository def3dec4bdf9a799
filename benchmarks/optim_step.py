"""Time one optimizer step on 10 M parameters: course_lib.optim against torch.optim.

Every row of ``ROWS`` is an optimizer (a torch class, ours, and their arguments); add a
row to time another one. For each row, every implementation updates its own copy of
10 M float32 parameters split into 8 tensors (the gradients are shared and fixed):

* torch foreach=False (the per-tensor loop; the baseline of the per-row ratios),
* torch foreach=True and torch fused=True where the class and device support them,
* ours (the readable per-tensor path, the default) and ours foreach=True,
* with ``--compile``, ours with the same rules compiled by ``torch.compile`` (SGD,
  Adam and AdamW only; below).

After ``--warmup`` steps the variants take turns, one step each, for ``--steps``
rounds, so that a change in machine load affects all of them alike; the first table
shows the median time of a step in milliseconds and its ratio to torch foreach=False
measured in the same run, and the same for the fastest step (on a shared machine the
minimum is the better estimate of the undisturbed cost). The summary puts the two
comparisons that matter side by side: ours (readable) against torch foreach=False, and
ours foreach=True against torch foreach=True. On CUDA every timed step is bracketed by
``torch.cuda.synchronize()``.

    python benchmarks/optim_step.py                  # CPU, every row
    python benchmarks/optim_step.py --only Adam NAdam --steps 40
    python benchmarks/optim_step.py --device cuda --steps 50
    python benchmarks/optim_step.py --threads 1 --clock cpu    # on a busy machine

Allocator noise: each step allocates temporaries the size of a parameter tensor. glibc
hands such blocks back to the kernel when they are freed, so the next step may pay page
faults afresh, and which implementation pays depends on allocation history, not on its
code (we measured 30% swings between identical code paths). On Linux the script
therefore re-runs itself with ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``
raised so freed blocks stay in the heap for every variant alike (``--system-malloc``
turns this off).

An optimizer step is memory-bound: Adam reads and writes about 4 tensors the size of
the model. The readable path issues torch's own per-tensor operations, and our foreach
path torch's own foreach operations, so each should stay within 1.1x of its torch
counterpart. foreach and fused pay off on a GPU (one kernel launch for all tensors, or
one fused pass); on a CPU the foreach ops loop over the tensors anyway, and only fusing
the whole update into one pass over memory (torch's fused=True, or ``--compile``) is
faster. SparseAdam (sparse gradients) and LBFGS (a closure, many evaluations per step)
are not timed here.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

import course_lib.optim as co


@dataclass(frozen=True)
class Row:
    """One optimizer to time: torch's class, ours, the arguments both get."""

    name: str
    torch_cls: type
    ours_cls: type
    kwargs: dict = field(default_factory=dict)
    matrices: bool = False
    """Time it on matrices (Muon takes nothing else; Adafactor factors them): each tensor is
    reshaped to the most nearly square matrix of its size."""


ROWS = [
    Row("SGD momentum", torch.optim.SGD, co.SGD, {"lr": 1e-3, "momentum": 0.9}),
    Row("Adagrad", torch.optim.Adagrad, co.Adagrad, {"lr": 1e-2}),
    Row("RMSprop", torch.optim.RMSprop, co.RMSprop, {"lr": 1e-3}),
    Row("Adadelta", torch.optim.Adadelta, co.Adadelta),
    Row("Adam", torch.optim.Adam, co.Adam, {"lr": 1e-3}),
    Row("AdamW", torch.optim.AdamW, co.AdamW, {"lr": 1e-3, "weight_decay": 1e-2}),
    Row("Adamax", torch.optim.Adamax, co.Adamax),
    Row("NAdam", torch.optim.NAdam, co.NAdam),
    Row("RAdam", torch.optim.RAdam, co.RAdam),
    Row("Rprop", torch.optim.Rprop, co.Rprop),
    Row("ASGD", torch.optim.ASGD, co.ASGD),
    Row("Adafactor", torch.optim.Adafactor, co.Adafactor, {"lr": 1e-2}, matrices=True),
    # Newton-Schulz products make Muon's step compute-bound, unlike the others: try it with
    # a smaller --numel on a CPU.
    Row("Muon", torch.optim.Muon, co.Muon, {"lr": 0.02}, matrices=True),
]
BASELINE = "torch foreach=False"
TORCH_FOREACH, OURS, OURS_FOREACH = "torch foreach=True", "ours (readable)", "ours foreach=True"
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**32)}


# ------------------------------------------------- optional: torch.compile of the same rules
#
# ``--compile`` adds a variant in which inductor fuses each tensor's update into one loop,
# which is what torch's fused=True kernels do by hand. The step-dependent scalars are passed
# as 0-dim tensors so that the compiled graph is reused at every step; the arithmetic is
# the book's (up to rounding: fused multiply-adds), and the state is the ordinary state.


def _sgd_momentum_rule(params, grads, buffers, lr: float, momentum: float, dampening: float) -> None:
    for param, grad, buffer in zip(params, grads, buffers):
        buffer.mul_(momentum).add_(grad, alpha=1 - dampening)
        param.add_(buffer, alpha=-lr)


def _adam_rule(params, grads, exp_avgs, exp_avg_sqs, neg_step_size, bias_correction2_sqrt,
               decay: float, beta1: float, beta2: float, eps: float) -> None:
    for param, grad, exp_avg, exp_avg_sq in zip(params, grads, exp_avgs, exp_avg_sqs):
        param.mul_(decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
        param.add_(neg_step_size * exp_avg / denom)


_COMPILED: dict[str, Callable] = {}


def _compiled(rule: Callable) -> Callable:
    if rule.__name__ not in _COMPILED:
        _COMPILED[rule.__name__] = torch.compile(rule, fullgraph=True, dynamic=False)
    return _COMPILED[rule.__name__]


class CompiledSGD(co.SGD):
    """SGD with momentum whose foreach path runs a compiled kernel once the buffers exist."""

    def update_foreach(self, params, grads, states, group) -> None:
        if any("momentum_buffer" not in s for s in states) or group["nesterov"] or group["maximize"] or group["weight_decay"]:
            return super().update_foreach(params, grads, states, group)
        buffers = [s["momentum_buffer"] for s in states]
        _compiled(_sgd_momentum_rule)(params, grads, buffers, group["lr"], group["momentum"], group["dampening"])


def _compiled_adam_group(params, grads, states, group, decoupled: bool) -> None:
    if group["amsgrad"] or group["maximize"] or (group["weight_decay"] and not decoupled):
        raise NotImplementedError("the compiled benchmark kernel covers plain Adam and AdamW only")
    for param, state in zip(params, states):
        if not state:
            state.update(co.adam_init_state(param))
        state["step"] += 1
    (t,) = {s["step"].item() for s in states}
    lr, (beta1, beta2) = group["lr"], group["betas"]
    neg_step_size = torch.tensor(-lr / (1 - beta1**t), device=params[0].device)
    bias_correction2_sqrt = torch.tensor((1 - beta2**t) ** 0.5, device=params[0].device)
    decay = 1 - lr * group["weight_decay"] if decoupled else 1.0
    _compiled(_adam_rule)(
        params, grads, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
        neg_step_size, bias_correction2_sqrt, decay, beta1, beta2, group["eps"],
    )


class CompiledAdam(co.Adam):
    def update_foreach(self, params, grads, states, group) -> None:
        _compiled_adam_group(params, grads, states, group, decoupled=False)


class CompiledAdamW(co.AdamW):
    def update_foreach(self, params, grads, states, group) -> None:
        _compiled_adam_group(params, grads, states, group, decoupled=True)


COMPILED_CLASSES = {"SGD momentum": CompiledSGD, "Adam": CompiledAdam, "AdamW": CompiledAdamW}


def make_params(grads: list[torch.Tensor]) -> list[torch.nn.Parameter]:
    params = [torch.nn.Parameter(torch.randn_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g
    return params


def variants(row: Row, device: torch.device, compile_: bool) -> dict[str, Callable]:
    """Constructors (params -> optimizer) of every implementation of ``row`` to time."""
    torch_cls, ours_cls, kwargs = row.torch_cls, row.ours_cls, row.kwargs
    # torch's Muon has one path and no foreach argument: it is its own baseline
    single = {"foreach": False} if "foreach" in inspect.signature(torch_cls).parameters else {}
    made = {
        BASELINE: lambda p: torch_cls(p, **single, **kwargs),
        TORCH_FOREACH: lambda p: torch_cls(p, foreach=True, **kwargs),
        "torch fused=True": lambda p: torch_cls(p, fused=True, **kwargs),
        OURS: lambda p: ours_cls(p, **kwargs),
        OURS_FOREACH: lambda p: ours_cls(p, foreach=True, **kwargs),
    }
    if "fused" not in inspect.signature(torch_cls).parameters:
        del made["torch fused=True"]
    if compile_ and row.name in COMPILED_CLASSES:
        made["ours compiled"] = lambda p: COMPILED_CLASSES[row.name](p, foreach=True, **kwargs)
    probe_shape = (2, 2) if row.matrices else (2,)
    probe = [torch.nn.Parameter(torch.zeros(probe_shape, device=device))]
    probe[0].grad = torch.zeros(probe_shape, device=device)
    usable = {}
    for label, make in made.items():
        try:
            make(probe).step()
        except (RuntimeError, ValueError, NotImplementedError, TypeError) as error:
            print(f"  {row.name}: skipping {label}: {error}")
            continue
        usable[label] = make
    return usable


def most_square(size: int) -> tuple[int, int]:
    """The matrix shape of ``size`` entries closest to square."""
    rows = max(d for d in range(1, math.isqrt(size) + 1) if size % d == 0)
    return size // rows, rows


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def time_step(optimizer: torch.optim.Optimizer, device: torch.device, clock: Callable[[], float]) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = clock()
    optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return clock() - start


def benchmark(
    row: Row, device: torch.device, numel: int, tensors: int, warmup: int, steps: int, compile_: bool,
    clock: Callable[[], float],
) -> list[tuple]:
    generator = torch.Generator().manual_seed(0)
    sizes = [numel // tensors + (1 if i < numel % tensors else 0) for i in range(tensors)]
    grads = [torch.randn(size, generator=generator).to(device) for size in sizes]
    if row.matrices:
        grads = [g.reshape(most_square(g.numel())) for g in grads]
    optimizers = {label: make(make_params(grads)) for label, make in variants(row, device, compile_).items()}
    for optimizer in optimizers.values():
        for _ in range(warmup):
            optimizer.step()
    times: dict[str, list[float]] = {label: [] for label in optimizers}
    for _ in range(steps):
        for label, optimizer in optimizers.items():
            times[label].append(time_step(optimizer, device, clock))
    baseline_median, baseline_min = statistics.median(times[BASELINE]), min(times[BASELINE])
    rows = []
    for label, samples in times.items():
        median, fastest = statistics.median(samples), min(samples)
        rows.append((row.name, label, 1e3 * median, median / baseline_median, 1e3 * fastest, fastest / baseline_min))
    del optimizers, grads
    return rows


def summary(rows: list[tuple]) -> list[tuple]:
    """Per optimizer: ours against torch on each path, as (name, loop median, loop min,
    foreach median, foreach min) ratios."""
    times = {(name, label): (median, fastest) for name, label, median, _, fastest, _ in rows}
    result = []
    for name in dict.fromkeys(name for name, *_ in rows):
        ratios = []
        for ours, theirs in ((OURS, BASELINE), (OURS_FOREACH, TORCH_FOREACH)):
            if (name, ours) in times and (name, theirs) in times:
                ratios += [times[name, ours][0] / times[name, theirs][0], times[name, ours][1] / times[name, theirs][1]]
            else:
                ratios += [float("nan"), float("nan")]
        result.append((name, *ratios))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--numel", type=int, default=10_000_000, help="parameters in total (default 10 M)")
    parser.add_argument("--tensors", type=int, default=8, help="number of parameter tensors (default 8)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per variant (default 3)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant (default 20)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads on CPU")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="time only these rows (names as in ROWS)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall time (default), or the CPU time of the main thread: with --threads 1 all "
                             "the work runs there, and other processes' load barely changes it")
    parser.add_argument("--compile", action="store_true",
                        help="also time a torch.compile'd version of our rules (compiles for ~1 min on 2 cores)")
    parser.add_argument("--system-malloc", action="store_true", help="keep glibc's default malloc settings")
    args = parser.parse_args()
    if sys.platform.startswith("linux") and not args.system_malloc and "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_SETTINGS})

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda given but CUDA is not available")
    if args.clock == "cpu" and (device.type != "cpu" or args.threads != 1):
        raise SystemExit("--clock cpu measures the main thread: use it with --device cpu --threads 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}; {where}; {args.numel:,} float32 parameters in {args.tensors} tensors; "
          f"median of {args.steps} steps after {args.warmup} warm-up steps; {args.clock} clock")

    selected = [row for row in ROWS if not args.only or row.name in args.only]
    if args.only and len(selected) != len(set(args.only)):
        known = ", ".join(row.name for row in ROWS)
        raise SystemExit(f"unknown row in --only {args.only}; the rows are: {known}")
    rows = []
    for index, row in enumerate(selected, start=1):
        print(f"  [{index}/{len(selected)}] {row.name}", flush=True)
        rows.extend(benchmark(row, device, args.numel, args.tensors, args.warmup, args.steps, args.compile, CLOCKS[args.clock]))

    print(f"\nratios are against {BASELINE} in the same run; min is the fastest step, least disturbed by load")
    print(f"{'optimizer':<14} {'implementation':<22} {'median ms':>10} {'ratio':>7} {'min ms':>9} {'ratio':>7}")
    print("-" * 74)
    for name, label, median_ms, median_ratio, min_ms, min_ratio in rows:
        print(f"{name:<14} {label:<22} {median_ms:10.2f} {median_ratio:6.2f}x {min_ms:9.2f} {min_ratio:6.2f}x")

    print("\nours / torch on the same path (median, and fastest step)")
    print(f"{'optimizer':<14} {'readable / torch loop':>24} {'foreach / torch foreach':>26}")
    print("-" * 66)
    def ratio(value: float, width: int) -> str:  # nan: that path does not exist for this optimizer
        return f"{'-':>{width}} " if value != value else f"{value:{width}.2f}x"

    for name, loop_median, loop_min, foreach_median, foreach_min in summary(rows):
        print(f"{name:<14} {ratio(loop_median, 11)} {ratio(loop_min, 10)} {ratio(foreach_median, 12)} {ratio(foreach_min, 11)}")


if __name__ == "__main__":
    main()
