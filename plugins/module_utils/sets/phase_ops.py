# Copyright: scalelab contributors
# Apache-2.0
"""cluster_phase's logic: change every Cluster of a set after creation - an upgrade (a new version), a rollout (every
Machine replaced, nothing else changed: rollout.after), a scale of its worker pools (new replicas) or a soak (nothing
changed: the mark only) - marking when each was touched, so scale_results can time each one back to its new shape.
A ClusterClass Cluster changes in its topology; a template Cluster in its KubeadmControlPlane and MachineDeployments
(shapes.py). The phases themselves are the table in phases.py. Returns (changed, state)."""

from __future__ import annotations

import time
from collections import Counter

from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeError
from ansible_collections.scalelab.capi.plugins.module_utils.sets.cluster_ops import capi_version
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import PHASE_STARTED, SET_LABEL, SetError
from ansible_collections.scalelab.capi.plugins.module_utils.sets.engine import (
    BulkFailed,
    call_report,
    check_pacing,
    connected,
    rfc3339,
)
from ansible_collections.scalelab.capi.plugins.module_utils.sets.phases import TABLE, marked
from ansible_collections.scalelab.capi.plugins.module_utils.sets.shapes import (
    Shapes,
    changed_unmarked,
    patches,
    read,
    templated,
)

__all__ = ["BulkFailed", "SetError", "after", "plan", "run"]


def _name(c: dict) -> str:
    md = c["metadata"]
    return f"{md.get('namespace', '')}/{md['name']}"


def have(c: dict, p: dict, shapes: Shapes):
    """What the phase changes, as the Cluster has it (phases.Phase.have)."""
    return TABLE[p["phase"]].have(c, shapes.of(c))


def want(p: dict):
    return TABLE[p["phase"]].want(p)


def plan(clusters: list[dict], p: dict, shapes: Shapes) -> tuple[list[dict], dict[str, int]]:
    """(the Clusters to change, {what they have: clusters} before): a Cluster already as wanted is left alone. A
    template Cluster whose control plane is not there is refused, naming it, before anything is written."""
    before: Counter = Counter()
    todo = []
    for c in clusters:
        value = have(c, p, shapes)
        before[str(value)] += 1
        # A template Cluster changed by an interrupted run but not marked yet is as wanted, and still to mark.
        if value != want(p) or (not marked(c, p["phase"]) and changed_unmarked(shapes, c, p["phase"])):
            todo.append(c)
    return todo, dict(sorted(before.items()))


def after(before: dict[str, int], todo: list[dict], p: dict, shapes: Shapes) -> dict[str, int]:
    """{what they have: clusters} once the Clusters to change are changed."""
    counts = Counter(before)
    counts.subtract(str(have(c, p, shapes)) for c in todo)
    counts[str(want(p))] += len(todo)
    return dict(sorted((+counts).items()))


def _patch(c: dict, p: dict, now: float, shapes: Shapes) -> dict:
    """The merge patch of one Cluster: the change (a topology's; a template Cluster's is on its own objects), the
    phase's mark, and once what it was created with."""
    kind, shape = TABLE[p["phase"]], shapes.of(c)
    annotations = c["metadata"].get("annotations") or {}
    marks = {PHASE_STARTED.format(phase=p["phase"]): rfc3339(now)}
    marks.update({k: v for k, v in kind.kept(shape).items() if k not in annotations})
    spec = None if templated(c) else kind.spec(shape, p, rfc3339(now))
    return {"metadata": {"annotations": marks}, **({"spec": {"topology": spec}} if spec else {})}


def _check(p: dict) -> None:
    kind = TABLE[p["phase"]]
    if kind.target_changes and kind.target and kind.refused(p.get(kind.target)):
        raise SetError(
            f"{kind.target}={p.get(kind.target)!r}: phase={p['phase']} needs {kind.refused(p.get(kind.target))}"
        )
    check_pacing(p)


def run(p: dict, check_mode: bool) -> tuple[bool, dict]:
    _check(p)
    with connected(p, capi_version) as (bulk, api_version):
        clusters = list(bulk.listed(api_version, "Cluster", p["name"]))
        if not clusters:
            raise SetError(f"name={p['name']}: no Cluster of that set exists: create it first (cluster_bulk)")
        topology = [c for c in clusters if not templated(c)]
        if p["phase"] == "rollout" and topology and api_version.endswith("/v1beta1"):
            raise SetError(
                f"phase=rollout: the API serves Cluster API {api_version}, whose topology has no rollout.after (its "
                "rolloutAfter does nothing); a rollout of a ClusterClass set needs the v1beta2 contract (Cluster API "
                "1.11 or later)"
            )
        for c in clusters:
            c.setdefault("kind", "Cluster")
        try:
            shapes, api_versions = read(
                bulk.client, api_version, f"{SET_LABEL}={p['name']}", clusters, policy=bulk.policy
            )
        except KubeError as e:
            raise SetError(f"name={p['name']}: {e}") from e
        todo, before = plan(clusters, p, shapes)
        state = {
            "clusters": {"total": len(clusters), "changed": len(todo), "unchanged": len(clusters) - len(todo)},
            "diff": {"before": {p["phase"]: before}, "after": {p["phase"]: after(before, todo, p, shapes)}},
            "api_version": api_version,
            "calls": {},
        }
        if not todo or check_mode:
            state["first_write"] = ""
            return bool(todo), state

        def change(c: dict, acquire) -> list[tuple[str, float]]:
            md = c["metadata"]
            key = ("Cluster", md.get("namespace", ""), md["name"])
            # The limiter first, a token per write: the mark says when the change was written, not when it was
            # queued. A template Cluster's control plane and pools are written before its mark (a run stopped
            # between them leaves the Cluster unmarked: plan() finds it again).
            # (A rollout.after a limiter's wait older than the mark replaces the same Machines.)
            objects = patches(shapes, c, p["phase"], p, rfc3339(time.time()), api_versions) if templated(c) else []
            for _token in range(len(objects) + 1):
                acquire()
            now = time.time()
            calls = [bulk.patch((kind, ns, name), v, body, lambda: None) for kind, ns, name, v, body in objects]
            return [*calls, bulk.patch(key, api_version, _patch(c, p, now, shapes), lambda: None)]

        total = bulk.batches(todo, change, lambda c: f"Cluster {_name(c)}", p["batch_size"], p["batch_pause"])
        state["calls"] = call_report(total, bulk.policy)
        state["first_write"] = bulk.first_write()
        if total.failed:
            raise BulkFailed(
                f"{total.failed} cluster(s) of set {p['name']} could not be changed (first: "
                f"{total.failures[0]['object']}: {total.failures[0]['error']}); run again to resume",
                {"changed": total.counts.get("patched", 0) > 0, **state},
            )
        return True, state
