#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: scale_report
short_description: Write a scale run's report, one self-contained HTML file with interactive plots
version_added: 0.5.0
description:
  - Reads the results JSON of a run (M(scalelab.capi.scale_results), with the M(scalelab.capi.prometheus_snapshot) and
    M(scalelab.capi.profile_top) sections when present) and writes O(output_dir)/report.html plus one PNG per plot.
    The HTML draws its plots with plotly.js, taken from the plotly Python package and embedded in the file (about
    5 MB), so a person can hover for values and drag to zoom; it needs nothing else (no CDN, no live cluster or
    Prometheus) and opens offline. The PNGs are the same plots as images, for Markdown (O(markdown_path)).
  - Plots, each when the run has its data - clusters created and ready over time, the distribution of time to ready
    with P50/P90/P99, time to ready by creation order with the first and last 10% and the drift marked,
    BareMetalHosts created/available/provisioned over time, reconcile P99, work-queue depth, CPU and memory per
    manager, API server latency and 429s, top CPU functions per component.
  - A "what saturated first" table - every signal (queue deeper than 10, reconcile P99 over 1 s, a process over
    0.9 cores, 429s, API server P99 over 1 s, etcd fsync P99 over 100 ms) by the time it first crossed.
  - With O(gates), the SLO gates (M(scalelab.capi.scale_gate)'s names) and their verdicts; with O(baseline), every
    metric side by side with the baseline run's, delta and verdict (M(scalelab.capi.scale_compare)), also written
    as Markdown to O(comparison_path). Both are judged once, here; O(fail_on_gates) and O(fail_on_regression) fail
    the task on them after the report is written (M(scalelab.capi.scale_gate) and M(scalelab.capi.scale_compare)
    remain for a judgement without a report).
  - Files are rewritten only when their bytes change, so a second report of the same run changes nothing.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
attributes:
  check_mode:
    support: full
    details: Writes nothing and reports whether the report's files would change.
  diff_mode:
    support: none
options:
  baseline:
    description:
      - Results JSON of a baseline run to compare with; omitted compares with nothing.
      - C(previous) is the same document (the same file name - creation's, or a phase's such as
        C(upgrade-v1.35.5.json)) of the latest run before O(path)'s in its set's index (C(runs.jsonl) of
        M(scalelab.capi.scale_results) O(scalelab.capi.scale_results#module:runs_dir)) that has it; with none (a set's
        first run) it is compared with nothing.
    type: path
  comparison_path:
    description: Markdown file of the comparison with O(baseline) (written only when O(baseline) is given).
    type: path
  fail_on_gates:
    description: Fail when a gate of O(gates) breaks, one line per broken gate (as M(scalelab.capi.scale_gate)).
    type: bool
    default: false
  fail_on_regression:
    description: Fail when a metric regressed against O(baseline) beyond O(tolerance_pct).
    type: bool
    default: false
  gates:
    description: SLO gates, metric name -> threshold, shown with their verdicts; empty shows none.
    type: dict
    default: {}
  markdown_path:
    description:
      - The results' Markdown (M(scalelab.capi.scale_results) RV(scalelab.capi.scale_results#module:markdown_path))
        to end with links to the report and each plot, relative to it; M(scalelab.capi.scale_results) keeps that
        section when it rewrites the file. Omitted links nothing.
    type: path
  output_dir:
    description: Directory of report.html and the PNGs (created when missing).
    type: path
    required: true
  path:
    description: The results JSON of the run.
    type: path
    required: true
  title:
    description: Title of the report; empty uses the run's set name (and its phase, for a lifecycle phase's results).
    type: str
    default: ""
  tolerance_pct:
    description: Change in percent of the baseline within which a metric counts as the same.
    type: float
    default: 10
requirements: [matplotlib, plotly]
"""

EXAMPLES = r"""
- name: The report of the last run, with its gates and against last week's
  scalelab.capi.scale_report:
    path: ~/.local/share/scalelab/scalelab/results/scale.json
    output_dir: ~/.local/share/scalelab/scalelab/results/scale-report
    baseline: ~/baselines/scale-300.json
    gates: {drift_pct: 5, objects_failed: 0, apiserver_429_rate_max: 0}

- name: The report, its comparison as Markdown, and a failed task when a gate broke or a metric regressed
  scalelab.capi.scale_report:
    path: ~/.local/share/scalelab/scalelab/results/scale.json
    output_dir: ~/.local/share/scalelab/scalelab/results/scale-report
    baseline: ~/baselines/scale-300.json
    comparison_path: ~/.local/share/scalelab/scalelab/results/scale-comparison.md
    gates: {cluster_p99_seconds: 120}
    fail_on_gates: true
    fail_on_regression: true
"""

RETURN = r"""
baseline:
  description: The baseline compared with (O(baseline) as a path, C(previous) resolved); empty when none.
  type: str
  returned: always
html:
  description: Path of the HTML report.
  type: str
  returned: always
plots:
  description: Paths of the PNG plots.
  type: list
  elements: str
  returned: always
captions:
  description: The caption of each plot, in the order of RV(plots).
  type: list
  elements: str
  returned: always
charts:
  description: How many interactive charts the HTML draws (a plot of several panels, as the profiles, has one per
    panel).
  type: int
  returned: always
saturated_first:
  description: The first signal that crossed its threshold (signal, job, meaning, first_seconds, peak), or null.
  type: dict
  returned: always
saturation:
  description: Every signal that crossed its threshold, by first crossing.
  type: list
  elements: dict
  returned: always
broken:
  description: Reasons of the broken gates.
  type: list
  elements: str
  returned: always
regressed:
  description: Metrics that regressed against the baseline.
  type: list
  elements: str
  returned: always
gates:
  description: Every gate of O(gates) with its value, threshold, verdict (ok) and reason; null without gates.
  type: list
  elements: dict
  returned: always
table:
  description: The comparison with O(baseline) as aligned text lines; empty without a baseline.
  type: list
  elements: str
  returned: always
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates, html
from ansible_collections.scalelab.capi.plugins.module_utils.results import document, runs
from ansible_collections.scalelab.capi.plugins.module_utils.sets.phases import title as phase_title

ARGUMENT_SPEC = {
    "baseline": {"type": "path"},
    "comparison_path": {"type": "path"},
    "fail_on_gates": {"type": "bool", "default": False},
    "fail_on_regression": {"type": "bool", "default": False},
    "gates": {"type": "dict", "default": {}},
    "markdown_path": {"type": "path"},
    "output_dir": {"type": "path", "required": True},
    "path": {"type": "path", "required": True},
    "title": {"type": "str", "default": ""},
    "tolerance_pct": {"type": "float", "default": 10},
}


def run(p: dict, check_mode: bool) -> tuple[bool, dict]:
    doc = document.load(p["path"], "path")
    base_path = runs.baseline(p["path"], p["baseline"])
    base = document.load(base_path, "baseline") if base_path else None
    title = p["title"] or f"Scale report: {doc.get('run', {}).get('set') or p['path']}"
    if not p["title"] and doc.get("phase"):  # a lifecycle phase's document (scale_results phase)
        title += f", {phase_title(doc['phase'])}"
    changed, result = html.build(
        doc, p["output_dir"], title, p["gates"], base, base_path, p["tolerance_pct"], check_mode
    )
    rows = result.pop("comparison") or []
    result["table"] = gates.table(rows) if base is not None else []
    result["baseline"] = base_path
    if base is not None and p["comparison_path"]:
        text = gates.markdown(rows, p["path"], base_path, p["tolerance_pct"])
        try:
            changed |= document.write_if_changed(p["comparison_path"], text, check_mode)
        except OSError as e:
            raise document.ResultsError(f"comparison_path={p['comparison_path']}: cannot write it: {e}") from e
    if p["markdown_path"]:
        changed |= _link_from_markdown(p["markdown_path"], result, check_mode)
    # Judged after the report is written, so a failed run still has its report.
    failure = (p["fail_on_regression"] and gates.regressed_message(rows, p["tolerance_pct"])) or (
        p["fail_on_gates"] and gates.broken_message(result["gates"] or [])
    )
    if failure:
        raise errors.ScalelabError(f"{failure}\nreport: {result['html']}", {"changed": changed, **result})
    return changed, result


def _link_from_markdown(md: str, result: dict, check_mode: bool) -> bool:
    """End the results' Markdown with links to the report and each plot (scale_results keeps this section)."""
    old = document.read_text(md)
    if old is None:
        raise document.ResultsError(f"markdown_path={md}: no such file (the Markdown scale_results wrote)")
    here = os.path.dirname(os.path.abspath(md))
    links = [f"- [HTML report, interactive plots]({os.path.relpath(result['html'], here)})"]
    links += [f"- [{c}]({os.path.relpath(p, here)})" for p, c in zip(result["plots"], result["captions"], strict=True)]
    text = document.without_section(old).rstrip("\n") + "\n\n" + document.REPORT_MARK + "\n## Report and plots\n\n"
    try:
        return document.write_if_changed(md, text + "\n".join(links) + "\n", check_mode)
    except OSError as e:
        raise document.ResultsError(f"markdown_path={md}: cannot write it: {e}") from e


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    errors.run_module(module, run, html.missing_libraries())


if __name__ == "__main__":
    main()
