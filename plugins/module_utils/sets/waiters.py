# Copyright: scalelab contributors
# Apache-2.0
"""Waiting, in one place: wait_until (until nothing is pending), poll_until (until a probe says done, within a window)
and the *_wait modules' run on it (wait_module), and the cluster set's probe (clusters ready, Machines ready)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from ansible_collections.scalelab.capi.plugins.module_utils.kube.checks import bounds
from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeClient, KubeError, require_libs
from ansible_collections.scalelab.capi.plugins.module_utils.kube.retry import CONN_ERRORS
from ansible_collections.scalelab.capi.plugins.module_utils.results import timeline
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import CLUSTER_NAME_LABEL, SET_LABEL, SetError
from ansible_collections.scalelab.capi.plugins.module_utils.sets.phases import mark_time
from ansible_collections.scalelab.capi.plugins.module_utils.sets.shapes import machines_wanted, read

GROUP = "cluster.x-k8s.io"


def after_phase(p: dict) -> bool:
    """Whether cluster_wait waits for the end of a phase (options version, shape, rollout or soak)."""
    return bool(p.get("version") or p.get("shape") or p.get("rollout") or p.get("soak"))


def snapshot(client: KubeClient, p: dict) -> dict:
    """The set's (option name) Clusters ready and its Machines ready (listed when option machines > 0 or a phase
    needs them). With option `version` (an upgrade): a Cluster is ready once its shape (its topology, or a template
    Cluster's control plane and pools: shapes.py) is at it, a Machine counts only at it, and the Machines at another
    version are counted apart. With `shape`: the Machines the shapes ask for (machines_wanted) and every Machine there
    is (machines_total, those being deleted too), so a scale down is done only once the removed ones are gone. With
    `rollout`: a Cluster is ready once marked rolled out, a Machine counts only if made after its Cluster's mark, the
    older ones apart. With `soak` (seconds): how long the soak
    still holds from the first Cluster's mark (soak_left). After any phase, in_shape counts the Clusters back in
    shape."""
    set_name, version, shape, rollout = p["name"], p.get("version") or "", bool(p.get("shape")), bool(p.get("rollout"))
    soak = float(p.get("soak") or 0)
    soak_marks: list[float | None] = []
    versions = client.served_versions(GROUP)
    if not versions:
        raise KubeError(f"{client.server} serves no {GROUP} API: is the Cluster API stack installed?")
    api_version = f"{GROUP}/{versions[0]}"
    names: set[tuple[str, str]] = set()
    marks: dict[tuple[str, str], float] | None = {} if rollout else None
    ready = wanted = 0
    not_ready = []
    # Per Cluster (a phase's progress): ready as the phase wants it, and the Machines its topology asks for.
    cluster_ready: dict[tuple[str, str], bool] = {}
    cluster_wants: dict[tuple[str, str], int] = {}
    selector = f"{SET_LABEL}={set_name}"
    pages = client.list_pages(client.path(api_version, "Cluster"), label_selector=selector)
    clusters = [c for page in pages for c in page]
    # Shapes (a template set's are its control planes' and pools') only for a phase's wait.
    shapes = read(client, api_version, selector, clusters)[0] if after_phase(p) or shape else None
    for c in clusters:
        md = c["metadata"]
        key = (md.get("namespace", ""), md["name"])
        names.add(key)
        cluster_shape = shapes.of(c) if shapes else {}
        cluster_wants[key] = machines_wanted(cluster_shape)
        wanted += cluster_wants[key]
        at, failing = timeline.ready_time(c, "Cluster")
        have = cluster_shape.get("version")
        if version and have and have != version:
            at, failing = None, {"type": "Phase", "reason": "NotChanged", "message": f"at {have}"}
        if marks is not None:
            mark = mark_time(c, "rollout")
            marks[key] = mark or 0.0
            if mark is None:
                at, failing = None, {"type": "Phase", "reason": "NotChanged", "message": "no rollout mark"}
        if soak:
            soak_marks.append(mark_time(c, "soak"))
        cluster_ready[key] = at is not None
        if at is not None:
            ready += 1
        elif len(not_ready) < 10:
            not_ready.append({"name": md["name"], "namespace": md.get("namespace", ""), "condition": failing})
    pools_left = 0
    if version and names:
        # The topology bumps each worker pool after its control plane: a pool not at the version (or not yet seen so
        # by its controller) is an upgrade not done, even with no worker Machine to replace.
        pools = client.list_pages(client.path(api_version, "MachineDeployment"))
        pools_left = pools_not_at((d for page in pools for d in page), names, version)
    with_node = machines_ready = other = total = 0
    per_cluster: dict[tuple[str, str], list[int]] | None = {} if after_phase(p) else None
    if (p["machines"] > 0 or per_cluster is not None) and names:
        # Machines made by a ClusterClass carry no set label: select them by their cluster's name.
        pages = client.list_pages(client.path(api_version, "Machine"))
        found = (m for page in pages for m in page)
        with_node, machines_ready, other, total = machine_counts(found, names, version, marks, per_cluster)
    snap = {
        "total": len(names),
        "ready": ready,
        "machines_with_node": with_node,
        "machines_ready": machines_ready,
        "not_ready": not_ready,
    }
    if version:
        snap["machines_other_version"] = other
        snap["pools_not_at_version"] = pools_left
    if shape:
        snap["machines_wanted"], snap["machines_total"] = wanted, total
    if rollout:
        snap["machines_before_rollout"] = other
    if per_cluster is not None:
        snap["in_shape"] = in_shape(cluster_ready, cluster_wants, per_cluster)
    if soak:
        snap["soak_left"] = soak_left(soak_marks, soak, time.time())
    return snap


def soak_left(marks: list[float | None], seconds: float, now: float) -> float:
    """Seconds of the soak still to hold: from the first Cluster's mark (the whole soak while one is not marked)."""
    if not marks or None in marks:
        return seconds
    return round(max(0.0, min(marks) + seconds - now), 1)


def in_shape(
    cluster_ready: dict[tuple[str, str], bool],
    cluster_wants: dict[tuple[str, str], int],
    per_cluster: dict[tuple[str, str], list[int]],
) -> int:
    """Clusters back in shape after a phase: ready as the phase wants, as many of the phase's Machines ready as the
    topology asks for, none left over (from before, or removed by a scale down and not gone yet)."""
    done = 0
    for key, ok in cluster_ready.items():
        machines_ready, left_over, total = per_cluster.get(key, (0, 0, 0))
        done += ok and machines_ready == cluster_wants[key] and not left_over and total == cluster_wants[key]
    return done


def pools_not_at(deployments: Iterable[dict], names: set[tuple[str, str]], version: str) -> int:
    """MachineDeployments of the named clusters not at `version`, or whose controller has not seen that yet."""
    left = 0
    for d in deployments:
        md = d["metadata"]
        if (md.get("namespace", ""), (md.get("labels") or {}).get(CLUSTER_NAME_LABEL, "")) not in names:
            continue
        spec_version = ((((d.get("spec") or {}).get("template") or {}).get("spec")) or {}).get("version")
        seen = ((d.get("status") or {}).get("observedGeneration") or 0) >= (md.get("generation") or 0)
        left += spec_version != version or not seen
    return left


def machine_counts(
    machines: Iterable[dict],
    names: set[tuple[str, str]],
    version: str = "",
    marks: dict[tuple[str, str], float] | None = None,
    per_cluster: dict[tuple[str, str], list[int]] | None = None,
) -> tuple[int, int, int, int]:
    """(with a node, ready, at another version, all) among the Machines of the named (namespace, name) clusters.
    Ready is what the report counts (condition Ready and a nodeRef): a Machine gets its node before its Ready
    condition, and a wait that ended at the node left the report to be gathered while Machines still turned ready (a
    re-run then rewrote it). With `version`, only Machines at it count; the others are the third number (0 without).
    With `marks` ((namespace, cluster) -> its rollout mark), only Machines made in or after the mark's second count.
    With `per_cluster`, each cluster's [ready, other, all] are added there too.
    """
    with_node = ready = other = total = 0
    for m in machines:
        md = m["metadata"]
        key = (md.get("namespace", ""), (md.get("labels") or {}).get(CLUSTER_NAME_LABEL, ""))
        if key not in names:
            continue
        counts = per_cluster.setdefault(key, [0, 0, 0]) if per_cluster is not None else [0, 0, 0]
        total += 1
        counts[2] += 1
        left_over = marks is not None and not timeline.made_since(m, marks.get(key, 0))
        if left_over or (version and (m.get("spec") or {}).get("version") != version):
            other += 1
            counts[1] += 1
            continue
        if (m.get("status") or {}).get("nodeRef"):
            with_node += 1
        if timeline.ready_time(m, "Machine")[0] is not None:
            ready += 1
            counts[0] += 1
    return with_node, ready, other, total


def clusters_done(snap: dict, p: dict) -> bool:
    """cluster_wait's target (options count, machines): enough Clusters ready and enough Machines ready (with a
    version: at it, and none left at another; with shape: as many as the topologies ask for, and no more)."""
    return (
        snap["ready"] >= p["count"]
        and snap["machines_ready"] >= max(p["machines"], snap.get("machines_wanted", 0))
        and not snap.get("machines_other_version")
        and not snap.get("pools_not_at_version")
        and not snap.get("machines_before_rollout")
        and not snap.get("soak_left")
        and snap.get("machines_total", 0) == snap.get("machines_wanted", 0)
    )


def wait_until(left: Callable[[], list], timeout: float, interval: float = 2.0) -> list:
    """Call left() until it returns nothing or timeout passes; return its last answer (what is still pending)."""
    deadline = time.monotonic() + timeout
    while True:
        pending = left()
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(min(interval, max(0.1, deadline - time.monotonic())))


def poll_until(probe: Callable[[], dict], window: float, interval: float, cost_factor: float = 0.0) -> dict:
    """Call probe() until its answer is `done` or `window` seconds passed; return the last answer.

    Seconds between probes are at least cost_factor times the last probe's duration, so a poll of a large set (a
    list of 1,000 hosts is ~3 MB and ~0.6 s of API server time) stays a small share of the server's work.

    A probe the API server does not answer in time (a connection error or timeout past the client's retries) is
    polled again once this window has an answer: the window returns that answer with `probe_errors`. With none, it
    raises (wait_module fails the window as transient; the windows loop goes on after a first answer).
    """
    deadline = time.monotonic() + window
    last, errors, error = None, 0, ""
    while True:
        t0 = time.monotonic()
        try:
            snap = probe()
        except CONN_ERRORS as e:
            if last is None:
                raise
            errors, error = errors + 1, f"{type(e).__name__}: {e}"
            snap = last
        else:
            last = snap
        if errors:
            snap = {**snap, "probe_errors": errors, "last_probe_error": error}
        pause = max(interval, cost_factor * (time.monotonic() - t0))
        if snap["done"] or time.monotonic() + pause > deadline:
            return snap
        time.sleep(pause)


def probe_clusters(client: KubeClient, p: dict) -> dict:
    """One poll of cluster_wait's set (options name, count, machines): its snapshot, `done` when ready enough. After a
    phase (version or shape) `done` is confirmed by a second look an interval later: a Cluster's Available condition
    drops for a second as the topology bumps its worker pools after the control plane (seen on capi-1.14), and a
    wait that ended in that gap left the results to find the Cluster not ready."""
    for look in range(2 if after_phase(p) else 1):
        if look:
            time.sleep(p["interval"])
        snap = snapshot(client, p)
        snap["done"] = clusters_done(snap, p)
        if not snap["done"]:
            break
    return snap


# cluster_wait's and bmh_wait's stall option (doc fragment scalelab.capi.stall; plugin_utils.windows.stall_check).
STALL_ARGUMENT_SPEC = {"stall_timeout": {"type": "float", "default": 60.0}}


def wait_module(module, at_least: dict, probe: Callable[[KubeClient, dict], dict], cost_factor: float = 0.0) -> None:
    """A *_wait module's run: options checked, probe(client, params) polled until `done` or for at most `window` seconds
    (once in check mode) and returned; never a change. An API error fails naming the kubeconfig."""
    require_libs(module)
    p = module.params
    bad = bounds(p, at_least, ("interval", "stall_timeout", "timeout", "window"))
    if bad:
        module.fail_json(msg=bad)
    window = 0.0 if module.check_mode else min(p["window"], p["timeout"])
    try:
        with KubeClient(p["kubeconfig"], p["context"]) as client:
            state = poll_until(lambda: probe(client, p), window, p["interval"], cost_factor)
    except SetError as e:
        module.fail_json(msg=str(e))
    except CONN_ERRORS as e:  # not answered in time: the action plugin polls again after a first answer
        module.fail_json(msg=f"kubeconfig={p['kubeconfig']}: {type(e).__name__}: {e}", transient=True)
    except (KubeError, OSError) as e:
        module.fail_json(msg=f"kubeconfig={p['kubeconfig']}: {e}")
    module.exit_json(changed=False, **state)
