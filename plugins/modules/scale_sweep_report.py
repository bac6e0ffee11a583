#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: scale_sweep_report
short_description: One comparison report of a sweep's points (the same scenario over a matrix of knobs)
version_added: 0.5.0
description:
  - Reads the results JSON of every point of a sweep (playbooks/sweep.yml) and writes O(output_dir)/sweep.html
    (self-contained, interactive bar charts with plotly.js embedded), sweep.md and one PNG per plotted metric, with
    each point's key metrics side by side - clusters ready ratio, P50/P99 time to ready, drift, objects failed,
    worst reconcile P99, deepest queue, peak CPU and RSS of a manager, API server mutating P99, client 429s - and
    their change against the first point.
  - Files are rewritten only when they change, so a second run with the same points changes nothing.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
attributes:
  check_mode:
    support: full
    details: Writes nothing and reports whether the sweep's files would change.
  diff_mode:
    support: none
options:
  output_dir:
    description: Directory of the sweep report (created when missing).
    type: path
    required: true
  points:
    description: The points in order, each C(label) (what the point set, e.g. C(qps=20 concurrency=10)) and
      C(path) (its results JSON).
    type: list
    elements: dict
    required: true
  title:
    description: Title of the report.
    type: str
    default: Sweep
requirements: [matplotlib, plotly]
"""

EXAMPLES = r"""
- name: Compare the four points of a qps x concurrency sweep
  scalelab.capi.scale_sweep_report:
    output_dir: ~/.local/share/scalelab/scalelab/results/sweep
    points:
      - {label: "qps=20 conc=10", path: ~/.local/share/scalelab/scalelab/results/sweep/p1.json}
      - {label: "qps=100 conc=10", path: ~/.local/share/scalelab/scalelab/results/sweep/p2.json}
"""

RETURN = r"""
html:
  description: Path of the HTML report.
  type: str
  returned: always
markdown:
  description: Path of the Markdown table.
  type: str
  returned: always
table:
  description: The comparison as aligned text lines.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates, html, sweep
from ansible_collections.scalelab.capi.plugins.module_utils.results import document

ARGUMENT_SPEC = {
    "output_dir": {"type": "path", "required": True},
    "points": {"type": "list", "elements": "dict", "required": True},
    "title": {"type": "str", "default": "Sweep"},
}


def run(p: dict, check_mode: bool) -> tuple[bool, dict]:
    if not p["points"]:
        raise gates.SloError("points is empty: a sweep report needs at least one point")
    points = []
    for i, pt in enumerate(p["points"]):
        if not pt.get("label") or not pt.get("path"):
            raise gates.SloError(f"points[{i}]={pt!r} needs a label and a path")
        points.append((str(pt["label"]), document.load(str(pt["path"]), f"points[{i}].path")))
    try:
        changed, result = sweep.build(points, p["output_dir"], p["title"], check_mode)
    except OSError as e:
        raise document.ResultsError(f"output_dir={p['output_dir']}: cannot write the report: {e}") from e
    return changed, {k: v for k, v in result.items() if k != "rows"}  # the rows are the table's


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    errors.run_module(module, run, html.missing_libraries())


if __name__ == "__main__":
    main()
