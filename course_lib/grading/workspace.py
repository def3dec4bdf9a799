"""The student's side: their own copies of the assignments, and checking a notebook before handing it in.

``exercises/`` is tracked by git and changes when a new assignment is released, so
students never edit it: ``make lab`` first runs ``course workspace``, which copies into a
git-ignored folder (``work/``) every file of ``exercises/`` that is not there yet. A
notebook already there is never overwritten, so started work stays as it is, and a
``git pull`` that brings a new assignment never conflicts with it; the new assignment
appears in ``work/`` the next time the lab starts.

``course validate NOTEBOOK`` runs a notebook the way nbgrader's Validate button does and
prints every failing test with its whole message; its exit status is 1 when a test
fails, so scripts and editors can use it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, TextIO

__all__ = ["fill_workspace", "validate_notebook"]


def fill_workspace(release: Path, work: Path, ignore: tuple[str, ...] = (".ipynb_checkpoints", "__pycache__")) -> tuple[list[Path], int]:
    """Copy every file of ``release`` that ``work`` lacks; never overwrite one.

    Returns:
        ``(copied, kept)``: the paths copied (relative to ``work``) and how many files
        were already there and left as they are.
    """
    copied, kept = [], 0
    for source in sorted(release.rglob("*")):
        rel = source.relative_to(release)
        if not source.is_file() or any(part in ignore for part in rel.parts):
            continue
        target = work / rel
        if target.exists():
            kept += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied.append(rel)
    return copied, kept


def validate_notebook(path: Path, config: Any, out: TextIO) -> bool:
    """Run ``path`` as nbgrader's Validate button does and print, in full, what fails; True when it passes."""
    import logging

    from nbgrader.validator import Validator

    logging.getLogger("traitlets").setLevel(logging.ERROR)
    from course_lib.grading.pages import strip_ansi

    results = Validator(config=config).validate(str(path))
    rule = "=" * 78
    for cell in results.get("type_changed", []):
        out.write(f"{rule}\nA cell changed type from {cell['old_type']} to {cell['new_type']}; change it back:\n{cell['source']}\n")
    for cell in results.get("changed", []):
        out.write(f"{rule}\nThis read-only cell was edited; undo the change (or copy your work into a fresh copy):\n{cell['source']}\n")
    for cell in results.get("failed", []):
        out.write(f"{rule}\nThis test fails:\n{cell['source']}\n\n{strip_ansi(cell['raw_error']).rstrip()}\n")
    if results:
        count = sum(len(v) for v in results.values())
        out.write(f"{rule}\nVALIDATION FAILED on {count} cell(s) of {path}\n")
        return False
    out.write(f"Success: {path} passes all the visible tests.\n")
    return True
