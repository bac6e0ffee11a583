# Copyright: scalelab contributors
# Apache-2.0
"""bmh_bulk's logic: a host set present (Secrets, BareMetalHosts, images of the first K) or absent.

Returns (changed, state) in the amazon.aws way; check mode is passed down and writes nothing. The set's hosts
are read with one paginated list (their spec.image and provisioning state), never one GET per host.
"""

from __future__ import annotations

from ansible_collections.scalelab.capi.plugins.module_utils.kube.checks import bounds
from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeClient, KubeError
from ansible_collections.scalelab.capi.plugins.module_utils.results.host_timeline import host_timeline
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import SET_LABEL
from ansible_collections.scalelab.capi.plugins.module_utils.sets.engine import (
    Bulk,
    BulkFailed,
    call_report,
    check_pacing,
    connected,
    merged,
)
from ansible_collections.scalelab.capi.plugins.module_utils.sets.hosts import (
    BMH_API,
    BMH_KIND,
    HostRenderer,
    Member,
    SetError,
    host_members,
    image_spec,
)
from ansible_collections.scalelab.capi.plugins.module_utils.sets.pacing import AdaptivePacer
from ansible_collections.scalelab.capi.plugins.module_utils.sets.waiters import wait_until

METAL3_GROUP = "metal3.io"
# States in which a host still holds (or is giving up) an image: not yet free to be provisioned again.
BUSY_STATES = ("provisioning", "provisioned", "deprovisioning")
# The counts of hosts a run returns (RV hosts), all 0 to begin with.
HOST_COUNTS = dict.fromkeys(("wanted", "existing_before", "created", "image_set", "image_removed", "deleted"), 0)
__all__ = ["BulkFailed", "SetError", "run", "snapshot"]


def check_served(client: KubeClient) -> None:
    if "v1alpha1" not in client.served_versions(METAL3_GROUP):
        raise SetError(
            f"kubeconfig: {client.server} serves no {BMH_API} API: install the Metal3 stack "
            "(role scalelab.capi.metal3_stack) first"
        )


def hosts(client: KubeClient, set_name: str, policy=None) -> dict[str, dict]:
    """The set's hosts by name: namespace, image URL, provisioning state, error."""
    out = {}
    path = client.path(BMH_API, BMH_KIND)
    for page in client.list_pages(path, label_selector=f"{SET_LABEL}={set_name}", policy=policy):
        for h in page:
            md = h["metadata"]
            status = h.get("status") or {}
            out[md["name"]] = {
                "namespace": md.get("namespace", ""),
                "image": ((h.get("spec") or {}).get("image") or {}).get("url", ""),
                "provisioned_image": ((status.get("provisioning") or {}).get("image") or {}).get("url", ""),
                "state": (status.get("provisioning") or {}).get("state", ""),
                "error": status.get("errorMessage", ""),
                "error_type": status.get("errorType", ""),
                "deleting": bool(md.get("deletionTimestamp")),
            }
    return out


def _validate(p: dict) -> None:
    check_pacing(p)
    if p["provisioned"] is not None:
        if not 0 <= p["provisioned"] <= p["count"]:
            raise SetError(f"provisioned={p['provisioned']} must be between 0 and count={p['count']}")
        if p["provisioned"] > 0 and not p["image"]:
            raise SetError(f"provisioned={p['provisioned']} needs image (the image BMO writes to those hosts)")
    # The action plugin waits after the writes: its options are refused here, before them.
    w = p.get("wait") or {}
    bad = bounds(w, positive=("timeout", "report_every"))
    if bad:
        raise SetError(f"wait.{bad}")
    if w and w.get("count") is not None and not 0 <= w["count"] <= p["count"]:
        raise SetError(f"wait.count={w['count']} must be between 0 and count={p['count']} (the hosts that can exist)")


def run(p: dict, check_mode: bool) -> tuple[bool, dict]:
    set_members = host_members(p)
    _validate(p)
    renderer = HostRenderer(p)
    renderer.check(set_members)
    with connected(p, check_served) as (bulk, _dummy):
        if p["state"] == "absent":
            changed, state = ensure_absent(bulk, p, check_mode)
        else:
            changed, state = ensure_present(bulk, p, renderer, set_members, check_mode)
    state["first_write"] = bulk.first_write()
    return changed, state


def _image_changes(p: dict, set_members: list[Member], found: dict[str, dict]) -> list[tuple[Member, dict | None]]:
    """(member, new spec.image or None to remove) for hosts whose image must change to match `provisioned`."""
    if p["provisioned"] is None:
        return []
    image = image_spec(p["image"])
    out = []
    for m in set_members:
        have = found.get(m.name, {}).get("image", "")
        if m.index <= p["provisioned"] and have != image["url"]:
            out.append((m, image))
        elif m.index > p["provisioned"] and have:
            out.append((m, None))
    return out


def ensure_present(
    bulk: Bulk, p: dict, renderer: HostRenderer, set_members: list[Member], check: bool
) -> tuple[bool, dict]:
    found = hosts(bulk.client, p["name"], bulk.policy)
    secrets = {k[2] for k in bulk.existing([("v1", "Secret")], p["name"])}
    image = image_spec(p["image"])
    with_image = set() if p["provisioned"] is None else {m.name for m in set_members if m.index <= p["provisioned"]}

    def missing(m: Member) -> list[dict]:
        objs = []
        if renderer.secret_name(m) not in secrets:
            objs.append(renderer.secret(m))
        if m.name not in found:  # a new host gets its image at once when it is among the first `provisioned`
            objs.append(renderer.host(m, image if m.name in with_image else None))
        return objs

    todo = [m for m in set_members if renderer.secret_name(m) not in secrets or m.name not in found]
    images = [(m, img) for m, img in _image_changes(p, set_members, found) if m.name in found]
    # A host whose image goes away or is replaced gives its image up first (see _set_images).
    removals = [m for m, _dummy in images if found[m.name]["image"]]
    sets = [(m, img) for m, img in images if img]
    hosts_state = {**HOST_COUNTS, "wanted": len(set_members)}
    hosts_state["existing_before"] = sum(1 for m in set_members if m.name in found)
    before_prov = sum(1 for h in found.values() if h["image"])
    state = {"hosts": hosts_state, "objects": 0, "calls": {}}
    after_prov = before_prov + sum(1 for _dummy, i in images if i) - len(removals)
    after_prov += sum(1 for m in todo if m.name not in found and m.name in with_image)
    state["diff"] = {
        "before": {"hosts": hosts_state["existing_before"], "with_image": before_prov},
        "after": {"hosts": len(set_members), "with_image": after_prov},
    }
    if not todo and not images:
        return False, state
    if check:
        hosts_state["created"] = sum(1 for m in todo if m.name not in found)
        hosts_state["image_set"] = len(sets)
        hosts_state["image_removed"] = len(images) - len(sets)
        return True, state

    total = None
    if todo:
        bulk.ensure_namespace(p["namespace"], p["name"], p["labels"])
        # Fail before the first write when the API refuses the objects (a bad host_spec field, a webhook).
        for obj in missing(todo[0]):
            try:
                bulk.create(obj, lambda: None, dry_run=True)
            except KubeError as e:
                raise SetError(f"{obj['kind']} {obj['metadata']['name']} is refused: {e}") from e
        create = (
            lambda m, acquire: [bulk.create(o, acquire) for o in missing(m)],
            lambda m: f"BareMetalHost {m.namespace}/{m.name}",
        )
        if p["pacing"] == "adaptive":
            pacer = AdaptivePacer(start=p["pacing_window"])
            total = bulk.paced(
                todo, *create, bulk.in_flight(BMH_API, BMH_KIND, p["name"], _times), pacer, p["pacing_interval"]
            )
            state["pacing"] = pacer.summary()
        else:
            total = bulk.batches(todo, *create, p["batch_size"], p["batch_pause"])
        state["objects"] = total.counts.get("created", 0) + total.counts.get("exists", 0)
        if not total.failed:
            hosts_state["created"] = sum(1 for m in todo if m.name not in found)
    if images and (total is None or not total.failed):
        res = _set_images(bulk, p, removals, sets)
        if not res.failed:
            hosts_state["image_set"] = len(sets)
            hosts_state["image_removed"] = len(images) - len(sets)
        total = merged(total, res)
    state["calls"] = call_report(total, bulk.policy)
    if total.failed:
        raise BulkFailed(
            f"{total.failed} host(s) of set {p['name']} could not be written (first: {total.failures[0]['object']}: "
            f"{total.failures[0]['error']}); what was written stays, run again to resume",
            {"changed": True, **state},
        )
    if hosts_state["created"] and total.seconds > 0:
        state["hosts_per_second"] = round(hosts_state["created"] / total.seconds, 2)
    return True, state


def _times(host: dict) -> tuple[float | None, float | None]:
    t = host_timeline(host)
    return t.created, t.seconds_to_available


def _set_images(bulk: Bulk, p: dict, removals: list[Member], sets: list[tuple[Member, dict]]):
    """Remove images, wait until no host of the set is deprovisioning, then set images.

    Sequential because BMO's test mode (v0.6.0) keeps one fixture state for every host: a host deprovisioning
    while another provisions clear each other's image forever. Real provisioners only lose a little time.
    """

    def patch(pairs: list[tuple[Member, dict | None]]):
        return bulk.batches(
            pairs,
            lambda mi, acquire: [
                bulk.patch(("BareMetalHost", mi[0].namespace, mi[0].name), BMH_API, {"spec": {"image": mi[1]}}, acquire)
            ],
            lambda mi: f"BareMetalHost {mi[0].namespace}/{mi[0].name} image",
            p["batch_size"],
            p["batch_pause"],
        )

    total = patch([(m, None) for m in removals]) if removals else None
    if total is not None and (total.failed or not sets):
        return total
    names = {m.name for m in removals}

    def busy() -> list[str]:
        # The hosts giving an image up now, and any host of the set still deprovisioning from an earlier run.
        now = hosts(bulk.client, p["name"], bulk.policy)
        return sorted(
            n for n, h in now.items() if (n in names and h["state"] in BUSY_STATES) or h["state"] == "deprovisioning"
        )

    left = wait_until(busy, p["delete_timeout"])
    if left:
        raise BulkFailed(
            f"set {p['name']}: {len(left)} host(s) still deprovisioning after delete_timeout="
            f"{p['delete_timeout']}s (first: {left[0]}); images are set once they are done, run again to resume",
            {"changed": total is not None, "left": left[:20]},
        )
    return merged(total, patch(sets))


def ensure_absent(bulk: Bulk, p: dict, check: bool) -> tuple[bool, dict]:
    # Hosts first: BMO deprovisions each (if it has an image) and removes its finalizer, then the Secrets go.
    hosts_state = dict(HOST_COUNTS)
    state = {"hosts": hosts_state, "objects": 0, "calls": {}}
    kinds = ((BMH_API, BMH_KIND), ("v1", "Secret"), ("v1", "Namespace"))
    counted = (BMH_KIND, hosts_state, lambda _first: "; is the Bare Metal Operator running?")
    changed = bulk.delete_set(p["name"], kinds, p["delete_timeout"], check, state, counted)
    state["diff"] = {"before": {"hosts": hosts_state["existing_before"]}, "after": {"hosts": 0}}
    return changed, state


def reached_state(h: dict, target: str) -> bool:
    """Whether a host (as hosts() reads it) has settled in `target`, not merely passing through it.

    Right after bmh_bulk changes images BMO has not acted yet: a host still "provisioned" with its old image, or
    "available" with an image it is about to get, must not count.
    """
    if h["state"] != target:
        return False
    if target == "provisioned":
        return bool(h["image"]) and h["provisioned_image"] == h["image"]
    if target == "available":
        return not h["image"]
    return True


def snapshot(client: KubeClient, set_name: str, target: str, count: int) -> dict:
    """One poll of a set for waiting: hosts per state, how many reached `target`, the first errors."""
    check_served(client)
    bulk_hosts = hosts(client, set_name)
    states: dict[str, int] = {}
    errors = []
    for name, h in sorted(bulk_hosts.items()):
        states[h["state"] or "none"] = states.get(h["state"] or "none", 0) + 1
        if h["error"] and len(errors) < 10:
            errors.append(
                {
                    "name": name,
                    "namespace": h["namespace"],
                    "state": h["state"],
                    "error_type": h["error_type"],
                    "error": h["error"][:200],
                }
            )
    reached = sum(1 for h in bulk_hosts.values() if reached_state(h, target))
    return {
        "total": len(bulk_hosts),
        "states": dict(sorted(states.items())),
        "reached": reached,
        "errors": errors,
        "done": reached >= count,
    }
