from __future__ import annotations

import sys

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.results import timeline

T0 = "2026-11-23T20:50:00Z"
EPOCH0 = 1795467000.0  # T0


def at(seconds: int) -> str:
    return timeline.format_time(EPOCH0 + seconds)


def cond(ctype: str, status: str = "True", seconds: int = 10, reason: str = "", message: str = "") -> dict:
    c = {"type": ctype, "status": status, "lastTransitionTime": at(seconds)}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def obj(kind: str, version: str, conditions: list, name: str = "c1", created: int = 0, node: dict | None = None):
    group = "controlplane.cluster.x-k8s.io" if kind == "KubeadmControlPlane" else "cluster.x-k8s.io"
    o = {
        "apiVersion": f"{group}/{version}",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": at(created)},
        "status": {"conditions": conditions},
    }
    if node is not None:
        o["status"]["nodeRef"] = node
    return o


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (T0, EPOCH0),
        ("2026-11-23T20:50:01Z", EPOCH0 + 1),
        ("2026-11-23T20:50:01.500000Z", EPOCH0 + 1.5),
        ("2026-11-23T21:50:00+01:00", EPOCH0),
        ("2026-11-23T20:50:00", EPOCH0),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_parse_time(text, expected):
    assert timeline.parse_time(text) == expected


def test_format_time_round_trips():
    assert timeline.format_time(EPOCH0) == T0
    assert timeline.format_time(None) is None


@pytest.mark.parametrize(
    ("o", "kind", "ready_at", "failing"),
    [
        # v1beta2 (Cluster API >= 1.11): Available for Cluster, KCP and MD.
        (
            obj("Cluster", "v1beta2", [cond("InfrastructureReady", seconds=3), cond("Available", seconds=30)]),
            "Cluster",
            EPOCH0 + 30,
            None,
        ),
        (
            obj("KubeadmControlPlane", "v1beta2", [cond("Available", seconds=12)]),
            "KubeadmControlPlane",
            EPOCH0 + 12,
            None,
        ),
        (obj("MachineDeployment", "v1beta2", [cond("Available", seconds=7)]), "MachineDeployment", EPOCH0 + 7, None),
        # A v1beta2 Cluster with Ready=True but not Available is not ready: Available is what counts.
        (
            obj("Cluster", "v1beta2", [cond("Ready"), cond("Available", "False", reason="NotAvailable", message="x")]),
            "Cluster",
            None,
            {"type": "Available", "reason": "NotAvailable", "message": "x"},
        ),
        # The readiness condition is reported first, whatever its position.
        (
            obj(
                "Cluster",
                "v1beta2",
                [cond("InfrastructureReady", "False", reason="A"), cond("Available", "Unknown", reason="B")],
            ),
            "Cluster",
            None,
            {"type": "Available", "reason": "B", "message": ""},
        ),
        # Without the readiness condition the first other non-True one explains why.
        (
            obj(
                "Cluster",
                "v1beta2",
                [cond("InfrastructureReady"), cond("ControlPlaneInitialized", "False", reason="W")],
            ),
            "Cluster",
            None,
            {"type": "ControlPlaneInitialized", "reason": "W", "message": ""},
        ),
        (obj("Cluster", "v1beta2", []), "Cluster", None, {"type": "Available", "reason": "NoCondition"}),
        (
            obj("MachineDeployment", "v1beta2", [cond("Ready")]),
            "MachineDeployment",
            None,
            {"type": "Available", "reason": "NoCondition"},
        ),
        # Machines: Ready and a Node.
        (obj("Machine", "v1beta2", [cond("Ready", seconds=40)], node={"name": "n1"}), "Machine", EPOCH0 + 40, None),
        (
            obj("Machine", "v1beta2", [cond("Ready", seconds=40)]),
            "Machine",
            None,
            {"type": "Ready", "reason": "NoNodeRef", "message": "status.nodeRef is not set"},
        ),
        (
            obj("Machine", "v1beta2", [cond("Ready"), cond("NodeHealthy", "False", reason="NodeProvisioning")]),
            "Machine",
            None,
            {"type": "NodeHealthy", "reason": "NodeProvisioning", "message": ""},
        ),
        (
            obj("Machine", "v1beta2", [cond("Ready")], node={}),
            "Machine",
            None,
            {"type": "Ready", "reason": "NoNodeRef", "message": "status.nodeRef is not set"},
        ),
        # v1beta1 (Cluster API 1.7): Ready for every kind.
        (obj("Cluster", "v1beta1", [cond("Ready", seconds=25)]), "Cluster", EPOCH0 + 25, None),
        (
            obj("KubeadmControlPlane", "v1beta1", [cond("Available"), cond("Ready", seconds=11)]),
            "KubeadmControlPlane",
            EPOCH0 + 11,
            None,
        ),
        (obj("Cluster", "v1beta1", [cond("Available")]), "Cluster", None, {"type": "Ready", "reason": "NoCondition"}),
        (
            obj("Cluster", "v1beta1", [cond("Ready", "False", reason="WaitingForInfrastructure", message="m" * 300)]),
            "Cluster",
            None,
            {"type": "Ready", "reason": "WaitingForInfrastructure", "message": "m" * 200},
        ),
        (
            obj("Machine", "v1beta1", [cond("Ready", seconds=9)], node={"kind": "Node", "name": "n1"}),
            "Machine",
            EPOCH0 + 9,
            None,
        ),
        (
            obj("Machine", "v1beta1", [cond("Ready", seconds=9)]),
            "Machine",
            None,
            {"type": "Ready", "reason": "NoNodeRef", "message": "status.nodeRef is not set"},
        ),
        # CAPM3 v1beta1: Ready once the host is associated and the node found (no nodeRef on a Metal3Machine).
        (
            obj("Metal3Machine", "v1beta1", [cond("AssociateBMH", seconds=2), cond("Ready", seconds=7)]),
            "Metal3Machine",
            EPOCH0 + 7,
            None,
        ),
        (
            obj(
                "Metal3Machine",
                "v1beta1",
                [cond("AssociateBMH", seconds=2), cond("Ready", "False", reason="SettingProviderIDOnNodeFailed")],
            ),
            "Metal3Machine",
            None,
            {"type": "Ready", "reason": "SettingProviderIDOnNodeFailed", "message": ""},
        ),
    ],
)
def test_ready_time(o, kind, ready_at, failing):
    assert timeline.ready_time(o, kind) == (ready_at, failing)


def test_timeline_keeps_true_tracked_conditions_as_offsets():
    o = obj(
        "Machine",
        "v1beta2",
        [
            cond("BootstrapConfigReady", seconds=2),
            cond("InfrastructureReady", seconds=5),
            cond("NodeHealthy", "False", seconds=6),
            cond("UpToDate", seconds=1),  # not tracked
            cond("Ready", seconds=9),
        ],
        created=1,
        node={"name": "n"},
    )
    t = timeline.timeline(o, "Machine")
    assert t == timeline.Timeline(
        name="c1",
        namespace="default",
        created=EPOCH0 + 1,
        ready_at=EPOCH0 + 9,
        seconds_to_ready=8.0,
        transitions=(("BootstrapConfigReady", 1.0), ("InfrastructureReady", 4.0), ("Ready", 8.0)),
        failing=None,
    )
    assert t.namespace is sys.intern("default")


def _cluster(name: str, created: int, ready_after: int | None) -> dict:
    conditions = [cond("InfrastructureReady", seconds=created + 1)]
    if ready_after is not None:
        conditions.append(cond("Available", seconds=created + ready_after))
    else:
        conditions.append(cond("Available", "False", reason="NotAvailable", message="waiting"))
    return obj("Cluster", "v1beta2", conditions, name=name, created=created)


def test_accumulator_orders_by_creation_not_by_add():
    acc = timeline.Accumulator("Cluster")
    # Created at 0..19 s, each taking 10 + created s to be ready: the later ones are slower.
    clusters = [_cluster(f"c{i:02d}", i, 10 + i) for i in range(20)]
    clusters.append(_cluster("late", 30, None))
    for c in reversed(clusters):
        acc.add(c)
    r = acc.result()
    assert r["count"] == 21
    assert r["ready"] == 20
    assert r["not_ready"] == 1
    assert r["drift"] == {"count": 20, "window": 2, "first_mean": 10.5, "last_mean": 28.5, "drift_pct": 171.43}
    assert r["time_to_ready"]["max"] == 29.0
    assert r["time_to_ready"]["p50"] == 19.5
    assert r["conditions"]["InfrastructureReady"]["max"] == 1.0
    assert r["conditions"]["Available"]["count"] == 20
    assert r["not_ready_objects"] == [
        {
            "name": "late",
            "namespace": "default",
            "condition": {"type": "Available", "reason": "NotAvailable", "message": "waiting"},
        }
    ]
    assert r["first_created"] == T0
    assert r["last_ready"] == at(19 + 29)
    assert r["span_seconds"] == 48.0
    # Per-object series in creation order (for the report's plots): "late" was created at 30 s, never ready.
    assert r["series"]["created"] == [float(i) for i in range(20)] + [30.0]
    assert r["series"]["ready"] == [10.0 + i for i in range(20)] + [None]


def test_accumulator_same_creation_time_orders_by_name():
    acc = timeline.Accumulator("Cluster")
    for name, took in (("b", 20), ("a", 10), ("c", 30)):
        acc.add(_cluster(name, 0, took))
    assert acc.result()["drift"]["first_mean"] == 10.0
    assert acc.result()["drift"]["last_mean"] == 30.0


def test_accumulator_top_failures_and_empty():
    acc = timeline.Accumulator("Cluster")
    assert acc.result()["count"] == 0
    assert acc.result()["time_to_ready"]["p50"] is None
    assert acc.result()["first_created"] is None
    for i in range(5):
        acc.add(_cluster(f"c{i}", i, None))
    r = acc.result(top_failures=2)
    assert r["not_ready"] == 5
    assert [o["name"] for o in r["not_ready_objects"]] == ["c0", "c1"]
    assert r["drift"]["drift_pct"] is None


def test_accumulator_keeps_no_object_json():
    acc = timeline.Accumulator("Machine")
    acc.add(obj("Machine", "v1beta2", [cond("Ready")], node={"name": "n"}))
    assert all(isinstance(r, timeline.Timeline) for r in acc.records)


def test_accumulator_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind='Node'"):
        timeline.Accumulator("Node")


@pytest.mark.parametrize(
    ("created", "mark", "made"),
    [
        ("2026-12-06T10:00:05Z", timeline.parse_time("2026-12-06T10:00:05.700000Z"), True),  # the mark's own second
        ("2026-12-06T10:00:06Z", timeline.parse_time("2026-12-06T10:00:05.700000Z"), True),
        ("2026-12-06T10:00:04Z", timeline.parse_time("2026-12-06T10:00:05.000001Z"), False),
        (None, timeline.parse_time("2026-12-06T10:00:05Z"), False),  # no timestamp: not made since
        ("2026-12-06T10:00:04Z", 0, True),  # no mark: every object
    ],
)
def test_made_since(created, mark, made):
    assert timeline.made_since({"metadata": {"creationTimestamp": created}}, mark) is made
