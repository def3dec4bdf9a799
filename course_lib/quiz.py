r"""Trajectory quizzes: which hyperparameter was varied across these panels?

Each quiz runs one optimizer (plain gradient descent, SGD with momentum, AdamW or Lion) from
the same start on
the same loss surface two or three times, changing exactly one hyperparameter, and
draws one panel per run with the titles hidden. The reader names the hyperparameter
and says what in the picture gave it away; :meth:`TrajectoryQuiz.check` answers with
the tell-tale signs.

The quiz is fixed by its ``seed``: the varied hyperparameter is the ``seed``-th of the
optimizer's list (cyclically) and the landscape and start the ``seed``-th of a list
of settings (cyclically, a list whose length is coprime to the number of
hyperparameters), so consecutive seeds always differ and the first 40 AdamW (24 SGD, 24
Lion) seeds are all different quizzes.

The loss surface is the mean squared error of a line fit, :math:`(w, b) \mapsto
\frac1n\sum_i (w x_i + b - y_i)^2`, on data whose uncentred or scaled feature makes
the contours elongated ellipses, so that per-coordinate methods, momentum and
weight decay each leave a visible mark.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch.optim import Optimizer

from course_lib.landscapes import Landscape, LinearRegressionLoss
from course_lib.plots import plot_panels, style
from course_lib.trajectories import Trajectory, compare, fit_limits

__all__ = ["Feedback", "QuizParameter", "TrajectoryQuiz", "QUIZ_OPTIMIZERS"]


@dataclass(frozen=True)
class Feedback:
    """The verdict on an answer: ``correct`` and an ``explanation`` of what gives it away."""

    correct: bool
    explanation: str

    def __bool__(self) -> bool:
        return self.correct

    def _repr_html_(self) -> str:
        colour = "#1b5e20" if self.correct else "#8a4b00"
        head = "Correct." if self.correct else "Not this one."
        return f'<div style="color:{colour}"><b>{head}</b> {html.escape(self.explanation)}</div>'


@dataclass(frozen=True)
class QuizParameter:
    """One hyperparameter a quiz can vary.

    Attributes:
        key: the answer key (``"lr"``, ``"beta1"``, ...), also a name
            :func:`course_lib.trajectories.compare` accepts.
        label: how the choice is shown.
        values: the values of the panels, in panel order.
        giveaway: what in the panels shows that this one was varied.
        looks_like: what varying it would look like (said when it is a wrong guess).
        aliases: other accepted spellings of the answer.
    """

    key: str
    label: str
    values: tuple[Any, ...]
    giveaway: str
    looks_like: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class _QuizOptimizer:
    title: str
    optimizer_cls: type[Optimizer] | None
    base: dict[str, Any]
    steps: int
    parameters: tuple[QuizParameter, ...]


_ADAMW = _QuizOptimizer(
    title="AdamW",
    optimizer_cls=torch.optim.AdamW,
    base={"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01},
    steps=100,
    parameters=(
        QuizParameter(
            "lr", "learning rate lr", (0.02, 0.1, 0.4),
            "The paths share their shape at first but the dots (one per step) are spaced ever wider: "
            "the smallest learning rate stops far short of the minimum, the largest overshoots it and "
            "keeps circling around it, because Adam's step length is roughly lr in each coordinate.",
            "the dots would be spaced differently from panel to panel: a short path that stops early "
            "for a small lr, overshoot and circling around the minimum for a large one",
            ("learning rate", "learning_rate", "η", "eta"),
        ),
        QuizParameter(
            "beta1", "beta1 (betas[0], momentum)", (0.0, 0.9, 0.99),
            "With beta1 = 0 the path heads straight for the minimum and stops there; with larger beta1 the "
            "averaged gradient (momentum) carries the iterate past the minimum, so the path overshoots "
            "and curls back in wide, smooth arcs.",
            "the path would overshoot the minimum and curl back in smooth arcs as beta1 grows, "
            "like a heavy ball that keeps rolling",
            ("betas[0]", "β1", "beta_1", "momentum"),
        ),
        QuizParameter(
            "beta2", "beta2 (betas[1])", (0.5, 0.9, 0.9999),
            "The far part of the paths hardly changes, but near the minimum a small beta2 keeps the steps "
            "large and jittery (the second-moment average forgets the large early gradients, so "
            "g / sqrt(v) stays near ±1 and the iterate loops around the minimum), while a large beta2 "
            "shrinks the steps smoothly as the gradients shrink.",
            "the paths would differ mostly near the minimum: small beta2 gives steps of almost constant "
            "length that loop and jitter there, large beta2 steps that shrink smoothly",
            ("betas[1]", "β2", "beta_2"),
        ),
        QuizParameter(
            "weight_decay", "weight decay", (0.01, 0.5, 2.0),
            "The paths end away from the star (the least-squares minimum), and the farther the larger the "
            "decay: every step AdamW shrinks the parameters towards (0, 0) by lr·wd·p, then takes Adam's "
            "normalized step, which moves each coordinate by at most about lr however large the gradient. "
            "The path settles where the decay balances that normalized step, not the gradient: each "
            "coordinate ends near or inside |p| = 1/wd (0.5 for wd = 2), between the minimum and the origin.",
            "the end points would move off the minimum towards the origin (0, 0) as the decay grows",
            ("weight decay", "wd", "λ", "lambda"),
        ),
        QuizParameter(
            "eps", "eps", (1e-8, 3.0, 30.0),
            "With a tiny eps Adam takes steps of about lr in every coordinate, so the path starts out "
            "diagonally (45°) whatever the contours say; as eps grows past the gradients' size the step "
            "becomes lr·g/eps, plain gradient descent: the path leaves at right angles to the contour "
            "lines and slows down where the gradient is small.",
            "the path would change from Adam's diagonal, sign-like start to plain gradient descent that "
            "crosses the contours at right angles and slows down, as eps grows",
            ("epsilon", "ε"),
        ),
    ),
)

_SGD_MOMENTUM = _QuizOptimizer(
    title="SGD with momentum",
    optimizer_cls=torch.optim.SGD,
    base={"lr": 0.05, "momentum": 0.5, "weight_decay": 0.0},
    steps=80,
    parameters=(
        QuizParameter(
            "lr", "learning rate lr", (0.01, 0.05, 0.3),
            "The steps (dots) grow with the panel: the smallest learning rate creeps along the gradient, "
            "the largest jumps back and forth across the narrow direction of the valley in a jagged "
            "zig-zag (each step overshoots the steep direction).",
            "the dots would be spaced ever wider, from a slow creep to a jagged zig-zag across the valley",
            ("learning rate", "learning_rate", "η", "eta"),
        ),
        QuizParameter(
            "momentum", "momentum", (0.0, 0.6, 0.9),
            "Without momentum the path follows the gradient and stops at the minimum; with more momentum "
            "the velocity carries it past the minimum in smooth, ever wider loops that take long to die "
            "out (the velocity forgets slowly when momentum is close to 1).",
            "the path would go from following the gradient to smooth overshooting loops around the minimum",
            ("beta", "β", "mu", "μ"),
        ),
        QuizParameter(
            "weight_decay", "weight decay", (0.0, 0.5, 2.0),
            "The paths end away from the star (the least-squares minimum) and closer to the origin (0, 0) "
            "the larger the decay: the penalty pulls the parameters towards zero, and the path settles "
            "where that pull balances the gradient.",
            "the end points would move off the minimum towards the origin (0, 0) as the decay grows",
            ("weight decay", "wd", "λ", "lambda"),
        ),
    ),
)

_LION = _QuizOptimizer(
    title="Lion",
    optimizer_cls=None,  # course_lib.optim.Lion, imported when a quiz is built (optim imports nothing from here)
    base={"lr": 0.05, "betas": (0.9, 0.99), "weight_decay": 0.0},
    steps=100,
    parameters=(
        QuizParameter(
            "lr", "learning rate lr", (0.02, 0.05, 0.2),
            "Every dot is exactly lr away from the last one in each coordinate (Lion steps by the sign): the "
            "smallest lr walks a staircase that stops short of the minimum, the largest reaches it quickly and "
            "then hops around it in a box about lr wide, since a sign step cannot shrink.",
            "the spacing of the dots would change from panel to panel (each coordinate moves by exactly lr), "
            "from a short staircase to big hops around the minimum",
            ("learning rate", "learning_rate", "η", "eta"),
        ),
        QuizParameter(
            "beta1", "beta1 (betas[0], weight of the momentum in the step)", (0.0, 0.9, 0.99),
            "With beta1 = 0 the step is the sign of the gradient: the path turns the moment the gradient's sign "
            "turns and zig-zags at the minimum. With beta1 near 1 the step follows the sign of the slowly moving "
            "momentum, so the path keeps its direction past the minimum and comes back in wide, square loops.",
            "the path would go from turning at once with the gradient (beta1 = 0: sign descent) to overshooting "
            "the minimum in wide, square loops (the step follows the slow momentum)",
            ("betas[0]", "β1", "beta_1", "momentum"),
        ),
        QuizParameter(
            "weight_decay", "weight decay", (0.0, 0.4, 1.0),
            "The paths end away from the star, and coordinates larger than 1/weight_decay are held at that bound: "
            "Lion's decay lr*wd*p can balance a sign step of size lr only where |p| = 1/wd, so the decay acts like "
            "a box around the origin.",
            "the end points would move off the minimum towards the origin, each coordinate capped at 1/wd",
            ("weight decay", "wd", "λ", "lambda"),
        ),
    ),
)

_GRADIENT_DESCENT = _QuizOptimizer(
    title="Gradient descent",
    optimizer_cls=torch.optim.SGD,
    base={"lr": 0.08, "weight_decay": 0.0},
    steps=60,
    parameters=(
        QuizParameter(
            "lr", "learning rate lr", (0.02, 0.08, 0.28),
            "The dots (one per step) are spaced ever wider: the smallest learning rate creeps down the "
            "gradient and stops far short of the minimum, the largest jumps across the narrow direction "
            "of the valley at every step, a zig-zag that still converges because lr stays below "
            "2 / (largest curvature).",
            "the dots would be spaced differently from panel to panel: a slow creep for a small lr, a "
            "zig-zag across the valley for a large one",
            ("learning rate", "learning_rate", "η", "eta"),
        ),
        QuizParameter(
            "weight_decay", "L2 penalty (weight decay)", (0.0, 0.5, 2.0),
            "The paths end away from the star (the least-squares minimum), closer to the origin (0, 0) "
            "the larger the penalty: each panel converges to the minimum of a different objective, "
            "the loss plus the penalty, whose minimum is pulled towards zero.",
            "the end points would move off the minimum towards the origin (0, 0) as the penalty grows",
            ("weight decay", "wd", "λ", "lambda", "l2", "penalty"),
        ),
        QuizParameter(
            "steps", "number of steps", (2, 8, 60),
            "The paths are the same path, cut after more and more steps: the dots sit at the same places "
            "in every panel, and the short runs simply stop before the minimum. Stopping early keeps "
            "the parameters close to where they started, which is why early stopping acts a little "
            "like a penalty.",
            "the panels would show one and the same path, with the same dots, stopped after fewer or "
            "more steps",
            ("steps", "iterations", "epochs", "early stopping"),
        ),
    ),
)

# (landscape, start offset from its minimum): eight settings, a number coprime with 5 and 3.
# The starts are off the diagonals through the minimum, so that Adam's sign-like first
# steps and the gradient's direction differ and the paths bend.
_TILT_DOWN = {"feature_shift": 1.0}
_TILT_UP = {"feature_shift": -1.0, "feature_scale": 1.2}
_SETTINGS: tuple[tuple[dict[str, float], tuple[float, float]], ...] = (
    (_TILT_DOWN, (-2.5, 1.8)),
    (_TILT_UP, (2.5, 1.8)),
    (_TILT_DOWN, (2.8, 1.0)),
    (_TILT_UP, (-2.8, 1.0)),
    (_TILT_DOWN, (0.6, -2.8)),
    (_TILT_UP, (-0.6, -2.8)),
    (_TILT_DOWN, (1.2, 2.6)),
    (_TILT_UP, (-1.2, 2.6)),
)

#: The quizzes' optimizers by name.
QUIZ_OPTIMIZERS: dict[str, _QuizOptimizer] = {
    "adamw": _ADAMW, "sgd_momentum": _SGD_MOMENTUM, "gradient_descent": _GRADIENT_DESCENT, "lion": _LION,
}

_counter = itertools.count()


def _course_optimizer(name: str) -> type[Optimizer]:
    import course_lib.optim

    return getattr(course_lib.optim, name)


def _letters(n: int) -> list[str]:
    return [f"({chr(ord('a') + i)})" for i in range(n)]


def _format(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class TrajectoryQuiz:
    r"""Panels of one optimizer's paths with one hyperparameter varied; which one?

    Args:
        seed: chooses the varied hyperparameter, the landscape and the start (see the
            module docstring); the same seed always gives the same quiz.
        optimizer: ``"adamw"`` (vary lr, beta1, beta2, weight decay or eps),
            ``"sgd_momentum"`` (vary lr, momentum or weight decay),
            ``"gradient_descent"`` (vary lr, the L2 penalty or the number of steps) or
            ``"lion"`` (:class:`course_lib.optim.Lion`: vary lr, beta1 or weight decay).
        varied: force the varied hyperparameter (a key such as ``"beta1"``).
        landscape: force the landscape.
        start: force the start point.
        optimizer_cls: run this class instead of torch's (e.g. ``course_lib.optim.AdamW``).
        steps: number of steps (default 100 for AdamW, 80 for SGD).

    Attributes:
        answer: the key of the varied hyperparameter.
        values: its values, one per panel, in panel order.
        trajectories: the runs.
        choices: the (key, label) pairs offered.

    Example:
        >>> quiz = TrajectoryQuiz(seed=1)
        >>> quiz.check("beta1").correct
        True
        >>> page_output = quiz.static()   # in a book page; quiz.show() in a notebook
    """

    def __init__(
        self,
        seed: int = 0,
        optimizer: str = "adamw",
        *,
        varied: str | None = None,
        landscape: Landscape | None = None,
        start: Sequence[float] | None = None,
        optimizer_cls: type[Optimizer] | None = None,
        steps: int | None = None,
    ) -> None:
        key = optimizer.strip().lower().replace(" ", "_").replace("-", "_")
        if key not in QUIZ_OPTIMIZERS:
            raise ValueError(f"unknown quiz optimizer {optimizer!r}; choose one of: {', '.join(QUIZ_OPTIMIZERS)}")
        self.seed = int(seed)
        self.spec = QUIZ_OPTIMIZERS[key]
        self.optimizer = key
        parameters = self.spec.parameters
        if varied is None:
            parameter = parameters[self.seed % len(parameters)]
        else:
            parameter = self._parameter(varied)
        self.parameter = parameter
        self.answer = parameter.key
        self.values = parameter.values
        data_kwargs, offset = _SETTINGS[self.seed % len(_SETTINGS)]
        self.landscape = landscape if landscape is not None else LinearRegressionLoss(**data_kwargs)
        if start is None:
            if self.landscape.minimum is None:
                start = self.landscape.start
            else:
                start = (float(self.landscape.minimum[0]) + offset[0], float(self.landscape.minimum[1]) + offset[1])
        self.start = (float(start[0]), float(start[1]))
        self.optimizer_cls = optimizer_cls or self.spec.optimizer_cls or _course_optimizer(self.spec.title)
        self.steps = steps or self.spec.steps
        fixed = {k: v for k, v in self.spec.base.items() if k != parameter.key}
        if parameter.key != "steps":
            fixed["steps"] = self.steps
        self.trajectories: list[Trajectory] = compare(
            self.optimizer_cls, self.landscape, parameter.key, list(parameter.values),
            start=self.start, **fixed,
        )
        self.choices: list[tuple[str, str]] = [(p.key, p.label) for p in parameters]
        self.uid = f"trajquiz-{key}-{self.seed}-{next(_counter)}"
        self._png: bytes | None = None

    # -- content ---------------------------------------------------------------
    @property
    def question(self) -> str:
        """The question, as plain text."""
        panels = ", ".join(_letters(len(self.values)))
        return (f"{self.spec.title} ran {len(self.values)} times from the same start (circle) on the same "
                f"loss; one hyperparameter differs between panels {panels}, everything else is equal. "
                "Which hyperparameter is varied, and what in the picture makes you think so?")

    def _parameter(self, answer: str | int) -> QuizParameter:
        if isinstance(answer, int) and not isinstance(answer, bool):
            if not 0 <= answer < len(self.spec.parameters):
                raise ValueError(f"choice index must be between 0 and {len(self.spec.parameters) - 1}, got {answer}")
            return self.spec.parameters[answer]
        text = str(answer).strip().lower()
        for parameter in self.spec.parameters:
            names = {parameter.key, parameter.label.lower(), *(a.lower() for a in parameter.aliases)}
            if text in names:
                return parameter
        raise ValueError(
            f"{answer!r} is not one of the choices: {', '.join(p.key for p in self.spec.parameters)}"
        )

    @property
    def fixed(self) -> dict[str, Any]:
        """The hyperparameters shared by all panels (for a page that wants to state them)."""
        base = {k: v for k, v in self.spec.base.items() if k != self.answer}
        if self.answer in ("beta1", "beta2"):
            beta1, beta2 = base.pop("betas")
            base["beta2" if self.answer == "beta1" else "beta1"] = beta2 if self.answer == "beta1" else beta1
        return base

    @property
    def solution(self) -> str:
        """The full explanation: the answer, the values of the panels and what gives it away."""
        values = ", ".join(f"{letter} {self.answer} = {_format(v)}"
                           for letter, v in zip(_letters(len(self.values)), self.values))
        return f"The varied hyperparameter is {self.parameter.label}: {values}. {self.parameter.giveaway}"

    def check(self, answer: str | int) -> Feedback:
        """Judge an answer: a key (``"beta1"``), an alias (``"betas[0]"``, ``"β1"``), a label or a choice index.

        Returns:
            ``Feedback(correct, explanation)``: when right, the values and the tell-tale
            signs; when wrong, what the chosen hyperparameter would have done instead
            (the answer is not given away).

        Raises:
            ValueError: the answer is none of the choices.
        """
        chosen = self._parameter(answer)
        if chosen.key == self.answer:
            return Feedback(True, self.solution)
        return Feedback(False, f"Varying {chosen.label}, {chosen.looks_like}. Is that what changes here? "
                               "Compare the panels again: path shape, step spacing, and where each path ends.")

    # -- pictures ---------------------------------------------------------------
    def figure(self, *, dpi: int = 90, titles: bool = False) -> Figure:
        """The panels (titles hidden unless ``titles``), on a figure not managed by pyplot."""
        xlim, ylim = fit_limits(self.trajectories, self.landscape, margin=0.02)
        with style():
            fig = Figure(figsize=(3.3 * len(self.values), 3.2), dpi=dpi, layout="constrained")
            FigureCanvasAgg(fig)
            plot_panels(self.trajectories, self.landscape, titles=titles, xlim=xlim, ylim=ylim, fig=fig)
        return fig

    def png(self) -> bytes:
        """The panels as PNG bytes (cached)."""
        if self._png is None:
            buffer = io.BytesIO()
            self.figure().savefig(buffer, format="png", dpi=90)
            self._png = buffer.getvalue()
        return self._png

    # -- live form --------------------------------------------------------------
    def widget(self) -> Any:
        """The live quiz: the panels, radio buttons, a "Check" button and a feedback line."""
        import ipywidgets as w

        image = w.Image(value=self.png(), format="png", layout=w.Layout(max_width="100%"))
        choices = w.RadioButtons(options=[(label, key) for key, label in self.choices], value=None,
                                 layout=w.Layout(width="auto"))
        button = w.Button(description="Check", button_style="primary")
        feedback = w.HTML()

        def on_click(_: Any) -> None:
            if choices.value is None:
                feedback.value = "<i>Pick one of the hyperparameters first.</i>"
                return
            feedback.value = self.check(choices.value)._repr_html_()

        button.on_click(on_click)
        self._live = {"choices": choices, "button": button, "feedback": feedback, "image": image}
        return w.VBox([w.HTML(f"<b>{html.escape(self.question)}</b>"), image, choices, button, feedback])

    def show(self) -> None:
        """Display the live quiz (in a notebook with a running kernel)."""
        from IPython.display import display

        display(self.widget())

    # -- static form --------------------------------------------------------------
    def static_html(self) -> str:
        """Self-contained HTML: inline PNG, radio buttons with instant feedback, and a
        ``<details>`` explanation that works without JavaScript."""
        uid = self.uid
        image = base64.b64encode(self.png()).decode("ascii")
        feedback = {key: {"correct": fb.correct, "text": fb.explanation}
                    for key, fb in ((k, self.check(k)) for k, _ in self.choices)}
        radios = "\n".join(
            f'<label style="display:block;margin:2px 0;cursor:pointer">'
            f'<input type="radio" name="{uid}-choice" value="{html.escape(key)}" id="{uid}-{html.escape(key)}"> '
            f"{html.escape(label)}</label>"
            for key, label in self.choices
        )
        data = json.dumps(feedback).replace("</", "<\\/")
        return f"""<div class="trajectory-quiz" id="{uid}" style="border:1px solid #c9d6e3;border-radius:6px;padding:10px 14px;margin:8px 0">
<p style="margin-top:0"><b>{html.escape(self.question)}</b></p>
<img src="data:image/png;base64,{image}" alt="{len(self.values)} panels of {html.escape(self.spec.title)} paths on contour lines" style="max-width:100%;height:auto">
<form id="{uid}-form" onsubmit="return false">
{radios}
</form>
<div id="{uid}-feedback" aria-live="polite" style="margin:6px 0;min-height:1.2em"></div>
<details><summary>Show the explanation</summary><p>{html.escape(self.solution)}</p></details>
<script>
(function () {{
  var feedback = {data};
  var root = document.getElementById("{uid}");
  var box = document.getElementById("{uid}-feedback");
  if (!root || !box) return;
  root.querySelectorAll('input[name="{uid}-choice"]').forEach(function (input) {{
    input.addEventListener("change", function () {{
      var f = feedback[input.value];
      box.textContent = (f.correct ? "Correct. " : "Not this one. ") + f.text;
      box.style.color = f.correct ? "#1b5e20" : "#8a4b00";
    }});
  }});
}})();
</script>
</div>"""

    def static(self) -> Any:
        """The quiz for the rendered book: an ``IPython.display.HTML`` (see :meth:`static_html`)."""
        from IPython.display import HTML

        return HTML(self.static_html())
