"""course_lib: the reference implementations, widgets and grading helpers of the course
"Optimization for Deep Learning".

Every public name of the topic modules is also available from the package itself
(``course_lib.AdamW`` is ``course_lib.optim.AdamW``). Which module holds which name is
written once, in ``__init__.pyi``: type checkers and editors read it, and so does this
module, through ``lazy_loader``, to load a module on first use. So ``import course_lib``
stays cheap for the grader and the command line, a page that never touches the widgets
never imports ipywidgets, and a misspelled name fails at once without importing anything.

Layout: topic modules (``risk``, ``stochastic``, ``optim``, ``schedules``, ``init``,
``normalization``, ...), the pictures and interactive pieces (``plots``, ``landscapes``,
``trajectories``, ``widgets``, ``quiz``), and the instructor's grading machinery
(``grading``, with the ``course`` command in ``cli``).
"""

from __future__ import annotations

import lazy_loader

__version__ = "0.1.0"

_getattr, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _getattr(name)
