# Copyright: scalelab contributors
# Apache-2.0
"""When each BareMetalHost was created, became available and was provisioned, from BMO's operationHistory.

BMO records start and end of each operation (register, inspect, provision, deprovision) in
status.operationHistory. A host is available once inspection ended (registration when inspection is disabled)
and it sits in a state at or past `available`; its provisioning time is provision.end - provision.start (the
time before that is up to whoever sets the image). Records are tuples: 10k hosts stay small.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

from ansible_collections.scalelab.capi.plugins.module_utils.results import stats
from ansible_collections.scalelab.capi.plugins.module_utils.results.timeline import (
    MESSAGE_MAX,
    creation_order,
    format_time,
    parse_time,
    series,
)

OPERATIONS = ("register", "inspect", "provision", "deprovision")
# States a host only reaches after being available (or is available in).
PAST_AVAILABLE = frozenset(("available", "ready", "provisioning", "provisioned", "deprovisioning"))
SETTLED = frozenset(("available", "ready", "provisioned", "externally provisioned"))


class HostTimeline(NamedTuple):
    name: str
    namespace: str
    created: float | None
    state: str
    available_at: float | None
    seconds_to_available: float | None
    provision_seconds: float | None
    provisioned_at: float | None
    phases: tuple[tuple[str, float], ...]  # (operation, seconds from start to end), finished ones only
    error: dict | None


def host_timeline(obj: dict) -> HostTimeline:
    md = obj.get("metadata") or {}
    status = obj.get("status") or {}
    created = parse_time(md.get("creationTimestamp"))
    state = sys.intern((status.get("provisioning") or {}).get("state") or "none")
    history = status.get("operationHistory") or {}
    times = {}
    phases = []
    for op in OPERATIONS:
        h = history.get(op) or {}
        start, end = parse_time(h.get("start")), parse_time(h.get("end"))
        times[op] = (start, end)
        if start is not None and end is not None and end >= start:
            phases.append((op, end - start))
    available_at = None
    if state in PAST_AVAILABLE:
        available_at = times["inspect"][1] or times["register"][1]
    provision_seconds = next((s for op, s in phases if op == "provision"), None) if state == "provisioned" else None
    error = None
    if status.get("errorMessage") or state not in SETTLED:
        error = {
            "state": state,
            "error_type": status.get("errorType", ""),
            "message": str(status.get("errorMessage", ""))[:MESSAGE_MAX],
            "operational_status": status.get("operationalStatus", ""),
        }
    return HostTimeline(
        name=md.get("name", ""),
        namespace=sys.intern(md.get("namespace", "")),
        created=created,
        state=state,
        available_at=available_at,
        seconds_to_available=(available_at - created if available_at is not None and created is not None else None),
        provision_seconds=provision_seconds,
        provisioned_at=times["provision"][1] if provision_seconds is not None else None,
        phases=tuple(phases),
        error=error,
    )


class HostAccumulator:
    """Host timelines added page by page; result() gives the report's numbers."""

    kind = "BareMetalHost"

    def __init__(self):
        self.records: list[HostTimeline] = []

    def add(self, obj: dict) -> HostTimeline:
        record = host_timeline(obj)
        self.records.append(record)
        return record

    def result(self, top_failures: int = 20) -> dict:
        ordered = sorted(self.records, key=creation_order)
        available = [t for t in ordered if t.seconds_to_available is not None]
        provisioned = [t for t in ordered if t.provision_seconds is not None]
        states: dict[str, int] = {}
        durations: dict[str, list[float]] = {}
        for t in ordered:
            states[t.state] = states.get(t.state, 0) + 1
            for op, seconds in t.phases:
                durations.setdefault(op, []).append(seconds)
        stuck = [t for t in ordered if t.error is not None]
        first_created = min((t.created for t in ordered if t.created is not None), default=None)
        last_available = max((t.available_at for t in available if t.available_at is not None), default=None)
        span = last_available - first_created if first_created is not None and last_available is not None else None
        return {
            "count": len(ordered),
            "states": dict(sorted(states.items())),
            "available": len(available),
            "provisioned": len(provisioned),
            "time_to_available": stats.summary([t.seconds_to_available for t in available]),
            "drift": stats.drift([t.seconds_to_available for t in available]),
            "provision": stats.summary([t.provision_seconds for t in provisioned]),
            "provision_drift": stats.drift([t.provision_seconds for t in provisioned]),
            "phases": {op: stats.summary(durations[op]) for op in OPERATIONS if op in durations},
            "stuck": len(stuck),
            "stuck_objects": [{"name": t.name, "namespace": t.namespace, **t.error} for t in stuck[:top_failures]],
            "first_created": format_time(first_created),
            "last_available": format_time(last_available),
            "span_seconds": round(span, 3) if span is not None else None,
            "series": series(
                ordered,
                first_created,
                {
                    "available": lambda t: t.seconds_to_available,
                    "provisioned": lambda t: (
                        None if t.provisioned_at is None or first_created is None else t.provisioned_at - first_created
                    ),
                    # Provisioning's own duration: what a merge of several reports recomputes percentiles from.
                    "provision": lambda t: t.provision_seconds,
                },
            ),
        }
