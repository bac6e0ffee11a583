from __future__ import annotations

import time

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.bulkops import wait_until


@pytest.mark.parametrize(
    ("answers", "timeout", "want", "calls"),
    [
        ([[]], 5, [], 1),  # nothing pending: one call, no sleep
        ([["a", "b"], ["b"], []], 5, [], 3),  # drains
        ([["a"]] * 100, 0.25, ["a"], None),  # timeout: returns what is still pending
    ],
)
def test_wait_until(answers, timeout, want, calls):
    it = iter(answers)
    made = []

    def left():
        made.append(1)
        return next(it)

    t0 = time.monotonic()
    assert wait_until(left, timeout, interval=0.05) == want
    elapsed = time.monotonic() - t0
    if calls is not None:
        assert len(made) == calls
    else:
        assert elapsed >= timeout and len(made) >= 2
