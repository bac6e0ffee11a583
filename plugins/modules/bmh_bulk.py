#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: bmh_bulk
short_description: Create, provision or delete N BareMetalHosts and their BMC Secrets, rate-limited and resumable
version_added: 0.3.0
description:
  - Makes the hosts C(1..count) of a named set exist (O(state=present)). Each host is a BMC credential Secret
    C(<host>-bmc-secret) and a BareMetalHost with a boot MAC address and a BMC address derived from its index
    alone (O(mac_prefix), O(bmc_network), O(bmc_address_pattern)), so re-runs render the same hosts and no two
    collide. Meant for the Bare Metal Operator in test mode, where no BMC is ever contacted.
  - Every object is labelled C(scalelab.io/set=<name>) and C(scalelab.io/index=<i>) (plus O(labels), for
    CAPM3 host selectors). A run lists what the set has (one paginated list per kind) and writes only what is
    missing, so a re-run changes nothing and an interrupted run is resumed by running it again.
  - O(provisioned=K) makes the first K hosts (by index) carry O(image), which makes BMO provision them, and
    removes the image from the others (BMO deprovisions them); unset leaves images as they are. Images are
    removed (or replaced) first and set only once no host of the set is deprovisioning (waiting up to
    O(delete_timeout)), because the Bare Metal Operator's test mode (v0.6.0) keeps one fixture state for all
    hosts, so a host provisioning while another deprovisions would keep both from ever finishing.
  - Before the first write the first missing host's objects are sent with C(dryRun=All), so objects the API
    refuses fail at once. API calls share one token bucket (O(qps), O(burst)) over O(concurrency) threads;
    429 answers honour C(Retry-After), 5xx and connection errors are retried for O(retry_timeout) seconds.
  - O(state=absent) deletes the set's hosts, waits up to O(delete_timeout) for BMO to deprovision them and
    remove its finalizer, then deletes the Secrets and the namespace if the set created it and nothing else lives
    there (a Cluster or BareMetalHost of another set or of none keeps it, see RV(namespaces_kept)).
  - With O(wait) the action plugin then waits for hosts to reach a state, printing a progress line (hosts per
    state, hosts per minute, ETA), like M(scalelab.capi.bmh_wait).
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.kube
  - scalelab.capi.bulk
attributes:
  check_mode:
    support: full
    details: Lists what exists, writes nothing, reports what would change.
  diff_mode:
    support: full
    details: Hosts and hosts with an image, before and after.
options:
  bmc_address_pattern:
    description:
      - BMC address of each host, a Python format string with the fields C({ip}) (address number C(index) of
        O(bmc_network)), C({index}) and C({name}). Must give a different address to every host.
      - Test mode never contacts it, but BMO parses it (the driver prefix must be one BMO knows).
    type: str
    default: "ipmi://{ip}:623"
  bmc_network:
    description: Network whose addresses C(1..count) are the hosts' C({ip}).
    type: str
    default: 10.200.0.0/16
  bmc_password:
    description: Password written to every host's BMC Secret. Never logged or returned.
    type: str
    default: password
  bmc_username:
    description: >-
      Username written to every host's BMC Secret; not masked in output (O(bmc_password) is), else Ansible would
      mask every occurrence of it.
    type: str
    default: admin
  delete_timeout:
    description: Seconds O(state=absent) waits for the hosts (deprovisioning, finalizers) and Secrets to go.
    type: float
    default: 900.0
  host_spec:
    description:
      - Extra BareMetalHost C(spec) fields for every host, for example C(bootMode=UEFI) or
        C(automatedCleaningMode=disabled) (see the examples).
      - C(bmc), C(bootMACAddress), C(online) and C(image) are set by the module.
    type: dict
    default: {}
  image:
    description: The image O(provisioned) hosts get (BareMetalHost C(spec.image)).
    type: dict
    suboptions:
      checksum:
        description: Checksum of the image, or the URL of a checksum file.
        type: str
      checksum_type:
        description: Checksum algorithm; C(auto) detects it from the checksum.
        type: str
        choices: [auto, md5, sha256, sha512]
        default: auto
      disk_format:
        description: Disk format of the image.
        type: str
        choices: [live-iso, qcow2, raw, vdi, vmdk]
      url:
        description: Where the image is downloaded from (never fetched in test mode).
        type: str
        required: true
  mac_prefix:
    description:
      - First three octets of every boot MAC address; the index fills the other three. Use a different prefix
        per set when sets share a management cluster. Must be unicast (lowest bit of the first octet clear).
    type: str
    default: "02:5c:a1"
  namespace:
    description: Namespace of the hosts and Secrets (created, and removed by O(state=absent), when missing).
    type: str
    default: metal3
  online:
    description: C(spec.online) of every host (powered on).
    type: bool
    default: true
  provisioned:
    description:
      - How many hosts (the lowest indexes) carry O(image); the others have none. Unset leaves images alone.
    type: int
  state:
    description: C(present) creates (and provisions) the set; C(absent) deletes it.
    type: str
    choices: [absent, present]
    default: present
  wait:
    description:
      - After a successful O(state=present) run, wait for hosts to reach a state (action plugin; not in check mode).
    type: dict
    suboptions:
      count:
        description:
          - Hosts that must reach O(wait.provisioning_state). Default O(count) minus O(provisioned) for C(available),
            O(provisioned) for C(provisioned).
        type: int
      provisioning_state:
        description: Provisioning state to reach. The old name C(state) is an alias.
        type: str
        choices: [available, provisioned]
        default: available
        aliases: [state]
      report_every:
        description: Seconds between two progress lines.
        type: float
        default: 15.0
      timeout:
        description: Seconds to wait before failing with the hosts per state and the first errors.
        type: float
        default: 1800.0
notes:
  - Webhooks of the Bare Metal Operator are off in scalelab labs; with them on, O(host_spec) and the BMC address
    are validated by the dry run before any write.
requirements:
  - requests
  - PyYAML
seealso:
  - module: scalelab.capi.bmh_wait
  - module: scalelab.capi.scale_results
"""

EXAMPLES = r"""
- name: 1000 hosts in namespace metal3, waiting until all are available
  scalelab.capi.bmh_bulk:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: hosts
    count: 1000
    concurrency: 32
    qps: 200
    wait:
      provisioning_state: available
      timeout: 3600

- name: Provision the first 100 (BMO writes the image), then wait for them
  scalelab.capi.bmh_bulk:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: hosts
    count: 1000
    provisioned: 100
    image:
      url: http://172.22.0.1/images/CENTOS_9_NODE_IMAGE_K8S_v1.29.0.qcow2
      checksum: http://172.22.0.1/images/CENTOS_9_NODE_IMAGE_K8S_v1.29.0.qcow2.sha256sum
      checksum_type: sha256
      disk_format: qcow2
    wait:
      provisioning_state: provisioned

- name: Redfish hosts on one emulator, one system per index, for a CAPM3 host selector
  scalelab.capi.bmh_bulk:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: workers
    count: 50
    mac_prefix: "02:5c:a2"
    bmc_address_pattern: "redfish+http://192.168.111.1:8000/redfish/v1/Systems/{index}"
    host_spec:
      bootMode: UEFI
      automatedCleaningMode: disabled
    labels:
      scalelab.io/role: worker

- name: Delete the set (BMO deprovisions the provisioned hosts first)
  scalelab.capi.bmh_bulk:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: hosts
    state: absent
"""

RETURN = r"""
first_write:
  description: >-
    When this run's first write (create, patch or delete) began, RFC 3339 UTC with microseconds; empty when it
    wrote nothing. M(scalelab.capi.scale_results) takes it as O(scalelab.capi.scale_results#module:run_started):
    a run's window starts at its own first write, not at the set's oldest object.
  type: str
  returned: always
  sample: "2026-12-05T17:02:11.482113Z"
deletion:
  description: >-
    With O(state=absent), how long each BareMetalHost took to go - from its delete's answer to the first poll that
    found it gone (the client's clock; polls ~2 s apart): C(objects) deleted, C(gone), C(seconds) (count, mean, p50,
    p90, p99, max), C(drift) (the first 10% deleted against the last), C(wall_seconds) (first delete to the last
    gone) and C(timed) (each one's C(namespace), C(name), C(deleted), C(gone) - RFC 3339, null while there - in
    deletion order).
  type: dict
  returned: when O(state=absent) deleted BareMetalHosts
  sample: {"objects": 200, "gone": 200, "seconds": {"count": 200, "p50": 21.0, "p99": 48.2, "max": 51.0},
           "drift": {"drift_pct": 12.5}, "wall_seconds": 63.4}
left:
  description: >-
    On a failed O(state=absent) - the set's objects (the first 20) still there when O(delete_timeout) passed, with
    their finalizers and what their controller says they wait for (Cluster API's Deleting condition, a
    BareMetalHost's provisioning state). Names only when hosts giving their image up were still deprovisioning.
  type: list
  elements: raw
  returned: when objects were left after O(delete_timeout)
  sample: [{name: scale-0001, namespace: default, finalizers: [cluster.cluster.x-k8s.io],
            waiting_for: "WaitingForControlPlaneDeletion: * Control plane Machines: scale-0001-abcde"}]
namespaces_kept:
  description: >-
    O(state=absent) - namespaces labelled with the set that were not deleted because something else lives there
    (a Cluster or BareMetalHost of another set or of no set), each with the first five such objects.
  type: list
  elements: dict
  returned: when a namespace of the set was kept
  sample: [{name: metal3, because: ["Cluster scale-0001 (scale)"]}]
hosts:
  description: Hosts wanted, there before the run, created, given or stripped of their image, and deleted.
  type: dict
  returned: always
  sample: {wanted: 1000, existing_before: 400, created: 600, image_set: 0, image_removed: 0, deleted: 0}
objects:
  description: Objects (Secrets, hosts, namespace) written or deleted.
  type: int
  returned: always
calls:
  description: API calls of the bulk phase, their outcomes, latency percentiles (ms), rate and retries.
  type: dict
  returned: when something was written
pacing:
  description:
    - With O(pacing=adaptive), how creation was paced - C(window) (the last), C(window_max), C(peak_in_flight),
      C(base_seconds) (the lowest time to ready of a cohort, the lab's own), and C(changes) (the last 50, each
      C(at) (epoch seconds), C(window) and the C(seconds_to_ready) that decided it).
  type: dict
  returned: when members were created with O(pacing=adaptive)
  sample: {mode: adaptive, window: 10, window_max: 16, peak_in_flight: 16, base_seconds: 41.0, changes: []}
hosts_per_second:
  description: Hosts created per second (each a Secret and a BareMetalHost).
  type: float
  returned: when hosts were created
wait:
  description: The last poll of the wait (hosts per state, reached, errors, seconds), with O(wait).
  type: dict
  returned: when O(wait) was given
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.kube import client
from ansible_collections.scalelab.capi.plugins.module_utils.sets import host_ops
from ansible_collections.scalelab.capi.plugins.module_utils.sets import options as set_options

ARGUMENT_SPEC = {
    **client.KUBE_ARGUMENT_SPEC,
    **set_options.BULK_ARGUMENT_SPEC,
    "bmc_address_pattern": {"type": "str", "default": "ipmi://{ip}:623"},
    "bmc_network": {"type": "str", "default": "10.200.0.0/16"},
    "bmc_password": {"type": "str", "default": "password", "no_log": True},
    "bmc_username": {"type": "str", "default": "admin", "no_log": False},
    "delete_timeout": {"type": "float", "default": 900.0},
    "host_spec": {"type": "dict", "default": {}},
    "image": {
        "type": "dict",
        "options": {
            "checksum": {"type": "str"},
            "checksum_type": {"type": "str", "choices": ["auto", "md5", "sha256", "sha512"], "default": "auto"},
            "disk_format": {"type": "str", "choices": ["live-iso", "qcow2", "raw", "vdi", "vmdk"]},
            "url": {"type": "str", "required": True},
        },
    },
    "mac_prefix": {"type": "str", "default": "02:5c:a1"},
    "namespace": {"type": "str", "default": "metal3"},
    "online": {"type": "bool", "default": True},
    "provisioned": {"type": "int"},
    "state": {"type": "str", "choices": ["absent", "present"], "default": "present"},
    "wait": {
        "type": "dict",
        "options": {
            "count": {"type": "int"},
            "provisioning_state": {
                "type": "str",
                "choices": ["available", "provisioned"],
                "default": "available",
                "aliases": ["state"],
            },
            "report_every": {"type": "float", "default": 15.0},
            "timeout": {"type": "float", "default": 1800.0},
        },
    },
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    client.require_libs(module)
    # A BulkFailed fails with the partial result it carries.
    errors.run_module(module, host_ops.run)


if __name__ == "__main__":
    main()
