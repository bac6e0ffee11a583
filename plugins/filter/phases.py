# Copyright: scalelab contributors
# Apache-2.0
"""scale_phases read from the one table of phases (module_utils/sets/phases.py): what is wrong with a list, how its
items look, what a phase goes to and how many hosts a metal3 set's phases need (documented in phase_problems.yml,
phase_forms.yml, phase_to.yml and phase_hosts.yml)."""

from __future__ import annotations

from ansible_collections.scalelab.capi.plugins.module_utils.sets import phases


def phase_problems(items) -> list[str]:
    return phases.problems(items)


def phase_forms(_dummy=None) -> str:
    return phases.forms()


def phase_hosts(items, clusters, control_plane, workers) -> int:
    return phases.hosts_needed(items, int(clusters), int(control_plane), int(workers))


def phase_to(item) -> str:
    """The value of the phase's target key as a string (v1.35.5, 3), "" for a phase that goes to nothing named."""
    kind = phases.TABLE.get(item.get("name")) if isinstance(item, dict) else None
    return str(item.get(kind.target, "")) if kind is not None and kind.target else ""


class FilterModule:
    def filters(self):
        return {
            "phase_problems": phase_problems,
            "phase_forms": phase_forms,
            "phase_to": phase_to,
            "phase_hosts": phase_hosts,
        }
