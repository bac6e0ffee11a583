# Copyright: scalelab contributors
# Apache-2.0
"""How many clusters of a set are ready, and how many of their Machines have a node: one poll = two lists."""

from __future__ import annotations

import time

from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeClient, KubeError
from ansible_collections.scalelab.capi.plugins.module_utils.results import timeline
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import CLUSTER_NAME_LABEL, SET_LABEL

GROUP = "cluster.x-k8s.io"


def snapshot(client: KubeClient, set_name: str, with_machines: bool) -> dict:
    versions = client.served_versions(GROUP)
    if not versions:
        raise KubeError(f"{client.server} serves no {GROUP} API: is the Cluster API stack installed?")
    api_version = f"{GROUP}/{versions[0]}"
    names: set[tuple[str, str]] = set()
    ready = 0
    not_ready = []
    for page in client.list_pages(client.path(api_version, "Cluster"), label_selector=f"{SET_LABEL}={set_name}"):
        for c in page:
            md = c["metadata"]
            names.add((md.get("namespace", ""), md["name"]))
            at, failing = timeline.ready_time(c, "Cluster")
            if at is not None:
                ready += 1
            elif len(not_ready) < 10:
                not_ready.append({"name": md["name"], "namespace": md.get("namespace", ""), "condition": failing})
    with_node = 0
    if with_machines and names:
        # Machines made by a ClusterClass carry no set label: select them by their cluster's name.
        for page in client.list_pages(client.path(api_version, "Machine")):
            for m in page:
                md = m["metadata"]
                owner = (md.get("namespace", ""), (md.get("labels") or {}).get(CLUSTER_NAME_LABEL, ""))
                if owner in names and (m.get("status") or {}).get("nodeRef"):
                    with_node += 1
    return {"total": len(names), "ready": ready, "machines_with_node": with_node, "not_ready": not_ready}


def poll(client: KubeClient, set_name: str, count: int, machines: int, window: float, interval: float) -> dict:
    """Poll until done or `window` seconds passed; return the last snapshot with `done`."""
    deadline = time.monotonic() + window
    while True:
        snap = snapshot(client, set_name, machines > 0)
        snap["done"] = snap["ready"] >= count and snap["machines_with_node"] >= machines
        if snap["done"] or time.monotonic() + interval > deadline:
            return snap
        time.sleep(interval)
