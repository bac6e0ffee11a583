#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: bmh_wait
short_description: Wait until N BareMetalHosts of a set reach a provisioning state, printing progress
version_added: 0.3.0
description:
  - Polls the BareMetalHosts labelled C(scalelab.io/set=<name>) (one paginated list per poll) until O(count) of
    them are in O(provisioning_state) (C(status.provisioning.state)), or O(timeout) passes.
  - Only settled hosts count, so a wait right after M(scalelab.capi.bmh_bulk) changed images does not count
    hosts BMO has not acted on yet. C(provisioned) counts hosts provisioned with the image their spec asks for
    (C(status.provisioning.image.url) equal to C(spec.image.url)); C(available) counts available hosts whose spec
    has no image.
  - The action plugin of the same name prints one progress line per O(report_every) seconds on the controller
    (hosts per state, hosts per minute, ETA); the module itself polls for at most O(window) seconds per call.
  - When fewer than O(count) hosts of the set exist and none is added for O(stall_timeout) seconds, nothing is
    creating the rest - the wait fails then, naming how many exist, instead of at O(timeout).
  - On timeout it fails listing the hosts per state and the first hosts with an error (C(status.errorMessage)).
  - Never changes anything (C(changed=false)); in check mode it reports the current state once.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.attributes.wait
  - scalelab.capi.kube
  - scalelab.capi.stall
options:
  count:
    description: Hosts that must be in O(provisioning_state).
    type: int
    required: true
  interval:
    description:
      - Seconds between two polls; at least five times the last poll's duration, so polling a large set stays a
        small share of the API server's work.
    type: float
    default: 3.0
  name:
    description: Name of the host set (label C(scalelab.io/set)), as given to M(scalelab.capi.bmh_bulk).
    type: str
    required: true
  provisioning_state:
    description: Provisioning state to reach (C(status.provisioning.state)). The old name C(state) is an alias.
    type: str
    choices: [available, externally provisioned, provisioned, ready]
    default: available
    aliases: [state]
  report_every:
    description: Seconds between two progress lines (action plugin).
    type: float
    default: 15.0
  timeout:
    description: Seconds to wait in all before failing.
    type: float
    default: 1800.0
  window:
    description: Seconds one module call polls before it returns to the action plugin (internal pacing).
    type: float
    default: 15.0
requirements:
  - requests
  - PyYAML
"""

EXAMPLES = r"""
- name: Wait for 1000 hosts to be available
  scalelab.capi.bmh_wait:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: hosts
    count: 1000
    timeout: 3600

- name: Then for the first 100 to be provisioned
  scalelab.capi.bmh_wait:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: hosts
    provisioning_state: provisioned
    count: 100

- name: Wait for hosts an inventory import registers slowly (fail only after 5 minutes with none new)
  scalelab.capi.bmh_wait:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: hosts
    count: 1000
    stall_timeout: 300
"""

RETURN = r"""
reached:
  description: Hosts in O(provisioning_state).
  type: int
  returned: always
total:
  description: Hosts of the set found.
  type: int
  returned: always
states:
  description: Hosts per provisioning state (C(none) before BMO first saw them).
  type: dict
  returned: always
  sample: {available: 990, inspecting: 10}
errors:
  description: Up to 10 hosts with an error message, with their state and error type.
  type: list
  elements: dict
  returned: always
done:
  description: Whether O(count) hosts are in O(provisioning_state).
  type: bool
  returned: always
"""


from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils.kube import client as kube
from ansible_collections.scalelab.capi.plugins.module_utils.sets import host_ops, waiters

# Seconds between polls are at least this many times the last poll's duration.
POLL_COST_FACTOR = 5

ARGUMENT_SPEC = {
    **kube.KUBE_ARGUMENT_SPEC,
    "count": {"type": "int", "required": True},
    "interval": {"type": "float", "default": 3.0},
    "name": {"type": "str", "required": True},
    "provisioning_state": {
        "type": "str",
        "choices": ["available", "externally provisioned", "provisioned", "ready"],
        "default": "available",
        "aliases": ["state"],
    },
    "report_every": {"type": "float", "default": 15.0},
    **waiters.STALL_ARGUMENT_SPEC,
    "timeout": {"type": "float", "default": 1800.0},
    "window": {"type": "float", "default": 15.0},
}


def probe(client: kube.KubeClient, p: dict) -> dict:
    """One poll of the host set: hosts per state, `done` once O(count) are in O(provisioning_state)."""
    return host_ops.snapshot(client, p["name"], p["provisioning_state"], p["count"])


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    waiters.wait_module(module, {"count": 0}, probe, POLL_COST_FACTOR)


if __name__ == "__main__":
    main()
