# Copyright: scalelab contributors
# Apache-2.0
"""The scale report: one self-contained HTML file (interactive charts, their library embedded: no CDN, works
offline) plus a PNG of each plot, from a results JSON alone; what saturated first; SLO gates and a baseline
comparison when given."""

from __future__ import annotations

import hashlib
import html
import inspect
import json
import os
import sys

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates, headline, interactive, plots
from ansible_collections.scalelab.capi.plugins.module_utils.results import stages
from ansible_collections.scalelab.capi.plugins.module_utils.results.document import window, write_if_changed

_THIS = sys.modules[__name__]

# Signals of saturation: snapshot query, threshold, what crossing it means. The first crossing in time is the
# answer to "what saturated first"; thresholds are the lab's defaults (a manager's 10 workers, 1 s reconcile).
SATURATION = (
    ("workqueue_depth", 10.0, "work queue deeper than the default 10 workers"),
    ("reconcile_p99_seconds", 1.0, "reconcile P99 above 1 s"),
    ("process_cpu_cores", 0.9, "a process using 0.9+ cores"),
    ("client_requests_429_rate", 0.0, "a client receiving 429s"),
    ("apiserver_429_rate", 0.0, "the API server answering 429"),
    ("apiserver_mutating_p99_seconds", 1.0, "API server mutating P99 above 1 s"),
    ("etcd_wal_fsync_p99_seconds", 0.1, "etcd WAL fsync P99 above 100 ms"),
    # The host: past these the run measures the machine, not the controllers.
    ("node_cpu_busy_ratio", 0.9, "the host's CPUs 90%+ busy"),
    ("node_load_per_core", 1.0, "the host's load above its core count"),
    ("node_memory_used_ratio", 0.9, "the host's memory 90%+ used"),
)


def missing_libraries() -> str:
    """The report's libraries this Python lacks (the PNGs' and the charts'), for missing_required_lib."""
    return ", ".join(
        n for n, ok in (("matplotlib", plots.HAS_MATPLOTLIB), ("plotly", interactive.HAS_PLOTLY)) if not ok
    )


class ReportError(ScalelabError):
    """Bad input or an unwritable output; the message names the option."""


def saturation(doc: dict, signals=SATURATION) -> list[dict]:
    """Every (signal, job) that crossed its threshold during the window: first crossing (seconds from the window's
    start), peak and when, sorted by first crossing."""
    snap = doc.get("prometheus", {})
    t0 = snap.get("window", {}).get("start")
    rows = []
    for name, threshold, meaning in signals:
        for job, pts in plots.by_job(snap.get("queries", {}).get(name, {}), default=plots.owner(name)).items():
            over = [(t, v) for t, v in pts if v > threshold]
            if not over or t0 is None:
                continue
            peak_t, peak = max(pts, key=lambda p: (p[1], -p[0]))
            rows.append(
                {
                    "signal": name,
                    "job": job,
                    "meaning": meaning,
                    "threshold": threshold,
                    # a range query's first point, aligned to its step, can precede the window's start
                    "first_seconds": max(0.0, round(over[0][0] - t0, 1)),
                    "peak": peak,
                    "peak_seconds": max(0.0, round(peak_t - t0, 1)),
                }
            )
    return sorted(rows, key=lambda r: (r["first_seconds"], r["signal"], r["job"]))


def _e(v) -> str:
    return html.escape("-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v))


def _table(head: list[str], rows: list[list], cls: str = "") -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _verdicts(head: list[str], rows: list[tuple[str, list]]) -> str:
    """A table of verdicts: each row (class, cells) carries its class (good, bad or none)."""
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(f'<tr class="{c}">' + "".join(f"<td>{_e(v)}</td>" for v in cells) + "</tr>" for c, cells in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """
body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f0f0f0}
tr.bad td,td.bad{background:#fbe3e3} tr.good td{background:#e6f4ea}
figure{margin:1.5em 0} div.plot{border:1px solid #ddd;margin:.3em 0}
.pass{color:#1e7b34;font-weight:bold} .fail{color:#b3261e;font-weight:bold}
table.answers{font-size:15px;min-width:60%} table.answers th{width:16em;background:#f7f7f7}
table.answers td.bad{background:#fbe3e3;font-weight:bold} table.answers td.good{background:#e6f4ea}
"""


def render(
    doc: dict,
    figures: list[tuple[str, str, list[dict]]],
    gate_rows: list[dict] | None,
    comparison: list[dict] | None,
    baseline: str,
    title: str,
    sat: list[dict] | None = None,
) -> str:
    """The page; sat is saturation(doc) when the caller has it already."""
    s, run = doc.get("summary", {}), doc.get("run", {})
    sat = saturation(doc) if sat is None else sat
    parts = [f"<h1>{html.escape(title)}</h1>"]
    # The answers first, above anything to scroll to.
    answers = headline.lines(doc, window(doc), sat, gate_rows, comparison, baseline)
    parts.append(
        '<table class="answers"><tbody>'
        + "".join(f'<tr><th>{html.escape(q)}</th><td class="{c}">{html.escape(a)}</td></tr>' for q, a, c in answers)
        + "</tbody></table>"
    )
    facts = [[k, v] for k, v in sorted(run.items()) if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
    code = run.get("collection") or {}
    if code.get("version"):
        commit = (code.get("commit") or "")[:12] + (" (modified)" if code.get("dirty") else "")
        facts.append(["collection", f"{code.get('name', '')} {code['version']} {commit}".strip()])
    machine = run.get("machine") or {}
    if machine:
        facts.append(["management host", ", ".join(f"{k} {v}" for k, v in sorted(machine.items()))])
    parts.append("<h2>Run</h2>" + _table(["fact", "value"], facts))
    rows = [[headline.human(k), k, v] for k, v in sorted(s.items())]
    parts.append("<h2>Summary</h2>" + _table(["metric", "name (gates, baselines)", "value"], rows))
    if gate_rows is not None:
        broken = [g for g in gate_rows if not g["ok"]]
        verdict = '<span class="pass">PASS</span>' if not broken else f'<span class="fail">FAIL ({len(broken)})</span>'
        rows = [("good" if g["ok"] else "bad", [g["gate"], g["value"], g["threshold"], g["reason"]]) for g in gate_rows]
        parts.append(f"<h2>SLO gates: {verdict}</h2>" + _verdicts(["gate", "value", "threshold", "verdict"], rows))
    parts.append("<h2>What saturated first</h2>")
    if sat:
        parts.append(
            f"<p>First: <b>{html.escape(sat[0]['job'])}</b> - {html.escape(sat[0]['meaning'])}, "
            f"{sat[0]['first_seconds']:.0f} s into the run.</p>"
        )
        cols = ("first_seconds", "signal", "job", "threshold", "peak", "peak_seconds")
        head = ["first crossed (s)", "signal", "job", "threshold", "peak", "peak at (s)"]
        parts.append(_table(head, [[r[c] for c in cols] for r in sat]))
    else:
        why = "" if doc.get("prometheus") else " (this run has no Prometheus snapshot)"
        parts.append(f"<p>No signal crossed its threshold{why}.</p>")
    managers = doc.get("prometheus", {}).get("summary", {}).get("managers", {})
    if managers:
        keys = ("cpu_cores_max", "cpu_cores_avg", "rss_mib_max", "reconcile_p99_seconds_max", "workqueue_depth_max")
        head = ["job", "peak cores", "avg cores", "peak RSS MiB", "worst reconcile P99 s", "deepest queue", "restarts"]
        rows = [[j, *(m.get(k) for k in keys), m.get("restarts")] for j, m in managers.items()]
        parts.append("<h2>Managers</h2>" + _table(head, rows))
    parts.append(_stages_section(doc.get("kinds", {}).get("Cluster", {}).get("stages") or {}))
    parts.append(_queues_section(doc.get("prometheus", {}).get("summary", {}).get("controllers") or {}))
    parts.append(_cost_section(doc.get("prometheus", {}).get("summary", {}).get("cost") or {}))
    parts.append(_soak_section(doc.get("prometheus", {}).get("summary", {}).get("soak") or {}))
    if comparison is not None:
        regressed = [r for r in comparison if r["verdict"] == "regressed"]
        cols = ("metric", "baseline", "current", "delta_pct", "verdict")
        classes = {"regressed": "bad", "improved": "good"}
        rows = [(classes.get(r["verdict"], ""), [r[c] for c in cols]) for r in comparison]
        parts.append(
            f"<h2>Against the baseline {html.escape(baseline)}: {len(regressed)} regressed</h2>"
            + _verdicts(["metric", "baseline", "current", "delta %", "verdict"], rows)
        )
    charts, scripts = interactive.page_parts(figures)
    parts.append("<h2>Plots</h2><p>Hover for values, drag to zoom, double-click to reset.</p>" + charts)
    tops = doc.get("profiles", {}).get("jobs", {})
    if tops:
        parts.append("<h2>Top profile functions (cumulative, runtime excluded)</h2>")
        for job, e in sorted(tops.items()):
            rows = [
                [r["function"], r["cum"], r["cum_pct"]]
                for r in (e.get("cpu") or {}).get("top_cum", [])
                if not r["function"].startswith("runtime.")
            ][:8]
            if rows:
                parts.append(f"<h3>{html.escape(job)}</h3>" + _table(["function", "CPU s", "%"], rows))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(parts)
        + scripts
        + "</body></html>\n"
    )


def _stages_section(b: dict) -> str:
    """Each stage of the ready clusters' provisioning: its P50/P99, the first and last 10% created, the growth."""
    if not b.get("clusters"):
        return ""
    first, last, growth = b["first"], b["last"], b["growth_seconds"]
    rows = [
        [stages.LABELS[n], b["interval"][n]["p50"], b["interval"][n]["p99"], first[n], last[n], growth[n]]
        for n in b["stages"]
    ]
    k = b["window"]
    head = ["stage", "P50 s", "P99 s", f"first {k}: mean s", f"last {k}: mean s", "growth s"]
    return "<h2>Where provisioning time goes</h2>" + _table(head, rows)


def _queues_section(table: dict, top: int = 15) -> str:
    """Per controller, busiest first: its workers' use, an item's wait in the queue and one reconcile's time."""
    if not table:
        return ""
    ordered = sorted(table.items(), key=lambda kr: (-(kr[1].get("utilization") or 0), kr[0]))[:top]
    cols = ("items", "workers", "busy_workers", "utilization", "queue_wait_seconds", "reconcile_seconds")
    head = ["controller", "items", "workers", "busy (avg)", "share busy", "queue wait s/item", "reconcile s"]
    return "<h2>Controllers: queue wait against reconcile time</h2>" + _table(
        head, [[k, *(r.get(c) for c in cols)] for k, r in ordered]
    )


def _soak_section(s: dict) -> str:
    """Per component, the slopes of memory and goroutines at rest with their standard errors."""
    if not s.get("jobs"):
        return ""
    cols = ("rss_mib_per_hour", "rss_mib_per_hour_se", "goroutines_per_hour", "goroutines_per_hour_se")
    head = ["component", "memory MiB/h", "+- error", "goroutines/h", "+- error"]
    rows = [[job, *(v.get(c) for c in cols)] for job, v in s["jobs"].items()]
    return f"<h2>Growing at rest ({s['seconds']:.0f} s of soak)</h2>" + _table(head, rows)


def _cost_section(c: dict) -> str:
    """Cost per object: a row per component (and per API verb), a column per unit the run created; steady state
    (per object-hour) when the snapshot's tail reached it."""
    per = c.get("per") or {}
    if not per:
        return ""
    units = sorted(per)
    head = ["what", *(f"per {u} ({per[u]['objects']})" for u in units)]
    rows = []
    for key, words in (
        ("cpu_seconds", "CPU-seconds"),
        ("rss_mib", "memory growth MiB"),
        ("api_requests", "API requests"),
        ("steady_cpu_seconds_per_hour", "steady CPU-seconds per hour"),
        ("steady_api_requests_per_hour", "steady API requests per hour"),
    ):
        parts = sorted({k for u in units for k in (per[u].get(key) or {})}, key=lambda k: (k != "total", k))
        rows += [[f"{words}: {k}", *((per[u].get(key) or {}).get(k) for u in units)] for k in parts]
    rows.append(["etcd growth KiB", *(per[u].get("etcd_kib") for u in units)])
    totals = c.get("totals") or {}
    return (
        f"<h2>Cost per object</h2><p>Over the run's {totals.get('seconds', 0):g} s, divided by the objects it created"
        f"{'' if not c.get('steady_seconds') else ', and at steady state after the last was ready'}; "
        "gate and baseline names such as cpu_seconds_per_cluster.capi-core.</p>" + _table(head, rows)
    )


INPUTS_FILE = ".report-inputs.json"


def _code_digest() -> str | None:
    """Digest of the code that draws the report, so a new scalelab redraws it; None when a source is unreadable."""
    try:
        source = "".join(inspect.getsource(m) for m in (plots, gates, headline, interactive, _THIS))
        return hashlib.sha256((source + str(interactive.library_version())).encode()).hexdigest()
    except (OSError, TypeError):
        return None


def _outputs(result: dict) -> dict:
    out = {}
    for path in [result["html"], *result["plots"]]:
        try:
            st = os.stat(path)
            out[path] = [st.st_size, st.st_mtime_ns]
        except OSError:
            out[path] = None
    return out


def _cached(out_dir: str, key: str) -> dict | None:
    """The last build's result when its inputs were these and its files are as it wrote them."""
    try:
        with open(os.path.join(out_dir, INPUTS_FILE)) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return None
    result = saved.get("result") if saved.get("key") == key else None
    if not isinstance(result, dict) or saved.get("outputs") != _outputs(result):
        return None
    return result


def build(
    doc: dict,
    out_dir: str,
    title: str,
    gate_specs: dict | None = None,
    baseline_doc: dict | None = None,
    baseline: str = "",
    tolerance_pct: float = 10.0,
    check_mode: bool = False,
) -> tuple[bool, dict]:
    """Write <out_dir>/report.html and one PNG per plot; (changed, result).

    Inputs (data, gates, baseline, title, code) equal to the last build's, with its files untouched, return that
    build's result without drawing: plotting was ~3 s of every idempotent converge."""
    code = _code_digest()
    key = None
    if code is not None:
        inputs = [doc, out_dir, title, gate_specs, baseline_doc, baseline, tolerance_pct, code]
        key = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
        cached = _cached(out_dir, key)
        if cached is not None:
            return False, cached
    figures = plots.all_plots(doc)
    values = gates.metrics(doc)
    gate_rows = gates.evaluate_gates(values, gate_specs) if gate_specs else None
    comparison = gates.compare(values, gates.metrics(baseline_doc), tolerance_pct) if baseline_doc is not None else None
    sat = saturation(doc)
    text = render(doc, figures, gate_rows, comparison, baseline, title, sat)
    changed = False
    result = {
        "html": os.path.join(out_dir, "report.html"),
        "plots": [os.path.join(out_dir, f"{stem}.png") for stem, _dummy, _dummy in figures],
        "charts": sum(len(panels) for _dummy, _dummy, panels in figures),
        "captions": [caption for _dummy, caption, _dummy in figures],
        "saturated_first": sat[0] if sat else None,
        "saturation": sat,
        "gates": gate_rows,
        "broken": [g["reason"] for g in gate_rows or [] if not g["ok"]],
        "regressed": [r["metric"] for r in comparison or [] if r["verdict"] == "regressed"],
        "comparison": comparison,
    }
    try:
        if not check_mode:
            os.makedirs(out_dir, exist_ok=True)
        for stem, _dummy, panels in figures:
            changed |= write_if_changed(os.path.join(out_dir, f"{stem}.png"), plots.png(panels), check_mode)
        changed |= write_if_changed(os.path.join(out_dir, "report.html"), text, check_mode)
        if key is not None and not check_mode:
            # bookkeeping beside the report (not a change of it)
            saved = {"key": key, "result": result, "outputs": _outputs(result)}
            write_if_changed(os.path.join(out_dir, INPUTS_FILE), json.dumps(saved, sort_keys=True, default=str))
    except OSError as e:
        raise ReportError(f"output_dir={out_dir}: cannot write the report: {e}") from e
    return changed, result
