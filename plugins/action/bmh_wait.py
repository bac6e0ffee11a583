# Copyright: scalelab contributors
# Apache-2.0
"""Runs the bmh_wait module in windows and prints a progress line between them, on the controller."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.scalelab.capi.plugins.plugin_utils.windows import rate_eta, stall_check, wait_in_windows

# state: provisioning_state's old name (an alias).
WAIT_ARGS = (
    "context",
    "count",
    "interval",
    "kubeconfig",
    "name",
    "provisioning_state",
    "report_every",
    "stall_timeout",
    "state",
    "timeout",
    "window",
)


def progress_line(name: str, target: str, snap: dict, count: int, elapsed: float, reached0: int) -> str:
    reached = snap.get("reached", 0)
    rate, eta = rate_eta(reached, reached0, count, elapsed)
    states = ", ".join(f"{k} {v}" for k, v in snap.get("states", {}).items() if k != target)
    line = f"[{name}] hosts {target} {reached}/{count} (found {snap.get('total', 0)}"
    line += f"; {states})" if states else ")"
    if snap.get("errors"):
        line += f", {len(snap['errors'])}+ with errors"
    return line + f", {rate:.1f}/min, ETA {eta}, {elapsed:.0f}s elapsed"


def timeout_message(name: str, target: str, count: int, snap: dict, timeout: float) -> str:
    return (
        f"timeout={timeout}s: {snap.get('reached', 0)}/{count} hosts of set {name} {target}; per state "
        f"{snap.get('states', {})}; errors: {snap.get('errors', [])[:3]}"
    )


def wait(action, args: dict, task_vars: dict) -> dict:
    name, count = args.get("name", ""), int(args.get("count", 0))
    target = args.get("provisioning_state", args.get("state", "available"))
    return wait_in_windows(
        action,
        "scalelab.capi.bmh_wait",
        args,
        task_vars,
        lambda r, elapsed, first: progress_line(name, target, r, count, elapsed, first.get("reached", 0)),
        lambda r, timeout: timeout_message(name, target, count, r, timeout),
        stall_check(count, f"set {name}", "hosts", args.get("stall_timeout")),
    )


class ActionModule(ActionBase):
    _VALID_ARGS = frozenset(WAIT_ARGS)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        return {**result, **wait(self, dict(self._task.args), task_vars)}
