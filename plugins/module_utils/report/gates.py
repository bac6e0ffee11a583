# Copyright: scalelab contributors
# Apache-2.0
"""The numbers a scale run is judged by, SLO gates on them, the comparison of two runs, and their verdicts' words.

Every metric is read from a results JSON (scale_results, with the prometheus_snapshot section when present) under
one flat name, so gates in an inventory and a baseline comparison speak the same names.
"""

from __future__ import annotations

import math

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError
from ansible_collections.scalelab.capi.plugins.module_utils.observe import cost, soak
from ansible_collections.scalelab.capi.plugins.module_utils.observe.prometheus import RUN_METRICS

# Metrics where more is better; every other metric is better when lower (times, drift, CPU, memory, errors).
HIGHER_IS_BETTER = frozenset({"clusters_ready", "hosts_available", "hosts_provisioned", "clusters_ready_ratio"})
# Per-manager metrics of the Prometheus snapshot summary: named <metric>.<job>, and <metric> is the worst job.
MANAGER_METRICS = ("cpu_cores_max", "rss_mib_max", "reconcile_p99_seconds_max", "workqueue_depth_max", "restarts")


class SloError(ScalelabError):
    """Bad input: the message names the option and the gate or metric."""


def _num(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
        return None
    return float(v)


def metrics(doc: dict) -> dict[str, float]:
    """Flat {name: value} of a results document; absent or null numbers are left out."""
    out: dict[str, float | None] = {k: _num(v) for k, v in doc.get("summary", {}).items()}
    if out.get("clusters"):
        out["clusters_ready_ratio"] = (out.get("clusters_ready") or 0) / out["clusters"]
    failed = 0
    for kind, r in doc.get("kinds", {}).items():
        failed += int(r.get("stuck", 0) if kind == "BareMetalHost" else r.get("not_ready", 0))
    if doc.get("kinds"):
        out["objects_failed"] = float(failed)
    prom = doc.get("prometheus", {}).get("summary", {})
    for name in RUN_METRICS:
        out[name] = _num(prom.get(name))
    if "targets_down" in prom:
        out["targets_down"] = float(len(prom["targets_down"]))
    for job, m in prom.get("managers", {}).items():
        for name in MANAGER_METRICS:
            v = _num(m.get(name))
            out[f"{name}.{job}"] = v
            if v is not None and (out.get(name) is None or v > out[name]):
                out[name] = v
    out.update({k: _num(v) for k, v in cost.metrics(prom.get("cost", {})).items()})
    out.update({k: _num(v) for k, v in soak.metrics(prom.get("soak", {})).items()})
    return {k: v for k, v in sorted(out.items()) if v is not None}


def worse(name: str, value: float, threshold: float) -> bool:
    return value < threshold if name in HIGHER_IS_BETTER else value > threshold


def evaluate_gates(values: dict[str, float], gates: dict) -> list[dict]:
    """One row per gate: {gate, value, threshold, ok, reason}. A gate whose metric was not measured fails."""
    rows = []
    for name in sorted(gates):
        try:
            threshold = float(gates[name])
        except (TypeError, ValueError) as e:
            raise SloError(f"gates.{name}={gates[name]!r} is not a number") from e
        value = values.get(name)
        bound = ">=" if name in HIGHER_IS_BETTER else "<="
        if value is None:
            ok, reason = False, f"{name} was not measured (needs {bound} {threshold:g})"
        else:
            ok = not worse(name, value, threshold)
            reason = f"{name} = {value:g} {'meets' if ok else 'breaks'} {bound} {threshold:g}"
        rows.append({"gate": name, "value": value, "threshold": threshold, "ok": ok, "reason": reason})
    return rows


def compare(current: dict[str, float], baseline: dict[str, float], tolerance_pct: float) -> list[dict]:
    """Every metric of both runs: {metric, baseline, current, delta, delta_pct, verdict} where verdict is
    regressed/improved (worse/better by more than tolerance_pct) or same; a metric of one run only is new/gone."""
    if tolerance_pct < 0:
        raise SloError(f"tolerance_pct={tolerance_pct} must not be negative")
    rows = []
    for name in sorted(set(current) | set(baseline)):
        cur, base = current.get(name), baseline.get(name)
        row = {"metric": name, "baseline": base, "current": cur, "delta": None, "delta_pct": None}
        if cur is None or base is None:
            rows.append({**row, "verdict": "new" if base is None else "gone"})
            continue
        delta = cur - base
        pct = delta / abs(base) * 100.0 if base else (0.0 if delta == 0 else math.copysign(math.inf, delta))
        verdict = "same"
        if abs(pct) > tolerance_pct:
            verdict = "regressed" if worse(name, cur, base) else "improved"
        row.update(delta=round(delta, 6), delta_pct=round(pct, 2) if math.isfinite(pct) else None)
        rows.append({**row, "verdict": verdict})
    return rows


def fmt(v) -> str:
    return "-" if v is None else f"{v:.4g}"


def aligned(head: list[str], cells: list[list[str]]) -> list[str]:
    """Rows of cells as text lines for a terminal, each column as wide as its widest cell."""
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head))]
    return ["  ".join(c[i].ljust(widths[i]) for i in range(len(head))).rstrip() for c in [head, *cells]]


def _cells(r: dict) -> list[str]:
    """One row of the comparison as text: metric, baseline, current, delta %, verdict."""
    pct = "-" if r["delta_pct"] is None else f"{r['delta_pct']:+.1f}"
    return [r["metric"], fmt(r["baseline"]), fmt(r["current"]), pct, r["verdict"]]


def table(rows: list[dict]) -> list[str]:
    """The comparison as aligned text lines for a terminal."""
    return aligned(["metric", "baseline", "current", "delta %", "verdict"], [_cells(r) for r in rows])


def markdown(rows: list[dict], path: str, baseline: str, tolerance: float) -> str:
    """The comparison as a Markdown table."""
    out = [f"# {path} against {baseline}", "", f"Tolerance: {tolerance:g}%.", ""]
    out += ["| metric | baseline | current | delta % | verdict |", "|---|---|---|---|---|"]
    out += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(out) + "\n"


def broken_message(rows: list[dict]) -> str | None:
    """The failure of a run's gates, one line per broken gate; None when every gate holds."""
    broken = [r["reason"] for r in rows if not r["ok"]]
    if not broken:
        return None
    return f"{len(broken)} of {len(rows)} SLO gates broke:\n" + "\n".join(broken)


def regressed_message(rows: list[dict], tolerance_pct: float) -> str | None:
    """The failure of a comparison: the metrics that regressed; None when none did."""
    regressed = [r["metric"] for r in rows if r["verdict"] == "regressed"]
    if not regressed:
        return None
    return f"{len(regressed)} metrics regressed beyond {tolerance_pct:g}%: " + ", ".join(regressed)
