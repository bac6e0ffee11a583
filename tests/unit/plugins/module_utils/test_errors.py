"""Every error a module_utils module defines derives from the one base, ScalelabError."""

from __future__ import annotations

import importlib
import inspect
import pathlib

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError

ROOT = pathlib.Path(__file__).resolve().parents[4] / "plugins" / "module_utils"
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts) for p in ROOT.rglob("*.py") if p.name != "__init__.py"
)


def test_the_tree_is_found():
    assert "sets.engine" in MODULES and "errors" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_errors_derive_from_the_one_base(name):
    mod = importlib.import_module(f"ansible_collections.scalelab.capi.plugins.module_utils.{name}")
    own = [
        c
        for _dummy, c in inspect.getmembers(mod, inspect.isclass)
        if c.__module__ == mod.__name__ and issubclass(c, BaseException)
    ]
    assert [c.__name__ for c in own if not issubclass(c, ScalelabError)] == []
