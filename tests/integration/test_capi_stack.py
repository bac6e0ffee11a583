"""The Cluster API stack on the host backend: managers, webhooks, and the clusters of the main job (tuning one
manager: test_management_cluster's tuning test, one converge for both roles)."""

from __future__ import annotations

import os

import requests

from .lab import CAPI_MANAGERS as MANAGERS
from .lab import listeners_of


def _port(lab, index: int, offset: int) -> int:
    return lab.vars["capi_stack_port_base"] + 10 * index + offset


def test_every_manager_runs_and_is_ready(lab):
    for i, name in enumerate(MANAGERS):
        assert lab.pid(name) > 0, lab.supervisorctl("status").stdout
        resp = requests.get(f"http://127.0.0.1:{_port(lab, i, 1)}/readyz", timeout=5)
        assert resp.status_code == 200, (name, resp.text)


def _upstream_wildcard(name: str, port: int, webhook: int) -> bool:
    """Listeners upstream binds to every address, with no flag to change it: each manager's webhook server, and
    the in-memory provider's workload API servers (19000 and 20000-30000)."""
    return port == webhook or (name == "capi-in-memory" and (port == 19000 or 20000 <= port < 30000))


def test_listeners_are_on_loopback_except_upstreams_fixed_ones(lab):
    for i, name in enumerate(MANAGERS):
        addrs = listeners_of(lab.pid(name))
        assert f"127.0.0.1:{_port(lab, i, 1)}" in addrs and f"127.0.0.1:{_port(lab, i, 2)}" in addrs, addrs
        others = [
            a
            for a in addrs
            if not a.startswith("127.") and not _upstream_wildcard(name, int(a.rsplit(":", 1)[1]), _port(lab, i, 0))
        ]
        assert others == [], (name, addrs)
    # One workload API server per cluster, on the endpoint the provider advertises.
    clusters = lab.objects("/apis/cluster.x-k8s.io/v1beta2/clusters", "scalelab.io/set=itest")
    hosts = {c["spec"]["controlPlaneEndpoint"]["host"] for c in clusters}
    assert hosts == {lab.vars["capi_stack_inmemory_address"]}


def test_metrics_and_profiles_are_served(lab):
    metrics = requests.get(f"http://127.0.0.1:{_port(lab, 0, 2)}/metrics", timeout=10).text
    assert "controller_runtime_reconcile_time_seconds" in metrics and "workqueue_depth" in metrics
    assert requests.get(f"http://127.0.0.1:{_port(lab, 2, 3)}/debug/pprof/", timeout=10).status_code == 200


def test_webhooks_and_conversion_point_at_the_managers_with_our_ca(lab):
    crd = lab.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusters.cluster.x-k8s.io").json()
    cc = crd["spec"]["conversion"]["webhook"]["clientConfig"]
    assert cc["url"] == f"https://127.0.0.1:{_port(lab, 0, 0)}/convert"
    with open(os.path.join(lab.dir, "capi", "pki", "ca.crt"), "rb") as f:
        import base64

        assert base64.b64decode(cc["caBundle"]) == f.read()
    hooks = lab.request("GET", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations").json()
    urls = [w["clientConfig"].get("url", "") for h in hooks["items"] for w in h.get("webhooks", [])]
    assert urls and all(u.startswith("https://127.0.0.1:") for u in urls), urls


def test_main_job_brought_its_clusters_to_ready_with_nodes(lab):
    clusters = lab.objects("/apis/cluster.x-k8s.io/v1beta2/clusters", "scalelab.io/set=itest")
    assert len(clusters) == lab.vars["scale_clusters"]
    for c in clusters:
        conds = {x["type"]: x["status"] for x in c["status"]["conditions"]}
        assert conds.get("Available") == "True", (c["metadata"]["name"], conds)
    machines = [
        m
        for m in lab.objects("/apis/cluster.x-k8s.io/v1beta2/machines")
        if m["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"].startswith("itest-")
    ]
    assert len(machines) == lab.vars["scale_clusters"]
    assert all(m["status"].get("nodeRef") for m in machines)
    assert "report: " in lab.first_converge["stdout"] and "clusters ready 3/3" in lab.first_converge["stdout"]
