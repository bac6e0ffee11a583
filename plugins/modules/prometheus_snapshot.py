#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: prometheus_snapshot
short_description: Keep a run's Prometheus metrics in its results JSON (statistics and downsampled points)
version_added: 0.5.0
description:
  - Range-queries a set of PromQL expressions over the run's window (O(start) to O(end)) and writes, under O(key)
    of the JSON file O(path), per query and per series its labels, min/avg/max/P50/P99/last and at most
    O(max_points) points, plus a C(summary) per manager (peak CPU cores and RSS, worst reconcile P99, deepest work
    queue) and run-wide API server and etcd peaks. A report made from it needs no live Prometheus.
  - The default queries are the recording rules of the C(scalelab.capi.observability) role (reconcile P99 and
    errors, work-queue depth and latency, client-side 429s and throttling, API server P99, 5xx and 429s, etcd size
    and fsync P99, objects per resource, CPU and memory per process, C(up)).
  - The queries cover O(tail) seconds past O(end) too, since a one-minute rate evaluated a minute after the run's last
    event still counts it (and a short run would otherwise have no rate point that saw its burst).
  - Waits until O(settle) seconds have passed since O(end) + O(tail) so that the last scrapes have landed; the same
    window then gives the same snapshot, and a second run changes nothing.
  - A query Prometheus refuses is kept with its C(error) (the others are still taken); an unreachable Prometheus
    fails the task.
  - Other keys of O(path) are kept (M(scalelab.capi.scale_results) writes the rest of the document, and keeps this
    key when it rewrites it).
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.window
attributes:
  check_mode:
    support: full
    details: Queries Prometheus; writes nothing and reports whether O(path) would change.
  diff_mode:
    support: none
options:
  default_queries:
    description: Take the default queries; O(queries) adds to them (and replaces one of the same name).
    type: bool
    default: true
  key:
    description: Top-level key of O(path) to write.
    type: str
    default: prometheus
  max_points:
    description: Points kept per series (evenly picked; statistics use every point).
    type: int
    default: 120
  queries:
    description: More queries, name -> PromQL expression.
    type: dict
    default: {}
  settle:
    description: Seconds that must have passed since O(end) + O(tail) before querying.
    type: float
    default: 30
  step:
    description: Query resolution in seconds; 0 picks the window over O(max_points), at least 1 s.
    type: float
    default: 0
  tail:
    description: Seconds past O(end) the queries also cover (the rate window of the recording rules, one minute,
      sees everything up to O(end) only when evaluated up to a minute later); the summary's peaks include it.
    type: float
    default: 0
  timeout:
    description: Seconds one request (with its retries) may take.
    type: float
    default: 60
  url:
    description: Base URL of Prometheus (the fact C(observability_prometheus_url) of the observability role).
    type: str
    required: true
requirements: [requests]
"""

EXAMPLES = r"""
- name: Keep the run's metrics with its results
  scalelab.capi.prometheus_snapshot:
    url: "{{ observability_prometheus_url }}"
    path: ~/.local/share/scalelab/scalelab/results/scale.json  # the run's window is read from it

- name: Only two queries of ours, at 15 s resolution, into a file of their own
  scalelab.capi.prometheus_snapshot:
    url: http://127.0.0.1:9490
    start: "2026-11-27T10:00:00Z"
    end: "2026-11-27T10:30:00Z"
    step: 15
    tail: 60
    default_queries: false
    queries:
      etcd_db_mib: max(etcd_mvcc_db_total_size_in_bytes) / 2^20
      kcp_cpu: scalelab:process_cpu_cores{job="capi-control-plane"}
    path: /tmp/metrics.json
"""

RETURN = r"""
summary:
  description: Per manager (job) cpu_cores_max/avg, rss_mib_max, reconcile_p99_seconds_max, workqueue_depth_max,
    restarts (new process start times seen in the window); run-wide apiserver_mutating_p99_seconds_max,
    apiserver_5xx_ratio_max, apiserver_429_rate_max, client_requests_429_rate_max,
    etcd_db_size_bytes_max, etcd_wal_fsync_p99_seconds_max and targets_down (jobs whose C(up) was ever 0).
    C(cost) is what one object cost - the window's CPU-seconds per job, memory growth per job, API requests per verb
    and etcd growth, divided by the Clusters, Machines and BareMetalHosts the results at O(path) say the run created
    (C(per.cluster), C(per.machine), C(per.host)) - and, when O(tail) holds two minutes or more of steady state (from
    a minute after O(end), less a step; C(steady_seconds) long), CPU-seconds and API requests per object-hour at
    steady state. A shorter tail gives none - its minute is when the playbook itself lists the set and snapshots
    Prometheus. C(totals) holds the undivided sums. C(controllers) is, per
    C(<job>/<controller>) that handled at least 5 items over the run (and the minute after it), the mean seconds an
    item waited in the work queue, the mean seconds of one reconcile, the workers busy on average, the
    controller's workers and their share busy (C(utilization)). C(soak), when O(tail) holds two minutes or more of
    steady state (from a minute after O(end)), is per job the slope of resident memory (C(rss_mib_per_hour)) and of
    goroutines (C(goroutines_per_hour)) with their standard errors, from a least-squares line (a leak at rest).
  type: dict
  returned: always
  sample:
    managers: {capi-control-plane: {cpu_cores_max: 0.41, rss_mib_max: 88.2, reconcile_p99_seconds_max: 0.09}}
    targets_down: []
    cost:
      totals: {seconds: 412.0, cpu_seconds: {total: 301.2, capi-core: 88.1}}
      steady_seconds: 135
      per: {cluster: {objects: 30, cpu_seconds: {total: 10.04, capi-core: 2.94}, rss_mib: {total: 3.1},
                      api_requests: {total: 310.5, POST: 21.4}, etcd_kib: 88.2,
                      steady_cpu_seconds_per_hour: {total: 41.0}, steady_api_requests_per_hour: {total: 620.0}}}
    controllers:
      capi-core/cluster: {items: 912, queue_wait_seconds: 4.2, reconcile_seconds: 0.031, busy_workers: 0.41,
                          workers: 10, utilization: 0.041}
    soak:
      seconds: 1740.0
      jobs: {capi-core: {rss_mib_per_hour: 1.9, rss_mib_per_hour_se: 0.8, goroutines_per_hour: 0.0,
                         goroutines_per_hour_se: 0.1}}
queries:
  description: Per query name its series count and error (null when it answered).
  type: dict
  returned: always
  sample: {reconcile_p99_seconds: {series: 14, error: null}}
window:
  description: start, end, tail and step (unix seconds) of the snapshot.
  type: dict
  returned: always
"""

import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.observe import cost, prometheus, queues, soak
from ansible_collections.scalelab.capi.plugins.module_utils.results import document

ARGUMENT_SPEC = {
    **prometheus.WINDOW_ARGUMENT_SPEC,
    "default_queries": {"type": "bool", "default": True},
    "key": {"type": "str", "default": "prometheus", "no_log": False},
    "max_points": {"type": "int", "default": 120},
    "queries": {"type": "dict", "default": {}},
    "settle": {"type": "float", "default": 30},
    "step": {"type": "float", "default": 0},
    "tail": {"type": "float", "default": 0},
    "timeout": {"type": "float", "default": 60},
    "url": {"type": "str", "required": True},
}


def run(p: dict, check_mode: bool) -> tuple[bool, dict]:
    if not re.match(r"^https?://[^/]+", p["url"]):
        raise prometheus.SnapshotError(f"url={p['url']!r} must be an http(s) URL like http://127.0.0.1:9490")
    if p["max_points"] < 2:
        raise prometheus.SnapshotError(f"max_points={p['max_points']} must be at least 2")
    queries = {**(prometheus.DEFAULT_QUERIES if p["default_queries"] else {}), **p["queries"]}
    if not queries:
        raise prometheus.SnapshotError("queries is empty and default_queries=false: nothing to snapshot")
    start, end = prometheus.run_window(p)
    if p["tail"] < 0:
        raise prometheus.SnapshotError(f"tail={p['tail']} must not be negative")
    step = prometheus.choose_step(start, end + p["tail"], p["step"], p["max_points"])
    window = {"start": start, "end": end, "tail": p["tail"], "step": step}
    # A past window's data does not change: a snapshot of the same window and queries that had no error is read
    # back, not taken again (~0.5 s of every converge, and no settle wait).
    inputs = prometheus.inputs_digest(queries, p["max_points"])
    old = document.part(p["path"], p["key"])
    if prometheus.reusable(old, p["url"], window, inputs):
        queries_out = {n: {"series": len(q["series"]), "error": q["error"]} for n, q in old["queries"].items()}
        return False, {"summary": old["summary"], "queries": queries_out, "window": window, "path": p["path"]}
    prometheus.settle(end + p["tail"], p["settle"])
    prom = prometheus.Prometheus(p["url"], p["timeout"])
    try:
        prom.ready()
        snap = prometheus.snapshot(prom, queries, start, end + p["tail"], step, p["max_points"])
    finally:
        prom.close()
    summary = prometheus.summary(snap)
    results = document.load(p["path"], required=False)
    # A tail after a run gathered with objects still converging is not at rest: no steady state, no soak.
    at_rest = cost.converged(results)
    summary["cost"] = cost.cost(snap, window, cost.created(results), converged=at_rest)
    summary["controllers"] = queues.controllers(snap, window)
    summary["soak"] = soak.slopes(snap, window, converged=at_rest)
    doc = {"url": p["url"], "window": window, "summary": summary, "queries": snap, "inputs": inputs}
    try:
        changed = document.attach(p["path"], p["key"], doc, check_mode)
    except OSError as e:
        raise prometheus.SnapshotError(f"path={p['path']}: cannot write it: {e}") from e
    queries_out = {n: {"series": len(q["series"]), "error": q["error"]} for n, q in snap.items()}
    return changed, {"summary": summary, "queries": queries_out, "window": window, "path": p["path"]}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    errors.run_module(module, run, "requests" if prometheus.requests is None else "")


if __name__ == "__main__":
    main()
