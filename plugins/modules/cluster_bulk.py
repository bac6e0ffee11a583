#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_bulk
short_description: Create or delete N Cluster API clusters, rate-limited, concurrent, batched and resumable
version_added: 0.2.0
description:
  - Makes the clusters C(1..count) of a named set exist (O(state=present)) or removes every object of the set
    (O(state=absent)). Each cluster comes from a ClusterClass (O(topology)) or from a multi-document manifest
    (O(template)) with clusterctl-style C(${VARIABLES}).
  - Every object it creates is labelled C(scalelab.io/set=<name>) and C(scalelab.io/index=<i>). A run first lists
    what the set already has (one paginated list per kind), then creates only what is missing, so a re-run
    creates nothing (C(changed=false)) and a run interrupted half-way is resumed by running it again.
  - Before the first write the first missing cluster's objects are sent with C(dryRun=All), so a template the
    API or its webhooks refuse fails at once, before anything is created.
  - API calls share one client-side token bucket (O(qps), O(burst)) over O(concurrency) threads; 429 answers
    honour C(Retry-After), 5xx and connection errors are retried with backoff for O(retry_timeout) seconds.
  - O(state=absent) deletes the set's Clusters first, waits up to O(delete_timeout) for their finalizers
    (Cluster API deletes machines and infrastructure), then deletes the set's other objects and namespaces; a
    namespace where a Cluster or BareMetalHost of another set (or of none) lives stays (RV(namespaces_kept)).
  - A create answered 409 counts as there already only when the object carries the set's label; an object of
    another set or of none fails the run, named. A template that renders one name for two members is refused before
    any write.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.kube
  - scalelab.capi.bulk
attributes:
  check_mode:
    support: full
    details: Counts what would be created or deleted, writes nothing.
  diff_mode:
    support: full
    details: Cluster counts before and after.
options:
  delete_timeout:
    description: Seconds O(state=absent) waits for the set's objects to be gone (finalizers).
    type: float
    default: 900.0
  endpoint_pool:
    description:
      - Where the clusters' control-plane endpoints are served from, one entry per API server farm (role
        scalelab.capi.apiserver_farm publishes its entry as the fact C(apiserver_farm_endpoint_pool)).
      - Cluster i gets farm C((i-1) % n) and port C(port_min + (i-1) // n), fixed by its index, and the template
        reads them as C(${CONTROL_PLANE_HOST}) and C(${CONTROL_PLANE_PORT}). A count the pool cannot hold fails
        before anything is created.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: Address the farm serves (its apiserver_farm_host).
        type: str
        required: true
      port_max:
        description: Last port of the farm's range.
        type: int
        required: true
      port_min:
        description: First port of the farm's range.
        type: int
        required: true
  namespace:
    description: Namespace of the clusters (created and labelled when missing).
    type: str
    default: default
  namespace_per_cluster:
    description: Put each cluster in its own namespace named like the cluster (created, labelled, deleted with it).
    type: bool
    default: false
  state:
    description: C(present) creates what is missing; C(absent) deletes every object of the set.
    type: str
    choices: [absent, present]
    default: present
  template:
    description:
      - Multi-document YAML of one cluster's objects (a Cluster and what it references). C(${CLUSTER_NAME}),
        C(${NAMESPACE}) and C(${INDEX}) are set per cluster, others from O(variables). A placeholder that is a
        whole value takes the variable's type (C(replicas=${CP_COUNT}) stays a number).
      - clusterctl's defaults work as in its templates - C(${VAR:=default}) and C(${VAR:-default}) when VAR is not in
        O(variables) or empty, C(${VAR=default}) and C(${VAR-default}) only when it is not there; a default that is a
        whole value takes its YAML type (C(replicas=${CP_COUNT:=1}) is the number 1). A default cannot contain C(}).
      - Objects without a namespace get the cluster's.
    type: str
  topology:
    description: A Cluster of a ClusterClass; mutually exclusive with O(template).
    type: dict
    suboptions:
      class_name:
        description: Name of the ClusterClass.
        type: str
        required: true
      class_namespace:
        description: Namespace of the ClusterClass; empty is O(namespace). Cluster API v1beta1 needs the cluster's own.
        type: str
        default: ""
      control_plane_replicas:
        description: Control plane machines per cluster.
        type: int
        default: 1
      pod_cidr:
        description: Pod CIDR of each workload cluster.
        type: str
        default: 192.168.0.0/16
      service_cidr:
        description: Service CIDR of each workload cluster.
        type: str
        default: 10.128.0.0/12
      service_domain:
        description: Service domain of each workload cluster.
        type: str
        default: cluster.local
      version:
        description: Kubernetes version of the workload clusters, for example C(v1.35.4).
        type: str
        required: true
      worker_class:
        description: MachineDeployment class of the workers.
        type: str
        default: default-worker
      workers:
        description: Worker machines per cluster (one MachineDeployment C(md-0)).
        type: int
        default: 0
  variables:
    description: Values for the template's C(${VARIABLES}).
    type: dict
    default: {}
requirements:
  - requests
  - PyYAML
"""

EXAMPLES = r"""
- name: 200 in-memory clusters from our ClusterClass, 50 at a time
  scalelab.capi.cluster_bulk:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
    count: 200
    batch_size: 50
    batch_pause: 10
    topology:
      class_name: scalelab-in-memory
      version: v1.35.4

- name: Clusters from a manifest, one namespace each
  scalelab.capi.cluster_bulk:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: tmpl
    count: 10
    namespace_per_cluster: true
    template: "{{ lookup('ansible.builtin.file', 'cluster.yaml') }}"
    variables:
      KUBERNETES_VERSION: v1.35.4

- name: 50 Metal3 clusters whose API servers the farms serve (endpoints dealt over two farms)
  scalelab.capi.cluster_bulk:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: m3
    count: 50
    namespace: metal3
    template: "{{ lookup('ansible.builtin.file', 'metal3-cluster.yaml') }}"
    endpoint_pool:
      - {host: 10.0.0.11, port_min: 30000, port_max: 30999}
      - {host: 10.0.0.12, port_min: 30000, port_max: 30999}
    variables:
      KUBERNETES_VERSION: v1.29.0

- name: Delete the set and wait for Cluster API to finish
  scalelab.capi.cluster_bulk:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
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
    With O(state=absent), how long each Cluster took to go - from its delete's answer to the first poll that found it
    gone (the client's clock; polls ~2 s apart): C(objects) deleted, C(gone), C(seconds) (count, mean, p50, p90, p99,
    max), C(drift) (the first 10% deleted against the last), C(wall_seconds) (first delete to the last gone) and
    C(timed) (each one's C(namespace), C(name), C(deleted), C(gone) - RFC 3339, null while there - in deletion
    order, what M(scalelab.capi.scale_results) times a delete phase from).
  type: dict
  returned: when O(state=absent) deleted Clusters
  sample: {"objects": 200, "gone": 200, "seconds": {"count": 200, "p50": 21.0, "p99": 48.2, "max": 51.0},
           "drift": {"drift_pct": 12.5}, "wall_seconds": 63.4}
left:
  description: >-
    On a failed O(state=absent) - the set's objects (the first 20) still there when O(delete_timeout) passed, with
    their finalizers and what their controller says they wait for (Cluster API's Deleting condition, a
    BareMetalHost's provisioning state).
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
clusters:
  description: >-
    Clusters of the set after the run (present) or before it (absent), and how many this run created or
    deleted.
  type: dict
  returned: always
  sample: {wanted: 200, existing_before: 120, created: 80, deleted: 0}
objects:
  description: Objects created or deleted by this run.
  type: int
  returned: always
calls:
  description: >-
    The write calls of this run: count, outcomes, failures (first 20), per-call latency percentiles in ms, wall
    seconds, calls per second (the achieved rate) and retries by cause (status code or connection).
  type: dict
  returned: always
pacing:
  description:
    - With O(pacing=adaptive), how creation was paced - C(window) (the last), C(window_max), C(peak_in_flight),
      C(base_seconds) (the lowest time to ready of a cohort, the lab's own), and C(changes) (the last 50, each
      C(at) (epoch seconds), C(window) and the C(seconds_to_ready) that decided it).
  type: dict
  returned: when members were created with O(pacing=adaptive)
  sample: {mode: adaptive, window: 10, window_max: 16, peak_in_flight: 16, base_seconds: 41.0, changes: []}
clusters_per_second:
  description: Clusters created per second of the create phase (pauses between batches included).
  type: float
  returned: when clusters were created
api_version:
  description: The Cluster API version the clusters were written in.
  type: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.kube import client
from ansible_collections.scalelab.capi.plugins.module_utils.sets import cluster_ops
from ansible_collections.scalelab.capi.plugins.module_utils.sets import options as set_options

ARGUMENT_SPEC = {
    **client.KUBE_ARGUMENT_SPEC,
    **set_options.BULK_ARGUMENT_SPEC,
    "delete_timeout": {"type": "float", "default": 900.0},
    "endpoint_pool": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "host": {"type": "str", "required": True},
            "port_max": {"type": "int", "required": True},
            "port_min": {"type": "int", "required": True},
        },
    },
    "namespace": {"type": "str", "default": "default"},
    "namespace_per_cluster": {"type": "bool", "default": False},
    "state": {"type": "str", "choices": ["absent", "present"], "default": "present"},
    "template": {"type": "str"},
    "topology": {
        "type": "dict",
        "options": {
            "class_name": {"type": "str", "required": True},
            "class_namespace": {"type": "str", "default": ""},
            "control_plane_replicas": {"type": "int", "default": 1},
            "pod_cidr": {"type": "str", "default": "192.168.0.0/16"},
            "service_cidr": {"type": "str", "default": "10.128.0.0/12"},
            "service_domain": {"type": "str", "default": "cluster.local"},
            "version": {"type": "str", "required": True},
            "worker_class": {"type": "str", "default": "default-worker"},
            "workers": {"type": "int", "default": 0},
        },
    },
    "variables": {"type": "dict", "default": {}},
}


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("template", "topology")],
        required_if=[("state", "present", ("template", "topology"), True)],
        supports_check_mode=True,
    )
    client.require_libs(module)
    # A BulkFailed fails with the partial result it carries.
    errors.run_module(module, cluster_ops.run)


if __name__ == "__main__":
    main()
