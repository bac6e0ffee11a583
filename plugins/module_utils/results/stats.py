# Copyright: scalelab contributors
# Apache-2.0
"""Percentiles and drift, the numbers a scale report stands on."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default) of an ascending sequence; None when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q={q} must be within 0..100")
    n = len(sorted_values)
    if n == 0:
        return None
    pos = (n - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summary(values: Sequence[float], digits: int = 3) -> dict:
    """count, mean, P50/P90/P99 and max of values (any order)."""
    s = sorted(values)
    out: dict = {"count": len(s)}
    if not s:
        return {**out, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    out["mean"] = round(sum(s) / len(s), digits)
    for q in (50, 90, 99):
        out[f"p{q}"] = round(percentile(s, q), digits)
    out["max"] = round(s[-1], digits)
    return out


def drift(durations_by_creation: Sequence[float], fraction: float = 0.1, digits: int = 2) -> dict:
    """Mean duration of the first vs the last `fraction` of objects in creation order, and the change in %.

    The Cluster API scale metric: +2.3% from the first 100 to the last 100 of 2,000 clusters. Needs at least two
    objects; with fewer than 1/fraction objects each side holds one.
    """
    if not 0 < fraction <= 0.5:
        raise ValueError(f"drift fraction={fraction} must be within (0, 0.5]")
    n = len(durations_by_creation)
    if n < 2:
        return {"count": n, "window": 0, "first_mean": None, "last_mean": None, "drift_pct": None}
    k = max(1, int(round(n * fraction)))
    first = sum(durations_by_creation[:k]) / k
    last = sum(durations_by_creation[-k:]) / k
    pct = (last - first) / first * 100.0 if first > 0 else None
    return {
        "count": n,
        "window": k,
        "first_mean": round(first, 3),
        "last_mean": round(last, 3),
        "drift_pct": round(pct, digits) if pct is not None else None,
    }
