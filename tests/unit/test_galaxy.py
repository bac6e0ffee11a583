"""What galaxy.yml, requirements-runtime.txt and meta/ declare is what the collection uses and what CI installs."""

from __future__ import annotations

import importlib.util
import os
import re

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The collections of the `ansible` package (requirements.txt): the names an FQCN here could belong to.
_ANSIBLE = os.path.dirname(importlib.util.find_spec("ansible_collections.kubernetes").submodule_search_locations[0])
KNOWN = {
    f"{ns}.{name}"
    for ns in os.listdir(_ANSIBLE)
    if os.path.isdir(os.path.join(_ANSIBLE, ns))
    for name in os.listdir(os.path.join(_ANSIBLE, ns))
}
# Optional collections (requirements.yml) and the only places that may use each.
OPTIONAL = {"openstack.cloud": ("roles/openstack_vms/",), "grafana.grafana": ("roles/observability/",)}


def _yaml(*parts):
    with open(os.path.join(ROOT, *parts)) as f:
        return yaml.safe_load(f)


def _requirements(name: str) -> dict[str, Requirement]:
    with open(os.path.join(ROOT, name)) as f:
        reqs = [Requirement(line.strip()) for line in f if line.strip() and not line.startswith("#")]
    return {r.name.lower(): r for r in reqs}


def _uses() -> dict[str, set[str]]:
    """collection -> files under roles/, playbooks/, plugins/ naming one of its content by FQCN."""
    fqcn = re.compile(r"\b([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+")
    uses: dict[str, set[str]] = {}
    for top in ("roles", "playbooks", "plugins"):
        for base, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d not in ("wrappers", "__pycache__", "farm")]
            for name in files:
                path = os.path.join(base, name)
                with open(path, errors="replace") as f:
                    found = {m for m in fqcn.findall(f.read()) if m in KNOWN and m != "ansible.builtin"}
                for coll in found:
                    uses.setdefault(coll, set()).add(os.path.relpath(path, ROOT))
    return uses


def test_every_collection_used_is_declared_and_every_declared_one_used():
    declared = set(_yaml("galaxy.yml")["dependencies"])
    optional = {c["name"] for c in _yaml("requirements.yml")["collections"]}
    uses = _uses()
    assert optional == set(OPTIONAL)
    undeclared = {c: sorted(f) for c, f in uses.items() if c not in declared | optional}
    assert undeclared == {}, "used but not in galaxy.yml's dependencies"
    misplaced = {c: sorted(f for f in uses.get(c, ()) if not f.startswith(OPTIONAL[c])) for c in optional}
    assert all(not f for f in misplaced.values()), f"optional collections used outside their role: {misplaced}"
    assert declared <= set(uses), f"declared but unused: {declared - set(uses)}"


def test_the_declared_versions_are_met_by_what_ci_installs():
    import json

    for coll, spec in _yaml("galaxy.yml")["dependencies"].items():
        with open(os.path.join(_ANSIBLE, *coll.split("."), "MANIFEST.json")) as f:
            version = json.load(f)["collection_info"]["version"]
        assert Requirement(f"x{spec}").specifier.contains(version), f"{coll} {spec}: CI installs {version}"


def test_requires_ansible_is_the_ansible_core_ci_installs():
    pinned = _requirements("requirements.txt")["ansible-core"]
    (version,) = (s.version for s in pinned.specifier)
    minor = ".".join(version.split(".")[:2])
    assert _yaml("meta", "runtime.yml")["requires_ansible"] == f">={minor}.0"
    assert str(_requirements("requirements-runtime.txt")["ansible-core"].specifier) == f">={minor}.0"


@pytest.mark.parametrize("name", sorted(_requirements("requirements-runtime.txt")))
def test_each_runtime_requirement_is_locked_within_its_bounds(name):
    bound = _requirements("requirements-runtime.txt")[name]
    lock = _requirements("requirements.txt")
    assert name in lock, f"{name} is not pinned in requirements.txt (CI's lock)"
    (pin,) = lock[name].specifier
    assert pin.operator == "==" and bound.specifier.contains(pin.version), f"{name}: lock {pin}, bound {bound}"


def test_the_execution_environment_names_files_that_exist():
    ee = _yaml("meta", "execution-environment.yml")
    for key in ("python", "system"):
        assert os.path.isfile(os.path.join(ROOT, ee["dependencies"][key])), ee
    assert os.path.isfile(os.path.join(ROOT, "LICENSE")) and _yaml("galaxy.yml")["license"] == ["Apache-2.0"]


def test_the_hosts_library_checks_ask_for_the_runtime_requirements():
    """roles/scale's _scale_python_libs (scale.yml's check on each host) asks for what requirements-runtime.txt
    names, with the same bounds, and for nothing else."""
    runtime = {str(r) for r in _requirements("requirements-runtime.txt").values()}
    asked = {
        req
        for libs in _yaml("roles", "scale", "vars", "main.yml")["_scale_python_libs"].values()
        for req in libs.values()
    }
    assert asked <= runtime, asked - runtime
    assert runtime - asked == {str(_requirements("requirements-runtime.txt")["ansible-core"])}
