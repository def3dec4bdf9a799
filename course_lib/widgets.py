r"""Interactive pictures: watch an optimizer move, and read trajectories in quizzes.

Two objects, each in two forms:

* :class:`TrajectoryExplorer` — contour lines, the path of an optimizer and its loss
  curve, with sliders for the optimizer's hyperparameters. Live in a notebook
  (``explorer.show()``), and as a step-through animation for the rendered book,
  where no kernel runs (``explorer.static()`` or :func:`explorer_static`).
* :class:`~course_lib.quiz.TrajectoryQuiz` (in :mod:`course_lib.quiz`, re-exported
  here) — panels in which one hyperparameter is varied; "which one, and why?".

The live forms use only ``ipywidgets`` core widgets: the figure is drawn by
matplotlib's Agg backend and shown as a PNG in an ``ipywidgets.Image``, so they work
in JupyterLab 4 and Notebook 7 without any extension (no ipympl) and whatever the
``%matplotlib`` backend is. A change of a control re-runs the optimizer, moves the
existing artists (``set_data``), redraws the canvas and swaps the picture.

Errors never escape a callback: an unknown hyperparameter, an invalid value or a run
that diverges is reported in the status line under the picture, and the next change
works as before.
"""

from __future__ import annotations

import ast
import collections
import functools
import html
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.animation import FuncAnimation
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import MaxNLocator, NullFormatter
from torch.optim import Optimizer

from course_lib.landscapes import (
    LANDSCAPES,
    Landscape,
    LinearRegressionLoss,
    make_landscape,
)
from course_lib.plots import (
    PATH_COLORS,
    PathArtists,
    figure_png,
    first_nonfinite,
    plot_landscape,
    plot_path,
    style,
)
from course_lib.quiz import Feedback, TrajectoryQuiz  # noqa: F401  (re-exported for pages)
from course_lib.trajectories import Trajectory, hyperparameter_names, run

__all__ = [
    "TrajectoryExplorer",
    "explorer_static",
    "explorer_landscapes",
    "short_labels",
    "default_optimizers",
    "modern_optimizers",
    "parse_keyword_arguments",
]
# TrajectoryQuiz and Feedback are imported above so that pages can take both widgets
# from here; course_lib.quiz exports them.


def default_optimizers() -> dict[str, type[Optimizer]]:
    """The explorer's default menu: torch's SGD, Adam, AdamW, RMSprop and Adagrad."""
    return {
        "SGD": torch.optim.SGD,
        "Adam": torch.optim.Adam,
        "AdamW": torch.optim.AdamW,
        "RMSprop": torch.optim.RMSprop,
        "Adagrad": torch.optim.Adagrad,
    }


def modern_optimizers() -> dict[str, type[Optimizer]]:
    """A menu for chapter 9: AdamW, Lion, Adafactor, Muon, schedule-free AdamW and RAdam.

    torch's classes where torch has one, the course's :class:`~course_lib.optim.Lion`
    and :class:`~course_lib.optim.AdamWScheduleFree` otherwise. On the explorer's 2-D
    landscapes Muon runs on a 1x2 matrix, where orthogonalizing is normalizing: it is
    normalized gradient descent with momentum; schedule-free AdamW's path is its
    evaluation point.
    """
    from course_lib.optim import AdamWScheduleFree, Lion

    return {
        "AdamW": torch.optim.AdamW,
        "Lion": Lion,
        "Adafactor": torch.optim.Adafactor,
        "Muon": torch.optim.Muon,
        "schedule-free AdamW": AdamWScheduleFree,
        "RAdam": torch.optim.RAdam,
    }


def parse_keyword_arguments(text: str) -> dict[str, Any]:
    """Read ``"nesterov=True, dampening=0.1"`` into a dict; values must be Python literals.

    Raises:
        ValueError: with a message a student can act on.

    Example:
        >>> parse_keyword_arguments("amsgrad=True, eps=1e-6")
        {'amsgrad': True, 'eps': 1e-06}
    """
    text = text.strip()
    if not text:
        return {}
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError:
        raise ValueError(f"could not read {text!r}: write keyword arguments such as nesterov=True, amsgrad=True") from None
    if not isinstance(call, ast.Call) or call.args or any(k.arg is None for k in call.keywords):
        raise ValueError(f"could not read {text!r}: write keyword arguments such as nesterov=True, amsgrad=True")
    out = {}
    for keyword in call.keywords:
        try:
            out[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError):
            raise ValueError(f"the value of {keyword.arg} must be a number, True/False or a tuple") from None
    return out


def _status_html(message: str, kind: str = "ok") -> str:
    colour = {"ok": "#1b5e20", "warn": "#8a4b00", "error": "#b00020"}[kind]
    icon = {"ok": "", "warn": "⚠ ", "error": "✖ "}[kind]
    return f'<div style="color:{colour};font-family:sans-serif;font-size:13px">{icon}{html.escape(message)}</div>'


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_format(v) for v in value) + ")"
    return repr(value)


def _call_text(name: str, hyperparameters: Mapping[str, Any]) -> str:
    return f"{name}(" + ", ".join(f"{k}={_format(v)}" for k, v in hyperparameters.items()) + ")"


def explorer_landscapes() -> dict[str, Callable[[], Landscape]]:
    """The explorer's landscape menu: a name and how to build it, per entry of
    :data:`~course_lib.landscapes.LANDSCAPES` (built when first chosen).

    The linear-regression entry uses an uncentred feature (``feature_shift=1``), whose
    tilted, elongated contours tell the optimizers apart better than round ones.
    """
    menu: dict[str, Callable[[], Landscape]] = {name: functools.partial(make_landscape, name) for name in LANDSCAPES}
    menu["linear regression"] = functools.partial(LinearRegressionLoss, feature_shift=1.0)
    return menu


class TrajectoryExplorer:
    r"""Contour plot, optimizer path and loss curve, with a control for every hyperparameter.

    Controls (``explorer.controls[name]``): ``landscape``, ``optimizer``, ``lr`` (log
    slider), ``momentum``, ``beta1``, ``beta2``, ``eps`` (log), ``weight_decay``,
    ``steps``, ``start_x``, ``start_y``, ``batch_size`` (linear-regression landscape
    only) and ``extra``, a text box for any other keyword argument
    (``nesterov=True``, ``amsgrad=True``, ``centered=True``...). Controls an optimizer
    does not take (or takes in another form, like Adafactor's pair ``eps``) are greyed out. For optimizers without ``betas`` the ``beta2``
    slider sets the analogous average: ``alpha`` of RMSprop, ``rho`` of Adadelta.
    "Pin path" keeps the current path as a faint line to compare the next ones with.

    Every change calls :meth:`update`: it re-runs :func:`course_lib.trajectories.run`
    (on its plain-float engine for torch's optimizers, ``engine="auto"``), moves the
    existing artists with ``set_data`` and redraws. The contour panel and pinned paths
    are drawn once into a cached background (Agg ``copy_from_bbox``); an update restores
    it and draws only the loss panel and the moving artists. The loss axis snaps to whole
    decades and changes limits only when the curve leaves them or fills less than 30 %
    of them, so the picture holds still; a new landscape or pin redraws everything.

    Args:
        landscape: a landscape (added to the menu under its name), or a name from
            :func:`explorer_landscapes` (default: linear regression with an uncentred
            feature).
        optimizers: menu of optimizer classes by name (default
            :func:`default_optimizers`; pass ``course_lib.optim``'s classes to
            explore the course's own).
        optimizer: the name selected at first (default: the first in the menu).
        lr: initial learning rate (default 0.1).
        momentum: initial momentum (default 0.9).
        betas: initial ``(beta1, beta2)`` (default torch's ``(0.9, 0.999)``).
        eps: initial eps (default torch's 1e-8).
        weight_decay: initial weight decay (default 0).
        steps: number of steps (default 100).
        start: start point (default: the landscape's).
        batch_size: mini-batch size for the linear-regression landscape (None: full batch).
        extra: initial text of the keyword-argument box.
        figsize: figure size in inches (default (9, 3.8)).
        dpi: resolution of the live picture (default 80).

    Attributes:
        figure: the matplotlib figure (Agg canvas; pyplot never sees it).
        ax: the contour axes; ``loss_ax``: the loss-curve axes.
        path_artists: the :class:`~course_lib.plots.PathArtists` of the current path.
        loss_line: the loss curve's ``Line2D``.
        trajectory: the current :class:`~course_lib.trajectories.Trajectory` (the last
            successful run).
        error: the message of the last failed update, or None.
        status: the ``ipywidgets.HTML`` status line.
        image: the ``ipywidgets.Image`` that shows the figure.
        full_redraws: how many updates redrew the whole figure, contours included.
        loss_redraws: how many drew the loss axes for new limits (the pictures of the last
            :attr:`LOSS_BACKGROUNDS` limits are kept); the others only moved the path and
            the curve over a cached background.

    Example:
        >>> explorer = TrajectoryExplorer("quadratic", optimizer="SGD", lr=0.5, momentum=0.9)
        >>> explorer.controls["momentum"].value = 0.5      # the picture follows
        >>> explorer.show()                               # doctest: +SKIP
    """

    #: The ``beta2`` slider's role for optimizers without ``betas``.
    SECOND_AVERAGE_NAMES = ("alpha", "rho")
    #: The loss axis spans at most this many decades below its top.
    LOSS_DECADES = 10
    #: Pictures of the loss axes kept, for the most recent limits (about 0.9 MB each at the default size).
    LOSS_BACKGROUNDS = 8

    def __init__(
        self,
        landscape: Landscape | str = "linear regression",
        optimizers: Mapping[str, type[Optimizer]] | None = None,
        *,
        optimizer: str | None = None,
        lr: float = 0.1,
        momentum: float = 0.9,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        steps: int = 100,
        start: Sequence[float] | None = None,
        batch_size: int | None = None,
        extra: str = "",
        figsize: tuple[float, float] = (9.0, 3.8),
        dpi: int = 80,
    ) -> None:
        import ipywidgets as w

        self.optimizers = dict(optimizers or default_optimizers())
        if not self.optimizers:
            raise ValueError("optimizers must name at least one optimizer class")
        optimizer = optimizer or next(iter(self.optimizers))
        if optimizer not in self.optimizers:
            raise ValueError(f"unknown optimizer {optimizer!r}; the menu has: {', '.join(self.optimizers)}")
        self._landscape_menu = explorer_landscapes()
        self.landscapes: dict[str, Landscape] = {}  # the ones built so far
        if isinstance(landscape, Landscape):
            menu_name = landscape.name
            self._landscape_menu[menu_name] = lambda: landscape
        else:
            menu_name = str(landscape).strip().lower().replace("_", " ")
            if menu_name not in self._landscape_menu:
                raise ValueError(f"unknown landscape {landscape!r}; choose one of: {', '.join(self._landscape_menu)}")
        self.landscape = self._build_landscape(menu_name)
        self.trajectory: Trajectory | None = None
        self.error: str | None = None
        self.pinned: list[tuple[Trajectory, PathArtists, Any]] = []
        self.full_redraws = 0
        self.loss_redraws = 0
        self._panels = None
        self._background = None
        self._loss_backgrounds: collections.OrderedDict[Any, Any] = collections.OrderedDict()
        self._loss_limits: tuple[Any, ...] | None = None
        self._quiet = False
        start = tuple(self.landscape.start if start is None else start)

        layout = w.Layout(width="320px")
        label_style = {"description_width": "96px"}
        common = dict(layout=layout, style=label_style)
        slider = dict(continuous_update=False, **common)
        self.controls: dict[str, Any] = {
            "landscape": w.Dropdown(options=list(self._landscape_menu), value=menu_name, description="landscape",
                                    **common),
            "optimizer": w.Dropdown(options=list(self.optimizers), value=optimizer, description="optimizer", **common),
            "lr": w.FloatLogSlider(value=lr, base=10, min=-4, max=1, step=0.05, description="lr",
                                   readout_format=".2g", **slider),
            "momentum": w.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01, description="momentum", **slider),
            "beta1": w.FloatSlider(value=betas[0], min=0.0, max=0.999, step=0.001, description="beta1",
                                   readout_format=".3f", **slider),
            "beta2": w.FloatSlider(value=betas[1], min=0.0, max=0.9999, step=0.0001, description="beta2",
                                   readout_format=".4f", **slider),
            "eps": w.FloatLogSlider(value=eps, base=10, min=-10, max=1, step=0.5, description="eps",
                                    readout_format=".0e", **slider),
            "weight_decay": w.FloatSlider(value=weight_decay, min=0.0, max=2.0, step=0.01,
                                          description="weight decay", **slider),
            "steps": w.IntSlider(value=steps, min=1, max=500, step=1, description="steps", **slider),
            "start_x": w.FloatSlider(value=0.0, description="start x", step=0.01, **slider),
            "start_y": w.FloatSlider(value=0.0, description="start y", step=0.01, **slider),
            # 0 stands for "full batch": a Dropdown reads the value None as "nothing selected"
            "batch_size": w.Dropdown(options=[("full batch", 0)] + [(str(n), n) for n in sorted(
                                         {1, 2, 5, 10, 20, 50, batch_size or 1})], value=batch_size or 0,
                                     description="batch size", **common),
            "extra": w.Text(value=extra, description="more kwargs", placeholder="e.g. nesterov=True",
                            continuous_update=False, **common),
        }
        self._set_start(start)
        self.pin_button = w.Button(description="Pin path", tooltip="keep this path to compare",
                                   layout=w.Layout(width="155px"))
        self.clear_button = w.Button(description="Clear pins", layout=w.Layout(width="155px"))
        self.pin_button.on_click(lambda _: self.pin())
        self.clear_button.on_click(lambda _: self.clear_pins())
        self.status = w.HTML()
        self.image = w.Image(format="png")

        with style():
            self.figure = Figure(figsize=figsize, dpi=dpi)
            FigureCanvasAgg(self.figure)
            self.ax, self.loss_ax = self.figure.subplots(1, 2, width_ratios=[1.25, 1])
            # margins in inches, set once: a layout engine would measure every text on
            # every full draw (it doubled their cost)
            width, height = figsize
            self.figure.subplots_adjust(left=0.7 / width, right=1 - 0.15 / width, bottom=0.55 / height,
                                        top=1 - 0.35 / height, wspace=2 * 0.95 / (width - 0.85 - 0.95))
            self.loss_ax.set_xlabel("step")
            self.loss_ax.set_ylabel("loss (full batch)")
            self.loss_ax.yaxis.set_minor_formatter(NullFormatter())
            (self.loss_line,) = self.loss_ax.plot([], [], color=PATH_COLORS[0], animated=True)
            self._draw_landscape()
        for name, control in self.controls.items():
            control.observe(self._on_landscape if name == "landscape" else self._on_change, names="value")
        self._sync_enabled()
        self.update()
        self.box = w.HBox([
            w.VBox([*self.controls.values(), w.HBox([self.pin_button, self.clear_button])],
                   layout=w.Layout(min_width="330px")),
            w.VBox([self.image, self.status], layout=w.Layout(flex="1 1 auto")),
        ])

    # -- figure --------------------------------------------------------------------
    def _draw_landscape(self) -> None:
        # a new landscape is the one change that rebuilds artists: new contours, no pins
        self._remove_pins()
        with style():
            self.ax.clear()
            plot_landscape(self.landscape, self.ax, resolution=120)
            self.ax.set_title(self.landscape.name)
            self.path_artists = plot_path(torch.full((1, 2), math.nan), self.ax, color=PATH_COLORS[0], zorder=5)
        for artist in self._moving_artists():
            artist.set_animated(True)
        self._panels = self._background = None

    def _moving_artists(self) -> list[Any]:
        a = self.path_artists
        return [a.line, a.start, a.end, a.note, self.loss_line]

    def _render(self, full: bool, new_loss_limits: bool = False) -> None:
        """Draw the figure into the image: the moving artists onto a cached background.

        Two backgrounds are cached: the contour panel with an empty loss panel (redrawn
        only for a new landscape or pin), and that plus the loss axes (redrawn, from the
        first, when the loss axis gets new limits), so no update draws the contours again.
        """
        canvas = self.figure.canvas
        if full or self._panels is None:
            # animated (moving) artists are left out of this draw, and so is the loss panel
            self.loss_ax.set_visible(False)
            try:
                canvas.draw()
            finally:
                self.loss_ax.set_visible(True)
            self._panels = canvas.copy_from_bbox(self.figure.bbox)
            self._loss_backgrounds.clear()
            self.full_redraws += 1
            new_loss_limits = True
        if new_loss_limits or self._background is None:
            # a slider moved back and forth returns to the same limits: their picture is kept
            key = self._loss_limits
            self._background = self._loss_backgrounds.pop(key, None)
            if self._background is None:
                canvas.restore_region(self._panels)
                self.figure.draw_artist(self.loss_ax)
                self._background = canvas.copy_from_bbox(self.figure.bbox)
                self.loss_redraws += 1
            self._loss_backgrounds[key] = self._background
            while len(self._loss_backgrounds) > self.LOSS_BACKGROUNDS:
                self._loss_backgrounds.popitem(last=False)
        canvas.restore_region(self._background)
        for artist in self._moving_artists():
            self.figure.draw_artist(artist)
        self.image.value = figure_png(self.figure, draw=False)

    def _target_loss_limits(self) -> tuple[str, tuple[float, float], tuple[float, float]]:
        lines = [self.loss_line] + [line for _, _, line in self.pinned]
        ys = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in lines])
        ys = ys[np.isfinite(ys)]
        x_max = max(max((len(line.get_xdata()) for line in lines), default=1) - 1, 1)
        x_max = max(x_max, int(self.controls["steps"].value))
        if ys.size == 0:
            return "linear", (0.0, 1.0), (0.0, float(x_max))
        low, high = float(ys.min()), float(ys.max())
        if low > 0:
            # whole decades, at most 3 above the start and LOSS_DECADES below the top:
            # neither a diverging run nor one converging to 1e-15 rescales the axis
            start = float(self.loss_line.get_ydata()[0]) if len(self.loss_line.get_ydata()) else high
            high = 10.0 ** math.ceil(math.log10(min(high, 1e3 * start)))
            low = max(10.0 ** math.floor(math.log10(low)), high * 10.0**-self.LOSS_DECADES)
            return "log", (low, high if high > low else low * 10), (0.0, float(x_max))
        ticks = MaxNLocator(5).tick_values(low, high)
        return "linear", (float(ticks[0]), float(ticks[-1])), (0.0, float(x_max))

    def _keeps_loss_limits(self, target: tuple[Any, ...]) -> bool:
        """Whether the current loss axis still fits: same scale and steps, the new
        range inside the old one and filling at least 30 % of it. This hysteresis keeps
        the axis from jumping as a slider moves."""
        if self._loss_limits is None:
            return False
        scale, (low, high), xlim = self._loss_limits
        new_scale, (new_low, new_high), new_xlim = target
        if scale != new_scale or xlim != new_xlim or new_low < low or new_high > high:
            return False
        if scale == "log":
            return math.log(new_high / new_low) >= 0.3 * math.log(high / low)
        return new_high - new_low >= 0.3 * (high - low)

    # -- controls --------------------------------------------------------------------
    @property
    def optimizer_cls(self) -> type[Optimizer]:
        """The optimizer class selected in the menu."""
        return self.optimizers[self.controls["optimizer"].value]

    def _set_start(self, start: Sequence[float]) -> None:
        (x0, x1), (y0, y1) = self.landscape.default_xlim, self.landscape.default_ylim
        quiet, self._quiet = self._quiet, True
        for key, low, high, value in (("start_x", x0, x1, start[0]), ("start_y", y0, y1, start[1])):
            control = self.controls[key]
            control.min, control.max = -1e9, 1e9  # widen first so that min <= max holds throughout
            control.min, control.max = float(low), float(high)
            control.value = float(min(max(value, low), high))
        self._quiet = quiet

    def _sync_enabled(self) -> None:
        accepted = set(hyperparameter_names(self.optimizer_cls))
        c = self.controls
        c["momentum"].disabled = "momentum" not in accepted
        c["beta1"].disabled = "betas" not in accepted
        second = "betas" if "betas" in accepted else next((n for n in self.SECOND_AVERAGE_NAMES if n in accepted), None)
        c["beta2"].disabled = second is None
        c["beta2"].description = second if second in self.SECOND_AVERAGE_NAMES else "beta2"
        c["eps"].disabled = not _takes_number(self.optimizer_cls, "eps")
        c["weight_decay"].disabled = "weight_decay" not in accepted
        c["batch_size"].disabled = not isinstance(self.landscape, LinearRegressionLoss)

    def hyperparameters(self) -> dict[str, Any]:
        """The keyword arguments the current controls give the selected optimizer.

        Raises:
            ValueError: the ``extra`` box cannot be read.
        """
        accepted = hyperparameter_names(self.optimizer_cls)
        c = self.controls
        kwargs: dict[str, Any] = {"lr": float(c["lr"].value)}
        if "momentum" in accepted:
            kwargs["momentum"] = float(c["momentum"].value)
        if "betas" in accepted:
            kwargs["betas"] = (float(c["beta1"].value), float(c["beta2"].value))
        else:
            for name in self.SECOND_AVERAGE_NAMES:
                if name in accepted:
                    kwargs[name] = float(c["beta2"].value)
                    break
        for name in ("eps", "weight_decay"):
            if _takes_number(self.optimizer_cls, name):
                kwargs[name] = float(c[name].value)
        kwargs.update(parse_keyword_arguments(c["extra"].value))
        return kwargs

    def set(self, **values: Any) -> Trajectory | None:
        """Set several controls at once, then update once: ``set(lr=0.3, momentum=0.5)``.

        A name that is not a control, or a value a control refuses, is reported in the
        status line like any other bad input.
        """
        unknown = [name for name in values if name not in self.controls]
        if unknown:
            self._fail(f"there is no control {unknown[0]!r}; the controls are: {', '.join(self.controls)}")
            return None
        quiet, self._quiet = self._quiet, True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        except Exception as err:  # a traitlets validation error, shown rather than raised
            self._fail(f"{name}: {err}")
            return None
        finally:
            self._quiet = quiet
        return self.update()

    def _on_change(self, change: Any) -> None:
        if change["owner"] is self.controls["optimizer"]:
            self._sync_enabled()
        if not self._quiet:
            self.update()

    def _build_landscape(self, name: str) -> Landscape:
        if name not in self.landscapes:
            self.landscapes[name] = self._landscape_menu[name]()
        return self.landscapes[name]

    def _on_landscape(self, change: Any) -> None:
        self.landscape = self._build_landscape(change["new"])
        self._set_start(self.landscape.start)
        self._sync_enabled()
        self._draw_landscape()
        if not self._quiet:
            self.update()

    # -- the update ------------------------------------------------------------------
    def _fail(self, message: str) -> None:
        self.error = message
        self.status.value = _status_html(message, "error")

    def run(self) -> Trajectory:
        """Run the optimizer with the current controls (no drawing); raises on bad input."""
        c = self.controls
        batch_size = None if c["batch_size"].disabled else (c["batch_size"].value or None)
        return run(self.optimizer_cls, self.landscape, steps=int(c["steps"].value),
                   start=(float(c["start_x"].value), float(c["start_y"].value)),
                   batch_size=batch_size, engine="auto", **self.hyperparameters())

    def update(self, *, full_redraw: bool = False) -> Trajectory | None:
        """Re-run the optimizer with the current controls and redraw; returns the new run.

        On bad input (an unknown keyword, an invalid value) the status line says what
        is wrong, the picture keeps the last good run, and None is returned.

        Args:
            full_redraw: redraw the whole figure (``canvas.draw()``) even when the cached
                background could be reused.
        """
        try:
            trajectory = self.run()
        except Exception as err:  # every failure becomes a message, never a traceback
            self._fail(f"{type(err).__name__}: {err}")
            return None
        self.error = None
        self.trajectory = trajectory
        self._show(trajectory, full_redraw)
        return trajectory

    def _show(self, trajectory: Trajectory, full_redraw: bool = False) -> None:
        self.path_artists.set_path(trajectory.path)
        losses = trajectory.losses.numpy()
        cut = first_nonfinite(losses)
        finite = losses if cut is None else losses[:cut]
        self.loss_line.set_data(np.arange(finite.size), finite)
        limits = self._target_loss_limits()
        new_limits = not self._keeps_loss_limits(limits)
        if new_limits:
            self.loss_ax.set_yscale(limits[0])
            self.loss_ax.set_ylim(*limits[1])
            self.loss_ax.set_xlim(*limits[2])
            self._loss_limits = limits
        self.status.value = self._describe(trajectory)
        self._render(full_redraw, new_limits)

    def _describe(self, trajectory: Trajectory) -> str:
        call = _call_text(self.controls["optimizer"].value, trajectory.hyperparameters)
        if trajectory.batch_size is not None:
            call += f", batch size {trajectory.batch_size}"
        if trajectory.diverged:
            return _status_html(f"{call} diverged at step {trajectory.diverged_at} (the iterate became "
                                "inf/nan or huge); try a smaller learning rate.", "warn")
        final = float(trajectory.losses[-1])
        text = f"{call}: {trajectory.steps} steps, final loss {final:.4g}"
        if self.landscape.minimum is not None:
            text += f" ({final - float(self.landscape(self.landscape.minimum)):.2g} above the minimum)"
        return _status_html(text)

    # -- pins ------------------------------------------------------------------------
    def pin(self) -> None:
        """Keep the current path on the picture, faded, to compare with the next runs."""
        if self.trajectory is None:
            return
        colour = PATH_COLORS[1 + len(self.pinned) % (len(PATH_COLORS) - 1)]
        artists = plot_path(self.trajectory.path, self.ax, color=colour, alpha=0.6, zorder=4, markersize=1.5)
        losses = self.trajectory.losses.numpy()
        cut = first_nonfinite(losses)
        (line,) = self.loss_ax.plot(np.arange(losses.size if cut is None else cut), losses[:cut],
                                    color=colour, alpha=0.6)
        self.pinned.append((self.trajectory, artists, line))
        self._loss_limits = None
        self._show(self.trajectory, full_redraw=True)

    def _remove_pins(self) -> None:
        for _, artists, line in self.pinned:
            artists.remove()
            line.remove()
        self.pinned = []
        self._loss_limits = None

    def clear_pins(self) -> None:
        """Remove every pinned path."""
        self._remove_pins()
        if self.trajectory is not None:
            self._show(self.trajectory, full_redraw=True)

    # -- display ---------------------------------------------------------------------
    def widget(self) -> Any:
        """The live widget: the controls on the left, the picture and the status line on the right."""
        return self.box

    def show(self) -> None:
        """Display the live widget (in a notebook with a running kernel)."""
        from IPython.display import display

        display(self.box)

    def _ipython_display_(self) -> None:
        self.show()

    def static(self, *, frames: int = 40, interval: int = 120, dpi: int = 72) -> Any:
        """The current run (and the pinned ones) as a step-through animation for the book.

        Returns:
            An ``IPython.display.HTML`` holding a ``FuncAnimation.to_jshtml()`` player.
        """
        trajectories = [t for t, _, _ in self.pinned]
        if self.trajectory is not None:
            trajectories.append(self.trajectory)
        return explorer_static(trajectories, self.landscape, labels=short_labels(trajectories),
                               frames=frames, interval=interval, dpi=dpi)


def short_labels(trajectories: Sequence[Trajectory]) -> list[str]:
    """Legend entries that name only what differs between the runs.

    Runs of one optimizer are labelled by the settings that differ (``"full batch"``,
    ``"batch 10"``, ``"momentum=0.9"``); runs of different optimizers by the name and
    the hyperparameters that differ from that optimizer's defaults
    (``"SGD(lr=1.5, momentum=0.9)"``, ``"Adam(lr=0.3)"``). A single run keeps its label.
    """
    if len(trajectories) < 2:
        return [t.label for t in trajectories]
    if len({t.optimizer for t in trajectories}) > 1:
        labels = []
        for t in trajectories:
            defaults = _constructor_defaults(t.optimizer_cls)
            changed = {k: v for k, v in t.hyperparameters.items() if k == "lr" or defaults.get(k, object()) != v}
            label = _call_text(t.optimizer, changed)
            labels.append(label + (f", batch {t.batch_size}" if t.batch_size is not None else ""))
        return labels
    settings = [{**t.hyperparameters, "batch_size": t.batch_size} for t in trajectories]
    keys = list(dict.fromkeys(k for setting in settings for k in setting))
    differing = [k for k in keys if len({repr(setting.get(k)) for setting in settings}) > 1]
    labels = []
    for setting, trajectory in zip(settings, trajectories):
        parts = []
        for key in differing:
            if key == "batch_size":
                parts.append("full batch" if setting[key] is None else f"batch {setting[key]}")
            else:
                parts.append(f"{key}={_format(setting[key]) if key in setting else '(default)'}")
        labels.append(", ".join(parts) or trajectory.label)
    return labels


def _takes_number(optimizer_cls: type[Optimizer], name: str) -> bool:
    """Whether the optimizer has a hyperparameter ``name`` that a slider can set: not
    Adafactor's ``eps``, a pair."""
    if name not in hyperparameter_names(optimizer_cls):
        return False
    default = _constructor_defaults(optimizer_cls).get(name)
    return default is None or (isinstance(default, (int, float)) and not isinstance(default, bool))


def _constructor_defaults(optimizer_cls: type[Optimizer] | None) -> dict[str, Any]:
    if optimizer_cls is None:
        return {}
    return {name: p.default for name, p in inspect.signature(optimizer_cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


#: The most frames :func:`explorer_static` embeds (each is a PNG of roughly 20 kB).
MAX_FRAMES = 60


def explorer_static(
    trajectories: Trajectory | Sequence[Trajectory],
    landscape: Landscape | str,
    *,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    frames: int = 40,
    interval: int = 120,
    figsize: tuple[float, float] = (8.0, 3.4),
    dpi: int = 72,
    xlim: Sequence[float] | None = None,
    ylim: Sequence[float] | None = None,
) -> Any:
    """Animate one or more runs on a landscape, for pages read without a kernel.

    The reader steps through the runs with the player's buttons: each frame draws the
    paths up to one step (frames are spread evenly over the run) and a dot on each
    loss curve. Line contours (not filled) keep the embedded frames small.

    Args:
        trajectories: a run or several (e.g. from :func:`course_lib.trajectories.compare`).
        landscape: their landscape.
        labels: legend entries (default: the runs' labels).
        title: title of the contour panel (default: the landscape's name).
        frames: number of frames (default 40; at most 60, and at most one per step,
            so that the page stays light).
        interval: milliseconds per frame when playing (default 120).
        figsize: figure size in inches.
        dpi: resolution of the frames (default 72).
        xlim: x-range (default: fitted to the landscape and the paths).
        ylim: y-range.

    Returns:
        An ``IPython.display.HTML`` with the JavaScript player.

    Example:
        >>> from course_lib.trajectories import compare
        >>> runs = compare(torch.optim.SGD, "quadratic", "momentum", [0.0, 0.9], lr=0.5, steps=60)
        >>> player = explorer_static(runs, "quadratic")
    """
    from IPython.display import HTML

    from course_lib.trajectories import fit_limits

    landscape = make_landscape(landscape)
    if isinstance(trajectories, Trajectory):
        trajectories = [trajectories]
    trajectories = list(trajectories)
    if not trajectories:
        raise ValueError("explorer_static needs at least one trajectory")
    labels = list(labels) if labels is not None else [t.label for t in trajectories]
    if xlim is None or ylim is None:
        fitted = fit_limits(trajectories, landscape, margin=0.03)
        xlim, ylim = xlim or fitted[0], ylim or fitted[1]
    steps = max(t.steps for t in trajectories)
    frame_steps = np.unique(np.round(np.linspace(0, steps, max(2, min(frames, MAX_FRAMES, steps + 1)))).astype(int))

    # every frame the same size, drawn once: no "tight" bounding box (it costs a second draw)
    with style(), mpl.rc_context({"savefig.dpi": "figure", "savefig.bbox": "standard"}):
        fig = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(fig)
        ax, loss_ax = fig.subplots(1, 2, width_ratios=[1.25, 1])
        plot_landscape(landscape, ax, xlim=xlim, ylim=ylim, filled=False, resolution=120)
        ax.set_title(title or landscape.name)
        paths, dots = [], []
        for i, (trajectory, label) in enumerate(zip(trajectories, labels)):
            colour = PATH_COLORS[i % len(PATH_COLORS)]
            ghost = trajectory.path.numpy()
            ax.plot(ghost[:, 0], ghost[:, 1], color=colour, alpha=0.25, linewidth=1.0, zorder=2)
            paths.append(plot_path(trajectory.path[:1], ax, color=colour, zorder=5))
            losses = trajectory.losses.numpy()
            cut = first_nonfinite(losses)
            loss_ax.plot(np.arange(losses.size if cut is None else cut), losses[:cut], color=colour,
                         alpha=0.45, label=label)
            (dot,) = loss_ax.plot([], [], "o", color=colour, markersize=6)
            dots.append(dot)
        loss_ax.set_xlabel("step")
        loss_ax.set_ylabel("loss")
        finite = np.concatenate([t.losses.numpy() for t in trajectories])
        finite = finite[np.isfinite(finite)]
        if finite.size and finite.min() > 0:
            loss_ax.set_yscale("log")
            loss_ax.yaxis.set_minor_formatter(NullFormatter())
        if len(trajectories) > 1:
            loss_ax.legend(loc="upper right", fontsize=8)
        elif labels[0]:
            loss_ax.set_title(labels[0], fontsize=8)
        counter = ax.text(0.02, 0.02, "", transform=ax.transAxes, fontsize=9,
                          bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8, "linewidth": 0})

        def draw_frame(k: int) -> list[Any]:
            step = int(frame_steps[k])
            for trajectory, artists, dot in zip(trajectories, paths, dots):
                artists.set_path(trajectory.path[: step + 1])
                last = min(step, trajectory.losses.numel() - 1)
                value = float(trajectory.losses[last])
                dot.set_data([last], [value] if math.isfinite(value) else [math.nan])
            counter.set_text(f"step {step} of {steps}")
            return []

        draw_frame(0)
        # Lay the figure out once (a layout engine would re-run, with a draw, for every
        # frame), and skip the animation's own draw_idle (a second full draw per frame):
        # the export gets about three times faster.
        ConstrainedLayoutEngine().execute(fig)
        fig.canvas.draw_idle = lambda *args, **kwargs: None
        animation = FuncAnimation(fig, draw_frame, frames=len(frame_steps), interval=interval, blit=False)
        markup = animation.to_jshtml(default_mode="once")
    return HTML(_offline_jshtml(markup))


#: Unicode stand-ins for the Font Awesome icons of matplotlib's player, which would
#: otherwise be fetched from a CDN (the book is read offline too).
_PLAYER_ICONS = {
    "fa fa-minus": "−",
    "fa fa-fast-backward": "«",
    "fa fa-step-backward": "‹",
    "fa fa-play fa-flip-horizontal": "◀",
    "fa fa-pause": "❚❚",
    "fa fa-play": "▶",
    "fa fa-step-forward": "›",
    "fa fa-fast-forward": "»",
    "fa fa-plus": "+",
}


def _offline_jshtml(markup: str) -> str:
    """Make ``to_jshtml`` output self-contained and small.

    The stylesheet link to the icon font goes, its icons become characters, and every
    frame is re-encoded as a 64-colour palette PNG (line drawings lose nothing visible,
    and the page gets about four times lighter).
    """
    import base64
    import io
    import re

    from PIL import Image

    markup = re.sub(r'<link rel="stylesheet"\s*href="[^"]*font-awesome[^"]*">', "", markup)
    for icon, text in _PLAYER_ICONS.items():
        markup = markup.replace(f'<i class="{icon}"></i>', f'<span style="font-size:15px">{text}</span>')

    def repack(match: re.Match[str]) -> str:
        image = Image.open(io.BytesIO(base64.b64decode(match.group(1)))).convert("RGB")
        buffer = io.BytesIO()
        image.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(buffer, format="PNG")
        return f'"data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode("ascii")}"'

    return re.sub(r'"data:image/png;base64,([A-Za-z0-9+/=\\\n]+)"', repack, markup)
