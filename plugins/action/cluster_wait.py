# Copyright: scalelab contributors
# Apache-2.0
"""Runs the cluster_wait module in windows and prints a progress line between them, on the controller.

Each line: ready/total (after a phase: back in shape/total), Machines ready (and with a node), clusters per minute
since the wait began, and an ETA at that rate.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.scalelab.capi.plugins.plugin_utils.windows import rate_eta, stall_check, wait_in_windows


def progress_line(name: str, snap: dict, count: int, machines: int, elapsed: float, first: dict) -> str:
    if "in_shape" in snap:  # a phase: a Cluster counts once its Machines are as the phase wants, not when ready
        done = snap["in_shape"]
        rate, eta = rate_eta(done, first.get("in_shape", 0), count, elapsed)
        line = f"[{name}] clusters back in shape {done}/{count} (ready {snap.get('ready', 0)})"
    else:
        ready = snap.get("ready", 0)
        rate, eta = rate_eta(ready, first.get("ready", 0), count, elapsed)
        line = f"[{name}] clusters ready {ready}/{count} (found {snap.get('total', 0)})"
    machines = max(machines, snap.get("machines_wanted", 0))
    if machines:
        with_node = snap.get("machines_with_node", 0)
        line += f", machines ready {snap.get('machines_ready', 0)}/{machines} (with node {with_node})"
    if "machines_total" in snap:  # the set's own shape: Machines still to come, or still to go
        line += f", {snap['machines_total']} there"
    if "machines_other_version" in snap:  # an upgrade: the Machines not replaced yet, the pools not bumped yet
        line += f", {snap['machines_other_version']} at another version left"
        line += f", {snap.get('pools_not_at_version', 0)} pool(s) not at it"
    if "machines_before_rollout" in snap:  # a rollout: the Machines made before it, not replaced yet
        line += f", {snap['machines_before_rollout']} from before the rollout left"
    if "soak_left" in snap:  # a soak: held until its seconds from the first mark are over
        return line + f", soak {snap['soak_left']:.0f} s left, {elapsed:.0f}s elapsed"
    return line + f", {rate:.1f}/min, ETA {eta}, {elapsed:.0f}s elapsed"


class ActionModule(ActionBase):
    _VALID_ARGS = frozenset(
        (
            "context",
            "count",
            "interval",
            "kubeconfig",
            "machines",
            "name",
            "report_every",
            "rollout",
            "shape",
            "soak",
            "stall_timeout",
            "timeout",
            "version",
            "window",
        )
    )

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        count = int(args.get("count", 0))
        machines = int(args.get("machines", 0))
        name = args.get("name", "")
        res = wait_in_windows(
            self,
            "scalelab.capi.cluster_wait",
            args,
            task_vars,
            lambda r, elapsed, first: progress_line(name, r, count, machines, elapsed, first),
            lambda r, timeout: (
                f"timeout={timeout}s: {r.get('ready', 0)}/{count} clusters of set {name} ready, "
                f"{r.get('machines_ready', 0)}/{max(machines, r.get('machines_wanted', 0))} machines ready "
                f"({r.get('machines_with_node', 0)} with a node"
                + (f", {r['machines_other_version']} at another version left" if "machines_other_version" in r else "")
                + (f", {r['machines_before_rollout']} older left" if "machines_before_rollout" in r else "")
                + (f", {r['machines_total']} there in all" if "machines_total" in r else "")
                + (f", soak {r['soak_left']:.0f} s left" if "soak_left" in r else "")
                + "); "
                f"not ready: {r.get('not_ready', [])[:3]}"
            ),
            stall_check(count, f"set {name}", "clusters", args.get("stall_timeout")),
        )
        return {**result, **res}
