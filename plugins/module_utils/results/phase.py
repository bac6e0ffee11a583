# Copyright: scalelab contributors
# Apache-2.0
"""A phase after creation, timed like creation: per Cluster, from when cluster_phase touched it (its
scalelab.io/<phase>-started mark) to when it was back in shape - for an upgrade, every Machine it should have at the
new version and ready, none at another version left; for a rollout, every Machine it should have made after the mark
and ready, none from before left; for a scale of its workers, as many Machines as its shape (its topology, or a
template Cluster's control plane and pools) asks for and ready; the Cluster itself ready. The Machines the phase
made are timed from creation to ready. Both come out as timeline.Accumulator results, so the report, drift, gates
and baselines read a phase's document as they read creation's.

A delete is timed per Cluster from its delete's answer to the first look that found it gone, as cluster_bulk saw
them (deleted() - the objects are gone, there is nothing to list).

A scale down makes no Machine and its end (the last removed one gone) leaves no Machine to time: such a Cluster is
back in shape at the newest transition of its own conditions after the mark (v1beta2's ScalingDown turning False),
or at the mark itself when none moved (a lower bound; the wait, cluster_wait shape, saw the Machines go).

A soak changes nothing: a Cluster ends at its last change after the mark (a condition's transition, a Machine made
or turned ready), 0 s when it held still - anything above 0 is the set moving while nothing was asked of it."""

from __future__ import annotations

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError
from ansible_collections.scalelab.capi.plugins.module_utils.results.timeline import (
    Accumulator,
    Timeline,
    made_since,
    parse_time,
    ready_time,
)
from ansible_collections.scalelab.capi.plugins.module_utils.sets.phases import PHASES, TABLE, mark_time
from ansible_collections.scalelab.capi.plugins.module_utils.sets.shapes import Shapes, machines_wanted


class PhaseError(ScalelabError, ValueError):
    """A phase scale_results cannot time; the message names the option and value."""


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


def _latest_transition(cluster: dict, start: float) -> float:
    """The newest lastTransitionTime of the Cluster's conditions (both contracts' lists) at or after start."""
    status = cluster.get("status") or {}
    conditions = [*(status.get("conditions") or []), *((status.get("v1beta2") or {}).get("conditions") or [])]
    times = [parse_time(c.get("lastTransitionTime")) for c in conditions if isinstance(c, dict)]
    return max([start, *(t for t in times if t is not None and t >= start)])


def back_in_shape(
    cluster: dict, machines: list[dict], phase: dict, shapes: Shapes | None = None
) -> tuple[Timeline, list[dict]]:
    """One Cluster's phase (its timeline: created = touched, ready = back in shape) and the Machines it made after
    it was touched (an upgrade's replacements at the new version, a scale up's new workers). `shapes` holds a
    template set's control planes and pools (a ClusterClass set's shape is its topology)."""
    start = mark_time(cluster, phase["name"])
    kind = TABLE[phase["name"]]
    shape = (shapes or Shapes()).of(cluster)
    differs = kind.differs(shape, phase)
    if start is None or differs:
        why = f"{differs or 'as wanted'}, not touched by this phase" if start is None else differs
        return _record(cluster, None, None, {"type": "Phase", "reason": "NotChanged", "message": why}), []
    new = kind.outcome(machines, phase, start)
    made = [m for m in new if made_since(m, start)]
    old = len(machines) - len(new)
    want = machines_wanted(shape)
    ready = [ready_time(m, "Machine") for m in new]
    failing = next((f for at, f in ready if at is None), None)
    if failing is None and (old or len(new) != want):
        message = f"{len(new)} of {want} Machine(s){kind.left(phase, old)}"
        failing = {"type": "Phase", "reason": "MachinesNotInShape", "message": message}
    cluster_at, cluster_failing = ready_time(cluster, "Cluster")
    failing = failing or cluster_failing
    if failing is not None:
        return _record(cluster, start, None, failing), made
    # The Cluster's own readiness counts when it moved after the mark (its Available drops as the topology bumps
    # the worker pools after the control plane, and is back once they are).
    ends = [at for at in (*(at for at, _f in ready), cluster_at) if at is not None and at >= start]
    if kind.ends_at_conditions(made):
        ends.append(_latest_transition(cluster, start))
    # Already in shape before the mark (none replaced, or a resumed run): back in shape at once.
    return _record(cluster, start, max([start, *ends]), None), made


def deleted(timed: list[dict]) -> dict:
    """{"Cluster": each deleted Cluster from its delete to gone} as an Accumulator result, from cluster_bulk's
    deletion.timed (the objects are gone: nothing to list). One still there is not ready, its failing condition
    saying so."""
    per_cluster = Accumulator("Cluster")
    for t in timed:
        if not isinstance(t, dict) or not t.get("name") or parse_time(t.get("deleted")) is None:
            raise PhaseError(f"phase.deleted: {t!r} is not an entry of cluster_bulk's deletion.timed")
        start, end = parse_time(t["deleted"]), parse_time(t.get("gone"))
        failing = None if end is not None else {"type": "Deleted", "reason": "StillThere", "message": "not gone"}
        per_cluster.records.append(_record({"metadata": t}, start, end, failing))
    return {"Cluster": per_cluster.result()}


def timed(
    clusters: list[dict], machines_of: dict[tuple[str, str], list[dict]], phase: dict, shapes: Shapes | None = None
) -> dict:
    """{"Cluster": the phase per Cluster, "Machine": the Machines it made} as Accumulator results."""
    if phase.get("name") not in PHASES:
        raise PhaseError(f"phase.name={phase.get('name')!r} must be one of {', '.join(PHASES)}")
    what = "deleted" if phase["name"] == "delete" else TABLE[phase["name"]].target
    if what and phase.get(what) in (None, ""):
        raise PhaseError(f"phase.{what}={phase.get(what)!r}: phase {phase['name']} needs it")
    if phase["name"] == "delete":
        return deleted(phase["deleted"])
    per_cluster, made = Accumulator("Cluster"), Accumulator("Machine")
    for c in clusters:
        md = c.get("metadata") or {}
        record, new = back_in_shape(
            c, machines_of.get((md.get("namespace", ""), md.get("name", "")), []), phase, shapes
        )
        per_cluster.records.append(record)
        for m in new:
            made.add(m)
    return {"Cluster": per_cluster.result(), "Machine": made.result()}
