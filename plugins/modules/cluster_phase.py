#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_phase
short_description: Change every cluster of a set after creation (upgrade, rollout, scale, soak), marking each
version_added: 0.8.0
description:
  - Lifecycle phases after creation, each measured like creation. O(phase=upgrade) sets the topology version of
    every Cluster labelled C(scalelab.io/set=<name>) to O(version); Cluster API then rolls the control plane and
    then the workers to it (new Machines, the old ones deleted). O(phase=scale_workers) sets the replicas of every
    worker pool (C(spec.topology.workers.machineDeployments)) of those Clusters to O(replicas); Cluster API then
    adds or removes worker Machines. O(phase=rollout) replaces every Machine with nothing else changed - the
    topology's C(controlPlane.rollout.after) and every worker pool's C(rollout.after) set to when it was written
    (what C(clusterctl alpha rollout restart) does to a KubeadmControlPlane or MachineDeployment), once per set;
    a ClusterClass set needs the Cluster API v1beta2 contract (the v1beta1 topology's C(rolloutAfter) does nothing,
    refused). O(phase=soak) changes
    nothing but the mark - the set is held as it is, and M(scalelab.capi.cluster_wait) with
    O(scalelab.capi.cluster_wait#module:soak) waits out the soak from the marks.
  - Each Cluster it changes gets the annotation C(scalelab.io/<phase>-started) (when the change was written, RFC 3339
    UTC with microseconds) and, once, what it was created with - C(scalelab.io/created-version) or
    C(scalelab.io/created-workers) - so a re-run of M(scalelab.capi.cluster_bulk) with the set's first shape still
    knows the set. M(scalelab.capi.scale_results) with O(scalelab.capi.scale_results#module:phase) times each
    cluster from that mark to when it is back in shape (all its Machines at the new version or made after the mark,
    or as many as its pools ask for, and ready); M(scalelab.capi.cluster_wait) with
    O(scalelab.capi.cluster_wait#module:version), O(scalelab.capi.cluster_wait#module:rollout) and
    O(scalelab.capi.cluster_wait#module:shape) waits for that.
  - A Cluster already as wanted is left alone, so a re-run changes nothing and an interrupted run resumes.
  - A set of template clusters (no C(spec.topology) - a KubeadmControlPlane and MachineDeployments made from a
    M(scalelab.capi.cluster_bulk) template, as the metal3 scenario's) changes in those objects instead -
    O(phase=upgrade) their C(spec.version) and C(spec.template.spec.version), O(phase=rollout) their
    C(spec.rolloutAfter) (v1beta1, where it works on them) or C(spec.rollout.after) (v1beta2),
    O(phase=scale_workers) the MachineDeployments' C(spec.replicas) - each object written before its Cluster's
    mark. Each changed object keeps the values it had in its annotation C(scalelab.io/created-shape), once. A
    template Cluster whose KubeadmControlPlane is missing is refused, naming it, before anything is written.
  - Writes share one client-side token bucket (O(qps), O(burst)) over O(concurrency) threads, in batches of
    O(batch_size) O(batch_pause) seconds apart (the upgrade's own pace, since Cluster API's rollouts start as each is
    written).
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.kube
attributes:
  check_mode:
    support: full
    details: Counts the clusters it would change, writes nothing.
  diff_mode:
    support: full
    details: Clusters per version (or per worker replicas, or rolled out or soaked or not) before and after.
options:
  batch_pause:
    description: Seconds between two batches.
    type: float
    default: 0.0
  batch_size:
    description: Clusters changed per batch; C(0) changes all of them in one batch.
    type: int
    default: 0
  burst:
    description: Token-bucket burst of the client-side rate limit; at least C(1).
    type: int
    default: 200
  concurrency:
    description: API calls in flight at once; at least C(1).
    type: int
    default: 16
  name:
    description: The set (label C(scalelab.io/set)) whose clusters change; it must have at least one.
    type: str
    required: true
  phase:
    description: What changes. C(upgrade) - the version (the topology's, or a template set's control plane and pools),
      to O(version). C(rollout) - nothing but every
      Machine (rollout.after). C(scale_workers) - the replicas of every worker pool, to O(replicas). C(soak) -
      nothing (the mark only; the phases are one table, module_utils/sets/phases.py).
    type: str
    choices: [upgrade, rollout, scale_workers, soak]
    default: upgrade
  qps:
    description: Client-side API calls per second across all threads; C(0) is unlimited.
    type: float
    default: 100.0
  replicas:
    description: The worker replicas of every pool (O(phase=scale_workers)), at least C(0); more adds Machines, fewer
      deletes them.
    type: int
  retry_timeout:
    description: Seconds one API call may keep retrying on 429, 5xx and connection errors.
    type: float
    default: 120.0
  version:
    description:
      - The Kubernetes version to upgrade to (O(phase=upgrade)), a release such as C(v1.35.5) (pre-releases such as
        C(v1.36.0-rc.1) too; anything else is refused before a Cluster is read). Cluster API's own rules apply (one
        minor version at a time; the control plane first).
    type: str
    default: ""
requirements:
  - requests
  - PyYAML
seealso:
  - module: scalelab.capi.cluster_wait
  - module: scalelab.capi.scale_results
"""

EXAMPLES = r"""
- name: Upgrade every cluster of set scale to v1.35.5, 50 every 30 s
  scalelab.capi.cluster_phase:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
    version: v1.35.5
    batch_size: 50
    batch_pause: 30
  register: upgrade

- name: Wait until every Machine is at the new version and ready
  scalelab.capi.cluster_wait:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
    count: 200
    machines: 200
    version: v1.35.5

- name: Replace every Machine of the set with nothing else changed (a rollout), 50 clusters every 30 s
  scalelab.capi.cluster_phase:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
    phase: rollout
    batch_size: 50
    batch_pause: 30

- name: Wait until every cluster's Machines were made after its rollout and are ready
  scalelab.capi.cluster_wait:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
    count: 200
    rollout: true
    shape: true

- name: Then give every cluster two workers per pool, and wait for exactly that many Machines
  scalelab.capi.cluster_phase:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
    phase: scale_workers
    replicas: 2

- name: Wait until every cluster has its control plane and two workers per pool, ready, and no more
  scalelab.capi.cluster_wait:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
    count: 200
    shape: true

- name: Upgrade a Metal3 set (template clusters - their KubeadmControlPlanes and MachineDeployments change)
  scalelab.capi.cluster_phase:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: m3
    version: v1.35.5
"""

RETURN = r"""
clusters:
  description: Clusters of the set (C(total)), changed by this run (C(changed); in check mode, would be), already as
    wanted (C(unchanged)).
  type: dict
  returned: success
  sample: {"total": 200, "changed": 200, "unchanged": 0}
calls:
  description: The writes - counts, outcomes, latency percentiles (ms), achieved rate, retries; empty when none.
  type: dict
  returned: success
first_write:
  description: When this run's first write began, RFC 3339 UTC with microseconds; empty when it wrote nothing.
  type: str
  returned: success
api_version:
  description: The Cluster API version the clusters were read and written in.
  type: str
  returned: success
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.kube import client
from ansible_collections.scalelab.capi.plugins.module_utils.sets import phase_ops
from ansible_collections.scalelab.capi.plugins.module_utils.sets.phases import CHANGES

ARGUMENT_SPEC = {
    **client.KUBE_ARGUMENT_SPEC,
    "batch_pause": {"type": "float", "default": 0.0},
    "batch_size": {"type": "int", "default": 0},
    "burst": {"type": "int", "default": 200},
    "concurrency": {"type": "int", "default": 16},
    "name": {"type": "str", "required": True},
    "phase": {"type": "str", "choices": list(CHANGES), "default": "upgrade"},
    "qps": {"type": "float", "default": 100.0},
    "replicas": {"type": "int"},
    "retry_timeout": {"type": "float", "default": 120.0},
    "version": {"type": "str", "default": ""},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    client.require_libs(module)
    errors.run_module(module, phase_ops.run)


if __name__ == "__main__":
    main()
