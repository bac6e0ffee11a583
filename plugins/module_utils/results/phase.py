# Copyright: scalelab contributors
# Apache-2.0
"""A phase after creation, timed like creation: per Cluster, from when cluster_phase touched it (its
scalelab.io/<phase>-started mark) to when it was back in shape - for an upgrade, every Machine it should have at the
new version and ready, none at another version left, the Cluster itself ready. The Machines the phase made are timed
from creation to ready. Both come out as timeline.Accumulator results, so the report, drift, gates and baselines
read a phase's document as they read creation's."""

from __future__ import annotations

from ansible_collections.scalelab.capi.plugins.module_utils.results.timeline import (
    Accumulator,
    Timeline,
    parse_time,
    ready_time,
)
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import PHASE_STARTED

PHASES = ("upgrade",)


def expected_machines(cluster: dict) -> int:
    """Machines a topology Cluster should have: its control plane's replicas and its worker pools'."""
    topo = (cluster.get("spec") or {}).get("topology") or {}
    cp = (topo.get("controlPlane") or {}).get("replicas") or 0
    workers = (topo.get("workers") or {}).get("machineDeployments") or []
    return int(cp) + sum(int(md.get("replicas") or 0) for md in workers)


def _record(cluster: dict, start: float | None, end: float | None, failing: dict | None) -> Timeline:
    md = cluster.get("metadata") or {}
    return Timeline(
        name=md.get("name", ""),
        namespace=md.get("namespace", ""),
        created=start,
        ready_at=end,
        seconds_to_ready=end - start if end is not None and start is not None else None,
        transitions=(),
        failing=failing,
    )


def upgraded(cluster: dict, machines: list[dict], version: str) -> tuple[Timeline, list[dict]]:
    """One Cluster's upgrade (its timeline: created = touched, ready = back in shape) and its Machines at `version`
    made after it was touched (the replacements)."""
    md = cluster.get("metadata") or {}
    start = parse_time((md.get("annotations") or {}).get(PHASE_STARTED.format(phase="upgrade")))
    have = ((cluster.get("spec") or {}).get("topology") or {}).get("version")
    if start is None or have != version:
        why = f"topology at {have}, not touched by this phase" if start is None else f"topology at {have}"
        return _record(cluster, None, None, {"type": "Upgrade", "reason": "NotStarted", "message": why}), []
    new = [m for m in machines if (m.get("spec") or {}).get("version") == version]
    # creationTimestamp is whole seconds, the mark has microseconds: a Machine made in the mark's second counts.
    made = [m for m in new if (parse_time((m.get("metadata") or {}).get("creationTimestamp")) or 0) >= int(start)]
    old = len(machines) - len(new)
    want = expected_machines(cluster)
    ready = [ready_time(m, "Machine") for m in new]
    failing = next((f for at, f in ready if at is None), None)
    if failing is None and (old or len(new) < want):
        message = f"{len(new)} of {want} Machine(s) at {version}, {old} at another version left"
        failing = {"type": "Upgrade", "reason": "MachinesNotReplaced", "message": message}
    if failing is None:
        failing = ready_time(cluster, "Cluster")[1]
    if failing is not None:
        return _record(cluster, start, None, failing), made
    ends = [at for at, _f in ready if at is not None]
    # Machines already at the version before the mark (none replaced, or a resumed run): back in shape at once.
    return _record(cluster, start, max([start, *ends]), None), made


def timed(clusters: list[dict], machines_of: dict[tuple[str, str], list[dict]], phase: dict) -> dict:
    """{"Cluster": the phase per Cluster, "Machine": the Machines it made} as Accumulator results."""
    if phase.get("name") not in PHASES:
        raise ValueError(f"phase.name={phase.get('name')!r} must be one of {', '.join(PHASES)}")
    per_cluster, made = Accumulator("Cluster"), Accumulator("Machine")
    for c in clusters:
        md = c.get("metadata") or {}
        record, new = upgraded(c, machines_of.get((md.get("namespace", ""), md.get("name", "")), []), phase["version"])
        per_cluster.records.append(record)
        for m in new:
            made.add(m)
    return {"Cluster": per_cluster.result(), "Machine": made.result()}
