r"""The course's optimizers: readable update rules and drop-ins for ``torch.optim``.

* :mod:`~course_lib.optim.rules`: the in-place update rule of each method for one
  tensor, ``xxx_update(param, grad, state, *, ...)``, the book's equations line by line.
* :mod:`~course_lib.optim.optimizers`: ``SGD``, ``Adagrad``, ``RMSprop``, ``Adadelta``,
  ``Adam``, ``AdamW``, ``Adamax``, ``NAdam``, ``RAdam`` with torch 2.13's signatures, defaults,
  state and ``state_dict`` layout, and ``AdamL2``, Adam with L2 under its own name.
* :mod:`~course_lib.optim.weight_decay`: L2-in-the-gradient vs decoupled decay.
* :mod:`~course_lib.optim.ewma`: exponentially weighted averages with bias correction.
* :mod:`~course_lib.optim.decay_then_step`: fastai-style "decay, then step" optimizers.
* :mod:`~course_lib.optim.adam_abs`: the ``AdamAbs`` experiment (Adam with :math:`|g|`).
* :mod:`~course_lib.optim.foreach`: multi-tensor SGD and Adam(W), used with ``foreach=True``.
* Beyond Adam (chapter 9), one module each: :mod:`~course_lib.optim.adafactor`
  (``Adafactor``, = ``torch.optim.Adafactor``), :mod:`~course_lib.optim.muon` (``Muon``,
  = ``torch.optim.Muon``), :mod:`~course_lib.optim.lion` (``Lion``, after
  ``lion-pytorch``) and :mod:`~course_lib.optim.schedule_free` (``AdamWScheduleFree``,
  after ``schedulefree``).

Example:
    >>> import torch
    >>> model = torch.nn.Linear(3, 1)
    >>> optimizer = AdamW(model.parameters(), lr=1e-3)   # instead of torch.optim.AdamW
"""

from __future__ import annotations

from ._base import PerTensorOptimizer, new_step_counter
from .adafactor import Adafactor, adafactor_init_state, adafactor_update, factored_second_moment
from .adam_abs import AdamAbs, adam_abs_update
from .decay_then_step import DecayThenStepAdam, DecayThenStepOptimizer, DecayThenStepSGD
from .ewma import ewma
from .foreach import adam_update_foreach, sgd_update_foreach
from .lion import Lion, lion_update
from .muon import (
    NEWTON_SCHULZ_COEFFICIENTS,
    Muon,
    MuonAdamW,
    conv_kernels_as_matrices_,
    mark_for_muon_,
    muon_lr,
    muon_param_groups,
    muon_update,
    newton_schulz,
)
from .optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamL2,
    AdamW,
    NAdam,
    RAdam,
    RMSprop,
)
from .rules import (
    adadelta_init_state,
    adadelta_update,
    adagrad_init_state,
    adagrad_update,
    adam_init_state,
    adam_update,
    adamax_init_state,
    adamax_update,
    adamw_update,
    nadam_init_state,
    nadam_update,
    radam_init_state,
    radam_update,
    rmsprop_init_state,
    rmsprop_update,
    sgd_update,
)
from .schedule_free import AdamWScheduleFree, schedule_free_adamw_update
from .weight_decay import decoupled_weight_decay_, grad_with_l2_penalty

__all__ = [
    # drop-ins for torch.optim
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adadelta",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "Adafactor",
    "Muon",
    # beyond torch.optim, after their reference packages
    "Lion",
    "AdamWScheduleFree",
    "MuonAdamW",
    # teaching variants
    "AdamL2",
    "AdamAbs",
    "DecayThenStepOptimizer",
    "DecayThenStepSGD",
    "DecayThenStepAdam",
    "PerTensorOptimizer",
    # building blocks
    "ewma",
    "grad_with_l2_penalty",
    "decoupled_weight_decay_",
    "new_step_counter",
    # per-tensor update rules and their state
    "sgd_update",
    "adagrad_init_state",
    "adagrad_update",
    "rmsprop_init_state",
    "rmsprop_update",
    "adadelta_init_state",
    "adadelta_update",
    "adam_init_state",
    "adam_update",
    "adamw_update",
    "adamax_init_state",
    "adamax_update",
    "nadam_init_state",
    "nadam_update",
    "radam_init_state",
    "radam_update",
    "adam_abs_update",
    "adafactor_init_state",
    "factored_second_moment",
    "adafactor_update",
    "NEWTON_SCHULZ_COEFFICIENTS",
    "newton_schulz",
    "muon_lr",
    "muon_update",
    "muon_param_groups",
    "conv_kernels_as_matrices_",
    "mark_for_muon_",
    "lion_update",
    "schedule_free_adamw_update",
    # multi-tensor versions
    "sgd_update_foreach",
    "adam_update_foreach",
]
