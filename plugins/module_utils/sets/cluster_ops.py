# Copyright: scalelab contributors
# Apache-2.0
"""cluster_bulk's logic: ensure_present / ensure_absent of a cluster set, returning (changed, state)."""

from __future__ import annotations

import time

from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeClient, KubeError
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import (
    Member,
    Renderer,
    SetError,
    endpoints,
    key,
    members,
    namespace_object,
    parse_template,
    topology_cluster,
)
from ansible_collections.scalelab.capi.plugins.module_utils.sets.engine import Bulk, call_report

CAPI_GROUP = "cluster.x-k8s.io"
__all__ = ["BulkFailed", "SetError", "run"]


class BulkFailed(Exception):
    """Some objects could not be written; carries the partial result so the user sees what happened."""

    def __init__(self, msg: str, result: dict):
        super().__init__(msg)
        self.result = result


def capi_version(client: KubeClient) -> str:
    versions = client.served_versions(CAPI_GROUP)
    if not versions:
        raise SetError(
            f"kubeconfig: {client.server} serves no {CAPI_GROUP} API: install the Cluster API stack "
            "(role scalelab.capi.capi_stack) first"
        )
    return f"{CAPI_GROUP}/{versions[0]}"


def _documents(p: dict, api_version: str) -> tuple[list[dict], dict]:
    if p["template"] is not None:
        return parse_template(p["template"]), dict(p["variables"])
    topo = p["topology"]
    class_ns = topo["class_namespace"] or p["namespace"]
    if api_version.endswith("/v1beta1") and p["namespace_per_cluster"]:
        raise SetError(
            f"topology with namespace_per_cluster=true: {api_version} has no cross-namespace ClusterClass "
            "(classRef.namespace came with Cluster API v1.8); use a template that includes the ClusterClass"
        )
    network = {k: topo[k] for k in ("pod_cidr", "service_cidr", "service_domain")}
    return [topology_cluster(api_version, topo, network)], {"CLASS_NAMESPACE": class_ns}


def run(p: dict, check_mode: bool) -> tuple[bool, dict]:
    set_members = members(p["name"], p["count"], p["name_pattern"], p["namespace"], p["namespace_per_cluster"])
    topo = p.get("topology") or {}
    for opt, least in (("control_plane_replicas", 1), ("workers", 0)):
        if opt in topo and topo[opt] < least:
            raise SetError(f"topology.{opt}={topo[opt]} must be >= {least}")
    for opt in ("concurrency", "burst"):
        if p[opt] < 1:
            raise SetError(f"{opt}={p[opt]} must be >= 1")
    for opt in ("qps", "batch_pause", "batch_size"):
        if p[opt] < 0:
            raise SetError(f"{opt}={p[opt]} must be >= 0")
    with KubeClient(p["kubeconfig"], p["context"], pool=p["concurrency"], retry_deadline=p["retry_timeout"]) as client:
        try:
            api_version = capi_version(client)
        except KubeError as e:
            raise SetError(f"kubeconfig={p['kubeconfig']}: cannot reach the API: {e}") from e
        except OSError as e:  # requests' connection errors are OSErrors
            raise SetError(f"kubeconfig={p['kubeconfig']}: cannot reach {client.server}: {e}") from e
        bulk = Bulk(client, p["qps"], p["burst"], p["concurrency"], p["retry_timeout"])
        try:
            if p["state"] == "absent":
                changed, state = ensure_absent(bulk, p, api_version, check_mode)
            else:
                changed, state = ensure_present(bulk, p, api_version, set_members, check_mode)
        except OSError as e:  # the API went away mid-run, past retry_timeout
            raise SetError(f"kubeconfig={p['kubeconfig']}: cannot reach {client.server}: {e}") from e
    state["api_version"] = api_version
    return changed, state


def _require_class(bulk: Bulk, p: dict, api_version: str) -> None:
    """Cluster API accepts a Cluster whose ClusterClass does not exist (it waits for it): refuse it before writing."""
    topo = p["topology"]
    namespace = topo["class_namespace"] or p["namespace"]
    path = bulk.client.path(api_version, "ClusterClass", namespace, topo["class_name"])
    if bulk.client.request("GET", path, policy=bulk.policy, ok=(404,)).status_code == 404:
        raise SetError(
            f"topology.class_name={topo['class_name']!r}: no ClusterClass of that name in namespace {namespace} "
            "(the capi_stack role installs scalelab-in-memory; see topology.class_namespace)"
        )


def ensure_present(bulk: Bulk, p: dict, api_version: str, set_members: list[Member], check: bool) -> tuple[bool, dict]:
    docs, variables = _documents(p, api_version)
    pool = p.get("endpoint_pool") or []
    renderer = Renderer(docs, variables, p["name"], p["labels"], endpoints(pool, len(set_members)))
    kinds = sorted({(d["apiVersion"], d["kind"]) for d in docs})
    if p["namespace_per_cluster"]:
        kinds.append(("v1", "Namespace"))
    existing = bulk.existing(kinds, p["name"])

    def missing(m: Member) -> list[dict]:
        objs = renderer.render(m)
        if p["namespace_per_cluster"]:
            objs.insert(0, namespace_object(m.namespace, p["name"], m.index, p["labels"]))
        return [o for o in objs if key(o) not in existing]

    todo = [m for m in set_members if missing(m)]
    clusters = {"wanted": len(set_members), "existing_before": len(set_members) - len(todo), "created": 0, "deleted": 0}
    state = {"clusters": clusters, "objects": 0, "calls": {}}
    state["diff"] = {"before": {"clusters": clusters["existing_before"]}, "after": {"clusters": len(set_members)}}
    if not todo:
        return False, state
    if p["topology"] is not None:
        _require_class(bulk, p, api_version)
    if check:
        clusters["created"] = len(todo)
        return True, state

    if not p["namespace_per_cluster"]:
        _ensure_namespace(bulk, p)
    # Fail before the first write when the API or a webhook refuses the objects.
    first = missing(todo[0])
    for obj in first:
        if obj["kind"] == "Namespace":
            continue
        try:
            bulk.create(obj, lambda: None, dry_run=True)
        except KubeError as e:
            if obj is not first[0] and e.status == 404 and "namespaces" in str(e):
                continue  # namespace_per_cluster: the namespace is not there yet in a dry run
            raise SetError(f"template: {obj['kind']} {obj['metadata']['name']} is refused: {e}") from e

    def create_cluster(m: Member, acquire) -> list[tuple[str, float]]:
        return [bulk.create(o, acquire) for o in missing(m)]

    size = p["batch_size"] or len(todo)
    start = time.monotonic()
    total = None
    for b in range(0, len(todo), size):
        if b and p["batch_pause"]:
            time.sleep(p["batch_pause"])
        res = bulk.run(todo[b : b + size], create_cluster, lambda m: f"Cluster {m.namespace}/{m.name}", 5)
        if total is None:
            total = res
        else:
            total.merge(res)
        if res.failed:
            break
    seconds = time.monotonic() - start
    total.seconds = seconds
    state["objects"] = total.counts.get("created", 0)
    state["calls"] = call_report(total, bulk.policy)
    if total.failed:
        raise BulkFailed(
            f"{total.failed} cluster(s) of set {p['name']} could not be created (first: "
            f"{total.failures[0]['object']}: {total.failures[0]['error']}); the objects written so far stay, "
            "run again to resume",
            {"changed": state["objects"] > 0, **state},
        )
    clusters["created"] = len(todo)
    state["clusters_per_second"] = round(len(todo) / seconds, 2) if seconds > 0 else None
    return True, state


def _ensure_namespace(bulk: Bulk, p: dict) -> None:
    """The shared namespace: created (and labelled as the set's, so absent removes it) only when missing."""
    ns = p["namespace"]
    resp = bulk.client.request("GET", f"/api/v1/namespaces/{ns}", policy=bulk.policy, ok=(404,))
    if resp.status_code == 404:
        bulk.create(namespace_object(ns, p["name"], None, p["labels"]), bulk.limiter.acquire)


def ensure_absent(bulk: Bulk, p: dict, api_version: str, check: bool) -> tuple[bool, dict]:
    # Clusters first: Cluster API then deletes what they own; the rest of the set and its namespaces after.
    kinds = [(api_version, "Cluster")]
    if p["template"] is not None:
        kinds += sorted({(d["apiVersion"], d["kind"]) for d in parse_template(p["template"]) if d["kind"] != "Cluster"})
    kinds.append(("v1", "Namespace"))
    clusters = {"wanted": 0, "existing_before": 0, "created": 0, "deleted": 0}
    state = {"clusters": clusters, "objects": 0, "calls": {}}
    total = None
    changed = False
    for api_version_k, kind in kinds:
        found = sorted(bulk.existing([(api_version_k, kind)], p["name"]))
        if kind == "Cluster":
            clusters["existing_before"] = len(found)
        if not found:
            continue
        changed = True
        if check:
            state["objects"] += len(found)
            continue
        res = bulk.run(
            found,
            lambda k, acquire, av=api_version_k: [bulk.delete(k, av, acquire)],
            lambda k: f"{k[0]} {k[1]}/{k[2]}",
        )
        state["objects"] += res.counts.get("deleted", 0)
        if kind == "Cluster":
            clusters["deleted"] = res.counts.get("deleted", 0)
        if total is None:
            total = res
        else:
            total.merge(res)
        left = bulk.wait_gone(api_version_k, kind, p["name"], p["delete_timeout"])
        if res.failed or left:
            state["calls"] = call_report(total, bulk.policy)
            first = left[0] if left else {}
            raise BulkFailed(
                f"set {p['name']}: {len(left)} {kind}(s) still there after delete_timeout={p['delete_timeout']}s"
                + (
                    f" (first: {first.get('namespace')}/{first.get('name')} finalizers {first.get('finalizers')})"
                    if left
                    else ""
                )
                + (f"; {res.failed} delete call(s) failed: {res.failures[0]['error']}" if res.failed else ""),
                {"changed": True, **state, "left": left[:20]},
            )
    if total is not None:
        state["calls"] = call_report(total, bulk.policy)
    state["diff"] = {"before": {"clusters": clusters["existing_before"]}, "after": {"clusters": 0}}
    return changed, state
