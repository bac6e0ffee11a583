from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.report import headline, html
from ansible_collections.scalelab.capi.plugins.module_utils.results import stages, timeline

T0 = 1795467000.0
CORE = "cluster.x-k8s.io/v1beta2"


def obj(kind, name, created, conds, node=True, api_version=CORE):
    """An object created at T0+created with each (type, seconds after T0) condition True."""
    o = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": timeline.format_time(T0 + created)},
        "status": {
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": timeline.format_time(T0 + s)} for t, s in conds
            ]
        },
    }
    if kind == "Machine" and node:
        o["status"]["nodeRef"] = {"name": name}
    return o


def cluster(i, created, infra, cp_init, cp_avail, ready, api_version=CORE):
    cp = "ControlPlaneAvailable" if api_version == CORE else "ControlPlaneReady"
    conds = [("InfrastructureReady", infra), ("ControlPlaneInitialized", cp_init), (cp, cp_avail)]
    if ready is not None:
        conds.append(("Available" if api_version == CORE else "Ready", ready))
    return timeline.timeline(obj("Cluster", f"c{i}", created, conds, api_version=api_version), "Cluster")


def feed(b, i, created, infra, certs, cp_init, cp_avail, machines, ready, api_version=CORE):
    b.cluster(cluster(i, created, infra, cp_init, cp_avail, ready, api_version))
    kcp = timeline.timeline(
        obj("KubeadmControlPlane", f"c{i}", created, [("CertificatesAvailable", certs)]), "KubeadmControlPlane"
    )
    b.owned("KubeadmControlPlane", ("default", f"c{i}"), kcp)
    for j, m in enumerate(machines):
        conds = [] if m is None else [("Ready", m)]
        rec = timeline.timeline(obj("Machine", f"c{i}-{j}", created, conds), "Machine")
        b.owned("Machine", ("default", f"c{i}"), rec)


@pytest.mark.parametrize(
    ("milestones", "want"),
    [
        # In order: each stage is the gap from the one before.
        (
            {
                "infrastructure": 2,
                "certificates": 3,
                "control_plane_initialized": 10,
                "control_plane_available": 12,
                "nodes": 15,
                "ready": 16,
            },
            {
                "infrastructure": 2,
                "certificates": 1,
                "control_plane_initialized": 7,
                "control_plane_available": 2,
                "nodes": 3,
                "ready": 1,
            },
        ),
        # Certificates before the infrastructure: they add nothing, and the next stage counts from infrastructure.
        (
            {
                "infrastructure": 5,
                "certificates": 1,
                "control_plane_initialized": 8,
                "control_plane_available": 9,
                "nodes": 9,
                "ready": 9,
            },
            {
                "infrastructure": 5,
                "certificates": 0,
                "control_plane_initialized": 3,
                "control_plane_available": 1,
                "nodes": 0,
                "ready": 0,
            },
        ),
        # Never reached: its time goes to the next stage reached.
        (
            {
                "infrastructure": 2,
                "certificates": None,
                "control_plane_initialized": 6,
                "control_plane_available": None,
                "nodes": 9,
                "ready": 10,
            },
            {
                "infrastructure": 2,
                "certificates": 0,
                "control_plane_initialized": 4,
                "control_plane_available": 0,
                "nodes": 3,
                "ready": 1,
            },
        ),
    ],
)
def test_intervals_add_up_to_the_latest_milestone(milestones, want):
    got = stages.intervals(100.0, {k: None if v is None else 100.0 + v for k, v in milestones.items()})
    assert got == pytest.approx(want)
    assert sum(got.values()) == pytest.approx(max(v for v in milestones.values() if v is not None))


def slowing() -> stages.Stages:
    """20 clusters a second apart; control plane initialization takes 5 s for the first and 5 + i s for cluster i."""
    b = stages.Stages()
    for i in range(20):
        c = float(i)
        init = c + 3 + 5 + i
        feed(b, i, c, c + 2, c + 3, init, init + 1, [init + 2], init + 3)
    return b


def test_breakdown_finds_the_stage_that_grew():
    b = slowing()
    # One not ready: left out of the breakdown.
    feed(b, 99, 50.0, 52.0, 53.0, 58.0, 59.0, [None], None)
    r = b.result()
    assert r["clusters"] == 20 and r["window"] == 2
    assert r["first"] == {
        "infrastructure": 2,
        "certificates": 1,
        "control_plane_initialized": 5.5,
        "control_plane_available": 1,
        "nodes": 1,
        "ready": 1,
    }
    assert r["last"]["control_plane_initialized"] == pytest.approx(5 + 18.5)
    assert r["growth_seconds"]["control_plane_initialized"] == pytest.approx(18.0)
    assert r["growth_seconds"]["infrastructure"] == 0
    assert r["grew_most"] == "control_plane_initialized"
    # Ten cohorts in creation order, each mean adding up to its clusters' mean time to ready.
    assert [(c["from"], c["to"]) for c in r["cohorts"]] == [(2 * k + 1, 2 * k + 2) for k in range(10)]
    assert sum(r["cohorts"][-1]["mean_seconds"].values()) == pytest.approx(2 + 1 + 5 + 18.5 + 1 + 1 + 1)
    assert r["interval"]["control_plane_initialized"]["max"] == 24.0


def test_nodes_wait_for_every_machine_and_v1beta1_names():
    b = stages.Stages()
    # Two machines: the later one's node counts; v1beta1 says ControlPlaneReady and Ready.
    feed(b, 0, 0.0, 1.0, 2.0, 4.0, 5.0, [6.0, 9.0], 10.0, api_version="cluster.x-k8s.io/v1beta1")
    assert b.milestones(("default", "c0"))["nodes"] == T0 + 9.0
    assert b.result()["first"] == {
        "infrastructure": 1,
        "certificates": 1,
        "control_plane_initialized": 2,
        "control_plane_available": 1,
        "nodes": 4,
        "ready": 1,
    }
    # A machine still without its node: "nodes" not reached, the cluster's readiness takes the time.
    c = stages.Stages()
    feed(c, 1, 0.0, 1.0, 2.0, 4.0, 5.0, [6.0, None], 10.0)
    assert c.milestones(("default", "c1"))["nodes"] is None
    assert c.result()["first"]["ready"] == 5.0


def test_no_change_names_nothing_and_nothing_ready_is_empty():
    b = stages.Stages()
    for i in range(5):
        feed(b, i, float(i), i + 1.0, i + 2.0, i + 3.0, i + 4.0, [i + 5.0], i + 6.0)
    r = b.result()
    assert r["grew_most"] is None and set(r["growth_seconds"].values()) == {0}
    assert len(r["cohorts"]) == 5
    empty = stages.Stages().result()
    assert (empty["clusters"], empty["grew_most"], empty["cohorts"]) == (0, None, [])


def test_the_report_names_the_step_that_grew():
    r = slowing().result()
    q, answer, _cls = headline._stage_grew(r)
    assert (q, answer) == (
        "Which step grew",
        "control plane initialized, +18.0 s of the total's +18.0 s (first 2 created vs last 2)",
    )
    page = html._stages_section(r)
    assert "<h2>Where provisioning time goes</h2>" in page and "first 2: mean s" in page
    flat_ = stages.Stages()
    for i in range(5):
        feed(flat_, i, float(i), i + 1.0, i + 2.0, i + 3.0, i + 4.0, [i + 5.0], i + 6.0)
    assert headline._stage_grew(flat_.result())[1] == "none: the last 1 took no longer than the first 1"
    assert headline._stage_grew(stages.Stages().result()) is None and html._stages_section({}) == ""


def test_a_milestone_after_readiness_counts_as_reached_then():
    # v1beta1: the Cluster is Ready at 10 s, its worker's node comes at 14 s.
    got = stages.intervals(0.0, {"infrastructure": 1.0, "control_plane_initialized": 5.0, "nodes": 14.0, "ready": 10.0})
    assert got["nodes"] == 5.0 and got["ready"] == 0.0 and sum(got.values()) == 10.0
