# Copyright: scalelab contributors
# Apache-2.0
"""A set of N clusters: their names, namespaces and the objects each one is made of.

A set is named; every object it creates carries the label scalelab.io/set=<name> and scalelab.io/index=<i>,
so a re-run lists what exists with one paginated list per kind and creates only what is missing (idempotent,
resumable), and a delete finds everything it made and nothing else.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError

try:
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

SET_LABEL = "scalelab.io/set"
INDEX_LABEL = "scalelab.io/index"
CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
# Written by cluster_phase on the Clusters it changes: the version the set was created at (kept through later
# upgrades, so a re-run of the scenario that created the set still recognises it), and when each phase touched it.
CREATED_VERSION = "scalelab.io/created-version"
# ... and the worker pools it was created with (name and replicas, as _shape compares them), written by scale_workers.
CREATED_WORKERS = "scalelab.io/created-workers"
# On a template set's KubeadmControlPlane and MachineDeployments (no topology): {path: value it was created with} for
# each shaping path a phase changed there (sets/shapes.py), read like the two above.
CREATED_SHAPE = "scalelab.io/created-shape"
PHASE_STARTED = "scalelab.io/{phase}-started"
_DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
# ${VAR}, or with clusterctl's defaults: ${VAR:=default} / ${VAR:-default} (unset or empty), ${VAR=default} /
# ${VAR-default} (unset). Groups: name, operator, default.
_PLACEHOLDER = r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[=-])([^}]*))?\}"
_VAR = re.compile(_PLACEHOLDER)
# In the serialised JSON: a whole string value "${VAR}" (its opening quote not escaped), or ${VAR} in a string.
_WHOLE = re.compile(rf'(?<!\\)"{_PLACEHOLDER}"')
_UNSET = object()


def _dns_label(value: str) -> bool:
    return bool(_DNS_LABEL.fullmatch(value)) and len(value) <= MAX_NAME


MAX_NAME = 63


class SetError(ScalelabError, ValueError):
    """Bad input for a cluster set; the message names the option and the value."""


@dataclass(frozen=True)
class Member:
    index: int
    name: str
    namespace: str


def members(set_name: str, count: int, name_pattern: str, namespace: str, per_cluster_ns: bool) -> list[Member]:
    """The clusters of a set, index 1..count; names checked as DNS labels and unique."""
    if not _dns_label(set_name):
        raise SetError(f"name={set_name!r} must be a DNS label (lowercase letters, digits, '-'; <= 63 characters)")
    if count < 0:
        raise SetError(f"count={count} must be >= 0")
    if not per_cluster_ns and not _dns_label(namespace):
        raise SetError(f"namespace={namespace!r} must be a DNS label of <= 63 characters")
    out: list[Member] = []
    seen: dict[str, int] = {}
    for i in range(1, count + 1):
        try:
            name = name_pattern.format(name=set_name, index=i)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
            raise SetError(
                f"name_pattern={name_pattern!r}: {e!r}; use the fields {{name}} and {{index}}, "
                "e.g. '{name}-{index:04d}'"
            ) from e
        if not _dns_label(name):
            raise SetError(
                f"name_pattern={name_pattern!r} gives {name!r} for index {i}: not a DNS label of <= 63 characters"
            )
        if name in seen:
            raise SetError(
                f"name_pattern={name_pattern!r} gives {name!r} for index {seen[name]} and {i}: "
                "names must be unique (use {index})"
            )
        seen[name] = i
        out.append(Member(i, name, name if per_cluster_ns else namespace))
    return out


def topology_cluster(api_version: str, topo: dict, network: dict) -> dict:
    """A Cluster of a ClusterClass, in the served Cluster API version (v1beta2 has classRef, v1beta1 class)."""
    workers = [{"class": topo["worker_class"], "name": "md-0", "replicas": topo["workers"]}]
    if api_version.endswith("/v1beta1"):
        topology = {"class": topo["class_name"], "version": topo["version"]}
    else:
        topology = {
            "classRef": {"name": topo["class_name"], "namespace": "${CLASS_NAMESPACE}"},
            "version": topo["version"],
        }
    topology["controlPlane"] = {"replicas": topo["control_plane_replicas"]}
    topology["workers"] = {"machineDeployments": workers}
    return {
        "apiVersion": api_version,
        "kind": "Cluster",
        "metadata": {"name": "${CLUSTER_NAME}", "namespace": "${NAMESPACE}"},
        "spec": {
            "clusterNetwork": {
                "services": {"cidrBlocks": [network["service_cidr"]]},
                "pods": {"cidrBlocks": [network["pod_cidr"]]},
                "serviceDomain": network["service_domain"],
            },
            "topology": topology,
        },
    }


def parse_template(text: str) -> list[dict]:
    """The documents of a multi-document YAML template, each with apiVersion, kind and metadata.name."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as e:
        raise SetError(f"template: not valid YAML: {e}") from e
    if not docs:
        raise SetError("template: no documents")
    for i, d in enumerate(docs):
        if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind"):
            raise SetError(f"template: document {i + 1} lacks apiVersion or kind")
        if not (d.get("metadata") or {}).get("name"):
            raise SetError(f"template: document {i + 1} ({d['kind']}) lacks metadata.name")
    if not any(d["kind"] == "Cluster" for d in docs):
        raise SetError("template: no Cluster document")
    return docs


ENDPOINT_VARS = ("CONTROL_PLANE_HOST", "CONTROL_PLANE_PORT")


def endpoints(pool: list[dict], count: int) -> list[tuple[str, int]]:
    """The control-plane endpoint of clusters 1..count, dealt round-robin over the pool's farms.

    Cluster i (0-based slot i-1) goes to farm (i-1) % len(pool) at its port_min + (i-1) // len(pool): fixed by
    the index, so a re-run or a resumed run gives every cluster the endpoint it was created with.
    """
    if not pool:
        return []
    for n, farm in enumerate(pool):
        host, lo, hi = farm.get("host"), farm.get("port_min"), farm.get("port_max")
        if not host or not isinstance(lo, int) or not isinstance(hi, int) or not 0 < lo <= hi < 65536:
            raise SetError(f"endpoint_pool[{n}]={farm!r} needs host and port_min <= port_max within 1-65535")
    seen: dict[str, int] = {}
    for n, farm in enumerate(pool):
        try:
            ipaddress.ip_address(farm["host"])
        except ValueError:
            raise SetError(f"endpoint_pool[{n}].host={farm['host']!r} must be an IP address (the farm's)") from None
        if farm["host"] in seen:
            raise SetError(f"endpoint_pool[{n}]: host {farm['host']} is already endpoint_pool[{seen[farm['host']]}]")
        seen[farm["host"]] = n
    out = []
    for slot in range(count):
        farm = pool[slot % len(pool)]
        port = farm["port_min"] + slot // len(pool)
        if port > farm["port_max"]:
            capacity = sum(f["port_max"] - f["port_min"] + 1 for f in pool)
            raise SetError(
                f"count={count} needs more endpoints than endpoint_pool has ({farm['host']} "
                f"{farm['port_min']}-{farm['port_max']} is full; {capacity} ports in all): widen the farms' "
                "port ranges or add a farm"
            )
        out.append((farm["host"], port))
    return out


class Renderer:
    """Substitutes ${VARS} in a template's documents for each member, fast enough for 10k clusters.

    The documents are serialised once; per member only string replacement and one json.loads run. A value
    that is a whole string ("${COUNT}") takes the variable's JSON type, so numbers stay numbers.
    """

    def __init__(
        self,
        docs: list[dict],
        variables: dict,
        set_name: str,
        extra_labels: dict,
        cluster_endpoints: list[tuple[str, int]] | None = None,
    ):
        self.text = json.dumps(docs)
        self.variables = dict(variables)
        self.set_name = set_name
        self.extra_labels = dict(extra_labels)
        self.endpoints = cluster_endpoints or []
        used = {name for name, op, _dummy in _VAR.findall(self.text) if not op}
        missing = used - set(self.variables) - {"CLUSTER_NAME", "NAMESPACE", "INDEX"}
        if self.endpoints:
            missing -= set(ENDPOINT_VARS)
        if missing & set(ENDPOINT_VARS):
            raise SetError(
                f"template uses ${{{'}, ${'.join(sorted(missing & set(ENDPOINT_VARS)))}}}: set endpoint_pool "
                "(the API server farms the clusters' endpoints are dealt from)"
            )
        if missing:
            raise SetError(f"template uses ${{{'}, ${'.join(sorted(missing))}}} but variables does not set it")

    def render(self, m: Member) -> list[dict]:
        values = {**self.variables, "CLUSTER_NAME": m.name, "NAMESPACE": m.namespace, "INDEX": m.index}
        if self.endpoints:
            values["CONTROL_PLANE_HOST"], values["CONTROL_PLANE_PORT"] = self.endpoints[m.index - 1]
        # One pass each, so a value that itself contains ${...} is never substituted again.
        text = _WHOLE.sub(lambda x: json.dumps(_value(values, x, whole=True)), self.text)
        text = _VAR.sub(lambda x: _value(values, x, whole=False), text)
        docs = json.loads(text)
        for d in docs:
            md = d.setdefault("metadata", {})
            md.setdefault("namespace", m.namespace)
            labels = md.setdefault("labels", {}) or {}
            labels.update(self.extra_labels)
            labels[SET_LABEL] = self.set_name
            labels[INDEX_LABEL] = str(m.index)
            md["labels"] = labels
        return docs


def _value(values: dict, match: re.Match, whole: bool):
    """A placeholder's value: a whole value keeps its type (a default its YAML type, as in clusterctl's YAML); inside
    a string, JSON-escaped text. The default is taken from the serialised JSON, so it is already escaped there."""
    name, op, default = match.groups()
    value = values.get(name, _UNSET)
    if op and (value is _UNSET or (op.startswith(":") and value in ("", None))):
        if not whole:
            return default
        text = json.loads(f'"{default}"')
        try:
            return yaml.safe_load(text) if yaml is not None and text.strip() else text
        except yaml.YAMLError:
            return text
    if whole:
        return value
    return json.dumps(str(value))[1:-1]


def namespace_object(name: str, set_name: str, index: int | None, extra_labels: dict) -> dict:
    labels = {**extra_labels, SET_LABEL: set_name}
    if index is not None:
        labels[INDEX_LABEL] = str(index)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def key(obj: dict) -> tuple[str, str, str]:
    """(kind, namespace, name) of an object: how existing and wanted objects are compared."""
    md = obj.get("metadata", {})
    return obj["kind"], md.get("namespace", "") if obj["kind"] != "Namespace" else "", md["name"]


# What shapes a set's objects: a run whose rendered objects differ here from the set's existing ones would wait for
# machines that never come (or leave the set half one shape, half another).
SHAPE_PATHS = (
    "spec.topology.classRef.name",
    "spec.topology.class",
    "spec.topology.version",
    "spec.topology.controlPlane.replicas",
    "spec.topology.workers.machineDeployments",
    "spec.replicas",
    "spec.version",
    "spec.template.spec.version",
    "spec.controlPlaneEndpoint",
)


def _at(obj: dict, path: str):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _shape(value):
    """A comparable form: worker pools by name and replicas only (Cluster API fills in the rest)."""
    if isinstance(value, list):
        return sorted((str(v.get("name")), str(v.get("replicas"))) for v in value if isinstance(v, dict))
    if isinstance(value, dict):
        return {k: str(v) for k, v in value.items()}
    return str(value)


def workers_shape(pools) -> str:
    """The worker pools as CREATED_WORKERS keeps them (and shape_differences compares them)."""
    return json.dumps(_shape(pools or []))


def created_shape(obj: dict) -> dict:
    """{path: value} an object's CREATED_SHAPE annotation holds ({} when absent or not such a mapping)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    try:
        created = json.loads(annotations.get(CREATED_SHAPE) or "{}")
    except ValueError:
        return {}
    return created if isinstance(created, dict) else {}


def shape_differences(wanted: dict, found: dict) -> list[str]:
    """'<path> is <found>, wanted <wanted>' for each shaping field the wanted object sets and the found one lacks
    or differs in."""
    out = []
    annotations = (found.get("metadata") or {}).get("annotations") or {}
    created_at = annotations.get(CREATED_VERSION)
    created = created_shape(found)
    for path in SHAPE_PATHS:
        want = _at(wanted, path)
        if want is None:
            continue
        have = _at(found, path)
        if path == "spec.topology.version" and created_at == want:
            continue  # upgraded by a phase after it was created at the wanted version: the same set
        if path == "spec.topology.workers.machineDeployments" and annotations.get(CREATED_WORKERS) == workers_shape(
            want
        ):
            continue  # scaled by a phase after it was created with the wanted pools: the same set
        if created.get(path) == _shape(want):
            continue  # a template set's control plane or pool changed by a phase after it was created as wanted
        if _shape(want) != _shape(have):
            out.append(f"{path} is {json.dumps(have)}, wanted {json.dumps(want)}")
    return out
