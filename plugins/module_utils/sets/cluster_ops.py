# Copyright: scalelab contributors
# Apache-2.0
"""cluster_bulk's logic: ensure_present / ensure_absent of a cluster set, returning (changed, state)."""

from __future__ import annotations

from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeClient, KubeError
from ansible_collections.scalelab.capi.plugins.module_utils.results import timeline
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import (
    Member,
    Renderer,
    SetError,
    endpoints,
    key,
    members,
    namespace_object,
    parse_template,
    shape_differences,
    topology_cluster,
)
from ansible_collections.scalelab.capi.plugins.module_utils.sets.engine import (
    Bulk,
    BulkFailed,
    call_report,
    check_pacing,
    connected,
    waiting_for,
)
from ansible_collections.scalelab.capi.plugins.module_utils.sets.pacing import AdaptivePacer

CAPI_GROUP = "cluster.x-k8s.io"
__all__ = ["BulkFailed", "SetError", "run"]


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
    check_pacing(p)
    with connected(p, capi_version) as (bulk, api_version):
        if p["state"] == "absent":
            changed, state = ensure_absent(bulk, p, api_version, check_mode)
        else:
            changed, state = ensure_present(bulk, p, api_version, set_members, check_mode)
    state["api_version"] = api_version
    state["first_write"] = bulk.first_write()
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

    def wanted(m: Member) -> list[dict]:
        objs = renderer.render(m)
        if p["namespace_per_cluster"]:
            objs.insert(0, namespace_object(m.namespace, p["name"], m.index, p["labels"]))
        return objs

    def missing(m: Member) -> list[dict]:
        return [o for o in wanted(m) if key(o) not in existing]

    todo = []
    owner: dict[tuple[str, str, str], int] = {}
    for m in set_members:
        keys = [key(o) for o in wanted(m)]
        for k in keys:
            if owner.setdefault(k, m.index) != m.index:
                raise SetError(
                    f"template renders {k[0]} {k[1]}/{k[2]} for members {owner[k]} and {m.index}: each member's "
                    "objects need their own names (use ${CLUSTER_NAME} in every metadata.name)"
                )
        if any(k not in existing for k in keys):
            todo.append(m)
    _check_shape(bulk, renderer, set_members, owner, existing, p["name"])
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
        bulk.ensure_namespace(p["namespace"], p["name"], p["labels"])
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

    def label(m: Member) -> str:
        return f"Cluster {m.namespace}/{m.name}"

    if p["pacing"] == "adaptive":
        pacer = AdaptivePacer(start=p["pacing_window"])
        total = bulk.paced(
            todo,
            create_cluster,
            label,
            bulk.in_flight(api_version, "Cluster", p["name"], _times),
            pacer,
            p["pacing_interval"],
        )
        state["pacing"] = pacer.summary()
    else:
        total = bulk.batches(todo, create_cluster, label, p["batch_size"], p["batch_pause"])
    seconds = total.seconds
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


def _times(cluster: dict) -> tuple[float | None, float | None]:
    t = timeline.timeline(cluster, "Cluster")
    return t.created, t.seconds_to_ready


def _check_shape(
    bulk: Bulk, renderer: Renderer, set_members: list[Member], owner: dict, existing: set, name: str
) -> None:
    """Refuse a run whose clusters would differ from the set's existing ones: in namespace, or in what shapes them
    (class, version, replicas, endpoints), compared on the first member that exists. Changing an existing set is
    not this module's job: it would create nothing and wait for machines that never come."""
    wanted_names = {(k[0], k[2]): k[1] for k in owner}
    moved = sorted(k for k in existing if k[0] == "Cluster" and wanted_names.get((k[0], k[2]), k[1]) != k[1])
    if moved:
        kind, ns, obj = moved[0]
        raise SetError(
            f"set {name} has its Cluster {obj} in namespace {ns}, this run wants it in "
            f"{wanted_names[(kind, obj)]}: delete the set (state=absent) or keep its namespace"
        )
    present = [owner[k] for k in owner if k in existing]
    if not present:
        return
    first = next(m for m in set_members if m.index == min(present))
    diffs = []
    for obj in renderer.render(first):
        k = key(obj)
        if k not in existing or obj["kind"] == "Namespace":
            continue
        path = bulk.client.path(obj["apiVersion"], obj["kind"], k[1])
        found = bulk.client.request("GET", f"{path}/{k[2]}", policy=bulk.policy, ok=(404,))
        if found.status_code == 404:
            continue
        diffs += [f"{k[0]} {k[1]}/{k[2]}: {d}" for d in shape_differences(obj, found.json())]
    if diffs:
        raise SetError(
            f"set {name} exists with another shape ({'; '.join(diffs)}): this run would create nothing and wait for "
            "what never comes - delete the set (state=absent) or name another set"
        )


def ensure_absent(bulk: Bulk, p: dict, api_version: str, check: bool) -> tuple[bool, dict]:
    # Clusters first: Cluster API then deletes what they own; the rest of the set and its namespaces after.
    kinds = [(api_version, "Cluster")]
    if p["template"] is not None:
        kinds += sorted({(d["apiVersion"], d["kind"]) for d in parse_template(p["template"]) if d["kind"] != "Cluster"})
    kinds.append(("v1", "Namespace"))
    clusters = {"wanted": 0, "existing_before": 0, "created": 0, "deleted": 0}
    state = {"clusters": clusters, "objects": 0, "calls": {}}
    counted = ("Cluster", clusters, lambda first: held_by(bulk, api_version, first))
    changed = bulk.delete_set(p["name"], kinds, p["delete_timeout"], check, state, counted)
    state["diff"] = {"before": {"clusters": clusters["existing_before"]}, "after": {"clusters": 0}}
    return changed, state


def held_by(bulk: Bulk, api_version: str, left: dict) -> str:
    """What a Cluster left after delete_timeout waits for underneath: its control plane, its infrastructure cluster
    and its Machines, each with its finalizers and what its controller says (the Cluster names only the one it waits
    for now; the deepest holder is the one to look at). "" when the API cannot say: the message stands on its own."""
    ns, name = left["namespace"], left["name"]
    client, policy = bulk.client, bulk.policy
    try:
        cluster = client.request("GET", client.path(api_version, "Cluster", ns, name), policy=policy, ok=(404,))
        if cluster.status_code == 404:
            return ""
        said = []
        spec = cluster.json().get("spec") or {}
        for ref in (spec.get("controlPlaneRef") or {}, spec.get("infrastructureRef") or {}):
            if ref.get("name"):
                # v1beta2 names the group, v1beta1 the apiVersion.
                group = ref.get("apiGroup", "")
                ref_version = ref.get("apiVersion") or f"{group}/{client.served_versions(group)[0]}"
                said.append(_holder(bulk, ref_version, ref["kind"], ns, ref["name"]))
        path = client.path(api_version, "Machine", ns)
        selector = f"{CAPI_GROUP}/cluster-name={name}"
        machines = next(client.list_pages(path, label_selector=selector, limit=3, policy=policy), [])
        said += [_described("Machine", ns, m) for m in machines] or ["no Machine left"]
    except (KubeError, IndexError, KeyError):
        return ""
    return "; under it: " + "; ".join(said)


def _holder(bulk: Bulk, api_version: str, kind: str, ns: str, name: str) -> str:
    resp = bulk.client.request("GET", bulk.client.path(api_version, kind, ns, name), policy=bulk.policy, ok=(404,))
    return f"{kind} {ns}/{name} gone" if resp.status_code == 404 else _described(kind, ns, resp.json())


def _described(kind: str, ns: str, obj: dict) -> str:
    meta = obj["metadata"]
    out = f"{kind} {ns}/{meta['name']} finalizers {meta.get('finalizers', [])}"
    if not meta.get("deletionTimestamp"):
        return out + " (not being deleted)"
    said = waiting_for(obj)
    return out + (f" (deleting: {said})" if said else "")
