# Copyright: scalelab contributors
# Apache-2.0
"""One comparison report of a sweep: the same scenario at every point of a matrix (qps x concurrency, N, ...),
each point's key metrics side by side, relative to the first point, with a bar chart per metric (interactive in
the HTML, a PNG beside it)."""

from __future__ import annotations

import html
import os

from ansible_collections.scalelab.capi.plugins.module_utils.report import gates, interactive, plots
from ansible_collections.scalelab.capi.plugins.module_utils.report.html import STYLE
from ansible_collections.scalelab.capi.plugins.module_utils.results.document import write_if_changed

# The metrics a sweep is read by, in table order.
KEY_METRICS = (
    "clusters_ready_ratio",
    "cluster_p50_seconds",
    "cluster_p99_seconds",
    "drift_pct",
    "objects_failed",
    "reconcile_p99_seconds_max",
    "workqueue_depth_max",
    "cpu_cores_max",
    "rss_mib_max",
    "apiserver_mutating_p99_seconds_max",
    "client_requests_429_rate_max",
)
PLOTTED = ("cluster_p99_seconds", "drift_pct", "reconcile_p99_seconds_max", "cpu_cores_max")


def rows(points: list[tuple[str, dict]]) -> list[dict]:
    """Per key metric: {metric, values: [per point], vs_first_pct: [per point]}; metrics no point has are left out."""
    values = [gates.metrics(doc) for _dummy, doc in points]
    out = []
    for name in KEY_METRICS:
        vals = [v.get(name) for v in values]
        if all(x is None for x in vals):
            continue
        first = vals[0]
        pct = [None if x is None or not first else round((x - first) / abs(first) * 100, 1) for x in vals]
        out.append({"metric": name, "values": vals, "vs_first_pct": pct})
    return out


def _cells(r: dict) -> list[str]:
    """A metric's value at each point, with its change against the first point."""
    return [
        gates.fmt(v) + ("" if p in (None, 0) else f" ({p:+.0f}%)")
        for v, p in zip(r["values"], r["vs_first_pct"], strict=True)
    ]


def table(points: list[tuple[str, dict]], table_rows: list[dict]) -> list[str]:
    return gates.aligned(
        ["metric", *(label for label, _dummy in points)], [[r["metric"], *_cells(r)] for r in table_rows]
    )


def _bars(label_values: list[tuple[str, float | None]], metric: str) -> dict | None:
    pts = [(lbl, v) for lbl, v in label_values if v is not None]
    if not pts:
        return None
    bars = plots.trace("bar", [lbl for lbl, _dummy in pts], [v for _dummy, v in pts], color="#4c72b0")
    return plots.chart(metric, "point", metric, [bars])


def build(points: list[tuple[str, dict]], out_dir: str, title: str, check_mode: bool = False) -> tuple[bool, dict]:
    """Write <out_dir>/sweep.html (charts embedded), sweep.md and one PNG per plotted metric; (changed, result)."""
    table_rows = rows(points)
    lines = table(points, table_rows)
    figures = []
    for r in table_rows:
        if r["metric"] in PLOTTED:
            bars = _bars(list(zip([lbl for lbl, _dummy in points], r["values"], strict=True)), r["metric"])
            if bars:
                figures.append((r["metric"], f"{r['metric']} per point", [bars]))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["metric", *(lbl for lbl, _dummy in points)])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in [r["metric"], *_cells(r)]) + "</tr>" for r in table_rows
    )
    figs, scripts = interactive.page_parts(figures)
    text = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{len(points)} points; percentages are against the first point.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{figs}"
        f"{scripts}</body></html>\n"
    )
    md = "\n".join([f"# {title}", "", "```", *lines, "```", ""])
    changed = False
    if not check_mode:
        os.makedirs(out_dir, exist_ok=True)
    for m, _dummy, panels in figures:
        changed |= write_if_changed(os.path.join(out_dir, f"{m}.png"), plots.png(panels), check_mode)
    changed |= write_if_changed(os.path.join(out_dir, "sweep.html"), text, check_mode)
    changed |= write_if_changed(os.path.join(out_dir, "sweep.md"), md, check_mode)
    return changed, {
        "html": os.path.join(out_dir, "sweep.html"),
        "markdown": os.path.join(out_dir, "sweep.md"),
        "table": lines,
        "rows": table_rows,
    }
