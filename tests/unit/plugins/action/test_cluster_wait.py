from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.action import cluster_wait


@pytest.mark.parametrize(
    ("snap", "machines", "expected"),
    [
        ({"ready": 0, "total": 4}, 0, "[s] clusters ready 0/4 (found 4), 0.0/min, ETA unknown, 30s elapsed"),
        (
            {"ready": 2, "total": 4, "machines_ready": 1, "machines_with_node": 2},
            4,
            "[s] clusters ready 2/4 (found 4), machines ready 1/4 (with node 2), 4.0/min, ETA 0.5 min, 30s elapsed",
        ),
        # After an upgrade: how many Machines are still at the old version, and worker pools not bumped yet.
        (
            {
                "ready": 4,
                "total": 4,
                "machines_ready": 3,
                "machines_with_node": 3,
                "machines_other_version": 1,
                "pools_not_at_version": 2,
            },
            4,
            "[s] clusters ready 4/4 (found 4), machines ready 3/4 (with node 3), 1 at another version left, "
            "2 pool(s) not at it, 8.0/min, ETA done, 30s elapsed",
        ),
        # The set's own shape (a scale): the Machines its topologies ask for, and how many there are.
        (
            {
                "ready": 4,
                "total": 4,
                "machines_ready": 6,
                "machines_with_node": 6,
                "machines_wanted": 8,
                "machines_total": 7,
            },
            4,
            "[s] clusters ready 4/4 (found 4), machines ready 6/8 (with node 6), 7 there, 8.0/min, ETA done, "
            "30s elapsed",
        ),
        # A phase: clusters count once back in shape (their Machines as the phase wants), the rate on those.
        (
            {
                "ready": 4,
                "total": 4,
                "in_shape": 1,
                "machines_ready": 2,
                "machines_with_node": 2,
                "machines_before_rollout": 2,
            },
            4,
            "[s] clusters back in shape 1/4 (ready 4), machines ready 2/4 (with node 2), 2 from before the rollout "
            "left, 2.0/min, ETA 1.5 min, 30s elapsed",
        ),
        # A soak: how long it still holds, no rate.
        (
            {"ready": 4, "total": 4, "in_shape": 4, "machines_ready": 4, "machines_with_node": 4, "soak_left": 312.4},
            4,
            "[s] clusters back in shape 4/4 (ready 4), machines ready 4/4 (with node 4), soak 312 s left, 30s elapsed",
        ),
    ],
)
def test_progress_line(snap, machines, expected):
    assert cluster_wait.progress_line("s", snap, 4, machines, 30, {"ready": 0, "in_shape": 0}) == expected


def test_every_module_option_is_accepted_by_the_action():
    from ansible_collections.scalelab.capi.plugins.modules import cluster_wait as module

    assert set(module.ARGUMENT_SPEC) <= cluster_wait.ActionModule._VALID_ARGS


class TickingClock:
    """windows' time: each monotonic() is 10 s after the last."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        self.now += 10.0
        return self.now


@pytest.mark.parametrize(
    ("stall_timeout", "fails_with"), [(None, "no new one for 60 s"), (30.0, "no new one for 30 s")]
)
def test_a_set_nobody_grows_fails_after_stall_timeout(monkeypatch, scripted_action, stall_timeout, fails_with):
    from ansible_collections.scalelab.capi.plugins.plugin_utils import windows

    monkeypatch.setattr(windows, "time", TickingClock())
    args = {"name": "s", "count": 3, "timeout": 600, "report_every": 0}
    if stall_timeout is not None:
        args["stall_timeout"] = stall_timeout
    action = scripted_action(cluster_wait, args, [{"ready": 0, "total": 1, "done": False}] * 40)
    res = action.run(task_vars={})
    assert res["failed"] is True and f"count=3: set s has 1 clusters and {fails_with}" in res["msg"], res
    assert res["seconds"] < 600
