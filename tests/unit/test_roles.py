"""Every role's meta/argument_specs.yml documents exactly its defaults/main.yml, with the same values."""

from __future__ import annotations

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(d for d in os.listdir(os.path.join(ROOT, "roles")) if os.path.isdir(os.path.join(ROOT, "roles", d)))


def _load(role, *parts):
    with open(os.path.join(ROOT, "roles", role, *parts)) as f:
        return yaml.safe_load(f) or {}


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_equal_defaults(role):
    defaults = _load(role, "defaults", "main.yml")
    options = _load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(defaults)
    for name, spec in options.items():
        assert spec.get("default") == defaults[name], name
        assert spec.get("description"), f"{role}: {name} has no description"
        assert name.startswith(role + "_"), f"{role}: public variable {name} lacks the role prefix"


@pytest.mark.parametrize("role", ROLES)
def test_private_vars_are_underscored(role):
    path = os.path.join(ROOT, "roles", role, "vars")
    for name in os.listdir(path) if os.path.isdir(path) else []:
        for var in _load(role, "vars", name):
            assert var.startswith(f"_{role}_"), f"{role}/vars/{name}: {var}"
