r"""Stochastic gradients, batch size and step size (chapter 2).

* :mod:`~course_lib.stochastic.minibatch`: :func:`minibatch_sgd` trains linear regression
  with full-batch gradient descent, SGD or mini-batch SGD and records every iterate.
* :mod:`~course_lib.stochastic.gradient_noise`: :func:`per_sample_gradients`,
  :func:`gradient_standard_error` (the noise shrinks like :math:`\sigma/\sqrt{|B|}`) and
  :func:`loglog_fit`.
* :mod:`~course_lib.stochastic.step_timing`: :func:`time_per_step` and
  :func:`make_mlp_step`, what a step of a given batch size costs.
* :mod:`~course_lib.stochastic.line_search`: :func:`wolfe_conditions` and
  :func:`backtracking_line_search`, which deep learning usually does without.
"""

from __future__ import annotations

from .gradient_noise import (
    GradientNoise,
    gradient_standard_error,
    loglog_fit,
    per_sample_gradients,
)
from .line_search import WolfeCheck, backtracking_line_search, wolfe_conditions
from .minibatch import SGDRun, minibatch_sgd
from .step_timing import StepTiming, make_mlp_step, time_per_step

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
