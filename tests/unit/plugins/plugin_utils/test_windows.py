from __future__ import annotations

from types import SimpleNamespace

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.sets.waiters import STALL_ARGUMENT_SPEC
from ansible_collections.scalelab.capi.plugins.plugin_utils import windows


@pytest.mark.parametrize(
    ("reached", "reached0", "count", "elapsed", "rate", "eta"),
    [
        (10, 0, 100, 60.0, 10.0, "9.0 min"),
        (10, 0, 100, 30.0, 20.0, "4.5 min"),
        (55, 50, 100, 60.0, 5.0, "9.0 min"),  # the rate counts only what was reached since the wait began
        (3, 0, 4, 90.0, 2.0, "0.5 min"),
        (100, 0, 100, 60.0, 100.0, "done"),
        (120, 0, 100, 60.0, 120.0, "done"),  # more than wanted: nothing left
        (0, 0, 0, 0.0, 0.0, "done"),
        (50, 50, 100, 60.0, 0.0, "unknown"),  # no progress: no ETA
        (0, 0, 10, 0.0, 0.0, "unknown"),  # no time yet
        (5, 0, 10, -1.0, 0.0, "unknown"),
        (40, 50, 100, 60.0, -10.0, "unknown"),  # hosts left the state (e.g. available -> provisioning)
        (50, 50, 50, 0.0, 0.0, "done"),
    ],
)
def test_rate_eta(reached, reached0, count, elapsed, rate, eta):
    assert windows.rate_eta(reached, reached0, count, elapsed) == (rate, eta)


class FakeClock:
    """time for windows: monotonic() is advanced by the fake module, which 'polls' for its window."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


class FakeAction:
    """What wait_in_windows uses of an action plugin: _execute_module and _play_context.check_mode.

    Each call returns the next of `results` and advances the clock by the window asked for, as the module does.
    """

    def __init__(self, results, clock, check_mode=False):
        self.results = list(results)
        self.clock = clock
        self.calls = []
        self._play_context = SimpleNamespace(check_mode=check_mode)

    def _execute_module(self, module_name, module_args, task_vars):
        self.calls.append((module_name, dict(module_args), task_vars))
        self.clock.now += module_args["window"]
        return dict(self.results.pop(0))


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(windows, "time", c)
    return c


def line(res, elapsed, first):
    return f"reached {res['reached']} first {first['reached']} at {elapsed:.0f}s"


def timeout_msg(res, timeout):
    return f"timed out after {timeout}s at {res['reached']}"


def snap(reached, done=False, **kw):
    return {"reached": reached, "done": done, **kw}


def test_wait_until_done_prints_a_line_per_window(clock, capsys):
    action = FakeAction([snap(1), snap(4), snap(9, done=True)], clock)
    args = {"name": "hosts", "count": 9, "timeout": 100.0, "report_every": 15.0}
    res = windows.wait_in_windows(action, "scalelab.capi.bmh_wait", args, {"v": 1}, line, timeout_msg)
    assert res == {"reached": 9, "done": True, "changed": False, "seconds": 45.0}
    assert [c[1]["window"] for c in action.calls] == [15.0, 15.0, 15.0]
    assert all(c[0] == "scalelab.capi.bmh_wait" and c[2] == {"v": 1} for c in action.calls)
    assert action.calls[0][1] == {**args, "window": 15.0}  # the module gets every argument, plus its window
    assert "window" not in args  # the task's arguments are not changed
    assert capsys.readouterr().out.splitlines() == [
        "reached 1 first 1 at 15s",
        "reached 4 first 1 at 30s",
        "reached 9 first 1 at 45s",
    ]


def test_wait_times_out_with_a_short_last_window(clock, capsys):
    action = FakeAction([snap(i) for i in range(10)], clock)
    args = {"timeout": 40.0, "report_every": 15.0}
    res = windows.wait_in_windows(action, "m", args, {}, line, timeout_msg)
    assert [c[1]["window"] for c in action.calls] == [15.0, 15.0, 10.0]  # the last one ends at the timeout
    assert res == {
        "reached": 2,
        "done": False,
        "failed": True,
        "msg": "timed out after 40.0s at 2",
        "seconds": 40.0,
    }
    assert len(capsys.readouterr().out.splitlines()) == 3


@pytest.mark.parametrize(
    ("args", "windows_asked"),
    [
        ({"timeout": 30}, [15.0, 15.0]),  # 15 s windows by default
        ({"timeout": 10, "window": 5}, [5.0, 5.0]),  # window is used when report_every is not given
        ({"timeout": 40, "window": 5, "report_every": 20}, [20.0, 20.0]),  # report_every wins
        ({"timeout": "60", "report_every": "30"}, [30.0, 30.0]),  # numbers from templates arrive as strings
        ({"timeout": 12, "report_every": 5}, [5.0, 5.0, 2.0]),
        ({"timeout": 7, "report_every": 10}, [7.0]),
        ({"timeout": 0}, [0.0]),  # one poll, then the timeout
        ({"timeout": -5}, [0.0]),  # never a negative window
    ],
)
def test_wait_windows_until_timeout(clock, args, windows_asked):
    action = FakeAction([snap(0)] * 10, clock)
    res = windows.wait_in_windows(action, "m", args, {}, line, timeout_msg)
    assert [c[1]["window"] for c in action.calls] == windows_asked
    assert res["failed"] is True
    assert res["seconds"] == sum(windows_asked)
    assert res["msg"] == f"timed out after {float(args['timeout'])}s at 0"


def test_wait_default_timeout_is_1800_seconds(clock):
    action = FakeAction([snap(0)] * 200, clock)
    res = windows.wait_in_windows(action, "m", {}, {}, line, timeout_msg)
    assert len(action.calls) == 120  # 1800 / 15
    assert res["msg"] == "timed out after 1800.0s at 0"
    assert res["seconds"] == 1800.0


def test_wait_returns_a_failed_module_result_as_is(clock, capsys):
    failed = {"failed": True, "msg": "kubeconfig=/x: cannot reach"}
    action = FakeAction([snap(1), failed, snap(5)], clock)
    assert windows.wait_in_windows(action, "m", {"timeout": 100}, {}, line, timeout_msg) == failed
    assert len(action.calls) == 2
    assert capsys.readouterr().out == "reached 1 first 1 at 15s\n"  # no line for the failed call


def test_wait_check_mode_polls_once(clock, capsys):
    action = FakeAction([snap(3), snap(4)], clock, check_mode=True)
    res = windows.wait_in_windows(action, "m", {"timeout": 100}, {}, line, timeout_msg)
    assert res == {"reached": 3, "done": False, "changed": False, "seconds": 15.0}
    assert len(action.calls) == 1
    assert capsys.readouterr().out == "reached 3 first 3 at 15s\n"


def test_wait_done_at_the_timeout_is_not_a_failure(clock):
    action = FakeAction([snap(1), snap(2, done=True)], clock)
    res = windows.wait_in_windows(action, "m", {"timeout": 30, "report_every": 15}, {}, line, timeout_msg)
    assert res["done"] is True
    assert "failed" not in res
    assert res["seconds"] == 30.0


def test_wait_with_the_real_clock(capsys):
    # No fake clock: a module that is done at once returns within a moment.
    action = FakeAction([snap(2, done=True)], FakeClock())
    res = windows.wait_in_windows(action, "m", {"timeout": 60, "report_every": 15}, {}, line, timeout_msg)
    assert res["done"] is True and res["changed"] is False
    assert 0.0 <= res["seconds"] < 5.0
    assert action.calls[0][1]["window"] == 15.0
    assert capsys.readouterr().out.startswith("reached 2 first 2 at ")


# (totals found at each window, count wanted, seconds until it fails or None: it runs to its timeout of 300 s)
@pytest.mark.parametrize(
    ("totals", "count", "fails_at"),
    [
        ([3] * 30, 5, 75.0),  # 3 of 5 found and none added: fails after 60 s without a new one (windows of 15 s)
        ([0] * 30, 2, 75.0),
        ([3, 3, 4, 4, 4, 4, 4, 4, 4] + [4] * 21, 5, 105.0),  # a new one resets the clock
        ([5] * 30, 5, None),  # all there: only readiness is awaited, however long
        ([6] * 30, 5, None),
        ([1, 2, 3, 4, 5] + [5] * 25, 5, None),  # still being created
    ],
)
def test_a_wait_for_more_than_exists_fails_once_nothing_is_added(clock, totals, count, fails_at):
    action = FakeAction([snap(0, total=t) for t in totals], clock)
    stalled = windows.stall_check(count, "set scale", "clusters", after=60.0)
    res = windows.wait_in_windows(action, "m", {"timeout": 300}, {}, line, timeout_msg, stalled)
    if fails_at is None:
        assert res["msg"] == "timed out after 300.0s at 0"
    else:
        assert res["seconds"] == fails_at and res["failed"] is True
        assert res["msg"] == (
            f"count={count}: set scale has {totals[0] if totals[0] == totals[-1] else 4} clusters and no new one for "
            "60 s, so the rest can never be ready: create them first (or wait for fewer)"
        )


@pytest.mark.parametrize("default, fails_at", [(60.0, 75.0), (30.0, 45.0)])
def test_a_task_without_stall_timeout_gets_the_modules_default(clock, monkeypatch, default, fails_at):
    """An action plugin sees only the task's arguments: the default comes from the modules' argument spec (one
    place), whatever it is."""
    monkeypatch.setitem(STALL_ARGUMENT_SPEC["stall_timeout"], "default", default)
    action = FakeAction([snap(0, total=3)] * 30, clock)
    stalled = windows.stall_check(5, "s", "x")
    res = windows.wait_in_windows(action, "m", {"timeout": 300}, {}, line, timeout_msg, stalled)
    assert (res["failed"], res["seconds"]) == (True, fails_at) and f"for {default:.0f} s" in res["msg"]


def test_a_window_the_api_server_did_not_answer_in_is_waited_out(clock, capsys):
    """A busy API server (a LIST past its read timeout and retries) fails one window, not the wait: after a first
    answer, the wait says so and polls again until its own timeout."""
    slow = {"failed": True, "transient": True, "msg": "kubeconfig=/x: ReadTimeout: read timed out"}
    action = FakeAction([snap(1), slow, slow, snap(5, done=True)], clock)
    res = windows.wait_in_windows(action, "m", {"timeout": 100}, {}, line, timeout_msg)
    assert res == {"reached": 5, "done": True, "changed": False, "seconds": 60.0}
    assert capsys.readouterr().out.splitlines() == [
        "reached 1 first 1 at 15s",
        "no answer in this window (kubeconfig=/x: ReadTimeout: read timed out): polling again, 30s elapsed",
        "no answer in this window (kubeconfig=/x: ReadTimeout: read timed out): polling again, 45s elapsed",
        "reached 5 first 1 at 60s",
    ]
    # Before any answer (a wrong address, a lab that is down) and at the timeout, it is the wait's failure.
    assert windows.wait_in_windows(FakeAction([slow], clock), "m", {"timeout": 100}, {}, line, timeout_msg) == slow
    late = windows.wait_in_windows(FakeAction([snap(1), slow], clock), "m", {"timeout": 30}, {}, line, timeout_msg)
    assert late == slow
