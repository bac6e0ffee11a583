from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.kube.ratelimit import TokenBucket


class FakeTime:
    """A clock that only moves when told to, or (advance_on_sleep) by the sleeps the bucket asks for."""

    def __init__(self, now: float = 1000.0, advance_on_sleep: bool = True):
        self.now = now
        self.advance_on_sleep = advance_on_sleep
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.advance_on_sleep:
            self.now += seconds


def bucket(qps, burst, t: FakeTime) -> TokenBucket:
    return TokenBucket(qps, burst, clock=t.clock, sleep=t.sleep)


@pytest.mark.parametrize(
    ("qps", "burst", "calls", "expected_sleeps"),
    [
        (2, 3, 3, []),  # the burst is free
        (2, 3, 5, [0.5, 0.5]),  # then one token every 1/qps
        (10, 1, 4, [0.1, 0.1, 0.1]),
        (4, 2, 6, [0.25, 0.25, 0.25, 0.25]),
        (0.5, 1, 3, [2.0, 2.0]),
        (100, 50, 50, []),
        (100, 50, 52, [0.01, 0.01]),
    ],
)
def test_acquire_burst_then_paced(qps, burst, calls, expected_sleeps):
    t = FakeTime()
    b = bucket(qps, burst, t)
    for _dummy in range(calls):
        b.acquire()
    assert t.slept == pytest.approx(expected_sleeps)
    assert b.waited == pytest.approx(sum(expected_sleeps))
    assert t.now == pytest.approx(1000.0 + sum(expected_sleeps))


@pytest.mark.parametrize(
    ("qps", "burst", "expected_waits"),
    [
        (2, 2, [0.0, 0.0, 0.5, 1.0, 1.5]),  # a frozen clock: callers queue up, each 1/qps after the last
        (4, 1, [0.0, 0.25, 0.5, 0.75, 1.0]),
        (1, 3, [0.0, 0.0, 0.0, 1.0, 2.0]),
    ],
)
def test_reserve_without_time_passing(qps, burst, expected_waits):
    t = FakeTime()
    b = bucket(qps, burst, t)
    assert [b.reserve() for _dummy in expected_waits] == pytest.approx(expected_waits)
    assert b.waited == pytest.approx(sum(expected_waits))
    assert t.slept == []  # reserve() only computes the wait


@pytest.mark.parametrize(
    ("advance", "free", "next_wait"),
    [
        (0.25, 0, 0.25),  # half a token banked: the next call waits for the other half
        (0.5, 1, 0.5),
        (1.0, 2, 0.5),
        (1.5, 3, 0.5),  # full again
        (2.0, 3, 0.5),  # capped at burst: 4 tokens' worth of time banks only 3
        (3600.0, 3, 0.5),
    ],
)
def test_refill_after_time_passes_capped_at_burst(advance, free, next_wait):
    t = FakeTime()
    b = bucket(2, 3, t)
    assert [b.reserve() for _dummy in range(3)] == [0.0, 0.0, 0.0]  # empty now
    t.now += advance
    assert [b.reserve() for _dummy in range(free)] == [0.0] * free
    assert b.reserve() == pytest.approx(next_wait)


def test_debt_is_repaid_before_refill_counts():
    t = FakeTime()
    b = bucket(1, 1, t)
    assert [b.reserve() for _dummy in range(4)] == [0.0, 1.0, 2.0, 3.0]  # three tokens owed
    t.now += 2.0
    assert b.reserve() == pytest.approx(2.0)  # owed 3, earned 2, takes 1 more: -2 tokens
    t.now += 10.0
    assert b.reserve() == 0.0


@pytest.mark.parametrize(("qps", "burst"), [(0, 1), (0, 0), (-1, 0), (-5.5, 100), (0.0, -3)])
def test_unlimited_never_waits(qps, burst):
    t = FakeTime(advance_on_sleep=False)
    b = bucket(qps, burst, t)
    assert [b.reserve() for _dummy in range(1000)] == [0.0] * 1000
    for _dummy in range(1000):
        b.acquire()
    assert t.slept == []
    assert b.waited == 0.0
    assert b.burst >= 1


@pytest.mark.parametrize(
    ("qps", "burst", "match"),
    [
        (5, 0, r"^burst=0 must be >= 1 when qps=5 > 0$"),
        (0.1, -1, r"^burst=-1 must be >= 1 when qps=0.1 > 0$"),
        (1, 0.5, r"^burst=0.5 must be >= 1 when qps=1 > 0$"),
    ],
)
def test_rejects_burst_below_one(qps, burst, match):
    with pytest.raises(ValueError, match=match):
        TokenBucket(qps, burst)


@pytest.mark.parametrize(("burst", "expected"), [(1, 1), (2.9, 2), (7, 7)])
def test_burst_is_whole_tokens(burst, expected):
    t = FakeTime()
    b = bucket(1, burst, t)
    assert b.burst == expected
    assert [b.reserve() for _dummy in range(expected + 1)] == [0.0] * expected + [1.0]


def test_waited_accumulates_over_acquire_and_reserve():
    t = FakeTime()
    b = bucket(4, 1, t)
    b.acquire()  # free
    b.acquire()  # 0.25, clock advanced by the sleep
    b.acquire()  # 0.25
    assert b.waited == pytest.approx(0.5)
    assert b.reserve() == pytest.approx(0.25)  # a reservation counts as waited even if the caller never sleeps
    assert b.reserve() == pytest.approx(0.5)
    assert b.waited == pytest.approx(1.25)
    assert t.slept == pytest.approx([0.25, 0.25])
