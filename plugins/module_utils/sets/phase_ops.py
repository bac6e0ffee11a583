# Copyright: scalelab contributors
# Apache-2.0
"""cluster_phase's logic: change every Cluster of a set after creation - an upgrade (a new topology version), a
rollout (every Machine replaced, nothing else changed: the topology's rollout.after), a scale of its worker pools
(new replicas) or a soak (nothing changed: the mark only) - marking when each was touched, so scale_results can
time each one back to its new shape. The phases themselves are the table in phases.py. Returns (changed, state)."""

from __future__ import annotations

import time
from collections import Counter

from ansible_collections.scalelab.capi.plugins.module_utils.sets.cluster_ops import capi_version
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import PHASE_STARTED, SetError
from ansible_collections.scalelab.capi.plugins.module_utils.sets.engine import (
    BulkFailed,
    call_report,
    check_pacing,
    connected,
    rfc3339,
)
from ansible_collections.scalelab.capi.plugins.module_utils.sets.phases import TABLE

__all__ = ["BulkFailed", "SetError", "after", "plan", "run"]


def _name(c: dict) -> str:
    md = c["metadata"]
    return f"{md.get('namespace', '')}/{md['name']}"


def _topology(c: dict, phase: str) -> dict:
    topo = (c.get("spec") or {}).get("topology") or {}
    if not topo.get("version"):
        raise SetError(
            f"phase={phase}: Cluster {_name(c)} has no spec.topology - only ClusterClass sets change here (a "
            "template set's KubeadmControlPlane and MachineDeployments are not changed)"
        )
    return topo


def have(c: dict, p: dict):
    """What the phase changes, as the Cluster has it (phases.Phase.have)."""
    return TABLE[p["phase"]].have(c, _topology(c, p["phase"]))


def want(p: dict):
    return TABLE[p["phase"]].want(p)


def plan(clusters: list[dict], p: dict) -> tuple[list[dict], dict[str, int]]:
    """(the Clusters to change, {what they have: clusters} before): a Cluster already as wanted is left alone. A set
    of template clusters is refused, naming one, before anything is written."""
    before: Counter = Counter()
    todo = []
    for c in clusters:
        value = have(c, p)
        before[str(value)] += 1
        if value != want(p):
            todo.append(c)
    return todo, dict(sorted(before.items()))


def after(before: dict[str, int], todo: list[dict], p: dict) -> dict[str, int]:
    """{what they have: clusters} once the Clusters to change are changed."""
    counts = Counter(before)
    counts.subtract(str(have(c, p)) for c in todo)
    counts[str(want(p))] += len(todo)
    return dict(sorted((+counts).items()))


def _patch(c: dict, p: dict, now: float) -> dict:
    """The merge patch of one Cluster: the change, the phase's mark, and once what it was created with."""
    kind, topo = TABLE[p["phase"]], c["spec"]["topology"]
    annotations = c["metadata"].get("annotations") or {}
    marks = {PHASE_STARTED.format(phase=p["phase"]): rfc3339(now)}
    marks.update({k: v for k, v in kind.kept(topo).items() if k not in annotations})
    spec = kind.spec(topo, p, rfc3339(now))
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
        if p["phase"] == "rollout" and api_version.endswith("/v1beta1"):
            raise SetError(
                f"phase=rollout: the API serves Cluster API {api_version}, whose topology has no rollout.after (its "
                "rolloutAfter does nothing); a rollout needs the v1beta2 contract (Cluster API 1.11 or later)"
            )
        clusters = list(bulk.listed(api_version, "Cluster", p["name"]))
        if not clusters:
            raise SetError(f"name={p['name']}: no Cluster of that set exists: create it first (cluster_bulk)")
        for c in clusters:
            c.setdefault("kind", "Cluster")
        todo, before = plan(clusters, p)
        state = {
            "clusters": {"total": len(clusters), "changed": len(todo), "unchanged": len(clusters) - len(todo)},
            "diff": {"before": {p["phase"]: before}, "after": {p["phase"]: after(before, todo, p)}},
            "api_version": api_version,
            "calls": {},
        }
        if not todo or check_mode:
            state["first_write"] = ""
            return bool(todo), state

        def change(c: dict, acquire) -> list[tuple[str, float]]:
            md = c["metadata"]
            key = ("Cluster", md.get("namespace", ""), md["name"])
            acquire()  # the limiter first: the mark says when the change was written, not when it was queued
            return [bulk.patch(key, api_version, _patch(c, p, time.time()), lambda: None)]

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
