# Copyright: scalelab contributors
# Apache-2.0
"""Leaks at rest: per component, how fast memory and goroutines grow while the lab holds its objects and does
nothing new - the snapshot's steady state (its tail, from a minute after the run's last object was ready).

A least-squares line through each gauge's points there (report.sizing.fit), its slope per hour with the slope's
standard error: a slope within about two errors of zero is no evidence of a leak; a short soak gives wide errors
(`scale_snapshot_tail` is the soak's length - minutes to see a fast leak, an hour for a slow one).
"""

from __future__ import annotations

from ansible_collections.scalelab.capi.plugins.module_utils.observe.cost import steady_window
from ansible_collections.scalelab.capi.plugins.module_utils.report.sizing import SizingError, fit

QUERIES = {"goroutines": "sum by (job) (go_goroutines)"}
# Gauges -> (the name of the slope, the scale of a value): MiB for memory.
GAUGES = {
    "process_resident_memory_bytes": ("rss_mib_per_hour", 1 / 2**20),
    "goroutines": ("goroutines_per_hour", 1.0),
}
NAMES = tuple(name for name, _scale in GAUGES.values())
# A steady window (cost.steady_window: two minutes at least) with fewer points fits nothing.
MIN_POINTS = 5


def slopes(snap: dict, w: dict, converged: bool = True) -> dict:
    """{"seconds": soak length, "jobs": {job: {rss_mib_per_hour, rss_mib_per_hour_se, goroutines_per_hour, ...}}};
    {} when the tail holds no steady window long enough, or the run had not converged (its tail is not at rest)."""
    span = steady_window(w) if converged else None
    if span is None:
        return {}
    start, stop = span
    jobs: dict[str, dict] = {}
    for query, (name, scale) in GAUGES.items():
        for s in (snap.get(query) or {}).get("series", []):
            pts = [(float(t), float(v) * scale) for t, v in s.get("points", []) if v is not None and start <= t <= stop]
            if len(pts) < MIN_POINTS:
                continue
            try:
                f = fit([t - start for t, _v in pts], [v for _t, v in pts], "linear")
            except SizingError:  # every point at one time: nothing to fit
                continue
            job = jobs.setdefault(s["labels"].get("job", ""), {})
            job[name] = round(f["b"] * 3600, 3)
            job[f"{name}_se"] = round(f["b_se"] * 3600, 3)
    return {"seconds": round(stop - start, 1), "jobs": dict(sorted(jobs.items()))} if jobs else {}


def metrics(s: dict) -> dict[str, float]:
    """Flat names for gates and baselines: `rss_mib_per_hour.<job>`, `goroutines_per_hour.<job>`, and the largest
    of each over the components without a job."""
    out: dict[str, float] = {}
    for job, v in (s or {}).get("jobs", {}).items():
        for name, _scale in GAUGES.values():
            if name in v:
                out[f"{name}.{job}"] = v[name]
                out[name] = max(out.get(name, v[name]), v[name])
    return out


def growing(s: dict, errors: float = 2.0) -> list[tuple[str, str, float, float]]:
    """(job, slope name, slope, error) of each slope above `errors` standard errors of zero, largest first."""
    out = []
    for job, v in (s or {}).get("jobs", {}).items():
        for name, _scale in GAUGES.values():
            b, se = v.get(name), v.get(f"{name}_se")
            if b is not None and se is not None and b > 0 and b > errors * se:
                out.append((job, name, b, se))
    return sorted(out, key=lambda r: (-r[2], r[0], r[1]))
