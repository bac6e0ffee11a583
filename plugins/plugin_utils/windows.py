# Copyright: scalelab contributors
# Apache-2.0
"""Run a polling module in windows and print a progress line between them (shared by the wait action plugins).

A module cannot print while it runs; an action plugin can. The module polls for `window` seconds and returns
its last snapshot with `done`; this loop prints `line(snapshot, elapsed)` after each window.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ansible.utils.display import Display
from ansible_collections.scalelab.capi.plugins.module_utils.sets.waiters import STALL_ARGUMENT_SPEC

display = Display()


def rate_eta(reached: int, reached0: int, count: int, elapsed: float) -> tuple[float, str]:
    """Objects per minute since the wait began, and the ETA to `count` at that rate."""
    rate = (reached - reached0) / elapsed * 60 if elapsed > 0 else 0.0
    left = max(0, count - reached)
    eta = "done" if left == 0 else (f"{left / rate:.1f} min" if rate > 0 else "unknown")
    return rate, eta


def wait_in_windows(
    action,
    module_name: str,
    args: dict,
    task_vars: dict,
    line: Callable[[dict, float, dict], str],
    timeout_msg: Callable[[dict, float], str],
    stuck: Callable[[dict, float], str | None] | None = None,
) -> dict:
    """Poll `module_name` until its result says done, the timeout passes or it fails; return the last result.

    line(result, elapsed, first_result) is printed after each window; stuck(result, elapsed), when given, names a
    wait that can never end (e.g. stall_check) and fails it at once instead of at the timeout.
    """
    timeout = float(args.get("timeout", 1800.0))
    window = float(args.get("report_every", args.get("window", 15.0)))
    start = time.monotonic()
    first = None
    while True:
        left = timeout - (time.monotonic() - start)
        call = {**args, "window": max(0.0, min(window, left))}
        res = action._execute_module(module_name=module_name, module_args=call, task_vars=task_vars)
        if res.get("failed"):
            elapsed = time.monotonic() - start
            # The API server did not answer in time (busy, not gone: it answered before): the wait's own timeout
            # decides, not one window.
            if res.get("transient") and first is not None and elapsed < timeout:
                display.display(f"no answer in this window ({res.get('msg')}): polling again, {elapsed:.0f}s elapsed")
                continue
            return res
        if first is None:
            first = res
        elapsed = time.monotonic() - start
        display.display(line(res, elapsed, first))
        if res.get("done") or action._play_context.check_mode:
            return {**res, "changed": False, "seconds": round(elapsed, 1)}
        why = stuck(res, elapsed) if stuck else None
        if why:
            return {**res, "failed": True, "msg": why, "seconds": round(elapsed, 1)}
        if elapsed >= timeout:
            return {**res, "failed": True, "msg": timeout_msg(res, timeout), "seconds": round(elapsed, 1)}


def stall_check(count: int, subject: str, what: str, after: float | None = None) -> Callable[[dict, float], str | None]:
    """A `stuck` for wait_in_windows: fewer than `count` objects found (result["total"]) and none added for `after`
    seconds means nothing is creating the rest, so waiting for them to be ready would only run out the timeout.
    `after` is the task's stall_timeout; None (not given) takes the modules' default from their argument spec, which
    an action plugin does not see."""
    if after is None:
        after = STALL_ARGUMENT_SPEC["stall_timeout"]["default"]
    after = float(after)
    seen = {"total": None, "since": 0.0}

    def stuck(res: dict, elapsed: float) -> str | None:
        total = int(res.get("total", 0))
        if total >= count:
            return None
        if total != seen["total"]:
            seen.update(total=total, since=elapsed)
            return None
        if elapsed - seen["since"] < after:
            return None
        return (
            f"count={count}: {subject} has {total} {what} and no new one for {after:.0f} s, so the rest can never be "
            "ready: create them first (or wait for fewer)"
        )

    return stuck
