#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: scale_results
short_description: Gather Cluster API creation-to-ready timelines into a JSON and Markdown scale report
version_added: 0.2.0
description:
  - Lists the Clusters, KubeadmControlPlanes, MachineDeployments and Machines of the management cluster (one
    paginated list per kind, every namespace, the preferred served version) and records for each object when it
    was created, when it became ready and when its main conditions turned C(True).
  - Ready is C(Available) for Clusters, KubeadmControlPlanes and MachineDeployments and C(Ready) for Machines in
    Cluster API v1beta2, C(Ready) for every kind in v1beta1; a Machine also needs C(status.nodeRef).
  - Per kind it reports the P50/P90/P99/max seconds to ready, the drift (mean of the first 10% created against
    the last 10%), the spread of each condition and the first objects that are not ready with their failing
    condition. A kind whose API group is not served is reported empty.
  - With O(merge), reads the reports of several management clusters instead (the sharded pattern,
    C(playbooks/scale.yml) with several hosts in group C(management)) and writes one report over all of them,
    percentiles and drift recomputed over every object from each report's per-object series (not averaged), counts
    summed, each management cluster's own summary under C(sources). Not-ready objects are named
    C(<management cluster>/<namespace>/<name>). Condition spreads and BMO operation durations stay in each report.
  - With O(runs_dir), every run is kept - C(<runs_dir>/<run id>/<name>.json) and C(.md), where C(<name>) is the
    last part of O(runs_dir) (the set) - with a C(latest) link to the newest run and an index of the runs,
    C(<runs_dir>/runs.jsonl), one JSON line each (id, started, ended, path, summary, machine, collection).
    M(scalelab.capi.scale_report) and M(scalelab.capi.scale_compare) take C(baseline=previous) from it.
  - A run is what one invocation wrote. A O(run_started) the index has not seen (the M(scalelab.capi.cluster_bulk)
    or M(scalelab.capi.bmh_bulk) RV(scalelab.capi.cluster_bulk#module:first_write)) opens a new run; an empty one
    gathers the newest run again, so a re-run that created nothing changes nothing.
  - A run's results that found every Cluster API object ready are final - gathering that run again keeps them (a
    fault since, such as an API server or a manager restarted, moves the objects' conditions and would re-time the
    run); results gathered before every object was ready are completed by the next gather.
  - The JSON is written only when its content differs (C(changed=false) on a re-run over a settled lab), through
    a temporary file and a rename, mode C(0644).
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.kube
attributes:
  check_mode:
    support: full
    details: Gathers, writes nothing, reports whether the files would change.
  diff_mode:
    support: full
    details: The summary before and after.
options:
  host_label_selector:
    description:
      - Label selector of the BareMetalHosts to report; empty uses O(label_selector). The metal3 scenario's hosts
        are a set of their own (C(scalelab.io/set=hosts)) beside the clusters' (C(scalelab.io/set=scale)).
    type: str
    default: ""
  kinds:
    description:
      - Kinds to report. With any Cluster API kind, Clusters are read too, for the summary and to select the others.
      - C(Metal3Machine) (CAPM3) reports when each got its host (C(AssociateBMH)) and its node (C(KubernetesNodeReady)).
      - C(BareMetalHost) reports hosts (selected by O(label_selector) themselves) from BMO's C(operationHistory),
        time from creation to available, provisioning time, each operation's duration, drift and hosts in error.
    type: list
    elements: str
    choices: [BareMetalHost, Cluster, KubeadmControlPlane, Machine, MachineDeployment, Metal3Machine]
    default: [Cluster, KubeadmControlPlane, MachineDeployment, Machine]
  kubeconfig:
    description:
      - Kubeconfig of the management cluster (files, merging and credentials as for the other modules). Required
        unless O(merge) is given; here no environment variable or C(~/.kube/config) stands in for it.
    type: path
    required: false
    default: null
  label_selector:
    description:
      - Label selector of the Clusters to report, for example C(scalelab.io/set=scale); empty reports every object.
      - Objects of the other kinds are those of the selected Clusters (label C(cluster.x-k8s.io/cluster-name),
        C(spec.clusterName) or an owner reference), since a ClusterClass does not copy the set label to them.
    type: str
    default: ""
  markdown_path:
    description: Markdown report to write as well; omitted writes none.
    type: path
  merge:
    description:
      - Management cluster name -> path of its report (JSON written by this module), merged instead of reading a
        cluster. Every report must hold per-object series (this module writes them since 0.5.0; the
        BareMetalHost provisioning series since 0.7.0).
      - Mutually exclusive with O(kubeconfig); O(kinds), O(label_selector) and O(metadata) do not apply.
    type: dict
  metadata:
    description: Free-form facts about the run (stack versions, tuning flags), copied into the JSON as C(run).
    type: dict
    default: {}
  page_size:
    description: Objects per list page (C(limit)); memory is bounded by one page.
    type: int
    default: 500
  path:
    description: The JSON report to write (created with its directory). One of O(path) and O(runs_dir) is required.
    type: path
  phase:
    description:
      - A lifecycle phase after creation, timed like creation (M(scalelab.capi.cluster_phase) marked when it touched
        each Cluster). Per Cluster, from that mark to when it is back in shape - for C(upgrade), every Machine it
        should have at O(phase.version) and ready, none at another version left; for C(rollout), every Machine it
        should have made after the mark and ready, none from before left; for C(scale_workers), as many
        Machines as its topology (a template Cluster - its KubeadmControlPlane and MachineDeployments) asks for with
        O(phase.replicas) per worker pool, all ready; the Cluster ready -
        with the same percentiles, drift (first 10% touched against the last) and not-ready list as creation; and the
        Machines the phase made, from creation to ready. O(kinds) and O(run_started) are not used.
      - C(delete) - per Cluster from its delete to gone, as M(scalelab.capi.cluster_bulk) with C(state=absent) saw
        them (O(phase.deleted), its RV(scalelab.capi.cluster_bulk#module:deletion) C(timed)) - the objects are gone,
        nothing is listed.
      - C(soak) - per Cluster from its mark to its last change after it (its own condition transitions and any
        Machine made since; C(0) when it held still), O(phase.seconds) the soak's length. The soak is the document's
        window plus M(scalelab.capi.prometheus_snapshot)'s O(scalelab.capi.prometheus_snapshot#module:tail) of
        O(phase.seconds), so the snapshot's memory and goroutine slopes per component are the soak's.
      - A scale down makes no Machine and leaves none to time; such a Cluster is back in shape at the newest
        transition of its own conditions after the mark (Cluster API v1beta2's C(ScalingDown)), or at the mark when
        none moved.
      - The document gets C(phase) and the report's title names it; its window runs from the first cluster touched
        to the last back in shape, so M(scalelab.capi.prometheus_snapshot) takes the phase's own metrics.
    type: dict
    suboptions:
      name:
        description: The phase.
        type: str
        choices: [upgrade, rollout, scale_workers, soak, delete]
        required: true
      deleted:
        description: C(delete) - the C(timed) list of M(scalelab.capi.cluster_bulk)'s
          RV(scalelab.capi.cluster_bulk#module:deletion), each Cluster's C(namespace), C(name), C(deleted) and
          C(gone) (RFC 3339; null while still there).
        type: list
        elements: dict
      replicas:
        description: The worker replicas per pool the scale went to (C(scale_workers)).
        type: int
      seconds:
        description: How long the soak held the set (C(soak)), in seconds.
        type: int
      version:
        description: The version the upgrade went to (C(upgrade)).
        type: str
  run_started:
    description:
      - When the run began (RFC 3339), normally the bulk modules' RV(scalelab.capi.cluster_bulk#module:first_write)
        (the earliest of them when a scenario ran several). Clusters and hosts created before it belong to
        earlier runs of the set - counted under C(earlier), not timed - and the run's window starts there, so
        growing a set from 20 to 100 clusters times the 80 new ones from the second run's first write.
      - Empty with O(runs_dir) gathers the newest kept run again (its own start); empty without it times every
        object of the set, its window starting at the first one created.
    type: str
    default: ""
  runs_dir:
    description:
      - The set's directory of runs (for example C(<lab dir>/results/<set>)); created when missing. The files go to
        the run's own directory, so O(path) and O(markdown_path) are not given with it.
    type: path
requirements:
  - requests
  - PyYAML
"""

EXAMPLES = r"""
- name: Report the clusters of the set "scale"
  scalelab.capi.scale_results:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    label_selector: scalelab.io/set=scale
    path: ~/.local/share/scalelab/scalelab/results/scale.json
    markdown_path: ~/.local/share/scalelab/scalelab/results/scale.md
    metadata:
      set: scale
      clusters: 200
  register: scale_report

- name: Keep each run of the set "scale" (results/scale/<run id>/, results/scale/latest, results/scale/runs.jsonl)
  scalelab.capi.scale_results:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    label_selector: scalelab.io/set=scale
    runs_dir: ~/.local/share/scalelab/scalelab/results/scale
    run_started: "{{ created.first_write }}"  # registered from scalelab.capi.cluster_bulk
    metadata:
      set: scale

- name: The upgrade of set "scale" to v1.35.5 (after scalelab.capi.cluster_phase), beside its creation's results
  scalelab.capi.scale_results:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    label_selector: scalelab.io/set=scale
    phase:
      name: upgrade
      version: v1.35.5
    path: ~/.local/share/scalelab/scalelab/results/scale/latest/upgrade-v1.35.5.json
    markdown_path: ~/.local/share/scalelab/scalelab/results/scale/latest/upgrade-v1.35.5.md

- name: Then its workers scaled to 2 per pool (phase scale_workers)
  scalelab.capi.scale_results:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    label_selector: scalelab.io/set=scale
    phase:
      name: scale_workers
      replicas: 2
    path: ~/.local/share/scalelab/scalelab/results/scale/latest/scale_workers-2.json

- name: Delete the set, measured per cluster (cluster_bulk saw each go)
  scalelab.capi.cluster_bulk:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    name: scale
    state: absent
  register: gone

- name: Its results, beside the creation run's
  scalelab.capi.scale_results:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    phase:
      name: delete
      deleted: "{{ gone.deletion.timed }}"
    path: ~/.local/share/scalelab/scalelab/results/scale/latest/delete.json

- name: Only Clusters and Machines, every object of the management cluster
  scalelab.capi.scale_results:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    kinds: [Cluster, Machine]
    path: /tmp/all.json

- name: The BareMetalHosts of the set "hosts" (time to available, provisioning, drift, hosts in error)
  scalelab.capi.scale_results:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    kinds: [BareMetalHost]
    label_selector: scalelab.io/set=hosts
    path: ~/.local/share/scalelab/scalelab/results/hosts.json
    markdown_path: ~/.local/share/scalelab/scalelab/results/hosts.md

- name: One report over two management clusters (scale.yml does this with several management hosts)
  scalelab.capi.scale_results:
    merge:
      mgmt-a: ~/.local/share/scalelab/merged/scale-mgmt-a.json
      mgmt-b: ~/.local/share/scalelab/merged/scale-mgmt-b.json
    path: ~/.local/share/scalelab/merged/scale.json
    markdown_path: ~/.local/share/scalelab/merged/scale.md
"""

RETURN = r"""
report:
  description: >-
    The JSON document: C(schema), C(run) (O(metadata) with C(started) and C(ended), the window; with O(runs_dir)
    also C(id) and C(machine) - hostname, cores, memory_bytes, load at the run's first gather), C(earlier) (with a
    run start: per kind the objects created before it, not timed), C(api_version) (kind to apiVersion, null when not
    served), C(sources) (with O(merge): per management cluster its run and summary), C(summary) (clusters,
    clusters_ready, cluster_p50/p90/p99/max_seconds, drift_pct) and C(kinds) (per
    kind count, ready, not_ready, time_to_ready, drift, conditions, first_created, last_ready, span_seconds and
    not_ready_objects, cut to the first 5 here). With C(BareMetalHost) the summary adds hosts, hosts_available,
    hosts_provisioned, host_available_p50/p90/p99/max_seconds, host_provision_p50/p99_seconds and host_drift_pct,
    and its kind entry holds states, available, provisioned, time_to_available, drift, provision, provision_drift,
    phases (per operation), stuck and stuck_objects (cut to 5 here).
  type: dict
  returned: always
  sample:
    summary: {clusters: 200, clusters_ready: 200, cluster_p50_seconds: 14.0, cluster_p90_seconds: 21.0,
              cluster_p99_seconds: 25.0, cluster_max_seconds: 26.0, drift_pct: 2.3}
path:
  description: The JSON report (with O(runs_dir), in the run's directory).
  type: str
  returned: always
run:
  description: >-
    With O(runs_dir) - the run written: C(id) (its start as C(YYYYmmddTHHMMSSZ) and four hex digits), C(dir),
    C(started) (empty when no O(run_started) was ever given) and C(new) (opened by this call).
  type: dict
  returned: when O(runs_dir) is set
  sample: {id: 20261205T170211Z-3fa9, dir: /root/.local/share/scalelab/scalelab/results/scale/20261205T170211Z-3fa9,
           started: "2026-12-05T17:02:11.482113Z", new: true}
markdown_path:
  description: The Markdown report; empty when O(markdown_path) is not set.
  type: str
  returned: always
seconds:
  description: Seconds spent gathering (listing and computing).
  type: float
  returned: always
window:
  description: >-
    The run's window (C(start), C(end); RFC 3339, empty when no object was created and became ready): the run's
    start (O(run_started)) or else the first object's creation, to the last one's ready or available time.
    M(scalelab.capi.prometheus_snapshot) and M(scalelab.capi.profile_top) read the same window from the results.
  type: dict
  returned: when O(merge) is not set
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.kube import client
from ansible_collections.scalelab.capi.plugins.module_utils.results import document, merge
from ansible_collections.scalelab.capi.plugins.module_utils.sets.phases import PHASES

ARGUMENT_SPEC = {
    **client.KUBE_ARGUMENT_SPEC,
    "kubeconfig": {"type": "path"},
    "kinds": {
        "type": "list",
        "elements": "str",
        "choices": ["BareMetalHost", "Cluster", "KubeadmControlPlane", "Machine", "MachineDeployment", "Metal3Machine"],
        "default": ["Cluster", "KubeadmControlPlane", "MachineDeployment", "Machine"],
    },
    "host_label_selector": {"type": "str", "default": ""},
    "label_selector": {"type": "str", "default": ""},
    "markdown_path": {"type": "path"},
    "merge": {"type": "dict"},
    "metadata": {"type": "dict", "default": {}},
    "page_size": {"type": "int", "default": 500},
    "path": {"type": "path"},
    "phase": {
        "type": "dict",
        "options": {
            "deleted": {"type": "list", "elements": "dict"},
            "name": {"type": "str", "choices": list(PHASES), "required": True},
            "replicas": {"type": "int"},
            "seconds": {"type": "int"},
            "version": {"type": "str"},
        },
    },
    "run_started": {"type": "str", "default": ""},
    "runs_dir": {"type": "path"},
}


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[
            ("kubeconfig", "merge"),
            ("path", "runs_dir"),
            ("markdown_path", "runs_dir"),
            ("merge", "runs_dir"),
            ("phase", "merge"),
            ("phase", "runs_dir"),
        ],
        required_one_of=[("kubeconfig", "merge"), ("path", "runs_dir")],
        supports_check_mode=True,
    )
    p = module.params
    if p["merge"] is None:
        client.require_libs(module)
    try:
        if p["merge"] is not None:
            changed, result, diff = merge.run(p, module.check_mode)
        else:
            changed, result, diff = document.run(p, module.check_mode)
    except (errors.ScalelabError, client.KubeError) as e:
        module.fail_json(msg=str(e))
    except (OSError, ValueError) as e:  # unreadable credentials in the kubeconfig
        module.fail_json(msg=f"kubeconfig={p['kubeconfig']}: {e}")
    if module._diff:
        result["diff"] = diff
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
