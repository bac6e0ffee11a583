#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: scale_compare
short_description: Compare a scale run with a baseline run, metric by metric, with a verdict against a tolerance
version_added: 0.5.0
description:
  - Reads two results JSON files (M(scalelab.capi.scale_results), with their M(scalelab.capi.prometheus_snapshot)
    sections) and puts every metric of either side by side (the names M(scalelab.capi.scale_gate) uses) with the
    delta and a verdict - C(regressed) or C(improved) when the current run is worse or better by more than
    O(tolerance_pct) percent, C(same) otherwise, C(new) or C(gone) when one run lacks it.
  - Returns the comparison as rows and as aligned text lines for a terminal; O(markdown_path) also writes it as a
    Markdown table (rewritten only when it changes, so a second run changes nothing).
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.attributes.markdown
options:
  baseline:
    description:
      - The results JSON of the baseline run, or C(previous) - the same document (the same file name - creation's or a
        phase's) of the latest run before O(path)'s in its set's index (C(runs.jsonl) of
        M(scalelab.capi.scale_results) O(scalelab.capi.scale_results#module:runs_dir)) that has it; a first run
        has none, which fails the task.
    type: path
    required: true
  fail_on_regression:
    description: Fail the task, naming the regressed metrics, when one regressed.
    type: bool
    default: false
  markdown_path:
    description: Markdown file to write the comparison to; omitted writes none.
    type: path
  path:
    description: The results JSON of the run to judge.
    type: path
    required: true
  tolerance_pct:
    description: Change in percent of the baseline within which a metric counts as the same.
    type: float
    default: 10
"""

EXAMPLES = r"""
- name: This release against the last one; fail on a regression beyond 10%
  scalelab.capi.scale_compare:
    path: ~/.local/share/scalelab/scalelab/results/scale.json
    baseline: ~/baselines/capi-1.13-300.json
    fail_on_regression: true
  register: comparison

- name: The newest run of the set "scale" against the run before it
  scalelab.capi.scale_compare:
    path: ~/.local/share/scalelab/scalelab/results/scale/latest/scale.json
    baseline: previous

- name: Show it
  ansible.builtin.debug:
    var: comparison.table
"""

RETURN = r"""
baseline:
  description: The baseline compared with (C(previous) resolved to its path).
  type: str
  returned: always
rows:
  description: One entry per metric, sorted - metric, baseline, current, delta, delta_pct, verdict.
  type: list
  elements: dict
  returned: always
regressed:
  description: Names of the metrics that regressed.
  type: list
  elements: str
  returned: always
table:
  description: The comparison as aligned text lines.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates
from ansible_collections.scalelab.capi.plugins.module_utils.results import document, runs

ARGUMENT_SPEC = {
    "baseline": {"type": "path", "required": True},
    "fail_on_regression": {"type": "bool", "default": False},
    "markdown_path": {"type": "path"},
    "path": {"type": "path", "required": True},
    "tolerance_pct": {"type": "float", "default": 10},
}


def run(p: dict, check_mode: bool) -> tuple[bool, dict]:
    cur = gates.metrics(document.load(p["path"], "path"))
    base = runs.baseline(p["path"], p["baseline"])
    if not base:
        raise runs.RunsError(f"baseline={p['baseline']}: {p['path']} is the first run in its set's {runs.INDEX}")
    rows = gates.compare(cur, gates.metrics(document.load(base, "baseline")), p["tolerance_pct"])
    changed = False
    if p["markdown_path"]:
        text = gates.markdown(rows, p["path"], base, p["tolerance_pct"])
        try:
            changed = document.write_if_changed(p["markdown_path"], text, check_mode)
        except OSError as e:
            raise document.ResultsError(f"markdown_path={p['markdown_path']}: cannot write it: {e}") from e
    regressed = [r["metric"] for r in rows if r["verdict"] == "regressed"]
    result = {"rows": rows, "regressed": regressed, "table": gates.table(rows), "baseline": base}
    if regressed and p["fail_on_regression"]:
        raise errors.ScalelabError(gates.regressed_message(rows, p["tolerance_pct"]), {"changed": changed, **result})
    return changed, result


def main() -> None:
    errors.run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), run)


if __name__ == "__main__":
    main()
