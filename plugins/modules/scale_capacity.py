#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: scale_capacity
short_description: Judge a capacity search's steps, say which step runs next, write the capacity report
version_added: 0.8.0
description:
  - Reads the steps of a capacity search kept in O(directory) - C(rate-<R>.json) (a fresh set of O(rate_clusters)
    clusters created at R clusters per minute) and C(size-<N>.json) (one set grown to N clusters) - results
    JSONs of M(scalelab.capi.scale_results) with their M(scalelab.capi.prometheus_snapshot) section.
  - Judges each step by O(gates) and the memory budget (C(node_memory_used_ratio_max) <= O(memory_budget)).
  - "The rate search: O(rate_start) first, doubled while every gate is met (up to O(rate_max)), halved below
    O(rate_start) while none is (down to O(rate_min)), then the midpoint of the fastest rate met and the slowest
    broken until they are within O(rate_resolution) of each other; at most O(rate_steps) rates. The knee is the
    fastest rate met below every broken one."
  - The size search, at the knee's rate - O(sizes) in ascending order until the first that breaks a gate or the
    budget.
  - Returns the step to run next (RV(next)), or none when both searches are done or O(deadline) has passed, and
    writes the report (rate against every gate's metric, size against each component's peak CPU and memory, the
    knees marked) to O(markdown_path). Steps already in O(directory) are reused, never run again.
  - C(playbooks/capacity.yml) runs this module before every step.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.attributes.markdown
options:
  deadline:
    description: Unix seconds after which no step starts (the search's time limit); C(0) sets none.
    type: float
    default: 0
  directory:
    description: Where the steps' results JSONs are (and go). It need not exist yet.
    type: path
    required: true
  gates:
    description: Metric -> threshold every step must meet (names as M(scalelab.capi.scale_gate) takes them).
    type: dict
    default: {drift_pct: 5, reconcile_p99_seconds_max: 1, apiserver_mutating_p99_seconds_max: 1, objects_failed: 0}
  markdown_path:
    description: Markdown file the capacity report is written to; omitted writes none.
    type: path
  memory_budget:
    description: The share of the management host's memory a step may use at its peak (above 0, up to 1).
    type: float
    default: 0.8
  rate_clusters:
    description: Clusters created at each rate (at least 2; drift compares the first and last 10% of them).
    type: int
    default: 30
  rate_factor:
    description: How much faster (or slower) the next rate is while every step so far met (or broke) the gates.
    type: float
    default: 2
  rate_max:
    description: The fastest rate tried.
    type: float
    default: 240
  rate_min:
    description: The slowest rate tried when even the first breaks a gate.
    type: float
    default: 1
  rate_resolution:
    description: The search stops when the slowest broken rate is within this share of the fastest met (0.25 =
      25%).
    type: float
    default: 0.25
  rate_start:
    description: The first rate tried, clusters per minute.
    type: float
    default: 10
  rate_steps:
    description: The most rates tried.
    type: int
    default: 5
  sizes:
    description: The sizes the set is grown to, in clusters.
    type: list
    elements: int
    default: [100, 200, 400, 700, 1000]
"""

EXAMPLES = r"""
- name: What to run next, within an hour of the start
  scalelab.capi.scale_capacity:
    directory: ~/.local/share/scalelab/scalelab/results/capacity
    markdown_path: ~/.local/share/scalelab/scalelab/results/capacity/capacity.md
    deadline: "{{ _capacity_started | float + 3600 }}"
  register: capacity

- name: A stricter search - drift at most 2%, every object ready, half of the host's memory, sizes to 500
  scalelab.capi.scale_capacity:
    directory: /var/tmp/capacity
    gates: {drift_pct: 2, objects_failed: 0}
    memory_budget: 0.5
    rate_start: 20
    sizes: [100, 250, 500]
"""

RETURN = r"""
next:
  description: The step to run next - phase (C(rate) or C(size)), rate (clusters per minute), clusters (to create,
    or the size to grow the set to), batch_size and batch_pause (M(scalelab.capi.cluster_bulk)'s pacing for the
    rate), path (where its results go) - or null when the search is done.
  type: dict
  returned: always
  sample: {phase: rate, rate: 20.0, clusters: 30, batch_size: 3, batch_pause: 9, path: /tmp/capacity/rate-20.json}
reason:
  description: Why the search is done (null while it is not).
  type: str
  returned: always
knee_rate:
  description: The fastest rate every gate met (clusters per minute), or null.
  type: float
  returned: always
held:
  description: The most clusters the lab held within every gate, or null.
  type: int
  returned: always
steps:
  description: Per phase (C(rate), C(size)) each step - value, path, ok, broken (one line per gate broken),
    values (each gate's metric), clusters, peaks (per component cpu_cores and rss_mib).
  type: dict
  returned: always
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.report import capacity, gates
from ansible_collections.scalelab.capi.plugins.module_utils.results import document

ARGUMENT_SPEC = {
    "deadline": {"type": "float", "default": 0},
    "directory": {"type": "path", "required": True},
    "gates": {"type": "dict", "default": capacity.DEFAULT_GATES},
    "markdown_path": {"type": "path"},
    "memory_budget": {"type": "float", "default": 0.8},
    "rate_clusters": {"type": "int", "default": 30},
    "rate_factor": {"type": "float", "default": 2},
    "rate_max": {"type": "float", "default": 240},
    "rate_min": {"type": "float", "default": 1},
    "rate_resolution": {"type": "float", "default": 0.25},
    "rate_start": {"type": "float", "default": 10},
    "rate_steps": {"type": "int", "default": 5},
    "sizes": {"type": "list", "elements": "int", "default": [100, 200, 400, 700, 1000]},
}


def _search(p: dict) -> dict:
    """The search's own names for the rate options."""
    return {
        "start": p["rate_start"],
        "min": p["rate_min"],
        "max": p["rate_max"],
        "factor": p["rate_factor"],
        "resolution": p["rate_resolution"],
        "steps": p["rate_steps"],
        "rate_clusters": p["rate_clusters"],
        "sizes": p["sizes"],
        "memory_budget": p["memory_budget"],
    }


def run(p: dict, check_mode: bool, now=time.time) -> tuple[bool, dict]:
    search = _search(p)
    capacity.check(search)
    gates.evaluate_gates({}, p["gates"])  # a threshold that is not a number is refused here, naming it
    found = capacity.steps(p["directory"], p["gates"], p["memory_budget"])
    nxt = capacity.plan(found, search)
    reason = None
    if nxt is None:
        reason = "both searches are done" if capacity.knee(found["rate"]) is not None else "no rate met every gate"
    elif p["deadline"] and now() >= p["deadline"]:
        nxt, reason = None, f"the time limit passed (deadline {p['deadline']:.0f})"
    if nxt is not None:
        nxt["path"] = capacity.step_path(
            p["directory"], nxt["phase"], nxt["rate"] if nxt["phase"] == "rate" else nxt["clusters"]
        )
    changed = False
    if p["markdown_path"]:
        text = capacity.markdown(found, p["gates"], p["memory_budget"], nxt, reason or "")
        try:
            changed = document.write_if_changed(p["markdown_path"], text, check_mode)
        except OSError as e:
            raise capacity.CapacityError(f"markdown_path={p['markdown_path']}: cannot write it: {e}") from e
    return changed, {
        "next": nxt,
        "reason": reason,
        "knee_rate": capacity.knee(found["rate"]),
        "held": capacity.largest(found["size"]),
        "steps": found,
    }


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    errors.run_module(module, run)


if __name__ == "__main__":
    main()
