"""Latency of the trajectory explorer: from a slider change to the updated picture.

A change of a control triggers, synchronously: a new run of the optimizer (200 steps by
default), ``set_data`` on the path and loss-curve artists, drawing on the Agg canvas,
and the PNG encoding that the ``ipywidgets.Image`` shows. This script times that whole
chain, as a notebook user triggers it (``explorer.controls[name].value = v``), for:

* ``lr slider``, ``momentum slider``, ``beta1 slider``: the explorer's normal path,
  which restores the cached background (contours, axes, ticks) and draws only the
  moving artists, redrawing the loss axes first when they need new limits (the note
  "redraws" counts those);
* ``lr, full canvas.draw()``: the same changes with a full ``fig.canvas.draw()`` forced
  on every update (``explorer.update(full_redraw=True)``), the upper bound;

and the parts on their own: the optimizer run, a full draw, a blit, the PNG encoding.
Each row shows the median, the 95th percentile and the minimum in milliseconds (on a
shared machine the minimum is the best estimate of the undisturbed cost). The target
is a median under 50 ms for 200-step paths on a CPU.

``--all`` times the lr slider instead for every landscape and every optimizer of the
explorer's menus (the default one and chapter 9's), and the optimizer run alone on the
torch loop and as the explorer runs it (``run(..., engine="auto")``: the plain-float
engine where it has the optimizer's rule).

    python benchmarks/widgets.py
    python benchmarks/widgets.py --changes 100 --steps 300 --landscape rosenbrock
    python benchmarks/widgets.py --all
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from course_lib.plots import figure_png  # noqa: E402
from course_lib.widgets import TrajectoryExplorer  # noqa: E402


def summary(name: str, seconds: Sequence[float], note: str = "") -> str:
    ms = np.asarray(seconds) * 1e3
    return (f"{name:<28} {statistics.median(ms):8.1f} {np.percentile(ms, 95):8.1f} {ms.min():8.1f}"
            f"  {note}")


def time_changes(explorer: TrajectoryExplorer, control: str, values: Sequence[float], n: int) -> tuple[list[float], int]:
    """Set ``control`` to the values in turn, n times; the wall time of each assignment."""
    widget = explorer.controls[control]
    before = explorer.full_redraws + explorer.loss_redraws
    times = []
    for value in itertools.islice(itertools.cycle(values), n):
        if widget.value == value:
            continue
        start = time.perf_counter()
        widget.value = value
        times.append(time.perf_counter() - start)
        if explorer.error:
            raise RuntimeError(explorer.error)
    return times, explorer.full_redraws + explorer.loss_redraws - before


def time_calls(function: Callable[[], object], n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def every_landscape_and_optimizer(changes: int, steps: int, lr: float) -> None:
    """Median and p95 of an lr-slider change, per landscape x optimizer of the menus."""
    from course_lib.trajectories import run
    from course_lib.widgets import default_optimizers, explorer_landscapes, modern_optimizers

    lrs = [lr * factor for factor in (0.4, 0.6, 1.0, 1.4, 2.0, 1.4, 1.0, 0.6)]
    print(f"lr-slider change, {steps}-step paths, lr between {lrs[0]:g} and {lrs[4]:g}; torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'landscape':<18} {'optimizer':<19} {'median':>7} {'p95':>7} {'axes':>5}  "
          f"{'run: torch':>10} {'auto':>7}  (ms)")
    worst = 0.0
    default, modern = default_optimizers(), modern_optimizers()
    # every optimizer of the default menu and of chapter 9's, once
    entries = [(default, name) for name in default] + [(modern, name) for name in modern if name not in default]
    for landscape in explorer_landscapes():
        for menu, name in entries:
            explorer = TrajectoryExplorer(landscape, menu, optimizer=name, steps=steps, lr=lr)
            times, full = time_changes(explorer, "lr", lrs, changes)
            built, cls = explorer.landscape, menu[name]
            engines = [statistics.median(time_calls(lambda e=e: run(cls, built, steps=steps, lr=lr, engine=e), 9)) * 1e3
                       for e in ("torch", "auto")]
            median = statistics.median(times) * 1e3
            worst = max(worst, median)
            print(f"{landscape:<18} {name[:19]:<19} {median:7.1f} {np.percentile(times, 95) * 1e3:7.1f} {full:5d}  "
                  f"{engines[0]:10.1f} {engines[1]:7.2f}")
    print(f"slowest median: {worst:.1f} ms (target: under 50 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=60, help="slider changes per row (default 60)")
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps per run (default 200)")
    parser.add_argument("--optimizer", default="Adam", help="menu name: SGD, Adam, AdamW, RMSprop, Adagrad")
    parser.add_argument("--landscape", default="linear regression", help="menu name of the landscape")
    parser.add_argument("--lr", type=float, default=0.05, help="the lr slider moves between 0.4 and 2 times this")
    parser.add_argument("--all", action="store_true", help="the lr slider for every landscape and optimizer of the menus")
    args = parser.parse_args()
    if args.all:
        every_landscape_and_optimizer(args.changes, args.steps, args.lr)
        return

    explorer = TrajectoryExplorer(args.landscape, optimizer=args.optimizer, steps=args.steps, lr=args.lr)
    n = args.changes
    lrs = [args.lr * factor for factor in (0.4, 0.6, 1.0, 1.4, 2.0, 1.4, 1.0, 0.6)]
    rows = []
    times, full = time_changes(explorer, "lr", lrs, n)
    rows.append(summary("lr slider", times, f"{full} redraws in {len(times)} changes"))
    momentum_control = "momentum" if not explorer.controls["momentum"].disabled else "beta1"
    times, full = time_changes(explorer, momentum_control, [0.5, 0.7, 0.8, 0.9, 0.95, 0.9, 0.8, 0.7], n)
    rows.append(summary(f"{momentum_control} slider", times, f"{full} redraws in {len(times)} changes"))
    values = itertools.cycle(lrs)
    # time only the forced full update: set the value quietly, then update with a full draw
    times = []
    for value in itertools.islice(values, n):
        explorer._quiet = True
        explorer.controls["lr"].value = value
        explorer._quiet = False
        start = time.perf_counter()
        explorer.update(full_redraw=True)
        times.append(time.perf_counter() - start)
    rows.append(summary("lr, full canvas.draw()", times, "run + set_data + fig.canvas.draw() + PNG"))
    rows.append(summary("  optimizer run only", time_calls(explorer.run, n), f"{args.steps} steps of {args.optimizer}"))
    rows.append(summary("  fig.canvas.draw() only", time_calls(explorer.figure.canvas.draw, n)))
    rows.append(summary("  blit only", time_calls(lambda: explorer._render(False), n), "includes the PNG"))
    rows.append(summary("  new loss limits only", time_calls(lambda: (explorer._loss_backgrounds.clear(), explorer._render(False, True)), n),
                        "the loss axes redrawn, then the blit"))
    rows.append(summary("  PNG encoding only", time_calls(lambda: figure_png(explorer.figure, draw=False), n)))

    width, height = explorer.figure.canvas.get_width_height()
    print(f"TrajectoryExplorer on {args.landscape!r}, {args.optimizer}, {args.steps}-step paths, "
          f"{width}x{height} px; torch {torch.__version__}, matplotlib {matplotlib.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'':<28} {'median':>8} {'p95':>8} {'min':>8}  (ms)")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
