"""Every role's meta/argument_specs.yml documents exactly its defaults/main.yml, with the same values."""

from __future__ import annotations

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALL_ROLES = sorted(d for d in os.listdir(os.path.join(ROOT, "roles")) if os.path.isdir(os.path.join(ROOT, "roles", d)))


def _entry_points(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as f:
        return yaml.safe_load(f)["argument_specs"]


# Internal roles (prometheus.prometheus's _common is the model; ansible-lint and Galaxy refuse a leading underscore in
# a role name) have entry points other roles include instead of main, and no defaults.
ROLES = [r for r in ALL_ROLES if "main" in _entry_points(r)]
INTERNAL = [r for r in ALL_ROLES if r not in ROLES]


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


def test_the_supervisor_role_is_internal():
    assert INTERNAL == ["supervisor"]


@pytest.mark.parametrize("role", INTERNAL)
def test_internal_entry_points_have_tasks_and_documented_prefixed_options(role):
    specs = _load(role, "meta", "argument_specs.yml")["argument_specs"]
    assert "main" not in specs
    # Argument specs document defaults but do not set them: defaults/main.yml must, with the same values.
    defaults = _load(role, "defaults", "main.yml")
    documented = {n: o["default"] for spec in specs.values() for n, o in spec["options"].items() if "default" in o}
    assert defaults == documented
    for entry, spec in specs.items():
        assert os.path.isfile(os.path.join(ROOT, "roles", role, "tasks", f"{entry}.yml")), entry
        for name, opt in spec["options"].items():
            assert name == role or name.startswith(role + "_"), f"{role}.{entry}: {name} lacks the role prefix"
            assert opt.get("description"), f"{role}.{entry}: {name} has no description"


def test_no_role_reads_another_roles_files_by_path():
    offenders = []
    for role in ALL_ROLES:
        for dirpath, _dummy, files in os.walk(os.path.join(ROOT, "roles", role)):
            for name in files:
                if not name.endswith((".yml", ".j2")):
                    continue
                with open(os.path.join(dirpath, name)) as f:
                    text = f.read()
                # The stamps hash the internal supervisor role's files with their own (its template is theirs too).
                for other in ALL_ROLES:
                    if other != role and f"/../{other}/" in text.replace("' ~ '", ""):
                        offenders.append(f"{role}/{name} -> {other}")
    assert offenders == []


@pytest.mark.parametrize("role", ALL_ROLES)
def test_private_vars_are_underscored(role):
    path = os.path.join(ROOT, "roles", role, "vars")
    for name in os.listdir(path) if os.path.isdir(path) else []:
        for var in _load(role, "vars", name):
            assert var.startswith(f"_{role}_"), f"{role}/vars/{name}: {var}"
