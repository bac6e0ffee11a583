# Copyright: scalelab contributors
# Apache-2.0
"""Capacity: the creation rate this lab sustains, and the most clusters it holds, found by bounded steps.

Two searches over runs kept as files in one directory, each judged by the same gates (report.gates):
- rate: a fresh set of `rate_clusters` clusters created at R clusters per minute (`rate-<R>.json`). R starts at
  `start`, doubles while the lab keeps up (every gate met), then halves the interval between the fastest rate met
  and the slowest broken until they are within `resolution` of each other; at most `steps` rates. The knee is the
  fastest rate met.
- size: one set grown to each of `sizes` at the knee's rate (`size-<N>.json`), the clusters of earlier steps kept;
  it stops at the first size that breaks a gate or the memory budget. The largest size met is what this lab holds.
plan() says what to run next from the files there are, so a second run reuses every step already measured.
"""

from __future__ import annotations

import glob
import math
import os
import re

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates as gates_
from ansible_collections.scalelab.capi.plugins.module_utils.results import document

# The defaults: drift at most 5%, reconcile and API server write P99 at most 1 s; every object ready.
DEFAULT_GATES = {
    "drift_pct": 5,
    "reconcile_p99_seconds_max": 1,
    "apiserver_mutating_p99_seconds_max": 1,
    "objects_failed": 0,
}
_FILE = re.compile(r"^(rate|size)-(\d+(?:\.\d+)?)\.json$")


class CapacityError(ScalelabError):
    """Bad input: the message names the option."""


def step_path(directory: str, phase: str, value: float) -> str:
    return os.path.join(directory, f"{phase}-{value:g}.json")


def pacing(rate: float) -> dict[str, int]:
    """cluster_bulk's batch size and pause for `rate` clusters per minute: batches of about 10 s of the rate."""
    size = max(1, round(rate / 6))
    return {"batch_size": size, "batch_pause": max(1, round(60 * size / rate))}


def judge(doc: dict, gates: dict, memory_budget: float) -> dict:
    """One step: its gates' rows (memory as node_memory_used_ratio_max <= budget) and whether all were met."""
    values = gates_.metrics(doc)
    rows = gates_.evaluate_gates(values, {**gates, "node_memory_used_ratio_max": memory_budget})
    managers = ((doc.get("prometheus") or {}).get("summary") or {}).get("managers") or {}
    return {
        "ok": all(r["ok"] for r in rows),
        "broken": [r["reason"] for r in rows if not r["ok"]],
        "values": {r["gate"]: r["value"] for r in rows},
        "clusters": int(values.get("clusters", 0)) + int((doc.get("earlier") or {}).get("Cluster", 0)),
        "peaks": {
            job: {"cpu_cores": m.get("cpu_cores_max"), "rss_mib": m.get("rss_mib_max")}
            for job, m in sorted(managers.items())
        },
    }


def steps(directory: str, gates: dict, memory_budget: float) -> dict[str, list[dict]]:
    """{"rate": [...], "size": [...]}: each kept step judged, in the order of its value."""
    out: dict[str, list[dict]] = {"rate": [], "size": []}
    for path in glob.glob(os.path.join(directory, "*.json")):
        m = _FILE.match(os.path.basename(path))
        if not m:
            continue
        doc = document.load(path, "directory", required=False)
        if not doc.get("summary"):
            continue  # a step cut short before its results were gathered: run again
        out[m.group(1)].append({"value": float(m.group(2)), "path": path, **judge(doc, gates, memory_budget)})
    for v in out.values():
        v.sort(key=lambda s: s["value"])
    return out


def knee(rate_steps: list[dict]) -> float | None:
    """The fastest rate met below the slowest broken (a met rate above a broken one is luck, not capacity)."""
    broken = [s["value"] for s in rate_steps if not s["ok"]]
    limit = min(broken, default=math.inf)
    met = [s["value"] for s in rate_steps if s["ok"] and s["value"] < limit]
    return max(met, default=None)


def next_rate(rate_steps: list[dict], p: dict) -> float | None:
    """The next rate to try, or None when the search is done (within resolution, out of steps or of range)."""
    if len(rate_steps) >= p["steps"]:
        return None
    if not rate_steps:
        return float(p["start"])
    done = {s["value"] for s in rate_steps}
    good = knee(rate_steps)
    broken = min((s["value"] for s in rate_steps if not s["ok"]), default=None)
    if broken is None:  # every rate met: faster, up to the maximum
        nxt = min(good * p["factor"], float(p["max"]))
    elif good is None:  # even the slowest broke: slower, down to the minimum
        nxt = max(broken / p["factor"], float(p["min"]))
    else:
        if broken / good <= 1 + p["resolution"]:
            return None
        nxt = (good + broken) / 2
    nxt = round(nxt, 1)
    return None if nxt in done else nxt


def next_size(size_steps: list[dict], sizes: list[int]) -> int | None:
    """The next size to grow to, or None after the first size broken or the last."""
    if any(not s["ok"] for s in size_steps):
        return None
    done = {int(s["value"]) for s in size_steps}
    return next((n for n in sorted(sizes) if n not in done), None)


def plan(found: dict, p: dict) -> dict | None:
    """What to run next: {"phase": "rate", "rate": R, "clusters": rate_clusters} or {"phase": "size", "rate": knee,
    "clusters": N}; None when both searches are done, or the rate search found no rate met."""
    rate = next_rate(found["rate"], p)
    if rate is not None:
        return {"phase": "rate", "rate": rate, "clusters": p["rate_clusters"], **pacing(rate)}
    good = knee(found["rate"])
    size = next_size(found["size"], p["sizes"]) if good is not None else None
    if size is None:
        return None
    return {"phase": "size", "rate": good, "clusters": size, **pacing(good)}


def largest(size_steps: list[dict]) -> int | None:
    broken = min((s["value"] for s in size_steps if not s["ok"]), default=math.inf)
    met = [s["clusters"] for s in size_steps if s["ok"] and s["value"] < broken]
    return max(met, default=None)


def _cell(v, digits: int = 3) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def _peak(p: dict) -> str:
    return f"{_cell(p.get('cpu_cores'))} / {_cell(p.get('rss_mib'), 4)}"


def markdown(found: dict, gates: dict, memory_budget: float, nxt: dict | None, reason: str = "") -> str:
    """The capacity report: rate against drift and P99s, size against each component's CPU and memory, knees
    marked; what runs next (or why the search stopped)."""
    names = sorted(gates) + ["node_memory_used_ratio_max"]
    good, held = knee(found["rate"]), largest(found["size"])
    out = ["# Capacity", ""]
    out.append(
        "Gates: "
        + ", ".join(
            f"`{n} <= {float(v):g}`" for n, v in sorted({**gates, "node_memory_used_ratio_max": memory_budget}.items())
        )
    )
    out += ["", "## Sustainable creation rate", ""]
    if found["rate"]:
        rows = [
            [f"{s['value']:g}" + (" **(knee)**" if s["value"] == good else "")]
            + [_cell(s["values"].get(n)) for n in names]
            + ["yes" if s["ok"] else "no"]
            for s in found["rate"]
        ]
        out += [*document.table(["clusters/min", *names, "met"], rows), ""]
    out.append(
        f"Sustainable: **{good:g} clusters/min** (the fastest rate every gate met)."
        if good is not None
        else "Sustainable: none found yet (no rate met every gate)."
    )
    out += ["", "## Clusters held", ""]
    if found["size"]:
        jobs = sorted({j for s in found["size"] for j in s["peaks"]})
        rows = []
        for s in found["size"]:
            mem = s["values"].get("node_memory_used_ratio_max")
            rows.append(
                [f"{s['clusters']}" + (" **(largest held)**" if s["clusters"] == held else "")]
                + [_peak(s["peaks"].get(j) or {}) for j in jobs]
                + ["-" if mem is None else f"{100 * mem:.0f}%", "yes" if s["ok"] else "no"]
            )
        head = ["clusters", *(f"{j} cores / MiB" for j in jobs), "memory used", "met"]
        out += [*document.table(head, rows), ""]
        broken = next((s for s in found["size"] if not s["ok"]), None)
        if broken:
            out += [f"At {broken['clusters']}: " + "; ".join(broken["broken"]) + ".", ""]
    out.append(f"Held: **{held} clusters** within every gate." if held is not None else "Held: not measured yet.")
    out += ["", "## Next", ""]
    if nxt:
        out.append(f"{nxt['phase']}: {nxt['clusters']} clusters at {nxt['rate']:g} clusters/min.")
    else:
        out.append(f"Done{': ' + reason if reason else ''}.")
    return "\n".join(out) + "\n"


def check(p: dict) -> None:
    """Refuse a bad option in one line naming it."""
    for name in ("start", "max", "min", "factor"):
        if not p[name] > 0:
            raise CapacityError(f"{name}={p[name]} must be above 0")
    if p["factor"] <= 1:
        raise CapacityError(f"factor={p['factor']} must be above 1")
    if not p["min"] <= p["start"] <= p["max"]:
        raise CapacityError(f"start={p['start']} must be from min={p['min']} to max={p['max']}")
    if not 0 < p["resolution"] < 1:
        raise CapacityError(f"resolution={p['resolution']} must be between 0 and 1")
    if p["steps"] < 1 or p["rate_clusters"] < 2:
        raise CapacityError(f"steps={p['steps']} must be >= 1 and rate_clusters={p['rate_clusters']} >= 2")
    if any(n < 1 for n in p["sizes"]):
        raise CapacityError(f"sizes={p['sizes']} must be whole numbers >= 1")
    if not 0 < p["memory_budget"] <= 1:
        raise CapacityError(f"memory_budget={p['memory_budget']} must be a share of the host's memory, above 0 up to 1")
