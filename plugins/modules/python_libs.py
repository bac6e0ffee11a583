#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: python_libs
short_description: Say which Python libraries the host's interpreter lacks, before a run needs them
version_added: 0.8.0
description:
  - Looks up each library of O(libs) with the Python interpreter Ansible uses on the host (the one every later
    module there runs with), without importing it, and returns those it cannot find with what to install.
  - C(playbooks/scale.yml) runs it on every management and farm host (and the controller) before anything changes,
    so a missing C(matplotlib) is said in seconds, not by the report at the end of an hour's run.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.attributes.read_only
options:
  fail_on_missing:
    description: Fail, in one line naming the interpreter, what it lacks and the pip command that installs it.
    type: bool
    default: false
  libs:
    description:
      - Import name -> the requirement that provides it (as pip takes it), for example C(yaml) -> C(PyYAML>=6.0).
    type: dict
    required: true
  purpose:
    description: What needs the libraries on this host, to end the failure message.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: The libraries the management host's modules need
  scalelab.capi.python_libs:
    libs: {requests: requests>=2.31.0, yaml: PyYAML>=6.0, kubernetes: kubernetes>=29.0.0}
    purpose: the Cluster API modules
    fail_on_missing: true

- name: Or register and say it yourself
  scalelab.capi.python_libs:
    libs: {cryptography: cryptography>=41.0.0}
  register: libs
"""

RETURN = r"""
missing:
  description: The libraries not found, each with its import name and requirement.
  type: list
  elements: dict
  returned: always
  sample: [{import: matplotlib, requirement: matplotlib>=3.8.0}]
python:
  description: The interpreter that was asked (C(sys.executable)).
  type: str
  returned: always
  sample: /usr/bin/python3
python_version:
  description: Its version.
  type: str
  returned: always
  sample: 3.11.7
"""

import importlib.util
import platform
import sys

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors

ARGUMENT_SPEC = {
    "fail_on_missing": {"type": "bool", "default": False},
    "libs": {"type": "dict", "required": True},
    "purpose": {"type": "str", "default": ""},
}


def missing(libs: dict) -> list[dict]:
    """The libraries find_spec cannot locate (a package's own import errors are not this check's business)."""
    out = []
    for name, requirement in sorted(libs.items()):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent package missing, or a broken one
            found = False
        if not found:
            out.append({"import": name, "requirement": str(requirement or name)})
    return out


def run(p: dict, check_mode: bool) -> tuple[bool, dict]:
    for name in p["libs"]:
        if not name or not all(part.isidentifier() for part in name.split(".")):
            raise errors.ScalelabError(f"libs: {name!r} is not an importable module name")
    lacking = missing(p["libs"])
    result = {"missing": lacking, "python": sys.executable, "python_version": platform.python_version()}
    if lacking and p["fail_on_missing"]:
        names = ", ".join(m["import"] for m in lacking)
        pip = " ".join(f'"{m["requirement"]}"' for m in lacking)
        why = f" (for {p['purpose']})" if p["purpose"] else ""
        raise errors.ScalelabError(
            f"{sys.executable} lacks {names}{why}: {sys.executable} -m pip install {pip}", result
        )
    return False, result


def main() -> None:
    errors.run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), run)


if __name__ == "__main__":
    main()
