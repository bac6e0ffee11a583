"""The binaries role from an empty cache directory, as on a new user's machine: the wrapper modules it publishes
(binaries_wrappers_dir, where later roles read provider config/ trees) are where it built them, and every component
a backend asks for builds on each stack."""

from __future__ import annotations

import os
import subprocess

import pytest

from .lab import BIN, ROOT

# No lab: hack/test runs it beside the quick start.
pytestmark = pytest.mark.aside

# The role for one component, then tasks run with what it built; {component} and {tasks} filled in per test.
PLAY = """
- hosts: localhost
  gather_facts: true
  gather_subset: [min]
  tasks:
    - ansible.builtin.include_role:
        name: scalelab.capi.binaries
      vars:
        binaries_components: [{component}]
{tasks}"""

WRAPPERS = """    - ansible.builtin.command:
        cmd: "{{ binaries_go_path }} list -mod=readonly -m -json go.etcd.io/etcd/server/v3"
        chdir: "{{ binaries_wrappers_dir }}/etcd-{{ binaries_versions.etcd }}"
      changed_when: false
"""

CLUSTERCTL = """    - ansible.builtin.command:
        cmd: "{{ binaries_paths['clusterctl'] }} version -o short"
      register: _version
      changed_when: false
    - ansible.builtin.debug:
        msg: "clusterctl {{ _version.stdout }}"
"""


def _run(tmp_path, component: str, tasks: str, *extra: str) -> subprocess.CompletedProcess:
    """The play with an empty binaries_cache_dir (tmp_path/cache); extra: more ansible-playbook arguments."""
    play = tmp_path / "play.yml"
    # str.replace, not format: the tasks' Jinja braces stay as they are.
    play.write_text(PLAY.replace("{component}", component).replace("{tasks}", tasks))
    cmd = [os.path.join(BIN, "ansible-playbook"), str(play), "-e", f"binaries_cache_dir={tmp_path / 'cache'}", *extra]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc


def test_wrappers_are_published_where_they_are_built_with_an_empty_cache(tmp_path):
    _run(tmp_path, "etcd", WRAPPERS)
    cache = tmp_path / "cache"  # empty: no wrappers/ an older version would have left
    assert (cache / "bin").is_dir() and not (cache / "wrappers").exists()


@pytest.mark.parametrize(("stack", "version"), [("capi-1.14", "v1.14.2"), ("capi-1.7", "v1.7.2")])
def test_clusterctl_builds_on_every_stack(tmp_path, stack, version):
    """The kind and existing backends install the providers with clusterctl (capi_stack, metal3_stack): it builds
    from each stack's wrapper module, as a user of those backends gets it."""
    proc = _run(tmp_path, "clusterctl", CLUSTERCTL, "-e", f"binaries_stack={stack}")
    assert f"clusterctl {version}" in proc.stdout, proc.stdout[-2000:]
