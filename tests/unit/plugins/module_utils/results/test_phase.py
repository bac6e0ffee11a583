from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.results import phase
from ansible_collections.scalelab.capi.plugins.module_utils.sets.shapes import Shapes

V1, V2 = "v1.35.4", "v1.35.5"
API = "cluster.x-k8s.io/v1beta2"


def ts(s: float) -> str:
    return f"2026-12-06T06:{int(s) // 60:02d}:{int(s) % 60:02d}Z"


UP = {"name": "upgrade", "version": V2}


def cluster(name="c1", touched=0.0, version=V2, cp=1, workers=0, available=True, mark="upgrade", available_at=0):
    annotations = {} if touched is None else {f"scalelab.io/{mark}-started": ts(touched)}
    return {
        "apiVersion": API,
        "metadata": {"name": name, "namespace": "ns", "annotations": annotations},
        "spec": {
            "topology": {
                "version": version,
                "controlPlane": {"replicas": cp},
                "workers": {"machineDeployments": [{"name": "md-0", "replicas": workers}]},
            }
        },
        "status": {"conditions": [{"type": "Available", "status": "True" if available else "False",
                                   "lastTransitionTime": ts(available_at), "reason": "x"}]},
    }  # fmt: skip


def machine(version=V2, created=10.0, ready=40.0, name="m"):
    conditions = [{"type": "Ready", "status": "True" if ready is not None else "False",
                   "lastTransitionTime": ts(ready or created), "reason": "r"}]  # fmt: skip
    return {
        "apiVersion": API,
        "metadata": {"name": name, "namespace": "ns", "creationTimestamp": ts(created)},
        "spec": {"version": version},
        "status": {"conditions": conditions, "nodeRef": {"name": "n"}},
    }


@pytest.mark.parametrize(
    ("c", "machines", "seconds", "reason", "made"),
    [
        (cluster(touched=5), [machine(created=10, ready=40)], 35.0, None, 1),  # replaced and ready: touched -> ready
        (cluster(touched=5, workers=1), [machine(), machine(created=50, ready=90)], 85.0, None, 2),  # the last counts
        (cluster(touched=5), [machine(), machine(version=V1, created=0, ready=1)], None, "MachinesNotInShape", 1),
        (cluster(touched=5, workers=1), [machine()], None, "MachinesNotInShape", 1),  # a worker still to come
        (cluster(touched=5), [machine(ready=None)], None, "r", 1),  # the new Machine's own failing condition
        (cluster(touched=None, version=V1), [machine(version=V1)], None, "NotChanged", 0),
        (cluster(touched=5, version=V1), [machine(version=V1)], None, "NotChanged", 0),  # marked, then set back
        (cluster(touched=5, available=False), [machine()], None, "x", 1),  # machines done, the Cluster not ready
        # The Cluster's Available back after the last Machine (it drops as the topology bumps the worker pools).
        (cluster(touched=5, available_at=50), [machine(created=10, ready=40)], 45.0, None, 1),
        # Already at the version before the mark (nothing replaced): back in shape when touched.
        (cluster(touched=60), [machine(created=10, ready=40)], 0.0, None, 0),
    ],
)
def test_one_cluster_upgrade(c, machines, seconds, reason, made):
    record, new = phase.back_in_shape(c, machines, UP)
    assert record.seconds_to_ready == seconds
    assert (record.failing or {}).get("reason") == reason
    assert len(new) == made


def test_a_machine_made_in_the_marks_own_second_is_the_phases():
    c = cluster(touched=5)
    c["metadata"]["annotations"]["scalelab.io/upgrade-started"] = "2026-12-06T06:00:05.700000Z"
    record, new = phase.back_in_shape(c, [machine(created=5, ready=20)], UP)  # created 06:00:05 (whole seconds)
    assert len(new) == 1 and record.seconds_to_ready == pytest.approx(14.3)


def test_the_phase_reads_like_creation_drift_in_touch_order():
    clusters = [cluster(f"c{i}", touched=i * 10) for i in range(10)]
    # Each later cluster takes 5 s longer: 20, 25, ... 65 s.
    machines = {("ns", f"c{i}"): [machine(created=i * 10 + 1, ready=i * 10 + 20 + 5 * i)] for i in range(10)}
    got = phase.timed(clusters, machines, {"name": "upgrade", "version": V2})
    r = got["Cluster"]
    assert (r["count"], r["ready"], r["not_ready"]) == (10, 10, 0)
    assert r["time_to_ready"]["max"] == 65.0 and r["drift"]["first_mean"] == 20.0 and r["drift"]["last_mean"] == 65.0
    assert r["first_created"] == ts(0) and r["last_ready"] == ts(155)
    assert got["Machine"]["count"] == 10 and got["Machine"]["time_to_ready"]["p50"] == 41.5  # 19 + 5i s each


def scaled(touched=5.0, workers=2, transitions=()):
    c = cluster(touched=touched, workers=workers, mark="scale_workers")
    c["status"]["v1beta2"] = {
        "conditions": [{"type": t, "status": "False", "lastTransitionTime": ts(at)} for t, at in transitions]
    }
    return c


UP2, DOWN0 = {"name": "scale_workers", "replicas": 2}, {"name": "scale_workers", "replicas": 0}
CP = machine(created=0, ready=3, name="cp")


@pytest.mark.parametrize(
    ("c", "ph", "machines", "seconds", "reason", "made"),
    [
        # Up: the last new worker ready ends it; the control plane made before the mark is not the phase's.
        (scaled(), UP2, [CP, machine(created=6, ready=30), machine(created=7, ready=45)], 40.0, None, 2),
        (scaled(), UP2, [CP, machine(created=6, ready=30)], None, "MachinesNotInShape", 1),  # one still to come
        (scaled(), UP2, [CP, machine(created=6, ready=None), machine(created=7)], None, "r", 2),  # one not ready
        # Down to 0: back in shape at the Cluster's newest transition after the mark ...
        (scaled(workers=0, transitions=[("ScalingDown", 25), ("Old", 1)]), DOWN0, [CP], 20.0, None, 0),
        (scaled(workers=0), DOWN0, [CP], 0.0, None, 0),  # ... or at the mark when nothing moved
        (scaled(workers=0), DOWN0, [CP, machine(created=0, ready=3)], None, "MachinesNotInShape", 0),  # one left
        (cluster(touched=None, workers=2), UP2, [CP], None, "NotChanged", 0),  # never touched by scale_workers
        (scaled(workers=1), UP2, [CP], None, "NotChanged", 0),  # touched, then set to other replicas
    ],
)
def test_one_cluster_scale_of_workers(c, ph, machines, seconds, reason, made):
    record, new = phase.back_in_shape(c, machines, ph)
    assert record.seconds_to_ready == seconds
    assert (record.failing or {}).get("reason") == reason
    assert len(new) == made


def rolled(touched=5.0, after=True):
    c = cluster(touched=touched, mark="rollout")
    if after:
        c["spec"]["topology"]["controlPlane"]["rollout"] = {"after": ts(touched or 0)}
    return c


ROLL = {"name": "rollout"}


@pytest.mark.parametrize(
    ("c", "machines", "seconds", "reason", "made"),
    [
        (rolled(), [machine(created=6, ready=30)], 25.0, None, 1),  # the replacement ready ends it
        # The one from before the mark still there (at the same version: only its age tells).
        (rolled(), [machine(created=0, ready=3), machine(created=6, ready=30)], None, "MachinesNotInShape", 1),
        (rolled(), [], None, "MachinesNotInShape", 0),  # the old one gone, the new one still to come
        (rolled(touched=None), [machine(created=0, ready=3)], None, "NotChanged", 0),  # never rolled out
        (rolled(after=False), [machine(created=6, ready=30)], None, "NotChanged", 0),  # marked, rollout.after gone
    ],
)
def test_one_cluster_rollout(c, machines, seconds, reason, made):
    record, new = phase.back_in_shape(c, machines, ROLL)
    assert record.seconds_to_ready == seconds
    assert (record.failing or {}).get("reason") == reason
    assert len(new) == made
    if reason == "MachinesNotInShape":
        assert record.failing["message"].endswith(f"made after the mark, {len(machines) - made} from before left")


SOAK = {"name": "soak", "seconds": 600}


def soaked(touched=100.0, available_at=0):
    return cluster(touched=touched, mark="soak", available_at=available_at)


@pytest.mark.parametrize(
    ("c", "machines", "seconds", "reason", "made"),
    [
        (soaked(), [machine(created=10, ready=40)], 0.0, None, 0),  # held still: 0 s
        (soaked(available_at=250), [machine(created=10, ready=40)], 150.0, None, 0),  # its Available moved at 250
        (soaked(), [machine(created=10, ready=40), machine(created=300, ready=330)], None, "MachinesNotInShape", 1),
        (soaked(), [machine(created=300, ready=330)], 230.0, None, 1),  # one replaced during the soak: its end
        (soaked(touched=None), [machine()], None, "NotChanged", 0),  # never marked
    ],
)
def test_one_cluster_soak(c, machines, seconds, reason, made):
    record, new = phase.back_in_shape(c, machines, SOAK)
    assert record.seconds_to_ready == seconds
    assert (record.failing or {}).get("reason") == reason
    assert len(new) == made


@pytest.mark.parametrize(
    ("ph", "message"),
    [
        ({"name": "soak"}, "phase.seconds=None: phase soak needs it"),
        ({"name": "churn", "version": V2}, "phase.name='churn' must be one of upgrade, rollout, scale_workers"),
        ({"name": "upgrade"}, "phase.version=None: phase upgrade needs it"),
        ({"name": "scale_workers", "version": V2}, "phase.replicas=None: phase scale_workers needs it"),
    ],
)
def test_a_phase_unknown_or_without_its_value_is_refused(ph, message):
    with pytest.raises(ValueError, match=message):
        phase.timed([], {}, ph)


def test_a_delete_is_timed_from_what_cluster_bulk_saw_one_still_there_not_ready():
    timed = [
        {"namespace": "ns", "name": f"c{i}", "deleted": ts(i), "gone": ts(i + 10 + i) if i < 9 else None}
        for i in range(10)
    ]
    r = phase.timed([], {}, {"name": "delete", "deleted": timed})["Cluster"]
    assert (r["count"], r["ready"], r["not_ready"]) == (10, 9, 1)
    assert r["time_to_ready"]["max"] == 18.0 and r["first_created"] == ts(0) and r["last_ready"] == ts(26)
    assert r["not_ready_objects"][0]["name"] == "c9" and "StillThere" in str(r["not_ready_objects"][0])


@pytest.mark.parametrize("entry", [{"name": "c1"}, "c1", {"name": "c1", "deleted": "yesterday"}])
def test_a_delete_entry_not_from_cluster_bulk_is_refused_naming_it(entry):
    with pytest.raises(ValueError, match="phase.deleted: .* is not an entry of cluster_bulk's deletion.timed"):
        phase.timed([], {}, {"name": "delete", "deleted": [entry]})


def template_cluster(touched=5.0):
    c = cluster(touched=touched)
    c["spec"] = {"controlPlaneRef": {"kind": "KubeadmControlPlane", "name": "c1"}}
    return c


@pytest.mark.parametrize(
    ("kcp_version", "pool_version", "workers", "machines", "seconds", "reason"),
    [
        (V2, V2, 0, [machine(created=10, ready=40)], 35.0, None),
        # The pool still behind: the Cluster is not as the phase wants it yet.
        (V2, V1, 0, [machine(created=10, ready=40)], None, "NotChanged"),
        # A worker wanted by the pool's replicas and not there yet.
        (V2, V2, 1, [machine(created=10, ready=40)], None, "MachinesNotInShape"),
        (V2, V2, 1, [machine(created=10, ready=40), machine(created=12, ready=60, name="w")], 55.0, None),
    ],
)
def test_a_template_clusters_upgrade_reads_its_control_plane_and_pools(
    kcp_version, pool_version, workers, machines, seconds, reason
):
    kcp = {"metadata": {"name": "c1", "namespace": "ns"}, "spec": {"replicas": 1, "version": kcp_version}}
    md = {
        "metadata": {"name": "c1-md-0", "namespace": "ns"},
        "spec": {"clusterName": "c1", "replicas": workers, "template": {"spec": {"version": pool_version}}},
    }
    record, _new = phase.back_in_shape(template_cluster(), machines, UP, Shapes([kcp], [md]))
    assert record.seconds_to_ready == seconds
    assert (record.failing or {}).get("reason") == reason
