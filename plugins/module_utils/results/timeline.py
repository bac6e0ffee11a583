# Copyright: scalelab contributors
# Apache-2.0
"""When each Cluster API object was created and became ready, kept small enough for 10k objects per kind.

Readiness follows the served contract: v1beta2 (Cluster API >= 1.11) reports metav1.Conditions with
Cluster/KubeadmControlPlane/MachineDeployment "Available" and Machine "Ready"; v1beta1 (Cluster API 1.7)
reports "Ready" for every kind. A Machine is only ready once it has a Node (status.nodeRef).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import NamedTuple

from ansible_collections.scalelab.capi.plugins.module_utils.results import stats

READY_TYPES = {
    "v1beta1": dict.fromkeys(
        ("Cluster", "KubeadmControlPlane", "MachineDeployment", "Machine", "Metal3Machine"), "Ready"
    ),
    "v1beta2": {
        "Cluster": "Available",
        "KubeadmControlPlane": "Available",
        "MachineDeployment": "Available",
        "Machine": "Ready",
        "Metal3Machine": "Ready",
    },
}

# The milestones worth a timeline, v1beta1 and v1beta2 names together (each object has only its own).
TRACKED = {
    "Cluster": (
        "InfrastructureReady",
        "ControlPlaneInitialized",
        "ControlPlaneReady",
        "ControlPlaneAvailable",
        "WorkersAvailable",
        "Available",
        "Ready",
    ),
    "KubeadmControlPlane": ("CertificatesAvailable", "Initialized", "MachinesReady", "Available", "Ready"),
    "MachineDeployment": ("MachineSetReady", "MachinesReady", "Available", "Ready"),
    "Machine": ("BootstrapReady", "BootstrapConfigReady", "InfrastructureReady", "NodeReady", "NodeHealthy", "Ready"),
    # CAPM3: a host chosen, then the node found in the workload cluster (its providerID set).
    "Metal3Machine": ("AssociateBMH", "KubernetesNodeReady", "Ready"),
}

MESSAGE_MAX = 200


def parse_time(value: str | None) -> float | None:
    """Epoch seconds of an RFC3339 timestamp ("2026-11-23T20:50:01Z"); None when absent or unparsable."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)  # Python >= 3.11 reads the "Z" and fractions of RFC3339
    except ValueError:
        return None
    if dt.tzinfo is None:  # the API always sends UTC
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def made_since(obj: dict, mark: float) -> bool:
    """Whether the object was made at or after the mark: creationTimestamp is whole seconds and a mark has
    microseconds, so an object made in the mark's own second counts (one made before the mark's second does not)."""
    return (parse_time((obj.get("metadata") or {}).get("creationTimestamp")) or 0.0) >= int(mark)


def format_time(epoch: float | None) -> str | None:
    """RFC3339 (UTC, whole seconds) of epoch seconds, for reports people read."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def contract(obj: dict) -> str:
    """v1beta1 or v1beta2 by the object's apiVersion; anything newer than v1beta1 follows v1beta2."""
    return "v1beta1" if str(obj.get("apiVersion", "")).endswith("/v1beta1") else "v1beta2"


def ready_type(obj: dict, kind: str) -> str:
    return READY_TYPES[contract(obj)][kind]


def _has_node(obj: dict) -> bool:
    node_ref = (obj.get("status") or {}).get("nodeRef") or {}
    # v1beta2 nodeRef is {name}; v1beta1 is a full ObjectReference, where being set is enough.
    return bool(node_ref.get("name")) if contract(obj) == "v1beta2" else bool(node_ref)


def _failing(cond: dict) -> dict:
    return {
        "type": cond.get("type", ""),
        "reason": cond.get("reason", ""),
        "message": str(cond.get("message", ""))[:MESSAGE_MAX],
    }


def ready_time(obj: dict, kind: str) -> tuple[float | None, dict | None]:
    """(ready_at, None) when ready, else (None, the first non-True condition: readiness type first)."""
    rtype = ready_type(obj, kind)
    conditions = (obj.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == rtype), None)
    if ready is not None and ready.get("status") == "True" and (kind != "Machine" or _has_node(obj)):
        return parse_time(ready.get("lastTransitionTime")), None
    ordered = ([ready] if ready is not None else []) + [c for c in conditions if c is not ready]
    for c in ordered:
        if c.get("status") != "True":
            return None, _failing(c)
    if ready is None:
        return None, {"type": rtype, "reason": "NoCondition"}
    # Every condition is True but the Machine has no Node yet.
    return None, {"type": rtype, "reason": "NoNodeRef", "message": "status.nodeRef is not set"}


class Timeline(NamedTuple):
    """One object, without its JSON: a tuple is ~10x smaller than the dict it comes from."""

    name: str
    namespace: str
    created: float | None
    ready_at: float | None
    seconds_to_ready: float | None
    transitions: tuple[tuple[str, float], ...]  # (condition type, seconds after creation), True ones only
    failing: dict | None


def timeline(obj: dict, kind: str) -> Timeline:
    md = obj.get("metadata") or {}
    created = parse_time(md.get("creationTimestamp"))
    ready_at, failing = ready_time(obj, kind)
    by_type = {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}
    transitions = []
    for t in TRACKED[kind]:  # the constant strings: one copy shared by every record
        c = by_type.get(t)
        at = parse_time(c.get("lastTransitionTime")) if c and c.get("status") == "True" else None
        if at is not None and created is not None:
            transitions.append((t, at - created))
    return Timeline(
        name=md.get("name", ""),
        namespace=sys.intern(md.get("namespace", "")),  # a few namespaces shared by thousands of objects
        created=created,
        ready_at=ready_at,
        seconds_to_ready=ready_at - created if ready_at is not None and created is not None else None,
        transitions=tuple(transitions),
        failing=failing,
    )


def series(ordered: list, t0: float | None, fields: dict) -> dict:
    """Per object in creation order: creation offset from t0 and each field (None when not reached), for plots."""
    out: dict = {
        "t0": t0,
        "created": [None if t.created is None or t0 is None else round(t.created - t0, 3) for t in ordered],
    }
    for name, get in fields.items():
        out[name] = [None if get(t) is None else round(get(t), 3) for t in ordered]
    return out


def creation_order(t) -> tuple:
    """The sort key of timelines (of objects or hosts) in creation order; ties by name."""
    return (t.created is None, t.created or 0.0, t.name, t.namespace)


class Accumulator:
    """Timelines of one kind, added page by page; result() turns them into the report's numbers."""

    def __init__(self, kind: str):
        if kind not in TRACKED:
            raise ValueError(f"kind={kind!r} must be one of {', '.join(sorted(TRACKED))}")
        self.kind = kind
        self.records: list[Timeline] = []

    def add(self, obj: dict) -> Timeline:
        record = timeline(obj, self.kind)
        self.records.append(record)
        return record

    def result(self, top_failures: int = 20) -> dict:
        ordered = sorted(self.records, key=creation_order)
        ready = [t for t in ordered if t.seconds_to_ready is not None]
        offsets: dict[str, list[float]] = {}
        for t in ordered:
            for ctype, offset in t.transitions:
                offsets.setdefault(ctype, []).append(offset)
        not_ready = [t for t in ordered if t.failing is not None]
        created = [t.created for t in ordered if t.created is not None]
        ready_at = [t.ready_at for t in ordered if t.ready_at is not None]
        first_created = min(created) if created else None
        last_ready = max(ready_at) if ready_at else None
        span = last_ready - first_created if first_created is not None and last_ready is not None else None
        return {
            "count": len(ordered),
            "ready": len(ready),
            "not_ready": len(ordered) - len(ready),
            "time_to_ready": stats.summary([t.seconds_to_ready for t in ready]),
            # Drift needs creation order: a later object waiting longer is the scaling signal.
            "drift": stats.drift([t.seconds_to_ready for t in ready]),
            "conditions": {ctype: stats.summary(values) for ctype, values in offsets.items()},
            "not_ready_objects": [
                {"name": t.name, "namespace": t.namespace, "condition": t.failing} for t in not_ready[:top_failures]
            ],
            "first_created": format_time(first_created),
            "last_ready": format_time(last_ready),
            "span_seconds": round(span, 3) if span is not None else None,
            "series": series(ordered, first_created, {"ready": lambda t: t.seconds_to_ready}),
        }
