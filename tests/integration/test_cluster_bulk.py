"""cluster_bulk against the real stack: create, idempotent re-run, check mode, delete.

Faults and bad input: test_faults.py, test_bad_inputs.py."""

from __future__ import annotations

import json
import os
import time

import pytest

CLUSTERS = "/apis/cluster.x-k8s.io/v1beta2/clusters"


def _topology(lab) -> dict:
    return {"class_name": "scalelab-in-memory", "version": "v1.35.4"}


def _names(lab, set_name: str) -> list[str]:
    return sorted(c["metadata"]["name"] for c in lab.objects(CLUSTERS, f"scalelab.io/set={set_name}"))


@pytest.fixture
def bulk(lab, deleting):
    """Runs cluster_bulk on the lab; every set a test made is deleted afterwards (its wait at the module's end)."""
    made = set()

    def run(name: str, check: bool = False, **args):
        made.add(name)
        if "template" not in args:
            args.setdefault("topology", _topology(lab))
        return lab.module("cluster_bulk", check=check, kubeconfig=lab.kubeconfig, name=name, **args)

    yield run
    lab.delete_soon(sorted(made), deleting)


def test_create_then_rerun_creates_nothing(lab, bulk):
    first = bulk("itb-a", count=4, concurrency=4)
    assert first["rc"] == 0 and first["changed"] is True, first
    assert first["clusters"] == {"wanted": 4, "existing_before": 0, "created": 4, "deleted": 0}
    assert first["calls"]["outcomes"] == {"created": 4}
    assert first["calls"]["latency_ms"]["count"] == 4 and first["calls"]["latency_ms"]["p99"] > 0
    assert _names(lab, "itb-a") == [f"itb-a-000{i}" for i in range(1, 5)]
    again = bulk("itb-a", count=4)
    assert again["rc"] == 0 and again["changed"] is False and again["clusters"]["created"] == 0, again


def test_adaptive_pacing_creates_more_only_as_the_first_are_ready(lab, bulk):
    res = bulk("itb-p", count=6, pacing="adaptive", pacing_window=2, pacing_interval=1)
    assert res["rc"] == 0 and res["clusters"]["created"] == 6, res
    pacing = res["pacing"]
    # two at first; the window grew only once the lab had said how long a cluster takes
    assert pacing["changes"][0]["window"] == 4 and pacing["base_seconds"] > 0, pacing
    assert 2 <= pacing["peak_in_flight"] <= pacing["window_max"], pacing
    created = sorted(
        (c["metadata"]["creationTimestamp"], c["metadata"]["name"])
        for c in lab.objects(CLUSTERS, "scalelab.io/set=itb-p")
    )
    first, third = (time.mktime(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) for ts, _dummy in (created[0], created[2]))
    assert third - first >= pacing["base_seconds"] - 2, (created, pacing)  # whole seconds on both sides


def test_check_mode_counts_without_writing(lab, bulk):
    assert bulk("itb-b", count=2)["rc"] == 0
    res = bulk("itb-b", count=5, check=True)
    assert res["rc"] == 0 and res["changed"] is True
    assert res["clusters"]["existing_before"] == 2 and res["clusters"]["created"] == 3
    assert _names(lab, "itb-b") == ["itb-b-0001", "itb-b-0002"]
    res = bulk("itb-b", state="absent", check=True)
    assert res["changed"] is True and len(_names(lab, "itb-b")) == 2


def test_delete_waits_for_finalizers_and_is_idempotent(lab, bulk):
    assert bulk("itb-d", count=2, namespace_per_cluster=True)["rc"] == 0
    ns = lab.objects("/api/v1/namespaces", "scalelab.io/set=itb-d")
    assert sorted(n["metadata"]["name"] for n in ns) == ["itb-d-0001", "itb-d-0002"]
    res = bulk("itb-d", state="absent", delete_timeout=300)
    assert res["rc"] == 0 and res["changed"] is True and res["clusters"]["deleted"] == 2, res
    # Each cluster timed from its delete to gone (Cluster API's finalizers: its machines and infrastructure first).
    d = res["deletion"]
    assert (d["objects"], d["gone"]) == (2, 2) and 0 < d["seconds"]["p50"] <= d["seconds"]["max"] <= d["wall_seconds"]
    assert _names(lab, "itb-d") == []
    assert lab.objects("/api/v1/namespaces", "scalelab.io/set=itb-d") == []
    again = bulk("itb-d", state="absent")
    assert again["rc"] == 0 and again["changed"] is False and "deletion" not in again


KCPS = "/apis/controlplane.cluster.x-k8s.io/v1beta2/kubeadmcontrolplanes"
HOLD = "scalelab.io/test-hold"


def _hold(lab, path: str, finalizers: list[str]) -> None:
    lab.request(
        "PATCH",
        path,
        json={"metadata": {"finalizers": finalizers}},
        headers={"Content-Type": "application/merge-patch+json"},
    ).raise_for_status()


def test_a_delete_held_up_says_what_holds_it(lab, bulk):
    assert bulk("itb-h", count=1)["rc"] == 0
    # A finalizer nobody removes on the control plane: Cluster API waits for it, and says so on the Cluster.
    deadline = time.monotonic() + 120
    while not (kcps := lab.objects(KCPS, "cluster.x-k8s.io/cluster-name=itb-h-0001")):
        assert time.monotonic() < deadline, "no KubeadmControlPlane for itb-h-0001 in 120 s"
        time.sleep(1)
    kcp = kcps[0]["metadata"]
    kcp_path = f"{KCPS.replace('/kubeadm', '/namespaces/default/kubeadm')}/{kcp['name']}"
    _hold(lab, kcp_path, [*kcp.get("finalizers", []), HOLD])
    try:
        res = bulk("itb-h", state="absent", delete_timeout=30)
        assert res["rc"] != 0, res
        assert res["msg"].startswith(
            "set itb-h: 1 Cluster(s) still there after delete_timeout=30s (first: default/itb-h-0001 finalizers "
        ), res["msg"]
        (left,) = res["left"]
        assert left["name"] == "itb-h-0001" and left["finalizers"], left
        # Cluster API v1beta2's Deleting condition names the control plane it waits for.
        assert "KubeadmControlPlane" in left["waiting_for"] and f"deleting: {left['waiting_for']}" in res["msg"], res
        # And what holds it underneath, followed down: the control plane with the finalizer nobody removes, its
        # Machines (gone by then, or each with what it waits for) - the deepest holder is the one to look at.
        assert f"; under it: KubeadmControlPlane default/{kcp['name']} finalizers [" in res["msg"], res["msg"]
        assert HOLD in res["msg"].split("; under it: ", 1)[1], res["msg"]
        assert "Machine" in res["msg"].split("; under it: ", 1)[1], res["msg"]
    finally:
        _hold(
            lab,
            kcp_path,
            [f for f in lab.request("GET", kcp_path).json()["metadata"].get("finalizers", []) if f != HOLD],
        )


def test_a_409_for_an_object_of_no_set_fails_naming_it(lab, bulk):
    # A Cluster of the wanted name that is not the set's (its label removed): counting it as created would be a lie.
    assert bulk("itb-own", count=1)["rc"] == 0
    path = f"{CLUSTERS.replace('/clusters', '/namespaces/default/clusters')}/itb-own-0001"
    patch = lab.request(
        "PATCH",
        path,
        json={"metadata": {"labels": {"scalelab.io/set": None}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patch.status_code == 200, patch.text
    res = bulk("itb-own", count=1)
    assert res["rc"] != 0, res
    assert "Cluster default/itb-own-0001 exists and is not of set itb-own (its scalelab.io/set: none)" in res["msg"]
    assert "created" not in res.get("calls", {}).get("outcomes", {})
    # Labelled again, the set owns it: absent (the fixture) deletes it.
    lab.request(
        "PATCH",
        path,
        json={"metadata": {"labels": {"scalelab.io/set": "itb-own"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    ).raise_for_status()


FIXED_NAME = """apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata:
  name: fixed
spec:
  topology:
    classRef: {name: scalelab-in-memory}
    version: v1.35.4
    controlPlane: {replicas: 1}
"""


def test_a_template_with_a_fixed_cluster_name_is_refused_before_any_write(lab, bulk):
    res = bulk("itb-fixed", count=2, template=FIXED_NAME)
    assert res["rc"] != 0
    assert "template renders Cluster default/fixed for members 1 and 2" in res["msg"], res["msg"]
    assert lab.request("GET", CLUSTERS.replace("/clusters", "/namespaces/default/clusters/fixed")).status_code == 404


def test_deleting_a_set_keeps_a_namespace_another_set_lives_in(lab, bulk):
    # Set a makes the namespace (labelled as its own); set b moves in. Deleting a must not take b's clusters along.
    topology = {**_topology(lab), "class_namespace": "default"}
    assert bulk("itb-nsa", count=1, namespace="itb-shared", topology=topology)["rc"] == 0
    assert bulk("itb-nsb", count=2, namespace="itb-shared", topology=topology)["rc"] == 0
    res = bulk("itb-nsa", state="absent", delete_timeout=300)
    assert res["rc"] == 0 and res["clusters"]["deleted"] == 1, res
    assert res["namespaces_kept"] == [
        {"name": "itb-shared", "because": ["Cluster itb-nsb-0001 (itb-nsb)", "Cluster itb-nsb-0002 (itb-nsb)"]}
    ], res
    assert _names(lab, "itb-nsb") == ["itb-nsb-0001", "itb-nsb-0002"]
    assert lab.request("GET", "/api/v1/namespaces/itb-shared").json()["status"]["phase"] == "Active"
    # Once b is gone, deleting a again removes the namespace it made.
    assert bulk("itb-nsb", state="absent", delete_timeout=300)["rc"] == 0
    res = bulk("itb-nsa", state="absent", delete_timeout=300)
    assert res["rc"] == 0 and "namespaces_kept" not in res, res
    assert lab.request("GET", "/api/v1/namespaces/itb-shared").status_code == 404


# One set, each change tried on it: (what the run changes, what the refusal says).
SHAPE_CHANGES = [
    (
        {"topology": {"class_name": "scalelab-in-memory", "version": "v1.35.4", "control_plane_replicas": 3}},
        "Cluster default/itb-shape-0001: spec.topology.controlPlane.replicas is 1, wanted 3",
    ),
    (
        {"topology": {"class_name": "scalelab-in-memory", "version": "v1.35.4", "workers": 2}},
        "spec.topology.workers.machineDeployments is [{",
    ),
    (
        {"topology": {"class_name": "scalelab-in-memory", "version": "v1.34.1"}},
        'spec.topology.version is "v1.35.4", wanted "v1.34.1"',
    ),
    (
        {"namespace": "itb-elsewhere", "topology": {**_topology(None), "class_namespace": "default"}},
        "set itb-shape has its Cluster itb-shape-0001 in namespace default, this run wants it in itb-elsewhere",
    ),
]


def test_a_run_that_would_change_an_existing_sets_shape_is_refused_at_once(lab, bulk):
    # Before, the run created nothing and cluster_wait waited its whole timeout for machines that never came.
    assert bulk("itb-shape", count=2)["rc"] == 0
    for change, message in SHAPE_CHANGES:
        res = bulk("itb-shape", count=3, **change)
        assert res["rc"] != 0 and message in res["msg"], (change, res["msg"])
        assert "delete the set (state=absent)" in res["msg"]
        assert _names(lab, "itb-shape") == ["itb-shape-0001", "itb-shape-0002"]
    assert lab.objects("/api/v1/namespaces", "scalelab.io/set=itb-shape") == []
    assert bulk("itb-shape", count=3)["clusters"]["created"] == 1  # the same shape grows as before


def test_a_wait_for_clusters_nobody_creates_fails_after_its_stall_timeout_not_at_its_timeout(lab, bulk):
    assert bulk("itb-wait", count=1)["rc"] == 0
    started = time.monotonic()
    res = lab.module(
        "cluster_wait",
        kubeconfig=lab.kubeconfig,
        name="itb-wait",
        count=3,
        timeout=1800,
        report_every=5,
        stall_timeout=10,
    )
    seconds = time.monotonic() - started
    assert res["rc"] != 0 and "count=3: set itb-wait has 1 clusters and no new one for 10 s" in res["msg"], res
    assert seconds < 60, seconds


def test_each_run_of_a_set_is_kept_and_timed_from_its_own_first_write(lab, bulk, tmp_path):
    runs_dir = str(tmp_path / "itb-r")

    def wait_and_gather(count: int, started: str) -> dict:
        wait = lab.module("cluster_wait", kubeconfig=lab.kubeconfig, name="itb-r", count=count, timeout=240)
        assert wait["rc"] == 0, wait.get("msg")
        res = lab.module(
            "scale_results",
            kubeconfig=lab.kubeconfig,
            label_selector="scalelab.io/set=itb-r",
            runs_dir=runs_dir,
            run_started=started,
            metadata={"set": "itb-r"},
        )
        assert res["rc"] == 0, res.get("msg")
        return res

    before = time.time()
    first = bulk("itb-r", count=2)
    assert first["rc"] == 0 and first["first_write"], first
    assert first["first_write"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(before - 1))
    run1 = wait_and_gather(2, first["first_write"])
    assert run1["run"]["new"] and run1["run"]["started"] == first["first_write"]
    assert run1["window"]["start"] == first["first_write"] and run1["report"]["summary"]["clusters_ready"] == 2

    # A re-run that writes nothing has no first write; gathering it again changes nothing.
    again = bulk("itb-r", count=2)
    assert again["changed"] is False and again["first_write"] == "", again
    same = wait_and_gather(2, again["first_write"])
    assert same["changed"] is False and same["run"] == {**run1["run"], "new": False}

    # The set grows: the second run times the two new clusters from its own first write, not the set's oldest.
    grow = bulk("itb-r", count=4)
    assert grow["first_write"] > first["first_write"], grow
    run2 = wait_and_gather(4, grow["first_write"])
    assert run2["run"]["new"] and run2["run"]["id"] != run1["run"]["id"]
    assert run2["report"]["summary"]["clusters"] == 2 and run2["report"]["earlier"] == {"Cluster": 2}
    assert run2["window"]["start"] == grow["first_write"]
    with open(f"{runs_dir}/runs.jsonl") as f:
        index = [json.loads(line) for line in f]
    assert [r["id"] for r in index] == [run1["run"]["id"], run2["run"]["id"]]
    assert os.readlink(f"{runs_dir}/latest") == run2["run"]["id"]

    # baseline=previous compares the newest run with the one before; the first run has none to compare with.
    report = lab.module(
        "scale_report", path=f"{runs_dir}/latest/itb-r.json", output_dir=str(tmp_path / "rep"), baseline="previous"
    )
    assert report["rc"] == 0 and report["baseline"] == f"{runs_dir}/{run1['run']['id']}/itb-r.json", report
    assert report["table"], report
    first_cmp = lab.module("scale_compare", path=run1["path"], baseline="previous")
    assert (
        first_cmp["rc"] != 0
        and first_cmp["msg"] == f"baseline=previous: {run1['path']} is the first run in its set's runs.jsonl"
    )
