"""The other stack of the version matrix: Cluster API v1.7 with the in-memory provider (InMemoryCluster), the line
the Metal3 providers build on. Its own lab (fixture lab17 in conftest, kept for test_metal3), whose converge runs
the hosts scenario; these clusters are made by the clusters scenario's modules. Stage lab17 (conftest STAGES):
after test_teardown, because the in-memory provider's workload servers use fixed ports on every address upstream,
so two labs' in-memory providers cannot run on one host at once."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from .lab import ROOT

pytestmark = pytest.mark.stage("lab17")

# The pinned Kubernetes of the lab (roles/binaries/vars/stacks.yml) and our in-memory ClusterClass.
TOPOLOGY = {"class_name": "scalelab-in-memory", "version": "v1.35.4"}


@pytest.fixture(scope="module")
def v17(lab17, tmp_path_factory):
    """Two in-memory clusters on the v1.7 stack, made and measured by the clusters scenario's modules (the lab's
    converge runs the hosts scenario: one converge fewer), and their results document."""
    kube = lab17.kubeconfig
    made = lab17.module("cluster_bulk", kubeconfig=kube, name="it17", count=2, topology=TOPOLOGY)
    assert made["rc"] == 0 and made["changed"], made
    wait = lab17.module("cluster_wait", kubeconfig=kube, name="it17", count=2, machines=2, timeout=600)
    assert wait["rc"] == 0 and wait["ready"] == 2, wait
    path = tmp_path_factory.mktemp("v17") / "it17.json"
    res = lab17.module("scale_results", kubeconfig=kube, label_selector="scalelab.io/set=it17", path=str(path))
    assert res["rc"] == 0, res
    with open(path) as f:
        return json.load(f)


def test_v17_clusters_are_ready_with_nodes(lab17, v17):
    clusters = lab17.objects("/apis/cluster.x-k8s.io/v1beta1/clusters", "scalelab.io/set=it17")
    assert len(clusters) == 2
    for c in clusters:
        conds = {x["type"]: x["status"] for x in c["status"]["conditions"]}
        assert conds["Ready"] == "True" and c["spec"]["infrastructureRef"]["kind"] == "InMemoryCluster"
    assert v17["api_version"]["Cluster"] == "cluster.x-k8s.io/v1beta1"
    assert v17["kinds"]["Cluster"]["ready"] == 2 and v17["kinds"]["Machine"]["ready"] == 2


def test_v17_results_name_the_stack_and_flags(lab17):
    """The scale run's results (here the hosts scenario's) name the stack, its versions and the managers' flags."""
    with open(os.path.join(lab17.dir, "results", "ith", "latest", "ith.json")) as f:
        doc = json.load(f)
    assert doc["run"]["stack"] == "capi-1.7" and doc["run"]["versions"]["cluster_api"] == "v1.7.2"
    with open(os.path.join(ROOT, "inventories", "local", "group_vars", "all", "main.yml")) as f:
        qps = yaml.safe_load(f)["metal3_stack_kube_api_qps"]
    flags = doc["run"]["managers"]
    assert any(str(f.get("kube-api-qps")) == str(qps) for f in flags.values()), flags


def test_v17_upgrade_is_timed_per_cluster_and_a_rerun_changes_nothing(lab17, v17, tmp_path):
    """The upgrade phase on the v1beta1 contract: cluster_phase, cluster_wait with the version, scale_results' phase."""
    kube, version = lab17.kubeconfig, "v1.35.5"
    dry = lab17.module("cluster_phase", check=True, kubeconfig=kube, name="it17", version=version)
    assert dry["rc"] == 0 and dry["changed"] and dry["clusters"]["changed"] == 2, dry
    assert (
        lab17.objects("/apis/cluster.x-k8s.io/v1beta1/clusters", "scalelab.io/set=it17")[0]["spec"]["topology"][
            "version"
        ]
        == TOPOLOGY["version"]
    )  # check mode wrote nothing
    # A rollout needs the v1beta2 topology's rollout.after (v1beta1's rolloutAfter does nothing): refused, naming it.
    roll = lab17.module("cluster_phase", kubeconfig=kube, name="it17", phase="rollout")
    assert roll["rc"] != 0 and roll["msg"].startswith(
        "phase=rollout: the API serves Cluster API cluster.x-k8s.io/v1beta1, whose topology has no rollout.after"
    ), roll
    up = lab17.module("cluster_phase", kubeconfig=kube, name="it17", version=version)
    assert up["rc"] == 0 and up["changed"] and up["clusters"] == {"total": 2, "changed": 2, "unchanged": 0}, up
    wait = lab17.module("cluster_wait", kubeconfig=kube, name="it17", count=2, machines=2, version=version, timeout=600)
    assert wait["rc"] == 0 and wait["machines_other_version"] == 0 and wait["machines_ready"] == 2, wait
    path = tmp_path / "upgrade.json"
    phase = {"name": "upgrade", "version": version}
    selector = "scalelab.io/set=it17"
    res = lab17.module("scale_results", kubeconfig=kube, label_selector=selector, path=str(path), phase=phase)
    assert res["rc"] == 0, res
    with open(path) as f:
        doc = json.load(f)
    assert doc["summary"]["clusters_ready"] == 2 and doc["summary"]["cluster_p50_seconds"] > 0, doc["kinds"]["Cluster"]
    assert doc["kinds"]["Machine"]["ready"] == 2 and doc["api_version"]["Cluster"] == "cluster.x-k8s.io/v1beta1"
    again = lab17.module("cluster_phase", kubeconfig=kube, name="it17", version=version)
    assert again["rc"] == 0 and not again["changed"] and again["clusters"]["unchanged"] == 2, again
    # The set made at its first version is still the same set for cluster_bulk (nothing to create, no shape refused).
    made = lab17.module("cluster_bulk", kubeconfig=kube, name="it17", count=2, topology=TOPOLOGY)
    assert made["rc"] == 0 and not made["changed"], made

    # A worker per cluster on the v1beta1 contract (topology pools keyed `class`), timed from the mark to ready; still
    # the same set for cluster_bulk after (created with no workers).
    up = lab17.module("cluster_phase", kubeconfig=kube, name="it17", phase="scale_workers", replicas=1)
    assert up["rc"] == 0 and up["clusters"]["changed"] == 2, up
    wait = lab17.module("cluster_wait", kubeconfig=kube, name="it17", count=2, shape=True, timeout=600)
    assert wait["rc"] == 0 and (wait["machines_wanted"], wait["machines_total"], wait["machines_ready"]) == (4, 4, 4)
    path = tmp_path / "scale.json"
    phase = {"name": "scale_workers", "replicas": 1}
    res = lab17.module("scale_results", kubeconfig=kube, label_selector=selector, path=str(path), phase=phase)
    assert res["rc"] == 0, res
    doc = json.loads(path.read_text())
    assert doc["summary"]["clusters_ready"] == 2 and doc["kinds"]["Machine"]["ready"] == 2, doc["kinds"]["Cluster"]
    made = lab17.module("cluster_bulk", kubeconfig=kube, name="it17", count=2, topology=TOPOLOGY)
    assert made["rc"] == 0 and not made["changed"], made


def test_v17_delete_is_timed_per_cluster(lab17, v17, tmp_path):
    """The set's last phase on the v1beta1 contract: deleted with cluster_bulk, each cluster timed from its delete to
    gone by scale_results (after the upgrade and the scale above)."""
    kube, selector = lab17.kubeconfig, "scalelab.io/set=it17"
    gone = lab17.module("cluster_bulk", kubeconfig=kube, name="it17", state="absent", delete_timeout=300)
    assert gone["rc"] == 0 and gone["changed"], gone
    timed = gone["deletion"]["timed"]
    assert len(timed) == 2 and all(t["gone"] for t in timed), gone["deletion"]
    path = tmp_path / "delete.json"
    phase = {"name": "delete", "deleted": timed}
    res = lab17.module("scale_results", kubeconfig=kube, label_selector=selector, path=str(path), phase=phase)
    assert res["rc"] == 0, res
    doc = json.loads(path.read_text())
    assert doc["phase"] == {"name": "delete"}, doc["phase"]
    s = doc["summary"]
    assert (s["clusters"], s["clusters_ready"]) == (2, 2), doc["kinds"]["Cluster"]
    assert 0 < s["cluster_p50_seconds"] <= s["cluster_max_seconds"] < 300, s
    assert lab17.objects("/apis/cluster.x-k8s.io/v1beta1/clusters", selector) == []
