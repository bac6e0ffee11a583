"""The binaries role from an empty cache directory, as on a new user's machine: the wrapper modules it publishes
(binaries_wrappers_dir, where later roles read provider config/ trees) are where it built them."""

from __future__ import annotations

import os
import subprocess

import pytest

from .lab import BIN, ROOT

PLAY = """
- hosts: localhost
  gather_facts: true
  gather_subset: [min]
  tasks:
    - ansible.builtin.include_role:
        name: scalelab.capi.binaries
      vars:
        binaries_components: [etcd]
    - ansible.builtin.command:
        cmd: "{{ binaries_go_path }} list -mod=readonly -m -json go.etcd.io/etcd/server/v3"
        chdir: "{{ binaries_wrappers_dir }}/etcd-{{ binaries_versions.etcd }}"
      changed_when: false
"""


def test_wrappers_are_published_where_they_are_built_with_an_empty_cache(tmp_path):
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    cache = tmp_path / "cache"  # empty: no wrappers/ an older version would have left
    proc = subprocess.run(
        [os.path.join(BIN, "ansible-playbook"), str(play), "-e", f"binaries_cache_dir={cache}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, ANSIBLE_NOCOLOR="1"),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert (cache / "bin").is_dir() and not (cache / "wrappers").exists()


CLUSTERCTL = """
- hosts: localhost
  gather_facts: true
  gather_subset: [min]
  tasks:
    - ansible.builtin.include_role:
        name: scalelab.capi.binaries
      vars:
        binaries_components: [clusterctl]
    - ansible.builtin.command:
        cmd: "{{ binaries_paths['clusterctl'] }} version -o short"
      register: _version
      changed_when: false
    - ansible.builtin.debug:
        msg: "clusterctl {{ _version.stdout }}"
"""


@pytest.mark.parametrize(("stack", "version"), [("capi-1.14", "v1.14.2"), ("capi-1.7", "v1.7.2")])
def test_clusterctl_builds_on_every_stack(tmp_path, stack, version):
    """The kind and existing backends install the providers with clusterctl (capi_stack, metal3_stack): it builds
    from each stack's wrapper module, as a user of those backends gets it."""
    play = tmp_path / "play.yml"
    play.write_text(CLUSTERCTL)
    proc = subprocess.run(
        [
            os.path.join(BIN, "ansible-playbook"),
            str(play),
            "-e",
            f"binaries_cache_dir={tmp_path / 'cache'}",
            "-e",
            f"binaries_stack={stack}",
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, ANSIBLE_NOCOLOR="1"),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert f"clusterctl {version}" in proc.stdout, proc.stdout[-2000:]
