# Copyright: scalelab contributors
# Apache-2.0
"""What one object costs: per component, the CPU-seconds, memory growth, etcd bytes and API requests a run spent,
divided by the Clusters, Machines or BareMetalHosts it created; and at steady state (the snapshot's tail, after the
last object was ready) CPU-seconds and API requests per object-hour.

Read from a Prometheus snapshot alone (no live Prometheus): its points are evenly spaced samples of one-minute rates,
so an integral is the trapezoid sum over them. The numbers are as precise as the snapshot's step (a coarse step
blurs a short run) and a one-minute rate lags the run by up to a minute: the tail catches the end of that.
"""

from __future__ import annotations

# The unit an object is counted in -> the results document's kind.
UNITS = {"cluster": "Cluster", "machine": "Machine", "host": "BareMetalHost"}
# Flat metric names (gates, baselines) -> where they are in cost(); the per-component ones also as <name>.<job>.
METRICS = {
    "cpu_seconds_per_{unit}": "cpu_seconds",
    "rss_mib_per_{unit}": "rss_mib",
    "api_requests_per_{unit}": "api_requests",
    "etcd_kib_per_{unit}": "etcd_kib",
    "cpu_seconds_per_{unit}_hour": "steady_cpu_seconds_per_hour",
    "api_requests_per_{unit}_hour": "steady_api_requests_per_hour",
}

# The steady window - the lab at rest after the run - is where steady-state rates (here) and the soak's slopes
# (soak.py) are read: from a step short of a minute after the run's last object was ready (a one-minute rate there
# holds none of the run) to the tail's end, and only when it is this long. A shorter one is the minute in which the
# playbook itself lists the set, snapshots Prometheus and captures profiles: with the default one-minute tail it was
# one step, and two like runs compared +50% in API requests per cluster-hour.
MIN_STEADY_SECONDS = 120.0

# Every flat name, and those that also come per part (`.<job>` for CPU and memory, `.<verb>` for API requests).
NAMES = tuple(p.format(unit=u) for u in UNITS for p in METRICS)
PARTED = tuple(n for n in NAMES if not n.startswith("etcd_"))


def steady_window(w: dict) -> tuple[float, float] | None:
    """The run window w's steady window (start, stop) in unix seconds, or None when its tail holds none long enough."""
    end = float(w["end"])
    start, stop = end + 60.0 - float(w.get("step") or 0), end + float(w.get("tail") or 0)
    return (start, stop) if stop - start >= MIN_STEADY_SECONDS else None


def created(doc: dict) -> dict[str, int]:
    """{unit: objects the run created} from a results document (earlier runs' objects are not counted there)."""
    kinds = doc.get("kinds") or {}
    out = {}
    for unit, kind in UNITS.items():
        n = (kinds.get(kind) or {}).get("count")
        if isinstance(n, int) and n > 0:
            out[unit] = n
    return out


def converged(doc: dict) -> bool:
    """Whether every object of a unit the run created was ready when it was gathered: only then is the snapshot's
    tail at rest (a run gathered with clusters still converging has no steady state to measure)."""
    kinds = doc.get("kinds") or {}
    return not any((kinds.get(kind) or {}).get("not_ready") for kind in UNITS.values())


def _clip(points: list[list], start: float, end: float) -> list[tuple[float, float]]:
    return [(float(t), float(v)) for t, v in points if v is not None and start <= t <= end]


def integral(points: list[list], start: float, end: float) -> float | None:
    """The trapezoid sum of a rate's points within [start, end]: the count it adds up to (CPU-seconds, requests)."""
    pts = _clip(points, start, end)
    if len(pts) < 2:
        return None
    return sum((t1 - t0) * (v0 + v1) / 2 for (t0, v0), (t1, v1) in zip(pts, pts[1:], strict=False))


def growth(points: list[list], start: float, end: float) -> float | None:
    """Last value minus first within [start, end] (a gauge: memory, database size)."""
    pts = _clip(points, start, end)
    return pts[-1][1] - pts[0][1] if len(pts) >= 2 else None


def mean(points: list[list], start: float, end: float) -> float | None:
    pts = _clip(points, start, end)
    return sum(v for _dummy, v in pts) / len(pts) if pts else None


def by(snap: dict, query: str, key, fn, start: float, end: float) -> dict[str, float]:
    """{key: fn(points)} of a query's series, key a label's name (its value) or a function of the labels; series of
    the same key add up."""
    key_of = key if callable(key) else (lambda labels: labels.get(key, ""))
    out: dict[str, float] = {}
    for s in (snap.get(query) or {}).get("series", []):
        v = fn(s.get("points", []), start, end)
        if v is not None:
            k = key_of(s["labels"])
            out[k] = out.get(k, 0.0) + v
    return out


def _with_total(values: dict[str, float], scale: float, digits: int = 4) -> dict:
    """{"total": sum, key: value, ...} each times scale, rounded; empty when nothing was measured."""
    if not values:
        return {}
    out = {k: round(v * scale, digits) for k, v in sorted(values.items())}
    return {"total": round(sum(values.values()) * scale, digits), **out}


def cost(snap: dict, window: dict, counts: dict[str, int], converged: bool = True) -> dict:
    """The run's totals over its window [start, end] and at steady state (steady_window()), and each divided by the
    objects of every unit the run created: {"totals": ..., "steady_seconds": ..., "per": {unit: {...}}}. No steady
    state unless the run converged (see converged()) and its tail holds a steady window."""
    start, end = float(window["start"]), float(window["end"])
    tail_end = end + float(window.get("tail") or 0)
    # A one-minute rate lags what it counts by up to a minute: its integral over the run and the minute after it
    # (as far as the tail reaches) adds up to what the run spent (a short run's spend is mostly in that minute).
    counted = min(end + 60.0, tail_end)
    totals = {
        "seconds": round(end - start, 1),
        "cpu_seconds": by(snap, "process_cpu_cores", "job", integral, start, counted),
        "rss_bytes": by(snap, "process_resident_memory_bytes", "job", growth, start, end),
        "api_requests": by(snap, "apiserver_requests_rate", "verb", integral, start, counted),
        "etcd_bytes": by(snap, "etcd_db_size_bytes", "", growth, start, end).get(""),
    }
    steady = {}
    span = steady_window(window) if converged else None
    if span:
        steady = {
            "seconds": round(span[1] - span[0], 1),
            "cpu_cores": by(snap, "process_cpu_cores", "job", mean, *span),
            "api_requests_rate": by(snap, "apiserver_requests_rate", "verb", mean, *span),
        }
    per = {}
    for unit, n in sorted(counts.items()):
        per[unit] = {
            "objects": n,
            "cpu_seconds": _with_total(totals["cpu_seconds"], 1 / n),
            "rss_mib": _with_total(totals["rss_bytes"], 1 / n / 2**20),
            "api_requests": _with_total(totals["api_requests"], 1 / n, 2),
            "etcd_kib": None if totals["etcd_bytes"] is None else round(totals["etcd_bytes"] / n / 1024, 2),
        }
        if steady.get("cpu_cores") or steady.get("api_requests_rate"):
            per[unit]["steady_cpu_seconds_per_hour"] = _with_total(steady["cpu_cores"], 3600 / n)
            per[unit]["steady_api_requests_per_hour"] = _with_total(steady["api_requests_rate"], 3600 / n, 2)
    return {
        "totals": {
            "seconds": totals["seconds"],
            "cpu_seconds": _with_total(totals["cpu_seconds"], 1, 2),
            "rss_mib": _with_total(totals["rss_bytes"], 1 / 2**20, 1),
            "api_requests": _with_total(totals["api_requests"], 1, 0),
            "etcd_kib": None if totals["etcd_bytes"] is None else round(totals["etcd_bytes"] / 1024, 1),
        },
        "steady_seconds": steady.get("seconds", 0),
        "per": per,
    }


def metrics(c: dict) -> dict[str, float]:
    """Flat {name: value} for gates and baselines: `cpu_seconds_per_cluster` (every component) and
    `cpu_seconds_per_cluster.capi-core` (one), per verb for API requests."""
    out: dict[str, float] = {}
    for unit, p in (c or {}).get("per", {}).items():
        for pattern, key in METRICS.items():
            name = pattern.format(unit=unit)
            v = p.get(key)
            if isinstance(v, dict):
                for part, x in v.items():
                    out[name if part == "total" else f"{name}.{part}"] = x
            elif isinstance(v, (int, float)):
                out[name] = v
    return out
