#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: scale_sizing
short_description: Fit each component's CPU and memory against N from runs at three or more sizes, extrapolated
version_added: 0.8.0
description:
  - Reads the results JSONs of runs at three or more sizes (M(scalelab.capi.scale_results) with the
    M(scalelab.capi.prometheus_snapshot) section) - the kept runs of a set (O(runs_dir)) or files given (O(paths)).
  - A run's N is the objects of O(unit) the lab held at its end (its own plus those earlier runs of the set left);
    a component's values are its peak CPU cores and peak resident memory (MiB) during the run.
  - Per component and resource, a straight line (a + b N) and an N log N curve (a + b N ln N) are fitted by least
    squares; the one with the smaller residuals is kept, with the standard errors of a and b and its RMS residual,
    and extrapolated to O(targets) with the standard error of the fit there (it grows with the distance from the
    runs - three runs at 10 to 30 say little about 15,000).
  - Beside the fits, the figures a scaling guide states (O(stated)) and measured over stated at the same N; and the
    first of the management host's resources (its cores, its memory, as the newest run recorded them) the
    components' summed fits exceed, and at what N.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.attributes.markdown
options:
  markdown_path:
    description: Markdown file to write the sizing table to; omitted writes none.
    type: path
  min_sizes:
    description: How many different sizes of N the runs must have (at least 3; a fit of two parameters to three
      points leaves one degree of freedom for its error).
    type: int
    default: 3
  paths:
    description: Results JSONs to read. Exactly one of O(paths) and O(runs_dir).
    type: list
    elements: path
  runs_dir:
    description: A set's runs directory (M(scalelab.capi.scale_results) O(scalelab.capi.scale_results#module:runs_dir),
      e.g. C(results/scale)) - every run of its index C(runs.jsonl) is read. Exactly one of O(paths) and O(runs_dir).
    type: path
  stated:
    description:
      - A scaling guide's figures, component (the Prometheus job, e.g. C(capi-core)) -> C(at) (N),
        C(cpu_cores) and C(memory_mib). The default holds the figures for 1,000 clusters the capacity work quotes
        (Cluster API core and the kubeadm control plane, 4 cores and 8 GB each); C({}) shows none.
    type: dict
    default:
      capi-core: {at: 1000, cpu_cores: 4, memory_mib: 8192}
      capi-control-plane: {at: 1000, cpu_cores: 4, memory_mib: 8192}
  targets:
    description: The values of N to extrapolate to.
    type: list
    elements: int
    default: [1000, 5000, 15000]
  too_few:
    description: What fewer than O(min_sizes) sizes do - C(fail) the task naming them, or C(skip) (nothing written,
      RV(sized) false; what the scenarios use after each run, until a set has runs at three sizes).
    type: str
    choices: [fail, skip]
    default: fail
  unit:
    description: What N counts - Clusters (the clusters and metal3 scenarios) or BareMetalHosts (the hosts scenario).
    type: str
    choices: [cluster, host]
    default: cluster
"""

EXAMPLES = r"""
- name: Size the lab from every kept run of the set "scale" (e.g. runs at 10, 20 and 30 clusters)
  scalelab.capi.scale_sizing:
    runs_dir: ~/.local/share/scalelab/scalelab/results/scale
    markdown_path: ~/.local/share/scalelab/scalelab/results/scale/sizing.md
  register: sizing

- name: Three results files of a hosts set, extrapolated to 2,000 and 10,000 hosts, no guide figures
  scalelab.capi.scale_sizing:
    paths: [/tmp/h100.json, /tmp/h200.json, /tmp/h400.json]
    unit: host
    targets: [2000, 10000]
    stated: {}

- name: Say what runs out first
  ansible.builtin.debug:
    msg: "{{ sizing.runs_out }}"
"""

RETURN = r"""
sized:
  description: Whether the runs had enough sizes to fit (false only with O(too_few=skip)).
  type: bool
  returned: always
reason:
  description: Why nothing was fitted (with O(too_few=skip)).
  type: str
  returned: when not sized
sizes:
  description: The different values of N of the runs read, ascending.
  type: list
  elements: int
  returned: always
  sample: [10, 20, 30]
fits:
  description: Per component and resource (C(cpu_cores), C(memory_mib)) the kept fit - model (C(linear) or
    C(n_log_n)), a, b, a_se, b_se, rmse, other_rmse (the other model's), sizes - its C(predicted) value and error at
    each target, and C(stated) (at, value, measured, ratio) when O(stated) names the component.
  type: list
  elements: dict
  returned: when sized
  sample:
    - {component: capi-core, resource: memory_mib, model: linear, a: 61.2, b: 0.41, rmse: 0.9,
       predicted: {"1000": {value: 471.2, error: 12.3}}, stated: {at: 1000, value: 8192, measured: 471.2, ratio: 0.058}}
runs_out:
  description: The first of the machine's resources the components' summed fits exceed - resource, n, capacity - or
    null when neither does up to the largest target (or the runs recorded no machine).
  type: dict
  returned: when sized
  sample: {resource: cpu_cores, n: 640, capacity: 2}
machine:
  description: The management host the newest run recorded (cores, memory_bytes, ...).
  type: dict
  returned: when sized
runs:
  description: The results files read and the N of each.
  type: list
  elements: dict
  returned: always
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.report import sizing
from ansible_collections.scalelab.capi.plugins.module_utils.results import document, runs

ARGUMENT_SPEC = {
    "markdown_path": {"type": "path"},
    "min_sizes": {"type": "int", "default": 3},
    "paths": {"type": "list", "elements": "path"},
    "runs_dir": {"type": "path"},
    "stated": {"type": "dict", "default": sizing.STATED},
    "targets": {"type": "list", "elements": "int", "default": [1000, 5000, 15000]},
    "too_few": {"type": "str", "choices": ["fail", "skip"], "default": "fail"},
    "unit": {"type": "str", "choices": ["cluster", "host"], "default": "cluster"},
}


def _docs(p: dict) -> list[tuple[str, dict]]:
    if p["runs_dir"]:
        index = runs.index(p["runs_dir"])
        if not index:
            raise sizing.SizingError(f"runs_dir={p['runs_dir']}: no {runs.INDEX} with a run in it")
        paths = [os.path.join(p["runs_dir"], r["path"]) for r in index if r.get("path")]
        return [(path, document.load(path, "runs_dir")) for path in paths]
    return [(path, document.load(path, "paths")) for path in p["paths"]]


def _check(p: dict) -> None:
    if p["min_sizes"] < 3:
        raise sizing.SizingError(f"min_sizes={p['min_sizes']} must be at least 3")
    bad = [t for t in p["targets"] if t < 1]
    if not p["targets"] or bad:
        raise sizing.SizingError(f"targets={p['targets']} must be one or more positive numbers of objects")
    for job, st in p["stated"].items():
        ok = isinstance(st, dict) and isinstance(st.get("at"), int) and st["at"] > 0
        if not ok or not any(isinstance(st.get(k), (int, float)) for k in sizing.RESOURCES):
            raise sizing.SizingError(
                f"stated.{job}={st!r} must be a dict with at (a positive N) and cpu_cores and/or memory_mib"
            )


def run(p: dict, check_mode: bool) -> tuple[bool, dict]:
    _check(p)
    pts = sizing.points(_docs(p), p["unit"])
    runs_read = [{"path": x["path"], "n": x["n"]} for x in pts]
    try:
        result = sizing.sizing(pts, p["targets"], p["stated"], p["min_sizes"])
    except sizing.SizingError as e:
        if p["too_few"] == "skip" and isinstance(e, sizing.TooFewSizes):
            sizes = sorted({x["n"] for x in pts})
            return False, {"sized": False, "reason": str(e), "sizes": sizes, "runs": runs_read}
        raise
    result.update(sized=True, runs=runs_read)
    changed = False
    if p["markdown_path"]:
        try:
            changed = document.write_if_changed(p["markdown_path"], sizing.markdown(result, p["unit"]), check_mode)
        except OSError as e:
            raise sizing.SizingError(f"markdown_path={p['markdown_path']}: cannot write it: {e}") from e
    return changed, result


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("paths", "runs_dir")],
        required_one_of=[("paths", "runs_dir")],
        supports_check_mode=True,
    )
    errors.run_module(module, run)


if __name__ == "__main__":
    main()
