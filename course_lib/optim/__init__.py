r"""The course's optimizers: readable update rules and drop-ins for ``torch.optim``.

* :mod:`~course_lib.optim.rules`: the in-place update rule of each method for one
  tensor, ``xxx_update(param, grad, state, *, ...)``, the book's equations line by line.
* :mod:`~course_lib.optim.optimizers`: the drop-ins below, with torch 2.13's
  signatures, defaults, error messages, state and ``state_dict`` layout, and
  ``AdamL2``, Adam with L2 under its own name.
* :mod:`~course_lib.optim.foreach`: the multi-tensor twin of each rule, used with
  ``foreach=True``; it performs torch's own ``foreach`` arithmetic.
* :mod:`~course_lib.optim.lbfgs`: L-BFGS, its two-loop recursion and the strong-Wolfe
  line search.
* :mod:`~course_lib.optim.weight_decay`: L2-in-the-gradient vs decoupled decay.
* :mod:`~course_lib.optim.ewma`: exponentially weighted averages with bias correction.
* :mod:`~course_lib.optim.decay_then_step`: fastai-style "decay, then step" optimizers.
* :mod:`~course_lib.optim.adam_abs`: the ``AdamAbs`` experiment (Adam with :math:`|g|`).
* Beyond Adam (chapter 9), one module each: :mod:`~course_lib.optim.adafactor`
  (``Adafactor``, = ``torch.optim.Adafactor``), :mod:`~course_lib.optim.muon` (``Muon``,
  = ``torch.optim.Muon``), :mod:`~course_lib.optim.lion` (``Lion``, after
  ``lion-pytorch``) and :mod:`~course_lib.optim.schedule_free` (``AdamWScheduleFree``,
  after ``schedulefree``).

Drop-ins for ``torch.optim`` (swap the module, keep the script). The counts are
configurations of torch's own optimizer tests (``optim_db`` of
``torch.testing._internal.common_optimizers``: every ``optim_inputs_func`` entry crossed
with ``foreach`` False/True and torch's ``differentiable``/``fused`` variants, in float32
and float64), run in ``tests/test_optim_conformance.py``: *bit-exact* means the loss,
the parameters and every state entry equal torch's after every step (10 steps; LBFGS 4
steps of up to 20 iterations), through a reload of a state_dict with plain-number
steps and one of an older state_dict; *unsupported* configurations are refused with
``NotImplementedError``. The third column counts them as bit-exact / within a
tolerance / unsupported.

==============  ==============  ==================  ====================================================
course_lib      torch.optim     exact / tol / uns.  notes
==============  ==============  ==================  ====================================================
``SGD``         ``SGD``         72 / 0 / 36         dense and sparse gradients [#sparse]_
``Adagrad``     ``Adagrad``     56 / 0 / 28         dense and sparse gradients [#sparse]_
``RMSprop``     ``RMSprop``     32 / 0 / 16
``Adadelta``    ``Adadelta``    24 / 0 / 12
``Adam``        ``Adam``        20 / 0 / 20         Tensor ``lr``/betas on the loop path, as torch
``AdamW``       ``AdamW``       20 / 0 / 20
``Adamax``      ``Adamax``      20 / 0 / 10
``NAdam``       ``NAdam``       28 / 0 / 14
``RAdam``       ``RAdam``       24 / 0 / 12
``Rprop``       ``Rprop``       20 / 0 / 10
``ASGD``        ``ASGD``        28 / 0 / 14
``SparseAdam``  ``SparseAdam``  8 / 0 / 0           sparse gradients only, as torch
``LBFGS``       ``LBFGS``       10 / 0 / 0          closure; ``line_search_fn="strong_wolfe"``
``Adafactor``   ``Adafactor``   10 / 10 / 0         ``foreach=True``: torch's own foreach path rounds differently [#adafactor]_
``Muon``        ``Muon``        14 / 0 / 0          2-D parameters only, as torch
==============  ==============  ==================  ====================================================

.. [#adafactor] torch's foreach Adafactor differs from its own single-tensor path in the
   last bits; this package runs the single-tensor arithmetic on both, so its ``foreach=True``
   runs agree with torch's within ``assert_close``'s default tolerance.
.. [#sparse] Of the sparse-gradient runs, those with ``weight_decay`` (16 of SGD's, 16 of
   Adagrad's) are refused by torch at the first step; this package raises the same
   ``RuntimeError`` with the same message, and they are counted as exact.

Unsupported everywhere: ``fused=True``, ``capturable=True`` and ``differentiable=True``
(torch's kernel and autograd options; refused with ``NotImplementedError`` as keyword
arguments or inside a param group: all unsupported configurations above are these) and
complex parameters (refused; torch treats them as pairs of reals; LBFGS follows torch).
``foreach=None`` runs the readable per-tensor rule on every device, where torch picks
its multi-tensor path on CUDA: pass ``foreach=True`` for torch's CUDA default. All 105
error inputs of ``optim_db`` for these optimizers raise torch's exception type (or
warning) with torch's message. ``AdamL2`` is ``torch.optim.Adam(weight_decay=...)``
under its own name.

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
from .foreach import (
    adadelta_update_foreach,
    adagrad_update_foreach,
    adam_update_foreach,
    adamax_update_foreach,
    asgd_update_foreach,
    nadam_update_foreach,
    radam_update_foreach,
    rmsprop_update_foreach,
    rprop_update_foreach,
    sgd_update_foreach,
)
from .lbfgs import (
    LBFGS,
    cubic_interpolate,
    strong_wolfe_line_search,
    two_loop_recursion,
)
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
    ASGD,
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
    Rprop,
    RuleOptimizer,
    SparseAdam,
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
    asgd_init_state,
    asgd_update,
    nadam_init_state,
    nadam_update,
    radam_init_state,
    radam_update,
    rmsprop_init_state,
    rmsprop_update,
    rprop_init_state,
    rprop_update,
    sgd_update,
    sparse_adam_init_state,
    sparse_adam_update,
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
    "Rprop",
    "ASGD",
    "SparseAdam",
    "LBFGS",
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
    "RuleOptimizer",
    # building blocks
    "ewma",
    "grad_with_l2_penalty",
    "decoupled_weight_decay_",
    "new_step_counter",
    "two_loop_recursion",
    "cubic_interpolate",
    "strong_wolfe_line_search",
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
    "rprop_init_state",
    "rprop_update",
    "asgd_init_state",
    "asgd_update",
    "sparse_adam_init_state",
    "sparse_adam_update",
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
    "adagrad_update_foreach",
    "rmsprop_update_foreach",
    "adadelta_update_foreach",
    "adam_update_foreach",
    "adamax_update_foreach",
    "nadam_update_foreach",
    "radam_update_foreach",
    "rprop_update_foreach",
    "asgd_update_foreach",
]
