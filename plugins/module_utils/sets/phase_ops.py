# Copyright: scalelab contributors
# Apache-2.0
"""cluster_phase's logic: change every Cluster of a set after creation (an upgrade: a new topology version),
marking when each was touched, so scale_results can time each one back to its new shape. Returns (changed, state)."""

from __future__ import annotations

import time

from ansible_collections.scalelab.capi.plugins.module_utils.sets.cluster_ops import capi_version
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import (
    CREATED_VERSION,
    PHASE_STARTED,
    SetError,
)
from ansible_collections.scalelab.capi.plugins.module_utils.sets.engine import (
    BulkFailed,
    call_report,
    check_pacing,
    connected,
    rfc3339,
)

PHASES = ("upgrade",)
__all__ = ["BulkFailed", "SetError", "plan", "run"]


def _name(c: dict) -> str:
    md = c["metadata"]
    return f"{md.get('namespace', '')}/{md['name']}"


def plan(clusters: list[dict], version: str) -> tuple[list[dict], dict[str, int]]:
    """(the Clusters to upgrade, {version: clusters} before): a Cluster already at `version` is left alone. A set
    without a topology (a template's clusters) is refused, naming one: only topology versions are changed here."""
    before: dict[str, int] = {}
    todo = []
    for c in clusters:
        have = ((c.get("spec") or {}).get("topology") or {}).get("version")
        if not have:
            raise SetError(
                f"phase=upgrade: Cluster {_name(c)} has no spec.topology.version - only ClusterClass sets are "
                "upgraded (a template set's KubeadmControlPlane and MachineDeployment versions are not changed here)"
            )
        before[have] = before.get(have, 0) + 1
        if have != version:
            todo.append(c)
    return todo, dict(sorted(before.items()))


def _patch(c: dict, version: str, now: float) -> dict:
    have = c["spec"]["topology"]["version"]
    annotations = (c["metadata"].get("annotations") or {}).copy()
    body = {
        "metadata": {"annotations": {PHASE_STARTED.format(phase="upgrade"): rfc3339(now)}},
        "spec": {"topology": {"version": version}},
    }
    if CREATED_VERSION not in annotations:
        body["metadata"]["annotations"][CREATED_VERSION] = have
    return body


def run(p: dict, check_mode: bool) -> tuple[bool, dict]:
    if p["phase"] == "upgrade" and not p.get("version"):
        raise SetError("version='': phase=upgrade needs the version to upgrade to (e.g. v1.35.5)")
    check_pacing(p)
    with connected(p, capi_version) as (bulk, api_version):
        clusters = list(bulk.listed(api_version, "Cluster", p["name"]))
        for c in clusters:
            c.setdefault("kind", "Cluster")
        todo, before = plan(clusters, p["version"])
        after = dict(before)
        for c in todo:
            have = c["spec"]["topology"]["version"]
            after[have] -= 1
        after = {v: n for v, n in after.items() if n}
        if todo:
            after[p["version"]] = after.get(p["version"], 0) + len(todo)
        state = {
            "clusters": {"total": len(clusters), "changed": len(todo), "unchanged": len(clusters) - len(todo)},
            "diff": {"before": {"versions": before}, "after": {"versions": dict(sorted(after.items()))}},
            "api_version": api_version,
            "calls": {},
        }
        if not clusters:
            raise SetError(f"name={p['name']}: no Cluster of that set exists: create it first (cluster_bulk)")
        if not todo or check_mode:
            state["first_write"] = ""
            return bool(todo), state

        def upgrade(c: dict, acquire) -> list[tuple[str, float]]:
            md = c["metadata"]
            key = ("Cluster", md.get("namespace", ""), md["name"])
            acquire()  # the limiter first: the mark says when the change was written, not when it was queued
            return [bulk.patch(key, api_version, _patch(c, p["version"], time.time()), lambda: None)]

        total = bulk.batches(todo, upgrade, lambda c: f"Cluster {_name(c)}", p["batch_size"], p["batch_pause"])
        state["calls"] = call_report(total, bulk.policy)
        state["first_write"] = bulk.first_write()
        if total.failed:
            raise BulkFailed(
                f"{total.failed} cluster(s) of set {p['name']} could not be changed (first: "
                f"{total.failures[0]['object']}: {total.failures[0]['error']}); run again to resume",
                {"changed": total.counts.get("patched", 0) > 0, **state},
            )
        return True, state
