# Copyright: scalelab contributors
# Apache-2.0
"""Adaptive pacing: create a set's members no faster than the lab finishes them.

All-at-once creation measures the controllers' queue, not the controllers (300 clusters here: time to ready 175 s for
the first 30, 533 s for the last 30). The pacer holds the members in flight (created, not yet ready) under a window
and tunes it as TCP Vegas tunes its window from round-trip times. A decision looks only at members created since
the last change (its own effect), once 3/4 of a window of them is back, at their median time to ready. The lab's
own time is the 10th percentile of those medians (not the lowest: on a busy 2-core host the lowest of many noisy
medians falls ever lower, and every cohort then looked queued - the window shrank to half the lab's pace). Within
`rise` (10%) of it the window grows (doubling until the first queue, then by an eighth); past `fall` (40%: the
noise of one cohort's median here) it shrinks in proportion to the cohort's mean time (Little's law: in flight =
rate x time), never below its start. Simulated (tests): 300 members on a lab of 8 slots, 1.02-1.08x the
all-at-once wall time, drift within the noise.
"""

from __future__ import annotations


class AdaptivePacer:
    def __init__(self, start: int = 4, ceiling: int = 0, rise: float = 0.10, fall: float = 0.40):
        self.start = self.window = max(1, start)
        self.ceiling = ceiling  # 0: none
        self.rise, self.fall = rise, fall
        self.base: float | None = None  # the lab's own time to ready, without a queue
        self.changed_at: float | None = None
        self.doubling = True
        self.changes: list[tuple[float, int, float]] = []  # (when, new window, time to ready that decided it)
        self.peak_in_flight = 0
        self.seen: list[float] = []

    def update(self, now: float, in_flight: int, ready: list[tuple[float, float]]) -> int:
        """The window after one look at the set: in_flight members created and not ready; ready, the (creation time,
        seconds to ready) of every ready member. Times are seconds (epoch), whole seconds as Kubernetes writes them."""
        if self.changed_at is None:
            self.changed_at = now
        self.peak_in_flight = max(self.peak_in_flight, in_flight)
        # Members created since the last change, its own effect (1 s: timestamps are whole seconds). Judged once
        # most of a window of them is back, by their median: a queue delays most of them, noise only a few.
        cohort = sorted(seconds for created, seconds in ready if created >= self.changed_at - 1)
        if len(cohort) < max(1, self.window * 3 // 4):
            return self.window
        latest = cohort[(len(cohort) - 1) // 2]
        self.seen.append(latest)
        seen = sorted(self.seen)
        self.base = seen[(len(seen) - 1) // 10]
        if latest > self.base * (1 + self.fall):
            self.doubling = False
            # in proportion to the cohort's mean time, not its slowest: the window that would have kept it at the
            # lab's own time (Little's law)
            new = max(self.start, round(self.window * self.base * len(cohort) / sum(cohort)))
        elif latest <= self.base * (1 + self.rise):
            new = self.window * 2 if self.doubling else self.window + max(1, self.window // 8)
        else:
            return self.window
        if self.ceiling:
            new = min(new, self.ceiling)
        if new != self.window:
            self.window, self.changed_at = new, now
            self.changes.append((round(now, 1), new, round(latest, 1)))
        return self.window

    def summary(self) -> dict:
        """What the run returns about its pacing."""
        return {
            "mode": "adaptive",
            "window": self.window,
            "window_max": max([self.start, *(w for _dummy, w, _dummy in self.changes)]),
            "peak_in_flight": self.peak_in_flight,
            "base_seconds": None if self.base is None else round(self.base, 1),
            "changes": [{"at": t, "window": w, "seconds_to_ready": s} for t, w, s in self.changes[-50:]],
        }
