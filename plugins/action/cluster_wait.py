# Copyright: scalelab contributors
# Apache-2.0
"""Runs the cluster_wait module in windows and prints a progress line between them, on the controller.

A module cannot print while it runs; an action plugin can. Each line: ready/total, machines with a node,
clusters per minute since the wait began, and an ETA at that rate.
"""

from __future__ import annotations

import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()


def progress_line(name: str, snap: dict, count: int, machines: int, elapsed: float, ready0: int) -> str:
    ready = snap.get("ready", 0)
    rate = (ready - ready0) / elapsed * 60 if elapsed > 0 else 0.0
    left = max(0, count - ready)
    eta = "done" if left == 0 else (f"{left / rate:.1f} min" if rate > 0 else "unknown")
    line = f"[{name}] clusters ready {ready}/{count} (found {snap.get('total', 0)})"
    if machines:
        line += f", machines with node {snap.get('machines_with_node', 0)}/{machines}"
    return line + f", {rate:.1f}/min, ETA {eta}, {elapsed:.0f}s elapsed"


class ActionModule(ActionBase):
    _VALID_ARGS = frozenset(
        ("context", "count", "interval", "kubeconfig", "machines", "name", "report_every", "timeout", "window")
    )

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        timeout = float(args.get("timeout", 1800.0))
        window = float(args.get("report_every", args.get("window", 15.0)))
        count = int(args.get("count", 0))
        machines = int(args.get("machines", 0))
        start = time.monotonic()
        ready0 = None
        while True:
            left = timeout - (time.monotonic() - start)
            call = {**args, "window": max(0.0, min(window, left))}
            res = self._execute_module(
                module_name="scalelab.capi.cluster_wait", module_args=call, task_vars=task_vars, tmp=tmp
            )
            if res.get("failed"):
                return {**result, **res}
            if ready0 is None:
                ready0 = res.get("ready", 0)
            elapsed = time.monotonic() - start
            display.display(progress_line(args.get("name", ""), res, count, machines, elapsed, ready0))
            if res.get("done") or self._play_context.check_mode:
                return {**result, **res, "changed": False, "seconds": round(elapsed, 1)}
            if elapsed >= timeout:
                return {
                    **result,
                    **res,
                    "failed": True,
                    "msg": f"timeout={timeout}s: {res.get('ready', 0)}/{count} clusters of set {args.get('name')} "
                    f"ready, {res.get('machines_with_node', 0)}/{machines} machines with a node; not ready: "
                    f"{res.get('not_ready', [])[:3]}",
                }
