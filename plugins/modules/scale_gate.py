#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: scale_gate
short_description: Judge a scale run's results against SLO gates; fail with one line per broken gate
version_added: 0.5.0
description:
  - Reads the results JSON of a run (M(scalelab.capi.scale_results), with the M(scalelab.capi.prometheus_snapshot)
    section when present) and checks every gate of O(gates), metric name -> threshold.
  - Metrics are the run's summary (C(cluster_p99_seconds), C(drift_pct), C(clusters_ready_ratio), C(host_drift_pct),
    ...), C(objects_failed) (objects never ready plus hosts stuck), C(targets_down) and the snapshot's
    C(apiserver_mutating_p99_seconds_max), C(apiserver_429_rate_max), C(client_requests_429_rate_max),
    C(etcd_wal_fsync_p99_seconds_max), ... and per manager C(<metric>.<job>) (e.g.
    C(reconcile_p99_seconds_max.capi-control-plane)) with C(<metric>) the worst manager, and what one object
    cost (C(cpu_seconds_per_cluster), C(cpu_seconds_per_cluster.<job>), C(api_requests_per_cluster.<verb>),
    C(etcd_kib_per_cluster), C(cpu_seconds_per_cluster_hour), ...; C(_machine) and C(_host) alike).
  - A gate holds when the value is at most the threshold; for C(clusters_ready), C(clusters_ready_ratio),
    C(hosts_available) and C(hosts_provisioned) when it is at least the threshold. A metric the run did not measure
    breaks its gate.
  - Never changes anything. With O(fail) (the default) a broken gate fails the task with one line per broken gate.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.attributes.read_only
options:
  fail:
    description: Fail the task when a gate breaks; false only reports.
    type: bool
    default: true
  gates:
    description: Metric name -> threshold (a number).
    type: dict
    required: true
  path:
    description: The results JSON of the run.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Flat provisioning time, nothing failed, no 429s, control plane reconciles under 5 s
  scalelab.capi.scale_gate:
    path: ~/.local/share/scalelab/scalelab/results/scale.json
    gates:
      drift_pct: 5
      cluster_p99_seconds: 900
      objects_failed: 0
      apiserver_429_rate_max: 0
      reconcile_p99_seconds_max.capi-control-plane: 5
      clusters_ready_ratio: 1
"""

RETURN = r"""
gates:
  description: One entry per gate, sorted by name - gate, value (null when not measured), threshold, ok, reason.
  type: list
  elements: dict
  returned: always
  sample: [{gate: drift_pct, value: 2.3, threshold: 5, ok: true, reason: "drift_pct = 2.3 meets <= 5"}]
broken:
  description: The reasons of the broken gates.
  type: list
  elements: str
  returned: always
passed:
  description: Whether every gate holds.
  type: bool
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates
from ansible_collections.scalelab.capi.plugins.module_utils.results import document

ARGUMENT_SPEC = {
    "fail": {"type": "bool", "default": True},
    "gates": {"type": "dict", "required": True},
    "path": {"type": "path", "required": True},
}


def run(p: dict, check_mode: bool) -> tuple[bool, dict]:
    if not p["gates"]:
        raise gates.SloError("gates is empty: name at least one metric and its threshold")
    rows = gates.evaluate_gates(gates.metrics(document.load(p["path"], "path")), p["gates"])
    broken = [r["reason"] for r in rows if not r["ok"]]
    result = {"gates": rows, "broken": broken, "passed": not broken}
    if broken and p["fail"]:
        raise errors.ScalelabError(gates.broken_message(rows), result)
    return False, result


def main() -> None:
    errors.run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), run)


if __name__ == "__main__":
    main()
