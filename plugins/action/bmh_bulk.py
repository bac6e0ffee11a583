# Copyright: scalelab contributors
# Apache-2.0
"""Runs the bmh_bulk module, then (with `wait`) waits for the hosts with progress lines, like bmh_wait."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.scalelab.capi.plugins.action.bmh_wait import wait


def wait_args(args: dict) -> dict | None:
    """bmh_wait's arguments for bmh_bulk's `wait`, or None when there is nothing to wait for."""
    w = args.get("wait")
    if not w or args.get("state", "present") != "present":
        return None
    target = w.get("provisioning_state", w.get("state", "available"))
    count = int(args.get("count", 0))
    provisioned = args.get("provisioned")
    default = int(provisioned or 0) if target == "provisioned" else count - int(provisioned or 0)
    out = {k: args[k] for k in ("kubeconfig", "context", "name") if k in args}
    out.update(
        provisioning_state=target,
        count=default if w.get("count") is None else int(w["count"]),
        timeout=float(w.get("timeout", 1800.0)),
        report_every=float(w.get("report_every", 15.0)),
    )
    return out


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        res = self._execute_module(module_name="scalelab.capi.bmh_bulk", module_args=args, task_vars=task_vars)
        result.update(res)
        w = wait_args(args)
        if res.get("failed") or w is None or self._play_context.check_mode:
            return result
        waited = wait(self, w, task_vars)
        result["wait"] = {k: waited.get(k) for k in ("reached", "total", "states", "errors", "seconds", "done")}
        if waited.get("failed"):
            result.update(failed=True, msg=waited.get("msg", "waiting for the hosts failed"))
        return result
