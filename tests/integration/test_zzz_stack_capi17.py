"""The other stack of the version matrix: Cluster API v1.7 with the in-memory provider (InMemoryCluster), the line
the Metal3 providers build on. Its own lab (fixture lab17 in conftest, kept for test_zzzz_metal3). It runs after
test_zz_teardown (file order) because the in-memory provider's workload servers use fixed ports on every address
upstream, so two labs' in-memory providers cannot run on one host at once."""

from __future__ import annotations

import json
import os

import yaml

from .lab import ROOT


def test_v17_clusters_are_ready_with_nodes(lab17):
    clusters = lab17.objects("/apis/cluster.x-k8s.io/v1beta1/clusters", "scalelab.io/set=it17")
    assert len(clusters) == 2
    for c in clusters:
        conds = {x["type"]: x["status"] for x in c["status"]["conditions"]}
        assert conds["Ready"] == "True" and c["spec"]["infrastructureRef"]["kind"] == "InMemoryCluster"
    assert "clusters ready 2/2" in lab17.first_converge["stdout"]


def test_v17_results_name_the_stack_and_flags(lab17):
    with open(os.path.join(lab17.dir, "results", "it17.json")) as f:
        doc = json.load(f)
    assert doc["run"]["stack"] == "capi-1.7" and doc["run"]["versions"]["cluster_api"] == "v1.7.2"
    assert doc["api_version"]["Cluster"] == "cluster.x-k8s.io/v1beta1"
    assert doc["kinds"]["Cluster"]["ready"] == 2 and doc["kinds"]["Machine"]["ready"] == 2
    with open(os.path.join(ROOT, "inventories", "local", "group_vars", "all", "main.yml")) as f:
        qps = yaml.safe_load(f)["capi_stack_kube_api_qps"]
    assert doc["run"]["managers"]["core"]["kube-api-qps"] == qps
