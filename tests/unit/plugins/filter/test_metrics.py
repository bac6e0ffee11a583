from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.filter import metrics
from ansible_collections.scalelab.capi.plugins.module_utils.observe import cost
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates


@pytest.mark.parametrize(
    "names, unknown",
    [
        ([], []),
        (["drift_pct", "cluster_p99_seconds", "objects_failed", "node_cpu_busy_ratio_max"], []),
        (["cpu_cores_max", "cpu_cores_max.capi-core", "restarts.capi-in-memory"], []),
        (["cpu_seconds_per_cluster", "cpu_seconds_per_host.capi-core", "api_requests_per_machine_hour.GET"], []),
        (
            ["etcd_kib_per_cluster.capi-core", "cpu_seconds_per_node"],
            ["etcd_kib_per_cluster.capi-core", "cpu_seconds_per_node"],
        ),
        (
            ["drift_pc", "drift_pct.capi-core", "cpu_cores_max.", "p99"],
            ["drift_pc", "drift_pct.capi-core", "cpu_cores_max.", "p99"],
        ),
    ],
)
def test_unknown_metrics(names, unknown):
    assert metrics.unknown_metrics(names) == unknown


def test_every_metric_a_results_file_has_is_known():
    doc = {
        "summary": {"clusters": 10, "clusters_ready": 9, "cluster_p99_seconds": 3.0, "drift_pct": 1.0, "hosts": 2},
        "kinds": {"Cluster": {"not_ready": 1}},
        "prometheus": {
            "summary": {
                "apiserver_429_rate_max": 0.0,
                "node_load_per_core_max": 1.5,
                "targets_down": [],
                "managers": {"capi-core": {"reconcile_p99_seconds_max": 1.0, "restarts": 0}},
                "cost": cost.cost(
                    {"process_cpu_cores": {"series": [{"labels": {"job": "capi-core"}, "points": [[0, 1], [60, 1]]}]}},
                    {"start": 0, "end": 60, "tail": 0, "step": 60},
                    {"cluster": 2, "machine": 4},
                ),
            }
        },
    }
    names = gates.metrics(doc)
    assert len(names) > 8 and metrics.unknown_metrics(names) == []
    assert {"cpu_seconds_per_cluster.capi-core", "cpu_seconds_per_machine"} <= set(names)
    assert "reconcile_p99_seconds_max.<job>" in metrics.metric_names()
