# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
name: collection_info
short_description: This collection's name, version and, in a git checkout, its commit
version_added: 0.8.0
description:
  - What a run's results record about the code that made them - the collection's version from C(MANIFEST.json)
    (an installed collection) or C(galaxy.yml) (a checkout) and, when the collection is a git checkout, the commit
    and whether tracked files differ from it.
  - Read on the controller, where the collection is; the modules run on management hosts that have no copy of it.
author: scalelab contributors (!UNKNOWN)
options: {}
"""

EXAMPLES = r"""
- name: Record the collection with a run's results
  scalelab.capi.scale_results:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    runs_dir: ~/.local/share/scalelab/scalelab/results/scale
    metadata:
      set: scale
      collection: "{{ lookup('scalelab.capi.collection_info') }}"
"""

RETURN = r"""
_raw:
  description: One dict - C(name), C(version), C(commit) (40 hex digits; empty outside a git checkout or without
    git) and C(dirty) (tracked files differ from the commit).
  type: list
  elements: dict
  sample: [{name: scalelab.capi, version: 0.8.0, commit: e053696b0f9e0cbc3b6a2f7f5a9d1d9cbb6b3b8e, dirty: false}]
"""

import json
import os
import shutil
import subprocess

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

# plugins/lookup/collection_info.py -> the collection's root (through the checkout's link, to its real place)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def version(root: str) -> tuple[str, str]:
    """(namespace.name, version) from MANIFEST.json, else galaxy.yml."""
    manifest = os.path.join(root, "MANIFEST.json")
    if os.path.isfile(manifest):
        with open(manifest, encoding="utf-8") as f:
            info = json.load(f)["collection_info"]
    else:
        import yaml

        with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as f:
            info = yaml.safe_load(f)
    return f"{info['namespace']}.{info['name']}", str(info["version"])


def commit(root: str) -> tuple[str, bool]:
    """(HEAD, tracked files differ) of the checkout at root; ("", False) when it is none or git is missing."""
    git = shutil.which("git")
    if not git or not os.path.exists(os.path.join(root, ".git")):
        return "", False

    def out(*args: str) -> str:
        return subprocess.run([git, "-C", root, *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        return out("rev-parse", "HEAD"), bool(out("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return "", False


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        try:
            name, ver = version(ROOT)
        except (OSError, KeyError, ValueError) as e:
            raise AnsibleLookupError(f"collection_info: cannot read the collection version at {ROOT}: {e}") from e
        rev, dirty = commit(ROOT)
        return [{"name": name, "version": ver, "commit": rev, "dirty": dirty}]
