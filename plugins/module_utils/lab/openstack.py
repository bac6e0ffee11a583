"""What the openstack_vms role needs to know before it creates anything: the cloud answers, the image and flavor
exist, the servers it owns, and whether the project's quota leaves room for the ones still to make."""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError

try:
    import openstack  # noqa: F401
    from openstack import exceptions as os_exc

    HAS_OPENSTACKSDK = True
except ImportError:  # pragma: no cover - reported by the module via missing_required_lib
    HAS_OPENSTACKSDK = False

# Servers (and the security group, subnet) made by the role carry the owner's name here: a re-run, a count change
# and state=absent only ever touch what has it.
OWNER_KEY = "scalelab_owner"
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")


class CheckError(ScalelabError):
    """One line naming the option and the object."""


def server_name(owner: str, index: int) -> str:
    return f"{owner}-{index:02d}"


def index_of(owner: str, name: str) -> int | None:
    """The index of one of owner's servers by name (owner-NN); None for any other name."""
    m = re.fullmatch(re.escape(owner) + r"-(\d+)", name)
    return int(m.group(1)) if m else None


def address_of(addresses: dict[str, list[dict]]) -> str:
    """The address to reach a server on: its first floating IP, else its first fixed one, else ''."""
    ips = [a for net in sorted(addresses or {}) for a in addresses[net]]
    for want in ("floating", None):
        for a in ips:
            if want is None or a.get("OS-EXT-IPS:type") == want:
                return a.get("addr", "")
    return ""


def plan(owner: str, count: int, owned: list[str]) -> dict[str, list[str]]:
    """Which servers to create and which to delete so that exactly owner-01..owner-<count> exist."""
    want = {server_name(owner, i) for i in range(1, count + 1)}
    have = set(owned)
    return {"create": sorted(want - have), "delete": sorted(have - want), "keep": sorted(want & have)}


def shortfall(absolute: dict[str, Any], servers: int, vcpus: int, ram_mib: int) -> list[str]:
    """What the quota lacks for `servers` more servers of vcpus/ram each: a line per resource, [] if it fits.
    `absolute` holds nova's absolute limits (maxTotalInstances, totalInstancesUsed, ...); a limit < 0 is none."""
    out = []
    for what, limit_key, used_key, per in (
        ("instances", "maxTotalInstances", "totalInstancesUsed", 1),
        ("vCPUs", "maxTotalCores", "totalCoresUsed", vcpus),
        ("MiB of RAM", "maxTotalRAMSize", "totalRAMUsed", ram_mib),
    ):
        limit, used = absolute.get(limit_key), absolute.get(used_key) or 0
        if limit is None or limit < 0:
            continue
        need = servers * per
        if used + need > limit:
            out.append(f"{need} {what} needed, {max(0, limit - used)} left (quota {limit}, used {used})")
    return out


def _absolute(limits: Any) -> dict[str, Any]:
    """openstacksdk's AbsoluteLimits as nova's API names them."""
    a = limits.absolute
    return {
        "maxTotalInstances": a.instances,
        "totalInstancesUsed": a.instances_used,
        "maxTotalCores": a.total_cores,
        "totalCoresUsed": a.total_cores_used,
        "maxTotalRAMSize": a.total_ram,
        "totalRAMUsed": a.total_ram_used,
    }


def connect(cloud: str):
    """A connection to `cloud` of clouds.yaml ('' = OS_CLOUD / the environment), authenticated now."""
    where = f"cloud={cloud}" if cloud else "cloud (OS_CLOUD or OS_* variables)"
    try:
        conn = openstack.connect(cloud=cloud or None)
        conn.authorize()
    except os_exc.ConfigException as e:
        raise CheckError(f"{where}: not found in clouds.yaml ({e})") from e
    except os_exc.SDKException as e:
        raise CheckError(f"{where}: cannot authenticate: {e}") from e
    return conn


def _find(conn, p: dict, what: str):
    """The image or flavor of p by name or ID; CheckError naming the option when there is none."""
    if what == "image":
        found, listing = conn.image.find_image(p["image"], ignore_missing=True), conn.image.images
    else:
        found, listing = conn.compute.find_flavor(p["flavor"], ignore_missing=True), conn.compute.flavors
    if found is None:
        names = sorted(x.name for x in listing())[:10]
        raise CheckError(f"{what}={p[what]}: no such {what} in the cloud (there are: {', '.join(names) or 'none'})")
    return found


def check(conn, p: dict) -> dict:
    """Resolve image and flavor, list the owner's servers, and refuse a count the quota cannot hold."""
    owner = p["owner"]
    servers = sorted(
        (
            {
                "name": s.name,
                "id": s.id,
                "status": s.status,
                "address": address_of(s.addresses),
                "fault": (s.fault or {}).get("message", "") if s.status == "ERROR" else "",
            }
            for s in conn.compute.servers(details=True)
            if (s.metadata or {}).get(OWNER_KEY) == owner and index_of(owner, s.name) is not None
        ),
        key=lambda s: s["name"],
    )
    todo = plan(owner, p["count"], [s["name"] for s in servers])
    out: dict[str, Any] = {"servers": servers, "plan": todo, "image": {}, "flavor": {}}
    if p["image"]:
        image = _find(conn, p, "image")
        out["image"] = {"id": image.id, "name": image.name}
    if p["flavor"]:
        flavor = _find(conn, p, "flavor")
        out["flavor"] = {"id": flavor.id, "name": flavor.name, "vcpus": flavor.vcpus, "ram": flavor.ram}
    # The quota only matters for servers still to make (the role polls this module while they boot).
    if p["flavor"] and todo["create"]:
        lacking = shortfall(_absolute(conn.compute.get_limits()), len(todo["create"]), flavor.vcpus, flavor.ram)
        if lacking:
            raise CheckError(
                f"count={p['count']}: {len(todo['create'])} more servers of flavor {flavor.name} do not fit the "
                "project's quota: " + "; ".join(lacking)
            )
    return out


def validate(p: dict) -> None:
    if not NAME_RE.match(p["owner"]):
        raise CheckError(
            f"owner={p['owner']!r}: lowercase letters, digits and '-', 1-40 characters (it prefixes every name)"
        )
    if p["count"] < 0:
        raise CheckError(f"count={p['count']} must be >= 0")
    for what in ("image", "flavor"):
        if p["count"] > 0 and not p[what]:
            raise CheckError(f"{what} is required when count > 0 (count={p['count']})")


def run(p: dict) -> dict:
    validate(p)
    conn = connect(p["cloud"])
    try:
        return check(conn, p)
    except os_exc.SDKException as e:  # an API that fails after authenticating (a service down, a 5xx)
        raise CheckError(f"cloud={p['cloud'] or '(environment)'}: {e}") from e
    finally:
        conn.close()
