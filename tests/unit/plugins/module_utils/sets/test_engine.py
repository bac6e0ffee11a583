from __future__ import annotations

import threading
import time

import pytest
import requests
from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeError
from ansible_collections.scalelab.capi.plugins.module_utils.kube.ratelimit import TokenBucket
from ansible_collections.scalelab.capi.plugins.module_utils.sets import engine
from ansible_collections.scalelab.capi.plugins.module_utils.sets.engine import MAX_FAILURES_KEPT, BulkResult
from ansible_collections.scalelab.capi.plugins.module_utils.sets.waiters import wait_until


class JobFailed(Exception):
    pass


class Jobs:
    """fn(job, acquire) for run_all: job n fails when n is in `failing`; odd jobs make two calls."""

    def __init__(self, failing=(), two_calls_for_odd=False):
        self.failing = set(failing)
        self.two_calls_for_odd = two_calls_for_odd
        self.attempted: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, job, acquire):
        with self._lock:
            self.attempted.append(job)
        acquire()
        if job in self.failing:
            raise JobFailed(f"job {job}: HTTP 422: invalid")
        if self.two_calls_for_odd and job % 2:
            acquire()
            return [("exists", 0.02), ("created", 0.01)]
        return [("created", 0.01)]


def label(job) -> str:
    return f"cluster/c-{job:04d}"


def run(jobs, fn, concurrency=2, stop_after_failures=0, limiter=None):
    return engine.run_all(
        jobs,
        fn,
        label,
        concurrency,
        limiter or TokenBucket(0, 1),
        (JobFailed,),
        stop_after_failures=stop_after_failures,
    )


@pytest.mark.parametrize(
    ("n", "failing", "two_calls", "concurrency", "counts", "latencies", "failed"),
    [
        (0, (), False, 4, {}, [], []),
        (1, (), False, 1, {"created": 1}, [0.01], []),
        (5, (), False, 1, {"created": 5}, [0.01] * 5, []),
        (5, (), False, 8, {"created": 5}, [0.01] * 5, []),
        (5, (1, 3), False, 2, {"created": 3}, [0.01] * 3, [1, 3]),
        (4, (), True, 3, {"created": 4, "exists": 2}, [0.01] * 4 + [0.02] * 2, []),
        (6, (0, 5), True, 2, {"created": 4, "exists": 2}, [0.01] * 4 + [0.02] * 2, [0, 5]),
        (3, (0, 1, 2), False, 2, {}, [], [0, 1, 2]),
        (50, range(0, 50, 10), False, 4, {"created": 45}, [0.01] * 45, [0, 10, 20, 30, 40]),
    ],
)
def test_run_all(n, failing, two_calls, concurrency, counts, latencies, failed):
    fn = Jobs(failing, two_calls)
    result = run(range(n), fn, concurrency=concurrency)
    assert sorted(fn.attempted) == list(range(n))
    assert result.counts == counts
    assert sorted(result.latencies) == latencies
    assert result.failed == len(failed)
    assert sorted(result.failures, key=lambda f: f["object"]) == [
        {"object": f"cluster/c-{j:04d}", "error": f"job {j}: HTTP 422: invalid"} for j in failed
    ]
    assert result.seconds >= 0


def test_run_all_consumes_a_generator():
    fn = Jobs()
    result = run((i for i in range(25)), fn, concurrency=3)
    assert result.counts == {"created": 25}
    assert sorted(fn.attempted) == list(range(25))


@pytest.mark.parametrize(
    ("stop_after", "concurrency", "low", "high"),
    [
        (1, 1, 1, 2),  # the job in flight when the first failure is seen may still start
        (3, 1, 3, 4),
    ],
)
def test_stop_after_failures_stops_submitting(stop_after, concurrency, low, high):
    fn = Jobs(failing=range(100))
    result = run(range(100), fn, concurrency=concurrency, stop_after_failures=stop_after)
    assert low <= len(fn.attempted) <= high
    assert result.failed == len(fn.attempted)
    assert len(result.failures) == len(fn.attempted)
    assert result.counts == {}


def test_stop_after_failures_zero_tries_everything():
    fn = Jobs(failing=range(30))
    result = run(range(30), fn, concurrency=1, stop_after_failures=0)
    assert len(fn.attempted) == 30
    assert result.failed == 30
    assert len(result.failures) == MAX_FAILURES_KEPT == 20
    assert result.failures[0] == {"object": "cluster/c-0000", "error": "job 0: HTTP 422: invalid"}


def test_stop_after_failures_not_reached_runs_all():
    fn = Jobs(failing=(2,))
    result = run(range(10), fn, concurrency=1, stop_after_failures=2)
    assert len(fn.attempted) == 10
    assert (result.failed, result.counts) == (1, {"created": 9})


def test_unexpected_exception_propagates():
    def fn(job, acquire):
        if job == 2:
            raise RuntimeError("bug in fn")
        return [("created", 0.01)]

    with pytest.raises(RuntimeError, match="bug in fn"):
        run(range(5), fn, concurrency=1)


def test_every_call_goes_through_the_limiter():
    slept: list[float] = []
    limiter = TokenBucket(100, 1, clock=lambda: 0.0, sleep=slept.append)  # a frozen clock: each call queues
    fn = Jobs(two_calls_for_odd=True)
    result = run(range(3), fn, concurrency=1, limiter=limiter)  # 4 calls: jobs 0, 1 (twice), 2
    assert result.counts == {"created": 3, "exists": 1}
    assert sorted(slept) == pytest.approx([0.01, 0.02, 0.03])
    assert limiter.waited == pytest.approx(0.06)


def _result(counts, latencies, n_failures, failed, seconds, tag):
    r = BulkResult(counts=dict(counts), latencies=list(latencies), failed=failed, seconds=seconds)
    r.failures = [{"object": f"{tag}{i}", "error": "e"} for i in range(n_failures)]
    return r


@pytest.mark.parametrize(
    ("a_failures", "b_failures", "kept_from_b"),
    [
        (0, 0, 0),
        (5, 5, 5),
        (15, 10, 5),
        (20, 3, 0),
        (0, 20, 20),
        (0, 25, 20),
        (25, 2, 0),  # already over the cap (built by hand): nothing added, nothing dropped
    ],
)
def test_merge(a_failures, b_failures, kept_from_b):
    a = _result({"created": 2}, [0.1, 0.2], a_failures, a_failures + 1, 1.0, "a")
    b = _result({"created": 1, "exists": 3}, [0.3], b_failures, b_failures + 7, 2.5, "b")
    a.merge(b)
    assert a.counts == {"created": 3, "exists": 3}
    assert a.latencies == [0.1, 0.2, 0.3]
    assert a.failed == a_failures + b_failures + 8
    assert a.seconds == pytest.approx(3.5)
    assert [f["object"] for f in a.failures] == [f"a{i}" for i in range(a_failures)] + [
        f"b{i}" for i in range(kept_from_b)
    ]
    assert b.counts == {"created": 1, "exists": 3}  # the other result is not changed


def test_merge_into_empty():
    total = BulkResult()
    for part in (
        _result({"created": 4}, [0.5] * 4, 12, 12, 1.0, "x"),
        _result({"deleted": 1}, [0.1], 12, 30, 0.5, "y"),
    ):
        total.merge(part)
    assert total.counts == {"created": 4, "deleted": 1}
    assert len(total.latencies) == 5
    assert total.failed == 42
    assert len(total.failures) == MAX_FAILURES_KEPT
    assert total.failures[-1] == {"object": "y7", "error": "e"}


def test_fail_and_record_cap_failures_not_counts():
    r = BulkResult()
    for i in range(MAX_FAILURES_KEPT + 5):
        r.fail(f"obj-{i}", f"err {i}")
    r.record([("created", 0.1), ("created", 0.2), ("exists", 0.3)])
    assert r.failed == 25
    assert len(r.failures) == 20
    assert r.failures[-1] == {"object": "obj-19", "error": "err 19"}
    assert r.counts == {"created": 2, "exists": 1}
    assert r.latencies == [0.1, 0.2, 0.3]


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


@pytest.mark.parametrize(
    "n, size, failing, batches, done",
    [
        (10, 0, set(), 1, 10),  # batch_size 0: one batch of all
        (10, 3, set(), 4, 10),
        (10, 3, {4}, 2, 6),  # a batch with a failure is the last one
        (0, 3, set(), 0, 0),
    ],
)
def test_batches_run_in_order_and_stop_at_a_failed_batch(n, size, failing, batches, done):
    bulk = engine.Bulk(None, 0, 1, 2, 1.0)
    runs = []
    real_run = bulk.run
    bulk.run = lambda jobs, *a: runs.append(list(jobs)) or real_run(jobs, *a)
    seen = []

    def fn(job, acquire):
        acquire()
        seen.append(job)
        if job in failing:
            raise KubeError(f"job {job} refused")
        return [("created", 0.001)]

    total = bulk.batches(list(range(n)), fn, str, size, 0.01)
    assert len(runs) == batches and sorted(seen) == list(range(done))
    assert all(len(r) <= (size or n) for r in runs)
    assert (total.counts.get("created", 0), total.failed) == (done - len(failing), len(failing))


@pytest.mark.parametrize(
    "override, match",
    [
        ({"concurrency": 0}, "^concurrency=0 must be >= 1$"),
        ({"burst": 0}, "^burst=0 must be >= 1$"),
        ({"qps": -1}, "^qps=-1 must be >= 0$"),
        ({"batch_pause": -0.5}, r"^batch_pause=-0.5 must be >= 0$"),
        ({"batch_size": -1}, "^batch_size=-1 must be >= 0$"),
        ({"pacing_window": 0}, "^pacing_window=0 must be >= 1$"),
        ({"pacing_interval": 0.1}, "^pacing_interval=0.1 must be >= 0.5$"),
        (
            {"pacing": "adaptive", "batch_size": 5},
            "^batch_size=5, batch_pause=0: pacing=adaptive sets its own pace; leave batch_size and batch_pause at 0$",
        ),
    ],
)
def test_check_pacing_names_the_option(override, match):
    p = {"concurrency": 1, "burst": 1, "qps": 0, "batch_pause": 0, "batch_size": 0}
    p.update(pacing="fixed", pacing_window=1, pacing_interval=0.5)
    assert engine.check_pacing(p) is None
    with pytest.raises(engine.SetError, match=match):
        engine.check_pacing({**p, **override})


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            requests.ConnectionError(
                "HTTPSConnectionPool(host='127.0.0.1', port=6443): Max retries exceeded with url: /apis/x (Caused by "
                "NewConnectionError(\"HTTPSConnection(host='127.0.0.1', port=6443): Failed to establish a new "
                'connection: [Errno 111] Connection refused"))'
            ),
            "cannot reach the API: [Errno 111] Connection refused",
        ),
        (
            requests.ReadTimeout("HTTPSConnectionPool(host='h', port=1): Read timed out. (read timeout=30)"),
            "cannot reach the API: Read timed out",
        ),
        (
            ConnectionResetError(104, "Connection reset by peer"),
            "cannot reach the API: [Errno 104] Connection reset by peer",
        ),
        (OSError("odd"), "cannot reach the API: OSError"),
        (KubeError("POST /x: HTTP 422: invalid\nsecond line", status=422), "POST /x: HTTP 422: invalid second line"),
    ],
)
def test_short_error_is_one_line_and_names_the_cause(error, message):
    assert engine.short_error(error) == message


@pytest.mark.parametrize(
    ("obj", "said"),
    [
        ({"metadata": {}}, ""),
        (
            {
                "status": {
                    "conditions": [
                        {"type": "Available", "status": "False", "reason": "Deleting"},
                        {
                            "type": "Deleting",
                            "status": "True",
                            "reason": "WaitingForControlPlaneDeletion",
                            "message": "* Control plane Machines: c-1-x\n* MachineDeployments: c-1-md",
                        },
                    ]
                }
            },
            "WaitingForControlPlaneDeletion: * Control plane Machines: c-1-x * MachineDeployments: c-1-md",
        ),
        ({"status": {"conditions": [{"type": "Deleting", "status": "False", "reason": "NotDeleting"}]}}, ""),
        (
            {"status": {"conditions": [{"type": "Deleting", "status": "True", "reason": "DeletionCompleted"}]}},
            "DeletionCompleted",
        ),
        ({"status": {"provisioning": {"state": "deprovisioning"}}}, "provisioning state deprovisioning"),
        ({"status": {"conditions": [{"type": "Deleting", "status": "True", "message": "x" * 400}]}}, "x" * 300),
    ],
    ids=["nothing", "capi-v1beta2", "not-deleting", "reason-only", "bmh", "long"],
)
def test_waiting_for_says_what_the_controller_said(obj, said):
    assert engine.waiting_for(obj) == said


@pytest.mark.parametrize(("n", "failing", "done"), [(12, set(), 12), (12, {5}, 6)])
def test_paced_keeps_fewer_than_the_window_in_flight_and_stops_at_a_failed_step(n, failing, done):
    """A set whose members are ready two looks after their creation; the window is the pacer's."""
    bulk = engine.Bulk(None, 0, 1, 2, 1.0)
    created: list[int] = []  # look at which each member was created
    looks = []

    class Window:
        window = 3

        def update(self, now, in_flight, ready):
            return self.window

    def probe():
        looks.append(len(looks))
        in_flight = sum(1 for at in created if len(looks) - at < 2)
        assert in_flight <= Window.window
        return in_flight, [(at, 1.0) for at in created if len(looks) - at >= 2]

    def fn(job, acquire):
        acquire()
        created.append(len(looks))
        if job in failing:
            raise KubeError(f"job {job} refused")
        return [("created", 0.001)]

    total = bulk.paced(list(range(n)), fn, str, probe, Window(), 0.001)
    assert len(created) == done and (total.counts.get("created", 0), total.failed) == (
        done - len(failing),
        len(failing),
    )
    assert max(sum(1 for at in created if at == look) for look in set(created)) <= Window.window


def test_in_flight_counts_members_not_ready_and_times_the_ready_ones():
    bulk = engine.Bulk(None, 0, 1, 2, 1.0)
    objs = [{"t": (100.0, None)}, {"t": (100.0, 40.0)}, {"t": (None, 5.0)}, {"t": (130.0, None)}]
    bulk.listed = lambda api_version, kind, set_name: iter(objs) if (kind, set_name) == ("Cluster", "s") else iter(())
    probe = bulk.in_flight("cluster.x-k8s.io/v1beta2", "Cluster", "s", lambda o: o["t"])
    assert probe() == (2, [(100.0, 40.0)])  # a ready member without a creation time is not timed


def test_deletion_is_timed_per_object_from_its_delete_to_the_first_look_it_was_gone():
    clock = engine.GoneClock()
    for i, key in enumerate(("a", "b", "c")):
        clock.deleted(("Cluster", "ns", key), 100.0 + i)
    a, b, c = (("Cluster", "ns", k) for k in "abc")
    clock.look({a, b, c}, 103.0)
    clock.look({b, c}, 110.0)  # a: gone by 110, deleted at 100
    clock.look({c}, 120.0)  # b: 101 -> 120
    s = clock.summary()
    assert s["objects"] == 3 and s["gone"] == 2 and s["seconds"]["max"] == 19.0 and s["seconds"]["p50"] == 14.5
    # Each object in deletion order, for a delete phase's results; c is still there.
    assert s["timed"][0] == {"namespace": "ns", "name": "a", "deleted": "1970-01-01T00:01:40.000000Z",
                             "gone": "1970-01-01T00:01:50.000000Z"}  # fmt: skip
    assert [t["name"] for t in s["timed"]] == ["a", "b", "c"] and s["timed"][2]["gone"] is None
    clock.look(set(), 131.0)  # c: 102 -> 131
    s = clock.summary()
    assert s["gone"] == 3 and s["drift"]["first_mean"] == 10.0 and s["drift"]["last_mean"] == 29.0
    assert s["wall_seconds"] == 31.0  # first delete to the last found gone
    assert engine.GoneClock().summary() == {"objects": 0}
