#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_wait
short_description: Wait until the clusters of a set are ready, printing a progress line (ready/total, rate, ETA)
version_added: 0.2.0
description:
  - Polls the Clusters labelled C(scalelab.io/set=<name>) and their Machines (paginated lists, no per-object GET)
    until O(count) Clusters are ready (C(Available) in Cluster API v1beta2, C(Ready) in v1beta1) and O(machines)
    Machines are ready (condition C(Ready) and a C(nodeRef), as M(scalelab.capi.scale_results) counts them), or
    O(timeout) passes. A Machine gets its C(nodeRef) before its C(Ready) condition; waiting for the latter lets the
    report be gathered from a settled set.
  - The action plugin of the same name prints one progress line per O(report_every) seconds on the controller
    (ready/total, clusters per minute, ETA); the module itself polls for at most O(window) seconds per call.
  - When fewer than O(count) Clusters of the set exist and none is added for O(stall_timeout) seconds, nothing is
    creating the rest - the wait fails then, naming how many exist, instead of at O(timeout).
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
    description: Clusters that must be ready.
    type: int
    required: true
  interval:
    description: Seconds between two polls.
    type: float
    default: 5.0
  machines:
    description: Machines of the set's clusters that must be ready (condition C(Ready) and a nodeRef); C(0) does not
      check Machines.
    type: int
    default: 0
  name:
    description: Name of the set (label C(scalelab.io/set)), as given to M(scalelab.capi.cluster_bulk).
    type: str
    required: true
  report_every:
    description: Seconds between two progress lines (action plugin).
    type: float
    default: 15.0
  rollout:
    description:
      - After a rollout (M(scalelab.capi.cluster_phase) with O(scalelab.capi.cluster_phase#module:phase=rollout)) - a
        Cluster counts as ready once it carries the mark C(scalelab.io/rollout-started), a Machine only if it was made
        in or after its Cluster's mark's second, and the wait is not done while any Machine made before is left
        (RV(machines_before_rollout)). Looks again like O(version).
    type: bool
    default: false
  shape:
    description:
      - Wait for every cluster's own shape too - the Machines its shape asks for (control plane replicas and every
        worker pool's replicas, RV(machines_wanted); a ClusterClass Cluster's topology, a template Cluster's
        KubeadmControlPlane and MachineDeployments), all ready, and no more Machines than that
        (RV(machines_total)), so after a scale down (M(scalelab.capi.cluster_phase) with
        O(scalelab.capi.cluster_phase#module:phase=scale_workers)) the wait ends once the removed Machines are gone.
        O(machines) stays a floor.
    type: bool
    default: false
  soak:
    description:
      - After a soak's marks (M(scalelab.capi.cluster_phase) with O(scalelab.capi.cluster_phase#module:phase=soak)) -
        the soak's length in seconds. The wait is not done until that long after the first Cluster's mark
        C(scalelab.io/soak-started) (the whole of it while a Cluster is not marked; RV(soak_left)), the set in shape
        as with O(shape) at the end. Set O(interval) long (say C(30)) - each look lists the set, and a soak should ask
        little of the API server. O(timeout) must cover the soak.
    type: int
    default: 0
  timeout:
    description: Seconds to wait in all before failing with the clusters that are not ready and their conditions.
    type: float
    default: 1800.0
  version:
    description:
      - After an upgrade (M(scalelab.capi.cluster_phase)) - the version it went to. A Cluster counts as ready once
        its topology (a template Cluster - its KubeadmControlPlane and MachineDeployments) is at this version, a
        Machine only at this version, and the wait is not done while any Machine at another version is left
        (RV(machines_other_version)) or any MachineDeployment of the set's clusters is not at it yet
        (RV(pools_not_at_version); a topology bumps the worker pools after the control plane, even those with no
        replica).
      - With O(version), O(rollout), O(shape) or O(soak), a wait that finds the set done looks again O(interval)
        seconds later and is done only if that look agrees (a Cluster's Available condition drops for a second as its
        worker pools are bumped).
    type: str
    default: ""
  window:
    description: Seconds one module call polls before it returns to the action plugin (internal pacing).
    type: float
    default: 15.0
requirements:
  - requests
  - PyYAML
"""

EXAMPLES = r"""
- name: Wait for 200 clusters and their 200 control-plane Machines
  scalelab.capi.cluster_wait:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
    count: 200
    machines: 200
    timeout: 3600

- name: After an upgrade, wait until every Machine was replaced by one at the new version
  scalelab.capi.cluster_wait:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
    count: 200
    machines: 200
    version: v1.35.5

- name: Hold the set for 30 minutes after cluster_phase phase=soak marked it, looking every 30 s
  scalelab.capi.cluster_wait:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
    count: 200
    shape: true
    soak: 1800
    interval: 30
    timeout: 3600

- name: Wait for a set another job creates at one cluster per 5 minutes (fail only after 10 minutes with none new)
  scalelab.capi.cluster_wait:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
    count: 50
    stall_timeout: 600
    timeout: 18000
"""

RETURN = r"""
ready:
  description: Clusters ready.
  type: int
  returned: always
total:
  description: Clusters of the set found.
  type: int
  returned: always
machines_with_node:
  description: Machines of the set's clusters with a nodeRef.
  type: int
  returned: always
machines_ready:
  description: Machines of the set's clusters ready (condition C(Ready) and a nodeRef).
  type: int
  returned: always
done:
  description: Whether O(count) clusters and O(machines) Machines are ready.
  type: bool
  returned: always
machines_other_version:
  description: With O(version) - Machines of the set's clusters at another version (not yet replaced).
  type: int
  returned: when O(version) is set
pools_not_at_version:
  description: With O(version) - MachineDeployments of the set's clusters not at it, or not yet seen so by their
    controller.
  type: int
  returned: when O(version) is set
in_shape:
  description: After a phase (O(version), O(shape), O(rollout) or O(soak)) - clusters back in shape, each ready as
    the phase wants it with as many of the phase's Machines ready as its shape asks for and none left over (from
    before the phase, or removed and not gone yet). The progress line counts these, and its rate and ETA are theirs.
  type: int
  returned: when O(version), O(shape), O(rollout) or O(soak) is set
soak_left:
  description: With O(soak) - seconds of the soak still to hold, from the first Cluster's mark.
  type: float
  returned: when O(soak) is set
machines_before_rollout:
  description: With O(rollout) - Machines of the set's clusters made before their Cluster's rollout mark (not yet
    replaced).
  type: int
  returned: when O(rollout) is true
machines_wanted:
  description: With O(shape) - the Machines the set's Clusters ask for (their topologies, or a template set's
    KubeadmControlPlanes and MachineDeployments).
  type: int
  returned: when O(shape) is true
machines_total:
  description: With O(shape) - every Machine of the set's clusters, ready or not, those being deleted too.
  type: int
  returned: when O(shape) is true
not_ready:
  description: Up to 10 clusters not ready, with their failing condition.
  type: list
  elements: dict
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils.kube import client as kube
from ansible_collections.scalelab.capi.plugins.module_utils.sets import waiters

ARGUMENT_SPEC = {
    **kube.KUBE_ARGUMENT_SPEC,
    "count": {"type": "int", "required": True},
    "interval": {"type": "float", "default": 5.0},
    "machines": {"type": "int", "default": 0},
    "name": {"type": "str", "required": True},
    "report_every": {"type": "float", "default": 15.0},
    "rollout": {"type": "bool", "default": False},
    "shape": {"type": "bool", "default": False},
    "soak": {"type": "int", "default": 0},
    **waiters.STALL_ARGUMENT_SPEC,
    "timeout": {"type": "float", "default": 1800.0},
    "version": {"type": "str", "default": ""},
    "window": {"type": "float", "default": 15.0},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    waiters.wait_module(module, {"count": 0, "machines": 0}, waiters.probe_clusters)


if __name__ == "__main__":
    main()
