"""The package's namespace: every public name of every module is reachable, once."""

from __future__ import annotations

import collections
import importlib
import subprocess
import sys

import pytest

import course_lib


def test_every_public_name_is_reexported_and_unique():
    owners = collections.defaultdict(list)
    modules = {}
    for name in course_lib.MODULES:
        try:
            modules[name] = importlib.import_module(f"course_lib.{name}")
        except ModuleNotFoundError:
            continue
        assert hasattr(modules[name], "__all__"), f"course_lib.{name} defines no __all__"
        for public in modules[name].__all__:
            owners[public].append(name)
    clashes = {n: m for n, m in owners.items() if len(m) > 1}
    assert not clashes, f"names exported by several modules: {clashes}"
    for public, (name,) in owners.items():
        assert getattr(course_lib, public) is getattr(modules[name], public)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'not_a_thing'"):
        course_lib.not_a_thing


def test_import_is_lazy():
    code = "import sys, course_lib; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
