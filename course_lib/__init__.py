"""course_lib: the reference implementations, widgets and grading helpers of the course
"Optimization for Deep Learning".

Each topic has its own module, and every public name of every module is also
available from the package itself (``course_lib.AdamW`` is
``course_lib.optim.AdamW``). Modules load on first use, so ``import course_lib``
stays cheap for the grader and the command line, and a page that never touches
the widgets never imports ipywidgets.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__version__ = "0.1.0"

MODULES = (
    "data",
    "device",
    "risk",
    "stochastic",
    "optim",
    "clipping",
    "adaptive",
    "schedules",
    "init",
    "models",
    "monitoring",
    "normalization",
    "experiments",
    "landscapes",
    "trajectories",
    "plots",
    "widgets",
    "quiz",
    "grading",
)
"""The topic modules whose ``__all__`` is re-exported here, in lookup order."""


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name == f"{__name__}.{name}":
            return None
        raise


def __getattr__(name: str) -> Any:
    if name in MODULES:
        module = _module(name)
        if module is not None:
            return module
    for module_name in MODULES:
        module = _module(module_name)
        if module is not None and name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    names = set(globals())
    for module_name in MODULES:
        module = _module(module_name)
        if module is not None:
            names.add(module_name)
            names.update(getattr(module, "__all__", ()))
    return sorted(names)
