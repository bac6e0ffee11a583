from __future__ import annotations

import math
import random

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.sets.pacing import AdaptivePacer


def simulate(n: int, servers, service, pacer: AdaptivePacer | None, interval: float = 5.0) -> dict:
    """A lab as a queue: `servers(t)` objects are worked on at once, each for `service` seconds (a number, or a
    callable drawing one per object), first come first served; creation is probed every `interval` s as the bulk
    modules do. None: every object created at once."""
    draw = service if callable(service) else (lambda: service)
    created: list[float] = []
    ready: dict[int, float] = {}
    queue: list[int] = []
    busy: dict[int, float] = {}  # object -> when it is done
    t = 0.0
    if pacer is None:
        created = [0.0] * n
        queue = list(range(n))
    while len(ready) < n:
        for i, end in list(busy.items()):
            if end <= t:
                del busy[i]
                ready[i] = t
        while queue and len(busy) < servers(t):
            i = queue.pop(0)
            busy[i] = t + round(draw())
        if pacer is not None and t % interval == 0 and len(created) < n:
            window = pacer.update(t, len(created) - len(ready), [(created[i], ready[i] - created[i]) for i in ready])
            for _dummy in range(min(n - len(created), window - (len(created) - len(ready)))):
                queue.append(len(created))
                created.append(t)
        t += 1.0
    seconds = [ready[i] - created[i] for i in range(n)]
    k = max(1, n // 10)
    first, last = sum(seconds[:k]) / k, sum(seconds[-k:]) / k
    return {"wall": max(ready.values()), "drift_pct": (last - first) / first * 100, "last_mean": last}


def eight(t):
    return 8


def eight_then_four(t):
    return 8 if t < 600 else 4


@pytest.mark.parametrize(
    ("servers", "drift_at_most", "last_within"),
    [
        (eight, 5.0, 0.40),  # a steady lab: flat, near the lab's own time to ready
        (eight_then_four, 5.0, 0.40),  # the lab halves its pace mid-run: the window follows it down
    ],
)
def test_adaptive_pacing_keeps_time_to_ready_flat_near_the_all_at_once_wall_time(servers, drift_at_most, last_within):
    paced = simulate(300, servers, 40.0, AdaptivePacer())
    at_once = simulate(300, servers, 40.0, None)
    assert at_once["drift_pct"] > 100  # the queue, measured
    assert paced["drift_pct"] <= drift_at_most, paced
    assert paced["last_mean"] <= 40.0 * (1 + last_within), paced
    assert paced["wall"] <= 1.3 * at_once["wall"], (paced, at_once)


def noisy(seed):
    """A 2-core lab's noise: 40 s of work that takes 30 to 60 s, now and then 90 s (another process took the CPU)."""
    rng = random.Random(seed)
    return lambda: 90.0 if rng.random() < 0.05 else rng.uniform(30.0, 60.0)


@pytest.mark.parametrize("seed", range(1, 9))
def test_a_noisy_lab_is_not_mistaken_for_a_queue(seed):
    """Noise in the lab's own time to ready is no queue: the window must not shrink on it (it did, at 15%: 14
    clusters/min on this machine against all-at-once's 24)."""
    paced = simulate(300, eight, noisy(seed), AdaptivePacer())
    at_once = simulate(300, eight, noisy(seed), None)
    assert paced["wall"] <= 1.3 * at_once["wall"], (paced, at_once)
    assert paced["drift_pct"] <= 20.0, paced  # the noise alone: -10% to +6% at a fixed window near the lab's size


def test_the_window_doubles_while_members_finish_at_the_labs_own_pace_then_grows_by_an_eighth():
    p = AdaptivePacer(start=4)
    assert p.update(0, 0, []) == 4  # nothing finished yet: the start window
    ready = [(0, 40.0)] * 4
    assert p.update(40, 0, ready) == 8
    ready += [(0, 40.0)]
    assert p.update(45, 8, ready) == 8  # created before the change: not its effect
    ready += [(40, 41.0)] * 6
    assert p.update(80, 2, ready) == 16  # 3/4 of the window back, within 10% of the lab's own 40 s
    ready += [(80, 41.0)] * 5
    assert p.update(100, 8, ready) == 16  # 5 of 16 back: not judged yet
    # most of the cohort took 80 s: a queue; cut in proportion to the cohort's mean (5 x 41 s and 11 x 80 s)
    ready += [(80, 80.0)] * 11
    assert p.update(120, 8, ready) == round(16 * 40 / ((5 * 41 + 11 * 80) / 16)) == 9
    ready += [(120, 40.0)] * 7
    assert p.update(160, 4, ready) == 10  # no more doubling once a queue was seen: +1/8 (at least 1)
    ready += [(160, 50.0)] * 8
    assert p.update(200, 10, ready) == 10  # 50 s: between 10% and 40% over the lab's own, held
    assert [w for _dummy, w, _dummy in p.changes] == [8, 16, 9, 10]
    assert p.summary()["window_max"] == 16 and p.summary()["base_seconds"] == 40.0


def test_a_few_slow_members_are_noise_not_a_queue():
    p = AdaptivePacer(start=8)
    p.update(0, 0, [])
    # 2 of 8 took twice the lab's own time (the host was busy): the median is the lab's own, the window grows
    assert p.update(90, 0, [(0, 40.0)] * 6 + [(0, 80.0)] * 2) == 16


@pytest.mark.parametrize(("start", "ceiling", "latest", "want"), [(4, 0, 400.0, 4), (4, 6, 40.0, 6), (1, 0, 40.0, 4)])
def test_the_window_stays_within_its_start_and_ceiling(start, ceiling, latest, want):
    p = AdaptivePacer(start=start, ceiling=ceiling)
    p.update(0, 0, [])
    p.update(40, start, [(0, 40.0)] * 3)
    p.update(80, p.window, [(0, 40.0)] * 3 + [(40, latest)] * 6)
    assert p.window == want and math.isclose(p.base, 40.0)
    assert p.summary()["window_max"] >= want
