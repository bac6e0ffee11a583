# Copyright: scalelab contributors
# Apache-2.0
"""A Cluster's shape as the lifecycle phases read it - its version, control plane and worker pools. A ClusterClass
Cluster's is its spec.topology. A template Cluster (no topology: the metal3 scenario's) has its shape in its
KubeadmControlPlane and MachineDeployments: Shapes reads them into the topology's form, so phases.py's classes, the
waits and scale_results read both alike; patches() is what a phase writes on them instead of the topology."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeError
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import (
    CLUSTER_NAME_LABEL,
    CREATED_SHAPE,
    SetError,
    created_shape,
)

CONTROL_PLANE_GROUP = "controlplane.cluster.x-k8s.io"


def _spec(obj: dict) -> dict:
    return obj.get("spec") or {}


def _key(obj: dict) -> tuple[str, str]:
    md = obj.get("metadata") or {}
    return md.get("namespace", ""), md.get("name", "")


def templated(cluster: dict) -> bool:
    """Whether the Cluster has no topology (its control plane and pools are objects of their own)."""
    return not _spec(cluster).get("topology")


def _rollout_after(obj: dict) -> str | None:
    spec = _spec(obj)
    return spec.get("rolloutAfter") or (spec.get("rollout") or {}).get("after")


def _md_version(md: dict) -> str | None:
    return _spec(_spec(md).get("template") or {}).get("version")


class Shapes:
    """Every Cluster's shape, given the KubeadmControlPlanes and MachineDeployments of the template Clusters (both
    empty for a ClusterClass set, which needs neither)."""

    def __init__(self, control_planes: Iterable[dict] = (), deployments: Iterable[dict] = ()):
        self.control_planes = {_key(k): k for k in control_planes}
        self.pools: dict[tuple[str, str], list[dict]] = {}
        for d in deployments:
            ns = _key(d)[0]
            cluster = _spec(d).get("clusterName") or ((d.get("metadata") or {}).get("labels") or {}).get(
                CLUSTER_NAME_LABEL, ""
            )
            self.pools.setdefault((ns, cluster), []).append(d)

    def control_plane(self, cluster: dict) -> dict:
        ns, name = _key(cluster)
        ref = _spec(cluster).get("controlPlaneRef") or {}
        kcp = self.control_planes.get((ref.get("namespace") or ns, ref.get("name", "")))
        if kcp is None:
            raise SetError(
                f"Cluster {ns}/{name} has neither spec.topology nor its control plane {ref.get('kind', 'object')} "
                f"{ref.get('name', '(no spec.controlPlaneRef)')}: a phase changes ClusterClass Clusters or template "
                "Clusters with a KubeadmControlPlane"
            )
        return kcp

    def deployments(self, cluster: dict) -> list[dict]:
        return sorted(self.pools.get(_key(cluster), []), key=lambda d: _key(d)[1])

    def of(self, cluster: dict) -> dict:
        """The Cluster's shape in the topology's form: version (the control plane's and pools' when they agree,
        else each named), controlPlane replicas and rollout.after, workers.machineDeployments by name."""
        if not templated(cluster):
            return _spec(cluster)["topology"]
        kcp, mds = self.control_plane(cluster), self.deployments(cluster)
        versions = sorted({v for v in [_spec(kcp).get("version"), *map(_md_version, mds)] if v})
        pools = []
        for md in mds:
            pool = {"name": _key(md)[1], "replicas": int(_spec(md).get("replicas") or 0)}
            if _rollout_after(md):
                pool["rollout"] = {"after": _rollout_after(md)}
            pools.append(pool)
        control_plane: dict = {"replicas": int(_spec(kcp).get("replicas") or 0)}
        if _rollout_after(kcp):
            control_plane["rollout"] = {"after": _rollout_after(kcp)}
        return {
            "version": " and ".join(versions) if versions else None,
            "controlPlane": control_plane,
            "workers": {"machineDeployments": pools},
        }


def read(client, cluster_api: str, selector: str, clusters: list[dict], **kw) -> tuple[Shapes, dict[str, str]]:
    """The Clusters' shapes and {kind: apiVersion} of a template set's control planes and pools, read with one list
    each by the set's label (cluster_bulk labels every object it makes); a ClusterClass set reads nothing. kw goes to
    the client's list (a retry policy)."""
    if not any(templated(c) for c in clusters):
        return Shapes(), {}
    cp_versions = client.served_versions(CONTROL_PLANE_GROUP)
    if not cp_versions:
        raise KubeError(f"{client.server} serves no {CONTROL_PLANE_GROUP} API, and the set's Clusters have no topology")
    api_versions = {"KubeadmControlPlane": f"{CONTROL_PLANE_GROUP}/{cp_versions[0]}", "MachineDeployment": cluster_api}
    listed = {
        kind: [o for page in client.list_pages(client.path(v, kind), label_selector=selector, **kw) for o in page]
        for kind, v in api_versions.items()
    }
    return Shapes(listed["KubeadmControlPlane"], listed["MachineDeployment"]), api_versions


def machines_wanted(shape: dict) -> int:
    """Machines a Cluster of this shape should have: its control plane's replicas and its worker pools'."""
    cp = (shape.get("controlPlane") or {}).get("replicas") or 0
    workers = (shape.get("workers") or {}).get("machineDeployments") or []
    return int(cp) + sum(int(md.get("replicas") or 0) for md in workers)


# The shaping paths each phase writes per kind, and the option that gives their value (a rollout's path depends on the
# contract, its value on the time: _changes).
_PATHS = {
    "upgrade": ("version", {"KubeadmControlPlane": "spec.version", "MachineDeployment": "spec.template.spec.version"}),
    "scale_workers": ("replicas", {"MachineDeployment": "spec.replicas"}),
}


def _changes(phase: str, p: dict, at: str, kind: str, api_version: str) -> dict:
    """{dotted path: value} a phase writes on a template set's KubeadmControlPlane or MachineDeployment (`kind`);
    api_version is the kind's served contract (v1beta1: spec.rolloutAfter; v1beta2: spec.rollout.after)."""
    if phase in _PATHS:
        option, paths = _PATHS[phase]
        return {paths[kind]: p[option]} if kind in paths else {}
    if phase == "rollout":
        path = "spec.rollout.after" if api_version.endswith("v1beta2") else "spec.rolloutAfter"
        return {path: at[:19] + "Z"}  # metav1.Time keeps whole seconds
    if phase == "soak":
        return {}
    raise SetError(f"phase={phase}: not a phase that changes a template set")


def _at(obj: dict, path: str):
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _patch(obj: dict, changes: dict, kept: bool) -> dict | None:
    """The object's merge patch for `changes` ({dotted path: value}), None when it has them all already. With `kept`,
    the values it had at those paths go into its CREATED_SHAPE annotation, once each (cluster_bulk's re-run then
    knows the set it made)."""
    todo = {path: value for path, value in changes.items() if _at(obj, path) != value}
    if not todo:
        return None
    patch: dict = {}
    for path, value in todo.items():
        *parents, last = path.split(".")
        node = patch
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    if kept:
        created = created_shape(obj)
        new = {path: str(_at(obj, path)) for path in todo if path not in created and _at(obj, path) is not None}
        if new:
            patch["metadata"] = {"annotations": {CREATED_SHAPE: json.dumps({**created, **new}, sort_keys=True)}}
    return patch


def _objects(shapes: Shapes, cluster: dict) -> list[tuple[str, dict]]:
    return [("KubeadmControlPlane", shapes.control_plane(cluster))] + [
        ("MachineDeployment", md) for md in shapes.deployments(cluster)
    ]


def patches(shapes: Shapes, cluster: dict, phase: str, p: dict, at: str, api_versions: dict) -> list[tuple]:
    """[(kind, namespace, name, apiVersion, merge patch)] a phase writes on a template Cluster's control plane and
    pools (those already as wanted left out). api_versions: {kind: apiVersion served}. A rollout.after already set
    is kept: an interrupted run wrote it, and a new one would replace the Machines it replaced again."""
    kept = phase != "rollout"  # a rollout changes no shape: nothing for cluster_bulk to know
    out = []
    for kind, obj in _objects(shapes, cluster):
        changes = _changes(phase, p, at, kind, api_versions[kind])
        if phase == "rollout":
            changes = {path: v for path, v in changes.items() if _at(obj, path) is None}
        patch = _patch(obj, changes, kept) if changes else None
        if patch is not None:
            out.append((kind, *_key(obj), api_versions[kind], patch))
    return out


def changed_unmarked(shapes: Shapes, cluster: dict, phase: str) -> bool:
    """Whether an earlier run changed the template Cluster's control plane or pools for this phase (its
    CREATED_SHAPE holds a path the phase writes) and stopped before the Cluster's mark: it is as wanted, and still
    to be marked."""
    if not templated(cluster) or phase not in _PATHS:
        return False
    paths = _PATHS[phase][1].values()
    return any(path in created_shape(obj) for _kind, obj in _objects(shapes, cluster) for path in paths)
