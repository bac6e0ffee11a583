# Copyright: scalelab contributors
# Apache-2.0
"""Where a cluster's provisioning time goes: the intervals between its milestones, over creation order.

A cluster's milestones come from three kinds: its own conditions (infrastructure, control plane initialized and
available, ready), its KubeadmControlPlane's CertificatesAvailable, and its Machines' readiness (a Machine is ready
once it has a Node). Each stage is the time from the latest milestone reached before it to its own; a milestone
reached before the previous one adds nothing, one never reached leaves its time to the next stage, and one after the
cluster's readiness counts as reached then. So a ready cluster's stages add up to its time to ready, and a stage that
grows from the first clusters to the last is the step that slowed down, not only the total.
"""

from __future__ import annotations

from ansible_collections.scalelab.capi.plugins.module_utils.results import stats

# (stage, kind, condition types): v1beta1 and v1beta2 names together (each object has only its own). "nodes" is the
# last of the cluster's Machines to be ready; "ready" is the Cluster's readiness.
STAGES = (
    ("infrastructure", "Cluster", ("InfrastructureReady",)),
    ("certificates", "KubeadmControlPlane", ("CertificatesAvailable",)),
    ("control_plane_initialized", "Cluster", ("ControlPlaneInitialized",)),
    ("control_plane_available", "Cluster", ("ControlPlaneAvailable", "ControlPlaneReady")),
    ("nodes", "Machine", ()),
    ("ready", "Cluster", ()),
)
NAMES = tuple(s for s, _kind, _types in STAGES)
LABELS = {
    "infrastructure": "infrastructure ready",
    "certificates": "certificates",
    "control_plane_initialized": "control plane initialized",
    "control_plane_available": "control plane available",
    "nodes": "nodes",
    "ready": "cluster ready",
}
COHORTS = 10


def _at(record, types: tuple[str, ...]) -> float | None:
    """Absolute time of the first of `types` the record reached (its transitions are offsets from creation)."""
    if record.created is None:
        return None
    offsets = dict(record.transitions)
    return next((record.created + offsets[t] for t in types if t in offsets), None)


def intervals(created: float, milestones: dict[str, float | None]) -> dict[str, float]:
    """Seconds per stage from creation through the milestones in STAGES order (unreached: 0, its time goes on). A
    milestone after the cluster's readiness counts as reached then (a v1beta1 Cluster is Ready before its workers'
    nodes), so the stages add up to the time to ready."""
    out = {}
    prev = created
    end = milestones.get("ready")
    for name in NAMES:
        at = milestones.get(name)
        if at is not None and end is not None:
            at = min(at, end)
        if at is None or at <= prev:
            out[name] = 0.0
            continue
        out[name] = at - prev
        prev = at
    return out


class Stages:
    """Milestones per cluster, fed the timelines gather() makes; result() is the breakdown."""

    def __init__(self):
        self.clusters: dict[tuple[str, str], object] = {}
        self.cert: dict[tuple[str, str], float] = {}
        self.nodes: dict[tuple[str, str], list[float | None]] = {}

    def cluster(self, record) -> None:
        self.clusters[(record.namespace, record.name)] = record

    def owned(self, kind: str, owner: tuple[str, str], record) -> None:
        """A KubeadmControlPlane or Machine of the cluster `owner` (namespace, name); other kinds add nothing."""
        if kind == "KubeadmControlPlane":
            at = _at(record, STAGES[1][2])
            if at is not None:
                self.cert[owner] = at
        elif kind == "Machine":
            self.nodes.setdefault(owner, []).append(record.ready_at)

    def milestones(self, key: tuple[str, str]) -> dict[str, float | None]:
        record = self.clusters[key]
        nodes = self.nodes.get(key) or []
        out = {name: _at(record, types) for name, kind, types in STAGES if kind == "Cluster" and types}
        out["certificates"] = self.cert.get(key)
        # Every Machine must be ready: a cluster with one still waiting has not reached "nodes".
        out["nodes"] = max(nodes) if nodes and None not in nodes else None
        out["ready"] = record.ready_at
        return out

    def result(self, cohorts: int = COHORTS, fraction: float = 0.1) -> dict:
        """Per stage: the intervals' summary, the mean of the first and last `fraction` of ready clusters in creation
        order and the growth between them; the means of `cohorts` groups in creation order (a stacked breakdown)."""
        ready = sorted(
            (r for r in self.clusters.values() if r.ready_at is not None and r.created is not None),
            key=lambda r: (r.created, r.name, r.namespace),
        )
        rows = [intervals(r.created, self.milestones((r.namespace, r.name))) for r in ready]
        out: dict = {
            "stages": list(NAMES),
            "clusters": len(rows),
            "interval": {n: stats.summary([row[n] for row in rows]) for n in NAMES},
        }
        if not rows:
            return {**out, "first": None, "last": None, "growth_seconds": None, "grew_most": None, "cohorts": []}
        k = max(1, int(round(len(rows) * fraction)))
        first, last = _means(rows[:k]), _means(rows[-k:])
        growth = {n: round(last[n] - first[n], 3) for n in NAMES}
        grew = max(NAMES, key=lambda n: growth[n])
        out.update(
            window=k,
            first=first,
            last=last,
            growth_seconds=growth,
            # The stage that grew most, when the total grew at all.
            grew_most=grew if len(rows) >= 2 and growth[grew] > 0 else None,
            cohorts=[
                {"from": lo + 1, "to": hi, "mean_seconds": _means(rows[lo:hi])}
                for lo, hi in _splits(len(rows), cohorts)
            ],
        )
        return out


def _means(rows: list[dict]) -> dict[str, float]:
    return {n: round(sum(r[n] for r in rows) / len(rows), 3) for n in NAMES}


def _splits(n: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous ranges of near-equal size covering range(n) (fewer when n < parts)."""
    parts = max(1, min(parts, n))
    bounds = [round(i * n / parts) for i in range(parts + 1)]
    return list(zip(bounds, bounds[1:], strict=False))
