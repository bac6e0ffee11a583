# Copyright: scalelab contributors
# Apache-2.0
"""Run many API calls concurrently under one rate limiter and record what each did and how long it took."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.scalelab.capi.plugins.module_utils.ratelimit import TokenBucket

MAX_FAILURES_KEPT = 20


@dataclass
class BulkResult:
    counts: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    failed: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, calls: list[tuple[str, float]]) -> None:
        with self._lock:
            for outcome, latency in calls:
                self.counts[outcome] = self.counts.get(outcome, 0) + 1
                self.latencies.append(latency)

    def fail(self, label: str, msg: str) -> None:
        with self._lock:
            self.failed += 1
            if len(self.failures) < MAX_FAILURES_KEPT:
                self.failures.append({"object": label, "error": msg})

    def merge(self, other: BulkResult) -> None:
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        self.latencies.extend(other.latencies)
        room = MAX_FAILURES_KEPT - len(self.failures)
        self.failures.extend(other.failures[: max(0, room)])
        self.failed += other.failed
        self.seconds += other.seconds


def run_all(
    jobs: Iterable[Any],
    fn: Callable[[Any, Callable[[], None]], list[tuple[str, float]]],
    label: Callable[[Any], str],
    concurrency: int,
    limiter: TokenBucket,
    errors: tuple[type[BaseException], ...],
    stop_after_failures: int = 0,
) -> BulkResult:
    """Call fn(job, acquire) for every job on `concurrency` threads.

    A job may make several API calls in order (a cluster's objects); fn calls acquire() before each, so the
    limiter paces calls, not jobs, and returns one (outcome, seconds) per call ("created", "exists", ...).
    It raises one of `errors` to record the job as failed with the message. With stop_after_failures > 0 no
    new job starts once that many failed (a broken template should not be tried N times). Jobs are submitted
    lazily, so a generator of 10k jobs is never held in memory at once.
    """
    result = BulkResult()
    start = time.monotonic()

    def one(job: Any) -> None:
        try:
            calls = fn(job, limiter.acquire)
        except errors as e:
            result.fail(label(job), str(e))
            return
        result.record(calls)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        pending: set = set()
        for job in jobs:
            if stop_after_failures and result.failed >= stop_after_failures:
                break
            pending.add(pool.submit(one, job))
            if len(pending) >= concurrency * 2:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    f.result()
        for f in pending:
            f.result()
    result.seconds = time.monotonic() - start
    return result
