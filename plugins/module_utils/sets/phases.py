# Copyright: scalelab contributors
# Apache-2.0
"""The lifecycle phases after creation, one class each: what a scale_phases item may say, what the phase changes on
a Cluster's shape (its topology, or a template Cluster's read into that form by shapes.py), and which Machines show
it back in shape. cluster_phase (phase_ops), scale_results
(results/phase), the reports' titles and the scale role's check of scale_phases (the phase_problems filter) read
this table: a new phase is one class here."""

from __future__ import annotations

import json
import re

from ansible_collections.scalelab.capi.plugins.module_utils.results.timeline import made_since, parse_time
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import (
    CREATED_VERSION,
    CREATED_WORKERS,
    PHASE_STARTED,
    SetError,
    workers_shape,
)

# What every phase may say: its own gates and baseline (a results JSON, or `previous`: the same phase of the set's
# latest earlier run that had it); those cluster_phase makes, their pace too.
JUDGED = ("gates", "baseline")
PACING = ("batch_size", "batch_pause", *JUDGED)
_VERSION = re.compile(r"^v[0-9]+[.][0-9]+[.][0-9]+([-+][0-9A-Za-z.+-]+)?$")  # a Kubernetes release, pre-releases too


def pools(topo: dict) -> list[dict]:
    return (topo.get("workers") or {}).get("machineDeployments") or []


def _annotations(cluster: dict) -> dict:
    return (cluster.get("metadata") or {}).get("annotations") or {}


def marked(cluster: dict, name: str) -> bool:
    return PHASE_STARTED.format(phase=name) in _annotations(cluster)


def mark_time(cluster: dict, name: str) -> float | None:
    """When phase `name` touched the Cluster (its scalelab.io/<name>-started mark), or None."""
    return parse_time(_annotations(cluster).get(PHASE_STARTED.format(phase=name)))


def marks(cluster: dict) -> dict[str, float | None]:
    """{phase: when it touched the Cluster} for every phase's mark on it."""
    prefix, suffix = PHASE_STARTED.split("{phase}")
    return {
        k[len(prefix) : -len(suffix)]: parse_time(v)
        for k, v in _annotations(cluster).items()
        if k.startswith(prefix) and k.endswith(suffix)
    }


class Phase:
    name = ""
    # The key (of a scale_phases item, and cluster_phase's or scale_results' option) saying what the phase goes to:
    # it names the phase's files (upgrade-v1.35.5). "" when the phase goes to nothing to name.
    target = ""
    # Whether cluster_phase takes the target (version, replicas); else only the wait and scale_results do (seconds).
    target_changes = True
    form = ""  # how the README's and check's one line show an item
    keys = PACING  # what an item may say besides name and target
    changes = True  # made by cluster_phase (delete is cluster_bulk's)

    def refused(self, value) -> str:
        """Why the target's value is refused ("" when it is fine)."""
        return ""

    def title(self, item: dict) -> str:
        return self.name

    def measures(self, p: dict) -> str:
        """What a cluster's seconds in this phase are, for the results' reader ("from ... to ...")."""
        return f"from when the {self.name} touched a cluster to back in shape"

    def have(self, cluster: dict, topo: dict):
        """What the phase changes, as the Cluster has it (compared with want)."""
        raise NotImplementedError

    def want(self, p: dict):
        raise NotImplementedError

    def spec(self, topo: dict, p: dict, at: str) -> dict:
        """The topology's part of the Cluster's merge patch; `at` is when (RFC3339)."""
        raise NotImplementedError

    def kept(self, topo: dict) -> dict:
        """Annotations written the first time a phase of this kind touches a Cluster: what it was created with."""
        return {}

    def differs(self, topo: dict, p: dict) -> str | None:
        """Why the Cluster's spec is not as the phase wants it yet, or None (scale_results)."""
        raise NotImplementedError

    def outcome(self, machines: list[dict], p: dict, start: float) -> list[dict]:
        """The Machines that show the Cluster back in shape (the others are left over from before)."""
        return machines

    def left(self, p: dict, old: int) -> str:
        """How the left-over Machines are said."""
        return ""

    def ends_at_conditions(self, made: list[dict]) -> bool:
        """Whether the Cluster's own newest condition transition after the mark ends it (nothing else may)."""
        return False


class Upgrade(Phase):
    name, target, keys = "upgrade", "version", PACING
    form = "{name: upgrade, version: like v1.35.5}"

    def refused(self, value) -> str:
        return "" if isinstance(value, str) and _VERSION.match(value) else "the version to upgrade to, like v1.35.5"

    def title(self, item: dict) -> str:
        return f"upgrade to {item.get('version')}"

    def measures(self, p: dict) -> str:
        return (
            f"from when the upgrade touched a cluster to all its Machines at {p.get('version')} and ready, none at "
            "another version left"
        )

    def have(self, cluster: dict, topo: dict):
        return topo["version"]

    def want(self, p: dict):
        return p.get("version")

    def spec(self, topo: dict, p: dict, at: str) -> dict:
        return {"version": p["version"]}

    def kept(self, topo: dict) -> dict:
        return {CREATED_VERSION: topo["version"]}

    def differs(self, topo: dict, p: dict) -> str | None:
        return None if topo.get("version") == p["version"] else f"at {topo.get('version')}"

    def outcome(self, machines: list[dict], p: dict, start: float) -> list[dict]:
        return [m for m in machines if (m.get("spec") or {}).get("version") == p["version"]]

    def left(self, p: dict, old: int) -> str:
        return f" at {p['version']}, {old} at another version left"


class Rollout(Phase):
    name = "rollout"
    form = "{name: rollout}"
    ROLLED = "rolled out"

    def measures(self, p: dict) -> str:
        return (
            "from when the rollout touched a cluster to every Machine it should have made after that ready, none "
            "from before left"
        )

    def have(self, cluster: dict, topo: dict):
        # Once per set, as an upgrade to the same version changes nothing: a Cluster with the mark was rolled out.
        return self.ROLLED if marked(cluster, self.name) else "not rolled out"

    def want(self, p: dict):
        return self.ROLLED

    def spec(self, topo: dict, p: dict, at: str) -> dict:
        # Machines made before rollout.after are replaced: the control plane's and every pool's (the whole list).
        after = at[:19] + "Z"  # metav1.Time keeps whole seconds
        spec = {"controlPlane": {"rollout": {"after": after}}}
        if pools(topo):
            spec["workers"] = {
                "machineDeployments": [
                    {**md, "rollout": {**(md.get("rollout") or {}), "after": after}} for md in pools(topo)
                ]
            }
        return spec

    def differs(self, topo: dict, p: dict) -> str | None:
        return None if ((topo.get("controlPlane") or {}).get("rollout") or {}).get("after") else "no rollout.after"

    def outcome(self, machines: list[dict], p: dict, start: float) -> list[dict]:
        return [m for m in machines if made_since(m, start)]

    def left(self, p: dict, old: int) -> str:
        return f" made after the mark, {old} from before left"


class ScaleWorkers(Phase):
    name, target = "scale_workers", "replicas"
    form = "{name: scale_workers, replicas: 0 or more}"

    def refused(self, value) -> str:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return "" if ok else "the worker replicas, >= 0"

    def title(self, item: dict) -> str:
        return f"scale_workers to {item.get('replicas')} replicas"

    def measures(self, p: dict) -> str:
        return (
            f"from when the scale touched a cluster to as many Machines as its shape asks for ({p.get('replicas')} "
            "per worker pool) ready and no more (a scale down that made none: to its newest condition transition "
            "after that)"
        )

    @staticmethod
    def replicas(topo: dict) -> list[int]:
        return sorted({int(md.get("replicas") or 0) for md in pools(topo)})

    def have(self, cluster: dict, topo: dict):
        # One number when the pools agree, else the sorted distinct ones.
        replicas = self.replicas(topo)
        if not replicas:
            md = cluster.get("metadata") or {}
            raise SetError(
                f"phase=scale_workers: Cluster {md.get('namespace', '')}/{md.get('name')} has no worker pool "
                "(spec.topology.workers, or a MachineDeployment of a template Cluster)"
            )
        return replicas[0] if len(replicas) == 1 else replicas

    def want(self, p: dict):
        return p.get("replicas")

    def spec(self, topo: dict, p: dict, at: str) -> dict:
        # A merge patch replaces a list whole: every pool again, each at the new replicas.
        return {"workers": {"machineDeployments": [{**md, "replicas": p["replicas"]} for md in pools(topo)]}}

    def kept(self, topo: dict) -> dict:
        return {CREATED_WORKERS: workers_shape(pools(topo))}

    def differs(self, topo: dict, p: dict) -> str | None:
        replicas = self.replicas(topo)
        return None if replicas == [p["replicas"]] else f"worker replicas {replicas}"

    def ends_at_conditions(self, made: list[dict]) -> bool:
        return not made  # a scale down: the Cluster's conditions (ScalingDown) are its trace


class Soak(Phase):
    """The set held as it is for `seconds`, doing nothing new: each Cluster is marked (an annotation, no spec change)
    and is timed from its mark to its last change after it (0 when it held still); the phase's Prometheus window is
    the soak, so its memory and goroutine slopes per component are the leak check."""

    name, target, keys, target_changes = "soak", "seconds", JUDGED, False
    form = "{name: soak, seconds: 180 to 86400}"
    HELD = "soaked"
    # The slopes need a steady window of 2 minutes that starts a minute after the marks (observe/cost.steady_window).
    MIN_SECONDS, MAX_SECONDS = 180, 86400

    def refused(self, value) -> str:
        ok = isinstance(value, int) and not isinstance(value, bool) and self.MIN_SECONDS <= value <= self.MAX_SECONDS
        return "" if ok else f"whole seconds from {self.MIN_SECONDS} to {self.MAX_SECONDS}"

    def title(self, item: dict) -> str:
        return f"soak for {item.get('seconds')} s"

    def measures(self, p: dict) -> str:
        return "from when the soak marked a cluster to its last change after that (0: it held still)"

    def have(self, cluster: dict, topo: dict):
        return self.HELD if marked(cluster, self.name) else "not soaked"

    def want(self, p: dict):
        return self.HELD

    def spec(self, topo: dict, p: dict, at: str) -> dict:
        return {}

    def differs(self, topo: dict, p: dict) -> str | None:
        return None

    def ends_at_conditions(self, made: list[dict]) -> bool:
        return True  # its last change after the mark, if any


class Delete(Phase):
    name, target, keys, changes = "delete", "", JUDGED, False
    form = "{name: delete}"

    def measures(self, p: dict) -> str:
        return "from a cluster's delete to the first look that found it gone"


TABLE: dict[str, Phase] = {k.name: k for k in (Upgrade(), Rollout(), ScaleWorkers(), Soak(), Delete())}
# The phases cluster_phase makes, and with cluster_bulk's delete the phases scale_results times.
CHANGES = tuple(n for n, k in TABLE.items() if k.changes)
PHASES = tuple(TABLE)


def title(item: dict) -> str:
    """How a report names a phase: "upgrade to v1.35.5", "scale_workers to 3 replicas", "rollout"."""
    kind = TABLE.get(item.get("name", ""))
    return kind.title(item) if kind else str(item.get("name"))


def problems(items) -> list[str]:
    """What is wrong with a scale_phases list, one phrase each (empty when it is fine): each item a mapping with a
    known name, its target valid, no other key than the phase allows, each name at most once, delete last."""
    if not isinstance(items, list):
        return ["not a list"]
    out, seen = [], []
    for i, item in enumerate(items):
        kind = TABLE.get(item.get("name")) if isinstance(item, dict) else None
        if kind is None:
            out.append(f"item {i} is not a mapping with a name out of {', '.join(PHASES)}")
            continue
        extra = sorted(set(item) - {"name", *([kind.target] if kind.target else []), *kind.keys})
        if extra:
            out.append(f"{kind.name} takes no {', '.join(extra)}")
        if kind.target and kind.refused(item.get(kind.target)):
            value = item.get(kind.target)
            out.append(f"{kind.name} {kind.target}={json.dumps(value, default=str)}: needs {kind.refused(value)}")
        baseline = item.get("baseline", "previous")
        if not isinstance(baseline, str) or not baseline:
            out.append(
                f"{kind.name} baseline={json.dumps(baseline, default=str)}: needs a results JSON path or previous"
            )
        if kind.name in seen:
            out.append(f"{kind.name} twice (a phase's mark on a cluster is per name)")
        if kind.name == "delete" and i != len(items) - 1:
            out.append("delete is not last (the set is gone after it)")
        seen.append(kind.name)
    return out


def measures(item: dict) -> str:
    """What a phase's seconds per cluster are: "from when the upgrade touched a cluster to ..."."""
    kind = TABLE.get(item.get("name", ""))
    return kind.measures(item) if kind else f"from when the {item.get('name')} touched a cluster to back in shape"


def forms() -> str:
    """Every phase's item as the check's message shows it."""
    return " or ".join(k.form for k in TABLE.values() if k.changes)


def hosts_needed(items: list, clusters: int, control_plane: int, workers: int) -> int:
    """Hosts a set of one host per Machine (the metal3 scenario) needs through its phases: its largest shape (a
    scale_workers up adds a host per new Machine), and one spare while an upgrade or rollout makes each replacement
    before its old Machine's host is freed (with one spare the replacements queue for it; with none they wait
    forever)."""
    items = [i for i in items if isinstance(i, dict)]
    most = max([workers, *(int(i.get("replicas") or 0) for i in items if i.get("name") == "scale_workers")])
    surge = any(i.get("name") in ("upgrade", "rollout") for i in items)
    return clusters * (control_plane + most) + int(surge)
