from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.sets import waiters

T = "2026-12-05T09:00:00Z"
NAMES = {("lab", "c1")}


def machine(cluster="c1", namespace="lab", node=True, ready="True", api="cluster.x-k8s.io/v1beta2"):
    status = {"conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": T}] if ready else []}
    if node:
        status["nodeRef"] = {"kind": "Node", "name": "n1"}
    return {
        "apiVersion": api,
        "metadata": {"name": "m", "namespace": namespace, "labels": {"cluster.x-k8s.io/cluster-name": cluster}},
        "status": status,
    }


@pytest.mark.parametrize(
    ("machines", "expected"),
    [
        ([machine()], (1, 1)),
        ([machine(api="cluster.x-k8s.io/v1beta1")], (1, 1)),  # v1beta1: Ready too
        # The node comes first: not ready yet (the wait used to end here, before the report's readiness).
        ([machine(ready="False")], (1, 0)),
        ([machine(ready=None)], (1, 0)),
        ([machine(node=False)], (0, 0)),  # Ready without a node is not ready for the report either
        ([machine(cluster="c2"), machine(namespace="other")], (0, 0)),  # not the set's clusters
        ([machine(), machine(ready="False"), machine(node=False, ready="False")], (2, 1)),
    ],
)
def test_machine_counts(machines, expected):
    assert waiters.machine_counts(machines, NAMES) == expected


@pytest.mark.parametrize(
    ("snap", "expected"),
    [
        ({"ready": 2, "machines_with_node": 4, "machines_ready": 4}, True),
        # Every Machine has its node but one is not Ready: not done (the report would still change).
        ({"ready": 2, "machines_with_node": 4, "machines_ready": 3}, False),
        ({"ready": 1, "machines_with_node": 4, "machines_ready": 4}, False),
        ({"ready": 3, "machines_with_node": 5, "machines_ready": 5}, True),
    ],
)
def test_clusters_done(snap, expected):
    assert waiters.clusters_done(snap, {"count": 2, "machines": 4}) is expected
