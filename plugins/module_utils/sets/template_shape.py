# Copyright: scalelab contributors
# Apache-2.0
"""A template set's shape - a Cluster without spec.topology, its KubeadmControlPlane and MachineDeployments made from
a template (the metal3 scenario's clusters): what each lifecycle phase patches on them, what they have, and how many
Machines they want. The topology's counterpart is phases.py's classes. Work in progress (stop 42): not wired into
cluster_phase or the waits yet."""

from __future__ import annotations


def _after(at: str) -> str:
    return at[:19] + "Z"  # metav1.Time keeps whole seconds


def patches(phase: str, p: dict, at: str, api_version: str) -> tuple[dict | None, dict | None]:
    """(the KubeadmControlPlane's merge patch, each MachineDeployment's), None where the phase changes nothing.
    api_version is the Cluster API contract served (v1beta1: rolloutAfter; v1beta2: rollout.after)."""
    if phase == "upgrade":
        return {"spec": {"version": p["version"]}}, {"spec": {"template": {"spec": {"version": p["version"]}}}}
    if phase == "rollout":
        after = _after(at)
        rollout = {"rollout": {"after": after}} if api_version.endswith("v1beta2") else {"rolloutAfter": after}
        return {"spec": dict(rollout)}, {"spec": dict(rollout)}
    if phase == "scale_workers":
        return None, {"spec": {"replicas": p["replicas"]}}
    if phase in ("soak", "delete"):
        return None, None
    raise ValueError(f"phase={phase}: not a phase a template set knows")


def _one_or_all(values: list):
    distinct = sorted(set(values))
    return distinct[0] if len(distinct) == 1 else distinct


def have(phase: str, kcp: dict, mds: list[dict]):
    """What the phase changes, as the control plane and pools have it (one value when they agree)."""
    if phase == "upgrade":
        versions = [(kcp.get("spec") or {}).get("version")]
        versions += [(((md.get("spec") or {}).get("template") or {}).get("spec") or {}).get("version") for md in mds]
        return _one_or_all([v for v in versions if v])
    if phase == "scale_workers":
        return _one_or_all([int((md.get("spec") or {}).get("replicas") or 0) for md in mds])
    raise ValueError(f"phase={phase}: a template set's {phase} is read from its marks, not its spec")


def expected_machines(kcp: dict, mds: list[dict]) -> int:
    """Machines a template Cluster should have: its control plane's replicas and its pools'."""
    cp = int((kcp.get("spec") or {}).get("replicas") or 0)
    return cp + sum(int((md.get("spec") or {}).get("replicas") or 0) for md in mds)
