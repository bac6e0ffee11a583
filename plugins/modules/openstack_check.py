#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: openstack_check
short_description: Check an OpenStack project can hold a set of VMs before any is made
version_added: 0.7.0
description:
  - Connects to O(cloud) (clouds.yaml, or the C(OS_CLOUD) / C(OS_*) environment when empty) and authenticates.
  - Resolves O(image) and O(flavor) by name or ID.
  - Lists the servers O(owner) owns (metadata C(scalelab_owner=<owner>), names C(<owner>-NN)) and plans the
    difference to exactly O(count) of them - what the C(scalelab.capi.openstack_vms) role then creates and deletes.
  - Refuses, with one line naming the option and what is missing, a cloud that is not configured or refuses the
    credentials, an unknown image or flavor, and a count whose new servers do not fit the project's quota
    (instances, vCPUs, RAM).
  - Lists the owned servers with their status and address, so a role can poll it until they are C(ACTIVE).
  - Never changes anything.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.attributes.read_only
options:
  cloud:
    description: Name of the cloud in clouds.yaml; empty uses C(OS_CLOUD) or the C(OS_*) variables.
    type: str
    default: ""
  count:
    description: How many servers O(owner) should have.
    type: int
    required: true
  flavor:
    description: Flavor name or ID of the servers; checked against the quota. Required when O(count) > 0.
    type: str
    default: ""
  image:
    description: Image name or ID of the servers. Required when O(count) > 0.
    type: str
    default: ""
  owner:
    description: The owner name (the role's C(openstack_vms_name)) - prefix of every server name and the value of
      their C(scalelab_owner) metadata. Lowercase letters, digits and C(-), 1-40 characters.
    type: str
    required: true
requirements:
  - openstacksdk (the version the installed openstack.cloud collection supports; < 4.15 for openstack.cloud 2.5)
"""

EXAMPLES = r"""
- name: Is there room for 10 farm VMs?
  scalelab.capi.openstack_check:
    cloud: mycloud
    owner: scalelab-farm
    count: 10
    image: debian-12
    flavor: m1.large
  register: pre

- name: What would change
  ansible.builtin.debug:
    msg: "create {{ pre.plan.create }}, delete {{ pre.plan.delete }}"
"""

RETURN = r"""
image:
  description: The image found - id, name (empty when O(image) is not given).
  type: dict
  returned: success
flavor:
  description: The flavor found - id, name, vcpus, ram (MiB) (empty when O(flavor) is not given).
  type: dict
  returned: success
servers:
  description: The servers O(owner) owns now - name, id, status, address (first floating IP, else first fixed
    address, else empty) and fault (the error message of a server in C(ERROR)).
  type: list
  elements: dict
  returned: success
  sample: [{name: farm-01, id: 9c1d..., status: ACTIVE, address: 10.250.0.12, fault: ""}]
plan:
  description: Server names to C(create), to C(delete) (beyond O(count)) and to C(keep).
  type: dict
  returned: success
  sample: {create: [farm-03], delete: [], keep: [farm-01, farm-02]}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.lab import openstack

ARGUMENT_SPEC = {
    "cloud": {"type": "str", "default": ""},
    "count": {"type": "int", "required": True},
    "flavor": {"type": "str", "default": ""},
    "image": {"type": "str", "default": ""},
    "owner": {"type": "str", "required": True},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    missing = "" if openstack.HAS_OPENSTACKSDK else "openstacksdk"
    errors.run_module(module, lambda p, check_mode: (False, openstack.run(p)), missing)


if __name__ == "__main__":
    main()
