"""Each module's DOCUMENTATION matches its ARGUMENT_SPEC: names, types, defaults, choices, sorted."""

from __future__ import annotations

import importlib
import os

import pytest
import yaml

MODULES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "modules")
MODULES = sorted(f[:-3] for f in os.listdir(MODULES_DIR) if f.endswith(".py") and not f.startswith("_"))


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_argument_spec(name):
    mod = importlib.import_module(f"ansible_collections.scalelab.capi.plugins.modules.{name}")
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert doc["module"] == name
    options = doc["options"]
    assert list(options) == sorted(options), "options must be sorted"
    assert sorted(options) == sorted(mod.ARGUMENT_SPEC)
    for opt, spec in mod.ARGUMENT_SPEC.items():
        d = options[opt]
        assert d.get("type", "str") == spec.get("type", "str"), opt
        assert d.get("default") == spec.get("default"), opt
        assert d.get("required", False) == spec.get("required", False), opt
        assert d.get("choices") == spec.get("choices"), opt
        assert d.get("description"), opt
    for line in [doc["description"]] if isinstance(doc["description"], str) else doc["description"]:
        assert isinstance(line, str), f"a description line parsed as {line!r}: a colon and a space in plain text"
    assert yaml.safe_load(mod.EXAMPLES), "EXAMPLES must not be empty"
    assert yaml.safe_load(mod.RETURN)
