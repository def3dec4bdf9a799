r"""Learning-rate schedules (chapter 6).

* :mod:`~course_lib.schedules.rules`: schedules as pure ``step -> lr`` functions
  (:class:`Schedule`: step, multi-step, exponential, 1/t, constant and linear warm-up,
  linear, polynomial, cosine, warm restarts, cyclic, one-cycle), each checked against
  ``torch.optim.lr_scheduler``.
* :mod:`~course_lib.schedules.schedulers`: drop-ins for every class of
  ``torch.optim.lr_scheduler`` (and ``SWALR``), whose closed forms are the rules above.
* :mod:`~course_lib.schedules.plateau`: :class:`ReduceOnPlateau`, the one rule with state.
* :mod:`~course_lib.schedules.lambda_lr`: driving an optimizer by hand (:func:`set_lr`)
  or through torch's ``LambdaLR`` (:func:`lambda_lr`, :func:`as_lambda`).
* :mod:`~course_lib.schedules.lr_finder`: the learning-rate range test.

Plots of schedules and of the range test are in :mod:`course_lib.plots`.
"""

from __future__ import annotations

from .lambda_lr import as_lambda, lambda_lr, set_lr
from .lr_finder import LRFinderResult, lr_finder, suggest_lr
from .plateau import ReduceOnPlateau
from .rules import (
    Schedule,
    constant,
    constant_warmup,
    cosine_annealing,
    cosine_warm_restarts,
    cyclic,
    exponential_decay,
    inverse_time_decay,
    linear_schedule,
    linear_warmup,
    multi_step_decay,
    natural_exp_decay,
    one_cycle,
    polynomial_decay,
    step_decay,
    warmup_cosine,
)
from .schedulers import (
    SWALR,
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

__all__ = [
    "Schedule",
    "constant",
    "step_decay",
    "multi_step_decay",
    "exponential_decay",
    "natural_exp_decay",
    "inverse_time_decay",
    "constant_warmup",
    "linear_schedule",
    "linear_warmup",
    "polynomial_decay",
    "cosine_annealing",
    "cosine_warm_restarts",
    "warmup_cosine",
    "cyclic",
    "one_cycle",
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "OneCycleLR",
    "SequentialLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "SWALR",
    "ReduceOnPlateau",
    "as_lambda",
    "lambda_lr",
    "set_lr",
    "LRFinderResult",
    "lr_finder",
    "suggest_lr",
]
