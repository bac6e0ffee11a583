"""What the playbooks may not do: set a scenario knob (role scale's defaults, which inventories and -e set) in a
task's or an include's vars. Extra vars win over those, so a `-e scale_slo_gates=...` would reach a step that meant to
override it (a capacity step judged by the search, a phase by its own gates); private inputs (`_name`) do not.
(A role's own parameters passed to include_role are that role's interface, not checked here.)"""

from __future__ import annotations

import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOKS = sorted(glob.glob(os.path.join(ROOT, "playbooks", "**", "*.yml"), recursive=True))


def _knobs() -> set[str]:
    out: set[str] = set()
    with open(os.path.join(ROOT, "roles", "scale", "defaults", "main.yml")) as f:
        out |= set(yaml.safe_load(f) or {})
    return out


def _tasks(node):
    """Every task, block and play of a playbook or task file (dicts with a `vars` key are what matters)."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            yield from _tasks(node.get(key))


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: os.path.relpath(p, ROOT))
def test_no_task_sets_a_public_knob_in_its_vars(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    knobs = _knobs()
    bad = [
        f"{t.get('name', '?')}: {k}"
        for t in _tasks(doc)
        # a play's vars are the play's defaults (-e should win there); a role's parameters are its interface
        if "hosts" not in t and not ({"ansible.builtin.include_role", "ansible.builtin.import_role"} & set(t))
        for k in (t.get("vars") or {})
        if k in knobs
    ]
    assert not bad, f"{os.path.relpath(path, ROOT)} sets public knobs in task vars (extra vars override them): {bad}"
