#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: lab_audit
short_description: List what a lab left behind - processes, listening ports, its directory, objects of its sets
version_added: 0.6.0
description:
  - Lists the live processes whose command line names the lab directory O(dir) (with their listening addresses),
    the listening addresses on any of O(ports), O(dir) itself when it exists, and, when O(kubeconfig) is given and
    answers, the objects labelled C(scalelab.io/set) with a name in O(sets) (Clusters, BareMetalHosts, Secrets,
    Namespaces) - what must be gone after C(playbooks/teardown.yml).
  - Before a converge, C(foreign) lists the listeners on O(ports) that belong to another process, and the roles'
    preflight refuses such a port collision naming the option.
  - A process is the lab's when its command line, or an ancestor's (the lab's supervisord), names O(dir).
  - Run it before a teardown to learn the lab's processes and ports (pass their ports to the second run), and after
    it to check nothing is left. C(playbooks/teardown.yml) does both and fails with one line per leftover.
  - Never changes anything; with O(fail_on_leftovers) it fails when something is left (one line each).
  - Reads C(/proc), so Linux only.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.attributes.read_only
options:
  context:
    description: Context of O(kubeconfig); empty is its current context.
    type: str
    default: ""
  dir:
    description: The lab's directory (the management cluster's C(management_cluster_dir)).
    type: path
    required: true
  fail_on_leftovers:
    description: Fail when anything is left, with one line per leftover.
    type: bool
    default: false
  keep:
    description: Entries of O(dir) a teardown keeps on purpose (the management cluster's
      C(management_cluster_keep), the runs' results by default). With it, O(dir) itself is no leftover, its other
      entries are.
    type: list
    elements: str
    default: []
  kubeconfig:
    description: A management cluster that outlives the lab (the C(existing) backend), to look for objects of
      O(sets). A kubeconfig that is gone (the lab's own) is reported as such, not as an error.
    type: path
  ports:
    description: Ports that must not be listening (e.g. the C(listening) ports of the processes found before the
      teardown).
    type: list
    elements: int
    default: []
  sets:
    description: Set names (label C(scalelab.io/set)) whose objects must be gone from O(kubeconfig).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: What does the lab run and listen on?
  scalelab.capi.lab_audit:
    dir: ~/.local/share/scalelab/scalelab
  register: before

- name: After the teardown, nothing may be left
  scalelab.capi.lab_audit:
    dir: ~/.local/share/scalelab/scalelab
    ports: >-
      {{ before.processes | map(attribute='listening') | flatten
         | map('regex_replace', '^.*:', '') | map('int') | list }}
    keep: [results]  # the teardown keeps the runs' results (management_cluster_keep)
    fail_on_leftovers: true

- name: A lab on an existing management cluster leaves none of its objects there
  scalelab.capi.lab_audit:
    dir: ~/.local/share/scalelab/scalelab
    kubeconfig: ~/.kube/config
    sets: [scale, hosts]
    fail_on_leftovers: true
"""

RETURN = r"""
processes:
  description: Live processes whose command line names O(dir) - pid, cmdline (first 300 characters), listening.
  type: list
  elements: dict
  returned: always
  sample: [{pid: 4242, cmdline: "/root/.cache/scalelab/bin/etcd --data-dir=/root/.local/share/scalelab/scalelab/etcd",
            listening: ["127.0.0.1:2379"]}]
ports:
  description: Listening addresses on any of O(ports).
  type: list
  elements: str
  returned: always
foreign:
  description: Of those, the ones a process not of the lab listens on (a port collision before a converge) -
    address, port, pid (0 when its descriptors cannot be read) and cmdline.
  type: list
  elements: dict
  returned: always
  sample: [{address: "127.0.0.1:6443", port: 6443, pid: 777, cmdline: "python3 -m http.server 6443"}]
paths:
  description: O(dir) when it still exists; with O(keep), its entries but those.
  type: list
  elements: str
  returned: always
objects:
  description: Objects of O(sets) still in O(kubeconfig) - kind, namespace, name.
  type: list
  elements: dict
  returned: always
api:
  description: Whether the objects were checked - C(checked), C(not asked), C(gone with the lab (no kubeconfig)) or
    C(unreachable - <why>).
  type: str
  returned: always
leftovers:
  description: How many things are left (processes, ports, paths and objects together).
  type: int
  returned: always
  sample: 0
"""

import os
import pathlib

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils.kube import client
from ansible_collections.scalelab.capi.plugins.module_utils.lab import audit

ARGUMENT_SPEC = {
    "context": {"type": "str", "default": ""},
    "dir": {"type": "path", "required": True},
    "fail_on_leftovers": {"type": "bool", "default": False},
    "keep": {"type": "list", "elements": "str", "default": []},
    "kubeconfig": {"type": "path"},
    "ports": {"type": "list", "elements": "int", "default": []},
    "sets": {"type": "list", "elements": "str", "default": []},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    if p["kubeconfig"]:
        client.require_libs(module)
    bad = [port for port in p["ports"] if not 0 < port < 65536]
    if bad:
        module.fail_json(msg=f"ports={bad}: a port is 1-65535")
    odd = audit.not_entry_names(p["keep"])
    if odd:
        module.fail_json(msg=f"keep={odd}: an entry is a plain name in dir (no '/', not '.' or '..')")
    if os.path.realpath(p["dir"]) in ("/", os.path.realpath(pathlib.Path.home())):
        module.fail_json(msg=f"dir={p['dir']}: the root or home directory is not a lab directory")
    # This module's own process and its parents name the directory in their arguments: not leftovers.
    found = audit.audit(p, skip=(os.getpid(), os.getppid()))
    if p["fail_on_leftovers"] and found["leftovers"]:
        lines = audit.describe(found)
        module.fail_json(msg=f"dir={p['dir']}: {len(lines)} left behind:\n" + "\n".join(lines), **found)
    module.exit_json(changed=False, **found)


if __name__ == "__main__":
    main()
