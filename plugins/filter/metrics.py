# Copyright: scalelab contributors
# Apache-2.0
"""The metric names gates and baselines judge, known before a run (documented in unknown_metrics.yml)."""

from __future__ import annotations

from ansible_collections.scalelab.capi.plugins.module_utils.observe import cost, soak
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates, headline


def unknown_metrics(names) -> list[str]:
    """The names that are no metric of a results JSON: a gate on one would fail only after the whole run, as not
    measured. Per-manager metrics are <metric>.<job>, cost per object also <metric>.<verb>."""
    out = []
    for name in names:
        base, dot, job = str(name).partition(".")
        parted = (*gates.MANAGER_METRICS, *cost.PARTED, *soak.NAMES)
        if (dot and job and base in parted) or (not dot and base in headline.HUMAN):
            continue
        out.append(str(name))
    return out


def metric_names(_dummy=None) -> list[str]:
    """Every metric name, per-manager ones as <metric>.<job>."""
    return (
        sorted(n for n in headline.HUMAN if n not in gates.MANAGER_METRICS)
        + [f"{n}.<job>" for n in gates.MANAGER_METRICS]
        + [f"{n}.<{'verb' if n.startswith('api_') else 'job'}>" for n in cost.PARTED]
        + [f"{n}.<job>" for n in soak.NAMES]
    )


class FilterModule:
    def filters(self):
        return {"unknown_metrics": unknown_metrics, "metric_names": metric_names}
